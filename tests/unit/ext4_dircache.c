/* The directory cache of the ext4 backend (src/ext4/ext4_dircache.c).
 *
 * A random workload through the sm_* API (create, unlink, link, mkdir,
 * rmdir, rename within and across directories, over existing names, with
 * RENAME_NOREPLACE and RENAME_EXCHANGE) on names of 1..255 bytes runs
 * against an in-memory model: every call must return what the model
 * expects, and after each batch every directory must list (readdir: what is
 * on disk) and resolve (lookup: what the cache says) exactly the model's
 * names.  Halfway the filesystem is closed, checked and reopened.  Variants:
 * 4 KiB and 1 KiB blocks, metadata_csum on and off, ext2 with and without
 * the filetype feature; every image ends e2fsck-clean.  A directory with a
 * corrupt record length must answer as the uncached path does (-EUCLEAN
 * here), never crash.  Creating 10000 files in one directory is timed with
 * the cache off and on (a TAP comment).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ext4/ext4_private.h"
#include "safemount/backend.h"
#include "scratch.h"
#include "tap.h"

static const struct sm_caller root_who = { 0, 0, 1, 0 };

/* ---- deterministic randomness --------------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11) % n;
}

/* ---- the model -------------------------------------------------------------- */

#define MAX_NODES   20000
#define MAX_ENTS    20000
#define MAX_DEPTH   3

struct node {
	uint64_t ino;
	bool dir, alive, fixed;   /* fixed: lost+found, never touched */
};

struct ent {
	int dir;                  /* node index of the directory */
	int node;
	uint8_t len;
	char name[EXT2_NAME_LEN + 1];
};

static struct node nodes[MAX_NODES];
static struct ent ents[MAX_ENTS];
static int nnodes, nents;
static int mismatches;

static void mismatch(const char *fmt, const char *name, long long got, long long want)
{
	if (mismatches++ < 10)
		printf("# MISMATCH %s '%.40s' (got %lld, want %lld)\n", fmt, name, got, want);
}

static int find_ent(int dir, const char *name)
{
	for (int i = 0; i < nents; i++)
		if (ents[i].dir == dir && !strcmp(ents[i].name, name))
			return i;
	return -1;
}

static int add_ent(int dir, const char *name, int node)
{
	if (nents >= MAX_ENTS)
		return -1;
	struct ent *e = &ents[nents];
	e->dir = dir;
	e->node = node;
	e->len = (uint8_t)strlen(name);
	memcpy(e->name, name, e->len + 1u);
	return nents++;
}

static void del_ent(int i)
{
	ents[i] = ents[--nents];
}

static int new_node(uint64_t ino, bool dir)
{
	nodes[nnodes] = (struct node){ .ino = ino, .dir = dir, .alive = true };
	return nnodes++;
}

static int children(int dir)
{
	int n = 0;
	for (int i = 0; i < nents; i++)
		n += ents[i].dir == dir;
	return n;
}

/* The directory holding dir node d (its one entry), or -1 for the root. */
static int parent_of(int d)
{
	for (int i = 0; i < nents; i++)
		if (ents[i].node == d)
			return ents[i].dir;
	return -1;
}

static int depth_of(int d)
{
	int n = 0;
	for (int p = parent_of(d); p >= 0; p = parent_of(p))
		n++;
	return n;
}

/* Is a the directory d or one of its ancestors? */
static bool ancestor_or_self(int a, int d)
{
	for (int p = d; p >= 0; p = parent_of(p))
		if (p == a)
			return true;
	return false;
}

static void random_name(char *out)
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._- ";
	unsigned len;
	switch (rnd(4)) {
	case 0: len = 1 + rnd(2); break;          /* short: collisions */
	case 1: len = 1 + rnd(255); break;
	case 2: len = 200 + rnd(56); break;        /* long: few per block */
	default: len = 3 + rnd(20); break;
	}
	for (unsigned i = 0; i < len; i++)
		out[i] = rnd(8) == 0 ? (char)(0x80 + rnd(128)) : alpha[rnd(sizeof(alpha) - 1)];
	out[len] = '\0';
	if (!strcmp(out, ".") || !strcmp(out, ".."))
		out[0] = 'x';
}

static int random_dir(void)
{
	int dirs[MAX_NODES], n = 0;
	for (int i = 0; i < nnodes; i++)
		if (nodes[i].alive && nodes[i].dir && !nodes[i].fixed)
			dirs[n++] = i;
	/* Most work in the first few directories: they grow to many blocks. */
	if (rnd(4))
		return dirs[rnd(n < 3 ? (uint32_t)n : 3u)];
	return dirs[rnd((uint32_t)n)];
}

