/* TAP unit test of the ext4 backend's file data and xattr operations:
 * read/write round trips (big, sparse, past 4 GiB), truncate, fallocate,
 * SEEK_DATA/SEEK_HOLE, xattrs and ACLs, on ext2 (block-mapped), ext4 and
 * ext4 with inline_data.  Every image must pass `e2fsck -fn` afterwards.
 * Needs mkfs.ext4, debugfs and e2fsck (e2fsprogs); skips without them. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "safemount/backend.h"
#include "tap.h"

#ifndef SEEK_DATA
#define SEEK_DATA 3
#define SEEK_HOLE 4
#endif

static char tmpdir[] = "/tmp/sm-unit-data.XXXXXX";


#define CHECK_EQ(got, want, ...) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (g_ != w_) printf("# got %lld, want %lld\n", g_, w_); \
	tap_check(g_ == w_, __VA_ARGS__); \
} while (0)

__attribute__((format(printf, 1, 2)))
static int run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static uint64_t rng = 88172645463325252ULL;
static void fill_random(unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		buf[i] = (unsigned char)rng;
	}
}

static bool all_zero(const unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return false;
	return true;
}

struct img {
	char path[256];
	int fd;
	struct sm_fs *fs;
};

static bool img_make(struct img *im, const char *name, const char *size, const char *mkfs)
{
	snprintf(im->path, sizeof(im->path), "%s/%s.img", tmpdir, name);
	if (run("rm -f %s && truncate -s %s %s && %s -q -F %s >/dev/null 2>&1", im->path, size,
		im->path, mkfs, im->path) != 0)
		return false;
	return true;
}

static bool img_open(struct img *im, bool ro)
{
	const char *msg = NULL;
	struct sm_open_opts o = { .image_name = im->path, .read_only = ro,
				  .atime = SM_ATIME_RELATIME, .cache_bytes = 16u << 20 };
	im->fd = open(im->path, ro ? O_RDONLY : O_RDWR);
	if (im->fd < 0)
		return false;
	o.image_fd = im->fd;
	int ret = sm_fs_open(&o, &im->fs, &msg);
	if (ret) {
		printf("# sm_fs_open %s: %d %s\n", im->path, ret, msg ? msg : "");
		close(im->fd);
		return false;
	}
	return true;
}

static int img_close(struct img *im)
{
	int ret = sm_fs_close(im->fs);
	close(im->fd);
	return ret;
}

static bool fsck_clean(const struct img *im)
{
	int ret = run("e2fsck -fn %s >%s/fsck.log 2>&1", im->path, tmpdir);
	if (ret != 0)
		run("sed 's/^/# /' %s/fsck.log", tmpdir);
	return ret == 0;
}

static const struct sm_caller root_caller = { 0, 0, 1 };

static uint64_t create(struct img *im, const char *name, uint32_t mode)
{
	struct sm_attr a;
	uint64_t fh;
	int ret = sm_create(im->fs, sm_backend_root(im->fs), name, mode, O_RDWR, &root_caller,
			    &a, &fh);
	if (ret) {
		printf("# sm_create %s: %d\n", name, ret);
		return 0;
	}
	return a.ino;
}

static void release(struct img *im, uint64_t ino)
{
	sm_release(im->fs, ino, 0);
}

static struct sm_attr attr_of(struct img *im, uint64_t ino)
{
	struct sm_attr a;
	memset(&a, 0, sizeof(a));
	if (sm_getattr(im->fs, ino, &a))
		a.size = (uint64_t)-1;
	return a;
}

static int set_size(struct img *im, uint64_t ino, uint64_t size)
{
	struct sm_setattr s = { .valid = SM_SET_SIZE, .size = size };
	struct sm_attr a;
	return sm_setattr(im->fs, ino, &root_caller, &s, &a);
}

/* Write then read back a pattern; returns true if identical. */
static bool roundtrip(struct img *im, uint64_t ino, uint64_t off, size_t len)
{
	unsigned char *w = malloc(len), *r = malloc(len);
	bool ok = false;
	fill_random(w, len);
	ssize_t n = sm_write(im->fs, ino, 0, w, len, off);
	if (n != (ssize_t)len) {
		printf("# write %zu at %" PRIu64 ": %zd\n", len, off, n);
		goto out;
	}
	memset(r, 0xaa, len);
	n = sm_read(im->fs, ino, 0, r, len, off);
	if (n != (ssize_t)len) {
		printf("# read %zu at %" PRIu64 ": %zd\n", len, off, n);
		goto out;
	}
	ok = memcmp(w, r, len) == 0;
out:
	free(w);
	free(r);
	return ok;
}

static bool read_is_zero(struct img *im, uint64_t ino, uint64_t off, size_t len)
{
	unsigned char *r = malloc(len);
	memset(r, 0xaa, len);
	ssize_t n = sm_read(im->fs, ino, 0, r, len, off);
	bool ok = n == (ssize_t)len && all_zero(r, len);
	if (!ok)
		printf("# read %zu at %" PRIu64 ": %zd\n", len, off, n);
	free(r);
	return ok;
}

