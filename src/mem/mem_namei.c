/* Name operations of the in-memory backend: lookup, readlink, creating and
 * removing names (mknod, create, mkdir, symlink, link, unlink, rmdir) and
 * rename with RENAME_NOREPLACE / RENAME_EXCHANGE.
 *
 * As for ext4 the kernel (default_permissions) has done the rwx and sticky
 * checks; left here is what it cannot know: immutable and append-only
 * flags, link count limits, setgid directories, the umask or the parent's
 * default ACL, and link counts and times of everything involved.  Every
 * check comes before the first change, so a failure changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "mem_private.h"

static bool is_dot(const char *name, size_t len)
{
	return len == 1 && name[0] == '.';
}

static bool is_dotdot(const char *name, size_t len)
{
	return len == 2 && name[0] == '.' && name[1] == '.';
}

static int find_dir(struct sm_fs *f, uint64_t ino, struct mem_inode **out)
{
	int ret = mem_inode_find(f, ino, out);

	if (ret)
		return ret;
	return S_ISDIR((*out)->mode) ? 0 : -ENOTDIR;
}

/* What every operation that adds `name` to `parent` checks first, in the
 * kernel's order: a valid name that is not "." or "..", a live directory
 * that is not immutable (append-only ones take new names), no entry of
 * that name yet. */
static int check_new_name(struct sm_fs *f, uint64_t parent, const char *name, size_t *len,
			  struct mem_inode **dir)
{
	int ret = mem_check_name(name, len);

	if (ret)
		return ret;
	if (is_dot(name, *len) || is_dotdot(name, *len))
		return -EEXIST;
	ret = find_dir(f, parent, dir);
	if (ret)
		return ret;
	if ((*dir)->nlink == 0)
		return -ENOENT;        /* removed, still open */
	ret = mem_check_modify(*dir, true);
	if (ret)
		return ret;
	return mem_dir_find(f, &(*dir)->u.dir, name, *len) ? -EEXIST : 0;
}

/* Owner, group and mode of a new inode, as the kernel's inode_init_owner:
 * a setgid directory passes on its group, and its setgid bit to
 * subdirectories (the VFS already dropped S_ISGID for callers outside the
 * group). */
static void init_owner(struct mem_inode *inode, const struct mem_inode *dir, uint32_t mode,
		       const struct sm_caller *who)
{
	inode->uid = who ? who->uid : 0;
	inode->gid = who ? who->gid : 0;
	if (dir->mode & S_ISGID) {
		inode->gid = dir->gid;
		if (S_ISDIR(mode))
			mode |= S_ISGID;
	}
	inode->mode = mode;
}

static int set_target(struct sm_fs *f, struct mem_inode *inode, const char *target, size_t tlen)
{
	int ret = mem_charge(f, tlen + 1);

	if (ret)
		return ret;
	inode->u.target = malloc(tlen + 1);
	if (!inode->u.target) {
		mem_uncharge(f, tlen + 1);
		return -ENOMEM;
	}
	memcpy(inode->u.target, target, tlen);
	inode->u.target[tlen] = '\0';
	inode->size = tlen;
	return 0;
}

/* What a new inode is made of besides its name. */
struct new_node {
	uint32_t mode;             /* type and permission bits asked for */
	uint64_t rdev;
	const char *target;        /* symlinks */
	size_t tlen;
};

/* Make a new inode and give it the name `name` in `parent`: the common
 * part of mknod, create, mkdir and symlink. */
static int create_inode(struct sm_fs *f, uint64_t parent, const char *name,
			const struct new_node *nn, const struct sm_caller *who,
			struct mem_inode **out)
{
	struct mem_new_acl acl = { 0 };
	struct mem_inode *dir, *inode = NULL;
	uint32_t mode = nn->mode;
	bool is_dir = S_ISDIR(mode);
	size_t len;
	int ret;

