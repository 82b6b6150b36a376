/* fallocate (allocate, KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE) and
 * SEEK_DATA/SEEK_HOLE: the operations on a file's block map rather than
 * on its bytes.  Shares the data helpers of ext4_data.c (ext4_data.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ext4_data.h"

/* ---- fallocate ---- */

/* Zero the partial blocks at the edges of [off, end) in place and return
 * the whole blocks inside it as [*first, *last_excl). */
static int zero_edges(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
		      uint64_t off, uint64_t end, blk64_t *first, blk64_t *last_excl)
{
	uint64_t bs = f->fs->blocksize;
	int ret = 0;

	*first = (off + bs - 1) / bs;
	*last_excl = end / bs;
	if (off / bs == (end - 1) / bs) {
		/* Both edges in one block. */
		if (off % bs || end % bs)
			return ext4_zero_in_block(f, ino, inode, off / bs, (unsigned)(off % bs),
					     (unsigned)((end - 1) % bs + 1));
		return 0;
	}
	if (off % bs)
		ret = ext4_zero_in_block(f, ino, inode, off / bs, (unsigned)(off % bs), (unsigned)bs);
	if (!ret && end % bs)
		ret = ext4_zero_in_block(f, ino, inode, end / bs, 0, (unsigned)(end % bs));
	return ret;
}

static int punch_range(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
		       blk64_t first, blk64_t last_excl)
{
	if (first >= last_excl)
		return 0;
	return ext4_punch(f, ino, inode, first, last_excl - 1);
}

static int falloc_punch(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
			uint64_t off, uint64_t len)
{
	uint64_t bs = f->fs->blocksize;
	uint64_t size = ext4_isize(inode);
	uint64_t end = off + len;
	blk64_t first, last_excl;
	int ret;

	/* The kernel punches nothing at or past EOF, and past EOF only up to
	 * the end of the block holding it (preallocation beyond stays). */
	if (off >= size)
		return 0;
	uint64_t eof_end = (size + bs - 1) / bs * bs;
	if (end > eof_end)
		end = eof_end;
	ret = zero_edges(f, ino, inode, off, end, &first, &last_excl);
	if (!ret)
		ret = punch_range(f, ino, inode, first, last_excl);
	if (ret) {
		(void)ext4_read_inode(f, ino, inode);
		return ret;
	}
	ext4_touch(inode, true);
	return ext4_write_inode(f, ino, inode);
}

/* Allocate [off, off+len) as unwritten extents (reading as zeros), leaving
 * already-mapped blocks alone. */
static int alloc_range(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
		       uint64_t off, uint64_t end)
{
	uint64_t bs = f->fs->blocksize;
	blk64_t start = off / bs;
	blk64_t count = (end + bs - 1) / bs - start;
	errcode_t err = ext2fs_fallocate(f->fs, 0, ino, (struct ext2_inode *)inode, ~0ULL,
					 start, count);
	return ext4_err(err);
}

static int falloc_zero(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
		       uint64_t off, uint64_t len, bool keep_size)
{
	uint64_t size = ext4_isize(inode);
	uint64_t end = off + len;
	blk64_t first, last_excl;
	int ret, wret;

	ret = zero_edges(f, ino, inode, off, end, &first, &last_excl);
	if (!ret)
		ret = punch_range(f, ino, inode, first, last_excl);
	if (!ret)
		ret = alloc_range(f, ino, inode, off, end);
	/* ext2fs_fallocate updates i_blocks in our copy without writing it:
	 * write it even after a failure, or the counts go wrong. */
	if (!ret && !keep_size && end > size)
		ret = ext4_set_isize(f, inode, end);
	ext4_touch(inode, true);
	wret = ext4_write_inode(f, ino, inode);
	return ret ? ret : wret;
}

static int falloc_alloc(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
			uint64_t off, uint64_t len, bool keep_size)
{
	uint64_t size = ext4_isize(inode);
	uint64_t end = off + len;
	int ret, wret;
	bool grow = false;

	ret = alloc_range(f, ino, inode, off, end);
	if (!ret && !keep_size && end > size) {
		ret = ext4_set_isize(f, inode, end);
		grow = !ret;
	}
	/* Like ext4_alloc_file_blocks(): ctime always, mtime when i_size
	 * moved. */
	ext4_touch(inode, grow);
	wret = ext4_write_inode(f, ino, inode);
	return ret ? ret : wret;
}

