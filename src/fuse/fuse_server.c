/* Session set-up around the lowlevel ops and the multi-threaded loop.
 *
 * The helper mounted the filesystem; the session only serves the /dev/fuse
 * descriptor it was handed, through our own read and writev on it
 * (fuse_transport.c: what libfuse 3.14 cannot negotiate).  The server
 * cannot unmount (it has no access to the host's mount table): when the
 * loop ends, closing the descriptor makes every access ENOTCONN until
 * `safemount -u` or umount(8) removes the mount. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse/fuse_glue.h"
#include "fuse/fuse_server.h"
#include "util/log.h"

struct sm_server {
	struct sm_fuse uf;
	struct fuse_session *se;
	bool signals;
};

/* libfuse's own messages ("fuse: ...\n") join ours. */
__attribute__((format(printf, 2, 0)))
static void fuse_log_to_sm(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	size_t n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	sm_log((int)level, "%s", line);
}

int sm_server_setup(int fuse_fd, const struct sm_server_opts *o, struct sm_server **out,
		    const char **what)
{
	struct sm_server *s = calloc(1, sizeof(*s));
	*what = "creating the FUSE session";
	if (!s)
		return -ENOMEM;
	s->uf = (struct sm_fuse){
		.read_only = o->read_only,
		.debug = o->debug,
		.entry_timeout = SM_CACHE_TIMEOUT,
		.map_owner = o->map_owner,
		.uid = o->uid,
		.gid = o->gid,
	};
	fuse_set_log_func(fuse_log_to_sm);

	char *argv[] = { "safemount", o->debug ? "-d" : NULL, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(o->debug ? 2 : 1, argv);
	s->se = fuse_session_new(&args, &sm_fuse_ops, sizeof(sm_fuse_ops), &s->uf);
	fuse_opt_free_args(&args);
	if (!s->se)
		goto fail;
	s->uf.se = s->se;
	if (fuse_set_signal_handlers(s->se) != 0)
		goto fail;
	s->signals = true;

	*what = "attaching to the FUSE device";
	if (sm_transport_attach(s->se, fuse_fd) != 0)
		goto fail;
	*out = s;
	return 0;
fail:
	sm_server_destroy(s);
	return -EIO;
}

int sm_server_serve(struct sm_server *s, struct sm_fs *fs, const char **what)
{
	s->uf.fs = fs;
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	*what = "serving requests";
	if (!cfg)
		return -ENOMEM;
	/* clone_fd would reopen /dev/fuse, which the sandbox forbids. */
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	fuse_loop_cfg_set_max_threads(cfg, 8);
	int ret = fuse_session_loop_mt(s->se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return ret > 0 ? 0 : ret;   /* > 0: ended by a signal */
}

void sm_server_destroy(struct sm_server *s)
{
	if (!s)
		return;
	if (s->se) {
		if (s->signals)
			fuse_remove_signal_handlers(s->se);
		/* Closes the /dev/fuse descriptor: the kernel aborts the
		 * connection if the mount is still there. */
		fuse_session_destroy(s->se);
	}
	free(s);
}
