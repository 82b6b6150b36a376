/* The in-memory backend: opening and closing, the inode table, space
 * accounting, attributes (getattr, setattr), open/release, inode flags and
 * statfs.  Names live in mem_namei.c and mem_dir.c, data in mem_data.c,
 * extended attributes and ACLs in mem_xattr.c.
 *
 * The image is handed over and stays locked as for ext4, but its contents
 * are never read: the filesystem starts empty (a root directory, 0755,
 * owned by root, as mkfs leaves it) and is gone at unmount.  Its size is
 * the image's, bounded by what the server may safely take from memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "mem_private.h"

/* The most the contents may take: never more than this, half the
 * machine's memory, or half the server's address-space limit (thread
 * stacks, malloc arenas and the libraries share the rest). */
#define MEM_CAP_MAX (8ULL << 30)
#define MEM_CAP_MIN (1ULL << 20)

/* The flags FS_IOC_SETFLAGS may change here (ext4's user-modifiable set,
 * less the layout flags that mean nothing in memory). */
#define MEM_FL_MODIFIABLE (FS_SECRM_FL | FS_UNRM_FL | FS_COMPR_FL | FS_SYNC_FL | \
			   FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NODUMP_FL | FS_NOATIME_FL | \
			   FS_JOURNAL_DATA_FL | FS_NOTAIL_FL | FS_DIRSYNC_FL | FS_TOPDIR_FL | \
			   FS_PROJINHERIT_FL)
#define MEM_FL_DIR_ONLY (FS_DIRSYNC_FL | FS_TOPDIR_FL | FS_CASEFOLD_FL | FS_PROJINHERIT_FL | \
			 FS_INDEX_FL)

/* ---- space ---- */

int mem_charge(struct sm_fs *f, uint64_t n)
{
	if (n > f->cap - f->used)
		return -ENOSPC;
	f->used += n;
	return 0;
}

void mem_uncharge(struct sm_fs *f, uint64_t n)
{
	f->used = n > f->used ? 0 : f->used - n;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t image_size(int fd)
{
	struct stat st;
	uint64_t size = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		return 0;
	if (S_ISREG(st.st_mode))
		return (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &size) == 0)
		return size;
	return 0;
}

/* The capacity: the image's size (0: no say), within what memory allows. */
static uint64_t choose_cap(uint64_t img)
{
	uint64_t cap = MEM_CAP_MAX;
	struct sysinfo si;
	struct rlimit rl;

	if (sysinfo(&si) == 0 && si.totalram)
		cap = min_u64(cap, (uint64_t)si.totalram * si.mem_unit / 2);
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		cap = min_u64(cap, (uint64_t)rl.rlim_cur / 2);
	if (img)
		cap = min_u64(cap, img);
	cap &= ~(uint64_t)(MEM_PAGE_SIZE - 1);
	return cap < MEM_CAP_MIN ? MEM_CAP_MIN : cap;
}

/* ---- times ---- */

struct timespec mem_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

void mem_touch(struct mem_inode *inode, bool mtime)
{
	struct timespec now = mem_now();

	inode->ctime = now;
	if (mtime)
		inode->mtime = now;
}

/* Times as ext4 (256-byte inodes) can store them: 34-bit seconds from
 * 1901; out-of-range ones clamp with the nanoseconds dropped, like the
 * kernel's timestamp_truncate(). */
static struct timespec clamp_time(struct timespec ts)
{
	const int64_t min = INT32_MIN, max = (int64_t)INT32_MAX + (3LL << 32);

	if (ts.tv_sec <= min)
		return (struct timespec){ .tv_sec = min };
	if (ts.tv_sec >= max)
		return (struct timespec){ .tv_sec = max };
	return ts;
}

static int ts_cmp(struct timespec a, struct timespec b)
{
	if (a.tv_sec != b.tv_sec)
		return a.tv_sec < b.tv_sec ? -1 : 1;
	if (a.tv_nsec != b.tv_nsec)
		return a.tv_nsec < b.tv_nsec ? -1 : 1;
	return 0;
}

void mem_touch_atime(struct sm_fs *f, struct mem_inode *inode)
{
	struct timespec now;

	if (f->read_only || f->atime == SM_ATIME_NOATIME)
		return;
	if (inode->flags & (FS_NOATIME_FL | FS_IMMUTABLE_FL))
		return;
	now = mem_now();
	/* The kernel's relatime_need_update(). */
	if (f->atime == SM_ATIME_RELATIME && ts_cmp(inode->mtime, inode->atime) < 0 &&
	    ts_cmp(inode->ctime, inode->atime) < 0 &&
	    now.tv_sec - inode->atime.tv_sec < 24 * 60 * 60)
		return;
	inode->atime = now;
}

