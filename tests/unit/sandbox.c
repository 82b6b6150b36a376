/* sm_sandbox_enter(), tried from the inside: for each check a forked child
 * enters the sandbox with {uid = gid = 65533, max_file_size 1 MiB,
 * max_address_space 1 GiB, max_fds 16}, then does ONE forbidden (or one
 * needed) thing and reports the outcome to the parent over a pipe it had
 * before entering.  After entering, the child only uses write(2), read(2)
 * on that pipe, _exit(2), getuid()-style calls and the one thing tried, so
 * a child killed by the filter fails only its own check.
 *
 * Three ways in:
 *  - "root": the child is root, the sandbox switches it to 65533;
 *  - "user 4242": a root child first drops to 4242:4242 with setgroups,
 *    setresgid, setresuid (the non-root path: it keeps its own ids, and
 *    still gets a user namespace);
 *  - "own ids": when this test does not run as root, its own ids (the two
 *    above are then printed as skipped).
 * Each way checks: sm_sandbox_enter returns 0 with user_namespace and
 * landlock true (this kernel has both); seen by the parent in /proc/CHILD:
 * Seccomp 2, NoNewPrivs 1, every capability set empty, the expected Uid
 * and Gid, no supplementary group 0, its own user/mnt/net/ipc/uts
 * namespaces, an empty root that is not ours, the rlimits; from inside:
 * open/openat of /etc/passwd fail, sockets fail or SIGSYS, execve is killed
 * by SIGSYS, getuid & co are not 0, a write past max_file_size fails with
 * EFBIG (SIGXFSZ ignored) while one inside it works, fork/clone/clone3 of a
 * new process fail or kill, a thread can still be started (the server's
 * FUSE loop is multi-threaded), ptrace(PTRACE_TRACEME), mount, unshare of a
 * new user namespace and setuid(0) fail or kill.  TAP output. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <seccomp.h>

#include "sandbox/sandbox.h"
#include "tap.h"

#ifndef SYS_clone3
#define SYS_clone3 435
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#ifndef SANITIZER_BUILD
#define SANITIZER_BUILD 0
#endif

#define SANDBOX_ID 65533u    /* conf.uid/gid: an id no one uses */
#define DROP_ID 4242u        /* the "normal user" a root child drops to */
#define MAX_FILE (1u << 20)
#define MAX_AS (1ull << 30)
#define MAX_FDS 16u
#define TIMEOUT_MS 10000

enum way { WAY_ROOT, WAY_DROPPED, WAY_OWN };

enum act {
	ACT_PAUSE,        /* wait on the pipe while the parent looks at /proc */
	ACT_OPEN,
	ACT_OPENAT,       /* through a directory fd opened before entering */
	ACT_SOCKET_INET,
	ACT_SOCKET_UNIX,
	ACT_EXECVE,
	ACT_IDS,
	ACT_FSIZE,
	ACT_FORK,
	ACT_CLONE,
	ACT_CLONE3,
	ACT_THREAD,
	ACT_PTRACE,
	ACT_MOUNT,
	ACT_UNSHARE,
	ACT_SETUID0,
};

/* What the parent requires of the outcome. */
enum expect {
	EXP_FAILS,            /* returns -1, the child lives on */
	EXP_FAILS_OR_SIGSYS,  /* returns -1, or the filter kills the child */
	EXP_SIGSYS,           /* the filter kills the child */
	EXP_CUSTOM,
};

