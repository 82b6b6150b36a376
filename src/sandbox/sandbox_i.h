/* Steps of sm_sandbox_enter() that live in files of their own. */
#ifndef SAFEMOUNT_SANDBOX_I_H
#define SAFEMOUNT_SANDBOX_I_H

/* Restrict this process with a Landlock ruleset that handles every access
 * right the kernel knows and allows none.  Returns 1 when applied, 0 when
 * the kernel has no Landlock, -1 with errno on failure. */
int sm_sandbox_landlock(void);

/* Install the syscall allowlist (syscalls.c).  Returns 0 or -errno. */
int sm_sandbox_seccomp(void);

#endif