/* The data tests every filesystem type runs. */
static void test_rw(struct img *im, const char *t, bool extents, uint64_t bs)
{
	unsigned char buf[8192];
	uint64_t ino = create(im, "big", 0644);
	tap_check(ino != 0, "%s: create", t);

	tap_check(roundtrip(im, ino, 0, 1 << 20), "%s: 1 MiB write/read round trip", t);
	CHECK_EQ(attr_of(im, ino).size, 1 << 20, "%s: size after 1 MiB write", t);
	tap_check(roundtrip(im, ino, 4000, 10000), "%s: unaligned overwrite inside the file", t);
	struct sm_attr at = attr_of(im, ino);
	tap_check(at.atime.tv_sec > at.mtime.tv_sec ||
	      (at.atime.tv_sec == at.mtime.tv_sec && at.atime.tv_nsec >= at.mtime.tv_nsec),
	      "%s: relatime: a read after a write updates atime", t);
	CHECK_EQ(sm_read(im->fs, ino, 0, buf, sizeof(buf), 1 << 20), 0, "%s: read at EOF is 0", t);
	CHECK_EQ(sm_read(im->fs, ino, 0, buf, sizeof(buf), (1 << 20) - 100), 100,
		 "%s: read across EOF is short", t);

	/* Sparse extension. */
	tap_check(roundtrip(im, ino, (10 << 20) + 100, 3), "%s: sparse write at 10 MiB", t);
	CHECK_EQ(attr_of(im, ino).size, (10 << 20) + 103, "%s: size after sparse write", t);
	tap_check(read_is_zero(im, ino, 1 << 20, 9 << 20), "%s: the gap reads as zeros", t);

	/* Past 4 GiB. */
	tap_check(roundtrip(im, ino, (5ULL << 30) + 7, 5000), "%s: write/read at 5 GiB", t);
	CHECK_EQ(attr_of(im, ino).size, (5ULL << 30) + 5007, "%s: size past 4 GiB", t);
	tap_check(read_is_zero(im, ino, (4ULL << 30) + 4096, 8192), "%s: hole past 4 GiB reads zeros", t);

	/* Truncate down, then up: the tail must not come back. */
	CHECK_EQ(set_size(im, ino, 5000), 0, "%s: truncate to 5000", t);
	CHECK_EQ(attr_of(im, ino).size, 5000, "%s: size after truncate", t);
	CHECK_EQ(set_size(im, ino, 9000), 0, "%s: truncate up to 9000", t);
	tap_check(read_is_zero(im, ino, 5000, 4000), "%s: grown tail reads zeros", t);
	uint64_t blocks_small = attr_of(im, ino).blocks;
	tap_check(blocks_small <= 3 * bs / 512 + 8, "%s: blocks freed by truncate (%" PRIu64 ")", t,
	      blocks_small);

	/* Append-style writes past a non-aligned EOF leave zeros between. */
	tap_check(roundtrip(im, ino, 12000, 100), "%s: write past unaligned EOF", t);
	tap_check(read_is_zero(im, ino, 9000, 3000), "%s: gap after unaligned EOF reads zeros", t);

	/* The limits. */
	/* The kernel's s_maxbytes with huge_file: 2^32 - 1 blocks. */
	uint64_t max = ((1ULL << 32) - 1) * bs;
	if (extents) {
		CHECK_EQ(set_size(im, ino, max), 0, "%s: truncate to the 16 TiB limit", t);
		CHECK_EQ(set_size(im, ino, max + 1), -EFBIG, "%s: truncate past the limit is EFBIG", t);
		CHECK_EQ(sm_write(im->fs, ino, 0, "x", 1, max), -EFBIG, "%s: write at the limit is EFBIG", t);
		CHECK_EQ(sm_write(im->fs, ino, 0, "xy", 2, max - 1), 1, "%s: write across the limit is short", t);
	} else {
		CHECK_EQ(set_size(im, ino, 1ULL << 50), -EFBIG, "%s: truncate to 1 PiB is EFBIG", t);
		CHECK_EQ(sm_write(im->fs, ino, 0, "x", 1, 1ULL << 50), -EFBIG, "%s: write at 1 PiB is EFBIG", t);
	}
	CHECK_EQ(set_size(im, ino, 0), 0, "%s: truncate to 0", t);
	CHECK_EQ(attr_of(im, ino).blocks, 0, "%s: no blocks after truncate to 0", t);

	/* The backend leaves setuid/setgid alone on write: the kernel, which
	 * knows the writer's capabilities, clears them with a setattr. */
	uint64_t suid = create(im, "suid", 06755);
	CHECK_EQ(sm_write(im->fs, suid, 0, "abc", 3, 0), 3, "%s: write to setuid file", t);
	CHECK_EQ(attr_of(im, suid).mode & 07777, 06755, "%s: write keeps setuid/setgid (kernel's job)", t);
	release(im, suid);
	release(im, ino);
}

/* Overwrites inside i_size of an extent file move their data after the
 * filesystem lock (ext4_plan_overwrite); ranges touching a hole or an
 * unwritten extent, or crossing EOF, take the allocating path.  Either way
 * the bytes, the times and the neighbours must come out right. */
