/* rename(2) and renameat2's RENAME_NOREPLACE / RENAME_EXCHANGE.
 *
 * Order of work: every check first, then the new entry (added, or an
 * existing one rewritten in place so it can never run out of space), then
 * the old entry goes, then ".." of a moved directory, link counts and times.
 * A failure before the old entry is removed leaves the tree as it was.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "ext4_private.h"

/* Deeper than this, a ".." walk is taken to be a loop in a corrupt image. */
#define EXT4_MAX_DIR_DEPTH 65536u

static bool is_dot_name(const char *name, size_t len)
{
	return (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.');
}

/* Is `anc` the directory `start` or one of its ancestors?  1, 0 or -errno. */
static int is_ancestor(struct sm_fs *f, ext2_ino_t anc, ext2_ino_t start)
{
	ext2_ino_t cur = start;
	for (unsigned depth = 0; depth < EXT4_MAX_DIR_DEPTH; depth++) {
		if (cur == anc)
			return 1;
		if (cur == EXT2_ROOT_INO)
			return 0;
		ext2_ino_t up;
		int ret = ext4_dir_lookup(f, cur, "..", 2, &up);
		if (ret == -ENOENT || ret == -ENOTDIR)
			return -EUCLEAN;   /* a directory without a usable ".." */
		if (ret)
			return ret;
		if (up == cur)
			return -EUCLEAN;
		cur = up;
	}
	return -EUCLEAN;
}

struct rename_op {
	ext2_ino_t parent, newparent, src, dst;
	const char *name, *newname;
	size_t len, newlen;
	struct ext2_inode_large sinode, dinode;
	bool exists, sdir, ddir;
};

/* Take one link away from a replaced target; the last one drops it
 * (open files keep their data on the orphan list). */
static int drop_target(struct sm_fs *f, struct rename_op *op)
{
	struct ext2_inode_large inode;
	int ret = ext4_read_inode(f, op->dst, &inode);
	if (ret)
		return ret;
	if (op->ddir || inode.i_links_count <= 1)
		inode.i_links_count = 0;   /* an empty directory goes entirely */
	else
		inode.i_links_count--;
	ext4_touch(&inode, false);
	/* A replaced directory's cache must not outlive its inode. */
	if (op->ddir)
		ext4_dircache_drop(f, op->dst);
	if (inode.i_links_count == 0)
		return ext4_drop_inode(f, op->dst, &inode);
	return ext4_write_inode(f, op->dst, &inode);
}

/* rename(2) moves an inode's name: its ctime changes, as on Linux ext4. */
static int touch_inode(struct sm_fs *f, ext2_ino_t ino)
{
	struct ext2_inode_large inode;
	int ret = ext4_read_inode(f, ino, &inode);
	if (ret)
		return ret;
	ext4_touch(&inode, false);
	return ext4_write_inode(f, ino, &inode);
}

/* Both parents changed; dp/dnp move their link counts (".." entries). */
static int parents_changed(struct sm_fs *f, const struct rename_op *op, int dp, int dnp)
{
	if (op->parent == op->newparent)
		return ext4_dir_changed(f, op->parent, dp + dnp);
	int ret = ext4_dir_changed(f, op->parent, dp);
	if (ret)
		return ret;
	return ext4_dir_changed(f, op->newparent, dnp);
}

static int do_move(struct sm_fs *f, struct rename_op *op)
{
	int ret;

	if (op->exists)
		ret = ext4_dir_set_entry(f, op->newparent, op->newname, op->newlen, op->dst,
					 op->src, op->sinode.i_mode);
	else
		ret = ext4_dir_add(f, op->newparent, op->newname, op->src, op->sinode.i_mode);
	if (ret)
		return ret;
	ret = ext4_dir_remove(f, op->parent, op->name, op->src);
	if (ret) {
		/* Put the target back as it was rather than leave two names. */
		if (op->exists)
			(void)ext4_dir_set_entry(f, op->newparent, op->newname, op->newlen,
						 op->src, op->dst, op->dinode.i_mode);
		else
			(void)ext4_dir_remove(f, op->newparent, op->newname, op->src);
		return ret;
	}

	int dp = 0, dnp = 0;
	if (op->sdir && op->parent != op->newparent) {
		ret = ext4_dir_set_entry(f, op->src, "..", 2, 0, op->newparent, S_IFDIR);
		if (ret)
			return ret == -ENOENT ? -EUCLEAN : ret;
		dp = -1;
		dnp = +1;
	}
	if (op->exists) {
		ret = drop_target(f, op);
		if (ret)
			return ret;
		if (op->ddir)
			dnp -= 1;          /* the target's ".." is gone */
	}
	ret = touch_inode(f, op->src);
	if (ret)
		return ret;
	return parents_changed(f, op, dp, dnp);
}

static int do_exchange(struct sm_fs *f, struct rename_op *op)
{
	int ret = ext4_dir_set_entry(f, op->parent, op->name, op->len, op->src, op->dst,
				     op->dinode.i_mode);
	if (ret)
		return ret;
	ret = ext4_dir_set_entry(f, op->newparent, op->newname, op->newlen, op->dst, op->src,
				 op->sinode.i_mode);
	if (ret) {
		(void)ext4_dir_set_entry(f, op->parent, op->name, op->len, op->dst, op->src,
					 op->sinode.i_mode);
		return ret;
	}
	int dp = 0, dnp = 0;
	if (op->parent != op->newparent) {
		if (op->sdir) {
			ret = ext4_dir_set_entry(f, op->src, "..", 2, 0, op->newparent, S_IFDIR);
			if (ret)
				return ret == -ENOENT ? -EUCLEAN : ret;
			dp -= 1;
			dnp += 1;
		}
		if (op->ddir) {
			ret = ext4_dir_set_entry(f, op->dst, "..", 2, 0, op->parent, S_IFDIR);
			if (ret)
				return ret == -ENOENT ? -EUCLEAN : ret;
			dp += 1;
			dnp -= 1;
		}
	}
	ret = touch_inode(f, op->src);
	if (!ret)
		ret = touch_inode(f, op->dst);
	if (ret)
		return ret;
	return parents_changed(f, op, dp, dnp);
}

/* Everything that can refuse the rename, before anything changes. */
static int check_rename(struct sm_fs *f, struct rename_op *op, unsigned flags)
{
	struct ext2_inode_large pdir, npdir;
	int ret;

	ret = ext4_read_inode(f, op->parent, &pdir);
	if (!ret && !LINUX_S_ISDIR(pdir.i_mode))
		ret = -ENOTDIR;
	if (ret)
		return ret;
	ret = ext4_read_inode(f, op->newparent, &npdir);
	if (!ret && !LINUX_S_ISDIR(npdir.i_mode))
		ret = -ENOTDIR;
	if (ret)
		return ret;
	ret = ext4_dir_lookup(f, op->parent, op->name, op->len, &op->src);
	if (ret)
		return ret;
	ret = ext4_read_child(f, op->src, &op->sinode);
	if (ret)
		return ret;
	ret = ext4_dir_lookup(f, op->newparent, op->newname, op->newlen, &op->dst);
	if (ret && ret != -ENOENT)
		return ret;
	op->exists = ret == 0;
	if (op->exists) {
		ret = ext4_read_child(f, op->dst, &op->dinode);
		if (ret)
			return ret;
	}
	if ((flags & SM_RENAME_NOREPLACE) && op->exists)
		return -EEXIST;
	if ((flags & SM_RENAME_EXCHANGE) && !op->exists)
		return -ENOENT;
	/* Two names of one inode: rename(2) does nothing, successfully. */
	if (op->exists && op->dst == op->src)
		return 1;
	if (npdir.i_links_count == 0)
		return -ENOENT;            /* the new parent was removed */

	op->sdir = LINUX_S_ISDIR(op->sinode.i_mode);
	op->ddir = op->exists && LINUX_S_ISDIR(op->dinode.i_mode);

	/* may_delete / may_create: append-only directories keep their
	 * entries; immutable or append-only inodes keep their names. */
	ret = ext4_check_modify(&pdir, false);
	if (!ret)
		ret = ext4_check_modify(&npdir, !op->exists);
	if (!ret)
		ret = ext4_check_modify(&op->sinode, false);
	if (!ret && op->exists)
		ret = ext4_check_modify(&op->dinode, false);
	if (ret)
		return ret;

	if (!(flags & SM_RENAME_EXCHANGE) && op->exists) {
		if (op->sdir && !op->ddir)
			return -ENOTDIR;
		if (!op->sdir && op->ddir)
			return -EISDIR;
		if (op->ddir) {
			ret = ext4_dir_is_empty(f, op->dst);
			if (ret < 0)
				return ret;
			if (ret == 0)
				return -ENOTEMPTY;
		}
	}

	if (op->parent != op->newparent) {
		/* A directory cannot move below itself (rename(2): EINVAL). */
		if (op->sdir) {
			ret = is_ancestor(f, op->src, op->newparent);
			if (ret)
				return ret < 0 ? ret : -EINVAL;
		}
		if ((flags & SM_RENAME_EXCHANGE) && op->ddir) {
			ret = is_ancestor(f, op->dst, op->parent);
			if (ret)
				return ret < 0 ? ret : -EINVAL;
		}
		/* The directory that gains a subdirectory needs room for its "..". */
		if (op->sdir && !op->ddir) {
			ret = ext4_dir_nlink_check(f, &npdir);
			if (ret)
				return ret;
		}
		if ((flags & SM_RENAME_EXCHANGE) && op->ddir && !op->sdir) {
			ret = ext4_dir_nlink_check(f, &pdir);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int sm_rename(struct sm_fs *f, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, unsigned flags)
{
	struct rename_op op;
	int ret;

	memset(&op, 0, sizeof(op));
	op.parent = (ext2_ino_t)parent;
	op.newparent = (ext2_ino_t)newparent;
	op.name = name;
	op.newname = newname;

	EXT4_LOCK(f);
	ret = ext4_check_rw(f);
	if (ret)
		goto out;
	if ((flags & ~(unsigned)(SM_RENAME_NOREPLACE | SM_RENAME_EXCHANGE)) ||
	    ((flags & SM_RENAME_NOREPLACE) && (flags & SM_RENAME_EXCHANGE))) {
		ret = -EINVAL;
		goto out;
	}
	ret = ext4_check_name(name, &op.len);
	if (!ret)
		ret = ext4_check_name(newname, &op.newlen);
	if (ret)
		goto out;
	/* As renameat2 on "." or "..": busy, or "exists" under NOREPLACE. */
	if (is_dot_name(name, op.len) || is_dot_name(newname, op.newlen)) {
		ret = (flags & SM_RENAME_NOREPLACE) ? -EEXIST : -EBUSY;
		goto out;
	}
	ret = check_rename(f, &op, flags);
	if (ret) {
		if (ret > 0)
			ret = 0;
		goto out;
	}
	if (flags & SM_RENAME_EXCHANGE)
		ret = do_exchange(f, &op);
	else
		ret = do_move(f, &op);
out:
	EXT4_UNLOCK(f);
	return ret;
}
