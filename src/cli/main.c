/* safemount: mount an ext2/3/4 image through a userspace server.
 *
 * The helper: it opens the image and /dev/fuse, mounts, starts the server
 * (this binary again, as `safemount --server`), hands it both descriptors
 * and prints what it answers.  It never reads the image's contents: only
 * the sandboxed server does.  main() is the only place that prints
 * user-facing errors and decides exit codes (mount(8) conventions). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/options.h"
#include "mount/fuse_mount.h"
#include "mount/handover.h"
#include "mount/mount.h"
#include "server/server.h"

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

/* The server runs as this system user when root mounts (created by `make
 * install` and by the test set-up); without it, a fixed id that no login
 * uses.  Never `nobody`, which other daemons share. */
#define SM_SANDBOX_USER "safemount"
#define SM_SANDBOX_FALLBACK_ID 65533

/* How long the server may take to open the filesystem before the helper
 * gives up on it (a crafted image must not hang the mount command). */
#define SM_SERVER_START_TIMEOUT_MS (120 * 1000)

/* Read-ahead of a root mount: 1 MiB, the largest READ the server takes. */
#define SM_READAHEAD_KIB 1024

static void sandbox_ids(uint32_t *uid, uint32_t *gid)
{
	struct passwd *pw = getpwnam(SM_SANDBOX_USER);
	if (pw && pw->pw_uid != 0 && pw->pw_gid != 0) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	} else {
		*uid = *gid = SM_SANDBOX_FALLBACK_ID;
	}
}

