/* Private to the FUSE glue: what fuse_ops.c, fuse_ops_dir.c and
 * fuse_ops_xattr.c share.  fuse_ops.c holds the helpers and the table. */
#ifndef SAFEMOUNT_FUSE_OPS_I_H
#define SAFEMOUNT_FUSE_OPS_I_H

#include <stdbool.h>
#include <stdint.h>

#include "fuse/fuse_glue.h"

#define SM_NAME_MAX 255u   /* ext4's EXT4_NAME_LEN */

static inline struct sm_fuse *sm_ud(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* Node id → backend inode: FUSE_ROOT_ID is the backend's root, every other
 * node id is the on-disk inode number. */
static inline uint64_t sm_fuse_to_backend(const struct sm_fuse *uf, fuse_ino_t nodeid)
{
	return nodeid == FUSE_ROOT_ID ? sm_backend_root(uf->fs) : (uint64_t)nodeid;
}

/* And back, for notifications to the kernel. */
static inline fuse_ino_t sm_backend_to_fuse(const struct sm_fuse *uf, uint64_t ino)
{
	return ino == sm_backend_root(uf->fs) ? FUSE_ROOT_ID : (fuse_ino_t)ino;
}

static inline struct sm_caller sm_fuse_caller(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct sm_caller who = { .uid = ctx->uid, .gid = ctx->gid, .pid = ctx->pid };

	return who;
}

/* The caller of mknod, create, mkdir or symlink.  With DONT_MASK granted
 * the kernel sends the mode unmasked and the umask beside it: the backend
 * applies it unless the parent's default ACL rules.  Without, the kernel has
 * already applied it (umask 0 here). */
static inline struct sm_caller sm_fuse_creator(fuse_req_t req)
{
	struct sm_caller who = sm_fuse_caller(req);

	if (sm_ud(req)->dont_mask)
		who.umask = fuse_req_ctx(req)->umask & 0777;
	return who;
}

/* Errors are positive errnos here; ino is the backend inode the request
 * was about.  Logs (corrupt inodes once, every failure with debug). */
void sm_fuse_log_failure(const struct sm_fuse *uf, const char *op, uint64_t ino, int err);
void sm_fuse_reply_err(fuse_req_t req, const char *op, uint64_t ino, int err);
/* ret: 0 or a negative errno from the backend. */
void sm_fuse_reply_status(fuse_req_t req, const char *op, uint64_t ino, int ret);
/* An entry for the kernel from backend attributes; -EUCLEAN for an inode
 * number that cannot be a node id. */
int sm_fuse_fill_entry(const struct sm_fuse *uf, const struct sm_attr *a,
		       struct fuse_entry_param *e);

/* fuse_ops_dir.c */
void sm_op_opendir(fuse_req_t req, fuse_ino_t nodeid, struct fuse_file_info *fi);
void sm_op_readdir(fuse_req_t req, fuse_ino_t nodeid, size_t size, off_t off,
		   struct fuse_file_info *fi);
void sm_op_readdirplus(fuse_req_t req, fuse_ino_t nodeid, size_t size, off_t off,
		       struct fuse_file_info *fi);
void sm_op_releasedir(fuse_req_t req, fuse_ino_t nodeid, struct fuse_file_info *fi);
void sm_op_fsyncdir(fuse_req_t req, fuse_ino_t nodeid, int datasync,
		    struct fuse_file_info *fi);

/* fuse_ops_xattr.c */
void sm_op_setxattr(fuse_req_t req, fuse_ino_t nodeid, const char *name,
		    const char *value, size_t size, int flags);
void sm_op_getxattr(fuse_req_t req, fuse_ino_t nodeid, const char *name, size_t size);
void sm_op_listxattr(fuse_req_t req, fuse_ino_t nodeid, size_t size);
void sm_op_removexattr(fuse_req_t req, fuse_ino_t nodeid, const char *name);
void sm_op_ioctl(fuse_req_t req, fuse_ino_t nodeid, unsigned int cmd, void *arg,
		 struct fuse_file_info *fi, unsigned flags, const void *in_buf,
		 size_t in_bufsz, size_t out_bufsz);

#endif
