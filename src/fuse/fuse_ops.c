/* The FUSE lowlevel operations: each handler turns one kernel request into
 * backend (sm_*) calls and sends exactly one reply.
 *
 * Node ids: the kernel's FUSE_ROOT_ID (1) is the backend's root inode
 * (sm_backend_root(), 2 for ext4); every other node id is the on-disk inode
 * number.  Inode 1 of ext4 (bad blocks) is never reachable, so the mapping is
 * one-to-one.  st_ino and d_ino stay the on-disk numbers (root shows 2, as on
 * a kernel ext4 mount), so readdir's d_ino always agrees with stat's st_ino.
 *
 * Backend errors are negative errnos, converted once in sm_fuse_reply_err().
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fuse/fuse_ops_i.h"
#include "util/log.h"

#define SM_SYMLINK_MAX  4096u          /* PATH_MAX, NUL included */
#define SM_MAX_WRITE    (1u << 20)
/* The kernel never asks for more than max_pages pages; this only bounds the
 * allocation if it did. */
#define SM_MAX_READ     (16u << 20)

/* ---- small helpers ------------------------------------------------------ */

/* 0 for an inode number that must never reach the kernel as a node id: 0
 * itself and FUSE_ROOT_ID when that is not the backend's root (it would
 * alias the root directory). */
static fuse_ino_t to_nodeid(const struct sm_fuse *uf, uint64_t ino)
{
	uint64_t root = sm_backend_root(uf->fs);

	if (ino == root)
		return FUSE_ROOT_ID;
	if (ino == 0 || ino == FUSE_ROOT_ID)
		return 0;
	return (fuse_ino_t)ino;
}

/* Clearing SUID/SGID after a write, truncate or chown is not a request by
 * the caller: the kernel has already authorised the change that causes it,
 * so the backend's owner checks must not refuse it. */
static const struct sm_caller sm_kernel_caller = { 0, 0, 0 };

static bool name_too_long(const char *name)
{
	return strnlen(name, SM_NAME_MAX + 1) > SM_NAME_MAX;
}

/* ---- errors ------------------------------------------------------------- */

/* Corrupt inodes are reported once each; the table is per process, which is
 * per mount.  When it fills up, further inodes are reported once in total. */
#define SM_CORRUPT_SLOTS 512u
static pthread_mutex_t corrupt_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t corrupt_seen[SM_CORRUPT_SLOTS];
static unsigned corrupt_count;
static bool corrupt_overflow;

static void note_corrupt(const char *op, uint64_t ino)
{
	bool report = true, suppressed = false;
	unsigned i;

	pthread_mutex_lock(&corrupt_lock);
	for (i = 0; i < corrupt_count; i++) {
		if (corrupt_seen[i] == ino) {
			report = false;
			break;
		}
	}
	if (report) {
		if (corrupt_count < SM_CORRUPT_SLOTS) {
			corrupt_seen[corrupt_count++] = ino;
		} else {
			report = false;
			suppressed = !corrupt_overflow;
			corrupt_overflow = true;
		}
	}
	pthread_mutex_unlock(&corrupt_lock);

	if (report)
		sm_log(LOG_ERR, "corrupt metadata in inode %" PRIu64
		       ": %s failed (Structure needs cleaning); run e2fsck on the image", ino, op);
	else if (suppressed)
		sm_log(LOG_ERR, "corrupt metadata in more inodes; further messages suppressed");
}

void sm_fuse_log_failure(const struct sm_fuse *uf, const char *op, uint64_t ino, int err)
{
	const char *name;

	if (err == EUCLEAN)
		note_corrupt(op, ino);
	if (!uf->debug)
		return;
	name = strerrorname_np(err);
	sm_log(LOG_DEBUG, "%s ino %" PRIu64 ": %s (%d)", op, ino, name ? name : "unknown error", err);
}

/* err is a positive errno; ino is the backend inode the request was about. */
void sm_fuse_reply_err(fuse_req_t req, const char *op, uint64_t ino, int err)
{
	sm_fuse_log_failure(sm_ud(req), op, ino, err);
	fuse_reply_err(req, err);
}

/* For the replies that report success or a negative errno. */
void sm_fuse_reply_status(fuse_req_t req, const char *op, uint64_t ino, int ret)
{
	if (ret < 0)
		sm_fuse_reply_err(req, op, ino, -ret);
	else
		fuse_reply_err(req, 0);
}

