/* An in-memory index of linear (unindexed, block) directories.
 *
 * libext2fs finds a name, a free slot, or the entry to remove by reading
 * (and checksumming) every block of the directory: creating n files in a
 * directory safemount grew itself costs O(n^2) block reads, as libext2fs
 * cannot build a hash index.  Here one scan of a directory records every
 * live name -> (inode, logical block) in a hash table, and per block the
 * largest slot a new entry could take, in a max-tree so that "the first
 * block with room for this many bytes" is O(log blocks).  Lookup, add,
 * remove and set then read and write one block.
 *
 * Trust: the scan checks every entry (record length, name length, inode
 * number, the checksum tail, no holes, no duplicate names); a directory
 * where anything is off is not cached and keeps the libext2fs path, which
 * reports the damage as it always did.  Each use re-reads the directory's
 * inode and drops the cache if it is no longer a plain directory or its
 * generation or size changed (freed and reused, grown or shrunk behind our
 * back); each block is re-mapped and re-parsed before it is changed, and a
 * block that does not hold what the cache says drops the cache too.
 *
 * Memory: at most DC_MAX_DIRS directories, DC_MAX_ENTRIES names and
 * DC_MAX_BYTES bytes; the least recently used directories go first.  Names
 * come from the image: the hash is SipHash-2-4 under a per-mount random key,
 * so crafted names cannot pile into one bucket.
 *
 * All of it runs under the filesystem lock (EXT4_LOCK).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "ext4_private.h"

#define DC_MAX_DIRS      4096u
#define DC_MAX_ENTRIES   (2u << 20)
#define DC_MAX_BYTES     ((size_t)128 << 20)
#define DC_DIR_BUCKETS   1024u          /* directory table (power of two) */
#define DC_MIN_BUCKETS   16u            /* a directory's first name table */
/* Larger directories (16 GiB at 4 KiB) are left to libext2fs. */
#define DC_MAX_BLOCKS    (1u << 22)
#define DC_TAIL_LEN      ((unsigned)sizeof(struct ext2_dir_entry_tail))

/* Returned by build() for a directory that must not be cached as it is. */
#define DC_REFUSE        (-EUCLEAN)

struct dc_ent {
	struct dc_ent *next;
	uint64_t hash;
	ext2_ino_t ino;
	uint32_t lblk;
	uint8_t len;
	char name[];
};

struct dc_dir {
	struct dc_dir *hnext;             /* chain in the directory table */
	struct dc_dir *prev, *next;       /* LRU list, most recent first */
	ext2_ino_t ino;
	/* The inode state the entries describe. */
	uint32_t generation;
	uint64_t size;
	/* Not cacheable in that state: libext2fs answers, without a rescan
	 * per lookup to find that out again. */
	bool refused;
	struct dc_ent **bucket;
	size_t nbuckets, nents;
	uint32_t nblocks;
	uint32_t cap;                     /* leaves of the free-slot tree */
	uint32_t *tree;                   /* max-tree: leaf b at tree[cap + b] */
	size_t bytes;                     /* what this directory holds */
};

struct ext4_dircache {
	uint64_t k0, k1;                  /* SipHash key */
	size_t max_names, max_dirs;
	struct dc_dir *table[DC_DIR_BUCKETS];
	struct dc_dir lru;                /* sentinel */
	size_t ndirs, nents, bytes;
};

/* ---- SipHash-2-4 (Aumasson & Bernstein) ---------------------------------- */

