/* An ext2fs io_manager over libext2fs's unixfd one, with a bounded, hashed,
 * write-back block cache.
 *
 * The unix manager's own cache is 8 blocks searched linearly; a metadata
 * walk (inode table blocks, extent leaves, directory blocks) rereads the
 * same blocks over and over, and every inode update (a file's mtime at each
 * write, a directory entry at each create) used to cost a pwrite of its
 * block.  This layer keeps single-block transfers in a hash table of fixed
 * size with clock eviction, and holds single-block writes there, dirty,
 * until a flush (fsync, syncfs, unmount: written in block order), until
 * the block is evicted, until half the cache is dirty, or until the oldest
 * dirty block is SM_CACHE_IO_DIRTY_SECONDS old -- the kernel's ext4 commits
 * its journal as often.  A crash loses at most that; libext2fs keeps the
 * bitmaps and group descriptors in memory until a flush anyway, so an
 * image is only consistent after one, as before.
 *
 * File data goes around the cache: multi-block transfers and
 * sm_io_write_data() write through, updating any cached copy, and the
 * extent data path reads the image descriptor directly after
 * sm_io_settle() wrote out dirty copies of its blocks.  So no data is
 * buffered twice, and no reader sees the image behind the cache.
 *
 * Every libext2fs call happens under the filesystem lock, so this needs no
 * lock of its own. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ext2fs/ext2fs.h>

#include "io/cache_io.h"

struct cache_ent {
	unsigned long long block;   /* ~0ULL: empty */
	bool referenced;            /* clock: used since the hand passed */
	bool dirty;                 /* newer than the image */
};

struct cache_io {
	io_channel under;
	unsigned nslots;            /* a power of two */
	unsigned hand;
	struct cache_ent *ent;
	char *data;                 /* nslots blocks */
	unsigned *bucket;           /* hash -> slot + 1 chains, open addressing */
	unsigned ndirty;
	time_t dirty_since;         /* CLOCK_MONOTONIC seconds of the oldest dirty block */
	unsigned long long hits, misses;
};

static unsigned cache_blocks = SM_CACHE_IO_DEFAULT_BLOCKS;

void sm_cache_io_set_blocks(unsigned blocks)
{
	cache_blocks = blocks;
}

static struct cache_io *cio(io_channel ch)
{
	return ch->private_data;
}

/* Linear probing over a table twice the slot count: a hit or an empty
 * bucket is found within a few probes, never a scan of the cache. */
static unsigned hash_block(const struct cache_io *c, unsigned long long b)
{
	b ^= b >> 29;
	b *= 0xbf58476d1ce4e5b9ULL;
	b ^= b >> 32;
	return (unsigned)b & (2 * c->nslots - 1);
}

static int find_slot(const struct cache_io *c, unsigned long long block)
{
	unsigned mask = 2 * c->nslots - 1;
	for (unsigned i = hash_block(c, block), n = 0; n <= mask; i = (i + 1) & mask, n++) {
		unsigned s = c->bucket[i];
		if (!s)
			return -1;
		if (c->ent[s - 1].block == block)
			return (int)(s - 1);
	}
	return -1;
}

/* Remove slot s from the hash table, re-placing the probe run after it so
 * that lookups of those blocks still find them. */
static void unhash(struct cache_io *c, unsigned s)
{
	unsigned mask = 2 * c->nslots - 1;
	unsigned i = hash_block(c, c->ent[s].block);
	while (c->bucket[i] != s + 1)
		i = (i + 1) & mask;
	c->bucket[i] = 0;
	for (unsigned j = (i + 1) & mask; c->bucket[j]; j = (j + 1) & mask) {
		unsigned t = c->bucket[j];
		c->bucket[j] = 0;
		unsigned k = hash_block(c, c->ent[t - 1].block);
		while (c->bucket[k])
			k = (k + 1) & mask;
		c->bucket[k] = t;
	}
	c->ent[s].block = ~0ULL;
}

static char *slot_data(const struct cache_io *c, io_channel ch, unsigned s)
{
	return c->data + (size_t)s * (size_t)ch->block_size;
}

static time_t now_seconds(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0)
		return 0;
	return ts.tv_sec;
}