int sm_fallocate(struct sm_fs *f, uint64_t ino, int mode, uint64_t off, uint64_t len)
{
	struct ext2_inode_large inode;
	const int known = SM_FALLOC_KEEP_SIZE | SM_FALLOC_PUNCH_HOLE | SM_FALLOC_ZERO_RANGE;
	bool keep = (mode & SM_FALLOC_KEEP_SIZE) != 0;
	int ret;

	/* vfs_fallocate()'s checks, in its order. */
	if (mode & ~known)
		return -EOPNOTSUPP;
	if ((mode & SM_FALLOC_PUNCH_HOLE) && (mode & SM_FALLOC_ZERO_RANGE))
		return -EOPNOTSUPP;
	if ((mode & SM_FALLOC_PUNCH_HOLE) && !keep)
		return -EOPNOTSUPP;
	if (len == 0 || off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX)
		return -EINVAL;

	/* Punch and zero-range free blocks a reader may be reading. */
	EXT4_DATA_WRLOCK(f, ino);
	EXT4_LOCK(f);
	ret = ext4_check_rw(f);
	if (ret)
		goto out_unlock;
	ret = ext4_read_inode(f, (ext2_ino_t)ino, &inode);
	if (ret)
		goto out_unlock;
	if (LINUX_S_ISDIR(inode.i_mode)) {
		ret = -EISDIR;
		goto out_unlock;
	}
	if (!LINUX_S_ISREG(inode.i_mode)) {
		ret = -ENODEV;
		goto out_unlock;
	}
	/* Immutable: never.  Append-only: only plain allocation. */
	ret = ext4_check_modify(&inode, (mode & ~SM_FALLOC_KEEP_SIZE) == 0);
	if (ret)
		goto out_unlock;
	/* s_maxbytes of the kernel is the extent limit, whatever the inode. */
	struct ext2_inode_large probe = inode;
	probe.i_flags |= EXT4_EXTENTS_FL;
	if (off + len > ext4_max_file_size(f, &probe) || off + len < off) {
		ret = -EFBIG;
		goto out_unlock;
	}

	if (ext4_is_inline(&inode)) {
		ret = ext4_convert_inline(f, (ext2_ino_t)ino, &inode);
		if (ret)
			goto out_unlock;
	}
	if (mode & SM_FALLOC_PUNCH_HOLE) {
		/* Works on block-mapped files too, as in the kernel. */
		ret = falloc_punch(f, (ext2_ino_t)ino, &inode, off, len);
		goto out_unlock;
	}
	/* The kernel preallocates only in extent-mapped files. */
	if (!ext4_is_extents(&inode)) {
		ret = -EOPNOTSUPP;
		goto out_unlock;
	}
	if (!keep && off + len > ext4_max_file_size(f, &inode)) {
		ret = -EFBIG;
		goto out_unlock;
	}
	if (mode & SM_FALLOC_ZERO_RANGE)
		ret = falloc_zero(f, (ext2_ino_t)ino, &inode, off, len, keep);
	else
		ret = falloc_alloc(f, (ext2_ino_t)ino, &inode, off, len, keep);
out_unlock:
	EXT4_UNLOCK(f);
	EXT4_DATA_UNLOCK(f, ino);
	return ret;
}

/* ---- SEEK_DATA / SEEK_HOLE ---- */

/* First block >= lblk that holds data (want_data) or is a hole, walking
 * the extent leaves.  Unwritten extents count as holes: with no page cache
 * here, that is what the kernel reports for them too. *res is ~0 if no
 * data follows. */
