/* Name lookup through a directory's hash tree (the dir_index feature).
 *
 * ext2fs_lookup reads every block of a directory; in an indexed directory
 * the name's hash picks one leaf through at most three index levels, so a
 * lookup reads a handful of blocks whatever the directory's size.
 *
 * The index is image data like any other: every header, count, hash and
 * block number is checked before it is used, and a leaf is only trusted to
 * be the right one if the entries in it hash into the range the index gives
 * it (checked when the name is not there: a miss is the answer that would be
 * wrong if the index or the hash seed were damaged).  Whatever does not add
 * up makes the caller fall back to the linear scan, as the kernel does with
 * a bad index; the fallback is logged once per mount.
 *
 * Layout (all little endian), block 0 of the directory:
 *   "." entry (12 bytes), ".." entry (rec_len = block size - 12),
 *   dx_root_info at 24 (8 bytes), then count/limit and the dx entries at 32;
 * interior nodes: a fake empty entry (8 bytes, rec_len = block size), then
 * count/limit and the entries at 8.  Each entry is {hash, block}; the first
 * entry's hash field holds limit and count instead.  With metadata_csum a
 * dx_tail (8 bytes) follows the `limit` entries.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ext4_private.h"
#include "util/log.h"

/* Root plus two interior levels: the most the largedir feature allows. */
#define HTREE_MAX_LEVELS   3u
/* Offsets of the count/limit header in the root and in interior nodes. */
#define HTREE_ROOT_ENTRIES 32u
#define HTREE_NODE_ENTRIES 8u
#define HTREE_ENTRY_SIZE   8u
/* Leaves to read for one name.  More than one only when a hash collision
 * run crosses leaf boundaries; a real run spans a block or two, a longer one
 * is a crafted index (or names), and the linear scan answers instead. */
#define HTREE_MAX_LEAVES   16u

/* One index block on the path from the root to the current leaf. */
struct htree_frame {
	blk64_t lblk;               /* the directory's logical block */
	const unsigned char *ent;   /* its dx entries */
	unsigned count;
	unsigned at;                /* entry followed */
	uint32_t lo, hi;            /* hash range the parent gives this block */
};

struct htree_walk {
	struct sm_fs *f;
	ext2_ino_t dir;
	struct ext2_inode_large *inode;
	unsigned bs;
	blk64_t nblocks;            /* directory size in blocks */
	unsigned levels;            /* index blocks on a root-to-leaf path */
	unsigned tail;              /* dx_tail bytes after the entries */
	int hash_alg;               /* ext2fs_dirhash2 version, (un)signed */
	uint32_t hash;              /* of the name looked up */
	const char *why;            /* why the index was refused */
	unsigned char *buf;         /* HTREE_MAX_LEVELS index blocks + a leaf */
	struct htree_frame fr[HTREE_MAX_LEVELS];
};

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned get_le16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

/* Entry i's hash (i >= 1: entry 0's hash field is the count/limit header). */
static uint32_t ent_hash(const struct htree_frame *fr, unsigned i)
{
	return get_le32(fr->ent + i * HTREE_ENTRY_SIZE);
}

/* Entry i's block; the top four bits are reserved (the kernel masks them). */
static blk64_t ent_block(const struct htree_frame *fr, unsigned i)
{
	return get_le32(fr->ent + i * HTREE_ENTRY_SIZE + 4) & EXT4_DX_BLOCK_MASK;
}

/* The hash range of what entry i of a frame points to: from its hash (less
 * the collision bit: a continued block starts with the previous one's last
 * hash) up to the next entry's hash, or the frame's own range at the ends. */
static void ent_range(const struct htree_frame *fr, unsigned i, uint32_t *lo, uint32_t *hi)
{
	*lo = i == 0 ? fr->lo : ent_hash(fr, i) & ~1u;
	*hi = i + 1 < fr->count ? ent_hash(fr, i + 1) : fr->hi;
}

static int refuse(struct htree_walk *w, const char *why)
{
	w->why = why;
	return -EUCLEAN;
}

/* Read logical block lblk of the directory into buf.  ext2fs_read_dir_block4
 * verifies the leaf or dx_tail checksum under metadata_csum (libext2fs
 * bounds count and limit itself before checksumming a dx block). */
