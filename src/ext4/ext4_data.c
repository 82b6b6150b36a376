/* File data: read, write, truncate, fallocate, SEEK_DATA/SEEK_HOLE, fsync.
 *
 * Block I/O goes through libext2fs' ext2_file_t (it maps extents, indirect
 * blocks and uninitialized extents, which read as zeros).  A file handle of
 * libext2fs keeps its own 128-byte copy of the inode and writes it back
 * behind our back (block allocation, size changes), so every path here
 * re-reads the inode after a libext2fs call that may have written it, and
 * never writes an older copy over a newer one.
 *
 * Inline data is handled here and not by ext2fs_file_read/write: in 1.47.0
 * those copy the inline area into a fixed-size buffer without checking its
 * size (an image can make system.data up to 64 KiB), and the inline write
 * path computes the wrong length for writes at a non-zero offset.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ext4_data.h"
#include "io/cache_io.h"

/* One libext2fs read/write call takes an unsigned int length. */
#define DATA_MAX_IO (1u << 30)

int ext4_regular_only(const struct ext2_inode_large *inode)
{
	if (LINUX_S_ISDIR(inode->i_mode))
		return -EISDIR;
	if (!LINUX_S_ISREG(inode->i_mode))
		return -EINVAL;
	return 0;
}

int ext4_read_regular(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	int ret = ext4_read_inode(f, ino, inode);
	return ret ? ret : ext4_regular_only(inode);
}

bool ext4_is_inline(const struct ext2_inode_large *inode)
{
	return (inode->i_flags & EXT4_INLINE_DATA_FL) != 0;
}

bool ext4_is_extents(const struct ext2_inode_large *inode)
{
	return (inode->i_flags & EXT4_EXTENTS_FL) != 0;
}

/* The kernel's ext4_max_size(): extent files are limited by the 32-bit
 * logical block number (less one block, so ee_len can reach the end), and
 * without huge_file by i_blocks counting 2^32 512-byte sectors. */
static uint64_t max_extent_size(unsigned bits, bool huge)
{
	uint64_t res = ((1ULL << 32) - 1) << bits;
	if (!huge) {
		uint64_t upper = ((1ULL << 32) - 1) >> (bits - 9);
		upper <<= bits;
		if (res > upper)
			res = upper;
	}
	return res;
}

/* The kernel's ext4_max_bitmap_size(): what the indirect tree can address,
 * lowered so that data plus indirect blocks fit in i_blocks. */
static uint64_t max_bitmap_size(unsigned bits, bool huge)
{
	uint64_t ppb = 1ULL << (bits - 2);
	uint64_t upper = huge ? (1ULL << 48) - 1 : ((1ULL << 32) - 1) >> (bits - 9);
	uint64_t res = EXT2_NDIR_BLOCKS + ppb + ppb * ppb + ppb * ppb * ppb;
	uint64_t meta = 1 + (1 + ppb) + (1 + ppb + ppb * ppb);

	if (res + meta > upper) {
		res = upper;
		upper -= EXT2_NDIR_BLOCKS;
		meta = 1;
		upper -= ppb;
		if (upper < ppb * ppb) {
			meta += 1 + (upper + ppb - 1) / ppb;
		} else {
			meta += 1 + ppb;
			upper -= ppb * ppb;
			meta += 1 + (upper + ppb - 1) / ppb + (upper + ppb * ppb - 1) / (ppb * ppb);
		}
		res -= meta;
	}
	res <<= bits;
	if (res > (uint64_t)INT64_MAX)
		res = (uint64_t)INT64_MAX;
	return res;
}

uint64_t ext4_max_file_size(const struct sm_fs *f, const struct ext2_inode_large *inode)
{
	struct ext2_super_block *sb = f->fs->super;
	unsigned bits = (unsigned)EXT2_BLOCK_SIZE_BITS(sb);
	bool huge = ext2fs_has_feature_huge_file(sb);

	/* Like the kernel: only inodes that are extent-mapped get s_maxbytes;
	 * block-mapped and inline inodes get s_bitmap_maxbytes. */
	if (ext4_is_extents(inode))
		return max_extent_size(bits, huge);
	return max_bitmap_size(bits, huge);
}

