/* fsx: a seeded, reproducible random file-operation tester, after the idea of
 * the classic fsx (BSD, xfstests).  It keeps the expected contents of one file
 * in memory, applies random writes, reads, mmap reads/writes, truncates,
 * fallocate modes, fsyncs and remounts to both the file and the model, and
 * checks every byte read and the size after every op.  The same seed gives the
 * same op sequence, so a failure is reproduced with the command it prints.
 *
 *   fsx [-N numops] [-S seed] [-l maxlen] [-o maxoplen] [-R remount-cmd]
 *       [-r remount-every] [-F] [-v] FILE
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LOG_RING 1024		/* ops remembered for "who changed this byte" */
#define LOG_SHOW 20		/* ops printed on failure */
#define VERIFY_EVERY 1000	/* full-file verify interval */
#define PROGRESS_EVERY 10000
#define BLK 4096

enum op {
	OP_WRITE, OP_READ, OP_MAPREAD, OP_MAPWRITE, OP_TRUNCATE, OP_PUNCH,
	OP_ZERO, OP_ZERO_KEEP, OP_FALLOC, OP_FALLOC_KEEP, OP_FSYNC,
	OP_NR_RANDOM,		/* the ops below are not picked at random */
	OP_REMOUNT = OP_NR_RANDOM, OP_VERIFY, OP_NR
};

static const struct {
	const char *name;
	unsigned weight;
	int mode;		/* fallocate mode, for the fallocate ops */
} ops[OP_NR] = {
	[OP_WRITE] = { "write", 20, 0 },
	[OP_READ] = { "read", 14, 0 },
	[OP_MAPREAD] = { "mapread", 8, 0 },
	[OP_MAPWRITE] = { "mapwrite", 8, 0 },
	[OP_TRUNCATE] = { "truncate", 8, 0 },
	[OP_PUNCH] = { "punch_hole", 7, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE },
	[OP_ZERO] = { "zero_range", 6, FALLOC_FL_ZERO_RANGE },
	[OP_ZERO_KEEP] = { "zero_range_keep", 6, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE },
	[OP_FALLOC] = { "fallocate", 6, 0 },
	[OP_FALLOC_KEEP] = { "fallocate_keep", 6, FALLOC_FL_KEEP_SIZE },
	[OP_FSYNC] = { "fsync", 2, 0 },
	[OP_REMOUNT] = { "remount", 0, 0 },
	[OP_VERIFY] = { "verify", 0, 0 },
};

struct logent {
	uint64_t n;		/* op number, 1-based; 0 = empty slot */
	enum op op;
	bool skipped;		/* disabled op: parameters drawn, nothing done */
	off_t off, old_size, new_size;
	size_t len;
};

struct fsx {
	const char *path, *remount_cmd;
	uint64_t seed, numops, remount_every;
	uint64_t n;		/* op number, specials (verify, remount) included */
	uint64_t done;		/* random ops started: what -N reproduces */
	uint64_t rng;
	size_t maxlen, maxoplen, pagesize;
	bool verbose, no_falloc;
	int fd;
	unsigned char *good;	/* the model; bytes at and past size are zero */
	unsigned char *tmp;
	uint32_t *owner;	/* op number that last changed each byte */
	off_t size;
	bool disabled[OP_NR];
	uint64_t count[OP_NR];
	struct logent log[LOG_RING];
};

/* xorshift64*: small, fast, and the same on every libc. */
static uint64_t rnd(struct fsx *f)
{
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 0x2545F4914F6CDD1DULL;
}

static uint64_t rnd_below(struct fsx *f, uint64_t n)
{
	return n ? (rnd(f) >> 11) % n : 0;
}

static void print_logent(const struct logent *e)
{
	fprintf(stderr, "  %8" PRIu64 ": %-16s", e->n, ops[e->op].name);
	if (e->op == OP_TRUNCATE)
		fprintf(stderr, " to 0x%06jx%28s", (intmax_t)e->off, "");
	else if (e->op != OP_FSYNC && e->op != OP_REMOUNT && e->op != OP_VERIFY)
		fprintf(stderr, " 0x%06jx +0x%05zx (end 0x%06jx)", (intmax_t)e->off, e->len,
			(intmax_t)e->off + (intmax_t)e->len);
	else
		fprintf(stderr, "%38s", "");
	fprintf(stderr, " size 0x%jx", (intmax_t)e->old_size);
	if (e->new_size != e->old_size)
		fprintf(stderr, " -> 0x%jx", (intmax_t)e->new_size);
	fprintf(stderr, "%s\n", e->skipped ? "  [skipped: unsupported]" : "");
}

