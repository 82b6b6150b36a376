/* Opening the image and making sure one server at a time owns it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mount/mount.h"

int sm_image_open(const char *path, bool *read_only, bool rw_required, int *fd_out)
{
	struct stat st;
	int fd;

	*fd_out = -1;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return -EINVAL;
	/* O_EXCL on a block device fails if the kernel has it mounted, and
	 * keeps the kernel from mounting it while we serve it. */
	int excl = S_ISBLK(st.st_mode) ? O_EXCL : 0;
	if (!*read_only) {
		fd = open(path, O_RDWR | O_CLOEXEC | excl);
		if (fd >= 0) {
			*fd_out = fd;
			return 0;
		}
		if (rw_required || (errno != EACCES && errno != EROFS && errno != EPERM))
			return -errno;
		*read_only = true;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | excl);
	if (fd < 0)
		return -errno;
	*fd_out = fd;
	return 0;
}

static int ofd_lock(int fd, short type, bool wait)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = 0,
		.l_len = 1,
	};
	return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

static void on_alarm(int sig)
{
	(void)sig;   /* only to interrupt F_OFD_SETLKW with EINTR */
}

/* Block for the lock, but no longer than timeout_s seconds. */
static int ofd_lock_timeout(int fd, short type, unsigned timeout_s)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	alarm(timeout_s);
	int ret = ofd_lock(fd, type, true);
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	return ret == -EINTR ? -ETIMEDOUT : ret;
}

int sm_image_lock(int fd, const char *image_abs, bool read_only, unsigned timeout_s)
{
	short type = read_only ? F_RDLCK : F_WRLCK;
	int ret = ofd_lock(fd, type, false);
	if (ret != -EAGAIN && ret != -EACCES)
		return ret;
	struct sm_mount_entry m;
	if (sm_find_mount_by_source(image_abs, &m))
		return -EBUSY;
	/* Held, but not mounted: a server after umount(8) still writing back. */
	return ofd_lock_timeout(fd, type, timeout_s);
}

int sm_image_wait_released(int fd, unsigned timeout_s)
{
	/* A shared lock conflicts with a rw server's exclusive one and needs
	 * only a read-only descriptor. */
	int ret = ofd_lock_timeout(fd, F_RDLCK, timeout_s);
	if (ret)
		return ret;
	struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	fcntl(fd, F_OFD_SETLK, &fl);
	return 0;
}