/* Punch [start, end] of a block-mapped (ext2/ext3) file one block at a
 * time.  libext2fs 1.47.0's ext2fs_punch_ind() is wrong for ranges that end
 * before EOF: it stops at an indirection-level boundary ("count > max"
 * instead of "start + count > max") and, below the double-indirect block,
 * frees up to the end of the indirect block (data loss past the range).
 * Indirect blocks left all-zero stay allocated, which is valid. */
static int punch_ind_blocks(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
			    blk64_t start, blk64_t end)
{
	ext2_filsys fs = f->fs;
	for (blk64_t l = start; l <= end; l++) {
		blk64_t p = 0, zero = 0;
		errcode_t err = ext2fs_bmap2(fs, ino, (struct ext2_inode *)inode, NULL, 0, l, NULL, &p);
		if (err)
			return ext4_err(err);
		if (!p)
			continue;
		if (p < fs->super->s_first_data_block || p >= ext2fs_blocks_count(fs->super))
			return -EUCLEAN;
		err = ext2fs_bmap2(fs, ino, (struct ext2_inode *)inode, NULL, BMAP_SET, l, NULL, &zero);
		if (err)
			return ext4_err(err);
		ext2fs_block_alloc_stats2(fs, p, -1);
		err = ext2fs_iblk_sub_blocks(fs, (struct ext2_inode *)inode, 1);
		if (err)
			return ext4_err(err);
	}
	return 0;
}

int ext4_punch(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
	       blk64_t start, blk64_t end)
{
	ext2_filsys fs = f->fs;
	blk64_t count = ext2fs_blocks_count(fs->super);
	bool bump = false;
	errcode_t err;

	/* Up to the end of the mapping (truncate) ext2fs_punch is right for
	 * block-mapped files too; a range that ends earlier is not. */
	if (!(inode->i_flags & (EXT4_EXTENTS_FL | EXT4_INLINE_DATA_FL)) && end < ~(blk64_t)0 &&
	    end <= (blk64_t)UINT32_MAX)
		return punch_ind_blocks(f, ino, inode, start, end);

	/* libext2fs 1.47.0's punch_extent_blocks() checks a freed run with
	 * "start + count >= blocks_count", one too strict, and only after
	 * it removed the extent: a file holding the last block of the
	 * filesystem would leak its blocks with EXT2_ET_BAD_BLOCK_NUM.
	 * While that block is in use, let the check see one more block.
	 * Nothing is allocated past the real end meanwhile: the bitmaps
	 * end where they did. */
	if ((inode->i_flags & EXT4_EXTENTS_FL) && count > 0 &&
	    ext2fs_test_block_bitmap2(fs->block_map, count - 1)) {
		ext2fs_blocks_count_set(fs->super, count + 1);
		bump = true;
	}
	err = ext2fs_punch(fs, ino, (struct ext2_inode *)inode, NULL, start, end);
	if (bump)
		ext2fs_blocks_count_set(fs->super, count);
	return ext4_err(err);
}

int ext4_set_isize(struct sm_fs *f, struct ext2_inode_large *inode, uint64_t size)
{
	return ext4_err(ext2fs_inode_size_set(f->fs, (struct ext2_inode *)inode, size));
}

/* Map logical block lblk; *pblk is 0 for a hole, and for an uninitialized
 * extent (which reads as zeros).  Block numbers outside the filesystem are
 * corruption. */
static int map_block(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
		     blk64_t lblk, blk64_t *pblk)
{
	ext2_filsys fs = f->fs;
	int ret_flags = 0;
	blk64_t p = 0;
	errcode_t err = ext2fs_bmap2(fs, ino, (struct ext2_inode *)inode, NULL, 0, lblk,
				     &ret_flags, &p);
	if (err)
		return ext4_err(err);
	if (p && (p < fs->super->s_first_data_block || p >= ext2fs_blocks_count(fs->super)))
		return -EUCLEAN;
	*pblk = (ret_flags & BMAP_RET_UNINIT) ? 0 : p;
	return 0;
}