/* ---- attributes --------------------------------------------------------- */

static void fill_stat(const struct sm_fuse *uf, const struct sm_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = (ino_t)a->ino;
	st->st_mode = (mode_t)a->mode;
	st->st_nlink = (nlink_t)a->nlink;
	/* UINT32_MAX: root chose only one of uid= and gid=. */
	st->st_uid = uf->map_owner && uf->uid != UINT32_MAX ? uf->uid : a->uid;
	st->st_gid = uf->map_owner && uf->gid != UINT32_MAX ? uf->gid : a->gid;
	st->st_rdev = (dev_t)a->rdev;
	st->st_size = (off_t)a->size;
	st->st_blocks = (blkcnt_t)a->blocks;
	st->st_blksize = (blksize_t)a->blksize;
	st->st_atim = a->atime;
	st->st_mtim = a->mtime;
	st->st_ctim = a->ctime;
}

/* Fill an entry for the kernel; -EUCLEAN if the inode number cannot be a
 * node id (see to_nodeid()). */
int sm_fuse_fill_entry(const struct sm_fuse *uf, const struct sm_attr *a,
		      struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = to_nodeid(uf, a->ino);
	if (e->ino == 0)
		return -EUCLEAN;
	e->generation = a->generation;
	fill_stat(uf, a, &e->attr);
	e->attr_timeout = uf->entry_timeout;
	e->entry_timeout = uf->entry_timeout;
	return 0;
}

/* Reply to lookup/mknod/mkdir/symlink/link with the backend's result. */
static void reply_entry(fuse_req_t req, const char *op, uint64_t ino, int ret,
			const struct sm_attr *a)
{
	struct fuse_entry_param e;

	if (ret >= 0)
		ret = sm_fuse_fill_entry(sm_ud(req), a, &e);
	if (ret < 0)
		sm_fuse_reply_err(req, op, ino, -ret);
	else
		fuse_reply_entry(req, &e);
}

/* Dropping SUID/SGID (the kernel's file_remove_privs() and chown) happens
 * in the kernel: we leave FUSE_CAP_HANDLE_KILLPRIV off, so before a write,
 * truncate or chown by someone it applies to, the kernel sends a SETATTR
 * with the new mode and ATTR_FORCE, from the writer's credentials, who need
 * not own the file.  The backend's owner check would refuse that, so a mode
 * change that only clears SUID/SGID bits is applied with the kernel's
 * authority.  It can never grant anything, and with default_permissions (on
 * for every safemount mount) the kernel refuses a real chmod by a non-owner
 * before it reaches us.
 *
 * Under FUSE_HANDLE_KILLPRIV_V2 (fuse_transport.c negotiates it when the
 * kernel offers it) that SETATTR no longer carries the mode: the kernel
 * marks the WRITE, the OPEN(O_TRUNC) or the truncating SETATTR of a caller
 * without CAP_FSETID, and every chown of a non-directory, and the bits are
 * ours to drop (kill_priv()). */
static bool is_setid_drop(uint32_t cur, uint32_t mode)
{
	const uint32_t setid = S_ISUID | S_ISGID;

	return (cur & 07777 & ~setid) == (mode & 07777 & ~setid) &&
	       (mode & setid & ~cur) == 0 && (cur & setid & ~mode) != 0;
}

/* Is the caller in group gid, primary or supplementary?  When the groups
 * cannot be read the answer is no: it only decides whether SGID is
 * dropped, and dropping is the safe side.  In the sandbox they never can
 * (libfuse reads /proc/PID/task/TID/status), so only the primary gid
 * counts: a member through a supplementary group loses a plain SGID bit
 * that ext4 would keep. */
static bool caller_in_group(fuse_req_t req, uint32_t gid)
{
	gid_t small[32], *list = small;
	bool found = false;
	int n, i;

	if (fuse_req_ctx(req)->gid == gid)
		return true;
	n = fuse_req_getgroups(req, (int)(sizeof(small) / sizeof(small[0])), small);
	if (n > (int)(sizeof(small) / sizeof(small[0]))) {
		list = calloc((size_t)n, sizeof(*list));
		if (!list)
			return false;
		n = fuse_req_getgroups(req, n, list);
	}
	for (i = 0; i < n; i++)
		found = found || list[i] == gid;
	if (list != small)
		free(list);
	return found;
}