	ret = check_new_name(f, parent, name, &len, &dir);
	if (ret)
		return ret;
	/* The parent's default ACL (or else the umask) shapes the mode. */
	ret = mem_acl_prepare(f, dir, &mode, who ? who->umask : 0, &acl);
	if (ret)
		return ret;
	ret = mem_inode_new(f, mode, &inode);
	if (ret)
		goto out;
	init_owner(inode, dir, mode, who);
	if (S_ISLNK(mode))
		ret = set_target(f, inode, nn->target, nn->tlen);
	else if (S_ISCHR(mode) || S_ISBLK(mode))
		inode->rdev = nn->rdev;
	if (!ret)
		ret = mem_acl_store(f, inode, &acl);
	if (!ret)
		ret = mem_dir_add(f, dir, name, len, inode);
	if (ret) {
		mem_inode_free(f, inode);
		goto out;
	}
	inode->nlink = is_dir ? 2 : 1;
	if (is_dir)
		inode->u.dir.parent = dir->ino;
	mem_dir_changed(dir, is_dir ? +1 : 0);
	*out = inode;
out:
	mem_acl_release(&acl);
	return ret;
}

int sm_lookup(struct sm_fs *f, uint64_t parent, const char *name, struct sm_attr *out)
{
	struct mem_inode *dir, *inode;
	const struct mem_dirent *e;
	uint64_t ino;
	size_t len;
	int ret;

	MEM_LOCK(f);
	ret = mem_check_name(name, &len);
	if (!ret)
		ret = find_dir(f, parent, &dir);
	if (ret)
		goto out;
	/* "." and ".." too: what NFS-style export needs to walk up. */
	if (is_dot(name, len)) {
		ino = parent;
	} else if (is_dotdot(name, len)) {
		ino = dir->u.dir.parent;
	} else {
		e = mem_dir_find(f, &dir->u.dir, name, len);
		if (!e) {
			ret = -ENOENT;
			goto out;
		}
		ino = e->ino;
	}
	ret = mem_inode_find(f, ino, &inode);
	if (!ret)
		mem_fill_attr(inode, out);
out:
	MEM_UNLOCK(f);
	return ret;
}

int sm_readlink(struct sm_fs *f, uint64_t ino, char *buf, size_t size)
{
	struct mem_inode *inode;
	size_t n;
	int ret;

	MEM_LOCK(f);
	if (size == 0) {
		ret = -ERANGE;
		goto out;
	}
	ret = mem_inode_find(f, ino, &inode);
	if (ret)
		goto out;
	if (!S_ISLNK(inode->mode)) {
		ret = -EINVAL;
		goto out;
	}
	/* Truncated like readlink(2), but the full length is returned so
	 * the caller can tell. */
	n = inode->size < size - 1 ? (size_t)inode->size : size - 1;
	memcpy(buf, inode->u.target, n);
	buf[n] = '\0';
	ret = (int)inode->size;
out:
	MEM_UNLOCK(f);
	return ret;
}

int sm_mknod(struct sm_fs *f, uint64_t parent, const char *name, uint32_t mode,
	     uint64_t rdev, const struct sm_caller *who, struct sm_attr *out)
{
	struct new_node nn = { .rdev = rdev };
	struct mem_inode *inode;
	int ret;

	MEM_LOCK(f);
	/* mknod(2): a zero file type means a regular file. */
	if ((mode & S_IFMT) == 0)
		mode |= S_IFREG;
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		ret = mem_check_rw(f);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	nn.mode = (mode & S_IFMT) | (mode & 07777);
	if (!ret)
		ret = create_inode(f, parent, name, &nn, who, &inode);
	if (!ret)
		mem_fill_attr(inode, out);
	MEM_UNLOCK(f);
	return ret;
}

int sm_mkdir(struct sm_fs *f, uint64_t parent, const char *name, uint32_t mode,
	     const struct sm_caller *who, struct sm_attr *out)
{
	struct new_node nn = { .mode = S_IFDIR | (mode & 07777) };
	struct mem_inode *inode;
	int ret;

	MEM_LOCK(f);
	/* dir_nlink: a parent never runs out of links (it becomes 1). */
	ret = mem_check_rw(f);
	if (!ret)
		ret = create_inode(f, parent, name, &nn, who, &inode);
	if (!ret)
		mem_fill_attr(inode, out);
	MEM_UNLOCK(f);
	return ret;
}

int sm_symlink(struct sm_fs *f, uint64_t parent, const char *name, const char *target,
	       const struct sm_caller *who, struct sm_attr *out)
{
	struct new_node nn = { .mode = S_IFLNK | 0777, .target = target };
	struct mem_inode *inode;
	int ret;

	MEM_LOCK(f);
	ret = mem_check_rw(f);
	if (ret)
		goto out;
	nn.tlen = target ? strnlen(target, MEM_SYMLINK_MAX) : 0;
	if (nn.tlen == 0) {
		ret = -ENOENT;
		goto out;
	}
	/* As ext4_symlink: the target and its NUL fit in one block. */
	if (nn.tlen + 1 > MEM_SYMLINK_MAX) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	ret = create_inode(f, parent, name, &nn, who, &inode);
	if (!ret)
		mem_fill_attr(inode, out);
out:
	MEM_UNLOCK(f);
	return ret;
}