static const struct logent *find_log(const struct fsx *f, uint64_t n)
{
	const struct logent *e = &f->log[n % LOG_RING];
	return n && e->n == n ? e : NULL;
}

/* Print the recent ops and how to reproduce, then exit 1. */
__attribute__((format(printf, 2, 3)))
static _Noreturn void fsx_fail(struct fsx *f, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "fsx: seed %" PRIu64 ": op %" PRIu64 ": ", f->seed, f->n);
	/* op numbers count verifies and remounts too; -N counts random ops only */
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nfsx: seed %" PRIu64 ": last ops (newest last):\n", f->seed);
	uint64_t first = f->n > LOG_SHOW ? f->n - LOG_SHOW + 1 : 1;
	for (uint64_t i = first; i <= f->n; i++) {
		const struct logent *e = find_log(f, i);
		if (e)
			print_logent(e);
	}
	fprintf(stderr, "fsx: seed %" PRIu64 ": reproduce: fsx -S %" PRIu64 " -N %" PRIu64
		" -l %zu -o %zu%s", f->seed, f->seed, f->done, f->maxlen, f->maxoplen,
		f->no_falloc ? " -F" : "");
	if (f->remount_cmd) {
		fputs(" -R '", stderr);	/* shell-quoted: ' becomes '\'' */
		for (const char *c = f->remount_cmd; *c; c++)
			fputs(*c == '\'' ? "'\\''" : (char[]){ *c, 0 }, stderr);
		fprintf(stderr, "' -r %" PRIu64, f->remount_every);
	}
	fprintf(stderr, " %s\n", f->path);
	exit(1);
}

static void hexline(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %02x", p[i]);
	fputc('\n', stderr);
}

/* Compare len bytes read at file offset off against the model. */
static void check_data(struct fsx *f, const char *what, off_t off, const unsigned char *got,
		       size_t len)
{
	const unsigned char *exp = f->good + off;
	if (memcmp(exp, got, len) == 0)
		return;
	size_t first = 0, ndiff = 0;
	while (exp[first] == got[first])
		first++;
	fprintf(stderr, "fsx: seed %" PRIu64 ": op %" PRIu64 ": %s: data mismatch at file offset 0x%jx"
		" (read 0x%jx +0x%zx, file size 0x%jx)\n", f->seed, f->n, what,
		(intmax_t)off + (intmax_t)first, (intmax_t)off, len, (intmax_t)f->size);
	fprintf(stderr, "fsx: seed %" PRIu64 ": differing ranges:", f->seed);
	int shown = 0;
	for (size_t i = first; i < len;) {
		if (exp[i] == got[i]) {
			i++;
			continue;
		}
		/* Bytes that match by chance (random data vs zeros) do not
		 * split a range: it ends at 16 equal bytes in a row. */
		size_t j = i, last = i;
		for (; j < len && j - last <= 16; j++)
			if (exp[j] != got[j])
				last = j, ndiff++;
		j = last + 1;
		if (shown++ < 6)
			fprintf(stderr, " 0x%jx-0x%jx", (intmax_t)off + (intmax_t)i,
				(intmax_t)off + (intmax_t)j - 1);
		i = j;
	}
	fprintf(stderr, "%s (%zu bytes differ)\n", shown > 6 ? " ..." : "", ndiff);
	size_t from = first & ~(size_t)15, n = len - from < 32 ? len - from : 32;
	fprintf(stderr, "fsx: seed %" PRIu64 ": at 0x%jx expected:", f->seed, (intmax_t)off + (intmax_t)from);
	hexline(exp + from, n);
	fprintf(stderr, "fsx: seed %" PRIu64 ": at 0x%jx got:     ", f->seed, (intmax_t)off + (intmax_t)from);
	hexline(got + from, n);
	uint64_t who = f->owner[off + first];
	const struct logent *e = find_log(f, who);
	fprintf(stderr, "fsx: seed %" PRIu64 ": byte 0x%jx last changed by op %" PRIu64 "%s\n", f->seed,
		(intmax_t)off + (intmax_t)first, who, who ? (e ? ":" : "") : " (never written)");
	if (e)
		print_logent(e);
	fsx_fail(f, "%s: data mismatch", what);
}

