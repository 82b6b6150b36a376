/* The format backend interface: operations on inode numbers, no FUSE types.
 *
 * Every function returns 0 (or a byte count) on success and a negative errno
 * on failure; a corrupt image yields -EUCLEAN for that request only.  Inode
 * numbers are the on-disk ones (ext4 root = 2); the FUSE glue maps its root
 * nodeid onto sm_backend_root().  All operations are safe to call from several
 * threads: the backend does its own locking.
 */
#ifndef SAFEMOUNT_BACKEND_H
#define SAFEMOUNT_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#ifndef EUCLEAN
#define EUCLEAN 117
#endif
#define EFSCORRUPTED EUCLEAN

struct sm_fs;

struct sm_attr {
	uint64_t ino;
	uint64_t generation;
	uint64_t size;
	uint64_t blocks;       /* in 512-byte units, like st_blocks */
	uint32_t mode;         /* type and permission bits, like st_mode */
	uint32_t nlink;
	uint32_t uid, gid;
	uint64_t rdev;         /* encoded with makedev() */
	uint32_t blksize;
	struct timespec atime, mtime, ctime, btime;
};

/* Who is asking: the creator of new inodes, the owner checks of setattr. */
struct sm_caller {
	uint32_t uid, gid;
	pid_t pid;
	/* The creator's umask (permission bits), for mknod/create/mkdir.  The
	 * backend applies it only when the parent directory has no default
	 * ACL; with one, the default ACL decides, as in the kernel's ext4.
	 * 0 when the caller has already applied the umask. */
	uint32_t umask;
};

enum sm_setattr_mask {
	SM_SET_MODE      = 1u << 0,
	SM_SET_UID       = 1u << 1,
	SM_SET_GID       = 1u << 2,
	SM_SET_SIZE      = 1u << 3,
	SM_SET_ATIME     = 1u << 4,
	SM_SET_MTIME     = 1u << 5,
	SM_SET_ATIME_NOW = 1u << 6,
	SM_SET_MTIME_NOW = 1u << 7,
	SM_SET_CTIME     = 1u << 8,
};

struct sm_setattr {
	unsigned valid;        /* enum sm_setattr_mask */
	uint32_t mode, uid, gid;
	uint64_t size;
	struct timespec atime, mtime, ctime;
};

enum sm_rename_flags {
	SM_RENAME_NOREPLACE = 1u << 0,
	SM_RENAME_EXCHANGE  = 1u << 1,
};

enum sm_fallocate_mode {      /* the Linux FALLOC_FL_* values */
	SM_FALLOC_KEEP_SIZE  = 0x01,
	SM_FALLOC_PUNCH_HOLE = 0x02,
	SM_FALLOC_ZERO_RANGE = 0x10,
};

enum sm_atime_policy { SM_ATIME_RELATIME = 0, SM_ATIME_NOATIME, SM_ATIME_STRICT };

struct sm_open_opts {
	const char *image_name;  /* for messages only */
	int image_fd;            /* already open, locked, O_RDWR or O_RDONLY */
	int read_only;
	enum sm_atime_policy atime;
	uint64_t cache_bytes;    /* metadata block cache; 0 = none (ext4 backend) */
};

struct sm_statfs {
	uint64_t bsize, frsize, blocks, bfree, bavail, files, ffree, namemax;
	uint64_t fsid;
};

/* Called once per directory entry by sm_readdir; return non-zero to stop
 * (the entry was not consumed).  `next` is the cookie that resumes after it. */
typedef int (*sm_dirent_fn)(void *ctx, const char *name, size_t namelen,
			    uint64_t ino, uint32_t type_mode, uint64_t next);

/* Open the filesystem on opts->image_fd.  On failure *msg (static or owned
 * by nobody) names what is wrong in one sentence for the user. */
int sm_fs_open(const struct sm_open_opts *opts, struct sm_fs **out, const char **msg);
/* Write everything back and free.  Returns the first write-back error. */
int sm_fs_close(struct sm_fs *fs);
uint64_t sm_backend_root(const struct sm_fs *fs);
/* A warning to print at mount time (dirty journal on a ro mount...), or NULL. */
const char *sm_fs_warning(const struct sm_fs *fs);