static int read_block(struct htree_walk *w, blk64_t lblk, unsigned char *buf)
{
	ext2_filsys fs = w->f->fs;
	blk64_t pblk = 0;

	if (lblk >= w->nblocks)
		return refuse(w, "a block pointer is past the end of the directory");
	errcode_t err = ext2fs_bmap2(fs, w->dir, (struct ext2_inode *)w->inode, NULL, 0,
				     lblk, NULL, &pblk);
	if (err)
		return refuse(w, "a directory block cannot be mapped");
	if (pblk < fs->super->s_first_data_block || pblk >= ext2fs_blocks_count(fs->super))
		return refuse(w, "a directory block is a hole or outside the filesystem");
	err = ext2fs_read_dir_block4(fs, pblk, buf, 0, w->dir);
	if (err == EXT2_ET_DIR_CSUM_INVALID)
		return refuse(w, "a directory block fails its checksum");
	if (err)
		return refuse(w, "a directory block cannot be read");
	return 0;
}

/* count/limit at `off`, the entries' hashes in order and inside the range
 * the parent gives, block pointers inside the directory. */
static int check_entries(struct htree_walk *w, struct htree_frame *fr, const unsigned char *blk,
			 unsigned off)
{
	unsigned limit = get_le16(blk + off);
	unsigned count = get_le16(blk + off + 2);

	/* The limit is what fits: anything else means a different layout. */
	if (limit != (w->bs - off - w->tail) / HTREE_ENTRY_SIZE)
		return refuse(w, "an index block's limit does not match the block size");
	if (count == 0 || count > limit)
		return refuse(w, "an index block's entry count is out of range");
	fr->ent = blk + off;
	fr->count = count;
	uint32_t prev = fr->lo & ~1u;
	for (unsigned i = 0; i < count; i++) {
		blk64_t b = ent_block(fr, i);
		if (b == 0 || b >= w->nblocks)
			return refuse(w, "an index entry points outside the directory");
		if (i == 0)
			continue;
		uint32_t h = ent_hash(fr, i);
		if (h < prev || h > fr->hi)
			return refuse(w, "an index block's hashes are out of order");
		prev = h;
	}
	return 0;
}

/* A directory entry header in host order (ext2fs_read_dir_block4 swabbed it
 * on big-endian hosts). */
static bool fake_entry(const struct htree_walk *w, const unsigned char *p, unsigned rec_len,
		       unsigned name_len, const char *name)
{
	const struct ext2_dir_entry *d = (const struct ext2_dir_entry *)p;
	unsigned got = 0;
	if (ext2fs_get_rec_len(w->f->fs, (struct ext2_dir_entry *)d, &got) || got != rec_len)
		return false;
	if ((unsigned)ext2fs_dirent_name_len(d) != name_len)
		return false;
	return memcmp(d->name, name, name_len) == 0;
}

static int check_root(struct htree_walk *w)
{
	const unsigned char *blk = w->buf;
	struct htree_frame *fr = &w->fr[0];

	if (!fake_entry(w, blk, 12, 1, ".") || !fake_entry(w, blk + 12, w->bs - 12, 2, ".."))
		return refuse(w, "the index root does not start with . and ..");
	const unsigned char *info = blk + 24;
	unsigned hash_version = info[4], info_length = info[5];
	unsigned indirect = info[6], flags = info[7];
	if (get_le32(info) != 0 || info_length != 8)
		return refuse(w, "the index root header is malformed");
	if (flags & EXT2_HASH_FLAG_INCOMPAT)
		return refuse(w, "the index root has unknown flags");
	/* indirect_levels counts the interior levels below the root. */
	if (indirect + 1 > ext2_dir_htree_level(w->f->fs))
		return refuse(w, "the index is deeper than the filesystem allows");
	/* Only the three hashes of plain directories are stored on disk; the
	 * *_UNSIGNED values are the superblock flag's, siphash needs casefold
	 * with encryption (both refused at mount). */
	if (hash_version != EXT2_HASH_LEGACY && hash_version != EXT2_HASH_HALF_MD4 &&
	    hash_version != EXT2_HASH_TEA)
		return refuse(w, "the index uses an unknown hash");
	w->levels = indirect + 1;
	w->hash_alg = (int)hash_version;
	if (w->f->fs->super->s_flags & EXT2_FLAGS_UNSIGNED_HASH)
		w->hash_alg += EXT2_HASH_LEGACY_UNSIGNED;
	fr->lblk = 0;
	fr->lo = 0;
	fr->hi = UINT32_MAX;
	return check_entries(w, fr, blk, HTREE_ROOT_ENTRIES);
}

/* Interior node at level d (1..levels-1), reached from level d-1's entry. */
static int load_node(struct htree_walk *w, unsigned d)
{
	struct htree_frame *up = &w->fr[d - 1], *fr = &w->fr[d];
	unsigned char *blk = w->buf + (size_t)d * w->bs;

	fr->lblk = ent_block(up, up->at);
	/* Each level's block must be new on this path, or the walk is a loop. */
	for (unsigned i = 0; i < d; i++)
		if (w->fr[i].lblk == fr->lblk)
			return refuse(w, "the index refers to itself");
	int ret = read_block(w, fr->lblk, blk);
	if (ret)
		return ret;
	if (!fake_entry(w, blk, w->bs, 0, "") || get_le32(blk) != 0)
		return refuse(w, "an interior index block has a bad header");
	ent_range(up, up->at, &fr->lo, &fr->hi);
	return check_entries(w, fr, blk, HTREE_NODE_ENTRIES);
}

