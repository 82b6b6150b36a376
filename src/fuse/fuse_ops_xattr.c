/* Extended attributes and the inode-flag ioctls (chattr, lsattr, xfs_io). */
#include <errno.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "fuse/fuse_ops_i.h"
#include "util/log.h"

#define SM_XATTR_MAX (64u << 10)    /* XATTR_SIZE_MAX */

static bool xattr_name_bad(const char *name)
{
	size_t len = strnlen(name, SM_NAME_MAX + 1);

	return len == 0 || len > SM_NAME_MAX;
}

void sm_op_setxattr(fuse_req_t req, fuse_ino_t nodeid, const char *name,
			   const char *value, size_t size, int flags)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);

	if (xattr_name_bad(name)) {
		sm_fuse_reply_err(req, "setxattr", ino, *name ? ERANGE : EINVAL);
		return;
	}
	if (size > SM_XATTR_MAX) {
		sm_fuse_reply_err(req, "setxattr", ino, E2BIG);
		return;
	}
	sm_fuse_reply_status(req, "setxattr", ino, sm_setxattr(uf->fs, ino, name, value, size, flags));
}

/* getxattr and listxattr: size 0 asks for the size, else the value;
 * -ERANGE for too small a buffer passes through. */
static void reply_xattr_value(fuse_req_t req, const char *op, uint64_t ino, size_t size,
			      const char *name)
{
	struct sm_fuse *uf = sm_ud(req);
	char *buf = NULL;
	ssize_t n;

	if (size > SM_XATTR_MAX)
		size = SM_XATTR_MAX;
	if (size) {
		buf = malloc(size);
		if (!buf) {
			sm_fuse_reply_err(req, op, ino, ENOMEM);
			return;
		}
	}
	if (name)
		n = sm_getxattr(uf->fs, ino, name, buf, size);
	else
		n = sm_listxattr(uf->fs, ino, buf, size);
	if (n < 0)
		sm_fuse_reply_err(req, op, ino, (int)-n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else if ((size_t)n > size)
		sm_fuse_reply_err(req, op, ino, ERANGE);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

void sm_op_getxattr(fuse_req_t req, fuse_ino_t nodeid, const char *name, size_t size)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);

	if (xattr_name_bad(name)) {
		sm_fuse_reply_err(req, "getxattr", ino, *name ? ERANGE : EINVAL);
		return;
	}
	reply_xattr_value(req, "getxattr", ino, size, name);
}

/* Drop "trusted." names from a NUL-separated list in place; returns the
 * new length.  The kernel's own filesystems list them only to callers with
 * CAP_SYS_ADMIN; uid 0 stands in for that here. */
static size_t drop_trusted(char *list, size_t len)
{
	size_t r = 0, w = 0;
	while (r < len) {
		size_t n = strnlen(list + r, len - r);
		size_t step = n < len - r ? n + 1 : n;
		if (strncmp(list + r, "trusted.", 8) != 0) {
			memmove(list + w, list + r, step);
			w += step;
		}
		r += step;
	}
	return w;
}

void sm_op_listxattr(fuse_req_t req, fuse_ino_t nodeid, size_t size)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);

	if (fuse_req_ctx(req)->uid == 0) {
		reply_xattr_value(req, "listxattr", ino, size, NULL);
		return;
	}
	/* The filtered size is only known from the whole list. */
	ssize_t need = sm_listxattr(uf->fs, ino, NULL, 0);
	if (need < 0) {
		sm_fuse_reply_err(req, "listxattr", ino, (int)-need);
		return;
	}
	if ((size_t)need > SM_XATTR_MAX)
		need = SM_XATTR_MAX;
	char *buf = malloc((size_t)need + 1);
	if (!buf) {
		sm_fuse_reply_err(req, "listxattr", ino, ENOMEM);
		return;
	}
	ssize_t n = sm_listxattr(uf->fs, ino, buf, (size_t)need);
	if (n < 0) {
		/* -ERANGE: the list grew in between; the caller retries. */
		sm_fuse_reply_err(req, "listxattr", ino, (int)-n);
	} else {
		size_t len = drop_trusted(buf, (size_t)n);
		if (size == 0)
			fuse_reply_xattr(req, len);
		else if (len > size)
			sm_fuse_reply_err(req, "listxattr", ino, ERANGE);
		else
			fuse_reply_buf(req, buf, len);
	}
	free(buf);
}

void sm_op_removexattr(fuse_req_t req, fuse_ino_t nodeid, const char *name)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);

	if (xattr_name_bad(name)) {
		sm_fuse_reply_err(req, "removexattr", ino, *name ? ERANGE : EINVAL);
		return;
	}
	sm_fuse_reply_status(req, "removexattr", ino, sm_removexattr(uf->fs, ino, name));
}

/* ---- ioctl -------------------------------------------------------------- */

/* The inode-flag ioctls, by what they carry.  chattr/lsattr pass an int
 * although FS_IOC_[GS]ETFLAGS say long: since Linux 5.13 the kernel sends
 * these itself (fileattr) with 4-byte buffers, older kernels size the
 * buffers from the number (8 bytes on 64-bit), so only the first int is
 * read or written.  The 32-bit numbers come from compat callers on old
 * kernels.  Since 6.17 the kernel reads the old flags with FS_IOC_FSGETXATTR
 * before every FS_IOC_SETFLAGS, so chattr needs that one too. */
enum flag_ioctl { FL_NONE, FL_GET, FL_SET, FL_FSGETX, FL_FSSETX };