static void check_size(struct fsx *f, const char *what)
{
	struct stat st;
	if (fstat(f->fd, &st) < 0)
		fsx_fail(f, "%s: fstat: %s", what, strerror(errno));
	if (st.st_size != f->size)
		fsx_fail(f, "%s: file size is 0x%jx, expected 0x%jx", what, (intmax_t)st.st_size,
			 (intmax_t)f->size);
}

/* ---- the model ---- */

static void model_own(struct fsx *f, off_t off, off_t end)
{
	for (off_t i = off; i < end; i++)
		f->owner[i] = (uint32_t)f->n;
}

static void model_resize(struct fsx *f, off_t size)
{
	if (size < f->size)
		memset(f->good + size, 0, (size_t)(f->size - size));
	else
		model_own(f, f->size, size);
	f->size = size;
}

static void model_write(struct fsx *f, off_t off, const unsigned char *buf, size_t len)
{
	if (off + (off_t)len > f->size)
		model_resize(f, off + (off_t)len);
	memcpy(f->good + off, buf, len);
	model_own(f, off, off + (off_t)len);
}

static void model_zero(struct fsx *f, off_t off, size_t len, bool keep_size)
{
	off_t end = off + (off_t)len;
	if (!keep_size && end > f->size)
		model_resize(f, end);
	if (end > f->size)
		end = f->size;
	if (off < end) {
		memset(f->good + off, 0, (size_t)(end - off));
		model_own(f, off, end);
	}
}

/* ---- file access ---- */

static void do_pread(struct fsx *f, const char *what, unsigned char *buf, size_t len, off_t off,
		     size_t expect)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(f->fd, buf + done, len - done, off + (off_t)done);
		if (r < 0)
			fsx_fail(f, "%s: pread 0x%jx +0x%zx: %s", what, (intmax_t)off, len, strerror(errno));
		if (r == 0)
			break;
		done += (size_t)r;
	}
	if (done != expect)
		fsx_fail(f, "%s: pread 0x%jx +0x%zx returned 0x%zx bytes, expected 0x%zx (size 0x%jx)",
			 what, (intmax_t)off, len, done, expect, (intmax_t)f->size);
}

static void full_verify(struct fsx *f, const char *what)
{
	check_size(f, what);
	/* One byte past the end must read nothing. */
	do_pread(f, what, f->tmp, (size_t)f->size + 1, 0, (size_t)f->size);
	check_data(f, what, 0, f->tmp, (size_t)f->size);
}

/* The rest of the last page past EOF must read as zeros through a mapping;
 * eof points at the mapped byte for file offset size. */
static void check_eof_page(struct fsx *f, const char *what, const unsigned char *eof)
{
	size_t in_page = (size_t)(f->size % (off_t)f->pagesize);
	for (size_t i = 0; in_page && i < f->pagesize - in_page; i++)
		if (eof[i])
			fsx_fail(f, "%s: byte 0x%jx past EOF (size 0x%jx) reads 0x%02x through mmap, not 0",
				 what, (intmax_t)f->size + (intmax_t)i, (intmax_t)f->size, eof[i]);
}

/* Map the pages holding [off, off+len); *base is where off lands. */
static unsigned char *map_range(struct fsx *f, const char *what, off_t off, size_t len, int prot,
				unsigned char **base, size_t *mlen)
{
	off_t moff = off & ~(off_t)(f->pagesize - 1);
	*mlen = len + (size_t)(off - moff);
	unsigned char *map = mmap(NULL, *mlen, prot, MAP_SHARED, f->fd, moff);
	if (map == MAP_FAILED)
		fsx_fail(f, "%s: mmap 0x%jx +0x%zx: %s", what, (intmax_t)moff, *mlen, strerror(errno));
	*base = map + (off - moff);
	return map;
}

static void do_mapread(struct fsx *f, off_t off, size_t len)
{
	unsigned char *base;
	size_t mlen;
	unsigned char *map = map_range(f, "mapread", off, len, PROT_READ, &base, &mlen);
	memcpy(f->tmp, base, len);
	if (off + (off_t)len == f->size)
		check_eof_page(f, "mapread", base + len);
	if (munmap(map, mlen) < 0)
		fsx_fail(f, "mapread: munmap: %s", strerror(errno));
	check_data(f, "mapread", off, f->tmp, len);
}

