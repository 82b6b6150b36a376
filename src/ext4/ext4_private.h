/* Shared state and helpers of the ext2/3/4 backend (libext2fs).
 *
 * libext2fs is not thread-safe: every public sm_* entry point takes fs->lock
 * for its whole duration (EXT4_LOCK/EXT4_UNLOCK) and the helpers below assume
 * it is held.  Helpers return 0 or a negative errno.
 */
#ifndef SAFEMOUNT_EXT4_PRIVATE_H
#define SAFEMOUNT_EXT4_PRIVATE_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <ext2fs/ext2fs.h>

#include "safemount/backend.h"

/* Caps on what image data may make us do: see docs/security.md. */
#define EXT4_MAX_SYMLINK     4096u        /* PATH_MAX: longer targets are corrupt */
#define EXT4_MAX_DIR_ENTRIES (8u << 20)   /* readdir snapshot cap per directory */
#define EXT4_MAX_XATTR_SIZE  (64u << 10)  /* one value, as XATTR_SIZE_MAX */
#define EXT4_MAX_ORPHANS     65536u       /* orphan chain walk bound at mount */

/* One entry per inode that has open file handles: unlinked inodes stay
 * allocated (on the orphan list) until the last release. */
struct ext4_open_inode {
	ext2_ino_t ino;
	uint32_t opens;
	struct ext4_open_inode *next;
};

#define EXT4_OPEN_BUCKETS 1024u

/* File data is read outside fs->lock (see sm_read); these per-inode
 * (striped) locks keep the blocks being read from being freed or remapped
 * meanwhile.  Order: a data lock, then fs->lock, never the other way. */
#define EXT4_DATA_LOCKS 64u

struct sm_fs {
	ext2_filsys fs;
	pthread_mutex_t lock;
	pthread_rwlock_t data_lock[EXT4_DATA_LOCKS];
	int image_fd;
	bool read_only;
	enum sm_atime_policy atime;
	const char *warning;
	const char *image_name;
	bool htree_warned;   /* a bad directory index was logged (once per mount) */
	/* Bumped by every change to any directory's entries. */
	uint64_t dir_gen;
	/* The last name found absent: the kernel's LOOKUP of a new name is
	 * followed by CREATE/MKDIR of it, whose own check would scan the
	 * directory again.  Valid while dir_gen is unchanged. */
	struct {
		uint64_t gen;
		ext2_ino_t dir;
		size_t len;
		char name[EXT2_NAME_LEN];
	} absent;
	struct ext4_open_inode *open_inodes[EXT4_OPEN_BUCKETS];
	/* Names of linear directories (ext4_dircache.c); NULL until first use. */
	struct ext4_dircache *dircache;
	/* Tests: measure the uncached path; lower the caps (0: defaults) to
	 * exercise eviction.  Caps are read when the cache is first used. */
	bool dircache_off;
	size_t dircache_max_names, dircache_max_dirs;
	/* Writes aged dirty metadata on an idle mount (ext4_flusher.c). */
	struct {
		pthread_t thread;
		pthread_cond_t wake;   /* with fs->lock */
		bool running, stop;
	} flusher;
};

void ext4_flusher_start(struct sm_fs *f);
void ext4_flusher_stop(struct sm_fs *f);

/* File handles of regular files carry open flags the backend needs later. */
#define EXT4_FH_NOATIME 1u   /* opened with O_NOATIME: reads leave atime alone */
static inline uint64_t ext4_fh_from_flags(int flags)
{
	return (flags & O_NOATIME) ? EXT4_FH_NOATIME : 0;
}

#define EXT4_DATA_RDLOCK(f, ino) pthread_rwlock_rdlock(&(f)->data_lock[(ino) % EXT4_DATA_LOCKS])
#define EXT4_DATA_WRLOCK(f, ino) pthread_rwlock_wrlock(&(f)->data_lock[(ino) % EXT4_DATA_LOCKS])
#define EXT4_DATA_UNLOCK(f, ino) pthread_rwlock_unlock(&(f)->data_lock[(ino) % EXT4_DATA_LOCKS])

#define EXT4_LOCK(f)   pthread_mutex_lock(&(f)->lock)
#define EXT4_UNLOCK(f) pthread_mutex_unlock(&(f)->lock)

/* Map a libext2fs error code (or a plain errno it passes through) to -errno.
 * Checksum, magic and "corrupt" codes become -EUCLEAN. */
int ext4_err(errcode_t err);

/* Is ino a valid inode number to ask the image about?  -ESTALE if not. */
int ext4_check_ino(const struct sm_fs *f, uint64_t ino);

