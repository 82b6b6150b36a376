/* diff_handle: file handles through name_to_handle_at/open_by_handle_at.
 *
 *   diff_handle get PATH             print the handle as HEX (type:bytes)
 *   diff_handle open MOUNTPOINT HEX  open the handle (O_RDONLY) below the
 *                                    mount holding MOUNTPOINT and print the
 *                                    file's first line
 * On failure the message names the errno symbolically (e.g. "ESTALE") so a
 * script can match it; exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *errname(int e)
{
	switch (e) {
	case ESTALE: return "ESTALE";
	case ENOENT: return "ENOENT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EINVAL: return "EINVAL";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case EBADF: return "EBADF";
	case EOVERFLOW: return "EOVERFLOW";
	case EIO: return "EIO";
	default: return "E?";
	}
}

static int do_get(const char *path)
{
	struct file_handle *fh;
	int mnt_id, i;

	fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	if (!fh)
		return 1;
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(AT_FDCWD, path, fh, &mnt_id, 0) < 0) {
		int e = errno;
		fprintf(stderr, "name_to_handle_at %s: %s (%s)\n", path, errname(e), strerror(e));
		free(fh);
		return 1;
	}
	printf("%d:", fh->handle_type);
	for (i = 0; i < (int)fh->handle_bytes; i++)
		printf("%02x", fh->f_handle[i]);
	printf("\n");
	free(fh);
	return 0;
}

static int do_open(const char *mnt, const char *hex)
{
	struct file_handle *fh;
	char *colon, line[4096];
	size_t len, i;
	int mfd, fd;
	ssize_t n;

	colon = strchr(hex, ':');
	if (!colon) {
		fprintf(stderr, "bad handle %s\n", hex);
		return 2;
	}
	len = strlen(colon + 1);
	if (len % 2 || len / 2 > MAX_HANDLE_SZ) {
		fprintf(stderr, "bad handle %s\n", hex);
		return 2;
	}
	fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	if (!fh)
		return 1;
	fh->handle_type = atoi(hex);
	fh->handle_bytes = (unsigned)(len / 2);
	for (i = 0; i < len / 2; i++) {
		unsigned v;
		if (sscanf(colon + 1 + 2 * i, "%2x", &v) != 1) {
			fprintf(stderr, "bad handle %s\n", hex);
			free(fh);
			return 2;
		}
		fh->f_handle[i] = (unsigned char)v;
	}
	mfd = open(mnt, O_RDONLY | O_DIRECTORY);
	if (mfd < 0) {
		perror(mnt);
		free(fh);
		return 1;
	}
	fd = open_by_handle_at(mfd, fh, O_RDONLY);
	if (fd < 0) {
		int e = errno;
		fprintf(stderr, "open_by_handle_at: %s (%s)\n", errname(e), strerror(e));
		close(mfd);
		free(fh);
		return 1;
	}
	n = read(fd, line, sizeof(line) - 1);
	if (n < 0) {
		int e = errno;
		fprintf(stderr, "read: %s (%s)\n", errname(e), strerror(e));
		close(fd);
		close(mfd);
		free(fh);
		return 1;
	}
	line[n] = 0;
	line[strcspn(line, "\n")] = 0;
	printf("%s\n", line);
	close(fd);
	close(mfd);
	free(fh);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "get"))
		return do_get(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "open"))
		return do_open(argv[2], argv[3]);
	fprintf(stderr, "usage: %s get PATH | open MOUNTPOINT HEX\n", argv[0]);
	return 2;
}
