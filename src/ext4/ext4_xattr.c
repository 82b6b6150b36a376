/* Extended attributes and POSIX ACLs.
 *
 * Handles are opened in raw mode (XATTR_HANDLE_FLAG_RAW): libext2fs 1.47's
 * own ACL conversion trusts the on-disk entry sizes and can run past its
 * buffers on a crafted value, so the ACL format is converted here, with
 * every entry bounds-checked, and validated like the kernel's
 * posix_acl_valid() before it is stored.  The same conversion serves the
 * ACLs of new inodes (posix_acl_create: the parent's default ACL, or else
 * the umask) and chmod of an inode with an access ACL (posix_acl_chmod).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "acl/posix_acl.h"
#include "ext4_private.h"

#define XATTR_NAME_MAX_LEN 255u

/* ext4's on-disk ACL format (the xattr one is in acl/posix_acl.h). */
#define ACL_DISK_VERSION  0x0001u

enum xattr_ns { NS_USER, NS_TRUSTED, NS_SECURITY, NS_ACL_ACCESS, NS_ACL_DEFAULT, NS_NONE };

static const struct { const char *prefix; enum xattr_ns ns; } prefixes[] = {
	{ "user.", NS_USER },
	{ "trusted.", NS_TRUSTED },
	{ "security.", NS_SECURITY },
};

/* Which namespace a name is in; NS_NONE for names we do not serve
 * (system.data is the inline-data store, other system.* names and unknown
 * prefixes have no handler in ext4 either).  *empty is set for a prefix
 * with nothing after it. */
static enum xattr_ns classify(const char *name, bool *empty)
{
	*empty = false;
	if (strcmp(name, ACL_ACCESS) == 0)
		return NS_ACL_ACCESS;
	if (strcmp(name, ACL_DEFAULT) == 0)
		return NS_ACL_DEFAULT;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i].prefix);
		if (strncmp(name, prefixes[i].prefix, n) == 0) {
			*empty = name[n] == '\0';
			return prefixes[i].ns;
		}
	}
	return NS_NONE;
}

/* Check a name from the caller; 0 and *ns, or -errno. */
static int check_name(const char *name, enum xattr_ns *ns)
{
	bool empty;

	if (!name)
		return -EINVAL;
	size_t len = strnlen(name, XATTR_NAME_MAX_LEN + 1);
	if (len == 0)
		return -ERANGE;
	if (len > XATTR_NAME_MAX_LEN)
		return -ERANGE;
	*ns = classify(name, &empty);
	if (*ns == NS_NONE)
		return -EOPNOTSUPP;
	if (empty)
		return -EINVAL;
	return 0;
}

/* On-disk ext4 ACL (image data: hostile) to the Linux xattr format.
 * *out is malloc'd. */
static int acl_from_disk(const unsigned char *disk, size_t len, unsigned char **out,
			 size_t *out_len)
{
	size_t n = 0, pos;
	unsigned char *buf, *e;

	if (len < 4 || acl_le32(disk) != ACL_DISK_VERSION)
		return -EUCLEAN;
	/* Count first, checking every entry lies inside the value. */
	for (pos = 4; pos < len; n++) {
		if (len - pos < 4)
			return -EUCLEAN;
		unsigned tag = acl_le16(disk + pos);
		size_t esize = sm_acl_tag_has_id(tag) ? 8 : 4;
		switch (tag) {
		case ACL_TAG_USER_OBJ: case ACL_TAG_USER: case ACL_TAG_GROUP_OBJ:
		case ACL_TAG_GROUP: case ACL_TAG_MASK: case ACL_TAG_OTHER:
			break;
		default:
			return -EUCLEAN;
		}
		if (len - pos < esize)
			return -EUCLEAN;
		pos += esize;
	}
	*out_len = 4 + 8 * n;
	buf = malloc(*out_len);
	if (!buf)
		return -ENOMEM;
	acl_put_le32(buf, ACL_XATTR_VERSION);
	e = buf + 4;
	for (pos = 4; pos < len; e += 8) {
		unsigned tag = acl_le16(disk + pos);
		acl_put_le16(e, tag);
		acl_put_le16(e + 2, acl_le16(disk + pos + 2));
		if (sm_acl_tag_has_id(tag)) {
			acl_put_le32(e + 4, acl_le32(disk + pos + 4));
			pos += 8;
		} else {
			/* posix_acl_to_xattr() writes ACL_UNDEFINED_ID here. */
			acl_put_le32(e + 4, ACL_UNDEFINED_ID);
			pos += 4;
		}
	}
	*out = buf;
	return 0;
}