static void test_overwrite(struct img *im, const char *t)
{
	uint64_t bs = 4096;
	uint64_t ino = create(im, "over", 0644);
	tap_check(ino != 0 && roundtrip(im, ino, 0, 64 * bs), "%s: 256 KiB written", t);

	struct sm_setattr old = { .valid = SM_SET_MTIME, .mtime = { .tv_sec = 1000000 } };
	struct sm_attr a;
	CHECK_EQ(sm_setattr(im->fs, ino, &root_caller, &old, &a), 0, "%s: mtime set to the past", t);
	tap_check(roundtrip(im, ino, 3 * bs, 2 * bs), "%s: aligned overwrite", t);
	a = attr_of(im, ino);
	tap_check(a.mtime.tv_sec > 1000000 && a.ctime.tv_sec > 1000000, "%s: it updates mtime and ctime", t);
	CHECK_EQ(a.size, 64 * bs, "%s: and leaves the size", t);

	/* Partial blocks at both ends: the bytes around must stay. */
	unsigned char before[3 * 4096], after[3 * 4096];
	CHECK_EQ(sm_read(im->fs, ino, 0, before, sizeof(before), 10 * bs), (ssize_t)sizeof(before),
		 "%s: read around", t);
	CHECK_EQ(sm_write(im->fs, ino, 0, "0123456789", 10, 11 * bs - 5), 10,
		 "%s: 10 bytes across a block boundary", t);
	memcpy(before + bs - 5, "0123456789", 10);
	CHECK_EQ(sm_read(im->fs, ino, 0, after, sizeof(after), 10 * bs), (ssize_t)sizeof(after),
		 "%s: read back", t);
	tap_check(memcmp(before, after, sizeof(after)) == 0, "%s: only those bytes changed", t);

	/* A punched hole inside the range: allocated and written anew. */
	CHECK_EQ(sm_fallocate(im->fs, ino, SM_FALLOC_PUNCH_HOLE | SM_FALLOC_KEEP_SIZE, 20 * bs, 2 * bs), 0,
		 "%s: punch 2 blocks", t);
	tap_check(roundtrip(im, ino, 19 * bs + 100, 4 * bs), "%s: overwrite across the hole", t);
	/* Unwritten blocks inside the range: converted, not read as zeros. */
	CHECK_EQ(sm_fallocate(im->fs, ino, SM_FALLOC_ZERO_RANGE, 30 * bs, 4 * bs), 0,
		 "%s: zero-range 4 blocks", t);
	tap_check(roundtrip(im, ino, 29 * bs, 6 * bs), "%s: overwrite across unwritten blocks", t);
	/* Crossing EOF grows the file. */
	tap_check(roundtrip(im, ino, 63 * bs, 3 * bs), "%s: overwrite across EOF", t);
	CHECK_EQ(attr_of(im, ino).size, 66 * bs, "%s: the size follows", t);
	release(im, ino);
}

static void test_seek(struct img *im, const char *t)
{
	uint64_t ino = create(im, "sparse", 0644);
	unsigned char b[4096];
	fill_random(b, sizeof(b));
	sm_write(im->fs, ino, 0, b, 4096, 0);
	sm_write(im->fs, ino, 0, b, 4096, 1 << 20);
	sm_write(im->fs, ino, 0, b, 100, 3 << 20);
	uint64_t size = (3 << 20) + 100;
	CHECK_EQ(sm_lseek(im->fs, ino, 0, SEEK_DATA), 0, "%s: SEEK_DATA at 0", t);
	CHECK_EQ(sm_lseek(im->fs, ino, 10, SEEK_HOLE), 4096, "%s: SEEK_HOLE after first block", t);
	CHECK_EQ(sm_lseek(im->fs, ino, 5000, SEEK_HOLE), 5000, "%s: SEEK_HOLE inside a hole", t);
	CHECK_EQ(sm_lseek(im->fs, ino, 5000, SEEK_DATA), 1 << 20, "%s: SEEK_DATA skips the hole", t);
	CHECK_EQ(sm_lseek(im->fs, ino, (1 << 20) + 5, SEEK_DATA), (1 << 20) + 5,
		 "%s: SEEK_DATA inside data", t);
	CHECK_EQ(sm_lseek(im->fs, ino, (1 << 20) + 4096, SEEK_DATA), 3 << 20,
		 "%s: SEEK_DATA to the last block", t);
	CHECK_EQ(sm_lseek(im->fs, ino, 3 << 20, SEEK_HOLE), size, "%s: SEEK_HOLE at the end is EOF", t);
	CHECK_EQ(sm_lseek(im->fs, ino, size, SEEK_DATA), -ENXIO, "%s: SEEK_DATA at EOF is ENXIO", t);
	CHECK_EQ(sm_lseek(im->fs, ino, size, SEEK_HOLE), -ENXIO, "%s: SEEK_HOLE at EOF is ENXIO", t);
	CHECK_EQ(sm_lseek(im->fs, ino, 0, 0), -EINVAL, "%s: other whence is EINVAL", t);
	set_size(im, ino, 5 << 20);
	CHECK_EQ(sm_lseek(im->fs, ino, (3 << 20) + 4096, SEEK_DATA), -ENXIO,
		 "%s: SEEK_DATA in a trailing hole is ENXIO", t);
	release(im, ino);
}