/* SGID without group execute: the kernel's setattr_should_drop_sgid()
 * drops it only for a caller outside the file's group without CAP_FSETID.
 * no_fsetid: the kernel said the caller lacks it (a KILLPRIV_V2 mark on a
 * write, open or truncate); otherwise uid 0 stands for having it. */
static bool drops_plain_sgid(fuse_req_t req, uint32_t mode, uint32_t gid, bool no_fsetid)
{
	return (mode & (S_ISGID | S_IXGRP)) == S_ISGID &&
	       (no_fsetid || fuse_req_ctx(req)->uid != 0) && !caller_in_group(req, gid);
}

/* The SUID/SGID bits of a that the kernel's file_remove_privs() or chown
 * clear for this caller. */
static uint32_t privs_to_kill(fuse_req_t req, const struct sm_attr *a, bool no_fsetid)
{
	uint32_t kill;

	if (S_ISDIR(a->mode))
		return 0;
	kill = a->mode & S_ISUID;
	if ((a->mode & S_IXGRP) || drops_plain_sgid(req, a->mode, a->gid, no_fsetid))
		kill |= a->mode & S_ISGID;
	return kill;
}

/* Clear bits of a's mode with the kernel's authority; a is updated. */
static int clear_privs(struct sm_fs *fs, uint64_t ino, uint32_t bits, struct sm_attr *a)
{
	struct sm_setattr set = { .valid = SM_SET_MODE };

	if (!(a->mode & bits))
		return 0;
	set.mode = a->mode & ~bits;
	return sm_setattr(fs, ino, &sm_kernel_caller, &set, a);
}

/* Drop SUID/SGID of ino as the kernel's file_remove_privs() would for this
 * caller.  a holds the current attributes and is updated; with a == NULL
 * they are read first. */
static int kill_priv(fuse_req_t req, struct sm_fs *fs, uint64_t ino, struct sm_attr *a,
		     bool no_fsetid)
{
	struct sm_attr cur;
	int ret;

	if (!a) {
		ret = sm_getattr(fs, ino, &cur);
		if (ret < 0)
			return ret;
		a = &cur;
	}
	return clear_privs(fs, ino, privs_to_kill(req, a, no_fsetid), a);
}

/* Where the kernel neither drops the bits itself nor tells us to:
 * fallocate, and open(O_TRUNC) without KILLPRIV_V2 (with ATOMIC_O_TRUNC the
 * kernel skips its truncate SETATTR, kill included).  Only callers without
 * CAP_FSETID lose them; we cannot see capabilities, so uid 0 stands for
 * them. */
static int kill_priv_for_write(fuse_req_t req, struct sm_fs *fs, uint64_t ino)
{
	if (fuse_req_ctx(req)->uid == 0)
		return 0;
	return kill_priv(req, fs, ino, NULL, false);
}

/* A WRITE or OPEN under KILLPRIV_V2: the kernel marked it if the caller
 * lacks CAP_FSETID.  Unmarked costs nothing (no getattr).  The mark is read
 * from the request by fuse_transport.c; were it somehow not this request's,
 * the uid guess decides, as without V2. */
static int kill_priv_marked(fuse_req_t req, struct sm_fs *fs, enum sm_tp_op op,
			    fuse_ino_t nodeid, uint64_t ino)
{
	switch (sm_transport_kill_mark(op, nodeid)) {
	case SM_TP_KEEP:
		return 0;
	case SM_TP_KILL:
		return kill_priv(req, fs, ino, NULL, true);
	default:
		return kill_priv_for_write(req, fs, ino);
	}
}

/* ---- init --------------------------------------------------------------- */

static void want(struct fuse_conn_info *conn, unsigned cap)
{
	if (conn->capable & cap)
		conn->want |= cap;
}