/* The last entry whose hash is <= ours (entry 0 covers everything below
 * entry 1): the block that holds our hash, or starts our collision run. */
static unsigned search(const struct htree_frame *fr, uint32_t hash)
{
	unsigned lo = 1, hi = fr->count;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (ent_hash(fr, mid) > hash)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo - 1;
}

static int descend(struct htree_walk *w, unsigned from)
{
	for (unsigned d = from; d < w->levels; d++) {
		int ret = load_node(w, d);
		if (ret)
			return ret;
		w->fr[d].at = search(&w->fr[d], w->hash);
	}
	return 0;
}

/* Move to the next leaf if it may continue our hash: the next entry at the
 * deepest level that has one starts with our hash (collision bit aside), as
 * the kernel's ext4_htree_next_block.  1 moved, 0 done, <0 refused. */
static int next_leaf(struct htree_walk *w)
{
	unsigned d = w->levels - 1;
	while (w->fr[d].at + 1 >= w->fr[d].count) {
		if (d == 0)
			return 0;
		d--;
	}
	w->fr[d].at++;
	if ((ent_hash(&w->fr[d], w->fr[d].at) & ~1u) != w->hash)
		return 0;
	/* Below the advanced level, start at each new node's first entry. */
	for (unsigned i = d + 1; i < w->levels; i++) {
		int ret = load_node(w, i);
		if (ret)
			return ret;
		w->fr[i].at = 0;
	}
	return 1;
}

/* One leaf entry at `off`, bounds-checked: its record and name fit in the
 * block.  *rec_len gets the record length. */
static int leaf_entry(struct htree_walk *w, const unsigned char *blk, unsigned off,
		      const struct ext2_dir_entry **out, unsigned *rec_len)
{
	const struct ext2_dir_entry *d = (const struct ext2_dir_entry *)(blk + off);
	if (w->bs - off < EXT2_DIR_ENTRY_HEADER_LEN)
		return refuse(w, "a leaf entry header crosses the block end");
	if (ext2fs_get_rec_len(w->f->fs, (struct ext2_dir_entry *)d, rec_len))
		return refuse(w, "a leaf entry length is invalid");
	unsigned name_len = (unsigned)ext2fs_dirent_name_len(d);
	if (*rec_len < EXT2_DIR_ENTRY_HEADER_LEN || *rec_len % 4 || *rec_len > w->bs - off ||
	    ext2fs_dir_rec_len((uint8_t)name_len, 0) > *rec_len)
		return refuse(w, "a leaf entry length is out of bounds");
	*out = d;
	return 0;
}

/* Do all live entries of the leaf hash into [lo, hi]?  If the leaf does
 * not belong where the index puts it, a miss there proves nothing. */
static int check_leaf_hashes(struct htree_walk *w, const unsigned char *blk, uint32_t lo,
			     uint32_t hi)
{
	const uint32_t *seed = w->f->fs->super->s_hash_seed;
	unsigned rec_len;
	for (unsigned off = 0; off < w->bs; off += rec_len) {
		const struct ext2_dir_entry *d;
		int ret = leaf_entry(w, blk, off, &d, &rec_len);
		if (ret)
			return ret;
		int len = ext2fs_dirent_name_len(d);
		if (d->inode == 0 || len == 0)
			continue;
		ext2_dirhash_t h = 0;
		if (ext2fs_dirhash2(w->hash_alg, d->name, len, NULL, 0, seed, &h, NULL))
			return refuse(w, "a leaf name cannot be hashed");
		if (h < lo || h > hi)
			return refuse(w, "a leaf holds names that hash outside its index range");
	}
	return 0;
}

/* Scan one leaf for the name: 0 found (*ino), -ENOENT not there. */
static int scan_leaf(struct htree_walk *w, const unsigned char *blk, const char *name,
		     size_t len, ext2_ino_t *ino)
{
	unsigned rec_len;
	for (unsigned off = 0; off < w->bs; off += rec_len) {
		const struct ext2_dir_entry *d;
		int ret = leaf_entry(w, blk, off, &d, &rec_len);
		if (ret)
			return ret;
		if (d->inode != 0 && (size_t)ext2fs_dirent_name_len(d) == len &&
		    memcmp(d->name, name, len) == 0) {
			*ino = d->inode;
			return 0;
		}
	}
	return -ENOENT;
}

