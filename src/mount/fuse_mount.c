/* Creating the kernel's FUSE mount: the new mount API as root, fusermount3
 * for a normal user.  See fuse_mount.h for why the two differ. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount/fuse_mount.h"
#include "util/log.h"

#define SM_FUSE_SUBTYPE "safemount"
#define SM_COMMFD_VAR "_FUSE_COMMFD="

/* fsconfig() copies string values with a 256-byte limit, NUL included,
 * and refuses longer ones with a bare EINVAL. */
#define SM_FSCONFIG_STRING_MAX 255

extern char **environ;

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/*
 * A refused fsconfig() leaves its reason in the fs context's log, as lines
 * like "e fuse: Unknown parameter 'x'"; the errno alone rarely says which
 * setting the kernel disliked.  Each read() consumes one message, so skip
 * warnings and notes until the first error.
 */
static void log_fs_context_error(int fsfd, const char *key)
{
	char msg[512];

	for (int i = 0; i < 8; i++) {
		ssize_t n = read(fsfd, msg, sizeof(msg) - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		msg[n] = '\0';
		msg[strcspn(msg, "\n")] = '\0';
		if (n >= 2 && msg[0] == 'e' && msg[1] == ' ') {
			sm_log(LOG_ERR, "the kernel refused %s: %s", key, msg + 2);
			return;
		}
	}
}

static int fs_set_string(int fsfd, const char *key, const char *value)
{
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, key, value, 0) == 0)
		return 0;
	int err = errno;
	log_fs_context_error(fsfd, key);
	return -err;
}

static int fs_set_flag(int fsfd, const char *key)
{
	if (fsconfig(fsfd, FSCONFIG_SET_FLAG, key, NULL, 0) == 0)
		return 0;
	int err = errno;
	log_fs_context_error(fsfd, key);
	return -err;
}

/* Numbers go in as strings too: fuse parses "fd", "user_id" and the rest
 * itself, and refuses FSCONFIG_SET_FD. */
static int fs_set_uint(int fsfd, const char *key, unsigned int value, bool octal)
{
	char buf[24];

	if (octal)
		snprintf(buf, sizeof(buf), "%o", value);
	else
		snprintf(buf, sizeof(buf), "%u", value);
	return fs_set_string(fsfd, key, buf);
}

static int configure_fuse(int fsfd, const struct sm_fuse_mount_req *r, int fuse_fd,
			  mode_t rootmode)
{
	int ret;

	ret = fs_set_string(fsfd, "source", r->source);
	if (!ret)
		ret = fs_set_string(fsfd, "subtype", SM_FUSE_SUBTYPE);
	if (!ret)
		ret = fs_set_uint(fsfd, "fd", (unsigned int)fuse_fd, false);
	if (!ret)
		ret = fs_set_uint(fsfd, "rootmode", rootmode & S_IFMT, true);
	if (!ret)
		ret = fs_set_uint(fsfd, "user_id", getuid(), false);
	if (!ret)
		ret = fs_set_uint(fsfd, "group_id", getgid(), false);
	if (!ret)
		ret = fs_set_flag(fsfd, "default_permissions");
	if (!ret && r->allow_other)
		ret = fs_set_flag(fsfd, "allow_other");
	/* Read-only in the superblock, not only in this mount of it: a bind
	 * of the mount elsewhere stays read-only too. */
	if (!ret && r->read_only)
		ret = fs_set_flag(fsfd, "ro");
	return ret;
}

static unsigned int mount_attrs(const struct sm_fuse_mount_req *r)
{
	unsigned int attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

	if (!r->symfollow)
		attr |= MOUNT_ATTR_NOSYMFOLLOW;
	if (r->read_only)
		attr |= MOUNT_ATTR_RDONLY;
	if (r->noexec)
		attr |= MOUNT_ATTR_NOEXEC;
	/* Without NOATIME the atime field stays 0, which is relatime. */
	if (r->noatime)
		attr |= MOUNT_ATTR_NOATIME;
	return attr;
}

static unsigned long mount_flags(const struct sm_fuse_mount_req *r)
{
	unsigned long flags = MS_NOSUID | MS_NODEV;

	if (!r->symfollow)
		flags |= MS_NOSYMFOLLOW;
	if (r->read_only)
		flags |= MS_RDONLY;
	if (r->noexec)
		flags |= MS_NOEXEC;
	if (r->noatime)
		flags |= MS_NOATIME;
	return flags;
}

