/* sem_errno: perform one system call named on the command line and print
 * its outcome as "OK" (plus the result where there is one) or the errno
 * name, so that integration cases can compare safemount with the kernel's
 * ext4 line by line.  Exit status is 0 whenever the call was made (whatever
 * its outcome) and 2 on a usage error, so a broken test is never mistaken
 * for a failing file system.
 *
 *   sem_errno OP ARGS...     see usage() for the list
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

struct name_val {
	const char *name;
	long long val;
};

static const struct name_val open_flags[] = {
	{ "O_RDONLY", O_RDONLY }, { "O_WRONLY", O_WRONLY }, { "O_RDWR", O_RDWR },
	{ "O_CREAT", O_CREAT }, { "O_EXCL", O_EXCL }, { "O_TRUNC", O_TRUNC },
	{ "O_APPEND", O_APPEND }, { "O_DIRECTORY", O_DIRECTORY },
	{ "O_NOFOLLOW", O_NOFOLLOW }, { "O_DIRECT", O_DIRECT },
	{ "O_NOATIME", O_NOATIME }, { "O_SYNC", O_SYNC }, { "O_PATH", O_PATH },
	{ "O_NONBLOCK", O_NONBLOCK }, { "O_TMPFILE", O_TMPFILE },
	{ NULL, 0 },
};

static const struct name_val falloc_flags[] = {
	{ "keep_size", FALLOC_FL_KEEP_SIZE }, { "punch_hole", FALLOC_FL_PUNCH_HOLE },
	{ "zero_range", FALLOC_FL_ZERO_RANGE },
	{ "collapse_range", FALLOC_FL_COLLAPSE_RANGE },
	{ "insert_range", FALLOC_FL_INSERT_RANGE },
	{ NULL, 0 },
};

static void usage(void)
{
	fputs("usage: sem_errno OP ARGS...\n"
	      "  open PATH FLAGS [MODE]          FLAGS: O_RDONLY|O_CREAT|... or a number\n"
	      "  stat|lstat PATH [FIELDS]        FIELDS: mode,uid,gid,size,nlink,blocks,\n"
	      "                                  ino,rdev,atime,mtime,ctime (default all)\n"
	      "  mkdir PATH MODE | rmdir PATH | unlink PATH\n"
	      "  rename A B [noreplace|exchange] | link A B | symlink TARGET PATH\n"
	      "  readlink PATH | access PATH r|w|x|f...\n"
	      "  truncate PATH SIZE | ftruncate PATH SIZE\n"
	      "  chmod PATH MODE | chown PATH UID GID (-1 keeps)\n"
	      "  utimens PATH A_SEC A_NSEC M_SEC M_NSEC   (sec may be NOW or OMIT)\n"
	      "  setxattr PATH NAME VALUE | getxattr PATH NAME | removexattr PATH NAME\n"
	      "  listxattr PATH\n"
	      "  fallocate PATH MODE OFF LEN     MODE: 0 or keep_size,punch_hole,zero_range\n"
	      "  write PATH OFF DATA [append,creat,trunc,direct,sync]\n"
	      "  fill PATH OFF LEN BYTE          writes LEN copies of BYTE (char) at OFF\n"
	      "  read PATH OFF LEN [direct,noatime] prints OK and the bytes, escaped\n"
	      "  sum PATH                        prints OK size and a checksum of the bytes\n"
	      "  lseek PATH data|hole OFF\n"
	      "  linkmany PATH DIR N             link PATH as DIR/dK/lI until error or N\n"
	      "  mknod PATH fifo|sock|chr|blk MODE [MAJOR MINOR]\n"
	      "  statfs PATH | readdir PATH\n"
	      "  getflags PATH | setflags PATH HEX\n"
	      "  fdshell PATH FLAGS [MODE]       keep an fd open; commands on stdin:\n"
	      "                                  write OFF DATA | read OFF LEN | fstat [F]\n"
	      "                                  ftruncate SIZE | fsync | close\n",
	      stderr);
	exit(2);
}

static const char *err_name(int e)
{
	static char buf[32];
	const char *n = strerrorname_np(e);

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

/* Print the outcome of a call that returns -1 with errno set on failure. */
static void report(int ret)
{
	if (ret < 0)
		puts(err_name(errno));
	else
		puts("OK");
}

