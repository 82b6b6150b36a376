/* File data of extent-mapped files, moved as whole runs of blocks.
 *
 * libext2fs's file API moves data one block at a time and, on writes,
 * allocates and updates the extent tree (with its checksums) once per
 * block: a 1 MiB write cost 256 extent updates.  Here a request is mapped
 * to runs of contiguous blocks, the missing blocks are allocated in one
 * ext2fs_fallocate() call, and each run is read or written with one call
 * on the image channel.  The channel runs without libext2fs's block cache
 * (set at open), so these direct transfers and libext2fs's own metadata
 * I/O always see the same bytes.
 *
 * Every mapping comes from the image: runs must lie inside the
 * filesystem, and the walk must advance, or the request fails with
 * EUCLEAN. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ext4/ext4_data.h"
#include "ext4/ext4_private.h"
#include "io/cache_io.h"

struct ext4_run {
	blk64_t lblk, pblk, len;   /* pblk 0: a hole */
	bool uninit;               /* allocated but unwritten: reads as zeros */
};

struct run_list {
	struct ext4_run *v;
	size_t n, cap;
};

static int push_run(struct run_list *rl, blk64_t lblk, blk64_t pblk, blk64_t len, bool uninit)
{
	if (rl->n && !rl->v[rl->n - 1].pblk && !pblk) {
		rl->v[rl->n - 1].len += len;   /* neighbouring holes */
		return 0;
	}
	if (rl->n == rl->cap) {
		size_t cap = rl->cap ? rl->cap * 2 : 16;
		struct ext4_run *v = realloc(rl->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		rl->v = v;
		rl->cap = cap;
	}
	rl->v[rl->n++] = (struct ext4_run){ lblk, pblk, len, uninit };
	return 0;
}

static bool run_in_fs(ext2_filsys fs, blk64_t pblk, blk64_t len)
{
	blk64_t total = ext2fs_blocks_count(fs->super);
	return pblk >= fs->super->s_first_data_block && pblk < total && len <= total - pblk;
}

/* Walk limit for one mapping: the extents of the range, plus one replayed
 * leaf (see ext4_leaf_next), plus slack; more means the tree loops. */
#define RUN_MAX_STEPS(fs, count) ((count) + 2 * ((fs)->blocksize / 12) + 64)

int ext4_leaf_walk_start(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
			 blk64_t lblk, uint64_t max_steps, struct ext4_leaf_walk *w)
{
	errcode_t err = ext2fs_extent_open2(f->fs, ino, (struct ext2_inode *)inode, &w->h);
	if (err)
		return ext4_err(err);
	w->last_start = 0;
	w->first = true;
	w->steps = 0;
	w->max_steps = max_steps;
	/* goto leaves the handle on the extent holding lblk, or the nearest
	 * one before (or after, if none is before); its error only says lblk
	 * is in a hole. */
	(void)ext2fs_extent_goto(w->h, lblk);
	w->err = ext2fs_extent_get(w->h, EXT2_EXTENT_CURRENT, &w->cur);
	return 0;
}

int ext4_leaf_next(struct ext4_leaf_walk *w, struct ext2fs_extent *ext)
{
	for (;; w->steps++) {
		errcode_t err = w->err;
		*ext = w->cur;
		if (err == EXT2_ET_NO_CURRENT_NODE || err == EXT2_ET_EXTENT_NO_NEXT)
			return 0;
		if (err)
			return ext4_err(err);
		if (w->steps >= w->max_steps)
			return -EUCLEAN;
		w->err = ext2fs_extent_get(w->h, EXT2_EXTENT_NEXT_LEAF, &w->cur);
		if (!(ext->e_flags & EXT2_EXTENT_FLAGS_LEAF) || ext->e_len == 0)
			continue;
		/* ext2fs_extent_goto() descends without marking the index
		 * entries visited, so the first NEXT_LEAF after it replays the
		 * current leaf from its start: skip what was seen (the step
		 * bound stops a tree that really goes backwards). */
		if (!w->first && ext->e_lblk <= w->last_start)
			continue;
		w->first = false;
		w->last_start = ext->e_lblk;
		w->steps++;
		return 1;
	}
}

void ext4_leaf_walk_end(struct ext4_leaf_walk *w)
{
	ext2fs_extent_free(w->h);
}

/* Map [start, start + count) of an extent file into runs. */
static int map_runs(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode, blk64_t start,
		    blk64_t count, struct run_list *rl)
{
	ext2_filsys fs = f->fs;
	struct ext4_leaf_walk w;
	struct ext2fs_extent ext;
	blk64_t l = start, end = start + count;
	int ret = ext4_leaf_walk_start(f, ino, inode, start, RUN_MAX_STEPS(fs, count) + 1, &w);

	rl->n = 0;
	if (ret)
		return ret;
	while (l < end) {
		int got = ext4_leaf_next(&w, &ext);
		if (got <= 0) {
			ret = got ? got : push_run(rl, l, 0, end - l, false);
			break;
		}
		blk64_t ext_end = ext.e_lblk + (blk64_t)ext.e_len;
		if (ext_end <= l)
			continue;
		if (ext.e_lblk >= end) {
			ret = push_run(rl, l, 0, end - l, false);
			break;
		}
		if (ext.e_lblk > l) {
			ret = push_run(rl, l, 0, ext.e_lblk - l, false);
			if (ret)
				break;
			l = ext.e_lblk;
		}
		blk64_t len = (ext_end < end ? ext_end : end) - l;
		blk64_t pblk = ext.e_pblk + (l - ext.e_lblk);
		if (!run_in_fs(fs, pblk, len)) {
			ret = -EUCLEAN;
			break;
		}
		ret = push_run(rl, l, pblk, len, ext.e_flags & EXT2_EXTENT_FLAGS_UNINIT);
		if (ret)
			break;
		l += len;
	}
	ext4_leaf_walk_end(&w);
	return ret;
}

static int read_run(ext2_filsys fs, blk64_t pblk, blk64_t n, void *buf)
{
	return ext4_err(io_channel_read_blk64(fs->io, pblk, (int)n, buf));
}

static int write_run(ext2_filsys fs, blk64_t pblk, blk64_t n, const void *buf)
{
	return ext4_err(sm_io_write_data(fs->io, pblk, (int)n, buf));
}

/* The runs of a read or an overwrite, mapped under fs->lock and
 * performed after it. */
struct ext4_io_plan {
	struct run_list rl;
	uint64_t bs;
};

static int plan_runs(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode, size_t len,
		     uint64_t off, struct ext4_io_plan **out)
{
	struct ext4_io_plan *p = calloc(1, sizeof(*p));
	uint64_t bs = f->fs->blocksize;
	if (!p)
		return -ENOMEM;
	p->bs = bs;
	blk64_t first = off / bs, last = (off + len - 1) / bs;
	int ret = map_runs(f, ino, inode, first, last - first + 1, &p->rl);
	if (ret) {
		ext4_free_io_plan(p);
		return ret;
	}
	*out = p;
	return 0;
}

int ext4_plan_read(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode, size_t len,
		   uint64_t off, struct ext4_io_plan **out)
{
	*out = NULL;
	int ret = plan_runs(f, ino, inode, len, off, out);
	/* The runs are read around the channel, which may hold newer copies
	 * (blocks libext2fs wrote, such as a zeroed tail). */
	for (size_t i = 0; !ret && i < (*out)->rl.n; i++) {
		const struct ext4_run *r = &(*out)->rl.v[i];
		if (r->pblk && !r->uninit)
			ret = ext4_err(sm_io_settle(f->fs->io, r->pblk, r->len));
	}
	if (ret && *out) {
		ext4_free_io_plan(*out);
		*out = NULL;
	}
	return ret;
}

int ext4_plan_overwrite(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
			size_t len, uint64_t off, struct ext4_io_plan **out)
{
	struct ext4_io_plan *p = NULL;
	*out = NULL;
	int ret = plan_runs(f, ino, inode, len, off, &p);
	if (ret)
		return ret;
	for (size_t i = 0; i < p->rl.n; i++) {
		if (!p->rl.v[i].pblk || p->rl.v[i].uninit) {
			ext4_free_io_plan(p);   /* allocation or conversion: not here */
			return 0;
		}
	}
	/* The image gets the data around the channel: no copy of these
	 * blocks may stay in it, older or newer. */
	for (size_t i = 0; !ret && i < p->rl.n; i++)
		ret = ext4_err(sm_io_release(f->fs->io, p->rl.v[i].pblk, p->rl.v[i].len));
	if (ret) {
		ext4_free_io_plan(p);
		return ret;
	}
	*out = p;
	return 0;
}

void ext4_free_io_plan(struct ext4_io_plan *p)
{
	if (p)
		free(p->rl.v);
	free(p);
}

/* pread or pwrite, whole: the image descriptor is shared by threads and
 * regular-file I/O is only short at the image's end or on a signal. */
static int image_io(int fd, char *buf, size_t n, uint64_t pos, bool write)
{
	while (n) {
		ssize_t r = write ? pwrite(fd, buf, n, (off_t)pos) : pread(fd, buf, n, (off_t)pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;   /* the image ends inside the filesystem */
		buf += r;
		n -= (size_t)r;
		pos += (uint64_t)r;
	}
	return 0;
}

/* Without fs->lock: the caller holds the inode's data lock, so the mapping
 * cannot change, and moves the bytes with the image descriptor (safe from
 * several threads; libext2fs's channel is not).  Holes and unwritten runs
 * read as zeros; an overwrite plan has none. */
static ssize_t run_plan(struct sm_fs *f, const struct ext4_io_plan *p, char *buf, size_t len,
			uint64_t off, bool write)
{
	uint64_t bs = p->bs;
	int ret = 0;
	for (size_t i = 0; i < p->rl.n && !ret; i++) {
		const struct ext4_run *r = &p->rl.v[i];
		/* The part of this run inside [off, off + len). */
		uint64_t start = r->lblk * bs, end = (r->lblk + r->len) * bs;
		if (start < off)
			start = off;
		if (end > off + len)
			end = off + len;
		if (start >= end)
			continue;
		char *at = buf + (start - off);
		if (!r->pblk || r->uninit) {
			if (write)
				ret = -EIO;   /* plan_overwrite refuses those */
			else
				memset(at, 0, end - start);
		} else {
			ret = image_io(f->image_fd, at, end - start,
				       r->pblk * bs + (start - r->lblk * bs), write);
		}
	}
	return ret ? ret : (ssize_t)len;
}

ssize_t ext4_run_read_plan(struct sm_fs *f, const struct ext4_io_plan *p, char *buf, size_t len,
			   uint64_t off)
{
	return run_plan(f, p, buf, len, off, false);
}

ssize_t ext4_run_write_plan(struct sm_fs *f, const struct ext4_io_plan *p, const char *buf,
			    size_t len, uint64_t off)
{
	return run_plan(f, p, (char *)buf, len, off, true);
}

/* Did lblk hold data before this write (mapped and written)? */
static bool held_data(const struct run_list *before, blk64_t lblk)
{
	for (size_t i = 0; i < before->n; i++) {
		const struct ext4_run *r = &before->v[i];
		if (lblk >= r->lblk && lblk - r->lblk < r->len)
			return r->pblk && !r->uninit;
	}
	return false;
}

/* Longest initialized extent (EXT_INIT_MAX_LEN in ext3_extents.h). */
#define INIT_EXTENT_MAX (1u << 15)

/* The block before lblk, if mapped and written: new blocks go right after
 * it, and a contiguous range just makes its extent longer. */
static bool prev_extent(ext2_extent_handle_t h, blk64_t lblk, struct ext2fs_extent *ext)
{
	if (lblk == 0 || ext2fs_extent_goto(h, lblk - 1) ||
	    ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, ext))
		return false;
	return (ext->e_flags & EXT2_EXTENT_FLAGS_LEAF) && !(ext->e_flags & EXT2_EXTENT_FLAGS_UNINIT) &&
	       ext->e_lblk + (blk64_t)ext->e_len == lblk;
}

/* Blocks [l, l + n) lie inside one unwritten extent: make them written
 * with one or two extent operations, not one per block.  When a written
 * extent just before them continues physically, it grows instead, so a
 * file filled in order after fallocate stays a few extents. */
static errcode_t convert_range(ext2_extent_handle_t h, blk64_t l, blk64_t n)
{
	struct ext2fs_extent ext, pv;
	errcode_t err = ext2fs_extent_goto(h, l);
	if (!err)
		err = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &ext);
	if (err)
		return err;
	if (!(ext.e_flags & EXT2_EXTENT_FLAGS_UNINIT) || l < ext.e_lblk ||
	    l + n > ext.e_lblk + (blk64_t)ext.e_len)
		return EXT2_ET_EXTENT_NOT_FOUND;   /* not what the mapping said */
	blk64_t head = l - ext.e_lblk, tail = ext.e_lblk + ext.e_len - (l + n);
	struct ext2fs_extent mid = { .e_lblk = l, .e_pblk = ext.e_pblk + head, .e_len = (uint32_t)n };
	bool grow_prev = !head && prev_extent(h, l, &pv) && pv.e_pblk + pv.e_len == mid.e_pblk &&
			 pv.e_len + n <= INIT_EXTENT_MAX;

	/* prev_extent() moved the handle: back to the unwritten extent. */
	err = ext2fs_extent_goto(h, l);
	if (err)
		return err;
	if (grow_prev) {
		/* Take the blocks off the front of the unwritten extent (or
		 * all of it), then lengthen the written one before it. */
		if (tail) {
			ext.e_lblk += n;
			ext.e_pblk += n;
			ext.e_len -= (uint32_t)n;
			err = ext2fs_extent_replace(h, 0, &ext);
			if (!err)
				err = ext2fs_extent_fix_parents(h);
		} else {
			err = ext2fs_extent_delete(h, 0);
		}
		if (!err)
			err = ext2fs_extent_goto(h, l - 1);
		if (!err)
			err = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &pv);
		if (!err) {
			pv.e_len += (uint32_t)n;
			err = ext2fs_extent_replace(h, 0, &pv);
		}
		return err;
	}
	if (head) {
		ext.e_len = (uint32_t)head;
		err = ext2fs_extent_replace(h, 0, &ext);
		if (!err)
			err = ext2fs_extent_insert(h, EXT2_EXTENT_INSERT_AFTER, &mid);
	} else {
		err = ext2fs_extent_replace(h, 0, &mid);
	}
	if (!err && tail) {
		struct ext2fs_extent tl = { .e_lblk = l + n, .e_pblk = mid.e_pblk + n,
					    .e_len = (uint32_t)tail, .e_flags = EXT2_EXTENT_FLAGS_UNINIT };
		err = ext2fs_extent_goto(h, l);
		if (!err)
			err = ext2fs_extent_insert(h, EXT2_EXTENT_INSERT_AFTER, &tl);
	}
	return err;
}