/* A validated Linux-format ACL to ext4's on-disk format. */
static int acl_to_disk(const unsigned char *value, size_t count, unsigned char **out,
		       size_t *out_len)
{
	unsigned char *buf = malloc(4 + 8 * count), *e;
	if (!buf)
		return -ENOMEM;
	acl_put_le32(buf, ACL_DISK_VERSION);
	e = buf + 4;
	for (size_t i = 0; i < count; i++) {
		const unsigned char *x = value + 4 + 8 * i;
		unsigned tag = acl_le16(x);
		acl_put_le16(e, tag);
		acl_put_le16(e + 2, acl_le16(x + 2));
		if (sm_acl_tag_has_id(tag)) {
			acl_put_le32(e + 4, acl_le32(x + 4));
			e += 8;
		} else {
			e += 4;
		}
	}
	*out = buf;
	*out_len = (size_t)(e - buf);
	return 0;
}

/* libext2fs reports a malformed stored name as "bad name length", which
 * ext4_err() reads as the caller's fault; reading, it is the image's. */
static int read_err(errcode_t err)
{
	if (err == EXT2_ET_EA_BAD_NAME_LEN)
		return -EUCLEAN;
	return ext4_err(err);
}

/* Open and read the attributes of ino, in raw mode.  -ENODATA when the
 * filesystem has no xattr support at all (nothing can be stored). */
static int open_xattrs(struct sm_fs *f, ext2_ino_t ino, struct ext2_xattr_handle **out)
{
	struct ext2_xattr_handle *h = NULL;
	unsigned int flags = XATTR_HANDLE_FLAG_RAW;
	errcode_t err;

	err = ext2fs_xattrs_open(f->fs, ino, &h);
	if (err == EXT2_ET_MISSING_EA_FEATURE)
		return -ENODATA;
	if (err)
		return ext4_err(err);
	err = ext2fs_xattrs_flags(h, &flags, NULL);
	if (!err)
		err = ext2fs_xattrs_read(h);
	if (err) {
		ext2fs_xattrs_close(&h);
		return read_err(err);
	}
	*out = h;
	return 0;
}

/* The stored value of name, malloc'd into *value (ext2fs_free_mem). */
static int get_raw(struct ext2_xattr_handle *h, const char *name, void **value, size_t *len)
{
	errcode_t err = ext2fs_xattr_get(h, name, value, len);
	if (err == EXT2_ET_EA_KEY_NOT_FOUND)
		return -ENODATA;
	return read_err(err);
}

ssize_t sm_getxattr(struct sm_fs *f, uint64_t ino, const char *name, void *buf, size_t size)
{
	struct ext2_inode_large inode;
	struct ext2_xattr_handle *h = NULL;
	enum xattr_ns ns;
	void *raw = NULL;
	unsigned char *conv = NULL;
	const unsigned char *val;
	size_t raw_len = 0, len;
	ssize_t ret;

	ret = check_name(name, &ns);
	if (ret)
		return ret;
	EXT4_LOCK(f);
	ret = ext4_read_inode(f, (ext2_ino_t)ino, &inode);
	if (ret)
		goto out_unlock;
	/* As the kernel's xattr_permission(): user.* exists only on regular
	 * files and directories. */
	if (ns == NS_USER && !LINUX_S_ISREG(inode.i_mode) && !LINUX_S_ISDIR(inode.i_mode)) {
		ret = -ENODATA;
		goto out_unlock;
	}
	if ((ns == NS_ACL_ACCESS || ns == NS_ACL_DEFAULT) && LINUX_S_ISLNK(inode.i_mode)) {
		ret = -EOPNOTSUPP;
		goto out_unlock;
	}
	ret = open_xattrs(f, (ext2_ino_t)ino, &h);
	if (ret)
		goto out_unlock;
	ret = get_raw(h, name, &raw, &raw_len);
	if (ret)
		goto out_close;
	val = raw;
	len = raw_len;
	if (ns == NS_ACL_ACCESS || ns == NS_ACL_DEFAULT) {
		ret = acl_from_disk(raw, raw_len, &conv, &len);
		if (ret)
			goto out_free;
		val = conv;
	}
	if (len > EXT4_MAX_XATTR_SIZE) {
		ret = -E2BIG;
		goto out_free;
	}
	if (size == 0) {
		ret = (ssize_t)len;
	} else if (len > size) {
		ret = -ERANGE;
	} else {
		if (len)
			memcpy(buf, val, len);
		ret = (ssize_t)len;
	}
out_free:
	free(conv);
	if (raw)
		ext2fs_free_mem(&raw);
out_close:
	ext2fs_xattrs_close(&h);
out_unlock:
	EXT4_UNLOCK(f);
	return ret;
}

