/* tree_manifest: print a canonical, sorted manifest of a directory tree, one
 * line per path, so that two views of "the same" filesystem (the kernel's ext4
 * and safemount) can be compared with diff(1).
 *
 * usage: tree_manifest [-C] [-D] [-M] [-B] [-Z] ROOT
 *   -C  leave out ctime           -D  leave out directory sizes
 *   -M  leave out directory mtimes
 *   -B  include st_blocks         -Z  skip holes with SEEK_DATA/SEEK_HOLE
 *
 * Line: path type mode nlink uid gid size rdev mtime ctime link data xattrs
 *   path   relative to ROOT ("." for ROOT), bytes outside 0x21..0x7e as \xHH
 *   link   for a non-directory with nlink > 1: the first path (in manifest
 *          order) of the same inode, so hard links are checked without
 *          depending on inode numbers
 *   data   regular file: a SHA-256 over every non-zero 64 KiB block of the
 *          content (offset + bytes) and the size, so a 5 GiB sparse file is
 *          cheap to hash but any byte difference still shows; symlink: target
 *   xattrs sorted name=hexvalue list (includes system.posix_acl_*)
 * atime is never printed.  The walk sorts names with strcmp at each level.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* ---- SHA-256 (FIPS 180-4), small and self-contained ---- */
struct sha256 {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t n;
};

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(struct sha256 *s, const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3];
	e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
	for (i = 0; i < 64; i++) {
		uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
	}
	s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
	s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

static void sha_init(struct sha256 *s)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
	s->n = 0;
}

static void sha_update(struct sha256 *s, const void *data, size_t len)
{
	const unsigned char *p = data;

	s->len += len;
	if (s->n) {
		size_t take = 64 - s->n < len ? 64 - s->n : len;
		memcpy(s->buf + s->n, p, take);
		s->n += take; p += take; len -= take;
		if (s->n < 64)
			return;
		sha_block(s, s->buf);
		s->n = 0;
	}
	for (; len >= 64; p += 64, len -= 64)
		sha_block(s, p);
	memcpy(s->buf, p, len);
	s->n = len;
}

static void sha_final(struct sha256 *s, char hex[65])
{
	uint64_t bits = s->len * 8;
	unsigned char pad = 0x80, zero = 0, lenbe[8];
	int i;

	sha_update(s, &pad, 1);
	while (s->n != 56)
		sha_update(s, &zero, 1);
	for (i = 0; i < 8; i++)
		lenbe[i] = (unsigned char)(bits >> (56 - 8 * i));
	sha_update(s, lenbe, 8);
	for (i = 0; i < 8; i++)
		sprintf(hex + 8 * i, "%08x", s->h[i]);
}

/* ---- the walk ---- */
struct entry {
	char *path;      /* escaped relative path */
	char *line;      /* everything after the path, without the link column */
	dev_t dev;
	ino_t ino;
	int multi;       /* non-directory with nlink > 1 */
	size_t order;
	const char *group;
};

static struct entry *entries;
static size_t n_entries, cap_entries;
static int opt_noctime, opt_nodirsize, opt_nodirmtime, opt_blocks, opt_holes;
static int errors;

#define BLK (64 * 1024)
static unsigned char iobuf[16 * BLK];

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) { perror("realloc"); exit(2); }
	return p;
}

/* Escape a byte string so it is one whitespace-free, printable token. */
static char *escape(const char *s, size_t len)
{
	char *out = xrealloc(NULL, len * 4 + 3), *o = out;
	size_t i;

	if (len == 0) { strcpy(out, "''"); return out; }
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c > 0x20 && c < 0x7f && c != '\\')
			*o++ = (char)c;
		else
			o += sprintf(o, "\\x%02x", c);
	}
	*o = 0;
	return out;
}