int sm_create(struct sm_fs *f, uint64_t parent, const char *name, uint32_t mode,
	      int flags, const struct sm_caller *who, struct sm_attr *out, uint64_t *fh)
{
	struct new_node nn = { .mode = S_IFREG | (mode & 07777) };
	struct mem_inode *inode;
	int ret;

	/* A new empty file: O_TRUNC has nothing to do, O_EXCL is the
	 * kernel's. */
	MEM_LOCK(f);
	ret = mem_check_rw(f);
	if (!ret)
		ret = create_inode(f, parent, name, &nn, who, &inode);
	if (!ret) {
		inode->opens++;
		*fh = (flags & O_NOATIME) ? MEM_FH_NOATIME : 0;
		mem_fill_attr(inode, out);
	}
	MEM_UNLOCK(f);
	return ret;
}

int sm_link(struct sm_fs *f, uint64_t ino, uint64_t newparent, const char *newname,
	    struct sm_attr *out)
{
	struct mem_inode *inode, *dir;
	size_t len;
	int ret;

	MEM_LOCK(f);
	ret = mem_check_rw(f);
	if (!ret)
		ret = check_new_name(f, newparent, newname, &len, &dir);
	if (!ret)
		ret = mem_inode_find(f, ino, &inode);
	if (ret)
		goto out;
	if (S_ISDIR(inode->mode)) {
		ret = -EPERM;
		goto out;
	}
	/* vfs_link: an unlinked (open) file cannot get a name back. */
	if (inode->nlink == 0) {
		ret = -ENOENT;
		goto out;
	}
	ret = mem_check_modify(inode, false);
	if (ret)
		goto out;
	if (inode->nlink >= MEM_LINK_MAX) {
		ret = -EMLINK;
		goto out;
	}
	ret = mem_dir_add(f, dir, newname, len, inode);
	if (ret)
		goto out;
	inode->nlink++;
	mem_touch(inode, false);
	mem_dir_changed(dir, 0);
	mem_fill_attr(inode, out);
out:
	MEM_UNLOCK(f);
	return ret;
}

/* Common part of unlink and rmdir: find `name`, check what forbids its
 * removal, remove the entry.  *out is the inode it named. */
static int remove_entry(struct sm_fs *f, struct mem_inode *dir, const char *name, size_t len,
			bool want_dir, struct mem_inode **out)
{
	struct mem_dirent *e;
	struct mem_inode *inode;
	int ret;

	e = mem_dir_find(f, &dir->u.dir, name, len);
	if (!e)
		return -ENOENT;
	inode = mem_inode_get(f, e->ino);
	if (!inode)
		return -EUCLEAN;   /* cannot happen: entries hold their inodes */
	if (want_dir) {
		if (!S_ISDIR(inode->mode))
			return -ENOTDIR;
		if (inode->ino == MEM_ROOT_INO)
			return -EBUSY;
	} else if (S_ISDIR(inode->mode)) {
		return -EISDIR;
	}
	/* may_delete: append-only directories keep their entries, and
	 * immutable / append-only inodes keep their names. */
	ret = mem_check_modify(dir, false);
	if (!ret)
		ret = mem_check_modify(inode, false);
	if (ret)
		return ret;
	if (want_dir && inode->u.dir.count)
		return -ENOTEMPTY;
	mem_dir_remove(f, dir, e);
	*out = inode;
	return 0;
}

int sm_unlink(struct sm_fs *f, uint64_t parent, const char *name)
{
	struct mem_inode *dir, *inode;
	size_t len;
	int ret;

	MEM_LOCK(f);
	ret = mem_check_rw(f);
	if (!ret)
		ret = mem_check_name(name, &len);
	if (ret)
		goto out;
	if (is_dot(name, len) || is_dotdot(name, len)) {
		ret = -EISDIR;
		goto out;
	}
	ret = find_dir(f, parent, &dir);
	if (!ret)
		ret = remove_entry(f, dir, name, len, false, &inode);
	if (ret)
		goto out;
	inode->nlink--;
	mem_touch(inode, false);
	mem_dir_changed(dir, 0);
	/* Open handles keep an unlinked file until the last release. */
	mem_inode_put(f, inode);
out:
	MEM_UNLOCK(f);
	return ret;
}

