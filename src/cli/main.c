/* safemount: mount an ext2/3/4 image through a userspace server.
 *
 * main() is the only place that prints user-facing errors and decides exit
 * codes (mount(8) conventions, see cli/options.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/options.h"
#include "fuse/fuse_server.h"
#include "mount/mount.h"
#include "safemount/backend.h"
#include "util/log.h"

/* How long a new mount waits for a server that is still writing back after
 * a plain umount(8). */
#define SM_LOCK_WAIT_S 60

static int do_unmount(const struct sm_options *o)
{
	const char *what = NULL;
	int ret = sm_unmount(o->mountpoint, &what);
	if (ret == 0)
		return SM_EXIT_OK;
	if (ret == -ENOENT && !strcmp(what, "finding the mount"))
		fprintf(stderr, "safemount: %s is not mounted\n", o->mountpoint);
	else if (ret == -EINVAL && !strcmp(what, "finding the mount"))
		fprintf(stderr, "safemount: %s is not a safemount mount; use umount(8)\n", o->mountpoint);
	else if (ret == -EBUSY)
		fprintf(stderr, "safemount: cannot unmount %s: it is busy (a process has files open or its working directory there); close them and retry\n",
			o->mountpoint);
	else if (ret == -ETIMEDOUT)
		fprintf(stderr, "safemount: %s was unmounted, but its server is still writing the image back\n",
			o->mountpoint);
	else
		fprintf(stderr, "safemount: %s %s failed: %s\n", what, o->mountpoint, strerror(-ret));
	return SM_EXIT_FAIL;
}

struct ready_pipe {
	int fd;
	bool detach;
};

/* The mount is live: tell the waiting parent, and stop writing to its
 * terminal (the server lives on alone). */
static void report_ready(void *arg)
{
	struct ready_pipe *rp = arg;
	char ok = 0;
	if (rp->fd >= 0) {
		ssize_t n = write(rp->fd, &ok, 1);
		(void)n;
		close(rp->fd);
		rp->fd = -1;
	}
	if (rp->detach) {
		sm_log_to_syslog();
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			close(null);
		}
	}
}

static int serve(struct sm_fs *fs, const struct sm_options *o, const char *mnt_abs,
		 const char *image_abs, bool read_only, struct ready_pipe *rp)
{
	const char *what = NULL;
	struct sm_server_opts so = {
		.mountpoint = mnt_abs,
		.fsname = o->fsname ? o->fsname : image_abs,
		.read_only = read_only,
		.allow_other = o->allow_other,
		.noexec = o->noexec,
		/* libfuse 3.14 knows "noatime" but not "strictatime" */
		.atime_opt = o->atime == SM_ATIME_NOATIME ? "noatime" : NULL,
		.debug = o->debug,
		.on_ready = report_ready,
		.ready_arg = rp,
	};
	int ret = sm_server_run(fs, &so, &what);
	if (ret) {
		/* stderr while the parent waits; syslog once detached. */
		sm_log(LOG_ERR, "%s %s on %s failed: %s", what, image_abs, mnt_abs, strerror(-ret));
		return SM_EXIT_FAIL;
	}
	return SM_EXIT_OK;
}