static void test_falloc(struct img *im, const char *t, bool extents)
{
	unsigned char b[8192];
	uint64_t ino = create(im, "falloc", 0644);

	CHECK_EQ(sm_fallocate(im->fs, ino, SM_FALLOC_PUNCH_HOLE, 0, 4096), -EOPNOTSUPP,
		 "%s: punch without keep_size is EOPNOTSUPP", t);
	CHECK_EQ(sm_fallocate(im->fs, ino, 0x08 /* COLLAPSE_RANGE */, 0, 4096), -EOPNOTSUPP,
		 "%s: collapse range is EOPNOTSUPP", t);
	CHECK_EQ(sm_fallocate(im->fs, ino, 0x40 /* UNSHARE */, 0, 4096), -EOPNOTSUPP,
		 "%s: unknown mode bits are EOPNOTSUPP", t);
	if (!extents) {
		CHECK_EQ(sm_fallocate(im->fs, ino, 0, 0, 4096), -EOPNOTSUPP,
			 "%s: preallocation on a block-mapped file is EOPNOTSUPP", t);
	} else {
		CHECK_EQ(sm_fallocate(im->fs, ino, 0, 0, 1 << 20), 0, "%s: fallocate 1 MiB", t);
		struct sm_attr a = attr_of(im, ino);
		CHECK_EQ(a.size, 1 << 20, "%s: fallocate extends the size", t);
		tap_check(a.blocks >= 2048, "%s: fallocate allocates (%" PRIu64 " sectors)", t, a.blocks);
		tap_check(read_is_zero(im, ino, 0, 1 << 20), "%s: preallocated range reads zeros", t);
		CHECK_EQ(sm_lseek(im->fs, ino, 0, SEEK_DATA), -ENXIO,
			 "%s: unwritten extents are holes for SEEK_DATA", t);
		CHECK_EQ(sm_fallocate(im->fs, ino, SM_FALLOC_KEEP_SIZE, 1 << 20, 1 << 20), 0,
			 "%s: fallocate keep_size past EOF", t);
		a = attr_of(im, ino);
		CHECK_EQ(a.size, 1 << 20, "%s: keep_size keeps the size", t);
		tap_check(a.blocks >= 4096, "%s: keep_size allocates (%" PRIu64 ")", t, a.blocks);
		tap_check(roundtrip(im, ino, 100000, 300000), "%s: write into preallocated range", t);
		tap_check(roundtrip(im, ino, (1 << 20) + 10, 5000), "%s: write into preallocation past EOF", t);
		CHECK_EQ(attr_of(im, ino).size, (1 << 20) + 5010, "%s: size after that write", t);
		/* Zero range over written data, with partial blocks at both ends. */
		CHECK_EQ(sm_fallocate(im->fs, ino, SM_FALLOC_ZERO_RANGE, 100100, 20000), 0,
			 "%s: zero range", t);
		tap_check(read_is_zero(im, ino, 100100, 20000), "%s: zeroed range reads zeros", t);
		CHECK_EQ(sm_read(im->fs, ino, 0, b, 100, 100000), 100, "%s: data before the range stays", t);
		tap_check(!all_zero(b, 100), "%s: (and is not zero)", t);
		CHECK_EQ(sm_fallocate(im->fs, ino, SM_FALLOC_ZERO_RANGE, (2 << 20) - 10, 100), 0,
			 "%s: zero range past EOF", t);
		CHECK_EQ(attr_of(im, ino).size, (2 << 20) + 90, "%s: zero range extends size", t);
	}
	/* Punch: write data, punch the middle, unaligned. */
	tap_check(roundtrip(im, ino, 0, 64 * 1024), "%s: data for punch", t);
	uint64_t before = attr_of(im, ino).blocks;
	CHECK_EQ(sm_fallocate(im->fs, ino, SM_FALLOC_PUNCH_HOLE | SM_FALLOC_KEEP_SIZE, 1000, 40000),
		 0, "%s: punch hole", t);
	tap_check(read_is_zero(im, ino, 1000, 40000), "%s: punched range reads zeros", t);
	CHECK_EQ(sm_read(im->fs, ino, 0, b, 1000, 0), 1000, "%s: head of punch stays", t);
	tap_check(!all_zero(b, 1000), "%s: (non-zero)", t);
	uint64_t after = attr_of(im, ino).blocks;
	tap_check(after < before, "%s: punch frees blocks (%" PRIu64 " -> %" PRIu64 ")", t, before, after);
	release(im, ino);
}

static bool list_has(const char *list, ssize_t len, const char *name)
{
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(list + i) + 1)
		if (strcmp(list + i, name) == 0)
			return true;
	return false;
}

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { put16(p, v & 0xffff); put16(p + 2, v >> 16); }

