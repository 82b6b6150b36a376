/* The server's sandbox: one entry point, entered after the FUSE session is
 * set up and before one byte of the image is read.
 *
 * After sm_sandbox_enter() returns 0 the process has no privileges (an
 * unprivileged uid, then a new user namespace with every capability dropped
 * and the securebits locked, no_new_privs), its own mount/net/ipc/uts
 * namespaces with an empty root, a Landlock ruleset that denies all
 * filesystem access, rlimits (fds, file size, address space), and a seccomp
 * allowlist: open/openat/socket/connect fail with EACCES/EPERM, execve,
 * ptrace, mount and anything unlisted kill the process. */
#ifndef SAFEMOUNT_SANDBOX_H
#define SAFEMOUNT_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct sm_sandbox_conf {
	/* When started as root: the unprivileged ids to switch to (never 0).
	 * Ignored when started as a normal user, who keeps their own ids. */
	uid_t uid;
	gid_t gid;
	/* RLIMIT_FSIZE: writes inside the image work, growing it fails. */
	uint64_t max_file_size;
	/* RLIMIT_AS in bytes; 0 = no limit.  Not applied in sanitizer builds
	 * (their shadow memory is larger than any sensible cap). */
	uint64_t max_address_space;
	/* RLIMIT_NOFILE: the highest fd the server may hold, plus one. */
	unsigned max_fds;
};

/* What was applied, for the log and for the helper's message. */
struct sm_sandbox_report {
	bool user_namespace;    /* false: the kernel refused one (see note) */
	bool landlock;          /* false: the kernel has no Landlock */
	char note[256];         /* "" or one sentence about a weaker sandbox */
};

/* Enter the sandbox.  Returns 0, or -errno with *what naming the step that
 * failed; on failure the caller must exit (the process is half-contained).
 * Never falls back silently: a missing user namespace or Landlock is
 * reported in rep->note, everything else is required. */
int sm_sandbox_enter(const struct sm_sandbox_conf *conf, struct sm_sandbox_report *rep,
		     const char **what);

#endif
