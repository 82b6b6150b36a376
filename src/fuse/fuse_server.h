/* Running the FUSE session for one opened filesystem. */
#ifndef SAFEMOUNT_FUSE_SERVER_H
#define SAFEMOUNT_FUSE_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "safemount/backend.h"

struct sm_server_opts {
	const char *mountpoint;   /* absolute */
	const char *fsname;       /* the mount's source in /proc/mounts */
	bool read_only, allow_other, noexec, debug;
	const char *atime_opt;    /* "noatime" or NULL: shown in /proc/mounts */
	/* Called once the mount is live, before serving the first request;
	 * the helper uses it to report success and detach. */
	void (*on_ready)(void *arg);
	void *ready_arg;
};

/* Mount, serve until unmounted or signalled, then close the filesystem
 * (write everything back).  Takes ownership of fs.  Returns 0 or a negative
 * errno; *what names the step that failed. */
int sm_server_run(struct sm_fs *fs, const struct sm_server_opts *opts, const char **what);

#endif