/* Blocks below end_blk now hold the new data: unwritten ones become
 * written. */
static int mark_written(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
			const struct run_list *rl, blk64_t end_blk)
{
	ext2_extent_handle_t h = NULL;
	errcode_t err = 0;

	for (size_t i = 0; i < rl->n && !err; i++) {
		const struct ext4_run *r = &rl->v[i];
		if (!r->uninit || !r->pblk || r->lblk >= end_blk)
			continue;
		if (!h && (err = ext2fs_extent_open2(f->fs, ino, (struct ext2_inode *)inode, &h)))
			break;
		blk64_t n = r->lblk + r->len > end_blk ? end_blk - r->lblk : r->len;
		err = convert_range(h, r->lblk, n);
	}
	if (h)
		ext2fs_extent_free(h);
	return ext4_err(err);
}

/* The edge block lblk gets bytes [from, to) of new data: the rest is the
 * block's old content if it held data, zeros if it is new or unwritten. */
static int write_edge(ext2_filsys fs, blk64_t pblk, bool old_data, char *bounce, unsigned from,
		      unsigned to, const char *data)
{
	int ret = 0;

	if (old_data)
		ret = read_run(fs, pblk, 1, bounce);
	else
		memset(bounce, 0, fs->blocksize);
	if (ret)
		return ret;
	memcpy(bounce + from, data, to - from);
	return write_run(fs, pblk, 1, bounce);
}

