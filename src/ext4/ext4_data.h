/* Helpers shared by the file-data files of the backend (ext4_data.c,
 * ext4_falloc.c).  Lock held, negative errno, like ext4_private.h. */
#ifndef SAFEMOUNT_EXT4_DATA_H
#define SAFEMOUNT_EXT4_DATA_H

#include "ext4_private.h"

/* Extent leaves visited by one SEEK_DATA/SEEK_HOLE before we call the tree
 * corrupt: a 16 TiB file in 1-block extents would need 2^32, no real
 * workload comes near this bound. */
#define DATA_MAX_SEEK_STEPS (1u << 26)

/* -EISDIR / -EINVAL unless a regular file. */
int ext4_regular_only(const struct ext2_inode_large *inode);
/* ext4_read_inode, then ext4_regular_only. */
int ext4_read_regular(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode);
bool ext4_is_inline(const struct ext2_inode_large *inode);
bool ext4_is_extents(const struct ext2_inode_large *inode);
int ext4_set_isize(struct sm_fs *f, struct ext2_inode_large *inode, uint64_t size);
/* Move an inline-data file's bytes into a block (before a mapping change). */
int ext4_convert_inline(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode);
/* Zero bytes [from, to) of logical block lblk in place (nothing for a hole). */
int ext4_zero_in_block(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
		       blk64_t lblk, unsigned from, unsigned to);

/* The leaf extents of a file in order, from the one holding (or nearest
 * to) lblk: ext4_leaf_next returns 1 with the next leaf extent, 0 after
 * the last, -errno on error, -EUCLEAN after max_steps (a looping tree).
 * Skips index entries, empty extents and the replay of a leaf that
 * libext2fs's goto causes. */
struct ext4_leaf_walk {
	ext2_extent_handle_t h;
	struct ext2fs_extent cur;
	errcode_t err;
	blk64_t last_start;
	bool first;
	uint64_t steps, max_steps;
};
int ext4_leaf_walk_start(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
			 blk64_t lblk, uint64_t max_steps, struct ext4_leaf_walk *w);
int ext4_leaf_next(struct ext4_leaf_walk *w, struct ext2fs_extent *ext);
void ext4_leaf_walk_end(struct ext4_leaf_walk *w);

/* Extent files (ext4_extent_io.c): whole runs of blocks per call.
 * A read is planned under fs->lock (the runs of [off, off + len), len
 * bounded by i_size) and run after it, under the inode's data lock only.
 * So is an overwrite: when every block of the range is allocated and
 * written, ext4_plan_overwrite returns a plan (else *out stays NULL and
 * ext4_write_extents must do the write, allocating under the lock).
 * ext4_write_extents sets *done to the bytes written (short on ENOSPC)
 * and writes the inode. */
struct ext4_io_plan;
int ext4_plan_read(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode, size_t len,
		   uint64_t off, struct ext4_io_plan **out);
int ext4_plan_overwrite(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
			size_t len, uint64_t off, struct ext4_io_plan **out);
ssize_t ext4_run_read_plan(struct sm_fs *f, const struct ext4_io_plan *p, char *buf, size_t len,
			   uint64_t off);
ssize_t ext4_run_write_plan(struct sm_fs *f, const struct ext4_io_plan *p, const char *buf,
			    size_t len, uint64_t off);
void ext4_free_io_plan(struct ext4_io_plan *p);
int ext4_write_extents(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
		       const char *data, size_t size, uint64_t off, size_t *done);

#endif
