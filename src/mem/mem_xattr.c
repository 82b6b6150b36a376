/* Extended attributes and POSIX ACLs of the in-memory backend.
 *
 * Values are kept as given, per inode in the order they were set.  ACLs
 * are kept in the Linux xattr format the kernel sends, after the checks of
 * the kernel's posix_acl_valid(), and behave as on ext4: an access ACL sets
 * the mode's permission bits (and is not stored when the mode says it all),
 * chmod rewrites it, and a directory's default ACL shapes what is created
 * in it (posix_acl_create) in place of the umask.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "acl/posix_acl.h"
#include "mem_private.h"

/* All names of one inode together, as listxattr returns them: what the
 * FUSE glue can pass in one reply. */
#define MEM_XATTR_LIST_MAX (64u << 10)



enum xattr_ns { NS_USER, NS_TRUSTED, NS_SECURITY, NS_ACL_ACCESS, NS_ACL_DEFAULT, NS_NONE };

static const struct { const char *prefix; enum xattr_ns ns; } prefixes[] = {
	{ "user.", NS_USER },
	{ "trusted.", NS_TRUSTED },
	{ "security.", NS_SECURITY },
};

/* The namespaces ext4 serves; others are EOPNOTSUPP, a bare prefix EINVAL. */
static int check_name(const char *name, enum xattr_ns *ns)
{
	size_t len;

	if (!name)
		return -EINVAL;
	len = strnlen(name, MEM_NAME_MAX + 1);
	if (len == 0 || len > MEM_NAME_MAX)
		return -ERANGE;
	if (strcmp(name, ACL_ACCESS) == 0) {
		*ns = NS_ACL_ACCESS;
		return 0;
	}
	if (strcmp(name, ACL_DEFAULT) == 0) {
		*ns = NS_ACL_DEFAULT;
		return 0;
	}
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i].prefix);

		if (strncmp(name, prefixes[i].prefix, n) == 0) {
			*ns = prefixes[i].ns;
			return name[n] ? 0 : -EINVAL;
		}
	}
	*ns = NS_NONE;
	return -EOPNOTSUPP;
}

static bool is_acl(enum xattr_ns ns)
{
	return ns == NS_ACL_ACCESS || ns == NS_ACL_DEFAULT;
}

/* ---- the attribute list ---- */

static struct mem_xattr *xattr_find(const struct mem_inode *inode, const char *name)
{
	for (struct mem_xattr *x = inode->xattrs; x; x = x->next)
		if (strcmp(x->name, name) == 0)
			return x;
	return NULL;
}

static size_t xattr_cost(size_t name_len, size_t value_len)
{
	return sizeof(struct mem_xattr) + name_len + 1 + value_len;
}

static void xattr_unlink(struct sm_fs *f, struct mem_inode *inode, struct mem_xattr *x)
{
	struct mem_xattr **pp = &inode->xattrs;

	while (*pp != x)
		pp = &(*pp)->next;
	*pp = x->next;
	inode->xattr_list -= x->name_len + 1;
	mem_uncharge(f, xattr_cost(x->name_len, x->value_len));
	free(x);
}

/* Store name = value, replacing an existing value in its place. */
static int xattr_put(struct sm_fs *f, struct mem_inode *inode, const char *name,
		     const void *value, size_t size)
{
	struct mem_xattr *old = xattr_find(inode, name), *x, **pp;
	size_t nlen = strlen(name);
	int ret;

	if (!old && inode->xattr_list + nlen + 1 > MEM_XATTR_LIST_MAX)
		return -ENOSPC;
	ret = mem_charge(f, xattr_cost(nlen, size));
	if (ret)
		return ret;
	x = malloc(xattr_cost(nlen, size));
	if (!x) {
		mem_uncharge(f, xattr_cost(nlen, size));
		return -ENOMEM;
	}
	memcpy(x->name, name, nlen + 1);
	x->name_len = nlen;
	x->value = (unsigned char *)x->name + nlen + 1;
	x->value_len = size;
	if (size)
		memcpy(x->value, value, size);
	/* Into the old one's place in the list, or at the end. */
	for (pp = &inode->xattrs; *pp && *pp != old; pp = &(*pp)->next)
		;
	x->next = old ? old->next : NULL;
	*pp = x;
	inode->xattr_list += nlen + 1;
	if (old) {
		inode->xattr_list -= old->name_len + 1;
		mem_uncharge(f, xattr_cost(old->name_len, old->value_len));
		free(old);
	}
	return 0;
}

void mem_xattrs_free(struct sm_fs *f, struct mem_inode *inode)
{
	while (inode->xattrs)
		xattr_unlink(f, inode, inode->xattrs);
}