/* An existing entry (of a non-fixed node), preferably in dir; -1 if none. */
static int random_ent(int dir)
{
	if (nents == 0)
		return -1;
	for (int tries = 0; tries < 8; tries++) {
		int i = (int)rnd((uint32_t)nents);
		if (!nodes[ents[i].node].fixed && (dir < 0 || ents[i].dir == dir || tries > 4))
			return i;
	}
	return -1;
}

/* ---- operations ------------------------------------------------------------ */

static void check_ret(const char *what, const char *name, int got, int want)
{
	if (got != want)
		mismatch(what, name, got, want);
}

static void op_create(struct sm_fs *fs, int d, const char *name)
{
	struct sm_attr a;
	uint64_t fh = 0;
	int want = find_ent(d, name) >= 0 ? -EEXIST : 0;
	int got = sm_create(fs, nodes[d].ino, name, 0644, 0, &root_who, &a, &fh);
	check_ret("create", name, got, want);
	if (got == 0) {
		sm_release(fs, a.ino, fh);
		add_ent(d, name, new_node(a.ino, false));
	}
}

static void op_mkdir(struct sm_fs *fs, int d, const char *name)
{
	struct sm_attr a;
	int want = find_ent(d, name) >= 0 ? -EEXIST : 0;
	int got = sm_mkdir(fs, nodes[d].ino, name, 0755, &root_who, &a);
	check_ret("mkdir", name, got, want);
	if (got == 0)
		add_ent(d, name, new_node(a.ino, true));
}

static void op_link(struct sm_fs *fs, int d, const char *name)
{
	struct sm_attr a;
	int src = random_ent(-1);
	if (src < 0 || nodes[ents[src].node].dir)
		return;
	int want = find_ent(d, name) >= 0 ? -EEXIST : 0;
	int got = sm_link(fs, nodes[ents[src].node].ino, nodes[d].ino, name, &a);
	check_ret("link", name, got, want);
	if (got == 0)
		add_ent(d, name, ents[src].node);
}

static void op_unlink(struct sm_fs *fs, int i)
{
	struct ent e = ents[i];
	int want = nodes[e.node].dir ? -EISDIR : 0;
	int got = sm_unlink(fs, nodes[e.dir].ino, e.name);
	check_ret("unlink", e.name, got, want);
	if (got == 0)
		del_ent(i);
}

static void op_rmdir(struct sm_fs *fs, int i)
{
	struct ent e = ents[i];
	int want = !nodes[e.node].dir ? -ENOTDIR : children(e.node) ? -ENOTEMPTY : 0;
	int got = sm_rmdir(fs, nodes[e.dir].ino, e.name);
	check_ret("rmdir", e.name, got, want);
	if (got == 0) {
		nodes[e.node].alive = false;
		del_ent(i);
	}
}

/* What sm_rename should answer, in the order check_rename decides. */
static int rename_want(int si, int di, int newdir, unsigned flags)
{
	const struct ent *s = &ents[si];
	if ((flags & SM_RENAME_NOREPLACE) && di >= 0)
		return -EEXIST;
	if ((flags & SM_RENAME_EXCHANGE) && di < 0)
		return -ENOENT;
	if (di >= 0 && ents[di].node == s->node)
		return 1;   /* nothing happens */
	bool sdir = nodes[s->node].dir, ddir = di >= 0 && nodes[ents[di].node].dir;
	if (!(flags & SM_RENAME_EXCHANGE) && di >= 0) {
		if (sdir && !ddir)
			return -ENOTDIR;
		if (!sdir && ddir)
			return -EISDIR;
		if (ddir && children(ents[di].node))
			return -ENOTEMPTY;
	}
	if (s->dir != newdir) {
		if (sdir && ancestor_or_self(s->node, newdir))
			return -EINVAL;
		if ((flags & SM_RENAME_EXCHANGE) && ddir && ancestor_or_self(ents[di].node, s->dir))
			return -EINVAL;
	}
	return 0;
}