static const struct check {
	enum act act;
	enum expect exp;
	const char *name;
} checks[] = {
	{ ACT_OPEN, EXP_FAILS, "open(\"/etc/passwd\", O_RDONLY) fails" },
	{ ACT_OPENAT, EXP_FAILS, "openat(fd of /etc opened before entering, \"passwd\") fails" },
	{ ACT_SOCKET_INET, EXP_FAILS_OR_SIGSYS, "socket(AF_INET, SOCK_STREAM) fails or is killed" },
	{ ACT_SOCKET_UNIX, EXP_FAILS_OR_SIGSYS, "socket(AF_UNIX, SOCK_STREAM) fails or is killed" },
	{ ACT_EXECVE, EXP_SIGSYS, "execve(\"/bin/true\") is killed by SIGSYS" },
	{ ACT_IDS, EXP_CUSTOM, "getuid/geteuid/getgid/getegid are not 0" },
	{ ACT_FSIZE, EXP_CUSTOM, "a write below max_file_size works, one at it fails with EFBIG (no SIGXFSZ)" },
	{ ACT_FORK, EXP_FAILS_OR_SIGSYS, "fork() fails or is killed" },
	{ ACT_CLONE, EXP_FAILS_OR_SIGSYS, "clone(SIGCHLD) of a new process fails or is killed" },
	{ ACT_CLONE3, EXP_FAILS_OR_SIGSYS, "clone3() of a new process fails or is killed" },
	{ ACT_THREAD, EXP_CUSTOM, "pthread_create still works (the FUSE loop is multi-threaded)" },
	{ ACT_PTRACE, EXP_FAILS_OR_SIGSYS, "ptrace(PTRACE_TRACEME) fails or is killed" },
	{ ACT_MOUNT, EXP_FAILS_OR_SIGSYS, "mount(tmpfs on /) fails or is killed" },
	{ ACT_UNSHARE, EXP_FAILS_OR_SIGSYS, "unshare(CLONE_NEWUSER) fails or is killed" },
	{ ACT_SETUID0, EXP_FAILS_OR_SIGSYS, "setuid(0) fails or is killed" },
};

/* The inspection of a paused child: the names of its tap lines, for the
 * skip lines of a way that cannot run. */
static const char *const inspect_names[] = {
	"sm_sandbox_enter returns 0",
	"report.user_namespace",
	"report.landlock",
	"/proc/CHILD/status Seccomp 2",
	"/proc/CHILD/status NoNewPrivs 1",
	"/proc/CHILD/status capabilities all empty",
	"/proc/CHILD/status Uid",
	"/proc/CHILD/status Gid",
	"/proc/CHILD/status Groups without 0",
	"own user/mnt/net/ipc/uts namespaces",
	"/proc/CHILD/root is empty and not our /",
	"/proc/CHILD/limits",
	"the paused child exits normally",
};

/* One report from the child: stage 1 after sm_sandbox_enter, stage 2 after
 * the action.  Smaller than PIPE_BUF: each write is atomic. */
struct msg {
	int stage;
	int ret;
	int err;
	bool user_namespace, landlock;
	char what[64];
	char note[256];
	long vals[4];
};

static char tmpdir[256], scratch_file[300];

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;
	if (n)
		memcpy(dst, src, n);
	dst[n] = 0;
}

static void *thread_fn(void *arg)
{
	(void)arg;
	return (void *)42;
}

/* The raw clone3 arguments (CLONE_ARGS_SIZE_VER0). */
struct clone3_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static void send_msg(int fd, const struct msg *m)
{
	ssize_t n = write(fd, m, sizeof(*m));
	(void)n;
}