/* Zero bytes [from, to) of logical block lblk on disk, if that block holds
 * data.  Keeps the promise that bytes past EOF read back as zeros once the
 * file grows over them (truncate, writes past EOF, punch edges). */
int ext4_zero_in_block(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
			 blk64_t lblk, unsigned from, unsigned to)
{
	ext2_filsys fs = f->fs;
	blk64_t pblk = 0;
	char *buf;
	int ret;

	if (from >= to)
		return 0;
	ret = map_block(f, ino, inode, lblk, &pblk);
	if (ret || !pblk)
		return ret;
	buf = malloc(fs->blocksize);
	if (!buf)
		return -ENOMEM;
	ret = ext4_err(io_channel_read_blk64(fs->io, pblk, 1, buf));
	if (ret)
		goto out_free;
	memset(buf + from, 0, to - from);
	ret = ext4_err(sm_io_write_data(fs->io, pblk, 1, buf));
out_free:
	free(buf);
	return ret;
}

/* The whole inline area (i_block plus system.data).  Its size comes from
 * the image, so ask first and allocate exactly that; libext2fs bounds the
 * xattr value at 64 KiB. */
static int inline_get(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
		      char **out, size_t *len)
{
	size_t size = 0, got = 0;
	errcode_t err;
	char *buf;

	err = ext2fs_inline_data_size(f->fs, ino, &size);
	if (err)
		return err == EXT2_ET_NO_INLINE_DATA ? -EUCLEAN : ext4_err(err);
	if (size < EXT4_MIN_INLINE_DATA_SIZE ||
	    size > EXT4_MIN_INLINE_DATA_SIZE + EXT4_MAX_XATTR_SIZE)
		return -EUCLEAN;
	buf = calloc(1, size);
	if (!buf)
		return -ENOMEM;
	err = ext2fs_inline_data_get(f->fs, ino, (struct ext2_inode *)inode, buf, &got);
	if (err || got != size) {
		free(buf);
		return err ? ext4_err(err) : -EUCLEAN;
	}
	*out = buf;
	*len = size;
	return 0;
}

/* libext2fs' ext2fs_xattr_inode_max_size() (also behind
 * ext2fs_inline_data_set() for more than 60 bytes) walks the in-inode
 * xattr entries until a zero word with no bound.  Check first that the
 * walk ends inside the inode; -EUCLEAN if not. */
static int check_ibody_xattrs(struct sm_fs *f, ext2_ino_t ino)
{
	ext2_filsys fs = f->fs;
	size_t isz = EXT2_INODE_SIZE(fs->super);
	unsigned char *raw;
	int ret = 0;

	if (isz <= EXT2_GOOD_OLD_INODE_SIZE + sizeof(uint32_t))
		return 0;
	raw = calloc(1, isz < sizeof(struct ext2_inode_large) ? sizeof(struct ext2_inode_large) : isz);
	if (!raw)
		return -ENOMEM;
	errcode_t err = ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)raw, (int)isz);
	if (err) {
		ret = ext4_err(err);
		goto out;
	}
	size_t extra = ((struct ext2_inode_large *)raw)->i_extra_isize;
	size_t off = EXT2_GOOD_OLD_INODE_SIZE + extra;
	uint32_t word;
	if (off + 2 * sizeof(uint32_t) > isz)
		goto out;
	memcpy(&word, raw + off, sizeof(word));
	if (word != EXT2_EXT_ATTR_MAGIC)
		goto out;
	ret = -EUCLEAN;
	for (off += sizeof(uint32_t); off + sizeof(uint32_t) <= isz;) {
		memcpy(&word, raw + off, sizeof(word));
		if (word == 0) {
			ret = 0;
			break;
		}
		if (off + sizeof(struct ext2_ext_attr_entry) > isz)
			break;
		off += EXT2_EXT_ATTR_LEN(((struct ext2_ext_attr_entry *)(raw + off))->e_name_len);
	}
out:
	free(raw);
	return ret;
}

/* The kernel stores the first small write of a new file inline when the
 * filesystem has inline_data.  An empty extent-mapped inode that never
 * had blocks is our "new file"; turn it inline if `end` bytes fit. */