/* Read / write a full (large) inode.  Reading validates what every caller
 * relies on: a known file type and, for in-use inodes, links_count > 0
 * (0 with dtime set is -ESTALE: the inode was deleted). */
int ext4_read_inode(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode);
int ext4_write_inode(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode);

/* Fill the backend attribute struct from an inode. */
void ext4_fill_attr(const struct sm_fs *f, ext2_ino_t ino,
		    const struct ext2_inode_large *inode, struct sm_attr *out);

/* Inode timestamps with nanoseconds and the epoch bits of *_extra. */
enum ext4_time_field { EXT4_ATIME, EXT4_MTIME, EXT4_CTIME, EXT4_CRTIME };
struct timespec ext4_get_time(const struct ext2_inode_large *inode, enum ext4_time_field which);
void ext4_set_time(struct ext2_inode_large *inode, enum ext4_time_field which,
		   struct timespec ts);
struct timespec ext4_now(void);
/* Set ctime (and mtime when `mtime` is true) to now. */
void ext4_touch(struct ext2_inode_large *inode, bool mtime);

/* Write everything libext2fs holds back (superblock, descriptors,
 * bitmaps) and fsync the image; nothing on a read-only mount. */
int ext4_flush_all(struct sm_fs *f);

/* Record an access after a read or readdir, per the mount's atime policy
 * (relatime by default) and the inode's noatime/immutable flags.  Callers
 * ignore failures: a missed atime does not fail the read. */
int ext4_touch_atime(struct sm_fs *f, ext2_ino_t ino);

/* Full 64-bit size and the file type as a DT_/EXT2_FT_ value from i_mode. */
uint64_t ext4_isize(const struct ext2_inode_large *inode);
int ext4_dirent_type(uint32_t mode);

/* Open-count table (ext4_fs.c). */
uint32_t ext4_open_count(struct sm_fs *f, ext2_ino_t ino);
int ext4_open_get(struct sm_fs *f, ext2_ino_t ino);
/* Returns the remaining count. */
uint32_t ext4_open_put(struct sm_fs *f, ext2_ino_t ino);

/* Orphan handling (ext4_orphan.c): called when links_count reaches 0.
 * If the inode is still open it goes on the on-disk orphan list; otherwise
 * its blocks and the inode are freed at once. */
int ext4_drop_inode(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode);
/* Free an inode whose last link and last opener are gone. */
int ext4_free_inode(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode);
/* At a rw mount: free what a crash left on the orphan list. */
int ext4_process_orphans(struct sm_fs *f);

/* File data (ext4_data.c): change i_size to `size`, freeing blocks past it
 * (or just growing it: sparse).  -EFBIG beyond the format's maximum file
 * size.  Updates and writes the inode (mtime/ctime are the caller's job). */
int ext4_truncate(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode, uint64_t size);
/* Largest file size this filesystem can hold for this inode's mapping. */
uint64_t ext4_max_file_size(const struct sm_fs *f, const struct ext2_inode_large *inode);
/* ext2fs_punch() of logical blocks [start, end] (end ~0: to the end), safe
 * against libext2fs 1.47.0 leaking blocks when a freed run ends at the
 * filesystem's last block.  Updates and writes *inode's block map. */
int ext4_punch(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
	       blk64_t start, blk64_t end);

/* -EPERM for immutable inodes; for append-only ones only if !appending. */
int ext4_check_modify(const struct ext2_inode_large *inode, bool appending);

/* POSIX ACLs of new inodes (ext4_xattr.c), as the kernel's posix_acl_create.
 * ext4_acl_prepare reads dir's default ACL before the inode is made and
 * adjusts *mode (type and permission bits): without a default ACL the umask
 * applies; with one, the new access ACL is derived from it and the mode from
 * that.  A malformed or oversized default ACL is -EUCLEAN (nothing is
 * created).  ext4_acl_store writes what was derived onto the new inode,
 * after the inode itself was written (the caller re-reads it: the xattr
 * block may have changed i_blocks); ext4_acl_release frees it. */
struct ext4_new_acl {
	unsigned char *access;   /* on-disk format; NULL: the mode says it all */
	unsigned char *dflt;     /* directories: the inherited default ACL */
	size_t access_len, dflt_len;
};
int ext4_acl_prepare(struct sm_fs *f, ext2_ino_t dir, uint32_t *mode, uint32_t umask,
		     struct ext4_new_acl *acl);
int ext4_acl_store(struct sm_fs *f, ext2_ino_t ino, const struct ext4_new_acl *acl);
void ext4_acl_release(struct ext4_new_acl *acl);
/* posix_acl_chmod: after ino's mode became `mode` (already written), its
 * access ACL's owner, group-class and other entries follow. */
int ext4_acl_chmod(struct sm_fs *f, ext2_ino_t ino, uint32_t mode);