static void mark_dirty(struct cache_io *c, unsigned s)
{
	if (c->ent[s].dirty)
		return;
	if (c->ndirty++ == 0)
		c->dirty_since = now_seconds();
	c->ent[s].dirty = true;
}

static void mark_clean(struct cache_io *c, unsigned s)
{
	if (!c->ent[s].dirty)
		return;
	c->ent[s].dirty = false;
	c->ndirty--;
}

/* Write slot s's block to the image; it stays cached, clean. */
static errcode_t write_out(struct cache_io *c, io_channel ch, unsigned s)
{
	errcode_t err = io_channel_write_blk64(c->under, c->ent[s].block, 1, slot_data(c, ch, s));
	if (!err)
		mark_clean(c, s);
	return err;
}

/* Forget slot s, dirty or not: for blocks whose content was superseded
 * (discard, zero-out) or written around the cache. */
static void forget(struct cache_io *c, unsigned s)
{
	mark_clean(c, s);
	unhash(c, s);
}

/* Apply fn to the cached blocks of [block, block + count): by lookup when
 * the range is small, by a pass over the slots when it is not. */
static errcode_t each_in_range(struct cache_io *c, io_channel ch, unsigned long long block,
			       unsigned long long count,
			       errcode_t (*fn)(struct cache_io *, io_channel, unsigned))
{
	errcode_t first = 0;
	if (count <= c->nslots) {
		for (unsigned long long i = 0; i < count; i++) {
			int s = find_slot(c, block + i);
			errcode_t err = s >= 0 ? fn(c, ch, (unsigned)s) : 0;
			if (err && !first)
				first = err;
		}
		return first;
	}
	for (unsigned s = 0; s < c->nslots; s++) {
		unsigned long long b = c->ent[s].block;
		if (b == ~0ULL || b < block || b - block >= count)
			continue;
		errcode_t err = fn(c, ch, s);
		if (err && !first)
			first = err;
	}
	return first;
}

static errcode_t write_out_if_dirty(struct cache_io *c, io_channel ch, unsigned s)
{
	return c->ent[s].dirty ? write_out(c, ch, s) : 0;
}

static errcode_t forget_slot(struct cache_io *c, io_channel ch, unsigned s)
{
	(void)ch;
	forget(c, s);
	return 0;
}

static int by_block(const void *a, const void *b, void *arg)
{
	const struct cache_ent *ent = arg;
	unsigned long long x = ent[*(const unsigned *)a].block, y = ent[*(const unsigned *)b].block;
	return (x > y) - (x < y);
}

/* Write every dirty block, in block order.  Returns the first error; the
 * blocks that failed stay dirty. */
static errcode_t write_back(struct cache_io *c, io_channel ch)
{
	if (!c->ndirty)
		return 0;
	unsigned *order = malloc((size_t)c->ndirty * sizeof(*order));
	unsigned n = 0;
	errcode_t first = 0;
	for (unsigned s = 0; s < c->nslots; s++) {
		if (!c->ent[s].dirty)
			continue;
		if (order)
			order[n++] = s;
		else if (!first)
			first = write_out(c, ch, s);   /* no memory to sort: slot order */
		else
			(void)write_out(c, ch, s);
	}
	if (order) {
		qsort_r(order, n, sizeof(*order), by_block, c->ent);
		for (unsigned i = 0; i < n; i++) {
			errcode_t err = write_out(c, ch, order[i]);
			if (err && !first)
				first = err;
		}
		free(order);
	}
	return first;
}

/* A slot for a new block: the clock hand skips recently used ones once and
 * writes a dirty victim out first.  -1 when none can be freed (every dirty
 * candidate failed to write), after two turns of the hand. */
static int victim(struct cache_io *c, io_channel ch)
{
	for (unsigned tries = 0; tries < 2 * c->nslots; tries++) {
		unsigned s = c->hand;
		c->hand = (c->hand + 1) & (c->nslots - 1);
		if (c->ent[s].block == ~0ULL)
			return (int)s;
		if (c->ent[s].referenced) {
			c->ent[s].referenced = false;
			continue;
		}
		if (c->ent[s].dirty && write_out(c, ch, s) != 0)
			continue;
		unhash(c, s);
		return (int)s;
	}
	return -1;
}