static void do_mapwrite(struct fsx *f, off_t off, size_t len, const unsigned char *buf)
{
	unsigned char *base;
	size_t mlen;
	if (off + (off_t)len > f->size) {
		/* A mapping cannot extend the file; grow it first, as fsx does. */
		if (ftruncate(f->fd, off + (off_t)len) < 0)
			fsx_fail(f, "mapwrite: ftruncate 0x%jx: %s", (intmax_t)off + (intmax_t)len,
				 strerror(errno));
		model_resize(f, off + (off_t)len);
	}
	unsigned char *map = map_range(f, "mapwrite", off, len, PROT_READ | PROT_WRITE, &base, &mlen);
	memcpy(base, buf, len);
	if (msync(map, mlen, MS_SYNC) < 0)
		fsx_fail(f, "mapwrite: msync: %s", strerror(errno));
	if (off + (off_t)len == f->size)
		check_eof_page(f, "mapwrite", base + len);
	if (munmap(map, mlen) < 0)
		fsx_fail(f, "mapwrite: munmap: %s", strerror(errno));
	model_write(f, off, buf, len);
}

static void do_write(struct fsx *f, off_t off, size_t len, const unsigned char *buf)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pwrite(f->fd, buf + done, len - done, off + (off_t)done);
		if (r <= 0)
			fsx_fail(f, "write: pwrite 0x%jx +0x%zx: %s", (intmax_t)off + (intmax_t)done,
				 len - done, r < 0 ? strerror(errno) : "wrote nothing");
		done += (size_t)r;
	}
	model_write(f, off, buf, len);
}

/* Returns false if the mode is not supported (the op is then disabled). */
static bool do_fallocate(struct fsx *f, enum op op, off_t off, size_t len)
{
	int mode = ops[op].mode;
	if (fallocate(f->fd, mode, off, (off_t)len) < 0) {
		if (errno == EOPNOTSUPP) {
			printf("fsx: seed %" PRIu64 ": op %" PRIu64 ": %s (fallocate mode 0x%x) not supported"
			       " here (EOPNOTSUPP); disabling it\n", f->seed, f->n, ops[op].name, mode);
			f->disabled[op] = true;
			return false;
		}
		fsx_fail(f, "%s: fallocate(mode 0x%x, 0x%jx, 0x%zx): %s", ops[op].name, mode,
			 (intmax_t)off, len, strerror(errno));
	}
	if (op == OP_PUNCH || op == OP_ZERO_KEEP || op == OP_ZERO)
		model_zero(f, off, len, op != OP_ZERO);
	else if (op == OP_FALLOC && off + (off_t)len > f->size)
		model_resize(f, off + (off_t)len);
	return true;
}

static void do_remount(struct fsx *f)
{
	if (close(f->fd) < 0)
		fsx_fail(f, "remount: close: %s", strerror(errno));
	f->fd = -1;
	fflush(NULL);
	int st = system(f->remount_cmd);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fsx_fail(f, "remount: command '%s' failed (exit status %d)", f->remount_cmd,
			 st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	f->fd = open(f->path, O_RDWR);
	if (f->fd < 0)
		fsx_fail(f, "remount: reopen %s: %s", f->path, strerror(errno));
	full_verify(f, "remount");
}

/* ---- op selection ---- */

/* A random range starting below limit, clipped to maxlen.  A quarter of the
 * ranges are block-aligned, so whole-block paths are exercised too. */
static void pick_range(struct fsx *f, off_t limit, off_t *off, size_t *len)
{
	*off = (off_t)rnd_below(f, (uint64_t)limit);
	*len = 1 + (size_t)rnd_below(f, f->maxoplen);
	if (rnd_below(f, 4) == 0) {
		*off &= ~(off_t)(BLK - 1);
		*len = (*len + BLK - 1) & ~(size_t)(BLK - 1);
	}
	if (*off + (off_t)*len > (off_t)f->maxlen)
		*len = f->maxlen - (size_t)*off;
}

static enum op pick_op(struct fsx *f)
{
	unsigned total = 0;
	for (int i = 0; i < OP_NR_RANDOM; i++)
		total += ops[i].weight;
	unsigned r = (unsigned)rnd_below(f, total);
	for (int i = 0; i < OP_NR_RANDOM; i++) {
		if (r < ops[i].weight)
			return (enum op)i;
		r -= ops[i].weight;
	}
	return OP_WRITE;
}

static void fill_random(struct fsx *f, unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = rnd(f);
		memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
	}
}