/* ---- ACL format ---- */

/* ---- the sm_* calls ---- */

ssize_t sm_getxattr(struct sm_fs *f, uint64_t ino, const char *name, void *buf, size_t size)
{
	const struct mem_xattr *x;
	struct mem_inode *inode;
	enum xattr_ns ns;
	ssize_t ret;

	ret = check_name(name, &ns);
	if (ret)
		return ret;
	MEM_LOCK(f);
	ret = mem_inode_find(f, ino, &inode);
	if (ret)
		goto out;
	/* As xattr_permission(): user.* exists only on regular files and
	 * directories. */
	if (ns == NS_USER && !S_ISREG(inode->mode) && !S_ISDIR(inode->mode)) {
		ret = -ENODATA;
		goto out;
	}
	if (is_acl(ns) && S_ISLNK(inode->mode)) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	x = xattr_find(inode, name);
	if (!x)
		ret = -ENODATA;
	else if (size == 0)
		ret = (ssize_t)x->value_len;
	else if (x->value_len > size)
		ret = -ERANGE;
	else {
		if (x->value_len)
			memcpy(buf, x->value, x->value_len);
		ret = (ssize_t)x->value_len;
	}
out:
	MEM_UNLOCK(f);
	return ret;
}

ssize_t sm_listxattr(struct sm_fs *f, uint64_t ino, char *buf, size_t size)
{
	struct mem_inode *inode;
	size_t used = 0;
	ssize_t ret;

	MEM_LOCK(f);
	ret = mem_inode_find(f, ino, &inode);
	if (ret)
		goto out;
	ret = (ssize_t)inode->xattr_list;
	if (size == 0)
		goto out;
	if (inode->xattr_list > size) {
		ret = -ERANGE;
		goto out;
	}
	for (const struct mem_xattr *x = inode->xattrs; x; x = x->next) {
		memcpy(buf + used, x->name, x->name_len + 1);
		used += x->name_len + 1;
	}
out:
	MEM_UNLOCK(f);
	return ret;
}

/* What refuses a change of inode's attributes in namespace ns. */
static int check_change(struct sm_fs *f, const struct mem_inode *inode, enum xattr_ns ns)
{
	int ret = mem_check_rw(f);

	if (!ret)
		ret = mem_check_modify(inode, false);
	if (ret)
		return ret;
	if (ns == NS_USER && !S_ISREG(inode->mode) && !S_ISDIR(inode->mode))
		return -EPERM;
	if (is_acl(ns) && S_ISLNK(inode->mode))
		return -EOPNOTSUPP;
	return 0;
}

/* After a change: ctime, and for an access ACL the permission bits. */
static void finish_change(struct mem_inode *inode, bool set_perm, uint32_t perm)
{
	if (set_perm)
		inode->mode = (inode->mode & ~(uint32_t)(S_IRWXU | S_IRWXG | S_IRWXO)) | perm;
	mem_touch(inode, false);
}

/* Setting an ACL (validated, count entries): an empty one removes it, an
 * access ACL the mode fully expresses only sets the mode. */
static int set_acl(struct sm_fs *f, struct mem_inode *inode, enum xattr_ns ns, const char *name,
		   const unsigned char *value, size_t size, size_t count)
{
	struct mem_xattr *old = xattr_find(inode, name);
	unsigned char *norm;
	uint32_t perm = 0;
	bool set_perm = ns == NS_ACL_ACCESS;
	int ret;

	if (count == 0) {
		if (old) {
			xattr_unlink(f, inode, old);
			finish_change(inode, false, 0);
		}
		return 0;
	}
	/* posix_acl_update_mode(): the mode follows the access ACL. */
	if (set_perm && sm_acl_equiv_mode(value, count, &perm)) {
		if (old)
			xattr_unlink(f, inode, old);
		finish_change(inode, true, perm);
		return 0;
	}
	norm = malloc(size);
	if (!norm)
		return -ENOMEM;
	memcpy(norm, value, size);
	sm_acl_normalize(norm, count);
	ret = xattr_put(f, inode, name, norm, size);
	free(norm);
	if (!ret)
		finish_change(inode, set_perm, perm);
	return ret;
}