/*
 * fsconfig() takes at most 255 bytes per string, and the source is not
 * shortened to fit: it is how a mount of an image is found again
 * (sm_find_mount_by_source()).  mount(2) takes a whole path, but the mount
 * is visible at once: discard unmounts it if the server fails.
 */
static int mount_long_source(const struct sm_fuse_mount_req *r, struct sm_kernel_mount *km,
			     mode_t rootmode)
{
	char data[256];

	snprintf(data, sizeof(data), "fd=%d,rootmode=%o,user_id=%u,group_id=%u,default_permissions%s",
		 km->fuse_fd, (unsigned int)(rootmode & S_IFMT), (unsigned int)getuid(),
		 (unsigned int)getgid(), r->allow_other ? ",allow_other" : "");
	if (mount(r->source, r->mountpoint, "fuse." SM_FUSE_SUBTYPE, mount_flags(r), data) < 0)
		return -errno;
	km->mounted_at = r->mountpoint;
	return 0;
}

int sm_kernel_mount_prepare(const struct sm_fuse_mount_req *r, struct sm_kernel_mount *km,
			    const char **what)
{
	struct stat st;
	int fsfd = -1;
	int ret;

	km->fuse_fd = km->mount_fd = km->target_fd = -1;
	km->mounted_at = NULL;

	/* Pin the directory first: whatever happens to the path while the
	 * server starts, the mount lands on what was checked. */
	*what = "opening the mount point";
	km->target_fd = open(r->mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (km->target_fd < 0)
		goto fail_errno;
	if (fstat(km->target_fd, &st) < 0)
		goto fail_errno;

	*what = "opening /dev/fuse";
	km->fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (km->fuse_fd < 0)
		goto fail_errno;

	if (strlen(r->source) > SM_FSCONFIG_STRING_MAX) {
		*what = "mounting";
		ret = mount_long_source(r, km, st.st_mode);
		if (ret)
			goto fail;
		return 0;
	}

	*what = "opening the fuse filesystem type";
	fsfd = fsopen("fuse", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		goto fail_errno;

	*what = "configuring the FUSE mount";
	ret = configure_fuse(fsfd, r, km->fuse_fd, st.st_mode);
	if (ret)
		goto fail;

	*what = "creating the FUSE mount";
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		ret = -errno;
		log_fs_context_error(fsfd, "the new superblock");
		goto fail;
	}
	km->mount_fd = fsmount(fsfd, FSMOUNT_CLOEXEC, mount_attrs(r));
	if (km->mount_fd < 0) {
		ret = -errno;
		log_fs_context_error(fsfd, "the mount attributes");
		goto fail;
	}
	close(fsfd);
	return 0;

fail_errno:
	ret = -errno;
fail:
	close_fd(&fsfd);
	sm_kernel_mount_discard(km);
	return ret;
}

int sm_kernel_mount_attach(struct sm_kernel_mount *km, const char **what)
{
	int ret = 0;

	*what = "attaching the FUSE mount";
	if (km->mounted_at)
		km->mounted_at = NULL;   /* mount(2) attached it already */
	else if (move_mount(km->mount_fd, "", km->target_fd, "",
		       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		ret = -errno;
	close_fd(&km->mount_fd);
	close_fd(&km->target_fd);
	return ret;
}

void sm_kernel_mount_discard(struct sm_kernel_mount *km)
{
	if (km->mounted_at)
		umount2(km->mounted_at, MNT_DETACH);
	km->mounted_at = NULL;
	close_fd(&km->mount_fd);
	close_fd(&km->target_fd);
	close_fd(&km->fuse_fd);
}

/*
 * fusermount3 splits -o at every comma, but inside fsname= (and subtype=)
 * a backslash makes the next character literal.  So "\" and "," in the
 * image path get a backslash in front; everything else passes as is.
 */
static char *fusermount_opts(const struct sm_fuse_mount_req *r)
{
	static const char fixed[] = ",subtype=" SM_FUSE_SUBTYPE
				    ",nosuid,nodev,default_permissions";
	size_t len = strlen(r->source);
	char *opts = malloc(sizeof("fsname=") + 2 * len + sizeof(fixed) +
			    sizeof(",ro,noexec,noatime"));
	if (!opts)
		return NULL;

	char *p = stpcpy(opts, "fsname=");
	for (const char *s = r->source; *s; s++) {
		if (*s == ',' || *s == '\\')
			*p++ = '\\';
		*p++ = *s;
	}
	p = stpcpy(p, fixed);
	if (r->read_only)
		p = stpcpy(p, ",ro");
	if (r->noexec)
		p = stpcpy(p, ",noexec");
	if (r->noatime)
		p = stpcpy(p, ",noatime");
	return opts;
}

/*
 * Our environment plus _FUSE_COMMFD, built before fork() so that the child
 * only has to exec: the caller may have threads, and malloc() between fork
 * and exec could then deadlock.
 */
static char **fusermount_env(char *commfd_var)
{
	size_t n = 0;

	while (environ && environ[n])
		n++;
	char **env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	size_t j = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], SM_COMMFD_VAR, sizeof(SM_COMMFD_VAR) - 1))
			env[j++] = environ[i];
	env[j] = commfd_var;
	return env;
}