static int seek_extents(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
			blk64_t lblk, bool want_data, blk64_t *res)
{
	struct ext4_leaf_walk w;
	struct ext2fs_extent ext;
	blk64_t pos = lblk;
	int ret = ext4_leaf_walk_start(f, ino, inode, lblk, DATA_MAX_SEEK_STEPS, &w);

	if (ret)
		return ret;
	for (;;) {
		ret = ext4_leaf_next(&w, &ext);
		if (ret <= 0) {
			if (ret == 0)
				*res = want_data ? ~0ULL : pos;
			break;
		}
		ret = 0;
		uint64_t ext_end = ext.e_lblk + (uint64_t)ext.e_len;
		if (ext_end <= pos)
			continue;
		if (want_data) {
			if (!(ext.e_flags & EXT2_EXTENT_FLAGS_UNINIT)) {
				*res = ext.e_lblk > pos ? ext.e_lblk : pos;
				break;
			}
		} else {
			if (ext.e_lblk > pos || (ext.e_flags & EXT2_EXTENT_FLAGS_UNINIT)) {
				*res = pos;
				break;
			}
			pos = ext_end;
		}
	}
	ext4_leaf_walk_end(&w);
	return ret;
}

struct seek_map_ctx {
	blk64_t start;
	blk64_t pos;       /* SEEK_HOLE: next block expected to be mapped */
	bool want_data;
	bool found;
};

static int seek_map_cb(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
		       blk64_t ref_blk, int ref_offset, void *priv)
{
	struct seek_map_ctx *c = priv;

	(void)fs; (void)blocknr; (void)ref_blk; (void)ref_offset;
	if (blockcnt < 0 || (blk64_t)blockcnt < c->start)
		return 0;
	if (c->want_data) {
		c->pos = (blk64_t)blockcnt;
		c->found = true;
		return BLOCK_ABORT;
	}
	if ((blk64_t)blockcnt != c->pos) {
		c->found = true;
		return BLOCK_ABORT;
	}
	c->pos++;
	return 0;
}

/* Block-mapped files: the iterator visits mapped data blocks in logical
 * order and skips unmapped indirect subtrees, so this costs the number of
 * mapped blocks, not the file size. */
static int seek_blockmap(struct sm_fs *f, ext2_ino_t ino, blk64_t lblk, bool want_data,
			 blk64_t *res)
{
	struct seek_map_ctx c = { .start = lblk, .pos = lblk, .want_data = want_data };
	errcode_t err = ext2fs_block_iterate3(f->fs, ino, BLOCK_FLAG_READ_ONLY | BLOCK_FLAG_DATA_ONLY,
					      NULL, seek_map_cb, &c);
	if (err)
		return ext4_err(err);
	if (want_data)
		*res = c.found ? c.pos : ~0ULL;
	else
		*res = c.pos;
	return 0;
}

int64_t sm_lseek(struct sm_fs *f, uint64_t ino, uint64_t off, int whence)
{
	struct ext2_inode_large inode;
	bool want_data = whence == SEEK_DATA;
	int64_t ret;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	EXT4_LOCK(f);
	ret = ext4_read_regular(f, (ext2_ino_t)ino, &inode);
	if (ret)
		goto out_unlock;
	uint64_t size = ext4_isize(&inode);
	uint64_t bs = f->fs->blocksize;
	if (off >= size) {
		ret = -ENXIO;
		goto out_unlock;
	}
	if (ext4_is_inline(&inode)) {
		/* All of an inline file is data. */
		ret = want_data ? (int64_t)off : (int64_t)size;
		goto out_unlock;
	}
	blk64_t lblk = off / bs, res = 0;
	int r = ext4_is_extents(&inode) ?
		seek_extents(f, (ext2_ino_t)ino, &inode, lblk, want_data, &res) :
		seek_blockmap(f, (ext2_ino_t)ino, lblk, want_data, &res);
	if (r) {
		ret = r;
		goto out_unlock;
	}
	uint64_t pos;
	if (res == ~0ULL)
		pos = UINT64_MAX;
	else
		pos = res == lblk ? off : (uint64_t)res * bs;
	if (want_data)
		ret = pos >= size ? -ENXIO : (int64_t)pos;
	else
		ret = (int64_t)(pos < size ? pos : size);
out_unlock:
	EXT4_UNLOCK(f);
	return ret;
}