struct list_ctx {
	char *buf;
	size_t size;    /* 0: only measure */
	size_t used;
	int err;
};

static int list_cb(char *name, char *value, size_t value_len, void *data)
{
	struct list_ctx *c = data;
	bool empty;

	(void)value; (void)value_len;
	/* Only names we would also serve: never system.data, never names
	 * whose index libext2fs could not map to a prefix. */
	if (classify(name, &empty) == NS_NONE || empty)
		return 0;
	size_t n = strlen(name) + 1;
	if (n > XATTR_NAME_MAX_LEN + 1)
		return 0;
	if (c->size) {
		if (c->used + n > c->size) {
			c->err = -ERANGE;
			return XATTR_ABORT;
		}
		memcpy(c->buf + c->used, name, n);
	}
	c->used += n;
	return 0;
}

ssize_t sm_listxattr(struct sm_fs *f, uint64_t ino, char *buf, size_t size)
{
	struct ext2_inode_large inode;
	struct ext2_xattr_handle *h = NULL;
	struct list_ctx c = { .buf = buf, .size = size };
	ssize_t ret;

	EXT4_LOCK(f);
	ret = ext4_read_inode(f, (ext2_ino_t)ino, &inode);
	if (ret)
		goto out_unlock;
	ret = open_xattrs(f, (ext2_ino_t)ino, &h);
	if (ret == -ENODATA) {
		ret = 0;
		goto out_unlock;
	}
	if (ret)
		goto out_unlock;
	errcode_t err = ext2fs_xattrs_iterate(h, list_cb, &c);
	ext2fs_xattrs_close(&h);
	if (err)
		ret = read_err(err);
	else if (c.err)
		ret = c.err;
	else
		ret = (ssize_t)c.used;
out_unlock:
	EXT4_UNLOCK(f);
	return ret;
}

/* After a successful change: ctime (and the mode, for an access ACL) on
 * the freshly re-read inode, since libext2fs wrote the xattr area. */
static int finish_change(struct sm_fs *f, ext2_ino_t ino, bool set_perm, uint32_t perm)
{
	struct ext2_inode_large inode;
	int ret = ext4_read_inode(f, ino, &inode);
	if (ret)
		return ret;
	if (set_perm)
		inode.i_mode = (uint16_t)((inode.i_mode & ~(S_IRWXU | S_IRWXG | S_IRWXO)) | perm);
	ext4_touch(&inode, false);
	return ext4_write_inode(f, ino, &inode);
}

/* Common checks before changing an attribute of inode. */
static int check_change(struct sm_fs *f, const struct ext2_inode_large *inode, enum xattr_ns ns)
{
	int ret = ext4_check_rw(f);
	if (ret)
		return ret;
	/* Immutable and append-only inodes refuse xattr changes. */
	ret = ext4_check_modify(inode, false);
	if (ret)
		return ret;
	if (ns == NS_USER && !LINUX_S_ISREG(inode->i_mode) && !LINUX_S_ISDIR(inode->i_mode))
		return -EPERM;
	if ((ns == NS_ACL_ACCESS || ns == NS_ACL_DEFAULT) && LINUX_S_ISLNK(inode->i_mode))
		return -EOPNOTSUPP;
	return 0;
}

static int remove_locked(struct sm_fs *f, ext2_ino_t ino, struct ext2_xattr_handle *h,
			 const char *name, bool set_perm, uint32_t perm)
{
	errcode_t err = ext2fs_xattr_remove(h, name);
	if (err)
		return ext4_err(err);
	return finish_change(f, ino, set_perm, perm);
}

