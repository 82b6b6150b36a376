/* Freeing inodes, and ext4's orphan list.
 *
 * An inode whose last name goes while it is still open stays allocated on
 * the superblock's orphan chain (s_last_orphan, continued through i_dtime of
 * each member, as the kernel keeps it) until the last release.  After a
 * crash the chain tells the next rw mount what to free; a clean close
 * leaves it empty.  The chain in an image is hostile: it is walked with a
 * bound, and checked whole before anything on it is freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ext4_private.h"

static int read_raw(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	if (ext4_check_ino(f, ino))
		return -EUCLEAN;
	memset(inode, 0, sizeof(*inode));
	errcode_t err = ext2fs_read_inode_full(f->fs, ino, (struct ext2_inode *)inode,
					       sizeof(*inode));
	return ext4_err(err);
}

/* Unhook ino (whose successor is `next`) from the chain, if it is on it. */
static int orphan_remove(struct sm_fs *f, ext2_ino_t ino, ext2_ino_t next)
{
	struct ext2_super_block *sb = f->fs->super;
	struct ext2_inode_large cur_inode;
	ext2_ino_t prev = 0, cur = sb->s_last_orphan;
	int ret;

	for (unsigned n = 0; cur; n++) {
		if (n >= EXT4_MAX_ORPHANS)
			return -EUCLEAN;
		if (cur == ino) {
			if (prev == 0) {
				sb->s_last_orphan = next;
				ext2fs_mark_super_dirty(f->fs);
				return 0;
			}
			ret = read_raw(f, prev, &cur_inode);
			if (ret)
				return ret;
			cur_inode.i_dtime = next;
			return ext4_write_inode(f, prev, &cur_inode);
		}
		ret = read_raw(f, cur, &cur_inode);
		if (ret)
			return ret;
		prev = cur;
		cur = cur_inode.i_dtime;
	}
	return 0;
}

struct ea_names {
	char **names;
	size_t count, cap;
	bool nomem;
};

static int collect_ea_name(char *name, char *value, size_t value_len, void *data)
{
	struct ea_names *n = data;
	(void)value; (void)value_len;
	if (n->count == n->cap) {
		size_t ncap = n->cap ? n->cap * 2 : 8;
		char **nn = realloc(n->names, ncap * sizeof(*nn));
		if (!nn)
			goto nomem;
		n->names = nn;
		n->cap = ncap;
	}
	n->names[n->count] = strdup(name);
	if (!n->names[n->count])
		goto nomem;
	n->count++;
	return 0;
nomem:
	n->nomem = true;
	return XATTR_ABORT;
}

/* With ea_inode, large values live in inodes of their own, referenced by
 * count: ext2fs_free_ext_attr only drops the EA block, so the attributes
 * are removed one by one (ext2fs_xattr_remove drops the value inodes' refs).
 * The inode on disk changes; *inode is re-read, keeping links and times. */
static int drop_ea_inodes(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	ext2_filsys fs = f->fs;
	struct ext2_xattr_handle *h = NULL;
	struct ea_names n = { 0 };
	unsigned int raw = XATTR_HANDLE_FLAG_RAW;
	errcode_t err;
	int ret;

	if (!ext2fs_has_feature_ea_inode(fs->super))
		return 0;
	ret = ext4_write_inode(f, ino, inode);
	if (ret)
		return ret;
	err = ext2fs_xattrs_open(fs, ino, &h);
	if (err)
		return ext4_err(err);
	/* raw: names and values as stored, no ACL conversion */
	ext2fs_xattrs_flags(h, &raw, NULL);
	err = ext2fs_xattrs_read(h);
	if (!err)
		err = ext2fs_xattrs_iterate(h, collect_ea_name, &n);
	if (!err && n.nomem)
		err = EXT2_ET_NO_MEMORY;
	for (size_t i = 0; !err && i < n.count; i++)
		err = ext2fs_xattr_remove(h, n.names[i]);
	for (size_t i = 0; i < n.count; i++)
		free(n.names[i]);
	free(n.names);
	ext2fs_xattrs_close(&h);
	if (err)
		return ext4_err(err);
	memset(inode, 0, sizeof(*inode));
	err = ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)inode, sizeof(*inode));
	return ext4_err(err);
}

