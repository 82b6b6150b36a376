/* POSIX ACLs of the ext4 backend, through the public sm_* API: the umask
 * and default-ACL inheritance of new inodes (the kernel's posix_acl_create),
 * chmod of an inode with an access ACL (posix_acl_chmod), and hostile
 * default ACLs written raw with debugfs.  Images are made by mkfs (ext4 with
 * metadata_csum, 128-byte inodes, inline_data); every case ends with
 * `e2fsck -fn`, which must find the image clean.  TAP output. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safemount/backend.h"
#include "scratch.h"
#include "tap.h"




#define EXPECT_STR(got, want, what) do { \
	const char *g_ = (got), *w_ = (want); \
	tap_check(strcmp(g_, w_) == 0, "%s (got '%s', want '%s')", what, g_, w_); \
} while (0)





/* ACLs in the Linux xattr format, written and read as short text:
 * "u::rwx,u:1001:rwx,g::r-x,m::rwx,o::---". */
enum { T_UOBJ = 0x01, T_USER = 0x02, T_GOBJ = 0x04, T_GROUP = 0x08, T_MASK = 0x10,
       T_OTHER = 0x20 };

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { put16(p, v & 0xffff); put16(p + 2, v >> 16); }
static unsigned get16(const unsigned char *p) { return p[0] | p[1] << 8; }
static uint32_t get32(const unsigned char *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }

/* Parse text into buf (xattr format); returns the length or 0. */
static size_t acl_make(const char *text, unsigned char *buf, size_t size)
{
	char copy[4096], *save = NULL;
	size_t len = 4;
	if ((size_t)snprintf(copy, sizeof(copy), "%s", text) >= sizeof(copy))
		return 0;
	put32(buf, 2);
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char kind = tok[0], *id = strchr(tok, ':'), *perm;
		if (!id || len + 8 > size)
			return 0;
		perm = strchr(id + 1, ':');
		if (!perm || strlen(perm + 1) != 3)
			return 0;
		bool named = perm != id + 1;
		unsigned tag = kind == 'u' ? (named ? T_USER : T_UOBJ) :
			       kind == 'g' ? (named ? T_GROUP : T_GOBJ) :
			       kind == 'm' ? T_MASK : T_OTHER;
		unsigned p = (perm[1] == 'r' ? 4 : 0) | (perm[2] == 'w' ? 2 : 0) |
			     (perm[3] == 'x' ? 1 : 0);
		put16(buf + len, tag);
		put16(buf + len + 2, p);
		put32(buf + len + 4, named ? (uint32_t)strtoul(id + 1, NULL, 10) : 0xffffffffu);
		len += 8;
	}
	return len;
}

/* The ACL `name` of ino as text, or "ERR<errno>". */
static const char *acl_text(struct sm_fs *fs, uint64_t ino, const char *name)
{
	static char out[512];
	unsigned char buf[1024];
	ssize_t n = sm_getxattr(fs, ino, name, buf, sizeof(buf));
	size_t used = 0;

	if (n < 0) {
		snprintf(out, sizeof(out), "ERR%d", (int)-n);
		return out;
	}
	out[0] = '\0';
	if (n < 4 || (n - 4) % 8 || get32(buf) != 2)
		return "BADFORMAT";
	for (ssize_t off = 4; off < n; off += 8) {
		unsigned tag = get16(buf + off), p = get16(buf + off + 2);
		char id[16] = "";
		if (tag == T_USER || tag == T_GROUP)
			snprintf(id, sizeof(id), "%u", get32(buf + off + 4));
		used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%c:%s:%c%c%c",
			used ? "," : "",
			tag & (T_UOBJ | T_USER) ? 'u' : tag & (T_GOBJ | T_GROUP) ? 'g' :
			tag == T_MASK ? 'm' : 'o', id,
			p & 4 ? 'r' : '-', p & 2 ? 'w' : '-', p & 1 ? 'x' : '-');
		if (used >= sizeof(out))
			return "TOOLONG";
	}
	return out;
}

static int set_acl(struct sm_fs *fs, uint64_t ino, const char *name, const char *text)
{
	unsigned char buf[1024];
	size_t len = acl_make(text, buf, sizeof(buf));
	if (len == 0)
		return -999;
	return sm_setxattr(fs, ino, name, buf, len, 0);
}