static void op_rename(struct sm_fs *fs, int si, int newdir, const char *name_in, unsigned flags)
{
	struct ent s = ents[si];
	char newname[EXT2_NAME_LEN + 1];   /* name_in may be an entry del_ent moves */
	snprintf(newname, sizeof(newname), "%s", name_in);
	int di = find_ent(newdir, newname);
	if (di >= 0 && nodes[ents[di].node].fixed)
		return;
	int want = rename_want(si, di, newdir, flags);
	int got = sm_rename(fs, nodes[s.dir].ino, s.name, nodes[newdir].ino, newname, flags);
	check_ret(flags & SM_RENAME_EXCHANGE ? "exchange" : "rename", s.name, got,
		  want > 0 ? 0 : want);
	if (got != 0 || want != 0)
		return;
	if (flags & SM_RENAME_EXCHANGE) {
		int t = ents[si].node;
		ents[si].node = ents[di].node;
		ents[di].node = t;
		return;
	}
	if (di >= 0) {
		if (nodes[ents[di].node].dir)
			nodes[ents[di].node].alive = false;
		del_ent(di);
		if (si == nents)        /* del_ent moved the last entry into di */
			si = di;
	}
	ents[si].dir = newdir;
	ents[si].len = (uint8_t)strlen(newname);
	memcpy(ents[si].name, newname, ents[si].len + 1u);
}

static void one_op(struct sm_fs *fs)
{
	char name[EXT2_NAME_LEN + 1];
	int d = random_dir(), i;
	uint32_t r = rnd(100);
	random_name(name);
	if (r < 40) {
		op_create(fs, d, name);
	} else if (r < 44) {
		if (depth_of(d) < MAX_DEPTH)
			op_mkdir(fs, d, name);
	} else if (r < 50) {
		op_link(fs, d, name);
	} else if (r < 68) {
		if ((i = random_ent(d)) >= 0 && !nodes[ents[i].node].dir)
			op_unlink(fs, i);
	} else if (r < 71) {
		if ((i = random_ent(-1)) >= 0)
			op_rmdir(fs, i);
	} else if (r < 88) {
		/* A new name, or an existing one in the target directory. */
		int t = random_ent(d);
		if ((i = random_ent(-1)) >= 0)
			op_rename(fs, i, d, rnd(2) && t >= 0 ? ents[t].name : name,
				  rnd(8) ? 0 : SM_RENAME_NOREPLACE);
	} else if (r < 94) {
		int t = random_ent(d);
		if ((i = random_ent(-1)) >= 0 && t >= 0) {
			char tn[EXT2_NAME_LEN + 1];
			memcpy(tn, ents[t].name, sizeof(tn));
			op_rename(fs, i, ents[t].dir, tn, SM_RENAME_EXCHANGE);
		}
	} else {
		/* Lookups of absent and present names. */
		struct sm_attr a;
		int want = find_ent(d, name) >= 0 ? 0 : -ENOENT;
		check_ret("lookup", name, sm_lookup(fs, nodes[d].ino, name, &a), want);
	}
}

/* ---- checking a directory against the model -------------------------------- */

struct listing {
	char (*names)[EXT2_NAME_LEN + 1];
	uint64_t *inos;
	int n, cap;
};

static int list_fn(void *ctx, const char *name, size_t len, uint64_t ino, uint32_t type,
		   uint64_t next)
{
	struct listing *l = ctx;
	(void)type; (void)next;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	if (l->n < l->cap) {
		memcpy(l->names[l->n], name, len);
		l->names[l->n][len] = '\0';
		l->inos[l->n] = ino;
	}
	l->n++;
	return 0;
}

/* Every name of dir d: listed once with the model's inode, looked up to it;
 * nothing else listed. */
static bool check_dir(struct sm_fs *fs, int d, struct listing *l)
{
	uint64_t fh;
	bool ok = true;
	l->n = 0;
	if (sm_opendir(fs, nodes[d].ino, &fh) != 0)
		return false;
	if (sm_readdir(fs, nodes[d].ino, fh, 0, list_fn, l) != 0)
		ok = false;
	sm_releasedir(fs, nodes[d].ino, fh);
	if (l->n != children(d) || l->n > l->cap) {
		mismatch("listed count", "", l->n, children(d));
		return false;
	}
	for (int k = 0; k < l->n; k++) {
		int i = find_ent(d, l->names[k]);
		if (i < 0 || nodes[ents[i].node].ino != l->inos[k]) {
			mismatch("listed name", l->names[k], (long long)l->inos[k], i);
			ok = false;
		}
	}
	for (int i = 0; i < nents; i++) {
		struct sm_attr a;
		if (ents[i].dir != d)
			continue;
		int ret = sm_lookup(fs, nodes[d].ino, ents[i].name, &a);
		if (ret != 0 || a.ino != nodes[ents[i].node].ino) {
			mismatch("lookup", ents[i].name, ret ? ret : (long long)a.ino,
				 (long long)nodes[ents[i].node].ino);
			ok = false;
		}
	}
	struct sm_attr a;
	if (sm_lookup(fs, nodes[d].ino, "..", &a) != 0 ||
	    a.ino != (parent_of(d) >= 0 ? nodes[parent_of(d)].ino : nodes[d].ino)) {
		mismatch("lookup ..", "..", (long long)a.ino, parent_of(d));
		ok = false;
	}
	return ok;
}

