/* The mount helper's pieces: opening and locking the image, reading the
 * mount table, unmounting.  Functions return 0 or a negative errno and
 * print nothing; messages are main()'s job. */
#ifndef SAFEMOUNT_MOUNT_H
#define SAFEMOUNT_MOUNT_H

#include <stdbool.h>
#include <stddef.h>

#define SM_FSTYPE "fuse.safemount"

/* Open IMAGE for the server: O_RDWR unless read_only (block devices with
 * O_EXCL, so no kernel mount can share them).  *read_only is set when the
 * image can only be opened read-only and the caller did not insist on rw. */
int sm_image_open(const char *path, bool *read_only, bool rw_required, int *fd);

/* One server per image: an OFD lock on the image (shared for ro, exclusive
 * for rw), held by the server until it exits.  If another server holds it
 * and the image is still mounted, -EBUSY; if it is no longer mounted (plain
 * umount(8), the server is finishing), wait up to timeout_s for it. */
int sm_image_lock(int fd, const char *image_abs, bool read_only, unsigned timeout_s);

/* Wait until no read-write server holds the image, then drop the lock. */
int sm_image_wait_released(int fd, unsigned timeout_s);

struct sm_mount_entry {
	char source[4096];
	char target[4096];
	char fstype[64];
	bool read_only;
};

/* Find the safemount mount whose target is `target` (an absolute path).
 * -ENOENT if there is none; -EINVAL if something else is mounted there. */
int sm_find_mount_by_target(const char *target, struct sm_mount_entry *out);
/* Is `source` the source of some safemount mount?  Fills out if so. */
bool sm_find_mount_by_source(const char *source, struct sm_mount_entry *out);

/* Set the read-ahead window of the mount's bdi (root only). */
int sm_mount_set_readahead(const char *mountpoint, unsigned kib);

/* Unmount a safemount mount and wait for its server to finish writing. */
int sm_unmount(const char *mountpoint, const char **what);

#endif
