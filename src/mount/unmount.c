/* `safemount -u`: unmount, then wait for the server to finish writing the
 * image back, so that e2fsck right after sees a clean filesystem (fuse2fs
 * keeps writing for seconds after umount returns). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount/mount.h"

/* How long a server may take to write everything back. */
#define SM_WRITEBACK_TIMEOUT_S 600

static int run_fusermount_unmount(const char *mountpoint)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-q", "--", mountpoint, (char *)NULL);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOENT;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPERM;
}

/* realpath() of the parent plus the last component, for a mount point
 * whose own root no longer answers. */
static int resolve_parent(const char *path, char *out, size_t size)
{
	char copy[PATH_MAX], parent[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(copy))
		return -1;
	memcpy(copy, path, n + 1);
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	char *slash = strrchr(copy, '/');
	const char *base = slash ? slash + 1 : copy;
	const char *dir = slash ? (slash == copy ? "/" : copy) : ".";
	if (slash && slash != copy)
		*slash = '\0';
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return -1;
	if (!realpath(dir, parent))
		return -1;
	int len = snprintf(out, size, "%s/%s", strcmp(parent, "/") ? parent : "", base);
	return len < 0 || (size_t)len >= size ? -1 : 0;
}

int sm_unmount(const char *mountpoint, const char **what)
{
	char abs[PATH_MAX];
	struct sm_mount_entry m;
	int ret;

	*what = "resolving the mount point";
	/* A dead server leaves ENOTCONN on the root: realpath fails then, so
	 * fall back to the path as given when it is already absolute. */
	if (!realpath(mountpoint, abs)) {
		int err = errno;
		if (resolve_parent(mountpoint, abs, sizeof(abs)) < 0)
			return -err;
	}
	*what = "finding the mount";
	ret = sm_find_mount_by_target(abs, &m);
	if (ret)
		return ret;

	/* Hold the image open across the unmount: its lock tells us when the
	 * server is gone.  A read-only server never writes, nothing to wait for. */
	int fd = -1;
	if (!m.read_only && m.source[0] == '/')
		fd = open(m.source, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	*what = "unmounting";
	if (geteuid() == 0)
		ret = umount2(abs, UMOUNT_NOFOLLOW) < 0 ? -errno : 0;
	else
		ret = run_fusermount_unmount(abs);
	if (ret) {
		if (fd >= 0)
			close(fd);
		return ret;
	}
	if (fd >= 0) {
		*what = "waiting for the server to write the image back";
		ret = sm_image_wait_released(fd, SM_WRITEBACK_TIMEOUT_S);
		close(fd);
	}
	return ret;
}