static bool check_all(struct sm_fs *fs)
{
	static struct listing l;
	if (!l.names) {
		l.cap = MAX_ENTS;
		l.names = calloc((size_t)l.cap, sizeof(*l.names));
		l.inos = calloc((size_t)l.cap, sizeof(*l.inos));
	}
	bool ok = true;
	for (int d = 0; d < nnodes; d++)
		if (nodes[d].alive && nodes[d].dir && !check_dir(fs, d, &l))
			ok = false;
	/* Absent names, also in every directory. */
	for (int k = 0; k < 50; k++) {
		char name[EXT2_NAME_LEN + 1];
		struct sm_attr a;
		int d = random_dir();
		random_name(name);
		int want = find_ent(d, name) >= 0 ? 0 : -ENOENT;
		int got = sm_lookup(fs, nodes[d].ino, name, &a);
		if (got != want) {
			mismatch("absent lookup", name, got, want);
			ok = false;
		}
	}
	return ok;
}

/* The workload's filesystem; SM_DC_OFF=1 runs it uncached (to tell a
 * model bug from a cache bug). */
static size_t cap_names, cap_dirs;   /* 0: the defaults */

static struct sm_fs *open_work(const char *img, int *fd)
{
	struct sm_fs *fs = open_fs(img, 0, fd);
	if (fs && getenv("SM_DC_OFF"))
		fs->dircache_off = true;
	if (fs) {
		fs->dircache_max_names = cap_names;
		fs->dircache_max_dirs = cap_dirs;
	}
	return fs;
}

/* ---- one image -------------------------------------------------------------- */

static void model_reset(struct sm_fs *fs)
{
	struct sm_attr a;
	nnodes = nents = 0;
	mismatches = 0;
	int root = new_node(sm_backend_root(fs), true);
	if (sm_lookup(fs, nodes[root].ino, "lost+found", &a) == 0) {
		int lf = new_node(a.ino, true);
		nodes[lf].fixed = true;
		add_ent(root, "lost+found", lf);
	}
	/* Three working directories besides the root. */
	for (int k = 0; k < 3; k++) {
		char name[16];
		snprintf(name, sizeof(name), "w%d", k);
		op_mkdir(fs, root, name);
	}
}

static void workload(const char *mkfs, const char *what, int ops, uint64_t seed)
{
	char img[512];
	int fd;
	tap_label = what;
	rng_state = seed;
	if (!make_image(mkfs, img, sizeof(img), what))
		return;
	struct sm_fs *fs = open_work(img, &fd);
	if (!fs)
		return;
	model_reset(fs);
	int batch = ops / 8, bad_batches = 0;
	for (int b = 0; b < 8; b++) {
		for (int k = 0; k < batch; k++)
			one_op(fs);
		if (!check_all(fs))
			bad_batches++;
		if (b == 3) {
			/* Everything must be on disk: close, check, reopen. */
			close_fs(fs, fd);
			fsck_clean(img);
			fs = open_work(img, &fd);
			if (!fs)
				return;
			tap_check(check_all(fs), "names persist across close and reopen");
		}
	}
	int ndirs = 0;
	for (int i = 0; i < nnodes; i++)
		ndirs += nodes[i].alive && nodes[i].dir;
	printf("# %d entries in %d directories at the end\n", nents, ndirs);
	size_t cdirs, cnames;
	ext4_dircache_stats(fs, &cdirs, &cnames);
	tap_check(getenv("SM_DC_OFF") || (cdirs > 0 && cnames > 0),
		  "the cache is in use (%zu directories, %zu names)", cdirs, cnames);
	tap_check((!cap_names || cnames <= cap_names) && (!cap_dirs || cdirs <= cap_dirs),
		  "the cache keeps to its caps");
	EXPECT(bad_batches, 0, "every batch: readdir and lookup match the model");
	EXPECT(mismatches, 0, "every operation returned what the model expects");
	close_fs(fs, fd);
	fsck_clean(img);
}