static int insert(struct cache_io *c, io_channel ch, unsigned long long block, const void *buf)
{
	int s = victim(c, ch);
	if (s < 0)
		return -1;
	unsigned mask = 2 * c->nslots - 1;
	unsigned i = hash_block(c, block);
	while (c->bucket[i])
		i = (i + 1) & mask;
	c->bucket[i] = (unsigned)s + 1;
	c->ent[s].block = block;
	c->ent[s].referenced = true;
	c->ent[s].dirty = false;
	memcpy(slot_data(c, ch, (unsigned)s), buf, (size_t)ch->block_size);
	return s;
}

static void free_cache(struct cache_io *c)
{
	free(c->ent);
	free(c->data);
	free(c->bucket);
	c->ent = NULL;
	c->data = NULL;
	c->bucket = NULL;
	c->nslots = 0;
	c->ndirty = 0;
}

/* (Re)allocate for the channel's block size: the cache is empty after. */
static errcode_t alloc_cache(struct cache_io *c, int block_size)
{
	free_cache(c);
	unsigned n = 1;
	while (n < cache_blocks && n < (1u << 20))
		n <<= 1;
	if (cache_blocks == 0 || block_size <= 0)
		return 0;   /* no cache: every call goes through */
	c->ent = calloc(n, sizeof(*c->ent));
	c->data = malloc((size_t)n * (size_t)block_size);
	c->bucket = calloc(2 * (size_t)n, sizeof(*c->bucket));
	if (!c->ent || !c->data || !c->bucket) {
		free_cache(c);
		return EXT2_ET_NO_MEMORY;
	}
	c->nslots = n;
	c->hand = 0;
	for (unsigned s = 0; s < n; s++)
		c->ent[s].block = ~0ULL;
	return 0;
}

static errcode_t cache_open(const char *name, int flags, io_channel *channel);

static errcode_t cache_close(io_channel ch)
{
	struct cache_io *c = cio(ch);
	errcode_t err = 0;
	if (--ch->refcount > 0)
		return 0;
	if (c) {
		err = write_back(c, ch);
		errcode_t cerr = io_channel_close(c->under);
		if (!err)
			err = cerr;
		free_cache(c);
		free(c);
	}
	free(ch->name);
	free(ch);
	return err;
}

static errcode_t cache_set_blksize(io_channel ch, int blksize)
{
	struct cache_io *c = cio(ch);
	errcode_t err = write_back(c, ch);
	if (err)
		return err;
	err = io_channel_set_blksize(c->under, blksize);
	if (err)
		return err;
	ch->block_size = blksize;
	return alloc_cache(c, blksize);
}

/* Multi-block reads come from the image; cached copies are as new or newer. */
static void overlay(struct cache_io *c, io_channel ch, unsigned long long block, int count,
		    void *buf)
{
	if (!c->ndirty)
		return;
	for (int i = 0; i < count; i++) {
		int s = find_slot(c, block + (unsigned long long)i);
		if (s >= 0 && c->ent[s].dirty)
			memcpy((char *)buf + (size_t)i * (size_t)ch->block_size,
			       slot_data(c, ch, (unsigned)s), (size_t)ch->block_size);
	}
}

static errcode_t cache_read_blk64(io_channel ch, unsigned long long block, int count, void *buf)
{
	struct cache_io *c = cio(ch);
	if (!c->nslots)
		return io_channel_read_blk64(c->under, block, count, buf);
	if (count != 1) {
		errcode_t err = io_channel_read_blk64(c->under, block, count, buf);
		if (!err && count > 1)
			overlay(c, ch, block, count, buf);
		return err;
	}
	int s = find_slot(c, block);
	if (s >= 0) {
		c->hits++;
		c->ent[s].referenced = true;
		memcpy(buf, slot_data(c, ch, (unsigned)s), (size_t)ch->block_size);
		return 0;
	}
	c->misses++;
	errcode_t err = io_channel_read_blk64(c->under, block, 1, buf);
	if (!err)
		(void)insert(c, ch, block, buf);   /* uncached if no slot is free */
	return err;
}