static int maybe_start_inline(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
			      uint64_t end)
{
	ext2_filsys fs = f->fs;
	const struct ext3_extent_header *eh = (const void *)inode->i_block;
	size_t ea_max = 0;
	int ret;

	if (!ext2fs_has_feature_inline_data(fs->super) || !ext4_is_extents(inode) || ext4_is_inline(inode) ||
	    ext4_isize(inode) != 0 || inode->i_blocks != 0 || inode->osd2.linux2.l_i_blocks_hi ||
	    ext2fs_le16_to_cpu(eh->eh_entries) != 0 ||
	    EXT2_INODE_SIZE(fs->super) <= EXT2_GOOD_OLD_INODE_SIZE)
		return 0;
	if (end > EXT4_MIN_INLINE_DATA_SIZE) {
		ret = check_ibody_xattrs(f, ino);
		if (ret)
			return ret;
		if (ext2fs_xattr_inode_max_size(fs, ino, &ea_max) ||
		    end > EXT4_MIN_INLINE_DATA_SIZE + ea_max)
			return 0;
	}
	struct ext2_inode_large save = *inode;
	memset(inode->i_block, 0, sizeof(inode->i_block));
	inode->i_flags = (inode->i_flags & ~EXT4_EXTENTS_FL) | EXT4_INLINE_DATA_FL;
	ret = ext4_write_inode(f, ino, inode);
	if (!ret && ext2fs_inline_data_init(fs, ino) != 0) {
		/* No room for system.data after all: stay a block file. */
		*inode = save;
		ret = ext4_write_inode(f, ino, inode);
		return ret;
	}
	if (ret) {
		*inode = save;
		return ret;
	}
	return ext4_read_inode(f, ino, inode);
}

/* Turn an inline-data file into an ordinary (extent- or block-mapped) one
 * with the same contents and size, as the kernel does before a write that
 * no longer fits and before fallocate.  *inode is re-read. */
int ext4_convert_inline(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	ext2_filsys fs = f->fs;
	struct ext2_xattr_handle *h = NULL;
	ext2_file_t file = NULL;
	uint64_t isize = ext4_isize(inode);
	size_t cap = 0, len;
	char *buf = NULL;
	errcode_t err;
	int ret;

	ret = inline_get(f, ino, inode, &buf, &cap);
	if (ret)
		return ret;
	len = isize < cap ? (size_t)isize : cap;
	/* The inline copy is dropped before the block is allocated: make
	 * sure there is one, or a full filesystem would eat the data. */
	if (len && ext2fs_free_blocks_count(fs->super) < 1) {
		ret = -ENOSPC;
		goto out_free;
	}

	/* Drop system.data first: it may live in an EA block whose release
	 * changes i_file_acl and i_blocks, so re-read after. */
	err = ext2fs_xattrs_open(fs, ino, &h);
	if (!err)
		err = ext2fs_xattrs_read(h);
	if (!err)
		err = ext2fs_xattr_remove(h, "system.data");
	if (h)
		ext2fs_xattrs_close(&h);
	if (err) {
		ret = ext4_err(err);
		goto out_free;
	}
	ret = ext4_read_inode(f, ino, inode);
	if (ret)
		goto out_free;

	memset(inode->i_block, 0, sizeof(inode->i_block));
	inode->i_flags &= ~(EXT4_INLINE_DATA_FL | EXT4_EXTENTS_FL);
	if (ext2fs_has_feature_extents(fs->super)) {
		ext2_extent_handle_t eh;
		/* Opening an extent handle on an all-zero i_block writes an
		 * empty extent header into it and sets EXTENTS_FL. */
		err = ext2fs_extent_open2(fs, ino, (struct ext2_inode *)inode, &eh);
		if (err) {
			ret = ext4_err(err);
			goto out_free;
		}
		ext2fs_extent_free(eh);
	}
	inode->i_size = 0;
	inode->i_size_high = 0;
	ret = ext4_write_inode(f, ino, inode);
	if (ret)
		goto out_free;

	if (len) {
		unsigned int written = 0;
		err = ext2fs_file_open2(fs, ino, (struct ext2_inode *)inode, EXT2_FILE_WRITE, &file);
		if (!err)
			err = ext2fs_file_write(file, buf, (unsigned int)len, &written);
		if (file) {
			errcode_t cerr = ext2fs_file_close(file);
			if (!err)
				err = cerr;
		}
		if (!err && written != len)
			err = EXT2_ET_SHORT_WRITE;
		if (err) {
			ret = ext4_err(err);
			goto out_reread;
		}
	}
out_reread:
	{
		/* Whatever happened, the on-disk inode is the truth now. */
		int rret = ext4_read_inode(f, ino, inode);
		if (!ret)
			ret = rret;
	}
	if (!ret) {
		ret = ext4_set_isize(f, inode, isize);
		if (!ret)
			ret = ext4_write_inode(f, ino, inode);
	}
out_free:
	free(buf);
	return ret;
}