int sm_setxattr(struct sm_fs *f, uint64_t ino, const char *name, const void *value,
		size_t size, int flags)
{
	struct ext2_inode_large inode;
	struct ext2_xattr_handle *h = NULL;
	enum xattr_ns ns;
	unsigned char *disk = NULL;
	const void *store = value;
	size_t store_len = size, count = 0;
	bool set_perm = false;
	uint32_t perm = 0;
	int ret;

	ret = check_name(name, &ns);
	if (ret)
		return ret;
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if (size > EXT4_MAX_XATTR_SIZE)
		return -E2BIG;
	if (size && !value)
		return -EINVAL;
	if (ns == NS_ACL_ACCESS || ns == NS_ACL_DEFAULT) {
		ret = sm_acl_check(value, size, &count);
		if (ret)
			return ret;
	}

	EXT4_LOCK(f);
	ret = ext4_read_inode(f, (ext2_ino_t)ino, &inode);
	if (ret)
		goto out_unlock;
	ret = check_change(f, &inode, ns);
	if (ret)
		goto out_unlock;
	if (ns == NS_ACL_DEFAULT && !LINUX_S_ISDIR(inode.i_mode)) {
		/* ext4_set_acl(): only directories have a default ACL. */
		ret = count ? -EACCES : 0;
		goto out_unlock;
	}
	if (!ext2fs_has_feature_xattr(f->fs->super)) {
		/* The kernel turns the feature on with the first attribute. */
		ext2fs_set_feature_xattr(f->fs->super);
		ext2fs_mark_super_dirty(f->fs);
	}
	ret = open_xattrs(f, (ext2_ino_t)ino, &h);
	if (ret)
		goto out_unlock;

	void *old = NULL;
	size_t old_len = 0;
	ret = get_raw(h, name, &old, &old_len);
	if (old)
		ext2fs_free_mem(&old);
	if (ret && ret != -ENODATA)
		goto out_close;
	bool exists = ret == 0;
	ret = 0;
	if ((flags & XATTR_CREATE) && exists) {
		ret = -EEXIST;
		goto out_close;
	}
	if ((flags & XATTR_REPLACE) && !exists) {
		ret = -ENODATA;
		goto out_close;
	}

	if (ns == NS_ACL_ACCESS || ns == NS_ACL_DEFAULT) {
		if (count == 0) {
			/* An empty ACL value removes the ACL. */
			ret = exists ? remove_locked(f, (ext2_ino_t)ino, h, name, false, 0) : 0;
			goto out_close;
		}
		if (ns == NS_ACL_ACCESS) {
			/* posix_acl_update_mode(): the mode follows the ACL, and
			 * an ACL the mode expresses fully is not stored. */
			set_perm = true;
			if (sm_acl_equiv_mode(value, count, &perm)) {
				if (exists)
					ret = remove_locked(f, (ext2_ino_t)ino, h, name, true, perm);
				else
					ret = finish_change(f, (ext2_ino_t)ino, true, perm);
				goto out_close;
			}
		}
		ret = acl_to_disk(value, count, &disk, &store_len);
		if (ret)
			goto out_close;
		store = disk;
	}

	errcode_t err = ext2fs_xattr_set(h, name, store, store_len);
	if (err) {
		ret = ext4_err(err);
		goto out_close;
	}
	ret = finish_change(f, (ext2_ino_t)ino, set_perm, perm);
out_close:
	free(disk);
	ext2fs_xattrs_close(&h);
out_unlock:
	EXT4_UNLOCK(f);
	return ret;
}

int sm_removexattr(struct sm_fs *f, uint64_t ino, const char *name)
{
	struct ext2_inode_large inode;
	struct ext2_xattr_handle *h = NULL;
	enum xattr_ns ns;
	int ret;

	ret = check_name(name, &ns);
	if (ret)
		return ret;
	EXT4_LOCK(f);
	ret = ext4_read_inode(f, (ext2_ino_t)ino, &inode);
	if (ret)
		goto out_unlock;
	ret = check_change(f, &inode, ns);
	if (ret)
		goto out_unlock;
	ret = open_xattrs(f, (ext2_ino_t)ino, &h);
	if (ret)
		goto out_unlock;
	void *old = NULL;
	size_t old_len = 0;
	ret = get_raw(h, name, &old, &old_len);
	if (old)
		ext2fs_free_mem(&old);
	if (!ret)
		ret = remove_locked(f, (ext2_ino_t)ino, h, name, false, 0);
	ext2fs_xattrs_close(&h);
out_unlock:
	EXT4_UNLOCK(f);
	return ret;
}

/* ---- ACLs of new inodes, and chmod -------------------------------------- */

/* The ACL `name` stored for the inode behind h, validated, in the Linux
 * format (malloc'd into *out) with its entry count.  -ENODATA when there is
 * none (an empty one is none, as ext4_acl_from_disk says).  Oversized or
 * malformed ones are the image's fault: -EUCLEAN. */