int sm_lookup(struct sm_fs *fs, uint64_t parent, const char *name, struct sm_attr *out);
int sm_getattr(struct sm_fs *fs, uint64_t ino, struct sm_attr *out);
int sm_setattr(struct sm_fs *fs, uint64_t ino, const struct sm_caller *who,
	       const struct sm_setattr *set, struct sm_attr *out);
int sm_readlink(struct sm_fs *fs, uint64_t ino, char *buf, size_t size);
/* mode carries the file type (S_IFREG, S_IFIFO, S_IFCHR, ...) */
int sm_mknod(struct sm_fs *fs, uint64_t parent, const char *name, uint32_t mode,
	     uint64_t rdev, const struct sm_caller *who, struct sm_attr *out);
int sm_mkdir(struct sm_fs *fs, uint64_t parent, const char *name, uint32_t mode,
	     const struct sm_caller *who, struct sm_attr *out);
int sm_symlink(struct sm_fs *fs, uint64_t parent, const char *name, const char *target,
	       const struct sm_caller *who, struct sm_attr *out);
int sm_link(struct sm_fs *fs, uint64_t ino, uint64_t newparent, const char *newname,
	    struct sm_attr *out);
int sm_unlink(struct sm_fs *fs, uint64_t parent, const char *name);
int sm_rmdir(struct sm_fs *fs, uint64_t parent, const char *name);
int sm_rename(struct sm_fs *fs, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, unsigned flags);

/* Open files.  Open counts keep unlinked inodes alive (on the orphan list)
 * until the last release.  `flags` are the open(2) flags. */
int sm_open(struct sm_fs *fs, uint64_t ino, int flags, uint64_t *fh);
int sm_create(struct sm_fs *fs, uint64_t parent, const char *name, uint32_t mode,
	      int flags, const struct sm_caller *who, struct sm_attr *out, uint64_t *fh);
int sm_release(struct sm_fs *fs, uint64_t ino, uint64_t fh);
ssize_t sm_read(struct sm_fs *fs, uint64_t ino, uint64_t fh, void *buf, size_t size, uint64_t off);
ssize_t sm_write(struct sm_fs *fs, uint64_t ino, uint64_t fh, const void *buf, size_t size,
		 uint64_t off);
int sm_fsync(struct sm_fs *fs, uint64_t ino, int datasync);
int sm_fallocate(struct sm_fs *fs, uint64_t ino, int mode, uint64_t off, uint64_t len);
/* whence is SEEK_DATA or SEEK_HOLE; the result is the new offset or -ENXIO. */
int64_t sm_lseek(struct sm_fs *fs, uint64_t ino, uint64_t off, int whence);

int sm_opendir(struct sm_fs *fs, uint64_t ino, uint64_t *fh);
int sm_readdir(struct sm_fs *fs, uint64_t ino, uint64_t fh, uint64_t off,
	       sm_dirent_fn fn, void *ctx);
int sm_releasedir(struct sm_fs *fs, uint64_t ino, uint64_t fh);

int sm_statfs(struct sm_fs *fs, struct sm_statfs *out);
int sm_sync(struct sm_fs *fs);

/* Extended attributes by their full Linux name ("user.x", "system.posix_acl_access").
 * get/list: size 0 asks for the needed size; too small a buffer is -ERANGE. */
ssize_t sm_getxattr(struct sm_fs *fs, uint64_t ino, const char *name, void *buf, size_t size);
ssize_t sm_listxattr(struct sm_fs *fs, uint64_t ino, char *buf, size_t size);
int sm_setxattr(struct sm_fs *fs, uint64_t ino, const char *name, const void *value,
		size_t size, int flags /* XATTR_CREATE / XATTR_REPLACE */);
int sm_removexattr(struct sm_fs *fs, uint64_t ino, const char *name);

/* FS_IOC_GETFLAGS / FS_IOC_SETFLAGS (the FS_*_FL values). */
int sm_get_flags(struct sm_fs *fs, uint64_t ino, uint32_t *flags);
int sm_set_flags(struct sm_fs *fs, uint64_t ino, const struct sm_caller *who, uint32_t flags);

#endif