#define ACL_A "system.posix_acl_access"
#define ACL_D "system.posix_acl_default"

static uint32_t mode_of(struct sm_fs *fs, uint64_t ino)
{
	struct sm_attr a;
	return sm_getattr(fs, ino, &a) == 0 ? a.mode : 0;
}


static uint32_t nlink_of(struct sm_fs *fs, uint64_t ino)
{
	struct sm_attr a;
	return sm_getattr(fs, ino, &a) == 0 ? a.nlink : 0;
}

/* A default ACL of `users` named users. */
static size_t big_acl(int users, unsigned char *buf, size_t size)
{
	char text[4096] = "u::rwx";
	size_t used = strlen(text);
	for (int i = 0; i < users && used < sizeof(text); i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, ",u:%d:r-x", 2000 + i);
	if (used < sizeof(text))
		snprintf(text + used, sizeof(text) - used, ",g::r-x,m::rwx,o::---");
	return acl_make(text, buf, size);
}

static void test_inherit(const char *mkfs, const char *what, bool small_blocks)
{
	struct sm_caller u = { 1000, 1000, 1, 022 };
	struct sm_attr a;
	char img[512];
	uint64_t fh;
	int fd;

	tap_label = what;
	if (!make_image(mkfs, img, sizeof(img), what))
		return;
	struct sm_fs *fs = open_fs(img, 0, &fd);
	if (!fs)
		return;
	uint64_t root = sm_backend_root(fs);

	/* No default ACL: the umask applies, and no ACL appears. */
	EXPECT(sm_create(fs, root, "plain", 0666, O_RDWR, &u, &a, &fh), 0, "create, umask 022");
	EXPECT(a.mode, S_IFREG | 0644, "mode 0666 & ~022");
	EXPECT(sm_release(fs, a.ino, fh), 0, "release");
	EXPECT_STR(acl_text(fs, a.ino, ACL_A), "ERR61", "no access ACL without a default");
	u.umask = 027;
	EXPECT(sm_mkdir(fs, root, "pd", 0777, &u, &a), 0, "mkdir, umask 027");
	EXPECT(a.mode, S_IFDIR | 0750, "mode 0777 & ~027");
	EXPECT_STR(acl_text(fs, a.ino, ACL_D), "ERR61", "no default ACL without a parent's");
	u.umask = 077;
	EXPECT(sm_mknod(fs, root, "pfifo", S_IFIFO | 0666, 0, &u, &a), 0, "mknod, umask 077");
	EXPECT(a.mode, S_IFIFO | 0600, "mode 0666 & ~077");
	u.umask = 0;
	EXPECT(sm_mknod(fs, root, "pfifo0", S_IFIFO | 0666, 0, &u, &a), 0, "mknod, umask 0");
	EXPECT(a.mode, S_IFIFO | 0666, "umask 0 keeps the mode");
	u.umask = 022;
	EXPECT(sm_symlink(fs, root, "psl", "x", &u, &a), 0, "symlink");
	EXPECT(a.mode, S_IFLNK | 0777, "symlinks are 0777 whatever the umask");

	/* A default ACL with a named user and a mask. */
	EXPECT(sm_mkdir(fs, root, "dd", 0755, &u, &a), 0, "mkdir dd");
	uint64_t dd = a.ino;
	EXPECT(set_acl(fs, dd, ACL_D, "u::rwx,u:1001:rwx,g::r-x,m::rwx,o::---"), 0,
	       "set default ACL on dd");
	u.umask = 077;   /* ignored from here: the default ACL rules */
	EXPECT(sm_create(fs, dd, "f", 0666, O_RDWR, &u, &a, &fh), 0, "create dd/f 0666");
	uint64_t f = a.ino;
	EXPECT(a.mode, S_IFREG | 0660, "mode from the masked default ACL (umask ignored)");
	EXPECT(sm_release(fs, f, fh), 0, "release");
	EXPECT_STR(acl_text(fs, f, ACL_A), "u::rw-,u:1001:rwx,g::r-x,m::rw-,o::---",
		   "inherited access ACL, mask & group bits");
	EXPECT_STR(acl_text(fs, f, ACL_D), "ERR61", "files get no default ACL");
	EXPECT(mode_of(fs, f), S_IFREG | 0660, "getattr agrees");

	EXPECT(sm_mkdir(fs, dd, "sub", 0777, &u, &a), 0, "mkdir dd/sub 0777");
	uint64_t sub = a.ino;
	EXPECT(a.mode, S_IFDIR | 0770, "dir mode from the default ACL");
	EXPECT_STR(acl_text(fs, sub, ACL_A), "u::rwx,u:1001:rwx,g::r-x,m::rwx,o::---",
		   "subdir access ACL");
	EXPECT_STR(acl_text(fs, sub, ACL_D), "u::rwx,u:1001:rwx,g::r-x,m::rwx,o::---",
		   "subdir inherits the default ACL");
	EXPECT(sm_mkdir(fs, sub, "subsub", 0700, &u, &a), 0, "mkdir dd/sub/subsub 0700");
	EXPECT(a.mode, S_IFDIR | 0700, "a second generation inherits too");
	EXPECT_STR(acl_text(fs, a.ino, ACL_A), "u::rwx,u:1001:rwx,g::r-x,m::---,o::---",
		   "mask --- from mode 0700");

	EXPECT(sm_mknod(fs, dd, "fifo", S_IFIFO | 0644, 0, &u, &a), 0, "mknod dd/fifo 0644");
	EXPECT(a.mode, S_IFIFO | 0640, "fifo mode");
	EXPECT_STR(acl_text(fs, a.ino, ACL_A), "u::rw-,u:1001:rwx,g::r-x,m::r--,o::---",
		   "fifo access ACL");
	EXPECT(sm_symlink(fs, dd, "sl", "f", &u, &a), 0, "symlink in dd");
	EXPECT(a.mode, S_IFLNK | 0777, "symlink mode ignores the default ACL");
	EXPECT(sm_getxattr(fs, a.ino, ACL_A, NULL, 0), -EOPNOTSUPP, "symlink has no ACL");
	EXPECT(sm_create(fs, dd, "suid", 04777, O_RDWR, &u, &a, &fh), 0, "create 04777 in dd");
	EXPECT(a.mode, S_IFREG | 04770, "special bits pass through the masking");
	EXPECT(sm_release(fs, a.ino, fh), 0, "release");

	/* A default ACL of three entries: a plain mode, no access ACL. */
	EXPECT(sm_mkdir(fs, root, "d3", 0755, &u, &a), 0, "mkdir d3");
	uint64_t d3 = a.ino;
	EXPECT(set_acl(fs, d3, ACL_D, "u::rwx,g::r-x,o::r--"), 0, "set 3-entry default ACL");
	EXPECT(sm_create(fs, d3, "f", 0666, O_RDWR, &u, &a, &fh), 0, "create d3/f 0666");
	EXPECT(a.mode, S_IFREG | 0644, "mode: group from GROUP_OBJ, umask ignored");
	EXPECT(sm_release(fs, a.ino, fh), 0, "release");
	EXPECT_STR(acl_text(fs, a.ino, ACL_A), "ERR61", "equivalent ACL is not stored");
	EXPECT(sm_mkdir(fs, d3, "s", 0777, &u, &a), 0, "mkdir d3/s");
	EXPECT(a.mode, S_IFDIR | 0754, "dir mode from 3-entry default");
	EXPECT_STR(acl_text(fs, a.ino, ACL_A), "ERR61", "no access ACL on d3/s");
	EXPECT_STR(acl_text(fs, a.ino, ACL_D), "u::rwx,g::r-x,o::r--", "default copied to d3/s");

	/* A setgid directory with a default ACL: both apply. */
	struct sm_setattr sa = { .valid = SM_SET_MODE, .mode = S_IFDIR | 02755 };
	EXPECT(sm_setattr(fs, dd, &u, &sa, &a), 0, "chmod dd 02755");
	EXPECT_STR(acl_text(fs, dd, ACL_D), "u::rwx,u:1001:rwx,g::r-x,m::rwx,o::---",
		   "chmod leaves the default ACL alone");
	EXPECT(sm_mkdir(fs, dd, "sg", 0777, &u, &a), 0, "mkdir in setgid dd");
	EXPECT(a.mode, S_IFDIR | 02770, "setgid inherited with the ACL mode");

	/* chmod of an inode with an access ACL (posix_acl_chmod). */
	sa.mode = S_IFREG | 0604;
	EXPECT(sm_setattr(fs, f, &u, &sa, &a), 0, "chmod dd/f 0604");
	EXPECT(a.mode, S_IFREG | 0604, "mode after chmod");
	EXPECT_STR(acl_text(fs, f, ACL_A), "u::rw-,u:1001:rwx,g::r-x,m::---,o::r--",
		   "chmod sets owner, mask and other entries");
	sa.mode = S_IFREG | 0775;
	EXPECT(sm_setattr(fs, f, &u, &sa, &a), 0, "chmod dd/f 0775");
	EXPECT_STR(acl_text(fs, f, ACL_A), "u::rwx,u:1001:rwx,g::r-x,m::rwx,o::r-x",
		   "mask follows the group bits, GROUP_OBJ stays");
	EXPECT(sm_setxattr(fs, f, ACL_A, NULL, 0, 0), 0, "remove f's access ACL");
	sa.mode = S_IFREG | 0640;
	EXPECT(sm_setattr(fs, f, &u, &sa, &a), 0, "chmod without an ACL");
	EXPECT_STR(acl_text(fs, f, ACL_A), "ERR61", "chmod creates no ACL");
	EXPECT(a.mode, S_IFREG | 0640, "plain chmod");
	EXPECT(set_acl(fs, f, ACL_A, "u::rw-,g::r--,g:1002:r--,m::r--,o::---"), 0, "set access ACL");
	EXPECT(sm_setattr(fs, f, &u, &sa, &a), 0, "chmod 0640 with ACL");
	EXPECT_STR(acl_text(fs, f, ACL_A), "u::rw-,g::r--,g:1002:r--,m::r--,o::---",
		   "same bits, same ACL");

	/* Many named entries still fit (both in one 1 KiB xattr block). */
	EXPECT(sm_mkdir(fs, root, "many", 0755, &u, &a), 0, "mkdir many");
	uint64_t many = a.ino;
	unsigned char bigbuf[2048];
	size_t biglen = big_acl(40, bigbuf, sizeof(bigbuf));
	EXPECT(sm_setxattr(fs, many, ACL_D, bigbuf, biglen, 0), 0, "set a 44-entry default ACL");
	EXPECT(sm_mkdir(fs, many, "child", 0777, &u, &a), 0, "mkdir child of many");
	uint64_t child = a.ino;
	EXPECT(sm_getxattr(fs, child, ACL_D, NULL, 0), (ssize_t)biglen, "child default ACL size");
	EXPECT(sm_getxattr(fs, child, ACL_A, NULL, 0), (ssize_t)biglen, "child access ACL size");
	EXPECT(sm_create(fs, many, "cf", 0600, O_RDWR, &u, &a, &fh), 0, "create in many");
	EXPECT(a.mode, S_IFREG | 0600, "mode 0600 masks everything");
	tap_check(a.blocks > 0, "the attribute block is counted (%llu)", (unsigned long long)a.blocks);
	EXPECT(sm_release(fs, a.ino, fh), 0, "release");

	if (small_blocks) {
		/* A new directory whose two ACLs do not fit in a 1 KiB block:
		 * ENOSPC, as in the kernel, and the directory is taken back. */
		EXPECT(sm_mkdir(fs, root, "huge", 0755, &u, &a), 0, "mkdir huge");
		uint64_t huge = a.ino;
		biglen = big_acl(100, bigbuf, sizeof(bigbuf));
		EXPECT(sm_setxattr(fs, huge, ACL_D, bigbuf, biglen, 0), 0,
		       "set a 104-entry default ACL");
		uint32_t links = nlink_of(fs, huge);
		EXPECT(sm_mkdir(fs, huge, "sub", 0777, &u, &a), -ENOSPC, "mkdir: ACLs do not fit");
		EXPECT(sm_lookup(fs, huge, "sub", &a), -ENOENT, "the directory was taken back");
		EXPECT(nlink_of(fs, huge), links, "parent link count unchanged");
		EXPECT(sm_create(fs, huge, "f", 0640, O_RDWR, &u, &a, &fh), 0,
		       "a file needs only the access ACL");
		EXPECT(sm_release(fs, a.ino, fh), 0, "release");
		EXPECT(sm_mkdir(fs, huge, "sub", 0777, &u, &a), -ENOSPC, "mkdir again");
	}

	close_fs(fs, fd);
	fsck_clean(img);

	/* Everything survives a remount. */
	fs = open_fs(img, 0, &fd);
	if (!fs)
		return;
	EXPECT_STR(acl_text(fs, sub, ACL_D), "u::rwx,u:1001:rwx,g::r-x,m::rwx,o::---",
		   "default ACL after remount");
	EXPECT(mode_of(fs, sub), S_IFDIR | 0770, "mode after remount");
	EXPECT(sm_unlink(fs, many, "cf"), 0, "unlink many/cf");
	EXPECT(sm_rmdir(fs, many, "child"), 0, "rmdir many/child");
	close_fs(fs, fd);
	fsck_clean(img);
}

