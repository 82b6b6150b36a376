/* sm_sandbox_enter(): the steps, in the only order that works.
 *
 * Ids first (as root: namespaces and the empty root are made while we still
 * may, then setresuid to the dedicated id), then a user namespace (a normal
 * user needs it for the other namespaces; for root it is one more wall),
 * capabilities dropped and locked, no_new_privs, rlimits, Landlock, and
 * seccomp last, because every step before it needs syscalls it forbids. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/securebits.h>

#include "sandbox/sandbox.h"
#include "sandbox/sandbox_i.h"
#include "util/sanitizer.h"

static int fail(const char **what, const char *step)
{
	int e = errno ? errno : EPERM;
	*what = step;
	return -e;
}

/* Write "ID ID 1": our own id maps to itself, nothing else exists. */
static int write_map(int procfd, const char *file, unsigned id)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%u %u 1\n", id, id);
	int fd = openat(procfd, file, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, line, (size_t)n);
	int e = errno;
	close(fd);
	errno = e;
	return w == n ? 0 : -1;
}

static int enter_user_namespace(int procfd, uid_t uid, gid_t gid)
{
	if (unshare(CLONE_NEWUSER) < 0)
		return -1;
	/* The maps are written through /proc of the old root, reached by a
	 * descriptor: as root the empty root is already in place. */
	int fd = openat(procfd, "setgroups", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, "deny", 4);
	close(fd);
	if (w != 4)
		return -1;
	if (write_map(procfd, "uid_map", uid) < 0 || write_map(procfd, "gid_map", gid) < 0)
		return -1;
	return 0;
}

/* Some directory to hang the empty tmpfs on before pivoting into it; it is
 * hidden by the tmpfs and then detached with the old root. */
static const char *const empty_root_mountpoints[] = { "/tmp", "/run", "/mnt", "/var", "/dev", NULL };

static int enter_empty_root(void)
{
	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
		return -1;
	/* Nothing we do below may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	const char *dir = NULL;
	struct stat st;
	for (const char *const *d = empty_root_mountpoints; *d; d++) {
		if (stat(*d, &st) == 0 && S_ISDIR(st.st_mode)) {
			dir = *d;
			break;
		}
	}
	if (!dir) {
		errno = ENOENT;
		return -1;
	}
	if (mount("safemount-empty", dir, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=4k,nr_inodes=1,mode=0555") < 0)
		return -1;
	if (chdir(dir) < 0)
		return -1;
	/* pivot_root(".", ".") stacks the old root on the new one; detaching
	 * it leaves only the empty tmpfs.  A root that is not a mount point
	 * (an initramfs) cannot be pivoted: chroot is the fallback there. */
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		if (umount2(".", MNT_DETACH) < 0)
			return -1;
	} else if (errno != EINVAL || chroot(".") < 0) {
		return -1;
	}
	return chdir("/");
}