static size_t make_acl(unsigned char *buf, const unsigned (*ent)[3], size_t n)
{
	put32(buf, 2);
	for (size_t i = 0; i < n; i++) {
		put16(buf + 4 + 8 * i, ent[i][0]);
		put16(buf + 6 + 8 * i, ent[i][1]);
		put32(buf + 8 + 8 * i, ent[i][2]);
	}
	return 4 + 8 * n;
}

static void test_xattr(struct img *im, const char *t)
{
	char buf[4096], name[300];
	uint64_t ino = create(im, "xattr", 0644);

	CHECK_EQ(sm_setxattr(im->fs, ino, "user.foo", "bar", 3, 0), 0, "%s: set user.foo", t);
	CHECK_EQ(sm_getxattr(im->fs, ino, "user.foo", NULL, 0), 3, "%s: size query", t);
	CHECK_EQ(sm_getxattr(im->fs, ino, "user.foo", buf, 2), -ERANGE, "%s: small buffer ERANGE", t);
	tap_check(sm_getxattr(im->fs, ino, "user.foo", buf, sizeof(buf)) == 3 && !memcmp(buf, "bar", 3),
	      "%s: get user.foo", t);
	CHECK_EQ(sm_setxattr(im->fs, ino, "user.foo", "x", 1, XATTR_CREATE), -EEXIST,
		 "%s: XATTR_CREATE on existing", t);
	CHECK_EQ(sm_setxattr(im->fs, ino, "user.nope", "x", 1, XATTR_REPLACE), -ENODATA,
		 "%s: XATTR_REPLACE on missing", t);
	CHECK_EQ(sm_setxattr(im->fs, ino, "user.foo", "baz!", 4, XATTR_REPLACE), 0,
		 "%s: XATTR_REPLACE on existing", t);
	CHECK_EQ(sm_setxattr(im->fs, ino, "trusted.t", "1", 1, 0), 0, "%s: set trusted.t", t);
	CHECK_EQ(sm_setxattr(im->fs, ino, "security.s", "", 0, 0), 0, "%s: set empty security.s", t);
	CHECK_EQ(sm_getxattr(im->fs, ino, "security.s", buf, sizeof(buf)), 0, "%s: get empty value", t);
	memset(buf, 'v', 600);
	CHECK_EQ(sm_setxattr(im->fs, ino, "user.big", buf, 600, 0), 0, "%s: set a 600-byte value", t);
	ssize_t n = sm_listxattr(im->fs, ino, NULL, 0);
	ssize_t m = sm_listxattr(im->fs, ino, buf, sizeof(buf));
	CHECK_EQ(n, m, "%s: list size query matches", t);
	tap_check(m > 0 && list_has(buf, m, "user.foo") && list_has(buf, m, "trusted.t") &&
	      list_has(buf, m, "security.s") && list_has(buf, m, "user.big"), "%s: list names", t);
	CHECK_EQ(sm_listxattr(im->fs, ino, buf, 3), -ERANGE, "%s: list small buffer ERANGE", t);
	CHECK_EQ(sm_getxattr(im->fs, ino, "user.missing", buf, sizeof(buf)), -ENODATA,
		 "%s: get missing ENODATA", t);
	CHECK_EQ(sm_removexattr(im->fs, ino, "user.foo"), 0, "%s: remove", t);
	CHECK_EQ(sm_removexattr(im->fs, ino, "user.foo"), -ENODATA, "%s: remove missing", t);
	CHECK_EQ(sm_getxattr(im->fs, ino, "user.foo", buf, sizeof(buf)), -ENODATA,
		 "%s: removed is gone", t);
	CHECK_EQ(sm_setxattr(im->fs, ino, "foo.bar", "x", 1, 0), -EOPNOTSUPP, "%s: unknown namespace", t);
	CHECK_EQ(sm_getxattr(im->fs, ino, "system.data", buf, sizeof(buf)), -EOPNOTSUPP,
		 "%s: system.data is hidden", t);
	memset(name, 'n', sizeof(name));
	memcpy(name, "user.", 5);
	name[256] = '\0';
	CHECK_EQ(sm_setxattr(im->fs, ino, name, "x", 1, 0), -ERANGE, "%s: 256-byte name ERANGE", t);
	static char huge[70000];
	CHECK_EQ(sm_setxattr(im->fs, ino, "user.huge", huge, 65537, 0), -E2BIG, "%s: 64K+1 value E2BIG", t);

	/* Fill the space: ENOSPC, not corruption. */
	int ret = 0;
	for (int i = 0; i < 64 && ret == 0; i++) {
		snprintf(name, sizeof(name), "user.fill%02d", i);
		ret = sm_setxattr(im->fs, ino, name, huge, 1000, 0);
	}
	CHECK_EQ(ret, -ENOSPC, "%s: xattr space runs out with ENOSPC", t);

	/* ACLs: a real one is stored and sets the group bits from the mask. */
	uint64_t f2 = create(im, "acl", 0644);
	unsigned char acl[64], got[64];
	const unsigned full[][3] = { { 1, 6, 0xffffffff }, { 2, 4, 1000 }, { 4, 4, 0xffffffff },
				     { 0x10, 6, 0xffffffff }, { 0x20, 0, 0xffffffff } };
	size_t alen = make_acl(acl, full, 5);
	CHECK_EQ(sm_setxattr(im->fs, f2, "system.posix_acl_access", acl, alen, 0), 0, "%s: set ACL", t);
	n = sm_getxattr(im->fs, f2, "system.posix_acl_access", got, sizeof(got));
	tap_check(n == (ssize_t)alen && memcmp(acl, got, alen) == 0, "%s: ACL reads back identical", t);
	CHECK_EQ(attr_of(im, f2).mode & 0777, 0660, "%s: mode group bits follow the mask", t);
	/* An ACL the mode expresses is not stored; the mode changes. */
	const unsigned eq[][3] = { { 1, 7, 0xffffffff }, { 4, 5, 0xffffffff }, { 0x20, 4, 0xffffffff } };
	alen = make_acl(acl, eq, 3);
	CHECK_EQ(sm_setxattr(im->fs, f2, "system.posix_acl_access", acl, alen, 0), 0,
		 "%s: set equivalent ACL", t);
	CHECK_EQ(sm_getxattr(im->fs, f2, "system.posix_acl_access", got, sizeof(got)), -ENODATA,
		 "%s: equivalent ACL is not stored", t);
	CHECK_EQ(attr_of(im, f2).mode & 0777, 0754, "%s: mode from equivalent ACL", t);
	const unsigned bad[][3] = { { 4, 4, 0xffffffff }, { 1, 7, 0xffffffff }, { 0x20, 4, 0xffffffff } };
	alen = make_acl(acl, bad, 3);
	CHECK_EQ(sm_setxattr(im->fs, f2, "system.posix_acl_access", acl, alen, 0), -EINVAL,
		 "%s: misordered ACL is EINVAL", t);
	CHECK_EQ(sm_setxattr(im->fs, f2, "system.posix_acl_default", acl, alen, 0), -EINVAL,
		 "%s: default ACL checked too", t);
	alen = make_acl(acl, eq, 3);
	CHECK_EQ(sm_setxattr(im->fs, f2, "system.posix_acl_default", acl, alen, 0), -EACCES,
		 "%s: default ACL on a file is EACCES", t);
	uint64_t dir = sm_backend_root(im->fs);
	alen = make_acl(acl, full, 5);
	CHECK_EQ(sm_setxattr(im->fs, dir, "system.posix_acl_default", acl, alen, 0), 0,
		 "%s: default ACL on a directory", t);
	n = sm_getxattr(im->fs, dir, "system.posix_acl_default", got, sizeof(got));
	tap_check(n == (ssize_t)alen && memcmp(acl, got, alen) == 0, "%s: default ACL reads back", t);
	n = sm_listxattr(im->fs, dir, buf, sizeof(buf));
	tap_check(n > 0 && list_has(buf, n, "system.posix_acl_default"), "%s: ACL listed", t);
	CHECK_EQ(sm_setxattr(im->fs, dir, "system.posix_acl_default", "", 0, 0), 0,
		 "%s: empty value removes the default ACL", t);
	CHECK_EQ(sm_getxattr(im->fs, dir, "system.posix_acl_default", got, sizeof(got)), -ENODATA,
		 "%s: default ACL gone", t);
	release(im, f2);
	release(im, ino);
}