/* The leaf the path points at: read, searched, and on a miss checked to be
 * the right leaf. */
static int visit_leaf(struct htree_walk *w, const char *name, size_t len, ext2_ino_t *ino)
{
	const struct htree_frame *fr = &w->fr[w->levels - 1];
	unsigned char *blk = w->buf + (size_t)HTREE_MAX_LEVELS * w->bs;
	blk64_t lblk = ent_block(fr, fr->at);
	uint32_t lo, hi;

	for (unsigned i = 0; i < w->levels; i++)
		if (w->fr[i].lblk == lblk)
			return refuse(w, "a leaf pointer names an index block");
	int ret = read_block(w, lblk, blk);
	if (ret)
		return ret;
	ret = scan_leaf(w, blk, name, len, ino);
	if (ret != -ENOENT)
		return ret;
	ent_range(fr, fr->at, &lo, &hi);
	ret = check_leaf_hashes(w, blk, lo, hi);
	return ret ? ret : -ENOENT;
}

static int walk(struct htree_walk *w, const char *name, size_t len, ext2_ino_t *ino)
{
	int ret = read_block(w, 0, w->buf);
	if (ret)
		return ret;
	ret = check_root(w);
	if (ret)
		return ret;
	if (ext2fs_dirhash2(w->hash_alg, name, (int)len, NULL, 0, w->f->fs->super->s_hash_seed,
			    &w->hash, NULL))
		return refuse(w, "the name cannot be hashed");
	w->fr[0].at = search(&w->fr[0], w->hash);
	ret = descend(w, 1);
	if (ret)
		return ret;
	for (unsigned n = 0; n < HTREE_MAX_LEAVES; n++) {
		ret = visit_leaf(w, name, len, ino);
		if (ret != -ENOENT)
			return ret;
		ret = next_leaf(w);
		if (ret <= 0)
			return ret ? ret : -ENOENT;
	}
	return refuse(w, "a hash collision run is implausibly long");
}

/* Is this a directory whose index we may follow?  Inline-data directories
 * have none; casefolded or encrypted names hash differently (those
 * features are refused at mount, the flags could still be set). */
static bool indexed(const struct sm_fs *f, const struct ext2_inode_large *inode)
{
	uint32_t fl = inode->i_flags;
	return ext2fs_has_feature_dir_index(f->fs->super) && LINUX_S_ISDIR(inode->i_mode) &&
	       (fl & EXT2_INDEX_FL) &&
	       !(fl & (EXT4_INLINE_DATA_FL | EXT4_CASEFOLD_FL | EXT4_ENCRYPT_FL));
}

static void warn_once(struct sm_fs *f, ext2_ino_t dir, const char *why)
{
	if (f->htree_warned)
		return;
	f->htree_warned = true;
	sm_log(LOG_WARNING,
	       "directory inode %u: ignoring its hash index (%s); lookups in it read every block. "
	       "Run 'e2fsck -fD' on the image (further such messages suppressed)", dir, why);
}

int ext4_htree_lookup(struct sm_fs *f, ext2_ino_t dir, const char *name, size_t len,
		      ext2_ino_t *ino)
{
	struct ext2_inode_large inode;

	/* "." and ".." live in block 0, outside the index. */
	if (len == 0 || len > EXT2_NAME_LEN ||
	    (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.'))))
		return EXT4_HTREE_LINEAR;
	memset(&inode, 0, sizeof(inode));
	if (ext2fs_read_inode_full(f->fs, dir, (struct ext2_inode *)&inode, sizeof(inode)))
		return EXT4_HTREE_LINEAR;   /* ext2fs_lookup reports the error */
	if (!indexed(f, &inode))
		return EXT4_HTREE_LINEAR;

	struct htree_walk w = {
		.f = f, .dir = dir, .inode = &inode, .bs = f->fs->blocksize,
		.tail = ext2fs_has_feature_metadata_csum(f->fs->super) ? sizeof(struct ext2_dx_tail) : 0,
	};
	/* Logical block numbers are 32 bits; a larger i_size adds nothing. */
	w.nblocks = ext4_isize(&inode) / w.bs;
	if (w.nblocks > (1ull << 32))
		w.nblocks = 1ull << 32;
	if (w.nblocks < 2) {
		warn_once(f, dir, "the directory is too small to hold an index");
		return EXT4_HTREE_LINEAR;
	}
	w.buf = malloc((size_t)(HTREE_MAX_LEVELS + 1) * w.bs);
	if (!w.buf)
		return -ENOMEM;
	int ret = walk(&w, name, len, ino);
	free(w.buf);
	if (ret == -EUCLEAN) {
		warn_once(f, dir, w.why);
		return EXT4_HTREE_LINEAR;
	}
	return ret;
}
