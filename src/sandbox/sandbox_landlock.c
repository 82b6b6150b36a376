/* Landlock with an empty ruleset: every access right the kernel can handle
 * is handled, and no rule allows any, so no path can be opened, created,
 * removed, executed or truncated, and no TCP port bound or connected.
 * Descriptors opened before (the image, /dev/fuse) keep working: Landlock
 * decides at open time.
 *
 * Debian's <linux/landlock.h> stops at ABI 2; the kernel here speaks ABI 7.
 * The values below are the kernel's UAPI, defined here so that the build
 * does not depend on the installed header. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox_i.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_restrict_self 446
#endif

#define SM_LL_CREATE_RULESET_VERSION (1U << 0)

/* ABI 1: execute .. make_sym (bits 0-12); 2: refer; 3: truncate;
 * 5: ioctl_dev. */
#define SM_LL_FS_ABI1 ((1ULL << 13) - 1)
#define SM_LL_FS_REFER (1ULL << 13)
#define SM_LL_FS_TRUNCATE (1ULL << 14)
#define SM_LL_FS_IOCTL_DEV (1ULL << 15)
/* ABI 4: bind_tcp, connect_tcp. */
#define SM_LL_NET_TCP ((1ULL << 0) | (1ULL << 1))
/* ABI 6: abstract unix sockets and signals outside the domain. */
#define SM_LL_SCOPE_ALL ((1ULL << 0) | (1ULL << 1))

/* The kernel's struct landlock_ruleset_attr as of ABI 6; older kernels are
 * given a shorter size. */
struct sm_ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

int sm_sandbox_landlock(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, SM_LL_CREATE_RULESET_VERSION);
	if (abi < 0)
		return errno == ENOSYS || errno == EOPNOTSUPP ? 0 : -1;

	struct sm_ll_ruleset_attr attr = { .handled_access_fs = SM_LL_FS_ABI1 };
	size_t size = sizeof(attr.handled_access_fs);
	if (abi >= 2)
		attr.handled_access_fs |= SM_LL_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= SM_LL_FS_TRUNCATE;
	if (abi >= 4) {
		attr.handled_access_net = SM_LL_NET_TCP;
		size = offsetof(struct sm_ll_ruleset_attr, scoped);
	}
	if (abi >= 5)
		attr.handled_access_fs |= SM_LL_FS_IOCTL_DEV;
	if (abi >= 6) {
		attr.scoped = SM_LL_SCOPE_ALL;
		size = sizeof(attr);
	}

	int fd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (fd < 0)
		return -1;
	long r = syscall(SYS_landlock_restrict_self, fd, 0);
	int e = errno;
	close(fd);
	errno = e;
	return r < 0 ? -1 : 1;
}