/* Reading files libext2fs' debugfs wrote (its own mapping code). */
static void test_debugfs_file(struct img *im, const char *t)
{
	char host[300];
	size_t len = 3 * 1024 * 1024 + 123;
	unsigned char *w = malloc(len), *r = malloc(len);
	fill_random(w, len);
	snprintf(host, sizeof(host), "%s/host.bin", tmpdir);
	FILE *fp = fopen(host, "wb");
	fwrite(w, 1, len, fp);
	fclose(fp);
	int ret = run("debugfs -w -R 'write %s dbg' %s >/dev/null 2>&1 && "
		      "debugfs -w -R 'symlink lnk /dbg' %s >/dev/null 2>&1", host, im->path, im->path);
	CHECK_EQ(ret, 0, "%s: debugfs write", t);
	/* Hostile on-disk ACLs: cut short, unknown tag, id cut off. */
	static const unsigned char bad_acls[][10] = {
		{ 1, 0, 0, 0, 1, 0 },
		{ 1, 0, 0, 0, 7, 0, 6, 0 },
		{ 1, 0, 0, 0, 2, 0, 6, 0, 0xe8, 3 },
	};
	static const size_t bad_len[] = { 6, 8, 10 };
	for (int i = 0; i < 3; i++) {
		char vf[300];
		snprintf(vf, sizeof(vf), "%s/acl%d.bin", tmpdir, i);
		fp = fopen(vf, "wb");
		fwrite(bad_acls[i], 1, bad_len[i], fp);
		fclose(fp);
		ret = run("debugfs -w -R 'write %s bad%d' %s >/dev/null 2>&1 && "
			  "debugfs -w -R 'ea_set -r -f %s bad%d system.posix_acl_access' %s >/dev/null 2>&1",
			  vf, i, im->path, vf, i, im->path);
		CHECK_EQ(ret, 0, "%s: debugfs stores bad ACL %d", t, i);
	}
	tap_check(img_open(im, false), "%s: open after debugfs", t);
	struct sm_attr a;
	ret = sm_lookup(im->fs, sm_backend_root(im->fs), "dbg", &a);
	CHECK_EQ(ret, 0, "%s: lookup debugfs file", t);
	ssize_t n = sm_read(im->fs, a.ino, 0, r, len, 0);
	tap_check(n == (ssize_t)len && memcmp(w, r, len) == 0, "%s: debugfs-written file reads back", t);
	n = sm_read(im->fs, a.ino, 0, r, 5000, 1234567);
	tap_check(n == 5000 && memcmp(w + 1234567, r, 5000) == 0, "%s: read in the middle", t);
	for (int i = 0; i < 3; i++) {
		char nm[16];
		snprintf(nm, sizeof(nm), "bad%d", i);
		ret = sm_lookup(im->fs, sm_backend_root(im->fs), nm, &a);
		CHECK_EQ(ret, 0, "%s: lookup %s", t, nm);
		CHECK_EQ(sm_getxattr(im->fs, a.ino, "system.posix_acl_access", r, 4096), -EUCLEAN,
			 "%s: corrupt on-disk ACL %d is EUCLEAN", t, i);
		n = sm_listxattr(im->fs, a.ino, (char *)r, 4096);
		tap_check(n > 0 && list_has((char *)r, n, "system.posix_acl_access"),
		      "%s: corrupt ACL still listed", t);
		CHECK_EQ(sm_removexattr(im->fs, a.ino, "system.posix_acl_access"), 0,
			 "%s: corrupt ACL can be removed", t);
	}
	ret = sm_lookup(im->fs, sm_backend_root(im->fs), "lnk", &a);
	CHECK_EQ(ret, 0, "%s: lookup symlink", t);
	CHECK_EQ(sm_setxattr(im->fs, a.ino, "user.x", "1", 1, 0), -EPERM, "%s: user.* on a symlink", t);
	CHECK_EQ(sm_getxattr(im->fs, a.ino, "user.x", NULL, 0), -ENODATA, "%s: user.* get on a symlink", t);
	CHECK_EQ(sm_setxattr(im->fs, a.ino, "trusted.x", "1", 1, 0), 0, "%s: trusted.* on a symlink", t);
	free(w);
	free(r);
}