/* Map lblk.. to the fresh blocks pblk.. (plen of them). */
static errcode_t map_new(ext2_extent_handle_t h, blk64_t lblk, blk64_t pblk, blk64_t plen)
{
	struct ext2fs_extent ext;
	if (prev_extent(h, lblk, &ext) && ext.e_pblk + ext.e_len == pblk &&
	    ext.e_len + plen <= INIT_EXTENT_MAX) {
		ext.e_len += (uint32_t)plen;
		return ext2fs_extent_replace(h, 0, &ext);
	}
	/* set_bmap starts an extent at the first block and grows it with
	 * each following one. */
	for (blk64_t i = 0; i < plen; i++) {
		errcode_t err = ext2fs_extent_set_bmap(h, lblk + i, pblk + i, 0);
		if (err)
			return err;
	}
	return 0;
}

/* Allocate the holes of the range, in order, as long as there is space;
 * *stop is the first block left unallocated (the range's end when all
 * were).  ext2fs_fallocate() would do it, but makes a new extent for every
 * call even when the blocks continue the previous one. */
static int fill_holes(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
		      const struct run_list *before, blk64_t *stop)
{
	ext2_filsys fs = f->fs;
	ext2_extent_handle_t h;
	errcode_t err = ext2fs_extent_open2(fs, ino, (struct ext2_inode *)inode, &h);
	int ret = 0;

	if (err)
		return ext4_err(err);
	*stop = before->n ? before->v[before->n - 1].lblk + before->v[before->n - 1].len : 0;
	for (size_t i = 0; i < before->n && !ret; i++) {
		const struct ext4_run *r = &before->v[i];
		blk64_t l = r->lblk, left = r->pblk ? 0 : r->len;
		while (left && !ret) {
			struct ext2fs_extent ext;
			blk64_t goal = prev_extent(h, l, &ext) ? ext.e_pblk + ext.e_len
							       : ext2fs_find_inode_goal(fs, ino, (struct ext2_inode *)inode, l);
			blk64_t want = left < INIT_EXTENT_MAX ? left : INIT_EXTENT_MAX, pblk = 0, plen = 0;
			err = ext2fs_new_range(fs, 0, goal, want, NULL, &pblk, &plen);
			if (err == EXT2_ET_BLOCK_ALLOC_FAIL) {
				*stop = l;
				goto out;
			}
			if (!err && (plen == 0 || plen > want || !run_in_fs(fs, pblk, plen)))
				err = EXT2_ET_BLOCK_ALLOC_FAIL;
			if (err) {
				ret = ext4_err(err);
				break;
			}
			ext2fs_block_alloc_stats_range(fs, pblk, plen, +1);
			err = map_new(h, l, pblk, plen);
			if (!err)
				err = ext2fs_iblk_add_blocks(fs, (struct ext2_inode *)inode, plen);
			if (err) {
				ret = ext4_err(err);
				break;
			}
			l += plen;
			left -= plen;
		}
	}
out:
	ext2fs_extent_free(h);
	return ret;
}

