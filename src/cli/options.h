/* Command-line and -o option parsing for the safemount helper. */
#ifndef SAFEMOUNT_CLI_OPTIONS_H
#define SAFEMOUNT_CLI_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

/* The server's address-space cap unless -o memlimit= says otherwise. */
#define SM_DEFAULT_MEMLIMIT (1ULL << 30)
/* The server's metadata block cache unless -o cache= says otherwise. */
#define SM_DEFAULT_CACHE (16ULL << 20)

#include "safemount/backend.h"

/* mount(8) exit codes. */
enum sm_exit {
	SM_EXIT_OK = 0,
	SM_EXIT_USAGE = 1,      /* incorrect invocation or permissions */
	SM_EXIT_SYSERR = 2,     /* system error (out of memory, cannot fork...) */
	SM_EXIT_SOFTWARE = 4,   /* internal bug */
	SM_EXIT_FAIL = 32,      /* mount failure */
};

enum sm_mode { SM_MODE_MOUNT, SM_MODE_UNMOUNT, SM_MODE_HELP, SM_MODE_VERSION };

struct sm_options {
	enum sm_mode mode;
	const char *image;        /* as given */
	const char *mountpoint;   /* as given */
	bool ro, rw;              /* explicit requests; neither = rw if writable */
	bool allow_other;
	bool noexec;
	bool symfollow;           /* default false: the mount is nosymfollow */
	bool set_uid, set_gid;    /* uid=, gid= given */
	uint32_t uid, gid;
	uint64_t memlimit;        /* the server's RLIMIT_AS; 0 = none */
	uint64_t cache;           /* the server's block cache in bytes; 0 = none */
	bool foreground;
	bool debug;
	enum sm_atime_policy atime;
	char *fsname;             /* owned; NULL = the image's absolute path */
};

/* Parse argv.  On error prints one sentence to stderr and returns
 * SM_EXIT_USAGE; 0 otherwise. */
int sm_parse_args(int argc, char **argv, struct sm_options *opts);
void sm_options_free(struct sm_options *opts);
void sm_print_usage(void);

#endif