/* The forked child: never returns. */
__attribute__((noreturn))
static void child(enum way way, enum act act, int wfd, int gofd)
{
	struct msg m;
	struct rlimit no_core = { 0, 0 };

	/* A SIGSYS death must not leave a core file around. */
	setrlimit(RLIMIT_CORE, &no_core);
	/* Should the sandbox let mount(2) through, the mount on "/" lands in a
	 * throwaway namespace of this child, never on the host.  (Without root
	 * there is nothing to protect: mount is EPERM outside a namespace.) */
	if (act == ACT_MOUNT && geteuid() == 0 &&
	    (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)) {
		memset(&m, 0, sizeof(m));
		m.stage = 1;
		m.ret = -errno;
		copy_str(m.what, sizeof(m.what), "(test) a private mount namespace");
		send_msg(wfd, &m);
		_exit(3);
	}
	/* Opened before entering (and before dropping ids): the sandbox
	 * cannot take away what a process already holds. */
	int filefd = open(scratch_file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int dirfd = open("/etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	memset(&m, 0, sizeof(m));
	m.stage = 1;
	if (way == WAY_DROPPED) {
		if (setgroups(0, NULL) || setresgid(DROP_ID, DROP_ID, DROP_ID) ||
		    setresuid(DROP_ID, DROP_ID, DROP_ID)) {
			m.ret = -errno;
			copy_str(m.what, sizeof(m.what), "(test) dropping to 4242");
			send_msg(wfd, &m);
			_exit(3);
		}
		/* Like a process that user exec'd (changing ids cleared it). */
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	}

	struct sm_sandbox_conf conf = {
		.uid = SANDBOX_ID,
		.gid = SANDBOX_ID,
		.max_file_size = MAX_FILE,
		.max_address_space = MAX_AS,
		.max_fds = MAX_FDS,
	};
	struct sm_sandbox_report rep;
	const char *what = NULL;
	memset(&rep, 0, sizeof(rep));
	m.ret = sm_sandbox_enter(&conf, &rep, &what);
	m.user_namespace = rep.user_namespace;
	m.landlock = rep.landlock;
	copy_str(m.what, sizeof(m.what), what);
	copy_str(m.note, sizeof(m.note), rep.note);
	send_msg(wfd, &m);
	if (m.ret)
		_exit(2);

	/* Inside: one thing, then report. */
	memset(&m, 0, sizeof(m));
	m.stage = 2;
	errno = 0;
	switch (act) {
	case ACT_PAUSE: {
		char c;
		ssize_t n = read(gofd, &c, 1);  /* EOF when the parent is done */
		_exit(n == 0 ? 0 : 4);
	}
	case ACT_OPEN:
		m.ret = open("/etc/passwd", O_RDONLY);
		break;
	case ACT_OPENAT:
		m.ret = dirfd < 0 ? -2 : openat(dirfd, "passwd", O_RDONLY);
		break;
	case ACT_SOCKET_INET:
		m.ret = socket(AF_INET, SOCK_STREAM, 0);
		break;
	case ACT_SOCKET_UNIX:
		m.ret = socket(AF_UNIX, SOCK_STREAM, 0);
		break;
	case ACT_EXECVE: {
		char *const argv[] = { (char *)"true", NULL };
		char *const envp[] = { NULL };
		m.ret = execve("/bin/true", argv, envp);
		break;
	}
	case ACT_IDS:
		m.vals[0] = (long)getuid();
		m.vals[1] = (long)geteuid();
		m.vals[2] = (long)getgid();
		m.vals[3] = (long)getegid();
		break;
	case ACT_FSIZE:
		if (filefd < 0) {
			m.ret = -2;
			break;
		}
		m.vals[0] = pwrite(filefd, "x", 1, MAX_FILE - 1);
		m.vals[1] = m.vals[0] < 0 ? errno : 0;
		errno = 0;
		m.vals[2] = pwrite(filefd, "y", 1, MAX_FILE);
		m.vals[3] = m.vals[2] < 0 ? errno : 0;
		break;
	case ACT_FORK: {
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		m.ret = (int)p;
		break;
	}
	case ACT_CLONE: {
		long p = syscall(SYS_clone, (unsigned long)SIGCHLD, 0UL, 0UL, 0UL, 0UL);
		if (p == 0)
			_exit(0);
		m.ret = (int)p;
		break;
	}
	case ACT_CLONE3: {
		struct clone3_args ca;
		memset(&ca, 0, sizeof(ca));
		ca.exit_signal = SIGCHLD;
		long p = syscall(SYS_clone3, &ca, sizeof(ca));
		if (p == 0)
			_exit(0);
		m.ret = (int)p;
		break;
	}
	case ACT_THREAD: {
		pthread_t t;
		void *res = NULL;
		m.ret = pthread_create(&t, NULL, thread_fn, NULL);
		if (m.ret == 0) {
			m.vals[0] = pthread_join(t, &res);
			m.vals[1] = (long)(intptr_t)res;
		}
		break;
	}
	case ACT_PTRACE:
		m.ret = (int)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		break;
	case ACT_MOUNT:
		m.ret = mount("none", "/", "tmpfs", 0, NULL);
		break;
	case ACT_UNSHARE:
		m.ret = unshare(CLONE_NEWUSER);
		break;
	case ACT_SETUID0:
		m.ret = setuid(0);
		break;
	}
	m.err = errno;
	send_msg(wfd, &m);
	_exit(0);
}

/* Read one report: 1, 0 at EOF, -1 after TIMEOUT_MS. */
static int read_msg(int fd, struct msg *m)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;
	do {
		r = poll(&p, 1, TIMEOUT_MS);
	} while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	ssize_t n;
	do {
		n = read(fd, m, sizeof(*m));
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*m) ? 1 : 0;
}

/* waitpid with a deadline; a child that does not exit is killed. */
static int wait_child(pid_t pid, bool *hung)
{
	int status = 0;
	*hung = false;
	for (int i = 0; i < TIMEOUT_MS / 10; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	*hung = true;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return status;
}

static void describe_status(int status, bool hung, char *buf, size_t size)
{
	if (hung)
		snprintf(buf, size, "hung (killed after %d s)", TIMEOUT_MS / 1000);
	else if (status == -1)
		snprintf(buf, size, "waitpid failed");
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by %s", strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "exited %d", WEXITSTATUS(status));
}

/* ---- the parent's look at a paused child ---- */

static bool read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = 0;
	return true;
}

/* The value of "Field:" in text (up to the end of line), tabs as spaces. */
static void field(const char *text, const char *name, char *out, size_t size)
{
	char key[64];
	snprintf(key, sizeof(key), "\n%s:", name);
	const char *p = strstr(text, key);
	out[0] = 0;
	if (!p)
		return;
	p += strlen(key);
	while (*p == '\t' || *p == ' ')
		p++;
	size_t n = 0;
	while (p[n] && p[n] != '\n' && n + 1 < size) {
		out[n] = p[n] == '\t' ? ' ' : p[n];
		n++;
	}
	while (n && out[n - 1] == ' ')
		n--;
	out[n] = 0;
}

/* The soft limit of a /proc/PID/limits line, -1 for unlimited, -2 if absent. */
static long long limit_of(const char *text, const char *name)
{
	const char *p = strstr(text, name);
	if (!p)
		return -2;
	p += strlen(name);
	while (*p == ' ')
		p++;
	if (!strncmp(p, "unlimited", 9))
		return -1;
	return strtoll(p, NULL, 10);
}

static void inspect(pid_t pid, enum way way)
{
	char path[64], st[4096] = "\n", v[256], want[128], lim[4096];
	unsigned id = way == WAY_ROOT ? SANDBOX_ID : way == WAY_DROPPED ? DROP_ID : (unsigned)getuid();
	unsigned gid = way == WAY_ROOT ? SANDBOX_ID : way == WAY_DROPPED ? DROP_ID : (unsigned)getgid();

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!read_file(path, st + 1, sizeof(st) - 1))
		st[0] = 0;

	field(st, "Seccomp", v, sizeof(v));
	tap_check(!strcmp(v, "2"), "%s (got '%s')", inspect_names[3], v);
	field(st, "NoNewPrivs", v, sizeof(v));
	tap_check(!strcmp(v, "1"), "%s (got '%s')", inspect_names[4], v);
	{
		static const char *const caps[] = { "CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb" };
		char bad[256] = "", cv[24];
		for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
			field(st, caps[i], cv, sizeof(cv));
			if (strcmp(cv, "0000000000000000"))
				snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad), " %s=%s", caps[i], cv);
		}
		tap_check(!bad[0], "%s (CapEff, CapPrm, CapBnd, CapInh, CapAmb)%s", inspect_names[5], bad);
	}
	snprintf(want, sizeof(want), "%u %u %u %u", id, id, id, id);
	field(st, "Uid", v, sizeof(v));
	tap_check(!strcmp(v, want), "%s (got '%s', want '%s')", inspect_names[6], v, want);
	snprintf(want, sizeof(want), "%u %u %u %u", gid, gid, gid, gid);
	field(st, "Gid", v, sizeof(v));
	tap_check(!strcmp(v, want), "%s (got '%s', want '%s')", inspect_names[7], v, want);
	field(st, "Groups", v, sizeof(v));
	{
		char padded[300];
		snprintf(padded, sizeof(padded), " %s ", v);
		tap_check(!strstr(padded, " 0 "), "%s (got '%s')", inspect_names[8], v);
	}

	{
		static const char *const nss[] = { "user", "mnt", "net", "ipc", "uts" };
		char bad[256] = "", mine[128], theirs[128];
		int closed = 0;
		for (size_t i = 0; i < sizeof(nss) / sizeof(nss[0]); i++) {
			char p2[64];
			ssize_t a, b;
			snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, nss[i]);
			snprintf(p2, sizeof(p2), "/proc/self/ns/%s", nss[i]);
			a = readlink(path, theirs, sizeof(theirs) - 1);
			if (a < 0 && errno == EACCES)
				closed++;
			b = a < 0 ? 0 : readlink(p2, mine, sizeof(mine) - 1);
			if (a < 0 || b < 0) {
				snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad), " %s:unreadable(%s)",
					 nss[i], errname(errno));
				continue;
			}
			theirs[a] = mine[b] = 0;
			if (!strcmp(theirs, mine))
				snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad), " %s:shared", nss[i]);
		}
		if (closed == (int)(sizeof(nss) / sizeof(nss[0])) && geteuid() != 0)
			/* A non-dumpable child is closed to a non-root parent. */
			printf("ok %d - [%s] %s # SKIP cannot read them as non-root (non-dumpable child)\n",
			       ++tap_count, tap_label, inspect_names[9]);
		else
			tap_check(!bad[0], "%s%s", inspect_names[9], bad);
	}

	{
		struct stat ours, theirs;
		int entries = 0;
		snprintf(path, sizeof(path), "/proc/%d/root/", (int)pid);
		DIR *d = opendir(path);
		if (!d && errno == EACCES && geteuid() != 0) {
			/* A non-dumpable child is closed to a non-root parent. */
			printf("ok %d - [%s] %s # SKIP cannot open it as non-root (non-dumpable child)\n",
			       ++tap_count, tap_label, inspect_names[10]);
		} else if (!d) {
			tap_check(false, "%s (opendir: %s)", inspect_names[10], errname(errno));
		} else {
			struct dirent *e;
			char first[256] = "";
			while ((e = readdir(d))) {
				if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
					continue;
				if (!entries++)
					copy_str(first, sizeof(first), e->d_name);
			}
			closedir(d);
			bool differs = stat(path, &theirs) == 0 && stat("/", &ours) == 0 &&
				       (theirs.st_dev != ours.st_dev || theirs.st_ino != ours.st_ino);
			tap_check(entries == 0 && differs, "%s (%d entries%s%s, %s)", inspect_names[10], entries,
				  entries ? ", e.g. " : "", first, differs ? "not our /" : "our / or unreadable");
		}
	}

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	if (!read_file(path, lim, sizeof(lim)))
		lim[0] = 0;
	long long fsize = limit_of(lim, "Max file size"), nofile = limit_of(lim, "Max open files"),
		  as = limit_of(lim, "Max address space");
	bool as_ok = SANITIZER_BUILD ? true : as == (long long)MAX_AS;
	tap_check(fsize == MAX_FILE && nofile == MAX_FDS && as_ok,
		  "%s: file size %lld (want %u), open files %lld (want %u), address space %lld (want %llu%s)",
		  inspect_names[11], fsize, MAX_FILE, nofile, MAX_FDS, as, MAX_AS,
		  SANITIZER_BUILD ? ", not checked: sanitizer build" : "");
}