static void test_inline(struct img *im, const char *t)
{
	unsigned char w[10000], r[10000];
	uint64_t ino = create(im, "inl", 0644);
	fill_random(w, sizeof(w));
	CHECK_EQ(sm_write(im->fs, ino, 0, w, 40, 0), 40, "%s: small write", t);
	CHECK_EQ(sm_write(im->fs, ino, 0, w + 40, 60, 40), 60, "%s: append inline", t);
	CHECK_EQ(attr_of(im, ino).blocks, 0, "%s: still inline (no blocks)", t);
	CHECK_EQ(sm_read(im->fs, ino, 0, r, sizeof(r), 0), 100, "%s: read inline", t);
	tap_check(memcmp(w, r, 100) == 0, "%s: inline contents", t);
	CHECK_EQ(sm_write(im->fs, ino, 0, w + 10, 5, 10), 5, "%s: overwrite inside inline data", t);
	CHECK_EQ(sm_read(im->fs, ino, 0, r, sizeof(r), 0), 100, "%s: read again", t);
	tap_check(memcmp(w, r, 10) == 0 && memcmp(w + 10, r + 10, 5) == 0 && memcmp(w + 15, r + 15, 85) == 0,
	      "%s: contents after overwrite", t);
	CHECK_EQ(sm_lseek(im->fs, ino, 5, SEEK_HOLE), 100, "%s: inline SEEK_HOLE is EOF", t);
	CHECK_EQ(set_size(im, ino, 50), 0, "%s: truncate inline", t);
	CHECK_EQ(set_size(im, ino, 90), 0, "%s: grow inline", t);
	tap_check(read_is_zero(im, ino, 50, 40), "%s: grown inline tail reads zeros", t);
	CHECK_EQ(sm_write(im->fs, ino, 0, w, sizeof(w), 20), (ssize_t)sizeof(w),
		 "%s: write that outgrows the inode", t);
	CHECK_EQ(attr_of(im, ino).size, 20 + sizeof(w), "%s: size after conversion", t);
	tap_check(attr_of(im, ino).blocks > 0, "%s: converted to blocks", t);
	CHECK_EQ(sm_read(im->fs, ino, 0, r, sizeof(r), 20), (ssize_t)sizeof(w), "%s: read converted", t);
	tap_check(memcmp(w, r, sizeof(w)) == 0, "%s: converted contents", t);
	uint64_t ino2 = create(im, "inl2", 0644);
	CHECK_EQ(sm_write(im->fs, ino2, 0, "hello", 5, 0), 5, "%s: small file", t);
	CHECK_EQ(sm_fallocate(im->fs, ino2, 0, 0, 8192), 0, "%s: fallocate converts inline data", t);
	CHECK_EQ(sm_read(im->fs, ino2, 0, r, 10, 0), 10, "%s: read after conversion", t);
	tap_check(memcmp(r, "hello\0\0\0\0\0", 10) == 0, "%s: contents kept by conversion", t);
	release(im, ino2);
	release(im, ino);
}

