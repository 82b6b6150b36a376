/* Session set-up around the lowlevel ops: mount options, the multi-threaded
 * loop, and the order of teardown (unmount, then write back, then exit so
 * the image lock is released last). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse/fuse_glue.h"
#include "fuse/fuse_server.h"
#include "util/log.h"

/* libfuse splits -o on commas; a comma or backslash in the source name
 * must be escaped with a backslash. */
static char *escape_opt(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(2 * n + 1), *w = out;
	if (!out)
		return NULL;
	for (; *s; s++) {
		if (*s == ',' || *s == '\\')
			*w++ = '\\';
		*w++ = *s;
	}
	*w = '\0';
	return out;
}

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

int sm_server_run(struct sm_fs *fs, const struct sm_server_opts *o, const char **what)
{
	struct sm_fuse uf = {
		.fs = fs,
		.read_only = o->read_only,
		.debug = o->debug,
		.entry_timeout = 1.0,
	};
	char *fsname = escape_opt(o->fsname);
	char *mopts = NULL;
	int ret = -ENOMEM;

	fuse_set_log_func(fuse_log_to_sm);
	*what = "preparing the mount options";
	if (!fsname)
		goto out_close;
	if (asprintf(&mopts, "fsname=%s,subtype=safemount,default_permissions,nosuid,nodev%s%s%s%s%s",
		     fsname, o->allow_other ? ",allow_other" : "", o->read_only ? ",ro" : "",
		     o->noexec ? ",noexec" : "", o->atime_opt ? "," : "",
		     o->atime_opt ? o->atime_opt : "") < 0) {
		mopts = NULL;
		goto out_close;
	}
	char *argv[] = { "safemount", "-o", mopts, o->debug ? "-d" : NULL, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(o->debug ? 4 : 3, argv);

	*what = "creating the FUSE session";
	ret = -EIO;
	struct fuse_session *se = fuse_session_new(&args, &sm_fuse_ops, sizeof(sm_fuse_ops), &uf);
	/* Parsing may have copied argv into heap memory of libfuse's. */
	fuse_opt_free_args(&args);
	if (!se)
		goto out_close;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_destroy;
	*what = "mounting";
	if (fuse_session_mount(se, o->mountpoint) != 0)
		goto out_signals;

	if (o->on_ready)
		o->on_ready(o->ready_arg);

	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	if (!cfg)
		goto out_unmount;
	/* clone_fd would reopen /dev/fuse, which the sandbox forbids. */
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	fuse_loop_cfg_set_max_threads(cfg, 8);
	*what = "serving requests";
	ret = fuse_session_loop_mt(se, cfg);
	ret = ret > 0 ? 0 : ret;   /* > 0: ended by a signal */
	fuse_loop_cfg_destroy(cfg);

out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
out_close:
	free(mopts);
	free(fsname);
	{
		int cret = sm_fs_close(fs);
		if (cret && !ret) {
			*what = "writing the filesystem back";
			ret = cret;
		}
	}
	return ret;
}