/* ---- one check: fork, enter, act, judge ---- */

static void run_check(enum way way, const struct check *c)
{
	int rp[2], gp[2];
	struct msg m1, m2;
	char how[128];

	if (pipe2(rp, O_CLOEXEC) || pipe2(gp, O_CLOEXEC)) {
		tap_check(false, "%s (pipe: %s)", c ? c->name : "enter", errname(errno));
		return;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		tap_check(false, "%s (fork: %s)", c ? c->name : "enter", errname(errno));
		return;
	}
	if (pid == 0) {
		close(rp[0]);
		close(gp[1]);
		child(way, c ? c->act : ACT_PAUSE, rp[1], gp[0]);
	}
	close(rp[1]);
	close(gp[0]);

	int r1 = read_msg(rp[0], &m1);
	bool entered = r1 == 1 && m1.stage == 1 && m1.ret == 0;
	int r2 = 0;
	if (!c) {
		/* The enter check: the report, then a look at the paused child. */
		tap_check(r1 == 1 && m1.ret == 0, "%s (%s%s%s)", inspect_names[0],
			  r1 == 1 ? (m1.ret ? errname(-m1.ret) : "0") : r1 < 0 ? "no answer in time" : "the child died first",
			  r1 == 1 && m1.ret ? ", failed at: " : "", r1 == 1 && m1.ret ? m1.what : "");
		if (r1 == 1 && m1.note[0])
			printf("# note: %s\n", m1.note);
		tap_check(r1 == 1 && m1.user_namespace, "%s", inspect_names[1]);
		tap_check(r1 == 1 && m1.landlock, "%s", inspect_names[2]);
		if (entered) {
			inspect(pid, way);
		} else {
			for (size_t i = 3; i <= 11; i++)
				tap_check(false, "%s (not entered)", inspect_names[i]);
		}
	} else if (entered) {
		r2 = read_msg(rp[0], &m2);
	}
	close(gp[1]);   /* lets a paused child go */
	close(rp[0]);
	bool hung;
	int status = wait_child(pid, &hung);
	describe_status(status, hung, how, sizeof(how));

	if (!c) {
		tap_check(!hung && status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s (%s)",
			  inspect_names[12], how);
		return;
	}
	if (!entered) {
		tap_check(false, "%s (sm_sandbox_enter %s; child %s)", c->name,
			  r1 == 1 ? errname(-m1.ret) : "gave no answer", how);
		if (r1 == 1 && m1.ret)
			printf("#   failed at: %s\n", m1.what);
		return;
	}

	bool sigsys = !hung && status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
	bool failed = r2 == 1 && m2.ret == -1 && !hung && status != -1 && WIFEXITED(status);
	char got[256];
	if (r2 == 1)
		snprintf(got, sizeof(got), "returned %d%s%s, child %s", m2.ret, m2.ret == -1 ? " " : "",
			 m2.ret == -1 ? errname(m2.err) : "", how);
	else
		snprintf(got, sizeof(got), "no answer, child %s", how);

	switch (c->exp) {
	case EXP_FAILS:
		tap_check(failed, "%s (%s)", c->name, got);
		break;
	case EXP_FAILS_OR_SIGSYS:
		tap_check(failed || (sigsys && r2 != 1), "%s (%s)", c->name, got);
		break;
	case EXP_SIGSYS:
		tap_check(sigsys && r2 != 1, "%s (%s)", c->name, got);
		break;
	case EXP_CUSTOM:
		if (c->act == ACT_IDS) {
			tap_check(r2 == 1 && m2.vals[0] && m2.vals[1] && m2.vals[2] && m2.vals[3] &&
				  WIFEXITED(status),
				  "%s (uid %ld euid %ld gid %ld egid %ld; child %s)", c->name,
				  r2 == 1 ? m2.vals[0] : -1L, r2 == 1 ? m2.vals[1] : -1L,
				  r2 == 1 ? m2.vals[2] : -1L, r2 == 1 ? m2.vals[3] : -1L, how);
		} else if (c->act == ACT_FSIZE) {
			tap_check(r2 == 1 && m2.ret == 0 && m2.vals[0] == 1 && m2.vals[2] == -1 &&
				  m2.vals[3] == EFBIG && WIFEXITED(status) && WEXITSTATUS(status) == 0,
				  "%s (at %u: %ld %s; at %u: %ld %s; child %s)", c->name, MAX_FILE - 1,
				  r2 == 1 ? m2.vals[0] : -9L, r2 == 1 && m2.vals[0] < 0 ? errname((int)m2.vals[1]) : "",
				  MAX_FILE, r2 == 1 ? m2.vals[2] : -9L,
				  r2 == 1 && m2.vals[2] < 0 ? errname((int)m2.vals[3]) : "", how);
		} else if (c->act == ACT_THREAD) {
			tap_check(r2 == 1 && m2.ret == 0 && m2.vals[0] == 0 && m2.vals[1] == 42 &&
				  WIFEXITED(status) && WEXITSTATUS(status) == 0,
				  "%s (pthread_create %s, join %ld, result %ld; child %s)", c->name,
				  r2 == 1 ? (m2.ret ? errname(m2.ret) : "0") : "?", r2 == 1 ? m2.vals[0] : -1L,
				  r2 == 1 ? m2.vals[1] : -1L, how);
		}
		break;
	}
}

