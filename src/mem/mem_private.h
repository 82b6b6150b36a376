/* Shared state of the in-memory backend (safemount-mem).
 *
 * The same interface as the ext4 backend (include/safemount/backend.h), but
 * every inode, name and byte lives in the server's memory and nothing is
 * read from or written to the image: it measures what the FUSE glue, the
 * kernel and the sandboxed server cost on their own (the benchmark's
 * "ceiling"), and lets the glue be tested without ext4.
 *
 * Semantics follow the ext4 backend (and so the kernel's ext4): the same
 * errnos, link counts, times, flags, ACLs and limits, wherever memory makes
 * that cheap.  One mutex, fs->lock, is taken by every public sm_* entry
 * point for its whole duration; the helpers below assume it is held.
 * Helpers return 0 or a negative errno.
 */
#ifndef SAFEMOUNT_MEM_PRIVATE_H
#define SAFEMOUNT_MEM_PRIVATE_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "safemount/backend.h"

#define MEM_ROOT_INO     2u               /* as ext4: st_ino of the root is 2 */
#define MEM_PAGE_SHIFT   12u
#define MEM_PAGE_SIZE    (1u << MEM_PAGE_SHIFT)
#define MEM_NAME_MAX     255u             /* EXT4_NAME_LEN */
#define MEM_SYMLINK_MAX  4096u            /* target and NUL fit a 4 KiB block */
#define MEM_LINK_MAX     65000u           /* EXT4_LINK_MAX */
#define MEM_XATTR_MAX    (64u << 10)      /* one value, as XATTR_SIZE_MAX */
/* What ext4 with 4 KiB blocks allows an extent-mapped file. */
#define MEM_MAX_FILE_SIZE (((1ULL << 32) - 1) << MEM_PAGE_SHIFT)
/* Directories report ext4's size for a one-block directory. */
#define MEM_DIR_SIZE     MEM_PAGE_SIZE
/* Bytes of capacity per inode: the inode count is cap / MEM_INODE_RATIO,
 * fixed at mount like ext4's, so statfs's free inodes are exact. */
#define MEM_INODE_RATIO  2048u
/* File handles carry what read needs to know about the open. */
#define MEM_FH_NOATIME   1u               /* O_NOATIME: reads leave atime */

/* One name in a directory.  Entries are allocated one by one, so pointers
 * to them survive table growth. */
struct mem_dirent {
	struct mem_dirent *hnext;  /* hash chain */
	uint64_t ino;
	uint32_t hash;
	uint32_t type;             /* S_IFMT bits of the inode it names */
	size_t slot;               /* index in mem_dir.slots: the readdir cookie */
	uint16_t len;
	char name[];               /* len bytes and a NUL */
};

/* A directory: a hash table for lookups and, for readdir, the entries in
 * the order they were made.  A removed entry leaves a hole (NULL) in
 * `slots`, so the cookies (slot + 3) of the others stay valid for open
 * handles; the holes are squeezed out only while nobody has it open. */
struct mem_dir {
	struct mem_dirent **buckets;
	size_t nbuckets;           /* a power of two, or 0 */
	struct mem_dirent **slots;
	size_t nslots, slots_cap;
	size_t count;              /* live entries */
	uint64_t parent;           /* ".." */
};

/* File data: a radix tree of MEM_PAGE_SIZE pages by page index, MEM_FANOUT
 * ways per level, `height` levels (0: root is page 0 itself).  Missing
 * pages are holes and read as zeros, so a sparse file costs only what was
 * written.  Bytes past i_size are always zero in the pages that hold them
 * (truncate and punch clear them), so growing a file never needs to. */
#define MEM_FANOUT_SHIFT 6u
#define MEM_FANOUT       (1u << MEM_FANOUT_SHIFT)
struct mem_node {
	void *slot[MEM_FANOUT];
	unsigned used;             /* non-NULL slots */
};

struct mem_file {
	void *root;
	unsigned height;
	uint64_t pages;            /* allocated pages, for st_blocks */
};

struct mem_xattr {
	struct mem_xattr *next;
	size_t name_len, value_len;
	unsigned char *value;      /* after the name in the same allocation */
	char name[];
};

struct mem_inode {
	uint64_t ino, generation;
	uint32_t mode, uid, gid, nlink;
	uint32_t flags;            /* FS_*_FL, as FS_IOC_GETFLAGS shows them */
	uint32_t opens;            /* open file and directory handles */
	uint64_t rdev, size;
	struct timespec atime, mtime, ctime, btime;
	struct mem_xattr *xattrs;  /* in the order they were set */
	size_t xattr_list;         /* listxattr's size: names and NULs */
	union {
		struct mem_dir dir;
		struct mem_file file;
		char *target;      /* symlinks, NUL-terminated, size bytes */
	} u;
};