static int drop_ids(uid_t uid, gid_t gid)
{
	if (uid == 0 || gid == 0) {
		errno = EINVAL;
		return -1;
	}
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -1;
	/* The id change made us non-dumpable, which makes /proc/self root's
	 * and the uid_map write impossible; made non-dumpable again at the end. */
	return prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

/* No way to get a capability back by exec or by becoming uid 0, and an
 * empty bounding set.  Needs CAP_SETPCAP in the current user namespace;
 * a new user namespace resets both, so this runs once per namespace. */
static int lock_capabilities(void)
{
	unsigned long bits = SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_SETUID_FIXUP |
			     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
			     SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
		return -1;
	for (unsigned long cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -1;
	}
	return 0;
}

/* Effective, permitted, inheritable and ambient: all empty. */
static int clear_capabilities(void)
{
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -1;
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	memset(data, 0, sizeof(data));
	return (int)syscall(SYS_capset, &hdr, data);
}

static int set_limit(int resource, uint64_t value)
{
	struct rlimit rl = { .rlim_cur = value, .rlim_max = value };
	return setrlimit(resource, &rl);
}


static int set_limits(const struct sm_sandbox_conf *c)
{
	if (set_limit(RLIMIT_NOFILE, c->max_fds ? c->max_fds : 16) < 0 ||
	    set_limit(RLIMIT_FSIZE, c->max_file_size) < 0 ||
	    set_limit(RLIMIT_CORE, 0) < 0 ||
	    set_limit(RLIMIT_MEMLOCK, 0) < 0 ||
	    set_limit(RLIMIT_MSGQUEUE, 0) < 0)
		return -1;
#ifndef SM_SANITIZER_BUILD
	if (c->max_address_space && set_limit(RLIMIT_AS, c->max_address_space) < 0)
		return -1;
#endif
	return 0;
}

int sm_sandbox_enter(const struct sm_sandbox_conf *conf, struct sm_sandbox_report *rep,
		     const char **what)
{
	memset(rep, 0, sizeof(*rep));
	errno = 0;
	/* A write past RLIMIT_FSIZE must fail with EFBIG, not kill us. */
	if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		return fail(what, "ignoring SIGXFSZ");

	int procfd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return fail(what, "opening /proc/self");

	bool root = geteuid() == 0;
	uid_t uid = root ? conf->uid : getuid();
	gid_t gid = root ? conf->gid : getgid();
	int ret = 0;
	if (root) {
		if (enter_empty_root() < 0) {
			ret = fail(what, "entering new namespaces with an empty root");
			goto out;
		}
		/* Locked while we are root: after the id switch (which
		 * NO_SETUID_FIXUP makes keep the capabilities until they are
		 * cleared right after) nothing could lock them any more. */
		if (lock_capabilities() < 0) {
			ret = fail(what, "locking the securebits and emptying the bounding set");
			goto out;
		}
		if (drop_ids(uid, gid) < 0) {
			ret = fail(what, "switching to the unprivileged server ids");
			goto out;
		}
		if (clear_capabilities() < 0) {
			ret = fail(what, "dropping capabilities");
			goto out;
		}
	}
	if (enter_user_namespace(procfd, uid, gid) == 0) {
		rep->user_namespace = true;
		if (!root && enter_empty_root() < 0) {
			ret = fail(what, "entering new namespaces with an empty root");
			goto out;
		}
	} else if (errno == EPERM || errno == ENOSPC || errno == EINVAL || errno == EACCES) {
		snprintf(rep->note, sizeof(rep->note),
			 "this machine forbids user namespaces (%s), so the server %s; "
			 "Landlock, seccomp and no_new_privs still deny it files, sockets and processes",
			 strerror(errno),
			 root ? "has no user namespace of its own"
			      : "shares the host's mount and network namespaces");
	} else {
		ret = fail(what, "entering a user namespace");
		goto out;
	}
	close(procfd);
	procfd = -1;

	/* The new user namespace gave us every capability in it, a full
	 * bounding set and default securebits: lock and drop them again. */
	if (rep->user_namespace && lock_capabilities() < 0) {
		ret = fail(what, "locking the securebits and emptying the bounding set");
		goto out;
	}
	if (clear_capabilities() < 0) {
		ret = fail(what, "dropping capabilities");
		goto out;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		ret = fail(what, "setting no_new_privs");
		goto out;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		ret = fail(what, "making the server non-dumpable");
		goto out;
	}
	if (set_limits(conf) < 0) {
		ret = fail(what, "setting resource limits");
		goto out;
	}
	int ll = sm_sandbox_landlock();
	if (ll < 0) {
		ret = fail(what, "restricting filesystem access with Landlock");
		goto out;
	}
	rep->landlock = ll > 0;
	if (!rep->landlock && !rep->note[0])
		snprintf(rep->note, sizeof(rep->note),
			 "this kernel has no Landlock; the empty root and seccomp still deny the server files");
	ret = sm_sandbox_seccomp();
	if (ret < 0) {
		errno = -ret;
		ret = fail(what, "installing the seccomp filter");
	}
out:
	if (procfd >= 0)
		close(procfd);
	return ret;
}
