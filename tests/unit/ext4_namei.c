/* Name operations of the ext4 backend, through the public sm_* API, on
 * images made by mkfs (ext4, ext4 with inline_data, ext2): every case ends
 * with `e2fsck -fn`, which must find the image clean.  TAP output. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "safemount/backend.h"
#include "scratch.h"
#include "tap.h"

#define FS_IMMUTABLE_FL_ 0x00000010u
#define FS_NODUMP_FL_    0x00000040u




static const struct sm_caller user = { 1000, 1000, 1 };
static const struct sm_caller root_who = { 0, 0, 1 };



/* The number a shell command prints (e.g. a dumpe2fs field), or -1. */
static long long cmd_number(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	long long v = -1;
	if (!p)
		return -1;
	if (fscanf(p, "%lld", &v) != 1)
		v = -1;
	pclose(p);
	return v;
}



struct listing {
	char names[64][64];
	uint64_t inos[64];
	uint32_t types[64];
	int n;
	int stop_after;
};

static int list_fn(void *ctx, const char *name, size_t len, uint64_t ino, uint32_t type,
		   uint64_t next)
{
	struct listing *l = ctx;
	(void)next;
	if (l->stop_after && l->n >= l->stop_after)
		return 1;
	if (l->n < 64 && len < 64) {
		memcpy(l->names[l->n], name, len);
		l->names[l->n][len] = '\0';
		l->inos[l->n] = ino;
		l->types[l->n] = type;
	}
	l->n++;
	return 0;
}

static int find_name(const struct listing *l, const char *name)
{
	for (int i = 0; i < l->n && i < 64; i++)
		if (!strcmp(l->names[i], name))
			return i;
	return -1;
}

static uint64_t lookup_ino(struct sm_fs *fs, uint64_t dir, const char *name)
{
	struct sm_attr a;
	return sm_lookup(fs, dir, name, &a) == 0 ? a.ino : 0;
}

static uint32_t nlink_of(struct sm_fs *fs, uint64_t ino)
{
	struct sm_attr a;
	return sm_getattr(fs, ino, &a) == 0 ? a.nlink : 0;
}