static uint64_t rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static void sip_round(uint64_t v[4])
{
	v[0] += v[1]; v[1] = rotl(v[1], 13); v[1] ^= v[0]; v[0] = rotl(v[0], 32);
	v[2] += v[3]; v[3] = rotl(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = rotl(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = rotl(v[1], 17); v[1] ^= v[2]; v[2] = rotl(v[2], 32);
}

static uint64_t sip_word(const unsigned char *p, size_t n)
{
	uint64_t w = 0;
	for (size_t i = 0; i < n; i++)
		w |= (uint64_t)p[i] << (8 * i);
	return w;
}

static void sip_absorb(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sip_round(v);
	sip_round(v);
	v[0] ^= m;
}

static uint64_t name_hash(const struct ext4_dircache *c, const char *name, size_t len)
{
	const unsigned char *p = (const unsigned char *)name;
	uint64_t v[4] = {
		c->k0 ^ 0x736f6d6570736575ull, c->k1 ^ 0x646f72616e646f6dull,
		c->k0 ^ 0x6c7967656e657261ull, c->k1 ^ 0x7465646279746573ull,
	};
	size_t full = len - len % 8;
	for (size_t i = 0; i < full; i += 8)
		sip_absorb(v, sip_word(p + i, 8));
	sip_absorb(v, sip_word(p + full, len % 8) | (uint64_t)(len & 0xff) << 56);
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ---- the cache and its directories --------------------------------------- */

static int cache_init(struct sm_fs *f)
{
	struct ext4_dircache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	uint64_t key[2];
	if (getrandom(key, sizeof(key), GRND_NONBLOCK) != (ssize_t)sizeof(key)) {
		/* No entropy yet: still differs per mount and per process. */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		key[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)c;
		key[1] = ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)f ^ rotl(key[0], 17);
	}
	c->k0 = key[0];
	c->k1 = key[1];
	c->lru.prev = c->lru.next = &c->lru;
	c->max_names = f->dircache_max_names ? f->dircache_max_names : DC_MAX_ENTRIES;
	c->max_dirs = f->dircache_max_dirs ? f->dircache_max_dirs : DC_MAX_DIRS;
	f->dircache = c;
	return 0;
}

static struct dc_dir **dir_slot(struct ext4_dircache *c, ext2_ino_t ino)
{
	uint32_t h = (uint32_t)(ino * 2654435761u) >> 22;   /* 10 bits: DC_DIR_BUCKETS */
	return &c->table[h & (DC_DIR_BUCKETS - 1)];
}

static struct dc_dir *find_dir(struct ext4_dircache *c, ext2_ino_t ino)
{
	for (struct dc_dir *d = *dir_slot(c, ino); d; d = d->hnext)
		if (d->ino == ino)
			return d;
	return NULL;
}

static void lru_unlink(struct dc_dir *d)
{
	d->prev->next = d->next;
	d->next->prev = d->prev;
}

static void lru_front(struct ext4_dircache *c, struct dc_dir *d)
{
	d->next = c->lru.next;
	d->prev = &c->lru;
	c->lru.next->prev = d;
	c->lru.next = d;
}

/* Forget a directory's names and free-slot tree (not the directory). */
static void clear_dir(struct ext4_dircache *c, struct dc_dir *d)
{
	for (size_t i = 0; i < d->nbuckets; i++) {
		struct dc_ent *e = d->bucket[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(d->bucket);
	free(d->tree);
	c->nents -= d->nents;
	c->bytes -= d->bytes;
	d->bucket = NULL;
	d->tree = NULL;
	d->nbuckets = d->nents = d->bytes = 0;
	d->nblocks = d->cap = 0;
}

static void drop_dir(struct ext4_dircache *c, struct dc_dir *d)
{
	struct dc_dir **p = dir_slot(c, d->ino);
	while (*p != d)
		p = &(*p)->hnext;
	*p = d->hnext;
	lru_unlink(d);
	clear_dir(c, d);
	c->ndirs--;
	free(d);
}

/* Evict least recently used directories other than `keep` until `more`
 * names of `more_bytes` fit the caps.  False if they cannot. */
static bool make_room(struct ext4_dircache *c, const struct dc_dir *keep, size_t more,
		      size_t more_bytes)
{
	while (c->nents + more > c->max_names || c->bytes + more_bytes > DC_MAX_BYTES) {
		struct dc_dir *v = c->lru.prev;
		if (v == keep)
			v = v->prev;
		if (v == &c->lru)
			return false;
		drop_dir(c, v);
	}
	return true;
}

static struct dc_dir *new_dir(struct ext4_dircache *c, ext2_ino_t ino)
{
	if (c->ndirs >= c->max_dirs)
		drop_dir(c, c->lru.prev);
	struct dc_dir *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->ino = ino;
	struct dc_dir **slot = dir_slot(c, ino);
	d->hnext = *slot;
	*slot = d;
	lru_front(c, d);
	c->ndirs++;
	return d;
}

/* ---- names ------------------------------------------------------------- */

/* The link pointing at the entry `name`, or NULL. */
static struct dc_ent **find_ent(const struct ext4_dircache *c, struct dc_dir *d,
				const char *name, size_t len)
{
	if (!d->nbuckets)
		return NULL;
	uint64_t h = name_hash(c, name, len);
	struct dc_ent **p = &d->bucket[h & (d->nbuckets - 1)];
	for (; *p; p = &(*p)->next)
		if ((*p)->hash == h && (*p)->len == len && !memcmp((*p)->name, name, len))
			return p;
	return NULL;
}

/* Double the bucket array when it is full; keeping the old one on ENOMEM
 * only makes chains longer. */
static void maybe_rehash(struct ext4_dircache *c, struct dc_dir *d)
{
	if (d->nents < d->nbuckets)
		return;
	size_t n = d->nbuckets * 2;
	struct dc_ent **b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < d->nbuckets; i++) {
		struct dc_ent *e = d->bucket[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(d->bucket);
	d->bucket = b;
	c->bytes += (n - d->nbuckets) * sizeof(*b);
	d->bytes += (n - d->nbuckets) * sizeof(*b);
	d->nbuckets = n;
}

/* Record a name.  -EEXIST for a duplicate (libext2fs would answer the first
 * one, we could not tell which), -E2BIG when over the caps. */
static int add_ent(struct ext4_dircache *c, struct dc_dir *d, const char *name, size_t len,
		   ext2_ino_t ino, uint32_t lblk)
{
	size_t sz = sizeof(struct dc_ent) + len;
	if (!make_room(c, d, 1, sz))
		return -E2BIG;
	if (!d->nbuckets) {
		d->bucket = calloc(DC_MIN_BUCKETS, sizeof(*d->bucket));
		if (!d->bucket)
			return -ENOMEM;
		d->nbuckets = DC_MIN_BUCKETS;
		c->bytes += DC_MIN_BUCKETS * sizeof(*d->bucket);
		d->bytes += DC_MIN_BUCKETS * sizeof(*d->bucket);
	}
	if (find_ent(c, d, name, len))
		return -EEXIST;
	struct dc_ent *e = malloc(sz);
	if (!e)
		return -ENOMEM;
	e->hash = name_hash(c, name, len);
	e->ino = ino;
	e->lblk = lblk;
	e->len = (uint8_t)len;
	memcpy(e->name, name, len);
	struct dc_ent **b = &d->bucket[e->hash & (d->nbuckets - 1)];
	e->next = *b;
	*b = e;
	d->nents++;
	d->bytes += sz;
	c->nents++;
	c->bytes += sz;
	maybe_rehash(c, d);
	return 0;
}

static void del_ent(struct ext4_dircache *c, struct dc_dir *d, struct dc_ent **link)
{
	struct dc_ent *e = *link;
	size_t sz = sizeof(*e) + e->len;
	*link = e->next;
	free(e);
	d->nents--;
	d->bytes -= sz;
	c->nents--;
	c->bytes -= sz;
}

/* ---- free slots: a max-tree over the blocks ------------------------------ */

static uint32_t max32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* Room for nblocks leaves. */
static int tree_reserve(struct ext4_dircache *c, struct dc_dir *d, uint32_t nblocks)
{
	uint32_t cap = d->cap ? d->cap : 1;
	while (cap < nblocks)
		cap *= 2;
	if (cap == d->cap)
		return 0;
	size_t sz = 2 * (size_t)cap * sizeof(uint32_t);
	if (!make_room(c, d, 0, sz))
		return -E2BIG;
	uint32_t *t = calloc(2 * (size_t)cap, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (uint32_t b = 0; b < d->nblocks; b++)
		t[cap + b] = d->tree[d->cap + b];
	for (uint32_t i = cap - 1; i >= 1; i--)
		t[i] = max32(t[2 * i], t[2 * i + 1]);
	size_t old = 2 * (size_t)d->cap * sizeof(uint32_t);
	free(d->tree);
	d->tree = t;
	d->cap = cap;
	c->bytes += sz - old;
	d->bytes += sz - old;
	return 0;
}

static void tree_set(struct dc_dir *d, uint32_t b, uint32_t slot)
{
	uint32_t i = d->cap + b;
	d->tree[i] = slot;
	for (i /= 2; i >= 1; i /= 2)
		d->tree[i] = max32(d->tree[2 * i], d->tree[2 * i + 1]);
}

/* The first block whose largest slot takes `need` bytes, or -1. */
static int64_t tree_first_fit(const struct dc_dir *d, uint32_t need)
{
	if (!d->cap || d->tree[1] < need)
		return -1;
	uint32_t i = 1;
	while (i < d->cap)
		i = d->tree[2 * i] >= need ? 2 * i : 2 * i + 1;
	return (int64_t)(i - d->cap);
}

/* ---- directory blocks ---------------------------------------------------- */

/* Bytes of a block that hold entries: all but the checksum tail. */
static unsigned usable(const ext2_filsys fs)
{
	return fs->blocksize - (ext2fs_has_feature_metadata_csum(fs->super) ? DC_TAIL_LEN : 0);
}

/* The entry at off, checked: it fits in [off, end), its name fits in it, it
 * names no inode past the table and a live one has a name. */
static int entry_at(ext2_filsys fs, char *buf, unsigned off, unsigned end,
		    struct ext2_dir_entry **out, unsigned *rec_len)
{
	if (end - off < EXT2_DIR_ENTRY_HEADER_LEN)
		return DC_REFUSE;
	struct ext2_dir_entry *d = (struct ext2_dir_entry *)(buf + off);
	if (ext2fs_get_rec_len(fs, d, rec_len))
		return DC_REFUSE;
	unsigned n = (unsigned)ext2fs_dirent_name_len(d);
	if (*rec_len < EXT2_DIR_ENTRY_HEADER_LEN || *rec_len % 4 || *rec_len > end - off ||
	    EXT2_DIR_REC_LEN(n) > *rec_len)
		return DC_REFUSE;
	if (d->inode > fs->super->s_inodes_count || (d->inode && n == 0))
		return DC_REFUSE;
	*out = d;
	return 0;
}

/* What a new entry could take of this one: the slack past a live entry's
 * name, or all of an unused one. */
static unsigned slot_of(const struct ext2_dir_entry *d, unsigned rec_len)
{
	if (!d->inode)
		return rec_len;
	return rec_len - EXT2_DIR_REC_LEN(ext2fs_dirent_name_len(d));
}

static bool tail_ok(const ext2_filsys fs, const char *buf)
{
	if (!ext2fs_has_feature_metadata_csum(fs->super))
		return true;
	const struct ext2_dir_entry_tail *t =
		(const struct ext2_dir_entry_tail *)(buf + fs->blocksize - DC_TAIL_LEN);
	return t->det_reserved_zero1 == 0 && t->det_rec_len == DC_TAIL_LEN &&
	       t->det_reserved_name_len == EXT2_DIR_NAME_LEN_CSUM;
}

/* The largest slot of a block, checking all of it; DC_REFUSE if malformed. */
static int block_slot(ext2_filsys fs, char *buf, uint32_t *slot)
{
	unsigned end = usable(fs), rec_len;
	*slot = 0;
	for (unsigned off = 0; off < end; off += rec_len) {
		struct ext2_dir_entry *d;
		int ret = entry_at(fs, buf, off, end, &d, &rec_len);
		if (ret)
			return ret;
		*slot = max32(*slot, slot_of(d, rec_len));
	}
	return tail_ok(fs, buf) ? 0 : DC_REFUSE;
}

/* Physical block of dir's logical block lblk: a hole, an uninitialized
 * extent or a block outside the filesystem is corruption. */
static int map_block(struct sm_fs *f, ext2_ino_t dir, struct ext2_inode_large *inode,
		     uint32_t lblk, blk64_t *pblk)
{
	ext2_filsys fs = f->fs;
	int flags = 0;
	*pblk = 0;
	errcode_t err = ext2fs_bmap2(fs, dir, (struct ext2_inode *)inode, NULL, 0, lblk,
				     &flags, pblk);
	if (err)
		return DC_REFUSE;
	if (*pblk == 0 || *pblk < fs->super->s_first_data_block ||
	    *pblk >= ext2fs_blocks_count(fs->super) || (flags & BMAP_RET_UNINIT))
		return DC_REFUSE;
	return 0;
}

static int read_block(struct sm_fs *f, ext2_ino_t dir, struct ext2_inode_large *inode,
		      uint32_t lblk, blk64_t *pblk, char *buf)
{
	int ret = map_block(f, dir, inode, lblk, pblk);
	if (ret)
		return ret;
	errcode_t err = ext2fs_read_dir_block4(f->fs, *pblk, buf, 0, dir);
	if (err == EXT2_ET_DIR_CSUM_INVALID || err == EXT2_ET_DIR_CORRUPTED)
		return DC_REFUSE;
	return ext4_err(err);
}

/* ---- building ------------------------------------------------------------ */

static int scan_block(struct sm_fs *f, struct dc_dir *d, uint32_t lblk, char *buf)
{
	ext2_filsys fs = f->fs;
	unsigned end = usable(fs), rec_len;
	uint32_t slot = 0;
	for (unsigned off = 0; off < end; off += rec_len) {
		struct ext2_dir_entry *e;
		int ret = entry_at(fs, buf, off, end, &e, &rec_len);
		if (ret)
			return ret;
		slot = max32(slot, slot_of(e, rec_len));
		if (!e->inode)
			continue;
		ret = add_ent(f->dircache, d, e->name, (size_t)ext2fs_dirent_name_len(e),
			      e->inode, lblk);
		if (ret == -EEXIST || ret == -E2BIG)
			return DC_REFUSE;
		if (ret)
			return ret;
	}
	if (!tail_ok(fs, buf))
		return DC_REFUSE;
	tree_set(d, lblk, slot);
	return 0;
}

/* One pass over all blocks.  0, DC_REFUSE (not cacheable as it is), or
 * another -errno (try again next time). */
static int build(struct sm_fs *f, struct dc_dir *d, struct ext2_inode_large *inode)
{
	uint32_t nblocks = (uint32_t)(d->size / f->fs->blocksize);
	blk64_t pblk;
	int ret = tree_reserve(f->dircache, d, nblocks);
	if (ret)
		return ret == -E2BIG ? DC_REFUSE : ret;
	d->nblocks = nblocks;
	char *buf = malloc(f->fs->blocksize);
	if (!buf)
		return -ENOMEM;
	for (uint32_t b = 0; b < nblocks && !ret; b++) {
		ret = read_block(f, d->ino, inode, b, &pblk, buf);
		if (!ret)
			ret = scan_block(f, d, b, buf);
	}
	free(buf);
	if (ret)
		return ret;
	/* ext2fs_expand_dir appends after the last mapped block: one mapped
	 * past i_size would be where the next name goes, not the new block. */
	int flags = 0;
	pblk = 0;
	if (ext2fs_bmap2(f->fs, d->ino, (struct ext2_inode *)inode, NULL, 0, nblocks, &flags,
			 &pblk) || pblk)
		return DC_REFUSE;
	return 0;
}

/* ---- finding a directory's cache ------------------------------------------ */

static bool cacheable(const struct sm_fs *f, const struct ext2_inode_large *inode)
{
	const uint32_t other = EXT2_INDEX_FL | EXT4_INLINE_DATA_FL | EXT4_ENCRYPT_FL |
			       EXT4_CASEFOLD_FL;
	uint64_t size = ext4_isize(inode);
	unsigned bs = f->fs->blocksize;
	return LINUX_S_ISDIR(inode->i_mode) && inode->i_links_count > 0 &&
	       !(inode->i_flags & other) && size > 0 && size % bs == 0 &&
	       size / bs <= DC_MAX_BLOCKS;
}

/* dir's cache, built on first use; NULL when it is not cached (the caller
 * uses libext2fs).  *inode gets dir's inode as it is now. */
static struct dc_dir *get_dir(struct sm_fs *f, ext2_ino_t dir, struct ext2_inode_large *inode)
{
	if (f->dircache_off || ext4_check_ino(f, dir))
		return NULL;
	if (!f->dircache && cache_init(f))
		return NULL;
	struct ext4_dircache *c = f->dircache;
	memset(inode, 0, sizeof(*inode));
	if (ext2fs_read_inode_full(f->fs, dir, (struct ext2_inode *)inode, sizeof(*inode)))
		return NULL;   /* libext2fs reports it */
	struct dc_dir *d = find_dir(c, dir);
	if (d && (!cacheable(f, inode) || d->generation != inode->i_generation ||
		  d->size != ext4_isize(inode))) {
		drop_dir(c, d);
		d = NULL;
	}
	if (d) {
		lru_unlink(d);
		lru_front(c, d);
		return d->refused ? NULL : d;
	}
	if (!cacheable(f, inode))
		return NULL;
	d = new_dir(c, dir);
	if (!d)
		return NULL;
	d->generation = inode->i_generation;
	d->size = ext4_isize(inode);
	int ret = build(f, d, inode);
	if (ret == 0)
		return d;
	if (ret == DC_REFUSE) {
		clear_dir(c, d);
		d->refused = true;
	} else {
		drop_dir(c, d);
	}
	return NULL;
}

/* The cache and the block disagree, or a write failed half-way: forget the
 * directory (libext2fs takes over). */
static int give_up(struct sm_fs *f, struct dc_dir *d, int ret)
{
	drop_dir(f->dircache, d);
	return ret;
}

/* ---- operations ---------------------------------------------------------- */

int ext4_dircache_lookup(struct sm_fs *f, ext2_ino_t dir, const char *name, size_t len,
			 ext2_ino_t *ino)
{
	struct ext2_inode_large inode;
	struct dc_dir *d = get_dir(f, dir, &inode);
	if (!d)
		return EXT4_DC_UNCACHED;
	struct dc_ent **e = find_ent(f->dircache, d, name, len);
	if (!e)
		return -ENOENT;
	*ino = (*e)->ino;
	return 0;
}

/* A block of dir, read for a change: buf and its physical number. */
struct dc_block {
	char *buf;
	blk64_t pblk;
	uint32_t lblk;
};

static int load(struct sm_fs *f, ext2_ino_t dir, struct ext2_inode_large *inode,
		uint32_t lblk, struct dc_block *blk)
{
	blk->lblk = lblk;
	blk->buf = malloc(f->fs->blocksize);
	if (!blk->buf)
		return -ENOMEM;
	return read_block(f, dir, inode, lblk, &blk->pblk, blk->buf);
}

/* Write the changed block back (libext2fs sets the checksum) and refresh
 * its free slot. */
static int store(struct sm_fs *f, struct dc_dir *d, ext2_ino_t dir, struct dc_block *blk)
{
	uint32_t slot;
	if (block_slot(f->fs, blk->buf, &slot))
		return DC_REFUSE;   /* we never write a block we cannot parse */
	errcode_t err = ext2fs_write_dir_block4(f->fs, blk->pblk, blk->buf, 0, dir);
	if (err)
		return ext4_err(err);
	tree_set(d, blk->lblk, slot);
	return 0;
}

/* Find the live entry `name` naming ino in the block: its offset and the
 * previous entry's (UINT32_MAX for the first).  DC_REFUSE if absent. */
static int find_in_block(ext2_filsys fs, char *buf, const char *name, size_t len,
			 ext2_ino_t ino, unsigned *at, unsigned *prev)
{
	unsigned end = usable(fs), rec_len, last = UINT32_MAX;
	for (unsigned off = 0; off < end; off += rec_len) {
		struct ext2_dir_entry *d;
		int ret = entry_at(fs, buf, off, end, &d, &rec_len);
		if (ret)
			return ret;
		if (d->inode == ino && (size_t)ext2fs_dirent_name_len(d) == len &&
		    !memcmp(d->name, name, len)) {
			*at = off;
			*prev = last;
			return 0;
		}
		last = off;
	}
	return DC_REFUSE;
}

/* Fill the entry at d (its rec_len already set) with the new name. */
static void fill_entry(struct ext2_dir_entry *d, const char *name, size_t len, ext2_ino_t ino,
		       int type)
{
	d->inode = ino;
	ext2fs_dirent_set_name_len(d, (int)len);
	ext2fs_dirent_set_file_type(d, type);
	memcpy(d->name, name, len);
	/* The padding of the record: no bytes of an older name linger. */
	memset(d->name + len, 0, EXT2_DIR_REC_LEN(len) - EXT2_DIR_ENTRY_HEADER_LEN - len);
}

/* Put the entry in the first slot of the block that takes `need` bytes:
 * split a live entry's slack off into a new record, or reuse an unused
 * record whole. */
static int place(ext2_filsys fs, char *buf, const char *name, size_t len, ext2_ino_t ino,
		 int type)
{
	unsigned end = usable(fs), rec_len, need = EXT2_DIR_REC_LEN(len);
	for (unsigned off = 0; off < end; off += rec_len) {
		struct ext2_dir_entry *d;
		int ret = entry_at(fs, buf, off, end, &d, &rec_len);
		if (ret)
			return ret;
		if (slot_of(d, rec_len) < need)
			continue;
		if (d->inode) {
			unsigned keep = EXT2_DIR_REC_LEN(ext2fs_dirent_name_len(d));
			struct ext2_dir_entry *n = (struct ext2_dir_entry *)(buf + off + keep);
			if (ext2fs_set_rec_len(fs, keep, d) ||
			    ext2fs_set_rec_len(fs, rec_len - keep, n))
				return DC_REFUSE;
			d = n;
		}
		fill_entry(d, name, len, ino, type);
		return 0;
	}
	return DC_REFUSE;
}

/* No block has room: ext2fs_expand_dir appends an empty one (and sets
 * i_size / i_blocks); it must be exactly that before the cache takes it. */
static int grow(struct sm_fs *f, struct dc_dir *d, ext2_ino_t dir,
		struct ext2_inode_large *inode, int64_t *added)
{
	ext2_filsys fs = f->fs;
	struct dc_block blk = { 0 };
	uint32_t slot;
	if (d->nblocks >= DC_MAX_BLOCKS)
		return give_up(f, d, EXT4_DC_UNCACHED);
	errcode_t err = ext2fs_expand_dir(fs, dir);
	if (err)
		return give_up(f, d, ext4_err(err));
	memset(inode, 0, sizeof(*inode));
	if (ext2fs_read_inode_full(fs, dir, (struct ext2_inode *)inode, sizeof(*inode)) ||
	    !cacheable(f, inode) || ext4_isize(inode) != d->size + fs->blocksize ||
	    inode->i_generation != d->generation)
		return give_up(f, d, EXT4_DC_UNCACHED);
	int ret = load(f, dir, inode, d->nblocks, &blk);
	if (!ret)
		ret = block_slot(fs, blk.buf, &slot);
	free(blk.buf);
	if (!ret && slot != usable(fs))
		ret = DC_REFUSE;   /* not a single unused record */
	if (!ret)
		ret = tree_reserve(f->dircache, d, d->nblocks + 1);
	if (ret)
		return give_up(f, d, EXT4_DC_UNCACHED);
	tree_set(d, d->nblocks, slot);
	*added = d->nblocks++;
	d->size += fs->blocksize;
	return 0;
}

int ext4_dircache_add(struct sm_fs *f, ext2_ino_t dir, const char *name, size_t len,
		      ext2_ino_t ino, int type)
{
	struct ext2_inode_large inode;
	struct dc_dir *d = get_dir(f, dir, &inode);
	if (!d)
		return EXT4_DC_UNCACHED;
	int64_t b = tree_first_fit(d, EXT2_DIR_REC_LEN(len));
	if (b < 0) {
		int ret = grow(f, d, dir, &inode, &b);
		if (ret)
			return ret;
	}
	struct dc_block blk = { 0 };
	int ret = load(f, dir, &inode, (uint32_t)b, &blk);
	if (!ret)
		ret = place(f->fs, blk.buf, name, len, ino, type);
	if (!ret)
		ret = store(f, d, dir, &blk);
	free(blk.buf);
	/* Nothing written: libext2fs retries from scratch (and reports what
	 * is wrong with the block). */
	if (ret == DC_REFUSE)
		return give_up(f, d, EXT4_DC_UNCACHED);
	if (ret)
		return give_up(f, d, ret);
	/* Written: without the name recorded the cache would be wrong. */
	if (add_ent(f->dircache, d, name, len, ino, (uint32_t)b))
		drop_dir(f->dircache, d);
	return 0;
}

int ext4_dircache_remove(struct sm_fs *f, ext2_ino_t dir, const char *name, size_t len,
			 ext2_ino_t ino)
{
	struct ext2_inode_large inode;
	struct dc_dir *d = get_dir(f, dir, &inode);
	if (!d)
		return EXT4_DC_UNCACHED;
	struct dc_ent **e = find_ent(f->dircache, d, name, len);
	if (!e || (ino && (*e)->ino != ino))
		return -ENOENT;
	struct dc_block blk = { 0 };
	unsigned at = 0, prev = 0, rec_len = 0;
	int ret = load(f, dir, &inode, (*e)->lblk, &blk);
	if (!ret)
		ret = find_in_block(f->fs, blk.buf, name, len, (*e)->ino, &at, &prev);
	if (!ret) {
		/* As ext2fs_unlink: the previous record absorbs this one; the
		 * first record of a block just becomes unused. */
		struct ext2_dir_entry *de = (struct ext2_dir_entry *)(blk.buf + at);
		if (prev == UINT32_MAX) {
			de->inode = 0;
		} else {
			struct ext2_dir_entry *p = (struct ext2_dir_entry *)(blk.buf + prev);
			unsigned plen = 0;
			ret = ext2fs_get_rec_len(f->fs, de, &rec_len) ||
			      ext2fs_get_rec_len(f->fs, p, &plen) ||
			      ext2fs_set_rec_len(f->fs, plen + rec_len, p) ? DC_REFUSE : 0;
		}
	}
	if (!ret)
		ret = store(f, d, dir, &blk);
	free(blk.buf);
	if (ret == DC_REFUSE)
		return give_up(f, d, EXT4_DC_UNCACHED);
	if (ret)
		return give_up(f, d, ret);
	del_ent(f->dircache, d, e);
	return 0;
}

int ext4_dircache_set(struct sm_fs *f, ext2_ino_t dir, const char *name, size_t len,
		      ext2_ino_t old_ino, ext2_ino_t new_ino, int type, bool set_type)
{
	struct ext2_inode_large inode;
	struct dc_dir *d = get_dir(f, dir, &inode);
	if (!d)
		return EXT4_DC_UNCACHED;
	struct dc_ent **e = find_ent(f->dircache, d, name, len);
	if (!e || (old_ino && (*e)->ino != old_ino))
		return -ENOENT;
	struct dc_block blk = { 0 };
	unsigned at = 0, prev = 0;
	int ret = load(f, dir, &inode, (*e)->lblk, &blk);
	if (!ret)
		ret = find_in_block(f->fs, blk.buf, name, len, (*e)->ino, &at, &prev);
	if (!ret) {
		struct ext2_dir_entry *de = (struct ext2_dir_entry *)(blk.buf + at);
		de->inode = new_ino;
		if (set_type)
			ext2fs_dirent_set_file_type(de, type);
		ret = store(f, d, dir, &blk);
	}
	free(blk.buf);
	if (ret == DC_REFUSE)
		return give_up(f, d, EXT4_DC_UNCACHED);
	if (ret)
		return give_up(f, d, ret);
	(*e)->ino = new_ino;
	return 0;
}

void ext4_dircache_drop(struct sm_fs *f, ext2_ino_t dir)
{
	struct dc_dir *d = f->dircache ? find_dir(f->dircache, dir) : NULL;
	if (d)
		drop_dir(f->dircache, d);
}

void ext4_dircache_free(struct sm_fs *f)
{
	struct ext4_dircache *c = f->dircache;
	if (!c)
		return;
	while (c->lru.next != &c->lru)
		drop_dir(c, c->lru.next);
	free(c);
	f->dircache = NULL;
}

void ext4_dircache_stats(const struct sm_fs *f, size_t *dirs, size_t *names)
{
	const struct ext4_dircache *c = f->dircache;
	*dirs = *names = 0;
	if (!c)
		return;
	for (const struct dc_dir *d = c->lru.next; d != &c->lru; d = d->next)
		*dirs += !d->refused;
	*names = c->nents;
}