/* ---- the inode table ---- */

struct mem_inode *mem_inode_get(struct sm_fs *f, uint64_t ino)
{
	return ino < f->next_ino ? f->inodes[ino] : NULL;
}

int mem_inode_find(struct sm_fs *f, uint64_t ino, struct mem_inode **out)
{
	*out = mem_inode_get(f, ino);
	return *out ? 0 : -ESTALE;
}

/* A number for a new inode: a freed one, or the next never used. */
static int take_number(struct sm_fs *f, uint64_t *ino)
{
	if (f->nfree) {
		*ino = f->free_inos[--f->nfree];
		return 0;
	}
	if (f->next_ino == f->inodes_cap) {
		size_t ncap = f->inodes_cap * 2;
		struct mem_inode **n = realloc(f->inodes, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		memset(n + f->inodes_cap, 0, (ncap - f->inodes_cap) * sizeof(*n));
		f->inodes = n;
		f->inodes_cap = ncap;
	}
	*ino = f->next_ino++;
	return 0;
}

/* Keep a freed number for reuse; if the list cannot grow the number is
 * simply never reused. */
static void give_number(struct sm_fs *f, uint64_t ino)
{
	if (f->nfree == f->free_cap) {
		size_t ncap = f->free_cap ? f->free_cap * 2 : 256;
		uint64_t *n = realloc(f->free_inos, ncap * sizeof(*n));

		if (!n)
			return;
		f->free_inos = n;
		f->free_cap = ncap;
	}
	f->free_inos[f->nfree++] = ino;
}

int mem_inode_new(struct sm_fs *f, uint32_t mode, struct mem_inode **out)
{
	struct mem_inode *inode;
	uint64_t ino;
	int ret;

	if (f->live_inodes >= f->max_inodes)
		return -ENOSPC;
	ret = mem_charge(f, sizeof(*inode));
	if (ret)
		return ret;
	inode = calloc(1, sizeof(*inode));
	if (!inode) {
		mem_uncharge(f, sizeof(*inode));
		return -ENOMEM;
	}
	ret = take_number(f, &ino);
	if (ret) {
		free(inode);
		mem_uncharge(f, sizeof(*inode));
		return ret;
	}
	inode->ino = ino;
	/* A reused number must not match a handle to its previous inode. */
	inode->generation = ++f->generation;
	inode->mode = mode;
	inode->atime = inode->mtime = inode->ctime = inode->btime = mem_now();
	if (S_ISDIR(mode))
		inode->size = MEM_DIR_SIZE;
	/* lsattr shows what it shows on ext4: new files and directories are
	 * extent-mapped there.  The flag is not modifiable. */
	if (S_ISDIR(mode) || S_ISREG(mode))
		inode->flags = FS_EXTENT_FL;
	f->inodes[ino] = inode;
	f->live_inodes++;
	*out = inode;
	return 0;
}

void mem_inode_free(struct sm_fs *f, struct mem_inode *inode)
{
	switch (inode->mode & S_IFMT) {
	case S_IFDIR:
		mem_dir_free(f, &inode->u.dir);
		break;
	case S_IFREG:
		mem_file_free(f, &inode->u.file);
		break;
	case S_IFLNK:
		if (inode->u.target)
			mem_uncharge(f, inode->size + 1);
		free(inode->u.target);
		break;
	default:
		break;
	}
	mem_xattrs_free(f, inode);
	f->inodes[inode->ino] = NULL;
	f->live_inodes--;
	give_number(f, inode->ino);
	free(inode);
	mem_uncharge(f, sizeof(*inode));
}

void mem_inode_put(struct sm_fs *f, struct mem_inode *inode)
{
	if (inode->nlink == 0 && inode->opens == 0 && inode->ino != MEM_ROOT_INO)
		mem_inode_free(f, inode);
}

void mem_fill_attr(const struct mem_inode *inode, struct sm_attr *out)
{
	memset(out, 0, sizeof(*out));
	out->ino = inode->ino;
	out->generation = inode->generation;
	out->mode = inode->mode;
	out->nlink = inode->nlink;
	out->uid = inode->uid;
	out->gid = inode->gid;
	out->size = inode->size;
	out->blksize = MEM_PAGE_SIZE;
	switch (inode->mode & S_IFMT) {
	case S_IFREG:
		out->blocks = inode->u.file.pages << (MEM_PAGE_SHIFT - 9);
		break;
	case S_IFDIR:
		out->blocks = MEM_DIR_SIZE >> 9;
		break;
	case S_IFCHR:
	case S_IFBLK:
		out->rdev = inode->rdev;
		break;
	default:
		break;
	}
	out->atime = inode->atime;
	out->mtime = inode->mtime;
	out->ctime = inode->ctime;
	out->btime = inode->btime;
}

int mem_check_modify(const struct mem_inode *inode, bool appending)
{
	if (inode->flags & FS_IMMUTABLE_FL)
		return -EPERM;
	if ((inode->flags & FS_APPEND_FL) && !appending)
		return -EPERM;
	return 0;
}

/* ---- open and close ---- */

static int make_root(struct sm_fs *f)
{
	struct mem_inode *root;
	int ret;

	/* Numbers 0 and 1 are never handed out: 1 is FUSE's root node id. */
	f->next_ino = MEM_ROOT_INO;
	ret = mem_inode_new(f, S_IFDIR | 0755, &root);
	if (ret)
		return ret;
	root->nlink = 2;
	root->u.dir.parent = root->ino;
	return 0;
}

int sm_fs_open(const struct sm_open_opts *opts, struct sm_fs **out, const char **msg)
{
	struct sm_fs *f;
	uint64_t rnd[2] = { 0, 0 };
	int ret;

	*out = NULL;
	*msg = NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		goto nomem;
	f->inodes_cap = 1024;
	f->inodes = calloc(f->inodes_cap, sizeof(*f->inodes));
	if (!f->inodes)
		goto nomem;
	pthread_mutex_init(&f->lock, NULL);
	f->read_only = opts->read_only;
	f->atime = opts->atime;
	/* The image is not read: only its size is used, as the capacity. */
	f->cap = choose_cap(image_size(opts->image_fd));
	f->max_inodes = f->cap / MEM_INODE_RATIO;
	/* Random hash seed and fsid; a fixed fallback is only weaker. */
	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
		struct timespec now = mem_now();

		rnd[0] = (uint64_t)now.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
		rnd[1] = (uint64_t)now.tv_sec ^ rnd[0];
	}
	f->hash_seed = (uint32_t)rnd[0];
	f->fsid = rnd[1];
	f->generation = rnd[0] >> 32;
	ret = make_root(f);
	if (ret) {
		sm_fs_close(f);
		*msg = "out of memory";
		return ret;
	}
	*out = f;
	return 0;
nomem:
	if (f)
		free(f->inodes);
	free(f);
	*msg = "out of memory";
	return -ENOMEM;
}

