/* meta: the metadata workloads of the benchmark (bench/run.sh).
 *
 *   meta create DIR N SIZE   create DIR/f000000 ... f(N-1), each SIZE bytes
 *                            (open O_CREAT|O_EXCL, one write, close), then
 *                            syncfs() the filesystem; the sync is timed
 *   meta stat DIR            readdir DIR and lstat (fstatat, no follow)
 *                            every entry
 *   meta unlink DIR          readdir DIR, then unlink every entry (files only;
 *                            no sync: like rm)
 *
 * Prints one line:  meta MODE items=N seconds=S rate=R  (R items per second,
 * wall clock, CLOCK_MONOTONIC).  Any failing call is fatal: exit 1 with the
 * call, the name and strerror on stderr, so a broken target cannot produce a
 * rate.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, const char *name)
{
	fprintf(stderr, "meta: %s %s: %s\n", what, name ? name : "", strerror(errno));
	return 1;
}

static void report(const char *mode, unsigned long n, double secs)
{
	printf("meta %s items=%lu seconds=%.6f rate=%.1f\n", mode, n, secs,
	       secs > 0 ? (double)n / secs : 0.0);
}

static int do_create(const char *dir, unsigned long n, size_t size)
{
	char name[32];
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return fail("malloc", NULL);
	for (size_t i = 0; i < size; i++)
		buf[i] = (char)('a' + i % 26);

	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fail("open", dir);

	double t0 = now();
	for (unsigned long i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%06lu", i);
		int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return fail("create", name);
		if (size) {
			ssize_t w = write(fd, buf, size);
			if (w < 0)
				return fail("write", name);
			if ((size_t)w != size) {
				errno = EIO;
				return fail("short write", name);
			}
		}
		if (close(fd) < 0)
			return fail("close", name);
	}
	if (syncfs(dfd) < 0)
		return fail("syncfs", dir);
	double t1 = now();
	report("create", n, t1 - t0);
	close(dfd);
	free(buf);
	return 0;
}

static int do_stat(const char *dir)
{
	unsigned long n = 0;
	struct stat st;

	double t0 = now();
	DIR *d = opendir(dir);
	if (!d)
		return fail("opendir", dir);
	int dfd = dirfd(d);
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			if (errno)
				return fail("readdir", dir);
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return fail("stat", de->d_name);
		n++;
	}
	closedir(d);
	double t1 = now();
	report("stat", n, t1 - t0);
	return 0;
}

static int do_unlink(const char *dir)
{
	size_t cap = 1024, n = 0;
	char **names = malloc(cap * sizeof(*names));
	if (!names)
		return fail("malloc", NULL);

	double t0 = now();
	DIR *d = opendir(dir);
	if (!d)
		return fail("opendir", dir);
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			if (errno)
				return fail("readdir", dir);
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap *= 2;
			char **nn = realloc(names, cap * sizeof(*names));
			if (!nn)
				return fail("realloc", NULL);
			names = nn;
		}
		names[n] = strdup(de->d_name);
		if (!names[n])
			return fail("strdup", NULL);
		n++;
	}
	int dfd = dirfd(d);
	for (size_t i = 0; i < n; i++)
		if (unlinkat(dfd, names[i], 0) < 0)
			return fail("unlink", names[i]);
	closedir(d);
	double t1 = now();
	report("unlink", n, t1 - t0);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: meta create DIR N SIZE | meta stat DIR | meta unlink DIR\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "create")) {
		char *end;
		errno = 0;
		unsigned long n = strtoul(argv[3], &end, 10);
		if (errno || *end || !*argv[3])
			return usage();
		unsigned long size = strtoul(argv[4], &end, 10);
		if (errno || *end || !*argv[4] || size > (64ul << 20))
			return usage();
		return do_create(argv[2], n, size);
	}
	if (argc == 3 && !strcmp(argv[1], "stat"))
		return do_stat(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "unlink"))
		return do_unlink(argv[2]);
	return usage();
}