static int truncate_inline(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
			   uint64_t size)
{
	uint64_t old = ext4_isize(inode);
	uint64_t keep = size < old ? size : old;
	size_t cap = 0;
	char *buf = NULL;
	int ret;

	ret = inline_get(f, ino, inode, &buf, &cap);
	if (ret)
		return ret;
	if (keep < cap) {
		ret = check_ibody_xattrs(f, ino);
		if (ret)
			goto out;
		/* Bytes past the new EOF must read as zeros if the file grows
		 * again; and a smaller file gives system.data's space back. */
		size_t newlen = size < cap ? (size_t)size : cap;
		if (newlen < EXT4_MIN_INLINE_DATA_SIZE)
			newlen = EXT4_MIN_INLINE_DATA_SIZE;
		memset(buf + keep, 0, cap - (size_t)keep);
		errcode_t err = ext2fs_inline_data_set(f->fs, ino, (struct ext2_inode *)inode,
						       buf, newlen);
		if (err) {
			ret = ext4_err(err);
			goto out;
		}
		ret = ext4_read_inode(f, ino, inode);
		if (ret)
			goto out;
	}
	ret = ext4_set_isize(f, inode, size);
	if (!ret)
		ret = ext4_write_inode(f, ino, inode);
out:
	free(buf);
	return ret;
}

int ext4_truncate(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode, uint64_t size)
{
	ext2_filsys fs = f->fs;
	uint64_t bs = fs->blocksize;
	uint64_t old;
	int ret;

	ret = ext4_check_rw(f);
	if (ret)
		return ret;
	ret = ext4_regular_only(inode);
	if (ret)
		return ret;
	if (size > ext4_max_file_size(f, inode))
		return -EFBIG;
	if (ext4_is_inline(inode))
		return truncate_inline(f, ino, inode, size);

	old = ext4_isize(inode);
	if (size <= old) {
		/* Like the kernel, a truncate to the current size (or below)
		 * also drops blocks preallocated past EOF. */
		ret = ext4_zero_in_block(f, ino, inode, size / bs, (unsigned)(size % bs),
				    size % bs ? (unsigned)bs : 0);
		if (ret)
			return ret;
		ret = ext4_punch(f, ino, inode, (size + bs - 1) / bs, ~0ULL);
		if (ret) {
			/* ext2fs_punch may have freed part of the range and
			 * written the inode: keep our copy in step with it. */
			(void)ext4_read_inode(f, ino, inode);
			return ret;
		}
	} else if (old % bs) {
		/* Growing: the old last block may hold stale bytes past EOF. */
		ret = ext4_zero_in_block(f, ino, inode, old / bs, (unsigned)(old % bs), (unsigned)bs);
		if (ret)
			return ret;
	}
	ret = ext4_set_isize(f, inode, size);
	if (ret)
		return ret;
	return ext4_write_inode(f, ino, inode);
}

/* ---- read ---- */

static ssize_t read_inline(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
			   char *buf, size_t len, uint64_t off)
{
	size_t cap = 0;
	char *data = NULL;
	int ret = inline_get(f, ino, inode, &data, &cap);
	if (ret)
		return ret;
	/* Past the inline area but below i_size (a grown inline file) is a
	 * hole: zeros. */
	memset(buf, 0, len);
	if (off < cap) {
		size_t n = cap - (size_t)off;
		if (n > len)
			n = len;
		memcpy(buf, data + off, n);
	}
	free(data);
	return (ssize_t)len;
}