/* ---- a machine that forbids user namespaces ---- */

/* The child makes unshare(CLONE_NEWUSER) fail with EPERM, as a kernel with
 * user.max_user_namespaces=0 would, then enters.  The sandbox must say so
 * in its note and still deny files and sockets (Landlock, seccomp). */
static void check_no_userns(bool drop, const char *label)
{
	int p[2];
	if (pipe(p) < 0) {
		tap_check(false, "[%s] pipe: %s", label, strerror(errno));
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		long r[5] = { -1, -1, -1, -1, -1 };
		char note[256] = "";
		if (drop && (setgroups(0, NULL) || setresgid(DROP_ID, DROP_ID, DROP_ID) ||
			     setresuid(DROP_ID, DROP_ID, DROP_ID)))
			_exit(3);
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
		if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
					     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)) ||
		    seccomp_load(ctx))
			_exit(3);
		seccomp_release(ctx);
		struct sm_sandbox_conf conf = { .uid = SANDBOX_ID, .gid = SANDBOX_ID,
			.max_file_size = MAX_FILE, .max_address_space = MAX_AS, .max_fds = MAX_FDS };
		struct sm_sandbox_report rep;
		const char *what = NULL;
		r[0] = sm_sandbox_enter(&conf, &rep, &what);
		r[1] = rep.user_namespace;
		r[2] = rep.landlock;
		snprintf(note, sizeof(note), "%s", rep.note);
		if (r[0] == 0) {
			r[3] = open("/etc/passwd", O_RDONLY);
			r[4] = socket(AF_INET, SOCK_STREAM, 0);
		}
		if (write(p[1], r, sizeof(r)) != sizeof(r) || write(p[1], note, sizeof(note)) != sizeof(note))
			_exit(4);
		_exit(0);
	}
	close(p[1]);
	long r[5] = { -9, -9, -9, -9, -9 };
	char note[256] = "";
	bool got = pid > 0 && read(p[0], r, sizeof(r)) == sizeof(r) && read(p[0], note, sizeof(note)) == sizeof(note);
	note[sizeof(note) - 1] = 0;
	close(p[0]);
	int status = 0;
	if (pid > 0)
		waitpid(pid, &status, 0);
	tap_check(got && r[0] == 0 && r[1] == 0 && strstr(note, "user namespaces"),
		  "[%s] without user namespaces: enter returns 0 (got %ld), reports no user namespace (%ld) and says so: '%s'",
		  label, r[0], r[1], note);
	tap_check(got && r[2] == 1 && r[3] < 0 && r[4] < 0,
		  "[%s] without user namespaces: Landlock on (%ld), open(/etc/passwd) fails (%ld), socket fails (%ld)",
		  label, r[2], r[3], r[4]);
}