static void sm_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct sm_fuse *uf = userdata;

	/* lookup of "." and ".." is answered by the backend */
	want(conn, FUSE_CAP_EXPORT_SUPPORT);
	/* the kernel enforces ACLs (and implies default_permissions) */
	want(conn, FUSE_CAP_POSIX_ACL);
	/* the umask is ours to apply: a default ACL of the parent replaces it
	 * (posix_acl_create), which the kernel cannot know about */
	want(conn, FUSE_CAP_DONT_MASK);
	want(conn, FUSE_CAP_READDIRPLUS);
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	want(conn, FUSE_CAP_ATOMIC_O_TRUNC);
	want(conn, FUSE_CAP_ASYNC_READ);
	want(conn, FUSE_CAP_PARALLEL_DIROPS);
	want(conn, FUSE_CAP_IOCTL_DIR);
	/* Off (libfuse turns it on): the kernel drops SUID/SGID itself and
	 * knows the caller's CAP_FSETID, we do not; see is_setid_drop().
	 * Linux 6.18 sends that SETATTR even with the flag on.  Its
	 * successor, KILLPRIV_V2, is added by fuse_transport.c. */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	/* Off (it is unless a write_buf op exists): a spliced request would
	 * bypass the transport's read, which keeps the KILLPRIV_V2 marks. */
	conn->want &= ~FUSE_CAP_SPLICE_READ;
	/* Off, measured: with the writeback cache the kernel accepts writes
	 * past ext4's maximum file size (FUSE cannot tell it s_maxbytes), so
	 * the data is lost at writeback instead of EFBIG at write(), and it
	 * keeps mtimes beyond ext4's range unclamped (sem_errno, sem_ops). */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	uf->dont_mask = (conn->want & FUSE_CAP_DONT_MASK) != 0;

	conn->max_write = SM_MAX_WRITE;
	if (conn->max_readahead > SM_MAX_WRITE)
		conn->max_readahead = SM_MAX_WRITE;
	conn->time_gran = 1;
	if (uf->debug)
		sm_log(LOG_DEBUG, "FUSE protocol %u.%u, capable 0x%x, want 0x%x",
		       conn->proto_major, conn->proto_minor, conn->capable, conn->want);
}

/* ---- names -------------------------------------------------------------- */

static void sm_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t dir = sm_fuse_to_backend(uf, parent);
	struct sm_attr a;
	int ret;

	if (name_too_long(name)) {
		sm_fuse_reply_err(req, "lookup", dir, ENAMETOOLONG);
		return;
	}
	/* open_by_handle_at() of an inode the kernel has forgotten looks up
	 * "." in the handle's nodeid, whatever its type (FUSE export support);
	 * the kernel then checks the generation. */
	if (!strcmp(name, "."))
		ret = sm_getattr(uf->fs, dir, &a);
	else
		ret = sm_lookup(uf->fs, dir, name, &a);
	if (ret == -ENOENT && uf->entry_timeout > 0) {
		/* a negative entry the kernel may cache */
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		e.entry_timeout = uf->entry_timeout;
		fuse_reply_entry(req, &e);
		return;
	}
	reply_entry(req, "lookup", dir, ret, &a);
}

static void sm_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	/* the backend keeps no lookup counts */
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req);
}

static void sm_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	(void)count;
	(void)forgets;
	fuse_reply_none(req);
}

static void sm_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, dev_t rdev)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t dir = sm_fuse_to_backend(uf, parent);
	struct sm_caller who = sm_fuse_creator(req);
	struct sm_attr a;
	int ret;

	if (name_too_long(name)) {
		sm_fuse_reply_err(req, "mknod", dir, ENAMETOOLONG);
		return;
	}
	ret = sm_mknod(uf->fs, dir, name, (uint32_t)mode, (uint64_t)rdev, &who, &a);
	reply_entry(req, "mknod", dir, ret, &a);
}

static void sm_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t dir = sm_fuse_to_backend(uf, parent);
	struct sm_caller who = sm_fuse_creator(req);
	struct sm_attr a;
	int ret;

	if (name_too_long(name)) {
		sm_fuse_reply_err(req, "mkdir", dir, ENAMETOOLONG);
		return;
	}
	/* the kernel sends permission bits only */
	ret = sm_mkdir(uf->fs, dir, name, S_IFDIR | ((uint32_t)mode & 07777), &who, &a);
	reply_entry(req, "mkdir", dir, ret, &a);
}