static int all_zero(const unsigned char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Hash the non-zero 64 KiB blocks; returns 0 or -errno. */
static int hash_file(int dirfd, const char *name, off_t size, char hex[65])
{
	struct sha256 s;
	off_t off = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	sha_init(&s);
	for (;;) {
		ssize_t got;
		size_t i;

		if (opt_holes) {
			off_t d = lseek(fd, off, SEEK_DATA);
			if (d < 0 && errno == ENXIO)
				break;
			if (d >= 0)
				off = d & ~(off_t)(BLK - 1);
		}
		got = pread(fd, iobuf, sizeof(iobuf), off);
		if (got < 0) {
			int e = -errno;
			close(fd);
			return e;
		}
		if (got == 0)
			break;
		for (i = 0; i < (size_t)got; i += BLK) {
			size_t n = (size_t)got - i < BLK ? (size_t)got - i : BLK;
			if (!all_zero(iobuf + i, n)) {
				uint64_t o = (uint64_t)off + i;
				sha_update(&s, &o, sizeof(o));
				sha_update(&s, iobuf + i, n);
			}
		}
		off += got;
	}
	close(fd);
	{
		uint64_t sz = (uint64_t)size, end = (uint64_t)off;
		sha_update(&s, &sz, sizeof(sz));
		if (!opt_holes)   /* what read() delivered must match st_size */
			sha_update(&s, &end, sizeof(end));
		else if (end > sz)
			sha_update(&s, &end, sizeof(end));
	}
	sha_final(&s, hex);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append the sorted xattrs of PATH (an absolute-ish path via /proc/self/fd). */
static void xattrs(const char *fullpath, char **buf, size_t *len)
{
	char *list, **names;
	ssize_t n, i;
	size_t count = 0, k;

	n = llistxattr(fullpath, NULL, 0);
	if (n < 0) {
		if (errno != ENOTSUP) {
			fprintf(stderr, "llistxattr %s: %s\n", fullpath, strerror(errno));
			errors++;
		}
		n = 0;
	}
	list = xrealloc(NULL, (size_t)n + 1);
	if (n > 0) {
		n = llistxattr(fullpath, list, (size_t)n);
		if (n < 0) { fprintf(stderr, "llistxattr %s: %s\n", fullpath, strerror(errno)); errors++; n = 0; }
	}
	names = xrealloc(NULL, sizeof(char *) * ((size_t)n + 1));
	for (i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
		names[count++] = list + i;
	qsort(names, count, sizeof(char *), cmp_names);
	for (k = 0; k < count; k++) {
		unsigned char val[65536];
		ssize_t v = lgetxattr(fullpath, names[k], val, sizeof(val));
		size_t need;
		char *p;
		ssize_t j;

		if (v < 0) {
			fprintf(stderr, "lgetxattr %s %s: %s\n", fullpath, names[k], strerror(errno));
			errors++;
			v = 0;
		}
		need = strlen(names[k]) * 4 + (size_t)v * 2 + 8;
		*buf = xrealloc(*buf, *len + need);
		p = *buf + *len;
		p += sprintf(p, "%s%s=", count && k ? "," : " ", names[k]);
		for (j = 0; j < v; j++)
			p += sprintf(p, "%02x", val[j]);
		*len = (size_t)(p - *buf);
	}
	if (count == 0) {
		*buf = xrealloc(*buf, *len + 3);
		*len += (size_t)sprintf(*buf + *len, " -");
	}
	free(names);
	free(list);
}

static void add_entry(int dirfd, const char *name, const char *rel, const char *full,
		      const struct stat *st)
{
	char *line = NULL, data[PATH_MAX * 4 + 80];
	size_t len = 0;
	int isdir = S_ISDIR(st->st_mode);
	char type = S_ISREG(st->st_mode) ? 'f' : isdir ? 'd' : S_ISLNK(st->st_mode) ? 'l' :
		    S_ISFIFO(st->st_mode) ? 'p' : S_ISCHR(st->st_mode) ? 'c' :
		    S_ISBLK(st->st_mode) ? 'b' : S_ISSOCK(st->st_mode) ? 's' : '?';
	char size[32], mtime[48], ctime_[48], blocks[32];
	struct entry *e;

	if (isdir && opt_nodirsize)
		strcpy(size, "-");
	else
		snprintf(size, sizeof(size), "%lld", (long long)st->st_size);
	if (isdir && opt_nodirmtime)
		strcpy(mtime, "-");
	else
		snprintf(mtime, sizeof(mtime), "%lld.%09ld", (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	if (opt_noctime)
		strcpy(ctime_, "-");
	else
		snprintf(ctime_, sizeof(ctime_), "%lld.%09ld", (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
	if (opt_blocks)
		snprintf(blocks, sizeof(blocks), " blocks=%lld", (long long)st->st_blocks);
	else
		blocks[0] = 0;

	if (S_ISREG(st->st_mode)) {
		char hex[65];
		int r = hash_file(dirfd, name, st->st_size, hex);
		if (r < 0) {
			fprintf(stderr, "read %s: %s\n", full, strerror(-r));
			errors++;
			snprintf(data, sizeof(data), "read-error:%s", strerror(-r));
		} else {
			snprintf(data, sizeof(data), "sha=%s", hex);
		}
	} else if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target));
		if (n < 0) {
			fprintf(stderr, "readlink %s: %s\n", full, strerror(errno));
			errors++;
			strcpy(data, "readlink-error");
		} else {
			char *t = escape(target, (size_t)n);
			snprintf(data, sizeof(data), "->%s", t);
			free(t);
		}
	} else {
		strcpy(data, "-");
	}

	len = 0;
	line = xrealloc(NULL, 512);
	len = (size_t)snprintf(line, 512, "%c %04o %lu %u %u %s %u:%u %s %s%s", type,
			       (unsigned)(st->st_mode & 07777), (unsigned long)st->st_nlink,
			       (unsigned)st->st_uid, (unsigned)st->st_gid, size,
			       (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) ? major(st->st_rdev) : 0,
			       (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) ? minor(st->st_rdev) : 0,
			       mtime, ctime_, blocks);
	line = xrealloc(line, len + strlen(data) + 2);
	len += (size_t)sprintf(line + len, " %s", data);
	xattrs(full, &line, &len);

	if (n_entries == cap_entries) {
		cap_entries = cap_entries ? cap_entries * 2 : 1024;
		entries = xrealloc(entries, cap_entries * sizeof(*entries));
	}
	e = &entries[n_entries];
	e->path = escape(rel, strlen(rel));
	e->line = line;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->multi = !isdir && st->st_nlink > 1;
	e->order = n_entries;
	e->group = NULL;
	n_entries++;
}

static void walk(int dirfd, const char *rel, const char *full)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int fd = dup(dirfd);

	if (fd < 0 || !(d = fdopendir(fd))) {
		fprintf(stderr, "opendir %s: %s\n", full, strerror(errno));
		errors++;
		if (fd >= 0) close(fd);
		return;
	}
	errno = 0;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof(char *));
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) { perror("strdup"); exit(2); }
		n++;
	}
	if (errno) {
		fprintf(stderr, "readdir %s: %s\n", full, strerror(errno));
		errors++;
	}
	closedir(d);
	if (n)	/* qsort(NULL, 0) is undefined */
		qsort(names, n, sizeof(char *), cmp_names);
	for (i = 0; i < n; i++) {
		if (i > 0 && !strcmp(names[i], names[i - 1])) {
			fprintf(stderr, "readdir %s: duplicate entry %s\n", full, names[i]);
			errors++;
			continue;
		}
		size_t rl = strlen(rel) + strlen(names[i]) + 2, fl = strlen(full) + strlen(names[i]) + 2;
		char *r = xrealloc(NULL, rl), *f = xrealloc(NULL, fl);
		struct stat st;

		if (!strcmp(rel, "."))
			snprintf(r, rl, "%s", names[i]);
		else
			snprintf(r, rl, "%s/%s", rel, names[i]);
		snprintf(f, fl, "%s/%s", full, names[i]);
		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			fprintf(stderr, "lstat %s: %s\n", f, strerror(errno));
			errors++;
		} else {
			add_entry(dirfd, names[i], r, f, &st);
			if (S_ISDIR(st.st_mode)) {
				int sub = openat(dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (sub < 0) {
					fprintf(stderr, "open %s: %s\n", f, strerror(errno));
					errors++;
				} else {
					walk(sub, r, f);
					close(sub);
				}
			}
		}
		free(r);
		free(f);
	}
	/* Only now: the duplicate check above looks back at names[i - 1]. */
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int cmp_ino(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
	if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

int main(int argc, char **argv)
{
	struct entry **multi;
	size_t nm = 0, i;
	struct stat st;
	int c, root;

	while ((c = getopt(argc, argv, "CDMBZ")) != -1) {
		switch (c) {
		case 'C': opt_noctime = 1; break;
		case 'D': opt_nodirsize = 1; break;
		case 'M': opt_nodirmtime = 1; break;
		case 'B': opt_blocks = 1; break;
		case 'Z': opt_holes = 1; break;
		default:
			fprintf(stderr, "usage: %s [-C] [-D] [-M] [-B] [-Z] ROOT\n", argv[0]);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: %s [-C] [-D] [-M] [-B] [-Z] ROOT\n", argv[0]);
		return 2;
	}
	root = open(argv[optind], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0 || fstat(root, &st) < 0) {
		fprintf(stderr, "%s: %s\n", argv[optind], strerror(errno));
		return 2;
	}
	add_entry(root, ".", ".", argv[optind], &st);
	walk(root, ".", argv[optind]);

	multi = xrealloc(NULL, (n_entries + 1) * sizeof(*multi));
	for (i = 0; i < n_entries; i++)
		if (entries[i].multi)
			multi[nm++] = &entries[i];
	qsort(multi, nm, sizeof(*multi), cmp_ino);
	for (i = 0; i < nm; i++)
		multi[i]->group = (i > 0 && multi[i - 1]->dev == multi[i]->dev &&
				   multi[i - 1]->ino == multi[i]->ino) ? multi[i - 1]->group : multi[i]->path;

	for (i = 0; i < n_entries; i++) {
		const char *sp = strchr(entries[i].line, ' ');   /* after the type letter */
		size_t tl = (size_t)(sp - entries[i].line);
		printf("%s %.*s link=%s%s\n", entries[i].path, (int)tl, entries[i].line,
		       entries[i].group ? entries[i].group : "-", sp);
	}
	free(multi);
	if (fflush(stdout) != 0) { perror("stdout"); return 2; }
	if (errors) {
		fprintf(stderr, "tree_manifest: %d error(s)\n", errors);
		return 1;
	}
	return 0;
}