int sm_rmdir(struct sm_fs *f, uint64_t parent, const char *name)
{
	struct mem_inode *dir, *inode;
	size_t len;
	int ret;

	MEM_LOCK(f);
	ret = mem_check_rw(f);
	if (!ret)
		ret = mem_check_name(name, &len);
	if (ret)
		goto out;
	/* As rmdir(2): "." is invalid, ".." is never empty. */
	if (is_dot(name, len)) {
		ret = -EINVAL;
		goto out;
	}
	if (is_dotdot(name, len)) {
		ret = -ENOTEMPTY;
		goto out;
	}
	ret = find_dir(f, parent, &dir);
	if (!ret)
		ret = remove_entry(f, dir, name, len, true, &inode);
	if (ret)
		goto out;
	/* Its "." and the parent's entry are both gone. */
	inode->nlink = 0;
	mem_touch(inode, false);
	mem_dir_changed(dir, -1);
	mem_inode_put(f, inode);
out:
	MEM_UNLOCK(f);
	return ret;
}

/* ---- rename ---- */

struct rename_op {
	struct mem_inode *pdir, *npdir, *src, *dst;
	struct mem_dirent *se, *de;
	const char *newname;
	size_t newlen;
	bool sdir, ddir;
};

/* Is `anc` the directory `start` or one of its ancestors?  Parents are
 * ours, not an image's: the walk ends at the root, and a removed directory
 * (nlink 0) has no place in the tree any more. */
static bool is_ancestor(struct sm_fs *f, const struct mem_inode *anc, uint64_t start)
{
	uint64_t cur = start;

	for (uint64_t depth = 0; depth <= f->live_inodes; depth++) {
		const struct mem_inode *d = mem_inode_get(f, cur);

		if (cur == anc->ino)
			return true;
		if (!d || cur == MEM_ROOT_INO || d->nlink == 0)
			return false;
		cur = d->u.dir.parent;
	}
	return false;
}

/* Both parents changed; dp/dnp move their link counts (".." entries). */
static void parents_changed(struct rename_op *op, int dp, int dnp)
{
	if (op->pdir == op->npdir) {
		mem_dir_changed(op->pdir, dp + dnp);
		return;
	}
	mem_dir_changed(op->pdir, dp);
	mem_dir_changed(op->npdir, dnp);
}

static int do_move(struct sm_fs *f, struct rename_op *op)
{
	int dp = 0, dnp = 0;
	int ret;

	/* The new name first: an existing one is rewritten in place, so
	 * only a brand-new name can fail (and then nothing changed). */
	if (op->de) {
		op->de->ino = op->src->ino;
		op->de->type = op->src->mode & S_IFMT;
	} else {
		ret = mem_dir_add(f, op->npdir, op->newname, op->newlen, op->src);
		if (ret)
			return ret;
	}
	mem_dir_remove(f, op->pdir, op->se);
	if (op->sdir && op->pdir != op->npdir) {
		op->src->u.dir.parent = op->npdir->ino;
		dp = -1;
		dnp = +1;
	}
	mem_touch(op->src, false);
	if (op->dst) {
		/* The replaced inode loses this name; an (empty) directory
		 * goes entirely, and with it its ".." in the new parent. */
		if (op->ddir || op->dst->nlink <= 1)
			op->dst->nlink = 0;
		else
			op->dst->nlink--;
		if (op->ddir)
			dnp -= 1;
		mem_touch(op->dst, false);
	}
	parents_changed(op, dp, dnp);
	if (op->dst)
		mem_inode_put(f, op->dst);
	return 0;
}

static void do_exchange(struct rename_op *op)
{
	int dp = 0, dnp = 0;

	op->se->ino = op->dst->ino;
	op->se->type = op->dst->mode & S_IFMT;
	op->de->ino = op->src->ino;
	op->de->type = op->src->mode & S_IFMT;
	if (op->pdir != op->npdir) {
		if (op->sdir) {
			op->src->u.dir.parent = op->npdir->ino;
			dp -= 1;
			dnp += 1;
		}
		if (op->ddir) {
			op->dst->u.dir.parent = op->pdir->ino;
			dp += 1;
			dnp -= 1;
		}
	}
	mem_touch(op->src, false);
	mem_touch(op->dst, false);
	parents_changed(op, dp, dnp);
}

