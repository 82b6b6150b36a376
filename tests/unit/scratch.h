/* Scratch images for the backend unit tests: a private temp dir, shell
 * commands, opening an image through sm_fs_open, and the e2fsck verdict as a
 * TAP check.  Include after tap.h. */
#ifndef SAFEMOUNT_TESTS_SCRATCH_H
#define SAFEMOUNT_TESTS_SCRATCH_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "safemount/backend.h"
#include "tap.h"

static char tmpdir[256];

#define EXPECT(expr, want, what) do { \
	long long got_ = (long long)(expr); \
	tap_check(got_ == (long long)(want), "%s (got %lld, want %lld)", what, got_, (long long)(want)); \
} while (0)

/* The exit status of a shell command, or -1 if it did not exit. */
static int run(const char *cmd)
{
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* e2fsck -fn must find img clean; its output goes to the TAP log if not. */
static void fsck_clean(const char *img)
{
	char cmd[1024], log[600];
	snprintf(log, sizeof(log), "%s/fsck.log", tmpdir);
	snprintf(cmd, sizeof(cmd), "e2fsck -fn '%s' >'%s' 2>&1", img, log);
	int st = run(cmd);
	tap_check(st == 0, "e2fsck -fn is clean (exit %d)", st);
	if (st != 0) {
		FILE *fp = fopen(log, "r");
		char line[512];
		while (fp && fgets(line, sizeof(line), fp))
			printf("# %s", line);
		if (fp)
			fclose(fp);
	}
}

/* A fresh 32 MiB image tmpdir/WHAT.img made by the mkfs command line. */
static bool make_image(const char *mkfs, char *img, size_t size, const char *what)
{
	char cmd[1024];
	snprintf(img, size, "%s/%s.img", tmpdir, what);
	snprintf(cmd, sizeof(cmd), "%s -q -F '%s' 32M >/dev/null 2>&1", mkfs, img);
	if (run(cmd) != 0) {
		tap_check(0, "%s failed", cmd);
		return false;
	}
	return true;
}

static struct sm_fs *open_fs(const char *img, int ro, int *fd_out)
{
	struct sm_open_opts o = { .image_name = img, .read_only = ro, .atime = SM_ATIME_RELATIME,
				  .cache_bytes = 16u << 20 };
	const char *msg = NULL;
	struct sm_fs *fs = NULL;
	o.image_fd = open(img, ro ? O_RDONLY : O_RDWR);
	int ret = sm_fs_open(&o, &fs, &msg);
	tap_check(ret == 0, "sm_fs_open %s (%d %s)", ro ? "ro" : "rw", ret, msg ? msg : "");
	*fd_out = o.image_fd;
	return ret == 0 ? fs : NULL;
}

static void close_fs(struct sm_fs *fs, int fd)
{
	EXPECT(sm_fs_close(fs), 0, "sm_fs_close");
	close(fd);
}

/* Make the temp dir named after `name`; false (with a TAP skip plan
 * printed) when the test cannot run here. */
static bool scratch_begin(const char *name)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sm-%s-XXXXXX", name);
	if (!mkdtemp(tmpdir)) {
		printf("1..0 # SKIP no temp dir\n");
		return false;
	}
	if (run("command -v mkfs.ext4 >/dev/null && command -v e2fsck >/dev/null") != 0) {
		printf("1..0 # SKIP mkfs.ext4 / e2fsck not installed\n");
		return false;
	}
	return true;
}

/* Remove the images unless something failed (or SM_KEEP_IMAGES is set);
 * the exit status for main(). */
static int scratch_end(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (tap_failed == 0 && !getenv("SM_KEEP_IMAGES"))
		run(cmd);
	else
		printf("# images kept in %s\n", tmpdir);
	return tap_finish();
}

#endif