struct sm_fs {
	pthread_mutex_t lock;
	bool read_only;
	enum sm_atime_policy atime;
	/* Inodes by number: O(1) for every request.  Freed numbers are
	 * reused (with a new generation), so the table stays as large as
	 * the most inodes ever alive at once. */
	struct mem_inode **inodes;
	size_t inodes_cap;
	uint64_t next_ino;         /* lowest number never handed out */
	uint64_t *free_inos;
	size_t nfree, free_cap;
	uint64_t live_inodes, max_inodes;
	uint64_t generation;
	uint32_t hash_seed;
	uint64_t fsid;
	/* Everything allocated for the filesystem's contents is charged to
	 * `used`; more than `cap` is ENOSPC (statfs reports the two). */
	uint64_t cap, used;
};

#define MEM_LOCK(f)   pthread_mutex_lock(&(f)->lock)
#define MEM_UNLOCK(f) pthread_mutex_unlock(&(f)->lock)

static inline int mem_check_rw(const struct sm_fs *f)
{
	return f->read_only ? -EROFS : 0;
}

/* ---- mem_backend.c: space, inodes, times ---- */

/* Reserve n bytes against the cap (-ENOSPC), or give them back. */
int mem_charge(struct sm_fs *f, uint64_t n);
void mem_uncharge(struct sm_fs *f, uint64_t n);

struct timespec mem_now(void);
/* ctime (and mtime when `mtime`) to now. */
void mem_touch(struct mem_inode *inode, bool mtime);
/* Record a read access per the mount's atime policy (relatime...). */
void mem_touch_atime(struct sm_fs *f, struct mem_inode *inode);

/* The live inode `ino`, or NULL (-ESTALE for the caller). */
struct mem_inode *mem_inode_get(struct sm_fs *f, uint64_t ino);
/* The same, as an error code: 0 and *out, or -ESTALE. */
int mem_inode_find(struct sm_fs *f, uint64_t ino, struct mem_inode **out);
/* A new inode of the given mode with a fresh number and generation, times
 * now, nlink 0 (the caller links it). */
int mem_inode_new(struct sm_fs *f, uint32_t mode, struct mem_inode **out);
/* Free an inode and everything it holds; its number becomes reusable. */
void mem_inode_free(struct sm_fs *f, struct mem_inode *inode);
/* Called when nlink or opens may have reached 0: frees the inode when both
 * have. */
void mem_inode_put(struct sm_fs *f, struct mem_inode *inode);
void mem_fill_attr(const struct mem_inode *inode, struct sm_attr *out);
/* -EPERM for immutable inodes; for append-only ones only if !appending. */
int mem_check_modify(const struct mem_inode *inode, bool appending);

/* ---- mem_dir.c: directory entries ---- */

/* A valid name is 1..255 bytes without '/'; *len gets its length. */
int mem_check_name(const char *name, size_t *len);
struct mem_dirent *mem_dir_find(const struct sm_fs *f, const struct mem_dir *dir,
				const char *name, size_t len);
int mem_dir_add(struct sm_fs *f, struct mem_inode *dir, const char *name, size_t len,
		const struct mem_inode *child);
void mem_dir_remove(struct sm_fs *f, struct mem_inode *dir, struct mem_dirent *e);
/* Squeeze out removed entries if nobody can hold a cookie into them. */
void mem_dir_maybe_compact(struct sm_fs *f, struct mem_inode *dir);
void mem_dir_free(struct sm_fs *f, struct mem_dir *dir);
/* Entries of dir changed: mtime/ctime now, links +1/-1 for a subdirectory
 * (ext4's dir_nlink rules). */
void mem_dir_changed(struct mem_inode *dir, int nlink);

/* ---- mem_data.c: file data ---- */

/* Change the size, freeing every page past it (preallocated ones too). */
void mem_truncate(struct sm_fs *f, struct mem_inode *inode, uint64_t size);
void mem_file_free(struct sm_fs *f, struct mem_file *file);

/* ---- mem_xattr.c: extended attributes and ACLs ---- */

/* The ACLs of a new inode, as the kernel's posix_acl_create: derived from
 * the parent's default ACL, or else the umask applies to *mode. */
struct mem_new_acl {
	unsigned char *access, *dflt;   /* Linux xattr format, or NULL */
	size_t access_len, dflt_len;
};
int mem_acl_prepare(struct sm_fs *f, const struct mem_inode *dir, uint32_t *mode,
		    uint32_t umask, struct mem_new_acl *acl);
int mem_acl_store(struct sm_fs *f, struct mem_inode *inode, const struct mem_new_acl *acl);
void mem_acl_release(struct mem_new_acl *acl);
/* posix_acl_chmod: after a mode change, the access ACL follows. */
int mem_acl_chmod(struct sm_fs *f, struct mem_inode *inode);
void mem_xattrs_free(struct sm_fs *f, struct mem_inode *inode);

#endif