/* Everything that can refuse the rename, before anything changes.  1: the
 * two names are links to one inode, and rename(2) does nothing. */
static int check_rename(struct sm_fs *f, struct rename_op *op, uint64_t parent,
			const char *name, size_t len, uint64_t newparent, unsigned flags)
{
	int ret;

	ret = find_dir(f, parent, &op->pdir);
	if (!ret)
		ret = find_dir(f, newparent, &op->npdir);
	if (ret)
		return ret;
	op->se = mem_dir_find(f, &op->pdir->u.dir, name, len);
	if (!op->se)
		return -ENOENT;
	op->src = mem_inode_get(f, op->se->ino);
	op->de = mem_dir_find(f, &op->npdir->u.dir, op->newname, op->newlen);
	op->dst = op->de ? mem_inode_get(f, op->de->ino) : NULL;
	if (!op->src || (op->de && !op->dst))
		return -EUCLEAN;   /* cannot happen: entries hold their inodes */
	if ((flags & SM_RENAME_NOREPLACE) && op->dst)
		return -EEXIST;
	if ((flags & SM_RENAME_EXCHANGE) && !op->dst)
		return -ENOENT;
	if (op->dst == op->src)
		return 1;
	if (op->npdir->nlink == 0)
		return -ENOENT;    /* the new parent was removed */
	op->sdir = S_ISDIR(op->src->mode);
	op->ddir = op->dst && S_ISDIR(op->dst->mode);

	/* may_delete / may_create: append-only directories keep their
	 * entries; immutable or append-only inodes keep their names. */
	ret = mem_check_modify(op->pdir, false);
	if (!ret)
		ret = mem_check_modify(op->npdir, !op->dst);
	if (!ret)
		ret = mem_check_modify(op->src, false);
	if (!ret && op->dst)
		ret = mem_check_modify(op->dst, false);
	if (ret)
		return ret;

	if (!(flags & SM_RENAME_EXCHANGE) && op->dst) {
		if (op->sdir && !op->ddir)
			return -ENOTDIR;
		if (!op->sdir && op->ddir)
			return -EISDIR;
		if (op->ddir && op->dst->u.dir.count)
			return -ENOTEMPTY;
	}
	/* A directory cannot move below itself (rename(2): EINVAL). */
	if (op->pdir != op->npdir) {
		if (op->sdir && is_ancestor(f, op->src, op->npdir->ino))
			return -EINVAL;
		if ((flags & SM_RENAME_EXCHANGE) && op->ddir &&
		    is_ancestor(f, op->dst, op->pdir->ino))
			return -EINVAL;
	}
	return 0;
}

int sm_rename(struct sm_fs *f, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, unsigned flags)
{
	struct rename_op op;
	size_t len;
	int ret;

	memset(&op, 0, sizeof(op));
	op.newname = newname;
	MEM_LOCK(f);
	ret = mem_check_rw(f);
	if (ret)
		goto out;
	if ((flags & ~(unsigned)(SM_RENAME_NOREPLACE | SM_RENAME_EXCHANGE)) ||
	    ((flags & SM_RENAME_NOREPLACE) && (flags & SM_RENAME_EXCHANGE))) {
		ret = -EINVAL;
		goto out;
	}
	ret = mem_check_name(name, &len);
	if (!ret)
		ret = mem_check_name(newname, &op.newlen);
	if (ret)
		goto out;
	/* As renameat2 on "." or "..": busy, or "exists" under NOREPLACE. */
	if (is_dot(name, len) || is_dotdot(name, len) ||
	    is_dot(newname, op.newlen) || is_dotdot(newname, op.newlen)) {
		ret = (flags & SM_RENAME_NOREPLACE) ? -EEXIST : -EBUSY;
		goto out;
	}
	ret = check_rename(f, &op, parent, name, len, newparent, flags);
	if (ret) {
		if (ret > 0)
			ret = 0;
		goto out;
	}
	if (flags & SM_RENAME_EXCHANGE)
		do_exchange(&op);
	else
		ret = do_move(f, &op);
out:
	MEM_UNLOCK(f);
	return ret;
}
