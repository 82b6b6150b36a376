/* An ext2fs io_manager over libext2fs's unixfd one, with a bounded, hashed
 * block cache.
 *
 * The unix manager's own cache is 8 blocks searched linearly; a metadata
 * walk (inode table blocks, extent leaves, directory blocks) rereads the
 * same blocks over and over.  This layer keeps single-block reads in a
 * hash table of fixed size with clock eviction.  It is write-through: every
 * write goes to the image at once and updates or drops the cached copies
 * of the blocks it covers, so the image is never behind and a crash loses
 * nothing this layer held.  Multi-block transfers (file data, moved in runs
 * by ext4_extent_io.c) are not cached: no double buffering of data, which
 * the kernel's page cache of the image already holds.
 *
 * Every libext2fs call happens under the filesystem lock, so this needs no
 * lock of its own. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ext2fs/ext2fs.h>

#include "io/cache_io.h"

struct cache_ent {
	unsigned long long block;   /* ~0ULL: empty */
	bool referenced;            /* clock: used since the hand passed */
};

struct cache_io {
	io_channel under;
	unsigned nslots;            /* a power of two */
	unsigned hand;
	struct cache_ent *ent;
	char *data;                 /* nslots blocks */
	unsigned *bucket;           /* hash -> slot + 1 chains, open addressing */
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

static void drop(struct cache_io *c, unsigned long long block)
{
	int s = find_slot(c, block);
	if (s >= 0)
		unhash(c, (unsigned)s);
}

static void drop_all(struct cache_io *c)
{
	memset(c->bucket, 0, 2 * c->nslots * sizeof(*c->bucket));
	for (unsigned s = 0; s < c->nslots; s++)
		c->ent[s].block = ~0ULL;
}

/* A slot for a new block: the clock hand skips recently used ones once. */
static unsigned victim(struct cache_io *c)
{
	for (;;) {
		unsigned s = c->hand;
		c->hand = (c->hand + 1) & (c->nslots - 1);
		if (c->ent[s].block == ~0ULL)
			return s;
		if (!c->ent[s].referenced) {
			unhash(c, s);
			return s;
		}
		c->ent[s].referenced = false;
	}
}

static void insert(struct cache_io *c, io_channel ch, unsigned long long block, const void *buf)
{
	unsigned s = victim(c);
	unsigned mask = 2 * c->nslots - 1;
	unsigned i = hash_block(c, block);
	while (c->bucket[i])
		i = (i + 1) & mask;
	c->bucket[i] = s + 1;
	c->ent[s].block = block;
	c->ent[s].referenced = true;
	memcpy(c->data + (size_t)s * (size_t)ch->block_size, buf, (size_t)ch->block_size);
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
	drop_all(c);
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
		err = io_channel_close(c->under);
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
	errcode_t err = io_channel_set_blksize(c->under, blksize);
	if (err)
		return err;
	ch->block_size = blksize;
	return alloc_cache(c, blksize);
}

static errcode_t cache_read_blk64(io_channel ch, unsigned long long block, int count, void *buf)
{
	struct cache_io *c = cio(ch);
	if (count != 1 || !c->nslots)
		return io_channel_read_blk64(c->under, block, count, buf);
	int s = find_slot(c, block);
	if (s >= 0) {
		c->hits++;
		c->ent[s].referenced = true;
		memcpy(buf, c->data + (size_t)s * (size_t)ch->block_size, (size_t)ch->block_size);
		return 0;
	}
	c->misses++;
	errcode_t err = io_channel_read_blk64(c->under, block, 1, buf);
	if (!err)
		insert(c, ch, block, buf);
	return err;
}

static errcode_t cache_write_blk64(io_channel ch, unsigned long long block, int count,
				   const void *buf)
{
	struct cache_io *c = cio(ch);
	errcode_t err = io_channel_write_blk64(c->under, block, count, buf);
	if (!c->nslots)
		return err;
	if (count < 0) {
		/* A byte count: drop every block it touches. */
		unsigned long long bytes = (unsigned long long)-(long long)count;
		unsigned long long n = (bytes + (unsigned)ch->block_size - 1) / (unsigned)ch->block_size;
		for (unsigned long long i = 0; i < n; i++)
			drop(c, block + i);
		return err;
	}
	for (int i = 0; i < count; i++) {
		int s = find_slot(c, block + (unsigned long long)i);
		if (s < 0)
			continue;
		if (err)
			unhash(c, (unsigned)s);   /* the image may hold either version */
		else
			memcpy(c->data + (size_t)s * (size_t)ch->block_size,
			       (const char *)buf + (size_t)i * (size_t)ch->block_size, (size_t)ch->block_size);
	}
	return err;
}

static errcode_t cache_read_blk(io_channel ch, unsigned long block, int count, void *buf)
{
	return cache_read_blk64(ch, block, count, buf);
}

static errcode_t cache_write_blk(io_channel ch, unsigned long block, int count, const void *buf)
{
	return cache_write_blk64(ch, block, count, buf);
}

static errcode_t cache_flush(io_channel ch)
{
	return io_channel_flush(cio(ch)->under);
}

static errcode_t cache_write_byte(io_channel ch, unsigned long offset, int count, const void *buf)
{
	struct cache_io *c = cio(ch);
	errcode_t err = io_channel_write_byte(c->under, offset, count, buf);
	if (c->nslots && count > 0) {
		unsigned long long bs = (unsigned)ch->block_size;
		for (unsigned long long b = offset / bs; b <= (offset + (unsigned)count - 1) / bs; b++)
			drop(c, b);
	}
	return err;
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

/* Discard and zero-out change blocks: drop them, then pass on. */
static void drop_range(struct cache_io *c, unsigned long long block, unsigned long long count)
{
	if (!c->nslots)
		return;
	if (count > c->nslots) {
		drop_all(c);
		return;
	}
	for (unsigned long long i = 0; i < count; i++)
		drop(c, block + i);
}

static errcode_t cache_discard(io_channel ch, unsigned long long block, unsigned long long count)
{
	struct cache_io *c = cio(ch);
	drop_range(c, block, count);
	return io_channel_discard(c->under, block, count);
}

static errcode_t cache_zeroout(io_channel ch, unsigned long long block, unsigned long long count)
{
	struct cache_io *c = cio(ch);
	drop_range(c, block, count);
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