/* Directory entries (ext4_dir.c), shared by ext4_namei.c and ext4_rename.c.
 * A valid name is 1..EXT2_NAME_LEN bytes without '/'; *len gets its length. */
int ext4_check_name(const char *name, size_t *len);
/* Entry `name` of dir: -ENOENT if absent, -EUCLEAN if it names no valid inode. */
int ext4_dir_lookup(struct sm_fs *f, ext2_ino_t dir, const char *name, size_t len,
		    ext2_ino_t *ino);
/* The same through dir's hash index (ext4_htree.c): 0 with *ino set,
 * -ENOENT, -ENOMEM, or EXT4_HTREE_LINEAR when dir is not indexed or its index
 * cannot be trusted (logged once per mount): then ext2fs_lookup must answer. */
#define EXT4_HTREE_LINEAR 1
int ext4_htree_lookup(struct sm_fs *f, ext2_ino_t dir, const char *name, size_t len,
		      ext2_ino_t *ino);
/* Add an entry (the caller checked it is absent), growing the directory if full. */
int ext4_dir_add(struct sm_fs *f, ext2_ino_t dir, const char *name, ext2_ino_t ino,
		 uint32_t mode);
/* Point the existing entry `name` (naming old_ino, or anything if 0) at new_ino. */
int ext4_dir_set_entry(struct sm_fs *f, ext2_ino_t dir, const char *name, size_t len,
		       ext2_ino_t old_ino, ext2_ino_t new_ino, uint32_t mode);
/* 1 if dir holds nothing but "." and "..", 0 if it does, or -errno. */
int ext4_dir_is_empty(struct sm_fs *f, ext2_ino_t dir);
/* Read the inode an entry names: a free or unlinked one is -EUCLEAN. */
int ext4_read_child(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode);
/* -EMLINK if dir cannot take another subdirectory (dir_nlink rules). */
int ext4_dir_nlink_check(const struct sm_fs *f, const struct ext2_inode_large *dir);
/* Entries of dir changed: mtime/ctime now, links +1/-1 for a subdirectory. */
int ext4_dir_changed(struct sm_fs *f, ext2_ino_t dir, int nlink);

/* Remove the entry `name` (naming ino, or anything if 0) from dir. */
int ext4_dir_remove(struct sm_fs *f, ext2_ino_t dir, const char *name, ext2_ino_t ino);

/* In-memory index of linear directories (ext4_dircache.c): name -> (inode,
 * block) and each block's largest free slot, built by one scan on first use,
 * so that lookup, add and remove touch one block instead of all of them.
 * Only plain block directories are cached (not inline-data, not indexed);
 * one that cannot be trusted (any malformed entry, a hole, duplicates) is
 * not cached and the callers keep using libext2fs.  The functions below
 * return EXT4_DC_UNCACHED when dir is not cached: the caller takes the
 * libext2fs path and must then call ext4_dircache_drop(dir). */
#define EXT4_DC_UNCACHED 1
/* 0 with *ino set, -ENOENT, or EXT4_DC_UNCACHED. */
int ext4_dircache_lookup(struct sm_fs *f, ext2_ino_t dir, const char *name, size_t len,
			 ext2_ino_t *ino);
/* Insert an entry (the caller checked it is absent), growing dir by a block
 * if no block has room.  `type` is the EXT2_FT_ value (0 without filetype). */
int ext4_dircache_add(struct sm_fs *f, ext2_ino_t dir, const char *name, size_t len,
		      ext2_ino_t ino, int type);
/* Remove `name` (naming ino, or anything if ino is 0). */
int ext4_dircache_remove(struct sm_fs *f, ext2_ino_t dir, const char *name, size_t len,
			 ext2_ino_t ino);
/* Point `name` (naming old_ino, or anything if 0) at new_ino; the type byte
 * is rewritten when set_type. */
int ext4_dircache_set(struct sm_fs *f, ext2_ino_t dir, const char *name, size_t len,
		      ext2_ino_t old_ino, ext2_ino_t new_ino, int type, bool set_type);
/* Forget dir: its entries changed behind the cache's back, or it is gone. */
void ext4_dircache_drop(struct sm_fs *f, ext2_ino_t dir);
/* Free everything (unmount). */
void ext4_dircache_free(struct sm_fs *f);
/* Directories cached (refused ones not counted) and names held: for tests. */
void ext4_dircache_stats(const struct sm_fs *f, size_t *dirs, size_t *names);

/* Writes are refused on ro mounts and on immutable / append-only inodes. */
static inline int ext4_check_rw(const struct sm_fs *f)
{
	return f->read_only ? -EROFS : 0;
}

#endif
