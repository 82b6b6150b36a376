/* The FUSE lowlevel glue: translates requests into backend (sm_*) calls. */
#ifndef SAFEMOUNT_FUSE_GLUE_H
#define SAFEMOUNT_FUSE_GLUE_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <stdbool.h>

#include "safemount/backend.h"

/* The session's userdata.  Filled by fuse_server.c before the session
 * starts (dont_mask: by the init callback); read-only afterwards. */
struct sm_fuse {
	struct sm_fs *fs;
	bool read_only;
	bool debug;
	double entry_timeout;   /* seconds the kernel may cache names and attrs */
	/* Owner override for mounts by non-root users (issue: containment);
	 * when set, every inode is reported as owned by uid/gid. */
	bool map_owner;
	uint32_t uid, gid;
	/* Set by the init callback, before any other request: the kernel
	 * granted FUSE_CAP_DONT_MASK and leaves the umask to us. */
	bool dont_mask;
};

/* Every operation; the init callback sets the capabilities we rely on
 * (export support, POSIX ACLs, readdirplus, atomic O_TRUNC, ...). */
extern const struct fuse_lowlevel_ops sm_fuse_ops;

#endif