/* The periodic part of write-back: bound how long and how much the image
 * is behind. */
static errcode_t maybe_write_back(struct cache_io *c, io_channel ch)
{
	if (c->ndirty >= c->nslots / 2 ||
	    (c->ndirty && now_seconds() - c->dirty_since >= SM_CACHE_IO_DIRTY_SECONDS))
		return write_back(c, ch);
	return 0;
}

/* Written through: the image gets buf at once; cached copies of the blocks
 * take it too and are clean.  After a failed write the image may hold
 * either version, so clean copies are forgotten; dirty ones still hold
 * data that was acknowledged and stay. */
static errcode_t write_through(struct cache_io *c, io_channel ch, unsigned long long block,
			       int count, const void *buf)
{
	errcode_t err = io_channel_write_blk64(c->under, block, count, buf);
	for (int i = 0; i < count; i++) {
		int s = find_slot(c, block + (unsigned long long)i);
		if (s < 0)
			continue;
		if (!err) {
			memcpy(slot_data(c, ch, (unsigned)s),
			       (const char *)buf + (size_t)i * (size_t)ch->block_size,
			       (size_t)ch->block_size);
			mark_clean(c, (unsigned)s);
		} else if (!c->ent[s].dirty) {
			unhash(c, (unsigned)s);
		}
	}
	return err;
}

/* Before the image is written around the cache, possibly covering blocks
 * only in part: their dirty copies go out first, then the cache forgets
 * every copy of them. */
static errcode_t release_range(struct cache_io *c, io_channel ch, unsigned long long block,
			       unsigned long long count)
{
	errcode_t err = c->ndirty ? each_in_range(c, ch, block, count, write_out_if_dirty) : 0;
	if (!err)
		(void)each_in_range(c, ch, block, count, forget_slot);
	return err;
}

static errcode_t cache_write_blk64(io_channel ch, unsigned long long block, int count,
				   const void *buf)
{
	struct cache_io *c = cio(ch);
	if (!c->nslots)
		return io_channel_write_blk64(c->under, block, count, buf);
	if (count < 0) {
		/* A byte count from the start of block. */
		unsigned long long bytes = (unsigned long long)-(long long)count;
		unsigned long long bs = (unsigned)ch->block_size;
		errcode_t err = release_range(c, ch, block, (bytes + bs - 1) / bs);
		return err ? err : io_channel_write_blk64(c->under, block, count, buf);
	}
	if (count != 1)
		return write_through(c, ch, block, count, buf);
	int s = find_slot(c, block);
	if (s < 0)
		s = insert(c, ch, block, buf);
	if (s < 0)
		return write_through(c, ch, block, 1, buf);   /* nothing evictable */
	c->ent[s].referenced = true;
	memcpy(slot_data(c, ch, (unsigned)s), buf, (size_t)ch->block_size);
	mark_dirty(c, (unsigned)s);
	return maybe_write_back(c, ch);
}

static errcode_t cache_read_blk(io_channel ch, unsigned long block, int count, void *buf)
{
	return cache_read_blk64(ch, block, count, buf);
}

static errcode_t cache_write_blk(io_channel ch, unsigned long block, int count, const void *buf)
{
	return cache_write_blk64(ch, block, count, buf);
}

/* libext2fs's flush (ext2fs_flush, ext2fs_close) ends here: the dirty
 * blocks in order, then the unix manager's flush, which fsyncs. */
static errcode_t cache_flush(io_channel ch)
{
	struct cache_io *c = cio(ch);
	errcode_t err = c->nslots ? write_back(c, ch) : 0;
	errcode_t ferr = io_channel_flush(c->under);
	return err ? err : ferr;
}

static errcode_t cache_write_byte(io_channel ch, unsigned long offset, int count, const void *buf)
{
	struct cache_io *c = cio(ch);
	if (!c->nslots || count <= 0)
		return io_channel_write_byte(c->under, offset, count, buf);
	unsigned long long bs = (unsigned)ch->block_size;
	unsigned long long first = offset / bs, last = (offset + (unsigned)count - 1) / bs;
	errcode_t err = release_range(c, ch, first, last - first + 1);
	return err ? err : io_channel_write_byte(c->under, offset, count, buf);
}