static long long parse_num(const char *s, int base)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, base);
	if (errno || *s == '\0' || *end != '\0') {
		fprintf(stderr, "sem_errno: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

/* "A|B,C" of names from TABLE, or a plain number. */
static long long parse_flags(const char *s, const struct name_val *table)
{
	char buf[512];
	char *tok, *save = NULL;
	long long v = 0;

	if (s[0] >= '0' && s[0] <= '9')
		return parse_num(s, 0);
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, "|,", &save); tok; tok = strtok_r(NULL, "|,", &save)) {
		const struct name_val *nv;

		for (nv = table; nv->name; nv++)
			if (strcmp(nv->name, tok) == 0)
				break;
		if (!nv->name) {
			fprintf(stderr, "sem_errno: unknown flag '%s'\n", tok);
			exit(2);
		}
		v |= nv->val;
	}
	return v;
}

static int has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || p[-1] == ',' || p[-1] == '|') &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == '|'))
			return 1;
		p += n;
	}
	return 0;
}

static void print_stat(const struct stat *st, const char *fields)
{
	const char *f = fields ? fields : "mode,uid,gid,size,nlink,blocks,atime,mtime,ctime";
	const char *sep = "";

	printf("OK");
	sep = " ";
	if (has_word(f, "ino"))
		printf("%sino=%llu", sep, (unsigned long long)st->st_ino);
	if (has_word(f, "mode"))
		printf("%smode=%06o", sep, (unsigned)st->st_mode);
	if (has_word(f, "uid"))
		printf("%suid=%u", sep, (unsigned)st->st_uid);
	if (has_word(f, "gid"))
		printf("%sgid=%u", sep, (unsigned)st->st_gid);
	if (has_word(f, "size"))
		printf("%ssize=%lld", sep, (long long)st->st_size);
	if (has_word(f, "nlink"))
		printf("%snlink=%llu", sep, (unsigned long long)st->st_nlink);
	if (has_word(f, "blocks"))
		printf("%sblocks=%lld", sep, (long long)st->st_blocks);
	if (has_word(f, "rdev"))
		printf("%srdev=%u:%u", sep, major(st->st_rdev), minor(st->st_rdev));
	if (has_word(f, "atime"))
		printf("%satime=%lld.%09ld", sep, (long long)st->st_atim.tv_sec, st->st_atim.tv_nsec);
	if (has_word(f, "mtime"))
		printf("%smtime=%lld.%09ld", sep, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	if (has_word(f, "ctime"))
		printf("%sctime=%lld.%09ld", sep, (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
	putchar('\n');
}

static void print_escaped(const unsigned char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (buf[i] >= 0x21 && buf[i] < 0x7f && buf[i] != '\\')
			putchar(buf[i]);
		else
			printf("\\x%02x", buf[i]);
	}
}

static void parse_time(const char *sec, const char *nsec, struct timespec *ts)
{
	if (strcmp(sec, "NOW") == 0) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_NOW;
	} else if (strcmp(sec, "OMIT") == 0) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_OMIT;
	} else {
		ts->tv_sec = parse_num(sec, 10);
		ts->tv_nsec = parse_num(nsec, 10);
	}
}

static int do_fill(const char *path, off_t off, long long len, int c)
{
	char buf[65536];
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	if (fd < 0)
		return -1;
	memset(buf, c, sizeof(buf));
	while (len > 0) {
		size_t n = len > (long long)sizeof(buf) ? sizeof(buf) : (size_t)len;
		ssize_t w = pwrite(fd, buf, n, off);

		if (w <= 0) {
			int e = w < 0 ? errno : EIO;

			close(fd);
			errno = e;
			return -1;
		}
		off += w;
		len -= w;
	}
	return close(fd);
}

static void do_sum(const char *path)
{
	unsigned char buf[65536];
	uint64_t h = 1469598103934665603ULL, size = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		puts(err_name(errno));
		return;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		ssize_t i;

		for (i = 0; i < n; i++)
			h = (h ^ buf[i]) * 1099511628211ULL;
		size += (uint64_t)n;
	}
	if (n < 0)
		puts(err_name(errno));
	else
		printf("OK size=%llu fnv=%016llx\n", (unsigned long long)size, (unsigned long long)h);
	close(fd);
}

static void do_read(int fd, off_t off, size_t len)
{
	unsigned char *buf = malloc(len ? len : 1);
	ssize_t n;

	if (!buf) {
		puts("ENOMEM");
		return;
	}
	n = pread(fd, buf, len, off);
	if (n < 0) {
		puts(err_name(errno));
	} else {
		printf("OK %zd ", n);
		print_escaped(buf, (size_t)n);
		putchar('\n');
	}
	free(buf);
}