static bool in_my_groups(gid_t gid)
{
	if (gid == getgid())
		return true;
	gid_t groups[256];
	int n = getgroups(256, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* Who owns the files as the kernel sees them.  Root may choose anything
 * (or keep the image's owners); a normal user always sees their own ids,
 * and may only pick one of their own groups. */
static int owner_mapping(const struct sm_options *o, struct sm_ho_request *req)
{
	if (geteuid() == 0) {
		if (o->set_uid || o->set_gid) {
			req->flags |= SM_HO_MAP_OWNER;
			req->owner_uid = o->set_uid ? o->uid : UINT32_MAX;
			req->owner_gid = o->set_gid ? o->gid : UINT32_MAX;
		}
		return 0;
	}
	if (o->set_uid && o->uid != getuid()) {
		fprintf(stderr, "safemount: uid=%u is refused: a normal user's mount shows every file as owned by that user (uid %u)\n",
			o->uid, (unsigned)getuid());
		return -1;
	}
	if (o->set_gid && !in_my_groups(o->gid)) {
		fprintf(stderr, "safemount: gid=%u is refused: you are not a member of that group\n", o->gid);
		return -1;
	}
	req->flags |= SM_HO_MAP_OWNER;
	req->owner_uid = getuid();
	req->owner_gid = o->set_gid ? o->gid : getgid();
	return 0;
}

/* fork + exec ourselves as the server, the hand-over socket on fd 3 and no
 * other descriptor beyond 0-2. */
static pid_t spawn_server(int *sock)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		if (sv[1] == SM_HANDOVER_FD)
			fcntl(sv[1], F_SETFD, 0);
		else if (dup2(sv[1], SM_HANDOVER_FD) < 0)
			_exit(SM_EXIT_SYSERR);
		close_range(SM_HANDOVER_FD + 1, ~0U, 0);
		execl("/proc/self/exe", "safemount", SM_SERVER_ARG, (char *)NULL);
		_exit(SM_EXIT_SYSERR);
	}
	close(sv[1]);
	*sock = sv[0];
	return pid;
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Foreground: signals from the terminal or kill reach the server; the helper
 * stays to clean up the mount the server cannot remove. */
static volatile pid_t foreground_server;
static void forward_signal(int sig)
{
	if (foreground_server > 0)
		kill(foreground_server, sig);
}

static int wait_foreground(pid_t pid, const char *mnt_abs)
{
	foreground_server = pid;
	struct sigaction sa = { .sa_handler = forward_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	const char *what = NULL;
	int ret = sm_unmount(mnt_abs, &what);
	if (ret && ret != -ENOENT)
		fprintf(stderr, "safemount: the server ended, but %s %s failed: %s\n", what, mnt_abs,
			strerror(-ret));
	return WIFEXITED(status) ? WEXITSTATUS(status) : SM_EXIT_FAIL;
}

/* The server failed or never answered: remove what was mounted for it. */
static void undo_mount(bool root, struct sm_kernel_mount *km, const char *mnt_abs)
{
	if (root) {
		sm_kernel_mount_discard(km);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, STDERR_FILENO);
		execlp("fusermount3", "fusermount3", "-u", "-z", "-q", "--", mnt_abs, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		reap(pid);
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
	bool root = geteuid() == 0;
	if (!root && o->allow_other) {
		fprintf(stderr, "safemount: -o allow_other is refused for a mount by a normal user: other users would read files served by a process you control\n");
		return SM_EXIT_USAGE;
	}
	struct sm_ho_request req = {
		.magic = SM_HANDOVER_MAGIC,
		.version = SM_HANDOVER_VERSION,
		.size = sizeof(req),
		.atime = (uint32_t)o->atime,
		.memlimit = o->memlimit,
		.cache = o->cache,
	};
	if (owner_mapping(o, &req))
		return SM_EXIT_USAGE;
	if (!root && access("/dev/fuse", R_OK | W_OK) < 0) {
		fprintf(stderr, "safemount: cannot mount as a normal user on this machine: /dev/fuse is not open to you (%s), and fusermount3 opens it with your permissions; ask the administrator for FUSE access, or mount as root\n",
			strerror(errno));
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

	struct sm_fuse_mount_req mr = {
		.source = o->fsname ? o->fsname : image_abs,
		.mountpoint = mnt_abs,
		.read_only = read_only,
		.noexec = o->noexec,
		.noatime = o->atime == SM_ATIME_NOATIME,
		.allow_other = o->allow_other,
		.symfollow = o->symfollow,
	};
	struct sm_kernel_mount km = { .fuse_fd = -1, .mount_fd = -1, .target_fd = -1 };
	const char *what = NULL;
	if (root)
		ret = sm_kernel_mount_prepare(&mr, &km, &what);
	else
		ret = sm_fusermount_mount(&mr, &km.fuse_fd, &what);
	if (ret) {
		fprintf(stderr, "safemount: cannot mount '%s' on %s: %s failed: %s\n", image_abs, mnt_abs,
			what, strerror(-ret));
		close(fd);
		return SM_EXIT_FAIL;
	}

	if (read_only)
		req.flags |= SM_HO_READ_ONLY;
	if (o->debug)
		req.flags |= SM_HO_DEBUG;
	if (o->foreground)
		req.flags |= SM_HO_FOREGROUND;
	if (root)
		sandbox_ids(&req.sandbox_uid, &req.sandbox_gid);
	snprintf(req.image_name, sizeof(req.image_name), "%s", image_abs);

	int sock = -1;
	pid_t pid = spawn_server(&sock);
	if (pid < 0) {
		fprintf(stderr, "safemount: cannot start the server: %s\n", strerror(errno));
		undo_mount(root, &km, mnt_abs);
		close(fd);
		return SM_EXIT_SYSERR;
	}
	ret = sm_ho_send_request(sock, &req, fd, km.fuse_fd);
	/* Only the server holds the image and the FUSE connection now: the
	 * image lock lives as long as its descriptor, and a dead server must
	 * leave no open /dev/fuse behind (or accesses would hang, not fail). */
	close(fd);
	close(km.fuse_fd);
	km.fuse_fd = -1;
	struct sm_ho_reply rep;
	if (!ret)
		ret = sm_ho_recv_reply(sock, &rep, SM_SERVER_START_TIMEOUT_MS);
	close(sock);
	if (ret || rep.status) {
		if (ret == -ETIMEDOUT)
			fprintf(stderr, "safemount: cannot mount '%s': the server did not finish opening it within %d seconds\n",
				image_abs, SM_SERVER_START_TIMEOUT_MS / 1000);
		else if (ret)
			fprintf(stderr, "safemount: cannot mount '%s': the server ended without answering (%s); see the system log\n",
				image_abs, strerror(-ret));
		else
			fprintf(stderr, "safemount: %s\n", rep.message);
		kill(pid, SIGKILL);
		reap(pid);
		undo_mount(root, &km, mnt_abs);
		return SM_EXIT_FAIL;
	}
	if (root) {
		ret = sm_kernel_mount_attach(&km, &what);
		if (ret) {
			fprintf(stderr, "safemount: cannot mount '%s' on %s: %s failed: %s\n", image_abs,
				mnt_abs, what, strerror(-ret));
			kill(pid, SIGKILL);
			reap(pid);
			return SM_EXIT_FAIL;
		}
	}
	/* As large as one READ may be (the server's max_read). */
	if (root)
		(void)sm_mount_set_readahead(mnt_abs, SM_READAHEAD_KIB);
	if (rep.message[0])
		fprintf(stderr, "safemount: warning: '%s': %s\n", image_abs, rep.message);
	if (rep.note[0])
		fprintf(stderr, "safemount: warning: weaker sandbox: %s\n", rep.note);
	if (o->foreground)
		return wait_foreground(pid, mnt_abs);
	return SM_EXIT_OK;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], SM_SERVER_ARG))
		return sm_server_main();
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
