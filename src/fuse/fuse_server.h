/* The FUSE session of the server, in two phases around the sandbox: set-up
 * (the session on the /dev/fuse descriptor, signal handlers) before it,
 * serving (which reads the image) after it. */
#ifndef SAFEMOUNT_FUSE_SERVER_H
#define SAFEMOUNT_FUSE_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "safemount/backend.h"

struct sm_server_opts {
	bool read_only, debug;
	/* A mount by a normal user: every inode is reported as owned by
	 * uid:gid (the kernel's permission checks then treat it as theirs). */
	bool map_owner;
	uint32_t uid, gid;
};

struct sm_server;

/* Create the session on an already mounted /dev/fuse descriptor.  Returns 0
 * or a negative errno; *what names the step that failed. */
int sm_server_setup(int fuse_fd, const struct sm_server_opts *opts, struct sm_server **out,
		    const char **what);
/* Serve requests on fs until the mount goes away or a signal ends the loop.
 * Does not close fs. */
int sm_server_serve(struct sm_server *s, struct sm_fs *fs, const char **what);
void sm_server_destroy(struct sm_server *s);

#endif