int sm_fs_close(struct sm_fs *f)
{
	if (!f)
		return 0;
	MEM_LOCK(f);
	/* Everything goes, open or not: the session has ended. */
	for (uint64_t ino = 0; ino < f->next_ino; ino++)
		if (f->inodes[ino])
			mem_inode_free(f, f->inodes[ino]);
	free(f->inodes);
	free(f->free_inos);
	MEM_UNLOCK(f);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return 0;
}

uint64_t sm_backend_root(const struct sm_fs *f)
{
	(void)f;
	return MEM_ROOT_INO;
}

const char *sm_fs_warning(const struct sm_fs *f)
{
	(void)f;
	return "safemount-mem keeps the filesystem in memory: it starts empty, nothing is read from or written to the image, and everything is lost at unmount";
}

int sm_statfs(struct sm_fs *f, struct sm_statfs *out)
{
	MEM_LOCK(f);
	uint64_t free_bytes = f->cap - f->used;

	memset(out, 0, sizeof(*out));
	out->bsize = MEM_PAGE_SIZE;
	out->frsize = MEM_PAGE_SIZE;
	out->blocks = f->cap / MEM_PAGE_SIZE;
	out->bfree = free_bytes / MEM_PAGE_SIZE;
	out->bavail = out->bfree;
	out->files = f->max_inodes;
	out->ffree = f->max_inodes - f->live_inodes;
	out->namemax = MEM_NAME_MAX;
	out->fsid = f->fsid;
	MEM_UNLOCK(f);
	return 0;
}

int sm_sync(struct sm_fs *f)
{
	(void)f;
	return 0;
}

/* ---- attributes ---- */