static enum flag_ioctl classify(unsigned int cmd, size_t *size)
{
	*size = sizeof(int);
	/* not a switch: on 32-bit hosts the two numbers of a pair are equal */
	if (cmd == (unsigned int)FS_IOC_GETFLAGS || cmd == (unsigned int)FS_IOC32_GETFLAGS)
		return FL_GET;
	if (cmd == (unsigned int)FS_IOC_SETFLAGS || cmd == (unsigned int)FS_IOC32_SETFLAGS)
		return FL_SET;
	*size = sizeof(struct fsxattr);
	if (cmd == (unsigned int)FS_IOC_FSGETXATTR)
		return FL_FSGETX;
	if (cmd == (unsigned int)FS_IOC_FSSETXATTR)
		return FL_FSSETX;
	return FL_NONE;
}

/* The flags both interfaces know (the kernel's fileattr_fill_*()). */
static const struct {
	uint32_t fl, xfl;
} flag_map[] = {
	{ FS_SYNC_FL, FS_XFLAG_SYNC },
	{ FS_IMMUTABLE_FL, FS_XFLAG_IMMUTABLE },
	{ FS_APPEND_FL, FS_XFLAG_APPEND },
	{ FS_NODUMP_FL, FS_XFLAG_NODUMP },
	{ FS_NOATIME_FL, FS_XFLAG_NOATIME },
	{ FS_DAX_FL, FS_XFLAG_DAX },
	{ FS_PROJINHERIT_FL, FS_XFLAG_PROJINHERIT },
};

static uint32_t flags_to_xflags(uint32_t fl)
{
	uint32_t x = 0;
	size_t i;

	for (i = 0; i < sizeof(flag_map) / sizeof(flag_map[0]); i++)
		if (fl & flag_map[i].fl)
			x |= flag_map[i].xfl;
	return x;
}

/* FS_IOC_FSSETXATTR changes only the common flags; the others stay. */
static int xflags_to_flags(uint32_t old, uint32_t x, uint32_t *fl)
{
	uint32_t known = 0;
	size_t i;

	for (i = 0; i < sizeof(flag_map) / sizeof(flag_map[0]); i++) {
		known |= flag_map[i].xfl;
		old &= ~flag_map[i].fl;
		if (x & flag_map[i].xfl)
			old |= flag_map[i].fl;
	}
	if (x & ~known)
		return -EOPNOTSUPP;
	*fl = old;
	return 0;
}

static void sm_ioctl_flags(fuse_req_t req, uint64_t ino, enum flag_ioctl kind,
			   const void *in_buf)
{
	struct sm_fuse *uf = sm_ud(req);
	struct sm_caller who = sm_fuse_caller(req);
	struct fsxattr fsx;
	uint32_t fl;
	int val, ret;

	ret = sm_get_flags(uf->fs, ino, &fl);
	if (ret < 0)
		goto out_err;
	switch (kind) {
	case FL_GET:
		val = (int)fl;
		fuse_reply_ioctl(req, 0, &val, sizeof(val));
		return;
	case FL_FSGETX:
		/* no extent size hints, no project ids in the interface */
		memset(&fsx, 0, sizeof(fsx));
		fsx.fsx_xflags = flags_to_xflags(fl);
		fuse_reply_ioctl(req, 0, &fsx, sizeof(fsx));
		return;
	case FL_SET:
		memcpy(&val, in_buf, sizeof(val));
		fl = (uint32_t)val;
		break;
	case FL_FSSETX:
		memcpy(&fsx, in_buf, sizeof(fsx));
		ret = -EOPNOTSUPP;
		if (fsx.fsx_projid != 0 || fsx.fsx_extsize != 0 || fsx.fsx_cowextsize != 0)
			goto out_err;
		ret = xflags_to_flags(fl, fsx.fsx_xflags, &fl);
		if (ret < 0)
			goto out_err;
		break;
	case FL_NONE:
	default:
		ret = -ENOTTY;
		goto out_err;
	}
	ret = sm_set_flags(uf->fs, ino, &who, fl);
	if (ret < 0)
		goto out_err;
	fuse_reply_ioctl(req, 0, NULL, 0);
	/* The ctime changed behind the kernel's cached attributes (it does
	 * not know what an ioctl does): drop them, after the reply so the
	 * caller's locks are not held against us. */
	if (uf->se)
		fuse_lowlevel_notify_inval_inode(uf->se, sm_backend_to_fuse(uf, ino), -1, 0);
	return;
out_err:
	sm_fuse_reply_err(req, "ioctl", ino, -ret);
}

void sm_op_ioctl(fuse_req_t req, fuse_ino_t nodeid, unsigned int cmd, void *arg,
		 struct fuse_file_info *fi, unsigned flags, const void *in_buf,
		 size_t in_bufsz, size_t out_bufsz)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);
	enum flag_ioctl kind;
	struct iovec iov;
	size_t size;
	bool get;

	(void)fi;
	kind = classify(cmd, &size);
	if (kind == FL_NONE) {
		/* also TCGETS from isatty() */
		if (uf->debug)
			sm_log(LOG_DEBUG, "ioctl ino %" PRIu64 ": cmd 0x%x flags 0x%x not supported",
			       ino, cmd, flags);
		fuse_reply_err(req, ENOTTY);
		return;
	}
	get = kind == FL_GET || kind == FL_FSGETX;
	if (get ? out_bufsz < size : in_bufsz < size) {
		if (!(flags & FUSE_IOCTL_UNRESTRICTED)) {
			sm_fuse_reply_err(req, "ioctl", ino, EINVAL);
			return;
		}
		/* ask the kernel to fetch or store the value at arg and retry */
		iov.iov_base = arg;
		iov.iov_len = size;
		if (get)
			fuse_reply_ioctl_retry(req, NULL, 0, &iov, 1);
		else
			fuse_reply_ioctl_retry(req, &iov, 1, NULL, 0);
		return;
	}
	sm_ioctl_flags(req, ino, kind, in_buf);
}
