/* The FUSE lowlevel glue: translates requests into backend (sm_*) calls. */
#ifndef SAFEMOUNT_FUSE_GLUE_H
#define SAFEMOUNT_FUSE_GLUE_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <stdbool.h>

#include "fuse/fuse_transport.h"
#include "safemount/backend.h"

/* How long the kernel may cache names, negative names and attributes.  The
 * server is the image's only writer and every change goes through the
 * mount, where the kernel invalidates what it changed; the few changes it
 * cannot see (inode flags and ctime by chattr) are invalidated by the
 * server with a notification.  So: as long as the kernel likes. */
#define SM_CACHE_TIMEOUT 86400.0

/* The session's userdata.  Filled by fuse_server.c before the session
 * starts (dont_mask: by the init callback, tp: by the transport around
 * INIT); read-only afterwards. */
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
	/* For invalidation notices (set before the loop starts). */
	struct fuse_session *se;
	/* Our read/writev on /dev/fuse: whether KILLPRIV_V2 was negotiated. */
	struct sm_transport tp;
};

/* Every operation; the init callback sets the capabilities we rely on
 * (export support, POSIX ACLs, readdirplus, atomic O_TRUNC, ...). */
extern const struct fuse_lowlevel_ops sm_fuse_ops;

#endif