static errcode_t cache_set_option(io_channel ch, const char *option, const char *arg)
{
	io_channel u = cio(ch)->under;
	if (!u->manager->set_option)
		return EXT2_ET_INVALID_ARGUMENT;
	return u->manager->set_option(u, option, arg);
}

static errcode_t cache_get_stats(io_channel ch, io_stats *stats)
{
	io_channel u = cio(ch)->under;
	if (!u->manager->get_stats)
		return EXT2_ET_UNIMPLEMENTED;
	return u->manager->get_stats(u, stats);
}

/* Discard and zero-out supersede the blocks' content: forget them, then
 * pass on. */
static errcode_t cache_discard(io_channel ch, unsigned long long block, unsigned long long count)
{
	struct cache_io *c = cio(ch);
	if (c->nslots)
		(void)each_in_range(c, ch, block, count, forget_slot);
	return io_channel_discard(c->under, block, count);
}

static errcode_t cache_zeroout(io_channel ch, unsigned long long block, unsigned long long count)
{
	struct cache_io *c = cio(ch);
	if (c->nslots)
		(void)each_in_range(c, ch, block, count, forget_slot);
	return io_channel_zeroout(c->under, block, count);
}

static struct struct_io_manager cache_manager = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "safemount cache over unixfd",
	.open = cache_open,
	.close = cache_close,
	.set_blksize = cache_set_blksize,
	.read_blk = cache_read_blk,
	.write_blk = cache_write_blk,
	.flush = cache_flush,
	.write_byte = cache_write_byte,
	.set_option = cache_set_option,
	.get_stats = cache_get_stats,
	.read_blk64 = cache_read_blk64,
	.write_blk64 = cache_write_blk64,
	.discard = cache_discard,
	.zeroout = cache_zeroout,
};

io_manager sm_cache_io_manager = &cache_manager;

static errcode_t cache_open(const char *name, int flags, io_channel *channel)
{
	io_channel ch = calloc(1, sizeof(*ch));
	struct cache_io *c = calloc(1, sizeof(*c));
	errcode_t err = EXT2_ET_NO_MEMORY;

	if (!ch || !c)
		goto fail;
	ch->name = strdup(name);
	if (!ch->name)
		goto fail;
	err = unixfd_io_manager->open(name, flags, &c->under);
	if (err)
		goto fail;
	/* The unix manager's own cache would be a second, linear one. */
	(void)io_channel_set_options(c->under, "cache=off");
	ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	ch->manager = sm_cache_io_manager;
	ch->block_size = c->under->block_size;
	ch->refcount = 1;
	ch->flags = c->under->flags;
	ch->private_data = c;
	err = alloc_cache(c, ch->block_size);
	if (err) {
		io_channel_close(c->under);
		goto fail;
	}
	*channel = ch;
	return 0;
fail:
	if (ch)
		free(ch->name);
	free(ch);
	free(c);
	return err;
}

static struct cache_io *ours(io_channel ch)
{
	return ch->manager == sm_cache_io_manager ? cio(ch) : NULL;
}

errcode_t sm_io_write_data(io_channel ch, unsigned long long block, int count, const void *buf)
{
	struct cache_io *c = ours(ch);
	if (!c || !c->nslots || count <= 0)
		return io_channel_write_blk64(ch, block, count, buf);
	return write_through(c, ch, block, count, buf);
}

errcode_t sm_io_settle(io_channel ch, unsigned long long block, unsigned long long count)
{
	struct cache_io *c = ours(ch);
	if (!c || !c->ndirty)
		return 0;
	return each_in_range(c, ch, block, count, write_out_if_dirty);
}

errcode_t sm_io_release(io_channel ch, unsigned long long block, unsigned long long count)
{
	struct cache_io *c = ours(ch);
	return c && c->nslots ? release_range(c, ch, block, count) : 0;
}

errcode_t sm_io_write_back_due(io_channel ch)
{
	struct cache_io *c = ours(ch);
	return c && c->nslots ? maybe_write_back(c, ch) : 0;
}
