/* Creating the kernel's FUSE mount, in the helper, before the server starts.
 *
 * Root: the new mount API.  /dev/fuse is opened here; fsopen("fuse") is
 * configured with "fd" as a string (FSCONFIG_SET_FD is refused by fuse),
 * rootmode, user_id, group_id, default_permissions, source and subtype;
 * fsmount() gives a detached mount with MOUNT_ATTR_NOSUID|NODEV (and
 * NOSYMFOLLOW, RDONLY, NOEXEC, NOATIME as asked).  Nothing is visible
 * until sm_kernel_mount_attach() moves it onto the pre-opened mountpoint,
 * so a server that fails to start leaves no mount behind.
 *
 * A normal user: fusermount3 (setuid root) mounts and hands back the
 * /dev/fuse fd over a socket (_FUSE_COMMFD); the mount is visible at once.
 * fusermount3 opens /dev/fuse with the user's own fsuid, so this needs
 * /dev/fuse usable by the user (0666, the usual mode); with 0600 it fails
 * ("failed to open /dev/fuse: Permission denied"), as libfuse would. */
#ifndef SAFEMOUNT_MOUNT_FUSE_MOUNT_H
#define SAFEMOUNT_MOUNT_FUSE_MOUNT_H

#include <stdbool.h>

struct sm_fuse_mount_req {
	const char *source;      /* shown in /proc/mounts and df: the image path */
	const char *mountpoint;  /* absolute, symlinks resolved */
	bool read_only;
	bool noexec;
	bool noatime;
	bool allow_other;
	bool symfollow;          /* false (default): MOUNT_ATTR_NOSYMFOLLOW */
};

/* A prepared, not yet attached mount (root only). */
struct sm_kernel_mount {
	int fuse_fd;     /* /dev/fuse, O_CLOEXEC */
	int mount_fd;    /* from fsmount(), detached */
	int target_fd;   /* the mountpoint, O_PATH|O_DIRECTORY, opened before fsmount */
	/* A source too long for fsconfig() was mounted with mount(2): already
	 * visible here; attach has nothing to do, discard unmounts it. */
	const char *mounted_at;
};

/* Each returns 0 or -errno, with *what naming the step that failed
 * ("opening /dev/fuse", "configuring the FUSE mount", ...). */
int sm_kernel_mount_prepare(const struct sm_fuse_mount_req *r, struct sm_kernel_mount *km,
			    const char **what);
/* move_mount() onto the mountpoint; closes mount_fd and target_fd, keeps fuse_fd. */
int sm_kernel_mount_attach(struct sm_kernel_mount *km, const char **what);
/* Close whatever is still open (a prepared mount that is dropped vanishes). */
void sm_kernel_mount_discard(struct sm_kernel_mount *km);

/* Run fusermount3 with "-o fsname=...,subtype=safemount,nosuid,nodev,
 * default_permissions[,ro][,noexec][,noatime] -- MOUNTPOINT" and receive the
 * /dev/fuse fd.  allow_other and symfollow are not passed (see the issue: a
 * normal user's mount never has allow_other; fusermount3 3.14 knows no
 * nosymfollow).  *fuse_fd is O_CLOEXEC.  Messages from fusermount3 go to
 * our stderr. */
int sm_fusermount_mount(const struct sm_fuse_mount_req *r, int *fuse_fd, const char **what);

#endif