static ssize_t read_blocks(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
			   char *buf, size_t len, uint64_t off)
{
	ext2_file_t file;
	size_t done = 0;
	errcode_t err;

	err = ext2fs_file_open2(f->fs, ino, (struct ext2_inode *)inode, 0, &file);
	if (err)
		return ext4_err(err);
	err = ext2fs_file_llseek(file, off, EXT2_SEEK_SET, NULL);
	while (!err && done < len) {
		unsigned int want = len - done > DATA_MAX_IO ? DATA_MAX_IO : (unsigned int)(len - done);
		unsigned int got = 0;
		err = ext2fs_file_read(file, buf + done, want, &got);
		done += got;
		if (!got)
			break;
	}
	/* Opened read-only: close writes nothing back. */
	(void)ext2fs_file_close(file);
	if (err && done == 0)
		return ext4_err(err);
	return (ssize_t)done;
}

ssize_t sm_read(struct sm_fs *f, uint64_t ino, uint64_t fh, void *buf, size_t size, uint64_t off)
{
	struct ext2_inode_large inode;
	struct ext4_io_plan *plan = NULL;
	size_t len = 0;
	ssize_t ret;

	/* Extent files are read in two steps: their runs are mapped under
	 * fs->lock, the data is read after it, so reads of files proceed in
	 * parallel with each other and with metadata requests.  The data
	 * lock keeps those blocks from being freed or remapped meanwhile. */
	EXT4_DATA_RDLOCK(f, ino);
	EXT4_LOCK(f);
	ret = ext4_read_regular(f, (ext2_ino_t)ino, &inode);
	if (ret)
		goto out_unlock;
	uint64_t isize = ext4_isize(&inode);
	ret = 0;
	if (size == 0)
		goto out_unlock;
	if (off < isize) {
		len = isize - off < size ? (size_t)(isize - off) : size;
		if (ext4_is_inline(&inode))
			ret = read_inline(f, (ext2_ino_t)ino, &inode, buf, len, off);
		else if (ext4_is_extents(&inode))
			ret = ext4_plan_read(f, (ext2_ino_t)ino, &inode, len, off, &plan);
		else
			ret = read_blocks(f, (ext2_ino_t)ino, &inode, buf, len, off);
	}
	if (ret >= 0 && !(fh & EXT4_FH_NOATIME))
		(void)ext4_touch_atime(f, (ext2_ino_t)ino);
out_unlock:
	EXT4_UNLOCK(f);
	if (plan) {
		ret = ext4_run_read_plan(f, plan, buf, len, off);
		ext4_free_io_plan(plan);
	}
	EXT4_DATA_UNLOCK(f, ino);
	return ret;
}

/* ---- write ---- */

/* Try to keep a small file inline.  Returns 1 if the data went inline,
 * 0 if it does not fit (the caller converts the file), or -errno. */
static int write_inline(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
			const char *data, size_t size, uint64_t off)
{
	uint64_t old = ext4_isize(inode);
	uint64_t end = off + size;
	uint64_t newsize = end > old ? end : old;
	size_t cap = 0, len;
	char *cur = NULL, *buf;
	errcode_t err;
	int ret;

	/* The inline area never reaches a block; don't build huge buffers
	 * for writes that cannot stay inline anyway. */
	if (newsize >= f->fs->blocksize)
		return 0;
	ret = inline_get(f, ino, inode, &cur, &cap);
	if (ret)
		return ret;
	len = (size_t)newsize;
	if (len < EXT4_MIN_INLINE_DATA_SIZE)
		len = EXT4_MIN_INLINE_DATA_SIZE;
	buf = calloc(1, len);
	if (!buf) {
		free(cur);
		return -ENOMEM;
	}
	/* Old contents up to the old EOF, zeros after, then the new data. */
	size_t keep = old < cap ? (size_t)old : cap;
	if (keep > len)
		keep = len;
	memcpy(buf, cur, keep);
	memcpy(buf + off, data, size);
	free(cur);

	ret = check_ibody_xattrs(f, ino);
	if (ret) {
		free(buf);
		return ret;
	}
	err = ext2fs_inline_data_set(f->fs, ino, (struct ext2_inode *)inode, buf, len);
	free(buf);
	if (err == EXT2_ET_INLINE_DATA_NO_SPACE || err == EXT2_ET_EA_NO_SPACE) {
		/* Nothing (or only i_block, with the same old bytes) changed:
		 * re-read and let the caller convert. */
		ret = ext4_read_inode(f, ino, inode);
		return ret ? ret : 0;
	}
	if (err)
		return ext4_err(err);
	ret = ext4_read_inode(f, ino, inode);
	return ret ? ret : 1;
}