static void run_way(enum way way, const char *label, const char *skip_reason)
{
	tap_label = label;
	if (skip_reason) {
		for (size_t i = 0; i < sizeof(inspect_names) / sizeof(inspect_names[0]); i++)
			printf("ok %d - [%s] %s # SKIP %s\n", ++tap_count, label, inspect_names[i], skip_reason);
		for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
			printf("ok %d - [%s] %s # SKIP %s\n", ++tap_count, label, checks[i].name, skip_reason);
		fflush(stdout);
		return;
	}
	run_check(way, NULL);
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		run_check(way, &checks[i]);
	tap_label = NULL;
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sm-unit-sandbox.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		printf("1..0 # SKIP cannot create a temporary directory: %s\n", strerror(errno));
		return 0;
	}
	chmod(tmpdir, 0755);
	snprintf(scratch_file, sizeof(scratch_file), "%s/fsize", tmpdir);

	if (geteuid() == 0) {
		run_way(WAY_ROOT, "root", NULL);
		run_way(WAY_DROPPED, "user 4242", NULL);
		check_no_userns(false, "root");
		check_no_userns(true, "user 4242");
	} else {
		run_way(WAY_ROOT, "root", "needs root");
		run_way(WAY_DROPPED, "user 4242", "needs root");
		run_way(WAY_OWN, "own ids", NULL);
		check_no_userns(false, "own ids");
	}

	unlink(scratch_file);
	rmdir(tmpdir);
	return tap_finish();
}