static void sm_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			  const char *name)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t dir = sm_fuse_to_backend(uf, parent);
	struct sm_caller who = sm_fuse_creator(req);
	struct sm_attr a;
	int ret;

	if (name_too_long(name) || strnlen(link, SM_SYMLINK_MAX) >= SM_SYMLINK_MAX) {
		sm_fuse_reply_err(req, "symlink", dir, ENAMETOOLONG);
		return;
	}
	ret = sm_symlink(uf->fs, dir, name, link, &who, &a);
	reply_entry(req, "symlink", dir, ret, &a);
}

static void sm_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		       const char *newname)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t target = sm_fuse_to_backend(uf, ino);
	struct sm_attr a;
	int ret;

	if (name_too_long(newname)) {
		sm_fuse_reply_err(req, "link", target, ENAMETOOLONG);
		return;
	}
	ret = sm_link(uf->fs, target, sm_fuse_to_backend(uf, newparent), newname, &a);
	reply_entry(req, "link", target, ret, &a);
}

static void sm_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t dir = sm_fuse_to_backend(uf, parent);

	if (name_too_long(name)) {
		sm_fuse_reply_err(req, "unlink", dir, ENAMETOOLONG);
		return;
	}
	sm_fuse_reply_status(req, "unlink", dir, sm_unlink(uf->fs, dir, name));
}

static void sm_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t dir = sm_fuse_to_backend(uf, parent);

	if (name_too_long(name)) {
		sm_fuse_reply_err(req, "rmdir", dir, ENAMETOOLONG);
		return;
	}
	sm_fuse_reply_status(req, "rmdir", dir, sm_rmdir(uf->fs, dir, name));
}

static void sm_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t dir = sm_fuse_to_backend(uf, parent);
	unsigned smflags = 0;

	if (name_too_long(name) || name_too_long(newname)) {
		sm_fuse_reply_err(req, "rename", dir, ENAMETOOLONG);
		return;
	}
	if (flags & RENAME_NOREPLACE)
		smflags |= SM_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		smflags |= SM_RENAME_EXCHANGE;
	/* RENAME_WHITEOUT (overlayfs) and anything newer are not supported */
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		sm_fuse_reply_err(req, "rename", dir, EINVAL);
		return;
	}
	sm_fuse_reply_status(req, "rename", dir,
		     sm_rename(uf->fs, dir, name, sm_fuse_to_backend(uf, newparent), newname, smflags));
}

/* ---- attributes --------------------------------------------------------- */

static void sm_op_getattr(fuse_req_t req, fuse_ino_t nodeid, struct fuse_file_info *fi)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);
	struct sm_attr a;
	struct stat st;
	int ret;

	(void)fi;
	ret = sm_getattr(uf->fs, ino, &a);
	if (ret < 0) {
		sm_fuse_reply_err(req, "getattr", ino, -ret);
		return;
	}
	fill_stat(uf, &a, &st);
	fuse_reply_attr(req, &st, uf->entry_timeout);
}