int ext4_write_extents(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
		       const char *data, size_t size, uint64_t off, size_t *done)
{
	ext2_filsys fs = f->fs;
	uint64_t bs = fs->blocksize;
	blk64_t first = off / bs, last = (off + size - 1) / bs, count = last - first + 1;
	struct run_list before = { 0 }, rl = { 0 };
	char *bounce = NULL;
	bool allocated = false;
	int ret;

	*done = 0;
	ret = map_runs(f, ino, inode, first, count, &before);
	bool holes = false;
	for (size_t i = 0; !ret && i < before.n; i++)
		holes |= !before.v[i].pblk;
	if (!ret && holes) {
		/* New blocks come initialized: every byte of them is written
		 * below (data, or zeros around it in the edge blocks).  On
		 * ENOSPC part of the range may be allocated: we write what is. */
		blk64_t stop;
		allocated = true;
		ret = fill_holes(f, ino, inode, &before, &stop);
	}
	if (!ret)
		ret = map_runs(f, ino, inode, first, count, &rl);
	/* The writable prefix: up to the first block still unmapped. */
	blk64_t mapped = 0;
	for (size_t i = 0; !ret && i < rl.n && rl.v[i].pblk; i++)
		mapped += rl.v[i].len;
	if (!ret && !mapped)
		ret = -ENOSPC;
	if (!ret && !(bounce = malloc(bs)))
		ret = -ENOMEM;

	uint64_t limit = (first + mapped) * bs;
	uint64_t end = off + size < limit ? off + size : limit;
	for (size_t i = 0; !ret && i < rl.n && rl.v[i].pblk; i++) {
		struct ext4_run *r = &rl.v[i];
		for (blk64_t b = 0; b < r->len && !ret;) {
			blk64_t lblk = r->lblk + b;
			uint64_t bstart = lblk * bs;
			if (bstart >= end)
				break;
			unsigned from = bstart < off ? (unsigned)(off - bstart) : 0;
			unsigned to = bstart + bs > end ? (unsigned)(end - bstart) : (unsigned)bs;
			const char *in = data + (bstart + from - off);
			if (from || to != bs) {
				ret = write_edge(fs, r->pblk + b, held_data(&before, lblk), bounce, from,
						 to, in);
				b++;
				continue;
			}
			blk64_t n = r->len - b;
			if ((lblk + n) * bs > end)
				n = (end - bstart) / bs;
			ret = write_run(fs, r->pblk + b, n, in);
			b += n;
		}
	}
	if (!ret)
		ret = mark_written(f, ino, inode, &rl, (end + bs - 1) / bs);
	if (!ret)
		*done = (size_t)(end - off);
	/* ext2fs_fallocate and the mapping changes updated our copy of the
	 * inode (i_blocks, the extent root): the caller re-reads it. */
	if (allocated || *done) {
		int wret = ext4_write_inode(f, ino, inode);
		if (!ret)
			ret = wret;
	}
	free(bounce);
	free(before.v);
	free(rl.v);
	return ret;
}