/* Write a raw (on-disk format) ACL `name` on path with debugfs. */
static bool debugfs_raw_acl(const char *img, const char *path, const char *name,
			    const unsigned char *val, size_t len)
{
	char vfile[600], cmd[2048];
	snprintf(vfile, sizeof(vfile), "%s/acl.bin", tmpdir);
	FILE *fp = fopen(vfile, "wb");
	if (!fp || fwrite(val, 1, len, fp) != len) {
		if (fp)
			fclose(fp);
		return false;
	}
	fclose(fp);
	snprintf(cmd, sizeof(cmd),
		 "debugfs -w -R 'ea_set -f %s -r %s %s' '%s' >/dev/null 2>&1",
		 vfile, path, name, img);
	return run(cmd) == 0;
}

/* Hostile default ACLs: creation in the directory fails with EUCLEAN and
 * leaves nothing behind; a valid one written raw works. */
static void test_hostile(void)
{
	const struct sm_caller u = { 1000, 1000, 1, 022 };
	struct sm_attr a;
	char img[512];
	uint64_t fh;
	int fd;

	tap_label = "hostile";
	if (run("command -v debugfs >/dev/null") != 0) {
		tap_check(1, "# SKIP debugfs not installed");
		return;
	}
	if (!make_image("mkfs.ext4 -b 4096", img, sizeof(img), "hostile"))
		return;
	struct sm_fs *fs = open_fs(img, 0, &fd);
	if (!fs)
		return;
	uint64_t root = sm_backend_root(fs);
	static const char *dirs[] = { "trunc", "badtag", "order", "perm", "nomask", "empty",
				      "good" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		EXPECT(sm_mkdir(fs, root, dirs[i], 0777, &u, &a), 0, "mkdir");
	EXPECT(sm_mknod(fs, root, "eq", S_IFREG | 0644, 0, &u, &a), 0, "mknod eq");
	EXPECT(sm_mknod(fs, root, "bad", S_IFREG | 0644, 0, &u, &a), 0, "mknod bad");
	close_fs(fs, fd);

	/* On-disk format: version 1, then 4-byte entries (8 with an id). */
	static const unsigned char trunc[] = { 1, 0, 0, 0, 1, 0, 7, 0, 2, 0, 7, 0, 0xe9 };
	static const unsigned char badtag[] = { 1, 0, 0, 0, 1, 0, 7, 0, 0x40, 0, 7, 0,
						0x20, 0, 0, 0 };
	static const unsigned char order[] = { 1, 0, 0, 0, 0x20, 0, 7, 0, 4, 0, 7, 0,
					       1, 0, 7, 0 };
	static const unsigned char perm[] = { 1, 0, 0, 0, 1, 0, 0xff, 0xff, 4, 0, 7, 0,
					      0x20, 0, 7, 0 };
	static const unsigned char nomask[] = { 1, 0, 0, 0, 1, 0, 7, 0, 2, 0, 7, 0, 0xe9, 3, 0, 0,
						4, 0, 5, 0, 0x20, 0, 0, 0 };
	static const unsigned char empty[] = { 1, 0, 0, 0 };
	static const unsigned char good[] = { 1, 0, 0, 0, 1, 0, 7, 0, 2, 0, 7, 0, 0xe9, 3, 0, 0,
					      4, 0, 5, 0, 0x10, 0, 7, 0, 0x20, 0, 0, 0 };
	char path[64];
#define RAW(name) do { \
	snprintf(path, sizeof(path), "/%s", #name); \
	tap_check(debugfs_raw_acl(img, path, ACL_D, name, sizeof(name)), "debugfs ea_set %s", #name); \
} while (0)
	RAW(trunc);
	RAW(badtag);
	RAW(order);
	RAW(perm);
	RAW(nomask);
	RAW(empty);
	RAW(good);
#undef RAW
	/* Access ACLs the kernel would not have stored: a plain-mode one, and
	 * one with a bad tag. */
	static const unsigned char eq[] = { 1, 0, 0, 0, 1, 0, 6, 0, 4, 0, 4, 0, 0x20, 0, 4, 0 };
	tap_check(debugfs_raw_acl(img, "/eq", ACL_A, eq, sizeof(eq)), "debugfs ea_set eq");
	tap_check(debugfs_raw_acl(img, "/bad", ACL_A, badtag, sizeof(badtag)), "debugfs ea_set bad");

	fs = open_fs(img, 0, &fd);
	if (!fs)
		return;
	for (size_t i = 0; i < 5; i++) {
		uint64_t d = 0;
		char what[96];
		if (sm_lookup(fs, root, dirs[i], &a) == 0)
			d = a.ino;
		snprintf(what, sizeof(what), "create under %s default ACL -> EUCLEAN", dirs[i]);
		EXPECT(sm_create(fs, d, "f", 0666, O_RDWR, &u, &a, &fh), -EUCLEAN, what);
		snprintf(what, sizeof(what), "mkdir under %s default ACL -> EUCLEAN", dirs[i]);
		EXPECT(sm_mkdir(fs, d, "s", 0777, &u, &a), -EUCLEAN, what);
		snprintf(what, sizeof(what), "mknod under %s default ACL -> EUCLEAN", dirs[i]);
		EXPECT(sm_mknod(fs, d, "n", S_IFIFO | 0666, 0, &u, &a), -EUCLEAN, what);
		EXPECT(sm_lookup(fs, d, "f", &a), -ENOENT, "nothing left behind");
		EXPECT(sm_lookup(fs, d, "s", &a), -ENOENT, "no directory left behind");
		EXPECT(sm_symlink(fs, d, "sl", "x", &u, &a), 0, "symlinks do not read the ACL");
	}
	EXPECT(sm_lookup(fs, root, "empty", &a), 0, "lookup empty");
	uint64_t e = a.ino;
	EXPECT(sm_create(fs, e, "f", 0666, O_RDWR, &u, &a, &fh), 0, "empty default ACL is none");
	EXPECT(a.mode, S_IFREG | 0644, "umask applies under an empty default ACL");
	EXPECT(sm_release(fs, a.ino, fh), 0, "release");
	EXPECT(sm_lookup(fs, root, "good", &a), 0, "lookup good");
	uint64_t g = a.ino;
	EXPECT(sm_mkdir(fs, g, "s", 0750, &u, &a), 0, "mkdir under a raw valid default ACL");
	EXPECT(a.mode, S_IFDIR | 0750, "mode");
	EXPECT_STR(acl_text(fs, a.ino, ACL_A), "u::rwx,u:1001:rwx,g::r-x,m::r-x,o::---",
		   "access ACL from raw default");

	struct sm_setattr sa = { .valid = SM_SET_MODE, .mode = S_IFREG | 0600 };
	EXPECT(sm_lookup(fs, root, "eq", &a), 0, "lookup eq");
	uint64_t eqi = a.ino;
	EXPECT_STR(acl_text(fs, eqi, ACL_A), "u::rw-,g::r--,o::r--", "raw plain-mode ACL");
	EXPECT(sm_setattr(fs, eqi, &u, &sa, &a), 0, "chmod eq 0600");
	EXPECT_STR(acl_text(fs, eqi, ACL_A), "ERR61", "chmod drops an ACL the mode says all of");
	EXPECT(sm_lookup(fs, root, "bad", &a), 0, "lookup bad");
	EXPECT(sm_setattr(fs, a.ino, &u, &sa, &a), -EUCLEAN, "chmod with a corrupt access ACL");
	EXPECT(mode_of(fs, eqi), S_IFREG | 0600, "mode of eq");
	close_fs(fs, fd);
	fsck_clean(img);
}

int main(void)
{
	if (!scratch_begin("acl"))
		return 0;
	test_inherit("mkfs.ext4 -b 4096", "ext4", false);
	test_inherit("mkfs.ext4 -b 1024 -I 128", "ext4-128", true);
	test_inherit("mkfs.ext4 -b 4096 -O inline_data", "ext4-inline", false);
	test_hostile();
	return scratch_end();
}