static void sm_op_setattr(fuse_req_t req, fuse_ino_t nodeid, struct stat *attr,
			  int to_set, struct fuse_file_info *fi)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);
	struct sm_caller who = sm_fuse_caller(req);
	struct sm_setattr set = { 0 }, drop = { 0 };
	struct sm_attr a;
	struct stat st;
	bool v2 = sm_transport_killpriv_v2(&uf->tp);
	bool kill = false, no_fsetid = false;
	uint32_t kill_bits = 0;
	int ret;

	/* fi (ftruncate) changes nothing: sizes are per inode, not per handle */
	(void)fi;
	if (to_set & FUSE_SET_ATTR_MODE) {
		set.valid |= SM_SET_MODE;
		/* the kernel's mode carries the file type too */
		set.mode = (uint32_t)attr->st_mode;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		set.valid |= SM_SET_UID;
		set.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		set.valid |= SM_SET_GID;
		set.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0) {
			sm_fuse_reply_err(req, "setattr", ino, EINVAL);
			return;
		}
		set.valid |= SM_SET_SIZE;
		set.size = (uint64_t)attr->st_size;
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		set.valid |= SM_SET_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		set.valid |= SM_SET_ATIME;
		set.atime = attr->st_atim;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		set.valid |= SM_SET_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		set.valid |= SM_SET_MTIME;
		set.mtime = attr->st_mtim;
	}
	if (to_set & FUSE_SET_ATTR_CTIME) {
		set.valid |= SM_SET_CTIME;
		set.ctime = attr->st_ctim;
	}

	/* A kernel-computed SUID/SGID drop goes last, with the kernel's
	 * authority (see is_setid_drop()).  FUSE recomputes the drop itself
	 * and misses ext4's "writer outside the group loses plain SGID". */
	if (set.valid & SM_SET_MODE) {
		ret = sm_getattr(uf->fs, ino, &a);
		if (ret < 0)
			goto out_err;
		if (is_setid_drop(a.mode, set.mode)) {
			drop.valid = SM_SET_MODE;
			drop.mode = set.mode;
			if (drops_plain_sgid(req, drop.mode, a.gid, false))
				drop.mode &= ~(uint32_t)S_ISGID;
			set.valid &= ~(unsigned)SM_SET_MODE;
		}
	} else if (to_set == 0 && (v2 || who.uid != 0)) {
		/* An empty SETATTR is file_remove_privs() where the kernel's
		 * own recomputation found nothing to change (plain SGID, see
		 * above), or chown(f, -1, -1), which drops them the same way.
		 * Under KILLPRIV_V2 the kernel recomputes nothing, so root's
		 * chown(f, -1, -1) comes empty too and drops SUID as on ext4
		 * (root's writes never send one: it has CAP_FSETID). */
		kill = true;
	}
	/* FATTR_KILL_SUIDGID (== FUSE_SET_ATTR_KILL_SUID), under KILLPRIV_V2:
	 * on a truncate only from a caller without CAP_FSETID, on a chown
	 * always (who has it decides about a plain SGID as above). */
	if (!(set.valid & SM_SET_MODE) && !drop.valid &&
	    (to_set & (FUSE_SET_ATTR_KILL_SUID | FUSE_SET_ATTR_KILL_SGID))) {
		kill = true;
		no_fsetid = v2 && (to_set & FUSE_SET_ATTR_SIZE) &&
			    !(to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID));
	}
	/* Decided on the attributes before a chown, as the kernel does: a
	 * plain SGID goes for a caller outside the file's old group. */
	if (kill) {
		ret = sm_getattr(uf->fs, ino, &a);
		if (ret < 0)
			goto out_err;
		kill_bits = privs_to_kill(req, &a, no_fsetid);
	}

	if (set.valid)
		ret = sm_setattr(uf->fs, ino, &who, &set, &a);
	else if (!kill)
		ret = sm_getattr(uf->fs, ino, &a);
	if (ret >= 0 && drop.valid)
		ret = sm_setattr(uf->fs, ino, &sm_kernel_caller, &drop, &a);
	if (ret >= 0 && kill_bits)
		ret = clear_privs(uf->fs, ino, kill_bits, &a);
	if (ret < 0)
		goto out_err;
	fill_stat(uf, &a, &st);
	fuse_reply_attr(req, &st, uf->entry_timeout);
	return;
out_err:
	sm_fuse_reply_err(req, "setattr", ino, -ret);
}

static void sm_op_readlink(fuse_req_t req, fuse_ino_t nodeid)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);
	char buf[SM_SYMLINK_MAX + 1];
	int ret;

	buf[0] = '\0';
	ret = sm_readlink(uf->fs, ino, buf, sizeof(buf));
	if (ret < 0) {
		sm_fuse_reply_err(req, "readlink", ino, -ret);
		return;
	}
	if ((size_t)ret >= sizeof(buf)) {
		sm_fuse_reply_err(req, "readlink", ino, ENAMETOOLONG);
		return;
	}
	/* a byte count; 0 may also mean "NUL-terminated in buf" */
	if (ret == 0)
		ret = (int)strnlen(buf, sizeof(buf) - 1);
	buf[ret] = '\0';
	fuse_reply_readlink(req, buf);
}

/* ---- files -------------------------------------------------------------- */