int sm_getattr(struct sm_fs *f, uint64_t ino, struct sm_attr *out)
{
	struct mem_inode *inode;
	int ret;

	MEM_LOCK(f);
	ret = mem_inode_find(f, ino, &inode);
	if (!ret)
		mem_fill_attr(inode, out);
	MEM_UNLOCK(f);
	return ret;
}

/* What ext4_setattr refuses before changing anything. */
static int setattr_check(struct sm_fs *f, const struct mem_inode *inode,
			 const struct sm_setattr *set)
{
	unsigned valid = set->valid;
	int ret = mem_check_rw(f);

	if (ret)
		return ret;
	/* Nothing changes on an immutable inode; an append-only one may
	 * only have its times set to "now". */
	if (inode->flags & FS_IMMUTABLE_FL)
		return -EPERM;
	if ((inode->flags & FS_APPEND_FL) &&
	    (valid & (SM_SET_MODE | SM_SET_UID | SM_SET_GID | SM_SET_SIZE |
		      ((valid & SM_SET_ATIME_NOW) ? 0 : SM_SET_ATIME) |
		      ((valid & SM_SET_MTIME_NOW) ? 0 : SM_SET_MTIME))))
		return -EPERM;
	if (valid & SM_SET_SIZE) {
		if (S_ISDIR(inode->mode))
			return -EISDIR;
		if (!S_ISREG(inode->mode))
			return -EINVAL;
		if (set->size > MEM_MAX_FILE_SIZE)
			return -EFBIG;
	}
	return 0;
}

/* Mode, owner and group; chown kills set-user-ID, and set-group-ID where
 * it means "executable as group" (the kernel usually sends the new mode
 * itself). */
static void setattr_owner_mode(struct mem_inode *inode, const struct sm_setattr *set)
{
	uint32_t mode = inode->mode;

	if (set->valid & SM_SET_MODE)
		mode = (mode & S_IFMT) | (set->mode & 07777);
	if (set->valid & (SM_SET_UID | SM_SET_GID)) {
		if (set->valid & SM_SET_UID)
			inode->uid = set->uid;
		if (set->valid & SM_SET_GID)
			inode->gid = set->gid;
		if (!(set->valid & SM_SET_MODE) && !S_ISDIR(mode)) {
			mode &= ~(uint32_t)S_ISUID;
			if (mode & S_IXGRP)
				mode &= ~(uint32_t)S_ISGID;
		}
	}
	inode->mode = mode;
}

int sm_setattr(struct sm_fs *f, uint64_t ino, const struct sm_caller *who,
	       const struct sm_setattr *set, struct sm_attr *out)
{
	const unsigned all = SM_SET_MODE | SM_SET_UID | SM_SET_GID | SM_SET_SIZE | SM_SET_ATIME |
			     SM_SET_MTIME | SM_SET_ATIME_NOW | SM_SET_MTIME_NOW | SM_SET_CTIME;
	struct mem_inode *inode;
	unsigned valid = set->valid;
	struct timespec now;
	int ret;

	(void)who;  /* the kernel checked ownership, as for ext4 */
	MEM_LOCK(f);
	ret = mem_inode_find(f, ino, &inode);
	if (ret)
		goto out;
	if (valid & ~all) {
		ret = -EINVAL;
		goto out;
	}
	if (valid == 0)
		goto fill;
	ret = setattr_check(f, inode, set);
	if (ret)
		goto out;
	now = mem_now();
	/* The kernel's ext4 updates mtime on every truncate, to the same
	 * size too. */
	if (valid & SM_SET_SIZE)
		mem_truncate(f, inode, set->size);
	setattr_owner_mode(inode, set);
	if (valid & SM_SET_ATIME_NOW)
		inode->atime = now;
	else if (valid & SM_SET_ATIME)
		inode->atime = clamp_time(set->atime);
	if (valid & SM_SET_MTIME_NOW)
		inode->mtime = now;
	else if (valid & SM_SET_MTIME)
		inode->mtime = clamp_time(set->mtime);
	else if (valid & SM_SET_SIZE)
		inode->mtime = now;
	inode->ctime = (valid & SM_SET_CTIME) ? clamp_time(set->ctime) : now;
	if (valid & SM_SET_MODE) {
		ret = mem_acl_chmod(f, inode);
		if (ret)
			goto out;
	}
fill:
	mem_fill_attr(inode, out);
out:
	MEM_UNLOCK(f);
	return ret;
}

/* ---- open / release ---- */