/* ---- corruption --------------------------------------------------------------- */

/* How the first record of a directory block is damaged. */
struct damage {
	const char *mkfs, *what;
	unsigned rec_len;          /* 0: keep */
	uint32_t inode;            /* 0: keep */
};

/* Damage logical block lblk of dir.  Without metadata_csum only the record
 * is wrong; with it the block's checksum no longer matches either. */
static bool damage_block(const char *img, ext2_ino_t dir, blk64_t lblk, const struct damage *dm)
{
	ext2_filsys fs = NULL;
	blk64_t pblk = 0;
	char *buf = NULL;
	bool ok = false;
	if (ext2fs_open(img, EXT2_FLAG_RW | EXT2_FLAG_64BITS | EXT2_FLAG_IGNORE_CSUM_ERRORS, 0, 0,
			unix_io_manager, &fs))
		return false;
	if (!ext2fs_bmap2(fs, dir, NULL, NULL, 0, lblk, NULL, &pblk) && pblk &&
	    !ext2fs_get_mem(fs->blocksize, &buf) &&
	    !ext2fs_read_dir_block4(fs, pblk, buf, 0, dir)) {
		struct ext2_dir_entry *d = (struct ext2_dir_entry *)buf;
		if (dm->rec_len)
			d->rec_len = (uint16_t)dm->rec_len;
		if (dm->inode)
			d->inode = dm->inode;
		ok = !ext2fs_write_dir_block4(fs, pblk, buf, 0, dir);
	}
	if (buf)
		ext2fs_free_mem(&buf);
	ext2fs_close2(fs, 0);
	return ok;
}

static void corrupt_one(const struct damage *dm)
{
	char img[512], cmd[1024], name[64];
	struct sm_attr a;
	int fd;
	tap_label = dm->what;
	if (!make_image(dm->mkfs, img, sizeof(img), dm->what))
		return;
	struct sm_fs *fs = open_fs(img, 0, &fd);
	if (!fs)
		return;
	uint64_t root = sm_backend_root(fs);
	EXPECT(sm_mkdir(fs, root, "d", 0755, &root_who, &a), 0, "mkdir d");
	uint64_t d = a.ino;
	for (int i = 0; i < 60; i++) {
		uint64_t fh;
		snprintf(name, sizeof(name), "file-%04d-padding-padding-padding", i);
		if (sm_create(fs, d, name, 0644, 0, &root_who, &a, &fh) == 0)
			sm_release(fs, a.ino, fh);
	}
	close_fs(fs, fd);
	tap_check(damage_block(img, (ext2_ino_t)d, 1, dm), "block damaged");
	fs = open_fs(img, 0, &fd);
	if (!fs)
		return;
	/* Every answer equals the uncached path's, and none is a crash. */
	int differ = 0, eu = 0;
	for (int i = 0; i < 70; i++) {
		struct sm_attr b;
		snprintf(name, sizeof(name), "file-%04d-padding-padding-padding", i);
		fs->dircache_off = false;
		int r1 = sm_lookup(fs, d, name, &a);
		fs->dircache_off = true;
		int r2 = sm_lookup(fs, d, name, &b);
		fs->dircache_off = false;
		differ += r1 != r2 || (r1 == 0 && a.ino != b.ino);
		eu += r1 == -EUCLEAN;
	}
	size_t cdirs, cnames;
	ext4_dircache_stats(fs, &cdirs, &cnames);
	tap_check(cnames == 0, "the damaged directory is not cached (%zu names)", cnames);
	EXPECT(differ, 0, "lookups answer as the uncached path");
	tap_check(eu > 0, "lookups in the damaged directory see -EUCLEAN (%d)", eu);
	uint64_t fh;
	int r = sm_create(fs, d, "new-name", 0644, 0, &root_who, &a, &fh);
	tap_check(r == -EUCLEAN || r == 0, "create in it: -EUCLEAN or done (%d)", r);
	if (r == 0)
		sm_release(fs, a.ino, fh);
	r = sm_unlink(fs, d, "file-0001-padding-padding-padding");
	tap_check(r == -EUCLEAN || r == 0, "unlink in it: -EUCLEAN or done (%d)", r);
	r = sm_rename(fs, d, "file-0002-padding-padding-padding", d, "renamed", 0);
	tap_check(r == -EUCLEAN || r == 0, "rename in it: -EUCLEAN or done (%d)", r);
	close_fs(fs, fd);
	snprintf(cmd, sizeof(cmd), "e2fsck -fn '%s' >/dev/null 2>&1", img);
	tap_check(run(cmd) != 0, "e2fsck sees the damage we made");
}

