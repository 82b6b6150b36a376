/* The server's syscall allowlist: what the served filesystem needs, taken
 * from strace of a server from start to unmount under load (copying a tree,
 * fsx, xattrs, chattr +S, fsync, statfs), then held to by the whole test
 * suite running with the filter on, in the normal and the sanitizer build
 * (a missing syscall would kill a server there).  Anything not listed kills
 * the process.  A few calls that glibc
 * or the libraries make as probes, and that must not kill, fail with an
 * errno instead; they are listed under "refused".
 *
 * Adding a syscall here is a security decision: say in the commit why the
 * server needs it and which request reaches it. */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <unistd.h>


#include "sandbox/sandbox_i.h"

static const int allowed[] = {
	/* Image and /dev/fuse I/O on the descriptors we already hold. */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(pread64), SCMP_SYS(pwrite64),
	SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(preadv), SCMP_SYS(pwritev),
	SCMP_SYS(preadv2), SCMP_SYS(pwritev2), SCMP_SYS(lseek),
	/* Write-back: fsync for sync mounts, chattr +S and FUSE fsync;
	 * fallocate for discards of freed blocks in a regular image file. */
	SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(fallocate),
	/* Size and type of the image (libext2fs unix I/O); no path can be
	 * reached: the root is empty and Landlock denies all. */
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx),
	/* Descriptors: closing, flags; dup for stdio set-up (the targets
	 * are 0-2 only, by RLIMIT_NOFILE nothing new can appear). */
	SCMP_SYS(close), SCMP_SYS(fcntl), SCMP_SYS(dup2), SCMP_SYS(dup3),
	/* Memory: glibc malloc, thread stacks (PROT_EXEC is refused below). */
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	/* Threads: futexes, the multi-threaded FUSE loop, pthread_cancel at
	 * the end of the loop (a signal to our own threads). */
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(gettid), SCMP_SYS(getpid),
	/* Signals: libfuse's handlers for SIGTERM/SIGINT/SIGHUP end the loop. */
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack), SCMP_SYS(restart_syscall),
	/* Time: file timestamps, timeouts; normally the vDSO answers. */
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(time),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
	/* Harmless facts glibc and libext2fs ask for. */
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	SCMP_SYS(getrandom), SCMP_SYS(uname), SCMP_SYS(sysinfo), SCMP_SYS(getrlimit),
	SCMP_SYS(prlimit64),
	/* syslog on the socket connected before the sandbox. */
	SCMP_SYS(sendto), SCMP_SYS(sendmsg),
	/* The end. */
	SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/* Probes that must fail softly.  Paths: Landlock and the empty root would
 * refuse them anyway; glibc's malloc and syslog try /proc and /dev/log. */
static const struct {
	int nr;
	int err;
} refused[] = {
	{ SCMP_SYS(open), EACCES }, { SCMP_SYS(openat), EACCES }, { SCMP_SYS(openat2), EACCES },
	{ SCMP_SYS(socket), EPERM }, { SCMP_SYS(connect), EPERM },
	/* glibc tries clone3 first and falls back to clone, which is filtered. */
	{ SCMP_SYS(clone3), ENOSYS },
	{ SCMP_SYS(prctl), EPERM }, { SCMP_SYS(readlink), EACCES },
	{ SCMP_SYS(kill), EPERM },
};

/* ioctls: the block layer's own (type 0x12: a block device's size and
 * sector sizes, flush, discard, zero-out) on the image; the ones that
 * change a device need CAP_SYS_ADMIN, which the server lacks.  Any other
 * ioctl (isatty()'s TCGETS, a probe on the image) gets ENOTTY. */
#define SM_IOCTL_TYPE_MASK 0xff00UL
#define SM_IOCTL_TYPE_BLOCK 0x1200UL

static int add(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned n, const struct scmp_arg_cmp *a)
{
	return seccomp_rule_add_exact_array(ctx, action, nr, n, a);
}

int sm_sandbox_seccomp(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	int ret = 0;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && !ret; i++)
		ret = add(ctx, SCMP_ACT_ALLOW, allowed[i], 0, NULL);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]) && !ret; i++)
		ret = add(ctx, SCMP_ACT_ERRNO((uint32_t)refused[i].err), refused[i].nr, 0, NULL);

	/* Only threads: a clone without CLONE_THREAD (fork, a new process)
	 * fails.  Kill for namespaces would be stricter but glibc's fork in a
	 * library must not take the server down. */
	struct scmp_arg_cmp thread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
	struct scmp_arg_cmp nothread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0);
	if (!ret)
		ret = add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, &thread);
	if (!ret)
		ret = add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, &nothread);

	/* No new executable memory: a memory-safety bug cannot map shellcode. */
	struct scmp_arg_cmp noexec = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	struct scmp_arg_cmp exec = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC);
	static const int mem_calls[] = { SCMP_SYS(mmap), SCMP_SYS(mprotect) };
	for (size_t i = 0; i < 2 && !ret; i++) {
		ret = add(ctx, SCMP_ACT_ALLOW, mem_calls[i], 1, &noexec);
		if (!ret)
			ret = add(ctx, SCMP_ACT_ERRNO(EPERM), mem_calls[i], 1, &exec);
	}

	/* Signals only to our own threads (pthread_cancel, raise). */
	struct scmp_arg_cmp self = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid());
	struct scmp_arg_cmp other = SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)getpid());
	if (!ret)
		ret = add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, &self);
	if (!ret)
		ret = add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(tgkill), 1, &other);

	struct scmp_arg_cmp blk = SCMP_A1(SCMP_CMP_MASKED_EQ, SM_IOCTL_TYPE_MASK, SM_IOCTL_TYPE_BLOCK);
	if (!ret)
		ret = add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, &blk);
	/* "type != 0x12", written as "some bit of the type differs" because
	 * an unconditional rule would override the one above. */
	for (unsigned long bit = 0x100; bit <= 0x8000 && !ret; bit <<= 1) {
		struct scmp_arg_cmp differs = SCMP_A1(SCMP_CMP_MASKED_EQ, bit, ~SM_IOCTL_TYPE_BLOCK & bit);
		ret = add(ctx, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), 1, &differs);
	}

	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	return ret;
}