/* Write through ext2_file_t one block-sized piece at a time, flushing each,
 * so a failure (ENOSPC) leaves exactly `*done` bytes on disk. */
static int write_blocks(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
			const char *data, size_t size, uint64_t off, size_t *done)
{
	uint64_t bs = f->fs->blocksize;
	ext2_file_t file;
	errcode_t err;

	*done = 0;
	if (ext4_is_extents(inode))
		return ext4_write_extents(f, ino, inode, data, size, off, done);
	err = ext2fs_file_open2(f->fs, ino, (struct ext2_inode *)inode, EXT2_FILE_WRITE, &file);
	if (err)
		return ext4_err(err);
	err = ext2fs_file_llseek(file, off, EXT2_SEEK_SET, NULL);
	while (!err && *done < size) {
		uint64_t pos = off + *done;
		size_t chunk = (size_t)(bs - pos % bs);
		unsigned int wrote = 0;
		if (chunk > size - *done)
			chunk = size - *done;
		err = ext2fs_file_write(file, data + *done, (unsigned int)chunk, &wrote);
		if (!err && wrote != chunk)
			err = EXT2_ET_SHORT_WRITE;
		if (!err)
			err = ext2fs_file_flush(file);
		if (!err)
			*done += chunk;
	}
	errcode_t cerr = ext2fs_file_close(file);
	if (!err)
		err = cerr;
	return ext4_err(err);
}

/* Under fs->lock.  An overwrite of allocated, written blocks of an extent
 * file inside i_size only updates the inode here and returns its plan in
 * *plan: the caller moves the data after dropping fs->lock. */