static int read_acl(struct ext2_xattr_handle *h, const char *name, unsigned char **out,
		    size_t *count)
{
	void *raw = NULL;
	unsigned char *conv = NULL;
	size_t raw_len = 0, len = 0;
	int ret;

	ret = get_raw(h, name, &raw, &raw_len);
	if (ret)
		goto out_free;
	if (raw_len > EXT4_MAX_XATTR_SIZE) {
		ret = -EUCLEAN;
		goto out_free;
	}
	ret = acl_from_disk(raw, raw_len, &conv, &len);
	if (ret)
		goto out_free;
	if (sm_acl_check(conv, len, count)) {
		ret = -EUCLEAN;
		goto out_free;
	}
	if (*count == 0) {
		ret = -ENODATA;
		goto out_free;
	}
	*out = conv;
	conv = NULL;
out_free:
	free(conv);
	if (raw)
		ext2fs_free_mem(&raw);
	return ret;
}

void ext4_acl_release(struct ext4_new_acl *acl)
{
	free(acl->access);
	free(acl->dflt);
	acl->access = acl->dflt = NULL;
	acl->access_len = acl->dflt_len = 0;
}

int ext4_acl_prepare(struct sm_fs *f, ext2_ino_t dir, uint32_t *mode, uint32_t umask,
		     struct ext4_new_acl *acl)
{
	struct ext2_xattr_handle *h = NULL;
	unsigned char *dacl = NULL;
	size_t count = 0;
	int ret;

	memset(acl, 0, sizeof(*acl));
	if (LINUX_S_ISLNK(*mode))
		return 0;
	ret = open_xattrs(f, dir, &h);
	if (!ret) {
		ret = read_acl(h, ACL_DEFAULT, &dacl, &count);
		ext2fs_xattrs_close(&h);
	}
	if (ret == -ENODATA) {
		*mode &= ~(umask & (S_IRWXU | S_IRWXG | S_IRWXO));
		return 0;
	}
	if (ret)
		return ret;
	/* A directory inherits the default ACL itself as well. */
	if (LINUX_S_ISDIR(*mode)) {
		ret = acl_to_disk(dacl, count, &acl->dflt, &acl->dflt_len);
		if (ret)
			goto out_free;
	}
	if (sm_acl_create_masq(dacl, count, mode)) {
		ret = acl_to_disk(dacl, count, &acl->access, &acl->access_len);
		if (ret)
			goto out_free;
	}
out_free:
	free(dacl);
	if (ret)
		ext4_acl_release(acl);
	return ret;
}

int ext4_acl_store(struct sm_fs *f, ext2_ino_t ino, const struct ext4_new_acl *acl)
{
	struct ext2_xattr_handle *h = NULL;
	errcode_t err = 0;
	int ret;

	if (!acl->access && !acl->dflt)
		return 0;
	/* The parent's ACL was read, so the feature is on; an image is not
	 * trusted to be consistent about it. */
	if (!ext2fs_has_feature_xattr(f->fs->super)) {
		ext2fs_set_feature_xattr(f->fs->super);
		ext2fs_mark_super_dirty(f->fs);
	}
	ret = open_xattrs(f, ino, &h);
	if (ret)
		return ret;
	if (acl->dflt)
		err = ext2fs_xattr_set(h, ACL_DEFAULT, acl->dflt, acl->dflt_len);
	if (!err && acl->access)
		err = ext2fs_xattr_set(h, ACL_ACCESS, acl->access, acl->access_len);
	ext2fs_xattrs_close(&h);
	return ext4_err(err);
}

int ext4_acl_chmod(struct sm_fs *f, ext2_ino_t ino, uint32_t mode)
{
	struct ext2_xattr_handle *h = NULL;
	unsigned char *acl = NULL, *disk = NULL;
	size_t count = 0, disk_len = 0;
	uint32_t perm;
	errcode_t err;
	int ret;

	if (LINUX_S_ISLNK(mode))
		return 0;
	ret = open_xattrs(f, ino, &h);
	if (ret == -ENODATA)
		return 0;
	if (ret)
		return ret;
	ret = read_acl(h, ACL_ACCESS, &acl, &count);
	if (ret) {
		if (ret == -ENODATA)
			ret = 0;
		goto out_close;
	}
	sm_acl_chmod_masq(acl, count, mode);
	/* As ext4_set_acl() via posix_acl_update_mode(): an ACL the mode now
	 * says all of is dropped. */
	if (sm_acl_equiv_mode(acl, count, &perm)) {
		err = ext2fs_xattr_remove(h, ACL_ACCESS);
	} else {
		ret = acl_to_disk(acl, count, &disk, &disk_len);
		if (ret)
			goto out_close;
		err = ext2fs_xattr_set(h, ACL_ACCESS, disk, disk_len);
	}
	ret = ext4_err(err);
out_close:
	free(disk);
	free(acl);
	ext2fs_xattrs_close(&h);
	return ret;
}