static void test_image(const char *mkfs, const char *what, bool has_blocksize_4k)
{
	char img[512], cmd[2048];
	struct sm_attr a, b;
	uint64_t fh;
	int fd;

	tap_label = what;
	if (!make_image(mkfs, img, sizeof(img), what))
		return;
	struct sm_fs *fs = open_fs(img, 0, &fd);
	if (!fs)
		return;
	uint64_t root = sm_backend_root(fs);
	uint32_t root_links = nlink_of(fs, root);

	/* mkdir, lookup of ".", ".." */
	EXPECT(sm_mkdir(fs, root, "d1", 0755, &user, &a), 0, "mkdir d1");
	uint64_t d1 = a.ino;
	tap_check(S_ISDIR(a.mode) && (a.mode & 07777) == 0755 && a.nlink == 2 && a.uid == 1000 &&
	      a.gid == 1000, "new dir attrs (mode %o nlink %u uid %u)", a.mode, a.nlink, a.uid);
	tap_check(a.btime.tv_sec != 0, "crtime set");
	EXPECT(nlink_of(fs, root), root_links + 1, "root nlink +1 after mkdir");
	EXPECT(sm_mkdir(fs, root, "d1", 0755, &user, &a), -EEXIST, "mkdir existing -> EEXIST");
	EXPECT(lookup_ino(fs, d1, "."), d1, "lookup . in d1");
	EXPECT(lookup_ino(fs, d1, ".."), root, "lookup .. in d1 is root");
	EXPECT(lookup_ino(fs, root, ".."), root, "lookup .. in root is root");
	EXPECT(sm_lookup(fs, root, "nope", &a), -ENOENT, "lookup missing -> ENOENT");
	EXPECT(sm_lookup(fs, root, "", &a), -ENOENT, "lookup empty name -> ENOENT");
	EXPECT(sm_lookup(fs, root, "a/b", &a), -EINVAL, "lookup name with / -> EINVAL");

	char longname[300];
	memset(longname, 'x', 256);
	longname[256] = '\0';
	EXPECT(sm_mkdir(fs, root, longname, 0755, &user, &a), -ENAMETOOLONG, "mkdir 256-byte name");
	EXPECT(sm_create(fs, root, longname, 0644, O_RDWR, &user, &a, &fh), -ENAMETOOLONG,
	       "create 256-byte name");
	EXPECT(sm_lookup(fs, root, longname, &a), -ENAMETOOLONG, "lookup 256-byte name");
	longname[255] = '\0';
	EXPECT(sm_create(fs, root, longname, 0644, O_RDWR, &user, &a, &fh), 0, "create 255-byte name");
	EXPECT(sm_release(fs, a.ino, fh), 0, "release it");
	EXPECT(sm_unlink(fs, root, longname), 0, "unlink 255-byte name");

	/* create, link, unlink */
	EXPECT(sm_create(fs, d1, "f1", 0644, O_RDWR, &user, &a, &fh), 0, "create d1/f1");
	uint64_t f1 = a.ino;
	tap_check(S_ISREG(a.mode) && a.nlink == 1 && a.size == 0, "new file attrs");
	EXPECT(sm_write(fs, f1, fh, "hello", 5, 0), 5, "write 5 bytes");
	EXPECT(sm_release(fs, f1, fh), 0, "release f1");
	EXPECT(sm_create(fs, d1, "f1", 0644, O_RDWR, &user, &a, &fh), -EEXIST, "create existing");
	EXPECT(sm_link(fs, f1, root, "hl", &a), 0, "link f1 -> /hl");
	EXPECT(a.nlink, 2, "nlink 2 after link");
	EXPECT(sm_link(fs, d1, root, "dl", &a), -EPERM, "link a directory -> EPERM");
	EXPECT(sm_link(fs, f1, root, "hl", &a), -EEXIST, "link onto existing -> EEXIST");
	EXPECT(sm_unlink(fs, root, "hl"), 0, "unlink /hl");
	EXPECT(nlink_of(fs, f1), 1, "nlink back to 1");
	EXPECT(sm_unlink(fs, root, "d1"), -EISDIR, "unlink a dir -> EISDIR");
	EXPECT(sm_rmdir(fs, d1, "f1"), -ENOTDIR, "rmdir a file -> ENOTDIR");

	/* symlinks */
	char slow[300];
	memset(slow, 's', 200);
	slow[200] = '\0';
	char buf[4200];
	EXPECT(sm_symlink(fs, root, "fast", "d1/f1", &user, &a), 0, "fast symlink");
	tap_check(S_ISLNK(a.mode) && a.size == 5, "fast symlink attrs");
	EXPECT(sm_readlink(fs, a.ino, buf, sizeof(buf)), 5, "readlink fast");
	tap_check(!strcmp(buf, "d1/f1"), "fast target '%s'", buf);
	EXPECT(sm_symlink(fs, root, "slow", slow, &user, &a), 0, "slow symlink");
	EXPECT(sm_readlink(fs, a.ino, buf, sizeof(buf)), 200, "readlink slow");
	tap_check(!strcmp(buf, slow), "slow target matches");
	EXPECT(sm_readlink(fs, a.ino, buf, 10), 200, "readlink into a small buffer");
	tap_check(strlen(buf) == 9, "small buffer truncated and terminated");
	EXPECT(sm_readlink(fs, f1, buf, sizeof(buf)), -EINVAL, "readlink on a file -> EINVAL");
	{
		/* The target and its NUL must fit in one block. */
		size_t bs = has_blocksize_4k ? 4096 : 1024;
		char big[4200];
		memset(big, 'b', bs);
		big[bs] = '\0';
		EXPECT(sm_symlink(fs, root, "big", big, &user, &a), -ENAMETOOLONG,
		       "symlink of a block's size -> ENAMETOOLONG");
		big[bs - 1] = '\0';
		EXPECT(sm_symlink(fs, root, "big", big, &user, &a), 0, "symlink of a block's size - 1");
		EXPECT(sm_readlink(fs, a.ino, buf, sizeof(buf)), (long long)bs - 1, "readlink it");
		tap_check(!strcmp(buf, big), "long target matches");
		EXPECT(sm_unlink(fs, root, "big"), 0, "unlink it");
	}
	EXPECT(sm_unlink(fs, root, "fast"), 0, "unlink fast symlink");

	/* mknod */
	EXPECT(sm_mknod(fs, root, "fifo", S_IFIFO | 0600, 0, &user, &a), 0, "mknod fifo");
	tap_check(S_ISFIFO(a.mode), "fifo type");
	EXPECT(sm_mknod(fs, root, "cdev", S_IFCHR | 0600, makedev(4, 5), &user, &a), 0, "mknod chr 4:5");
	EXPECT(a.rdev, makedev(4, 5), "rdev 4:5");
	EXPECT(sm_mknod(fs, root, "bdev", S_IFBLK | 0600, makedev(300, 70000), &user, &a), 0,
	       "mknod blk 300:70000");
	EXPECT(sm_getattr(fs, a.ino, &b), 0, "getattr bdev");
	EXPECT(b.rdev, makedev(300, 70000), "rdev 300:70000 (new encoding)");
	EXPECT(sm_mknod(fs, root, "x", S_IFDIR | 0600, 0, &user, &a), -EINVAL, "mknod S_IFDIR -> EINVAL");

	/* setgid directory */
	struct sm_setattr sa;
	memset(&sa, 0, sizeof(sa));
	sa.valid = SM_SET_MODE | SM_SET_GID;
	sa.mode = 02775;
	sa.gid = 500;
	EXPECT(sm_mkdir(fs, root, "sg", 0775, &user, &a), 0, "mkdir sg");
	uint64_t sg = a.ino;
	EXPECT(sm_setattr(fs, sg, &root_who, &sa, &a), 0, "chmod g+s, chgrp 500");
	tap_check((a.mode & 07777) == 02775 && a.gid == 500, "sg mode %o gid %u", a.mode, a.gid);
	EXPECT(sm_mkdir(fs, sg, "sub", 0755, &user, &a), 0, "mkdir sg/sub");
	tap_check(a.gid == 500 && (a.mode & S_ISGID), "subdir inherits gid and S_ISGID (gid %u mode %o)",
	      a.gid, a.mode);
	EXPECT(sm_mknod(fs, sg, "file", S_IFREG | 0644, 0, &user, &a), 0, "mknod sg/file");
	tap_check(a.gid == 500 && !(a.mode & S_ISGID), "file inherits gid only");

	/* setattr: times with ns, chown clears suid */
	memset(&sa, 0, sizeof(sa));
	sa.valid = SM_SET_ATIME | SM_SET_MTIME;
	sa.atime = (struct timespec){ 1600000000, 123456789 };
	sa.mtime = (struct timespec){ 1700000000, 987654321 };
	EXPECT(sm_setattr(fs, f1, &user, &sa, &a), 0, "setattr atime/mtime");
	tap_check(a.atime.tv_sec == 1600000000 && a.atime.tv_nsec == 123456789 &&
	      a.mtime.tv_sec == 1700000000 && a.mtime.tv_nsec == 987654321,
	      "ns timestamps round-trip (%lld.%09ld %lld.%09ld)", (long long)a.atime.tv_sec,
	      a.atime.tv_nsec, (long long)a.mtime.tv_sec, a.mtime.tv_nsec);
	sa.valid = SM_SET_MODE;
	sa.mode = 06755;
	EXPECT(sm_setattr(fs, f1, &user, &sa, &a), 0, "chmod 6755");
	EXPECT(a.mode & 07777, 06755, "mode 6755");
	sa.valid = SM_SET_UID;
	sa.uid = 1001;
	EXPECT(sm_setattr(fs, f1, &root_who, &sa, &a), 0, "chown 1001");
	tap_check(a.uid == 1001 && (a.mode & 07777) == 0755, "chown clears suid/sgid (mode %o)", a.mode);
	sa.valid = SM_SET_SIZE;
	sa.size = 100000;
	EXPECT(sm_setattr(fs, f1, &user, &sa, &a), 0, "truncate up to 100000");
	EXPECT(a.size, 100000, "size 100000");
	sa.size = 3;
	EXPECT(sm_setattr(fs, f1, &user, &sa, &a), 0, "truncate down to 3");
	EXPECT(a.size, 3, "size 3");
	EXPECT(sm_setattr(fs, d1, &user, &sa, &a), -EISDIR, "truncate a dir -> EISDIR");

	/* flags */
	uint32_t fl = 0;
	EXPECT(sm_get_flags(fs, f1, &fl), 0, "get flags");
	EXPECT(sm_set_flags(fs, f1, &user, fl | FS_IMMUTABLE_FL_), -EPERM, "immutable by a user -> EPERM");
	EXPECT(sm_set_flags(fs, f1, &user, fl | FS_NODUMP_FL_), -EPERM, "set flags, not owner -> EPERM");
	EXPECT(sm_set_flags(fs, f1, &root_who, fl | FS_IMMUTABLE_FL_), 0, "immutable by root");
	EXPECT(sm_unlink(fs, d1, "f1"), -EPERM, "unlink immutable -> EPERM");
	sa.valid = SM_SET_MODE;
	sa.mode = 0644;
	EXPECT(sm_setattr(fs, f1, &root_who, &sa, &a), -EPERM, "chmod immutable -> EPERM");
	EXPECT(sm_open(fs, f1, O_WRONLY, &fh), -EPERM, "open immutable for write -> EPERM");
	EXPECT(sm_link(fs, f1, root, "imm", &a), -EPERM, "link immutable -> EPERM");
	EXPECT(sm_set_flags(fs, f1, &root_who, fl), 0, "clear immutable");
	EXPECT(sm_get_flags(fs, f1, &fl), 0, "get flags again");
	tap_check(!(fl & FS_IMMUTABLE_FL_), "immutable cleared");

	/* rmdir */
	EXPECT(sm_rmdir(fs, root, "d1"), -ENOTEMPTY, "rmdir non-empty -> ENOTEMPTY");
	EXPECT(sm_rmdir(fs, d1, "."), -EINVAL, "rmdir . -> EINVAL");
	EXPECT(sm_mkdir(fs, d1, "empty", 0755, &user, &a), 0, "mkdir d1/empty");
	EXPECT(nlink_of(fs, d1), 3, "d1 nlink 3");
	EXPECT(sm_rmdir(fs, d1, "empty"), 0, "rmdir d1/empty");
	EXPECT(nlink_of(fs, d1), 2, "d1 nlink 2");

	/* rename */
	EXPECT(sm_mkdir(fs, root, "d2", 0755, &user, &a), 0, "mkdir d2");
	uint64_t d2 = a.ino;
	EXPECT(sm_rename(fs, d1, "f1", d1, "f2", 0), 0, "rename same dir");
	EXPECT(lookup_ino(fs, d1, "f2"), f1, "f2 is f1");
	EXPECT(sm_lookup(fs, d1, "f1", &a), -ENOENT, "f1 gone");
	EXPECT(sm_rename(fs, d1, "f2", d2, "f3", 0), 0, "rename cross dir");
	EXPECT(lookup_ino(fs, d2, "f3"), f1, "d2/f3 is f1");
	EXPECT(sm_create(fs, d2, "g", 0644, O_RDWR, &user, &a, &fh), 0, "create d2/g");
	uint64_t g = a.ino;
	EXPECT(sm_release(fs, g, fh), 0, "release g");
	EXPECT(sm_rename(fs, d2, "f3", d2, "g", SM_RENAME_NOREPLACE), -EEXIST, "NOREPLACE -> EEXIST");
	EXPECT(sm_rename(fs, d2, "f3", d2, "zz", SM_RENAME_EXCHANGE), -ENOENT, "EXCHANGE missing -> ENOENT");
	EXPECT(sm_rename(fs, d2, "f3", d2, "g", SM_RENAME_EXCHANGE), 0, "EXCHANGE two files");
	tap_check(lookup_ino(fs, d2, "f3") == g && lookup_ino(fs, d2, "g") == f1, "files swapped");
	EXPECT(sm_rename(fs, d2, "f3", d2, "g", 0), 0, "rename over an existing file");
	EXPECT(lookup_ino(fs, d2, "g"), g, "g is the old f3");
	EXPECT(sm_getattr(fs, f1, &a), -ESTALE, "replaced target freed");

	/* directories: exchange across parents fixes ".." and link counts */
	EXPECT(sm_mkdir(fs, d1, "sub1", 0755, &user, &a), 0, "mkdir d1/sub1");
	uint64_t sub1 = a.ino;
	EXPECT(sm_rename(fs, d1, "sub1", d2, "g", SM_RENAME_EXCHANGE), 0, "EXCHANGE dir <-> file across dirs");
	EXPECT(lookup_ino(fs, d2, "g"), sub1, "d2/g is sub1");
	EXPECT(lookup_ino(fs, d1, "sub1"), g, "d1/sub1 is the file");
	EXPECT(lookup_ino(fs, sub1, ".."), d2, "sub1/.. is d2");
	EXPECT(nlink_of(fs, d1), 2, "d1 nlink 2 after exchange");
	EXPECT(nlink_of(fs, d2), 3, "d2 nlink 3 after exchange");
	EXPECT(sm_rename(fs, root, "d2", sub1, "x", 0), -EINVAL, "dir into its own subtree -> EINVAL");
	EXPECT(sm_rename(fs, d2, "g", d2, "g", 0), 0, "rename onto itself");
	EXPECT(sm_rename(fs, d1, "sub1", d2, "g", 0), -EISDIR, "file over dir -> EISDIR");
	EXPECT(sm_rename(fs, d2, "g", d1, "sub1", 0), -ENOTDIR, "dir over file -> ENOTDIR");
	EXPECT(sm_mkdir(fs, d1, "e", 0755, &user, &a), 0, "mkdir d1/e");
	uint64_t e = a.ino;
	EXPECT(sm_mkdir(fs, d2, "full", 0755, &user, &a), 0, "mkdir d2/full");
	EXPECT(sm_mknod(fs, a.ino, "x", S_IFREG | 0644, 0, &user, &b), 0, "mknod d2/full/x");
	EXPECT(sm_rename(fs, d1, "e", d2, "full", 0), -ENOTEMPTY, "dir over non-empty dir -> ENOTEMPTY");
	EXPECT(sm_rename(fs, d2, "g", d1, "e", 0), 0, "dir over empty dir (cross dir)");
	EXPECT(sm_getattr(fs, e, &a), -ESTALE, "replaced empty dir freed");
	EXPECT(lookup_ino(fs, sub1, ".."), d1, "moved dir's .. updated");
	EXPECT(nlink_of(fs, d1), 3, "d1 nlink 3");
	EXPECT(nlink_of(fs, d2), 3, "d2 nlink 3");

	/* plain moves of directories across parents, exchange of two dirs */
	EXPECT(sm_mkdir(fs, d2, "mv", 0755, &user, &a), 0, "mkdir d2/mv");
	uint64_t mv = a.ino;
	EXPECT(sm_rename(fs, d2, "mv", root, "mv2", 0), 0, "move a dir to the root");
	EXPECT(lookup_ino(fs, mv, ".."), root, "its .. is root");
	EXPECT(nlink_of(fs, d2), 3, "d2 nlink back to 3");
	EXPECT(nlink_of(fs, root), root_links + 4, "root nlink counts mv2");
	EXPECT(sm_rename(fs, root, "mv2", d1, "e", SM_RENAME_EXCHANGE), 0, "EXCHANGE two dirs");
	tap_check(lookup_ino(fs, mv, "..") == d1 && lookup_ino(fs, sub1, "..") == root,
	      "both .. entries swapped");
	EXPECT(sm_rename(fs, root, "mv2", d1, "e", SM_RENAME_EXCHANGE), 0, "and back");
	tap_check(lookup_ino(fs, mv, "..") == root && lookup_ino(fs, sub1, "..") == d1, "swapped back");
	EXPECT(sm_rename(fs, root, "mv2", d2, "mv", 0), 0, "move it back under d2");
	EXPECT(nlink_of(fs, root), root_links + 3, "root nlink");

	/* open: O_TRUNC, append-only */
	EXPECT(sm_create(fs, d2, "ap", 0644, O_RDWR, &user, &a, &fh), 0, "create d2/ap");
	uint64_t ap = a.ino;
	EXPECT(sm_write(fs, ap, fh, "abcdef", 6, 0), 6, "write 6");
	EXPECT(sm_release(fs, ap, fh), 0, "release ap");
	EXPECT(sm_open(fs, ap, O_WRONLY | O_TRUNC, &fh), 0, "open O_TRUNC");
	EXPECT(sm_getattr(fs, ap, &a), 0, "getattr ap");
	EXPECT(a.size, 0, "truncated by open");
	EXPECT(sm_write(fs, ap, fh, "abc", 3, 0), 3, "write 3");
	EXPECT(sm_release(fs, ap, fh), 0, "release ap");
	EXPECT(sm_get_flags(fs, ap, &fl), 0, "get flags ap");
	EXPECT(sm_set_flags(fs, ap, &root_who, fl | 0x20u), 0, "chattr +a");
	EXPECT(sm_open(fs, ap, O_WRONLY, &fh), -EPERM, "append-only, write without O_APPEND");
	EXPECT(sm_open(fs, ap, O_WRONLY | O_APPEND | O_TRUNC, &fh), -EPERM, "append-only, O_TRUNC");
	EXPECT(sm_open(fs, ap, O_WRONLY | O_APPEND, &fh), 0, "append-only, O_APPEND");
	EXPECT(sm_release(fs, ap, fh), 0, "release ap");
	sa.valid = SM_SET_SIZE;
	sa.size = 0;
	EXPECT(sm_setattr(fs, ap, &root_who, &sa, &a), -EPERM, "truncate append-only -> EPERM");
	sa.valid = SM_SET_MTIME_NOW | SM_SET_ATIME_NOW;
	EXPECT(sm_setattr(fs, ap, &root_who, &sa, &a), 0, "touch append-only is allowed");
	EXPECT(sm_unlink(fs, d2, "ap"), -EPERM, "unlink append-only -> EPERM");
	EXPECT(sm_set_flags(fs, ap, &root_who, fl), 0, "chattr -a");
	EXPECT(sm_open(fs, d2, O_RDWR, &fh), -EISDIR, "open dir for write -> EISDIR");

	/* readdir */
	struct listing l;
	memset(&l, 0, sizeof(l));
	EXPECT(sm_opendir(fs, d1, &fh), 0, "opendir d1");
	EXPECT(sm_readdir(fs, d1, fh, 0, list_fn, &l), 0, "readdir d1");
	tap_check(l.n == 4 && find_name(&l, ".") >= 0 && find_name(&l, "..") >= 0 &&
	      find_name(&l, "sub1") >= 0 && find_name(&l, "e") >= 0, "d1 lists . .. sub1 e (%d)", l.n);
	int i = find_name(&l, "e");
	tap_check(i >= 0 && l.inos[i] == sub1 && l.types[i] == S_IFDIR, "entry e is sub1, a dir");
	i = find_name(&l, "..");
	tap_check(i >= 0 && l.inos[i] == root, ".. is root");
	memset(&l, 0, sizeof(l));
	l.stop_after = 2;
	EXPECT(sm_readdir(fs, d1, fh, 0, list_fn, &l), 0, "readdir stops after 2");
	struct listing l2;
	memset(&l2, 0, sizeof(l2));
	EXPECT(sm_readdir(fs, d1, fh, 2, list_fn, &l2), 0, "readdir resumes at cookie 2");
	EXPECT(l2.n, 2, "2 more entries");
	EXPECT(sm_mknod(fs, d1, "late", S_IFREG | 0644, 0, &user, &a), 0, "mknod d1/late");
	memset(&l, 0, sizeof(l));
	EXPECT(sm_readdir(fs, d1, fh, 0, list_fn, &l), 0, "readdir from 0 again");
	tap_check(l.n == 5 && find_name(&l, "late") >= 0, "a rewind sees the new entry (%d)", l.n);
	EXPECT(sm_releasedir(fs, d1, fh), 0, "releasedir");
	EXPECT(sm_unlink(fs, d1, "late"), 0, "unlink d1/late");
	/* relatime: an atime older than a day is brought up to date */
	sa.valid = SM_SET_ATIME;
	sa.atime = (struct timespec){ 1000000000, 0 };
	EXPECT(sm_setattr(fs, d1, &user, &sa, &a), 0, "old atime on d1");
	EXPECT(sm_opendir(fs, d1, &fh), 0, "opendir d1");
	memset(&l, 0, sizeof(l));
	EXPECT(sm_readdir(fs, d1, fh, 0, list_fn, &l), 0, "readdir d1");
	EXPECT(sm_releasedir(fs, d1, fh), 0, "releasedir");
	EXPECT(sm_getattr(fs, d1, &a), 0, "getattr d1");
	tap_check(a.atime.tv_sec > 1000000000, "readdir updated atime (relatime)");
	EXPECT(sm_opendir(fs, g, &fh), -ENOTDIR, "opendir a file -> ENOTDIR");

	/* a directory that grows over several blocks */
	EXPECT(sm_mkdir(fs, root, "many", 0755, &user, &a), 0, "mkdir many");
	uint64_t many = a.ino;
	int bad = 0;
	for (int k = 0; k < 300; k++) {
		char nm[80];
		snprintf(nm, sizeof(nm), "entry-with-a-fairly-long-name-number-%04d", k);
		int r;
		if (k % 3 == 0)
			r = sm_mkdir(fs, many, nm, 0755, &user, &a);
		else if (k % 3 == 1)
			r = sm_symlink(fs, many, nm, "target", &user, &a);
		else
			r = sm_mknod(fs, many, nm, S_IFREG | 0644, 0, &user, &a);
		if (r)
			bad++;
	}
	EXPECT(bad, 0, "300 entries created");
	EXPECT(nlink_of(fs, many), 102, "many nlink 2 + 100 subdirs");
	memset(&l, 0, sizeof(l));
	EXPECT(sm_opendir(fs, many, &fh), 0, "opendir many");
	EXPECT(sm_readdir(fs, many, fh, 0, list_fn, &l), 0, "readdir many");
	EXPECT(l.n, 302, "302 entries listed");
	EXPECT(sm_releasedir(fs, many, fh), 0, "releasedir many");
	bad = 0;
	for (int k = 0; k < 300; k += 2) {
		char nm[80];
		snprintf(nm, sizeof(nm), "entry-with-a-fairly-long-name-number-%04d", k);
		int r = (k % 3 == 0) ? sm_rmdir(fs, many, nm) : sm_unlink(fs, many, nm);
		if (r)
			bad++;
	}
	EXPECT(bad, 0, "half of them removed");

	/* unlink of an open file: data stays until release */
	EXPECT(sm_create(fs, root, "open", 0644, O_RDWR, &user, &a, &fh), 0, "create /open");
	uint64_t o = a.ino;
	char data[8192];
	memset(data, 'd', sizeof(data));
	EXPECT(sm_write(fs, o, fh, data, sizeof(data), 0), (long long)sizeof(data), "write 8k");
	EXPECT(sm_unlink(fs, root, "open"), 0, "unlink while open");
	EXPECT(sm_getattr(fs, o, &a), 0, "getattr after unlink");
	EXPECT(a.nlink, 0, "nlink 0");
	EXPECT(sm_read(fs, o, fh, buf, 4096, 4096), 4096, "read after unlink");
	EXPECT(sm_link(fs, o, root, "back", &a), -ENOENT, "link an unlinked file -> ENOENT");
	EXPECT(sm_release(fs, o, fh), 0, "last release frees it");
	EXPECT(sm_getattr(fs, o, &a), -ESTALE, "freed inode is stale");

	/* an open, unlinked file at close goes too */
	EXPECT(sm_create(fs, root, "leak", 0644, O_RDWR, &user, &a, &fh), 0, "create /leak");
	uint64_t lk = a.ino;
	EXPECT(sm_write(fs, lk, fh, data, sizeof(data), 0), (long long)sizeof(data), "write 8k");
	EXPECT(sm_unlink(fs, root, "leak"), 0, "unlink /leak while open");
	/* A crash here: the copy must come up clean after orphan processing. */
	EXPECT(sm_sync(fs), 0, "sync");
	char crash[600];
	snprintf(crash, sizeof(crash), "%s/%s-crash.img", tmpdir, what);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", img, crash);
	EXPECT(run(cmd), 0, "snapshot the image with an orphan on it");
	snprintf(cmd, sizeof(cmd),
		 "dumpe2fs -h '%s' 2>/dev/null | sed -n 's/^First orphan inode: *//p'", crash);
	EXPECT(cmd_number(cmd), lk, "the snapshot's orphan list starts at the open file");
	close_fs(fs, fd);
	fsck_clean(img);

	/* the crashed copy: orphan list processed at a rw mount */
	fs = open_fs(crash, 0, &fd);
	if (fs) {
		EXPECT(sm_getattr(fs, lk, &a), -ESTALE, "orphan freed at mount");
		close_fs(fs, fd);
		fsck_clean(crash);
		snprintf(cmd, sizeof(cmd),
			 "dumpe2fs -h '%s' 2>/dev/null | grep -c '^First orphan inode'", crash);
		EXPECT(cmd_number(cmd), 0, "orphan list empty after the mount");
		snprintf(cmd, sizeof(cmd), "debugfs -R 'testi <%llu>' '%s' 2>/dev/null | grep -c 'is not in use'",
			 (unsigned long long)lk, crash);
		EXPECT(cmd_number(cmd), 1, "orphan inode free in the bitmap");
	}

	/* htree: let e2fsck index the big directory, then change it */
	snprintf(cmd, sizeof(cmd), "e2fsck -fyD '%s' >/dev/null 2>&1", img);
	run(cmd);
	fsck_clean(img);
	fs = open_fs(img, 0, &fd);
	if (fs) {
		int bad2 = 0;
		for (int k = 0; k < 400; k++) {
			char nm[80], nm2[80];
			snprintf(nm, sizeof(nm), "hashed-entry-%04d-with-a-longer-name-to-fill-blocks", k);
			snprintf(nm2, sizeof(nm2), "renamed-%04d", k);
			if (sm_mknod(fs, many, nm, S_IFREG | 0644, 0, &user, &a))
				bad2++;
			if (k % 2 && sm_rename(fs, many, nm, many, nm2, 0))
				bad2++;
			if (k % 5 == 0 && sm_unlink(fs, many, k % 2 ? nm2 : nm))
				bad2++;
		}
		EXPECT(bad2, 0, "400 creates, 200 renames, 80 unlinks in an indexed dir");
		EXPECT(lookup_ino(fs, many, "renamed-0001") != 0, 1, "lookup in the indexed dir");
		close_fs(fs, fd);
		fsck_clean(img);
	}

	/* read-only mount refuses writes */
	fs = open_fs(img, 1, &fd);
	if (fs) {
		EXPECT(sm_mkdir(fs, root, "ro", 0755, &user, &a), -EROFS, "mkdir on ro -> EROFS");
		EXPECT(sm_unlink(fs, d2, "full"), -EROFS, "unlink on ro -> EROFS");
		EXPECT(sm_lookup(fs, root, "d1", &a), 0, "lookup on ro");
		EXPECT(sm_open(fs, sub1, O_RDONLY, &fh), 0, "open dir rdonly on ro");
		EXPECT(sm_release(fs, sub1, fh), 0, "release on ro");
		close_fs(fs, fd);
	}
	fsck_clean(img);
}