static void close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/*
 * The one message fusermount3 sends: a byte with the /dev/fuse fd
 * attached.  Anything else (no fd, several, a truncated control part)
 * is refused, closing every fd that did arrive.  *fd stays -1 when
 * fusermount3 hung up without sending: it failed and said why.
 */
static int receive_fuse_fd(int sock, int *fd)
{
	/* A control buffer sized for one fd also fits two after padding:
	 * room for several, so that an extra one shows up and is refused. */
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(8 * sizeof(int))];
	} ctl;
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	int fds[8];
	size_t nfds = 0;
	bool bad = false;
	ssize_t n;

	*fd = -1;
	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0)
		if (errno != EINTR)
			return -errno;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0)) {
			bad = true;
			continue;
		}
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && nfds < sizeof(fds) / sizeof(fds[0]); i++)
			memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	if (n == 0 && nfds == 0 && !bad)
		return 0;
	if (n != 1 || nfds != 1 || bad || (msg.msg_flags & MSG_CTRUNC)) {
		close_fds(fds, nfds);
		return -EPROTO;
	}
	*fd = fds[0];
	return 0;
}

/* 0 when fusermount3 exited 0; -ENOENT when it could not be run at all;
 * -EPERM when it refused, having said why on stderr. */
static int wait_fusermount(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOENT;
	return -EPERM;
}

int sm_fusermount_mount(const struct sm_fuse_mount_req *r, int *fuse_fd, const char **what)
{
	char commfd_var[32];
	char *opts = NULL;
	char **env = NULL;
	int sv[2] = { -1, -1 };
	int fd, ret, status;
	pid_t pid;

	*fuse_fd = -1;
	*what = "preparing to run fusermount3";
	/* Close-on-exec on both ends, so that neither leaks into another
	 * child; the child clears it on its own end just before exec. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	snprintf(commfd_var, sizeof(commfd_var), SM_COMMFD_VAR "%d", sv[1]);
	opts = fusermount_opts(r);
	env = fusermount_env(commfd_var);
	if (!opts || !env) {
		ret = -ENOMEM;
		goto out;
	}

	*what = "running fusermount3";
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto out;
	}
	if (pid == 0) {
		char *argv[] = { "fusermount3", "-o", opts, "--", (char *)r->mountpoint, NULL };

		if (fcntl(sv[1], F_SETFD, 0) == 0)
			execvpe(argv[0], argv, env);
		_exit(127);
	}
	/* Our copy of the child's end must go, or recvmsg() would never see
	 * end-of-file when fusermount3 fails without sending. */
	close_fd(&sv[1]);

	*what = "receiving the /dev/fuse fd from fusermount3";
	ret = receive_fuse_fd(sv[0], &fd);
	status = wait_fusermount(pid);
	if (status == -ENOENT) {
		*what = "running fusermount3";
		ret = status;
	} else if (status) {
		*what = "mounting with fusermount3";
		ret = status;
	} else if (!ret && fd < 0) {
		/* Exit status 0 without an fd: not the fusermount3 we know. */
		ret = -EPROTO;
	}
	if (ret) {
		if (fd >= 0)
			close(fd);
		goto out;
	}
	*fuse_fd = fd;
out:
	close_fd(&sv[0]);
	close_fd(&sv[1]);
	free(env);
	free(opts);
	return ret;
}