int ext4_drop_inode(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	struct ext2_super_block *sb = f->fs->super;

	if (ext4_open_count(f, ino) == 0)
		return ext4_free_inode(f, ino, inode);
	/* Still open: to the head of the chain, so that a crash before the
	 * last release still frees it. */
	inode->i_dtime = sb->s_last_orphan;
	int ret = ext4_write_inode(f, ino, inode);
	if (ret)
		return ret;
	sb->s_last_orphan = ino;
	ext2fs_mark_super_dirty(f->fs);
	return 0;
}

int ext4_free_inode(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	ext2_filsys fs = f->fs;
	errcode_t err;
	int ret;

	if (f->read_only)
		return -EROFS;
	if (f->fs->super->s_last_orphan) {
		/* Only a chain member has a successor in i_dtime. */
		ret = orphan_remove(f, ino, inode->i_dtime);
		if (ret)
			return ret;
	}
	inode->i_links_count = 0;
	/* Device numbers, fast symlink text and inline data are not block
	 * maps: ext2fs_inode_has_valid_blocks2 tells which inodes have one. */
	if (ext2fs_inode_has_valid_blocks2(fs, (struct ext2_inode *)inode)) {
		ret = ext4_punch(f, ino, inode, 0, ~0ULL);
		if (ret)
			return ret;
	}
	ret = drop_ea_inodes(f, ino, inode);
	if (ret)
		return ret;
	err = ext2fs_free_ext_attr(fs, ino, inode);
	if (err)
		return ext4_err(err);
	if (!LINUX_S_ISDIR(inode->i_mode)) {
		err = ext2fs_inode_size_set(fs, (struct ext2_inode *)inode, 0);
		if (err)
			return ext4_err(err);
	}
	/* A real time, never a value that could read as an orphan link. */
	inode->i_dtime = (uint32_t)ext4_now().tv_sec;
	ret = ext4_write_inode(f, ino, inode);
	if (ret)
		return ret;
	/* A bitmap that already calls it free would get its group counts
	 * skewed by a second release. */
	if (ext2fs_test_inode_bitmap2(fs->inode_map, ino))
		ext2fs_inode_alloc_stats2(fs, ino, -1, LINUX_S_ISDIR(inode->i_mode));
	return 0;
}

static bool valid_type(uint16_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		return true;
	default:
		return false;
	}
}

int ext4_process_orphans(struct sm_fs *f)
{
	ext2_filsys fs = f->fs;
	struct ext2_super_block *sb = fs->super;
	struct ext2_inode_large inode;
	ext2_ino_t cur;
	unsigned n;
	int ret;

	if (f->read_only || sb->s_last_orphan == 0)
		return 0;

	/* First the whole chain, read only: bounded (which also ends a
	 * cycle), every member an allocated inode of a known type.  A bad
	 * chain is reported before it made us free anything. */
	for (cur = sb->s_last_orphan, n = 0; cur; n++) {
		if (n >= EXT4_MAX_ORPHANS)
			return -EUCLEAN;
		ret = read_raw(f, cur, &inode);
		if (ret)
			return ret;
		if (!ext2fs_test_inode_bitmap2(fs->inode_map, cur) || !valid_type(inode.i_mode))
			return -EUCLEAN;
		cur = inode.i_dtime;
	}

	while ((cur = sb->s_last_orphan) != 0) {
		ret = read_raw(f, cur, &inode);
		if (ret)
			return ret;
		if (inode.i_links_count == 0) {
			/* Unlinked while open: free it (which unhooks the head). */
			ret = ext4_free_inode(f, cur, &inode);
			if (ret)
				return ret;
		} else {
			/* The kernel also chains inodes being truncated: finish
			 * the truncation to i_size and keep the inode. */
			sb->s_last_orphan = inode.i_dtime;
			ext2fs_mark_super_dirty(fs);
			inode.i_dtime = 0;
			ret = ext4_truncate(f, cur, &inode, ext4_isize(&inode));
			if (ret)
				return ret;
		}
		/* ext4_free_inode moved the head on; never loop on one inode. */
		if (sb->s_last_orphan == cur)
			return -EUCLEAN;
	}
	ext2fs_mark_super_dirty(fs);
	return 0;
}