static struct logent *log_start(struct fsx *f, enum op op, off_t off, size_t len)
{
	struct logent *e = &f->log[f->n % LOG_RING];
	*e = (struct logent){ .n = f->n, .op = op, .off = off, .len = len, .old_size = f->size,
			      .new_size = f->size };
	return e;
}

static void log_end(struct fsx *f, struct logent *e)
{
	e->new_size = f->size;
	f->count[e->op] += !e->skipped;
	if (f->verbose)
		print_logent(e);
}

static void one_op(struct fsx *f)
{
	enum op op = pick_op(f);
	off_t off = 0;
	size_t len = 0;

	/* Draw all parameters first, even for a disabled op, so that the op
	 * sequence does not depend on what the filesystem supports. */
	switch (op) {
	case OP_READ:
	case OP_MAPREAD:
		pick_range(f, f->size ? f->size : 1, &off, &len);
		if (off + (off_t)len > f->size && op == OP_MAPREAD)
			len = f->size > off ? (size_t)(f->size - off) : 0;
		break;
	case OP_TRUNCATE:
		switch (rnd_below(f, 8)) {
		case 0:
			off = (off_t)rnd_below(f, 256);	/* small files now and then */
			if (off > (off_t)f->maxlen)
				off = (off_t)f->maxlen;
			break;
		case 1:
		case 2:
			off = (off_t)rnd_below(f, f->maxlen / BLK + 1) * BLK;
			break;
		default:
			off = (off_t)rnd_below(f, f->maxlen + 1);
			break;
		}
		break;
	case OP_FSYNC:
		break;
	default:
		pick_range(f, (off_t)f->maxlen, &off, &len);
		break;
	}
	if (op == OP_WRITE || op == OP_MAPWRITE)
		fill_random(f, f->tmp, len);

	struct logent *e = log_start(f, op, off, len);
	if (f->disabled[op]) {
		e->skipped = true;
		log_end(f, e);
		return;
	}
	switch (op) {
	case OP_WRITE:
		do_write(f, off, len, f->tmp);
		break;
	case OP_MAPWRITE:
		do_mapwrite(f, off, len, f->tmp);
		break;
	case OP_READ: {
		size_t expect = off < f->size ? (size_t)(f->size - off) : 0;
		if (expect > len)
			expect = len;
		do_pread(f, "read", f->tmp, len, off, expect);
		check_data(f, "read", off, f->tmp, expect);
		break;
	}
	case OP_MAPREAD:
		if (len)
			do_mapread(f, off, len);
		break;
	case OP_TRUNCATE:
		if (ftruncate(f->fd, off) < 0)
			fsx_fail(f, "truncate: ftruncate 0x%jx: %s", (intmax_t)off, strerror(errno));
		model_resize(f, off);
		break;
	case OP_FSYNC:
		if (fsync(f->fd) < 0)
			fsx_fail(f, "fsync: %s", strerror(errno));
		break;
	default:
		e->skipped = !do_fallocate(f, op, off, len);
		break;
	}
	log_end(f, e);
	check_size(f, ops[op].name);
}

static void special_op(struct fsx *f, enum op op)
{
	struct logent *e = log_start(f, op, 0, 0);
	if (op == OP_REMOUNT)
		do_remount(f);
	else
		full_verify(f, "verify");
	log_end(f, e);
}