static void test_enospc(const char *t, const char *mkfs)
{
	struct img im;
	static unsigned char buf[1 << 20];
	if (!img_make(&im, "small", "4M", mkfs) || !img_open(&im, false)) {
		tap_check(false, "%s: small image", t);
		return;
	}
	uint64_t ino = create(&im, "fill", 0644);
	ssize_t n = 0;
	uint64_t off = 0;
	int i;
	for (i = 0; i < 16; i++) {
		n = sm_write(im.fs, ino, 0, buf, sizeof(buf), off);
		if (n < 0)
			break;
		off += (uint64_t)n;
		if (n < (ssize_t)sizeof(buf)) {
			n = sm_write(im.fs, ino, 0, buf, sizeof(buf), off);
			break;
		}
	}
	CHECK_EQ(n, -ENOSPC, "%s: filling the filesystem ends in ENOSPC", t);
	tap_check(off > 0 && off % 1024 == 0, "%s: partial writes counted (%" PRIu64 ")", t, off);
	CHECK_EQ(attr_of(&im, ino).size, off, "%s: size is what was written", t);
	CHECK_EQ(sm_fallocate(im.fs, ino, SM_FALLOC_KEEP_SIZE, off, 1 << 20),
		 strstr(mkfs, "ext2") ? -EOPNOTSUPP : -ENOSPC, "%s: fallocate when full", t);
	CHECK_EQ(set_size(&im, ino, 1000), 0, "%s: truncate frees", t);
	tap_check(roundtrip(&im, ino, 1000, 500000), "%s: space usable again", t);
	release(&im, ino);
	CHECK_EQ(img_close(&im), 0, "%s: close full image", t);
	tap_check(fsck_clean(&im), "%s: e2fsck clean after ENOSPC", t);
}

static void test_ro(struct img *im, const char *t)
{
	tap_check(img_open(im, true), "%s: open read-only", t);
	struct sm_attr a;
	int ret = sm_lookup(im->fs, sm_backend_root(im->fs), "dbg", &a);
	CHECK_EQ(ret, 0, "%s: lookup ro", t);
	CHECK_EQ(sm_write(im->fs, a.ino, 0, "x", 1, 0), -EROFS, "%s: write on ro is EROFS", t);
	CHECK_EQ(sm_fallocate(im->fs, a.ino, 0, 0, 10), -EROFS, "%s: fallocate on ro is EROFS", t);
	CHECK_EQ(sm_setxattr(im->fs, a.ino, "user.a", "b", 1, 0), -EROFS, "%s: setxattr on ro", t);
	CHECK_EQ(sm_removexattr(im->fs, a.ino, "user.a"), -EROFS, "%s: removexattr on ro", t);
	char b[10];
	CHECK_EQ(sm_read(im->fs, a.ino, 0, b, 10, 0), 10, "%s: read on ro", t);
	CHECK_EQ(img_close(im), 0, "%s: close ro", t);
}

static void test_fs(const char *t, const char *mkfs, bool extents, bool inline_data, uint64_t bs)
{
	struct img im;
	if (!img_make(&im, t, "256M", mkfs)) {
		tap_check(false, "%s: mkfs", t);
		return;
	}
	tap_check(img_open(&im, false), "%s: open", t);
	test_rw(&im, t, extents, bs);
	if (extents && bs == 4096)
		test_overwrite(&im, t);
	test_seek(&im, t);
	test_falloc(&im, t, extents);
	test_xattr(&im, t);
	if (inline_data)
		test_inline(&im, t);
	CHECK_EQ(img_close(&im), 0, "%s: close", t);
	tap_check(fsck_clean(&im), "%s: e2fsck clean", t);
	test_debugfs_file(&im, t);
	CHECK_EQ(img_close(&im), 0, "%s: close after debugfs test", t);
	tap_check(fsck_clean(&im), "%s: e2fsck clean after debugfs test", t);
	test_ro(&im, t);
	test_enospc(t, mkfs);
}

int main(void)
{
	if (run("command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null && "
		"command -v e2fsck >/dev/null") != 0) {
		printf("1..0 # SKIP e2fsprogs not installed\n");
		return 0;
	}
	if (!mkdtemp(tmpdir)) {
		printf("1..0 # SKIP no temporary directory\n");
		return 0;
	}
	test_fs("ext2", "mkfs.ext2 -b 4096", false, false, 4096);
	test_fs("ext4", "mkfs.ext4 -b 4096", true, false, 4096);
	test_fs("ext4-inline", "mkfs.ext4 -b 4096 -O inline_data", true, true, 4096);
	test_fs("ext4-1k", "mkfs.ext4 -b 1024", true, false, 1024);
		run("rm -rf %s", tmpdir);
	return tap_finish();
}