static void corruption(void)
{
	static const struct damage dms[] = {
		{ "mkfs.ext4 -b 1024 -O ^metadata_csum", "rec_len-5", 5, 0 },
		{ "mkfs.ext4 -b 1024 -O ^metadata_csum", "rec_len-4", 4, 0 },
		{ "mkfs.ext4 -b 1024 -O ^metadata_csum", "rec_len-12", 12, 0 },
		{ "mkfs.ext4 -b 1024 -O ^metadata_csum", "rec_len-huge", 0xfff0, 0 },
		{ "mkfs.ext2 -b 1024", "ext2-rec_len-6", 6, 0 },
		{ "mkfs.ext4 -b 1024 -O ^metadata_csum", "inode-huge", 0, 0xfffffff0u },
		{ "mkfs.ext4 -b 1024 -O metadata_csum", "csum-rec_len", 5, 0 },
	};
	for (unsigned i = 0; i < sizeof(dms) / sizeof(dms[0]); i++)
		corrupt_one(&dms[i]);
}

/* ---- timing ----------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double time_creates(bool cached, int n)
{
	char img[512], cmd[1024], name[64];
	struct sm_attr a;
	int fd;
	snprintf(img, sizeof(img), "%s/bench%d.img", tmpdir, cached);
	snprintf(cmd, sizeof(cmd), "mkfs.ext4 -q -F -N %d '%s' 128M >/dev/null 2>&1", n + 1000, img);
	if (run(cmd) != 0)
		return -1;
	struct sm_fs *fs = open_fs(img, 0, &fd);
	if (!fs)
		return -1;
	fs->dircache_off = !cached;
	uint64_t root = sm_backend_root(fs);
	EXPECT(sm_mkdir(fs, root, "big", 0755, &root_who, &a), 0, "mkdir big");
	uint64_t d = a.ino;
	int fails = 0;
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		uint64_t fh;
		snprintf(name, sizeof(name), "file-%06d", i);
		/* The kernel looks a new name up before creating it. */
		fails += sm_lookup(fs, d, name, &a) != -ENOENT;
		if (sm_create(fs, d, name, 0644, 0, &root_who, &a, &fh) != 0)
			fails++;
		else
			sm_release(fs, a.ino, fh);
	}
	double t = now_s() - t0;
	EXPECT(fails, 0, cached ? "10000 creates, cache on" : "10000 creates, cache off");
	close_fs(fs, fd);
	fsck_clean(img);
	return t;
}

int main(void)
{
	if (!scratch_begin("dircache"))
		return 0;
	workload("mkfs.ext4 -b 4096 -O metadata_csum", "4k-csum", 4000, 0x1234567u);
	workload("mkfs.ext4 -b 4096 -O ^metadata_csum", "4k-nocsum", 4000, 0x2345678u);
	workload("mkfs.ext4 -b 1024 -O metadata_csum", "1k-csum", 4000, 0x3456789u);
	workload("mkfs.ext4 -b 1024 -O ^metadata_csum", "1k-nocsum", 4000, 0x456789au);
	workload("mkfs.ext2 -b 1024", "ext2", 3000, 0x56789abu);
	workload("mkfs.ext2 -b 4096 -O ^filetype", "ext2-nofiletype", 3000, 0x6789abcu);
	workload("mkfs.ext4 -b 1024 -O inline_data,metadata_csum -I 512", "1k-inline", 3000,
		 0x789abcdu);
	/* Tiny caps: directories are evicted (and refused when one alone is
	 * over) all the time. */
	cap_names = 300;
	cap_dirs = 5;
	workload("mkfs.ext4 -b 1024 -O metadata_csum", "1k-smallcaps", 3000, 0x89abcdeu);
	cap_names = cap_dirs = 0;
	corruption();
	tap_label = "bench";
	double off = time_creates(false, 10000), on = time_creates(true, 10000);
	printf("# 10000 creates (lookup + create) in one directory: %.2f s uncached, %.2f s cached "
	       "(%.1fx)\n", off, on, on > 0 ? off / on : 0.0);
	return scratch_end();
}