static void sm_op_open(fuse_req_t req, fuse_ino_t nodeid, struct fuse_file_info *fi)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);
	uint64_t fh;
	int ret;

	/* With ATOMIC_O_TRUNC the backend truncates in sm_open. */
	ret = sm_open(uf->fs, ino, fi->flags, &fh);
	if (ret >= 0 && (fi->flags & O_TRUNC)) {
		if (sm_transport_killpriv_v2(&uf->tp))
			ret = kill_priv_marked(req, uf->fs, SM_TP_OPEN, nodeid, ino);
		else
			ret = kill_priv_for_write(req, uf->fs, ino);
		if (ret < 0)
			sm_release(uf->fs, ino, fh);
	}
	if (ret < 0) {
		sm_fuse_reply_err(req, "open", ino, -ret);
		return;
	}
	fi->fh = fh;
	/* every change to the data comes through us */
	fi->keep_cache = 1;
	fi->direct_io = 0;
	/* -ENOENT: the request was interrupted, no release will follow */
	if (fuse_reply_open(req, fi) == -ENOENT)
		sm_release(uf->fs, ino, fh);
}

static void sm_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode, struct fuse_file_info *fi)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t dir = sm_fuse_to_backend(uf, parent);
	struct sm_caller who = sm_fuse_creator(req);
	struct fuse_entry_param e;
	struct sm_attr a;
	uint64_t fh;
	int ret;

	if (name_too_long(name)) {
		sm_fuse_reply_err(req, "create", dir, ENAMETOOLONG);
		return;
	}
	ret = sm_create(uf->fs, dir, name, S_IFREG | ((uint32_t)mode & 07777), fi->flags,
			&who, &a, &fh);
	if (ret < 0) {
		sm_fuse_reply_err(req, "create", dir, -ret);
		return;
	}
	ret = sm_fuse_fill_entry(uf, &a, &e);
	if (ret < 0) {
		sm_release(uf->fs, a.ino, fh);
		sm_fuse_reply_err(req, "create", dir, -ret);
		return;
	}
	fi->fh = fh;
	fi->keep_cache = 1;
	fi->direct_io = 0;
	if (fuse_reply_create(req, &e, fi) == -ENOENT)
		sm_release(uf->fs, a.ino, fh);
}

static void sm_op_read(fuse_req_t req, fuse_ino_t nodeid, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);
	ssize_t n;
	char *buf;

	if (off < 0) {
		sm_fuse_reply_err(req, "read", ino, EINVAL);
		return;
	}
	if (size > SM_MAX_READ)
		size = SM_MAX_READ;
	buf = malloc(size ? size : 1);
	if (!buf) {
		sm_fuse_reply_err(req, "read", ino, ENOMEM);
		return;
	}
	n = sm_read(uf->fs, ino, fi->fh, buf, size, (uint64_t)off);
	if (n < 0)
		sm_fuse_reply_err(req, "read", ino, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n > size ? size : (size_t)n);
	free(buf);
}

static void sm_op_write(fuse_req_t req, fuse_ino_t nodeid, const char *buf, size_t size,
			off_t off, struct fuse_file_info *fi)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);
	ssize_t n;

	if (off < 0) {
		sm_fuse_reply_err(req, "write", ino, EINVAL);
		return;
	}
	/* Under KILLPRIV_V2 the SETATTR the kernel may still send before the
	 * write carries no mode (and none comes once the inode is S_NOSEC);
	 * the WRITE of a caller without CAP_FSETID is marked instead.  The
	 * bits go before the data, as in ext4's file_remove_privs(). */
	if (sm_transport_killpriv_v2(&uf->tp)) {
		int ret = kill_priv_marked(req, uf->fs, SM_TP_WRITE, nodeid, ino);

		if (ret < 0) {
			sm_fuse_reply_err(req, "write", ino, -ret);
			return;
		}
	}
	n = sm_write(uf->fs, ino, fi->fh, buf, size, (uint64_t)off);
	if (n < 0)
		sm_fuse_reply_err(req, "write", ino, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void sm_op_release(fuse_req_t req, fuse_ino_t nodeid, struct fuse_file_info *fi)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);

	sm_fuse_reply_status(req, "release", ino, sm_release(uf->fs, ino, fi->fh));
}

static void sm_op_fsync(fuse_req_t req, fuse_ino_t nodeid, int datasync,
			struct fuse_file_info *fi)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);

	(void)fi;
	sm_fuse_reply_status(req, "fsync", ino, sm_fsync(uf->fs, ino, datasync));
}