/* Values in inodes of their own (ea_inode) go with the file that held them. */
static void test_ea_inode(void)
{
	char img[512];
	struct sm_attr a;
	uint64_t fh;
	int fd;

	tap_label = "ea_inode";
	if (!make_image("mkfs.ext4 -b 4096 -O ea_inode", img, sizeof(img), "ea"))
		return;
	struct sm_fs *fs = open_fs(img, 0, &fd);
	if (!fs)
		return;
	uint64_t root = sm_backend_root(fs);
	static char big[20000];
	memset(big, 'v', sizeof(big));
	EXPECT(sm_create(fs, root, "a", 0644, O_RDWR, &user, &a, &fh), 0, "create a");
	uint64_t ino_a = a.ino;
	EXPECT(sm_setxattr(fs, ino_a, "user.big", big, sizeof(big), 0), 0, "20000-byte xattr");
	EXPECT(sm_setxattr(fs, ino_a, "user.small", "x", 1, 0), 0, "small xattr");
	EXPECT(sm_release(fs, ino_a, fh), 0, "release a");
	EXPECT(sm_unlink(fs, root, "a"), 0, "unlink a");
	EXPECT(sm_create(fs, root, "b", 0644, O_RDWR, &user, &a, &fh), 0, "create b");
	uint64_t ino_b = a.ino;
	EXPECT(sm_setxattr(fs, ino_b, "user.big", big, sizeof(big), 0), 0, "20000-byte xattr on b");
	EXPECT(sm_unlink(fs, root, "b"), 0, "unlink b while open");
	EXPECT(sm_release(fs, ino_b, fh), 0, "release b");
	close_fs(fs, fd);
	fsck_clean(img);
}

int main(void)
{
	if (!scratch_begin("namei"))
		return 0;
	test_image("mkfs.ext4 -b 4096", "ext4", true);
	test_image("mkfs.ext4 -b 4096 -O inline_data", "ext4-inline", true);
	test_image("mkfs.ext4 -b 1024 -O ^dir_index", "ext4-1k", false);
	test_image("mkfs.ext2 -b 1024", "ext2", false);
	test_ea_inode();
	return scratch_end();
}