static void do_linkmany(const char *path, const char *dir, long long n)
{
	char name[PATH_MAX];
	long long i;

	for (i = 0; i < n; i++) {
		if (i % 4096 == 0) {
			snprintf(name, sizeof(name), "%s/d%lld", dir, i / 4096);
			if (mkdir(name, 0755) < 0 && errno != EEXIST) {
				printf("%s count=%lld (mkdir)\n", err_name(errno), i);
				return;
			}
		}
		snprintf(name, sizeof(name), "%s/d%lld/l%lld", dir, i / 4096, i);
		if (link(path, name) < 0) {
			printf("%s count=%lld\n", err_name(errno), i);
			return;
		}
	}
	printf("OK count=%lld\n", i);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names sorted, one per line, then OK or the errno name of the failure. */
static void do_readdir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;

	if (!d) {
		puts(err_name(errno));
		return;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (n == cap) {
			char **nn;

			cap = cap ? cap * 2 : 64;
			nn = realloc(names, cap * sizeof(*names));
			if (!nn) {
				puts("ENOMEM");
				exit(1);
			}
			names = nn;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			puts("ENOMEM");
			exit(1);
		}
		n++;
		errno = 0;
	}
	if (errno) {
		printf("%s\n", err_name(errno));
	} else {
		if (n)
			qsort(names, n, sizeof(*names), cmp_str);
		for (i = 0; i < n; i++)
			printf("[%s]\n", names[i]);
		puts("OK");
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
}

static void do_statfs(const char *path)
{
	struct statfs s;

	if (statfs(path, &s) < 0) {
		puts(err_name(errno));
		return;
	}
	printf("OK bsize=%ld blocks=%llu bfree=%llu bavail=%llu files=%llu ffree=%llu namelen=%ld\n",
	       (long)s.f_bsize, (unsigned long long)s.f_blocks, (unsigned long long)s.f_bfree,
	       (unsigned long long)s.f_bavail, (unsigned long long)s.f_files,
	       (unsigned long long)s.f_ffree, (long)s.f_namelen);
}

static void do_flags(const char *path, const char *hex)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
	int flags;

	if (fd < 0) {
		puts(err_name(errno));
		return;
	}
	if (hex) {
		flags = (int)parse_num(hex, 16);
		report(ioctl(fd, FS_IOC_SETFLAGS, &flags));
	} else if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0) {
		puts(err_name(errno));
	} else {
		printf("OK %08x\n", (unsigned)flags);
	}
	close(fd);
}

/* Keep one descriptor open and run commands on it read from stdin, one line
 * of output per command, so a shell coprocess can interleave path
 * operations (unlink, rename, df) with I/O on an unlinked inode. */
static void do_fdshell(const char *path, int flags, mode_t mode)
{
	char line[4096];
	int fd = open(path, flags, mode);

	if (fd < 0) {
		puts(err_name(errno));
		fflush(stdout);
		return;
	}
	puts("OK");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		char *argv[4] = { NULL, NULL, NULL, NULL };
		char *save = NULL, *tok;
		int argc = 0;

		line[strcspn(line, "\n")] = '\0';
		for (tok = strtok_r(line, " ", &save); tok && argc < 4; tok = strtok_r(NULL, " ", &save))
			argv[argc++] = tok;
		if (argc == 0)
			continue;
		if (strcmp(argv[0], "write") == 0 && argc == 3) {
			ssize_t w = pwrite(fd, argv[2], strlen(argv[2]), (off_t)parse_num(argv[1], 0));

			if (w < 0)
				puts(err_name(errno));
			else
				printf("OK %zd\n", w);
		} else if (strcmp(argv[0], "read") == 0 && argc == 3) {
			do_read(fd, (off_t)parse_num(argv[1], 0), (size_t)parse_num(argv[2], 0));
		} else if (strcmp(argv[0], "fstat") == 0) {
			struct stat st;

			if (fstat(fd, &st) < 0)
				puts(err_name(errno));
			else
				print_stat(&st, argc > 1 ? argv[1] : NULL);
		} else if (strcmp(argv[0], "ftruncate") == 0 && argc == 2) {
			report(ftruncate(fd, (off_t)parse_num(argv[1], 0)));
		} else if (strcmp(argv[0], "fsync") == 0) {
			report(fsync(fd));
		} else if (strcmp(argv[0], "close") == 0) {
			report(close(fd));
			fflush(stdout);
			return;
		} else {
			puts("EBADCMD");
		}
		fflush(stdout);
	}
	close(fd);
}

static int open_mode(const char *s)
{
	return (int)parse_num(s, 8);
}

static int need(int argc, int n)
{
	if (argc < n)
		usage();
	return 1;
}