static ssize_t do_write(struct sm_fs *f, ext2_ino_t ino, const char *data, size_t size,
			uint64_t off, struct ext4_io_plan **plan)
{
	struct ext2_inode_large inode;
	uint64_t bs = f->fs->blocksize;
	size_t done = 0;
	int ret;

	ret = ext4_check_rw(f);
	if (ret)
		return ret;
	ret = ext4_read_regular(f, ino, &inode);
	if (ret)
		return ret;
	/* Append-only is enforced by the kernel at open (O_APPEND); only
	 * immutable is refused here. */
	ret = ext4_check_modify(&inode, true);
	if (ret)
		return ret;
	if (size == 0)
		return 0;

	/* Like the kernel's write checks: starting at or past the limit is
	 * EFBIG, crossing it is a short write. */
	uint64_t max = ext4_max_file_size(f, &inode);
	if (off >= max)
		return -EFBIG;
	if (size > max - off)
		size = (size_t)(max - off);
	if (size > DATA_MAX_IO)
		size = DATA_MAX_IO;

	ret = maybe_start_inline(f, ino, &inode, off + size);
	if (ret)
		return ret;
	uint64_t old = ext4_isize(&inode);
	if (ext4_is_inline(&inode)) {
		ret = write_inline(f, ino, &inode, data, size, off);
		if (ret < 0)
			return ret;
		if (ret == 1) {
			done = size;
			goto out_update;
		}
		ret = ext4_convert_inline(f, ino, &inode);
		if (ret)
			return ret;
		/* Conversion may change the mapping type: recheck the limit. */
		max = ext4_max_file_size(f, &inode);
		if (off >= max)
			return -EFBIG;
		if (size > max - off)
			size = (size_t)(max - off);
	}

	uint64_t end = off + size;
	/* chattr +S files stay on the path below, which flushes. */
	if (end <= old && ext4_is_extents(&inode) && !(inode.i_flags & EXT2_SYNC_FL)) {
		ret = ext4_plan_overwrite(f, ino, &inode, size, off, plan);
		if (ret)
			return ret;
		if (*plan) {
			ext4_touch(&inode, true);
			ret = ext4_write_inode(f, ino, &inode);
			if (ret) {
				ext4_free_io_plan(*plan);
				*plan = NULL;
				return ret;
			}
			return (ssize_t)size;
		}
	}
	if (end > old && old % bs) {
		/* Bytes past the old EOF in its block must read as zeros once
		 * the file covers them (the kernel gets this from zeroing the
		 * page past i_size). */
		ret = ext4_zero_in_block(f, ino, &inode, old / bs, (unsigned)(old % bs), (unsigned)bs);
		if (ret)
			return ret;
	}
	if (end > old) {
		/* Give the file handle the final size up front: growing it
		 * block by block makes libext2fs re-read and re-write each
		 * new last block to zero its tail.  Fixed below if short. */
		ret = ext4_set_isize(f, &inode, end);
		if (ret)
			return ret;
	}

	ret = write_blocks(f, ino, &inode, data, size, off, &done);
	/* The file handle wrote its copy of the inode (block map, i_blocks,
	 * maybe i_size): ours is stale. */
	{
		int rret = ext4_read_inode(f, ino, &inode);
		if (rret)
			return done ? (ssize_t)done : rret;
	}
	if (done == 0) {
		/* Restore a size the handle may have moved; nothing was written. */
		if (ext4_isize(&inode) != old && !ext4_set_isize(f, &inode, old))
			(void)ext4_write_inode(f, ino, &inode);
		return ret ? ret : -EIO;
	}

out_update: {
	uint64_t new_end = off + done;
	int wret = ext4_set_isize(f, &inode, new_end > old ? new_end : old);
	if (wret)
		return wret;
	/* SUID/SGID are not touched here: only the kernel knows whether the
	 * writer has CAP_FSETID, and it either clears them with a SETATTR
	 * first or marks the WRITE (KILLPRIV_V2), which the glue acts on. */
	ext4_touch(&inode, true);
	wret = ext4_write_inode(f, ino, &inode);
	if (!wret && (inode.i_flags & EXT2_SYNC_FL)) {
		/* chattr +S: the kernel cannot know the flag (O_SYNC it
		 * handles with an fsync of its own), so synchronous writes
		 * are ours to make. */
		wret = ext4_flush_all(f);
	}
	if (wret)
		return wret;
	}
	return (ssize_t)done;
}

ssize_t sm_write(struct sm_fs *f, uint64_t ino, uint64_t fh, const void *buf, size_t size,
		 uint64_t off)
{
	struct ext4_io_plan *plan = NULL;
	ssize_t ret;

	(void)fh;
	/* Allocation and unwritten-block conversion remap the file; an
	 * overwrite's data moves after fs->lock, under the data lock only. */
	EXT4_DATA_WRLOCK(f, ino);
	EXT4_LOCK(f);
	ret = ext4_check_ino(f, ino);
	if (!ret)
		ret = do_write(f, (ext2_ino_t)ino, buf, size, off, &plan);
	EXT4_UNLOCK(f);
	if (plan) {
		ssize_t n = ext4_run_write_plan(f, plan, buf, (size_t)ret, off);
		if (n < 0)
			ret = n;
		ext4_free_io_plan(plan);
	}
	EXT4_DATA_UNLOCK(f, ino);
	return ret;
}

int sm_fsync(struct sm_fs *f, uint64_t ino, int datasync)
{
	int ret;

	(void)datasync;
	EXT4_LOCK(f);
	ret = ext4_check_ino(f, ino);
	/* One flush of everything is also what datasync needs. */
	if (!ret)
		ret = ext4_flush_all(f);
	EXT4_UNLOCK(f);
	return ret;
}

