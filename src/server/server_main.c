/* The server: `safemount --server`, started by the helper with the
 * hand-over socket on SM_HANDOVER_FD.
 *
 * Everything the sandbox forbids happens first (receiving the descriptors,
 * closing all others, loading libgcc_s for pthread_cancel, the FUSE session
 * on the /dev/fuse descriptor, the syslog connection); then the sandbox;
 * then, and only then, the first byte of the image is read. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/fs.h>

#include "cli/options.h"
#include "fuse/fuse_server.h"
#include "mount/handover.h"
#include "safemount/backend.h"
#include "sandbox/sandbox.h"
#include "server/server.h"
#include "util/log.h"
#include "util/sanitizer.h"

#ifdef SM_SANITIZER_BUILD
#include <sanitizer/common_interface_defs.h>
#endif

/* The server holds 0-2, the image, /dev/fuse, the syslog socket and, until
 * it is ready, the hand-over socket. */
#define SM_SERVER_MAX_FDS 16

static void close_all_but(const int *keep, size_t n)
{
	int max = (int)sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = 3; fd < max; fd++) {
		bool kept = false;
		for (size_t i = 0; i < n; i++)
			kept |= keep[i] == fd;
		if (!kept)
			close(fd);
	}
}

/* glibc loads libgcc_s the first time a thread is cancelled, which the
 * multi-threaded FUSE loop does at its end; in the sandbox that dlopen
 * would fail and glibc would abort. */
static void preload_unwinder(void)
{
	if (!dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NODELETE))
		sm_log(LOG_WARNING, "cannot preload libgcc_s.so.1 (%s); the server may abort at unmount",
		       dlerror());
}

static uint64_t image_size(int fd)
{
	struct stat st;
	uint64_t size = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	else if (ioctl(fd, BLKGETSIZE64, &size) < 0)
		size = 0;
	return size;
}

/* Sanitizer builds: reports must reach a file, which the sandbox would not
 * let the runtime open later.  Returns the descriptor to keep, or -1. */
static int open_sanitizer_log(void)
{
#ifdef SM_SANITIZER_BUILD
	const char *dir = getenv("SM_SANITIZER_LOG_DIR");
	if (!dir || !*dir)
		return -1;
	char path[4096];
	snprintf(path, sizeof(path), "%s/server.%d", dir, (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0)
		__sanitizer_set_report_fd((void *)(intptr_t)fd);
	return fd;
#else
	return -1;
#endif
}

int sm_server_main(void)
{
	int sock = SM_HANDOVER_FD;
	struct sm_ho_request req;
	int image_fd = -1, fuse_fd = -1;
	int ret = sm_ho_recv_request(sock, &req, &image_fd, &fuse_fd);
	if (ret) {
		fprintf(stderr, "safemount: the server got no valid hand-over from the helper: %s\n",
			strerror(-ret));
		return SM_EXIT_SOFTWARE;
	}
	/* exec'd as /proc/self/exe: without this, ps and top say "exe". */
	prctl(PR_SET_NAME, "safemount", 0, 0, 0);
	bool foreground = req.flags & SM_HO_FOREGROUND;
	bool debug = req.flags & SM_HO_DEBUG;
	if (!foreground)
		setsid();

	int keep[] = { sock, image_fd, fuse_fd, open_sanitizer_log() };
	close_all_but(keep, sizeof(keep) / sizeof(keep[0]));
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
	}

	char msg[1024] = "";
	const char *what = NULL;
	preload_unwinder();
	/* One malloc arena per thread would reserve 64 MiB of address space
	 * each, which RLIMIT_AS counts. */
	mallopt(M_ARENA_MAX, 2);

	struct sm_server_opts so = {
		.read_only = req.flags & SM_HO_READ_ONLY,
		.debug = debug,
		.map_owner = req.flags & SM_HO_MAP_OWNER,
		.uid = req.owner_uid,
		.gid = req.owner_gid,
	};
	struct sm_server *server = NULL;
	ret = sm_server_setup(fuse_fd, &so, &server, &what);
	if (ret) {
		snprintf(msg, sizeof(msg), "%s failed: %s", what, strerror(-ret));
		goto fail;
	}
	if (!foreground)
		sm_log_open_syslog();

	struct sm_sandbox_conf sc = {
		.uid = req.sandbox_uid,
		.gid = req.sandbox_gid,
		.max_file_size = image_size(image_fd),
		.max_address_space = req.memlimit,
		.max_fds = SM_SERVER_MAX_FDS,
	};
	struct sm_sandbox_report rep;
	ret = sm_sandbox_enter(&sc, &rep, &what);
	if (ret) {
		snprintf(msg, sizeof(msg), "the server could not enter its sandbox: %s failed: %s",
			 what, strerror(-ret));
		goto fail;
	}
	if (rep.note[0])
		sm_log(LOG_WARNING, "sandbox: %s", rep.note);

	/* The cache must fit the address-space cap with room for the rest:
	 * at most a quarter of it. */
	uint64_t cache = req.cache;
	if (req.memlimit && cache > req.memlimit / 4)
		cache = req.memlimit / 4;

	struct sm_open_opts oo = {
		.cache_bytes = cache,
		.image_name = req.image_name,
		.image_fd = image_fd,
		.read_only = so.read_only,
		.atime = (enum sm_atime_policy)req.atime,
	};
	struct sm_fs *fs = NULL;
	const char *fsmsg = NULL;
	ret = sm_fs_open(&oo, &fs, &fsmsg);
	if (ret) {
		/* The helper names the image; a long path must not crowd out
		 * the reason. */
		snprintf(msg, sizeof(msg), "cannot mount '%.400s': %s", req.image_name,
			 fsmsg ? fsmsg : strerror(-ret));
		goto fail;
	}
	const char *warning = sm_fs_warning(fs);
	snprintf(msg, sizeof(msg), "%s", warning ? warning : "");
	sm_ho_send_reply(sock, 0, msg, rep.note);
	close(sock);

	if (!foreground && !debug) {
		sm_log_use_syslog();
		if (null >= 0)
			dup2(null, STDERR_FILENO);
	}
	if (null >= 0)
		close(null);

	ret = sm_server_serve(server, fs, &what);
	if (ret)
		sm_log(LOG_ERR, "%s on %s failed: %s", what, req.image_name, strerror(-ret));
	int cret = sm_fs_close(fs);
	if (cret) {
		sm_log(LOG_ERR, "writing %s back failed: %s", req.image_name, strerror(-cret));
		ret = cret;
	}
	sm_server_destroy(server);
	/* _exit: no atexit handlers; LeakSanitizer's would need ptrace. */
	_exit(ret ? SM_EXIT_FAIL : SM_EXIT_OK);

fail:
	sm_ho_send_reply(sock, -ret > 0 ? -ret : EIO, msg, NULL);
	sm_server_destroy(server);
	_exit(SM_EXIT_FAIL);
}