int main(int argc, char **argv)
{
	const char *op;
	struct stat st;
	int fd;

	if (argc < 3)
		usage();
	op = argv[1];

	if (strcmp(op, "open") == 0 && need(argc, 4)) {
		fd = open(argv[2], (int)parse_flags(argv[3], open_flags),
			  argc > 4 ? open_mode(argv[4]) : 0644);
		report(fd);
		if (fd >= 0)
			close(fd);
	} else if (strcmp(op, "stat") == 0 || strcmp(op, "lstat") == 0) {
		int r = op[0] == 's' ? stat(argv[2], &st) : lstat(argv[2], &st);

		if (r < 0)
			puts(err_name(errno));
		else
			print_stat(&st, argc > 3 ? argv[3] : NULL);
	} else if (strcmp(op, "mkdir") == 0) {
		report(mkdir(argv[2], argc > 3 ? open_mode(argv[3]) : 0755));
	} else if (strcmp(op, "rmdir") == 0) {
		report(rmdir(argv[2]));
	} else if (strcmp(op, "unlink") == 0) {
		report(unlink(argv[2]));
	} else if (strcmp(op, "rename") == 0 && need(argc, 4)) {
		unsigned int fl = 0;

		if (argc > 4 && strcmp(argv[4], "noreplace") == 0)
			fl = RENAME_NOREPLACE;
		else if (argc > 4 && strcmp(argv[4], "exchange") == 0)
			fl = RENAME_EXCHANGE;
		else if (argc > 4)
			usage();
		report(renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3], fl));
	} else if (strcmp(op, "link") == 0 && need(argc, 4)) {
		report(link(argv[2], argv[3]));
	} else if (strcmp(op, "symlink") == 0 && need(argc, 4)) {
		report(symlink(argv[2], argv[3]));
	} else if (strcmp(op, "readlink") == 0) {
		char buf[PATH_MAX + 1];
		ssize_t n = readlink(argv[2], buf, PATH_MAX);

		if (n < 0) {
			puts(err_name(errno));
		} else {
			buf[n] = '\0';
			printf("OK %s\n", buf);
		}
	} else if (strcmp(op, "access") == 0 && need(argc, 4)) {
		int m = 0;

		m |= strchr(argv[3], 'r') ? R_OK : 0;
		m |= strchr(argv[3], 'w') ? W_OK : 0;
		m |= strchr(argv[3], 'x') ? X_OK : 0;
		report(access(argv[2], m));
	} else if (strcmp(op, "truncate") == 0 && need(argc, 4)) {
		report(truncate(argv[2], (off_t)parse_num(argv[3], 0)));
	} else if (strcmp(op, "ftruncate") == 0 && need(argc, 4)) {
		fd = open(argv[2], O_WRONLY);
		if (fd < 0) {
			puts(err_name(errno));
		} else {
			report(ftruncate(fd, (off_t)parse_num(argv[3], 0)));
			close(fd);
		}
	} else if (strcmp(op, "chmod") == 0 && need(argc, 4)) {
		report(chmod(argv[2], (mode_t)parse_num(argv[3], 8)));
	} else if (strcmp(op, "chown") == 0 && need(argc, 5)) {
		report(chown(argv[2], (uid_t)parse_num(argv[3], 10), (gid_t)parse_num(argv[4], 10)));
	} else if (strcmp(op, "utimens") == 0 && need(argc, 7)) {
		struct timespec ts[2];

		parse_time(argv[3], argv[4], &ts[0]);
		parse_time(argv[5], argv[6], &ts[1]);
		report(utimensat(AT_FDCWD, argv[2], ts, 0));
	} else if (strcmp(op, "setxattr") == 0 && need(argc, 5)) {
		report(setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0));
	} else if (strcmp(op, "getxattr") == 0 && need(argc, 4)) {
		char buf[65536];
		ssize_t n = getxattr(argv[2], argv[3], buf, sizeof(buf));

		if (n < 0) {
			puts(err_name(errno));
		} else {
			printf("OK ");
			print_escaped((unsigned char *)buf, (size_t)n);
			putchar('\n');
		}
	} else if (strcmp(op, "removexattr") == 0 && need(argc, 4)) {
		report(removexattr(argv[2], argv[3]));
	} else if (strcmp(op, "listxattr") == 0) {
		char buf[65536];
		ssize_t n = listxattr(argv[2], buf, sizeof(buf)), i;

		if (n < 0) {
			puts(err_name(errno));
		} else {
			printf("OK");
			for (i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
				printf(" %s", buf + i);
			putchar('\n');
		}
	} else if (strcmp(op, "fallocate") == 0 && need(argc, 6)) {
		fd = open(argv[2], O_WRONLY);
		if (fd < 0) {
			puts(err_name(errno));
		} else {
			report(fallocate(fd, (int)parse_flags(argv[3], falloc_flags),
					 (off_t)parse_num(argv[4], 0), (off_t)parse_num(argv[5], 0)));
			close(fd);
		}
	} else if (strcmp(op, "write") == 0 && need(argc, 5)) {
		const char *opt = argc > 5 ? argv[5] : "";
		int fl = O_WRONLY;
		off_t off = (off_t)parse_num(argv[3], 0);
		ssize_t w;

		fl |= has_word(opt, "append") ? O_APPEND : 0;
		fl |= has_word(opt, "creat") ? O_CREAT : 0;
		fl |= has_word(opt, "trunc") ? O_TRUNC : 0;
		fl |= has_word(opt, "sync") ? O_SYNC : 0;
		fd = open(argv[2], fl, 0644);
		if (fd < 0) {
			puts(err_name(errno));
		} else {
			if (fl & O_APPEND) {
				/* Seek first: O_APPEND must ignore the position. */
				if (lseek(fd, off, SEEK_SET) < 0)
					w = -1;
				else
					w = write(fd, argv[4], strlen(argv[4]));
			} else {
				w = pwrite(fd, argv[4], strlen(argv[4]), off);
			}
			if (w < 0)
				puts(err_name(errno));
			else
				printf("OK %zd\n", w);
			close(fd);
		}
	} else if (strcmp(op, "fill") == 0 && need(argc, 6)) {
		report(do_fill(argv[2], (off_t)parse_num(argv[3], 0), parse_num(argv[4], 0), argv[5][0]));
	} else if (strcmp(op, "read") == 0 && need(argc, 5)) {
		int fl = O_RDONLY;

		if (argc > 5 && has_word(argv[5], "direct"))
			fl |= O_DIRECT;
		if (argc > 5 && has_word(argv[5], "noatime"))
			fl |= O_NOATIME;
		fd = open(argv[2], fl);
		if (fd < 0) {
			puts(err_name(errno));
		} else {
			do_read(fd, (off_t)parse_num(argv[3], 0), (size_t)parse_num(argv[4], 0));
			close(fd);
		}
	} else if (strcmp(op, "sum") == 0) {
		do_sum(argv[2]);
	} else if (strcmp(op, "lseek") == 0 && need(argc, 5)) {
		int whence;
		off_t r;

		if (strcmp(argv[3], "data") == 0)
			whence = SEEK_DATA;
		else if (strcmp(argv[3], "hole") == 0)
			whence = SEEK_HOLE;
		else
			usage();
		fd = open(argv[2], O_RDONLY);
		if (fd < 0) {
			puts(err_name(errno));
		} else {
			r = lseek(fd, (off_t)parse_num(argv[4], 0), whence);
			if (r < 0)
				puts(err_name(errno));
			else
				printf("OK %lld\n", (long long)r);
			close(fd);
		}
	} else if (strcmp(op, "linkmany") == 0 && need(argc, 5)) {
		do_linkmany(argv[2], argv[3], parse_num(argv[4], 0));
	} else if (strcmp(op, "mknod") == 0 && need(argc, 5)) {
		mode_t m = (mode_t)parse_num(argv[4], 8);
		dev_t dev = 0;

		if (strcmp(argv[3], "fifo") == 0)
			m |= S_IFIFO;
		else if (strcmp(argv[3], "sock") == 0)
			m |= S_IFSOCK;
		else if (strcmp(argv[3], "chr") == 0 && need(argc, 7))
			m |= S_IFCHR;
		else if (strcmp(argv[3], "blk") == 0 && need(argc, 7))
			m |= S_IFBLK;
		else
			usage();
		if (S_ISCHR(m) || S_ISBLK(m))
			dev = makedev((unsigned)parse_num(argv[5], 10), (unsigned)parse_num(argv[6], 10));
		report(mknod(argv[2], m, dev));
	} else if (strcmp(op, "statfs") == 0) {
		do_statfs(argv[2]);
	} else if (strcmp(op, "readdir") == 0) {
		do_readdir(argv[2]);
	} else if (strcmp(op, "getflags") == 0) {
		do_flags(argv[2], NULL);
	} else if (strcmp(op, "setflags") == 0 && need(argc, 4)) {
		do_flags(argv[2], argv[3]);
	} else if (strcmp(op, "fdshell") == 0 && need(argc, 4)) {
		do_fdshell(argv[2], (int)parse_flags(argv[3], open_flags),
			   argc > 4 ? (mode_t)open_mode(argv[4]) : 0644);
	} else {
		usage();
	}
	return 0;
}