static uint64_t parse_num(const char *s, char opt)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (errno || end == s || *end || s[0] == '-') {
		fprintf(stderr, "fsx: -%c: bad number '%s'\n", opt, s);
		exit(2);
	}
	return v;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fsx [-N numops] [-S seed] [-l maxlen] [-o maxoplen] [-R remount-cmd]\n"
		"           [-r remount-every] [-F] [-v] FILE\n"
		"  -N  ops to run (default 10000)        -S  seed (default: from the clock)\n"
		"  -l  max file size (default 256k)      -o  max op length (default 64k)\n"
		"  -R  command run via system() to remount, with FILE closed (then FILE is\n"
		"      reopened and verified)            -r  remount every N ops (default 10000)\n"
		"  -F  no fallocate ops (punch, zero, preallocate)     -v  log every op\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct fsx fsx = {
		.numops = 10000, .maxlen = 256 << 10, .maxoplen = 64 << 10,
		.remount_every = 10000, .fd = -1,
	};
	struct fsx *f = &fsx;
	bool seeded = false;
	int c;

	while ((c = getopt(argc, argv, "FN:S:l:o:R:r:vh")) != -1) {
		switch (c) {
		case 'N': f->numops = parse_num(optarg, 'N'); break;
		case 'S': f->seed = parse_num(optarg, 'S'); seeded = true; break;
		case 'l': f->maxlen = parse_num(optarg, 'l'); break;
		case 'o': f->maxoplen = parse_num(optarg, 'o'); break;
		case 'R': f->remount_cmd = optarg; break;
		case 'r': f->remount_every = parse_num(optarg, 'r'); break;
		case 'v': f->verbose = true; break;
		case 'F': f->no_falloc = true; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || f->maxlen == 0 || f->maxoplen == 0 || f->maxlen > (1u << 30) ||
	    f->numops > UINT32_MAX / 2)
		usage();
	if (f->maxoplen > f->maxlen)
		f->maxoplen = f->maxlen;
	f->path = argv[optind];
	for (int i = OP_PUNCH; f->no_falloc && i <= OP_FALLOC_KEEP; i++)
		f->disabled[i] = true;
	if (!seeded)
		f->seed = ((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16)) % 1000000;
	/* splitmix64 of the seed: any seed, 0 included, gives a good state. */
	uint64_t z = f->seed + 0x9E3779B97F4A7C15ULL;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	f->rng = (z ^ (z >> 31)) | 1;
	long ps = sysconf(_SC_PAGESIZE);
	f->pagesize = ps > 0 ? (size_t)ps : 4096;

	f->good = calloc(f->maxlen + 1, 1);
	f->tmp = calloc(f->maxlen + f->pagesize, 1);
	f->owner = calloc(f->maxlen + 1, sizeof(*f->owner));
	if (!f->good || !f->tmp || !f->owner) {
		fprintf(stderr, "fsx: out of memory\n");
		return 1;
	}
	printf("fsx: seed %" PRIu64 ": %" PRIu64 " ops on %s, maxlen %zu, maxoplen %zu%s%s\n",
	       f->seed, f->numops, f->path, f->maxlen, f->maxoplen,
	       f->remount_cmd ? ", remount: " : "", f->remount_cmd ? f->remount_cmd : "");
	fflush(stdout);
	f->fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (f->fd < 0) {
		fprintf(stderr, "fsx: seed %" PRIu64 ": open %s: %s\n", f->seed, f->path, strerror(errno));
		return 1;
	}
	check_size(f, "open");

	while (f->done < f->numops) {
		f->n++, f->done++;
		one_op(f);
		if (f->done % VERIFY_EVERY == 0) {
			f->n++;
			special_op(f, OP_VERIFY);
		}
		if (f->remount_cmd && f->remount_every && f->done % f->remount_every == 0) {
			f->n++;
			special_op(f, OP_REMOUNT);
		}
		if (f->done % PROGRESS_EVERY == 0) {
			printf("fsx: seed %" PRIu64 ": %" PRIu64 " ops ok, size 0x%jx\n", f->seed, f->done,
			       (intmax_t)f->size);
			fflush(stdout);
		}
	}
	f->n++;
	special_op(f, f->remount_cmd ? OP_REMOUNT : OP_VERIFY);
	if (close(f->fd) < 0)
		fsx_fail(f, "close: %s", strerror(errno));

	printf("fsx: seed %" PRIu64 ": all %" PRIu64 " ops passed:", f->seed, f->done);
	for (int i = 0; i < OP_NR; i++)
		if (f->count[i] || f->disabled[i])
			printf(" %s %" PRIu64 "%s", ops[i].name, f->count[i], f->disabled[i] ? " (disabled)" : "");
	printf("\n");
	free(f->good);
	free(f->tmp);
	free(f->owner);
	return 0;
}