/* Checks and O_TRUNC of an open for the given flags; counts the opener. */
static int do_open(struct sm_fs *f, struct mem_inode *inode, int flags)
{
	int acc = flags & O_ACCMODE;
	bool writing = acc == O_WRONLY || acc == O_RDWR;
	int ret;

	switch (inode->mode & S_IFMT) {
	case S_IFREG:
		break;
	case S_IFDIR:
		if (writing || (flags & O_TRUNC))
			return -EISDIR;
		break;
	case S_IFLNK:
		return -ELOOP;
	default:
		/* Device nodes and FIFOs are the kernel's, not ours. */
		return -ENXIO;
	}
	if (writing || (flags & O_TRUNC)) {
		ret = mem_check_rw(f);
		if (ret)
			return ret;
		/* may_open: append-only files open for writing only with
		 * O_APPEND, and are never truncated. */
		ret = mem_check_modify(inode, (flags & O_APPEND) && !(flags & O_TRUNC));
		if (ret)
			return ret;
	}
	if ((flags & O_TRUNC) && S_ISREG(inode->mode)) {
		mem_truncate(f, inode, 0);
		/* open(O_TRUNC) sets mtime/ctime even on an empty file. */
		mem_touch(inode, true);
	}
	inode->opens++;
	return 0;
}

int sm_open(struct sm_fs *f, uint64_t ino, int flags, uint64_t *fh)
{
	struct mem_inode *inode;
	int ret;

	MEM_LOCK(f);
	ret = mem_inode_find(f, ino, &inode);
	if (!ret)
		ret = do_open(f, inode, flags);
	if (!ret)
		*fh = (flags & O_NOATIME) ? MEM_FH_NOATIME : 0;
	MEM_UNLOCK(f);
	return ret;
}

int sm_release(struct sm_fs *f, uint64_t ino, uint64_t fh)
{
	struct mem_inode *inode;
	int ret = 0;

	(void)fh;
	MEM_LOCK(f);
	inode = mem_inode_get(f, ino);
	if (!inode || inode->opens == 0) {
		ret = -EBADF;
		goto out;
	}
	/* The last opener of an unlinked inode frees it. */
	inode->opens--;
	mem_inode_put(f, inode);
out:
	MEM_UNLOCK(f);
	return ret;
}

/* ---- inode flags ---- */

int sm_get_flags(struct sm_fs *f, uint64_t ino, uint32_t *flags)
{
	struct mem_inode *inode;
	int ret;

	MEM_LOCK(f);
	ret = mem_inode_find(f, ino, &inode);
	if (!ret)
		*flags = inode->flags;
	MEM_UNLOCK(f);
	return ret;
}

/* ext4_mask_flags: directory-only flags mean nothing elsewhere. */
static uint32_t mask_flags(uint32_t mode, uint32_t flags)
{
	if (S_ISDIR(mode))
		return flags;
	if (S_ISREG(mode))
		return flags & ~(uint32_t)MEM_FL_DIR_ONLY;
	return flags & (FS_NODUMP_FL | FS_NOATIME_FL);
}

int sm_set_flags(struct sm_fs *f, uint64_t ino, const struct sm_caller *who, uint32_t flags)
{
	struct mem_inode *inode;
	uint32_t old, new;
	int ret;

	MEM_LOCK(f);
	ret = mem_check_rw(f);
	if (ret)
		goto out;
	ret = mem_inode_find(f, ino, &inode);
	if (ret)
		goto out;
	/* The ioctl reaches us without the kernel's owner check. */
	old = inode->flags;
	if (!who || (who->uid != 0 && who->uid != inode->uid)) {
		ret = -EPERM;
		goto out;
	}
	if ((flags & FS_CASEFOLD_FL) != (old & FS_CASEFOLD_FL)) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	new = (old & ~(uint32_t)MEM_FL_MODIFIABLE) |
	      (mask_flags(inode->mode, flags) & MEM_FL_MODIFIABLE);
	/* CAP_LINUX_IMMUTABLE: only root sets or clears immutable/append. */
	if (((new ^ old) & (FS_IMMUTABLE_FL | FS_APPEND_FL)) && who->uid != 0) {
		ret = -EPERM;
		goto out;
	}
	/* An inode that stays immutable accepts no other flag change. */
	if ((old & FS_IMMUTABLE_FL) && (new & FS_IMMUTABLE_FL) && new != old) {
		ret = -EPERM;
		goto out;
	}
	inode->flags = new;
	mem_touch(inode, false);
out:
	MEM_UNLOCK(f);
	return ret;
}