int sm_setxattr(struct sm_fs *f, uint64_t ino, const char *name, const void *value,
		size_t size, int flags)
{
	struct mem_inode *inode;
	enum xattr_ns ns;
	size_t count = 0;
	bool exists;
	int ret;

	ret = check_name(name, &ns);
	if (ret)
		return ret;
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if (size > MEM_XATTR_MAX)
		return -E2BIG;
	if (size && !value)
		return -EINVAL;
	if (is_acl(ns)) {
		ret = sm_acl_check(value, size, &count);
		if (ret)
			return ret;
	}
	MEM_LOCK(f);
	ret = mem_inode_find(f, ino, &inode);
	if (!ret)
		ret = check_change(f, inode, ns);
	if (ret)
		goto out;
	if (ns == NS_ACL_DEFAULT && !S_ISDIR(inode->mode)) {
		/* ext4_set_acl(): only directories have a default ACL. */
		ret = count ? -EACCES : 0;
		goto out;
	}
	exists = xattr_find(inode, name) != NULL;
	if ((flags & XATTR_CREATE) && exists) {
		ret = -EEXIST;
		goto out;
	}
	if ((flags & XATTR_REPLACE) && !exists) {
		ret = -ENODATA;
		goto out;
	}
	if (is_acl(ns)) {
		ret = set_acl(f, inode, ns, name, value, size, count);
		goto out;
	}
	ret = xattr_put(f, inode, name, value, size);
	if (!ret)
		finish_change(inode, false, 0);
out:
	MEM_UNLOCK(f);
	return ret;
}

int sm_removexattr(struct sm_fs *f, uint64_t ino, const char *name)
{
	struct mem_inode *inode;
	struct mem_xattr *x;
	enum xattr_ns ns;
	int ret;

	ret = check_name(name, &ns);
	if (ret)
		return ret;
	MEM_LOCK(f);
	ret = mem_inode_find(f, ino, &inode);
	if (!ret)
		ret = check_change(f, inode, ns);
	if (ret)
		goto out;
	x = xattr_find(inode, name);
	if (!x) {
		ret = -ENODATA;
		goto out;
	}
	xattr_unlink(f, inode, x);
	finish_change(inode, false, 0);
out:
	MEM_UNLOCK(f);
	return ret;
}

/* ---- ACLs of new inodes, and chmod ---- */

void mem_acl_release(struct mem_new_acl *acl)
{
	free(acl->access);
	free(acl->dflt);
	memset(acl, 0, sizeof(*acl));
}

static unsigned char *dup_bytes(const unsigned char *p, size_t n)
{
	unsigned char *d = malloc(n);

	if (d)
		memcpy(d, p, n);
	return d;
}

int mem_acl_prepare(struct sm_fs *f, const struct mem_inode *dir, uint32_t *mode,
		    uint32_t umask, struct mem_new_acl *acl)
{
	const struct mem_xattr *x;
	unsigned char *masq;
	size_t count;

	(void)f;
	memset(acl, 0, sizeof(*acl));
	if (S_ISLNK(*mode))
		return 0;
	x = xattr_find(dir, ACL_DEFAULT);
	if (!x || sm_acl_check(x->value, x->value_len, &count) || count == 0) {
		*mode &= ~(umask & (S_IRWXU | S_IRWXG | S_IRWXO));
		return 0;
	}
	/* A directory inherits the default ACL itself as well. */
	if (S_ISDIR(*mode)) {
		acl->dflt = dup_bytes(x->value, x->value_len);
		if (!acl->dflt)
			return -ENOMEM;
		acl->dflt_len = x->value_len;
	}
	masq = dup_bytes(x->value, x->value_len);
	if (!masq) {
		mem_acl_release(acl);
		return -ENOMEM;
	}
	if (sm_acl_create_masq(masq, count, mode)) {
		acl->access = masq;
		acl->access_len = x->value_len;
	} else {
		free(masq);
	}
	return 0;
}

int mem_acl_store(struct sm_fs *f, struct mem_inode *inode, const struct mem_new_acl *acl)
{
	int ret = 0;

	if (acl->dflt)
		ret = xattr_put(f, inode, ACL_DEFAULT, acl->dflt, acl->dflt_len);
	if (!ret && acl->access)
		ret = xattr_put(f, inode, ACL_ACCESS, acl->access, acl->access_len);
	return ret;
}

int mem_acl_chmod(struct sm_fs *f, struct mem_inode *inode)
{
	struct mem_xattr *x;
	size_t count;
	uint32_t perm;

	if (S_ISLNK(inode->mode))
		return 0;
	x = xattr_find(inode, ACL_ACCESS);
	if (!x || sm_acl_check(x->value, x->value_len, &count) || count == 0)
		return 0;
	sm_acl_chmod_masq(x->value, count, inode->mode);
	/* An ACL the mode now says all of is dropped (posix_acl_update_mode). */
	if (sm_acl_equiv_mode(x->value, count, &perm))
		xattr_unlink(f, inode, x);
	return 0;
}