static int do_mount(const struct sm_options *o)
{
	char image_abs[PATH_MAX], mnt_abs[PATH_MAX];
	struct stat st;

	if (!realpath(o->image, image_abs)) {
		fprintf(stderr, "safemount: cannot open image '%s': %s\n", o->image, strerror(errno));
		return SM_EXIT_FAIL;
	}
	if (!realpath(o->mountpoint, mnt_abs) || stat(mnt_abs, &st) < 0) {
		fprintf(stderr, "safemount: mount point '%s' does not exist or cannot be reached: %s%s\n",
			o->mountpoint, strerror(errno),
			errno == ENOENT ? "; create the directory first" : "");
		return SM_EXIT_FAIL;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "safemount: mount point '%s' is not a directory\n", o->mountpoint);
		return SM_EXIT_FAIL;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "safemount: mounting needs root for now (unprivileged mounts are not supported yet); run it as root\n");
		return SM_EXIT_USAGE;
	}

	bool read_only = o->ro;
	int fd = -1;
	int ret = sm_image_open(image_abs, &read_only, o->rw, &fd);
	if (ret == -EINVAL) {
		fprintf(stderr, "safemount: '%s' is neither a regular file nor a block device\n", image_abs);
		return SM_EXIT_FAIL;
	}
	if (ret == -EBUSY) {
		fprintf(stderr, "safemount: '%s' is in use (mounted by the kernel or held open exclusively); unmount it first\n",
			image_abs);
		return SM_EXIT_FAIL;
	}
	if (ret) {
		fprintf(stderr, "safemount: cannot open image '%s'%s: %s%s\n", image_abs,
			read_only ? "" : " read-write", strerror(-ret),
			(ret == -EACCES || ret == -EROFS) && !read_only ? "; use -o ro to mount it read-only" : "");
		return SM_EXIT_FAIL;
	}
	if (read_only && !o->ro)
		fprintf(stderr, "safemount: note: '%s' is write-protected, mounting read-only\n", image_abs);

	ret = sm_image_lock(fd, image_abs, read_only, SM_LOCK_WAIT_S);
	if (ret) {
		struct sm_mount_entry m;
		if (ret == -EBUSY && sm_find_mount_by_source(image_abs, &m))
			fprintf(stderr, "safemount: '%s' is already mounted%s at %s; unmount it first with 'safemount -u %s'\n",
				image_abs, m.read_only ? " read-only" : " read-write", m.target, m.target);
		else if (ret == -ETIMEDOUT)
			fprintf(stderr, "safemount: '%s' is still in use by a safemount server that has not finished; try again later\n",
				image_abs);
		else
			fprintf(stderr, "safemount: cannot lock image '%s': %s\n", image_abs, strerror(-ret));
		close(fd);
		return SM_EXIT_FAIL;
	}

	struct sm_open_opts oo = {
		.image_name = image_abs,
		.image_fd = fd,
		.read_only = read_only,
		.atime = o->atime,
	};
	struct sm_fs *fs = NULL;
	const char *msg = NULL;
	ret = sm_fs_open(&oo, &fs, &msg);
	if (ret) {
		fprintf(stderr, "safemount: cannot mount '%s': %s\n", image_abs,
			msg ? msg : strerror(-ret));
		close(fd);
		return SM_EXIT_FAIL;
	}
	const char *warning = sm_fs_warning(fs);
	if (warning)
		fprintf(stderr, "safemount: warning: '%s': %s\n", image_abs, warning);

	if (o->foreground) {
		struct ready_pipe rp = { .fd = -1, .detach = false };
		return serve(fs, o, mnt_abs, image_abs, read_only, &rp);
	}

	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		fprintf(stderr, "safemount: cannot create a pipe: %s\n", strerror(errno));
		return SM_EXIT_SYSERR;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "safemount: cannot start the server: %s\n", strerror(errno));
		return SM_EXIT_SYSERR;
	}
	if (pid == 0) {
		close(pfd[0]);
		setsid();
		if (chdir("/") < 0) { /* keep going: only the cwd */ }
		struct ready_pipe rp = { .fd = pfd[1], .detach = !o->debug };
		_exit(serve(fs, o, mnt_abs, image_abs, read_only, &rp));
	}
	/* The parent must not write anything back: only the server owns the
	 * image from here on. */
	close(pfd[1]);
	char ok;
	ssize_t n;
	do {
		n = read(pfd[0], &ok, 1);
	} while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(SM_EXIT_OK);
	int status = 0;
	waitpid(pid, &status, 0);
	/* The server has printed what failed. */
	_exit(WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : SM_EXIT_FAIL);
}

int main(int argc, char **argv)
{
	struct sm_options o;
	int ret = sm_parse_args(argc, argv, &o);
	if (ret) {
		sm_options_free(&o);
		return ret;
	}
	switch (o.mode) {
	case SM_MODE_HELP:
		sm_print_usage();
		ret = SM_EXIT_OK;
		break;
	case SM_MODE_VERSION:
		printf("safemount %s\n", SAFEMOUNT_VERSION);
		ret = SM_EXIT_OK;
		break;
	case SM_MODE_UNMOUNT:
		ret = do_unmount(&o);
		break;
	case SM_MODE_MOUNT:
	default:
		ret = do_mount(&o);
		break;
	}
	sm_options_free(&o);
	return ret;
}