static void sm_op_fallocate(fuse_req_t req, fuse_ino_t nodeid, int mode, off_t offset,
			    off_t length, struct fuse_file_info *fi)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);
	int ret;

	(void)fi;
	if (offset < 0 || length <= 0) {
		sm_fuse_reply_err(req, "fallocate", ino, EINVAL);
		return;
	}
	/* ext4 clears SUID/SGID on every fallocate mode (file_modified()) */
	ret = kill_priv_for_write(req, uf->fs, ino);
	if (ret >= 0)
		ret = sm_fallocate(uf->fs, ino, mode, (uint64_t)offset, (uint64_t)length);
	sm_fuse_reply_status(req, "fallocate", ino, ret);
}

static void sm_op_lseek(fuse_req_t req, fuse_ino_t nodeid, off_t off, int whence,
			struct fuse_file_info *fi)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);
	int64_t ret;

	(void)fi;
	/* The kernel handles SEEK_SET/CUR/END itself. */
	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		sm_fuse_reply_err(req, "lseek", ino, EINVAL);
		return;
	}
	if (off < 0) {
		sm_fuse_reply_err(req, "lseek", ino, ENXIO);
		return;
	}
	ret = sm_lseek(uf->fs, ino, (uint64_t)off, whence);
	if (ret < 0)
		sm_fuse_reply_err(req, "lseek", ino, (int)-ret);
	else
		fuse_reply_lseek(req, (off_t)ret);
}

/* ---- file system -------------------------------------------------------- */

static void sm_op_statfs(fuse_req_t req, fuse_ino_t nodeid)
{
	struct sm_fuse *uf = sm_ud(req);
	struct sm_statfs s;
	struct statvfs st;
	int ret;

	ret = sm_statfs(uf->fs, &s);
	if (ret < 0) {
		sm_fuse_reply_err(req, "statfs", sm_fuse_to_backend(uf, nodeid), -ret);
		return;
	}
	memset(&st, 0, sizeof(st));
	st.f_bsize = s.bsize;
	st.f_frsize = s.frsize;
	st.f_blocks = s.blocks;
	st.f_bfree = s.bfree;
	st.f_bavail = s.bavail;
	st.f_files = s.files;
	st.f_ffree = s.ffree;
	st.f_favail = s.ffree;
	st.f_fsid = s.fsid;
	st.f_namemax = SM_NAME_MAX;
	fuse_reply_statfs(req, &st);
}

static void sm_op_access(fuse_req_t req, fuse_ino_t nodeid, int mask)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);
	struct sm_attr a;

	/* With default_permissions (implied by POSIX_ACL) the kernel checks
	 * and never asks; answer for existence only. */
	(void)mask;
	sm_fuse_reply_status(req, "access", ino, sm_getattr(uf->fs, ino, &a));
}

/* Locks (flock, getlk, setlk) are left to the kernel, which keeps them
 * local to this mount; copy_file_range falls back to read/write; destroy has
 * nothing to do: the server closes the backend after the loop. */
const struct fuse_lowlevel_ops sm_fuse_ops = {
	.init = sm_op_init,
	.lookup = sm_op_lookup,
	.forget = sm_op_forget,
	.forget_multi = sm_op_forget_multi,
	.getattr = sm_op_getattr,
	.setattr = sm_op_setattr,
	.readlink = sm_op_readlink,
	.mknod = sm_op_mknod,
	.mkdir = sm_op_mkdir,
	.unlink = sm_op_unlink,
	.rmdir = sm_op_rmdir,
	.symlink = sm_op_symlink,
	.rename = sm_op_rename,
	.link = sm_op_link,
	.open = sm_op_open,
	.create = sm_op_create,
	.read = sm_op_read,
	.write = sm_op_write,
	/* No flush: data reaches the backend on every write and nothing is
	 * held per descriptor, so the kernel may stop sending FLUSH at every
	 * close (its ENOSYS makes it stop for good). */
	.release = sm_op_release,
	.fsync = sm_op_fsync,
	.fallocate = sm_op_fallocate,
	.lseek = sm_op_lseek,
	.opendir = sm_op_opendir,
	.readdir = sm_op_readdir,
	.readdirplus = sm_op_readdirplus,
	.releasedir = sm_op_releasedir,
	.fsyncdir = sm_op_fsyncdir,
	.statfs = sm_op_statfs,
	.access = sm_op_access,
	.setxattr = sm_op_setxattr,
	.getxattr = sm_op_getxattr,
	.listxattr = sm_op_listxattr,
	.removexattr = sm_op_removexattr,
	.ioctl = sm_op_ioctl,
};
