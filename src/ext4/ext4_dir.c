/* Directory contents: name checks, entry lookup / insertion / rewriting,
 * the emptiness test, and readdir over a snapshot of the entries.
 *
 * libext2fs walks the blocks (linear, htree and inline-data directories) and
 * rejects malformed records (rec_len, name_len, checksums); what it hands us
 * is still hostile: inode numbers and names are checked here before anyone
 * outside the backend sees them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ext4_private.h"

int ext4_check_name(const char *name, size_t *len)
{
	if (!name || !name[0])
		return -ENOENT;
	size_t n = strnlen(name, EXT2_NAME_LEN + 1);
	if (n > EXT2_NAME_LEN)
		return -ENAMETOOLONG;
	if (memchr(name, '/', n))
		return -EINVAL;
	*len = n;
	return 0;
}

int ext4_dir_lookup(struct sm_fs *f, ext2_ino_t dir, const char *name, size_t len,
		    ext2_ino_t *ino)
{
	ext2_ino_t found = 0;
	if (f->absent.gen == f->dir_gen && f->absent.dir == dir && f->absent.len == len &&
	    len <= sizeof(f->absent.name) && !memcmp(f->absent.name, name, len))
		return -ENOENT;
	/* A cached linear directory answers from memory; an indexed one in a
	 * few block reads; the linear scan reads every block (seconds per name
	 * in a 50k-entry directory). */
	int ret = ext4_dircache_lookup(f, dir, name, len, &found);
	if (ret == EXT4_DC_UNCACHED)
		ret = ext4_htree_lookup(f, dir, name, len, &found);
	if (ret == EXT4_HTREE_LINEAR) {
		errcode_t err = ext2fs_lookup(f->fs, dir, name, (int)len, NULL, &found);
		ret = ext4_err(err);
	}
	if (ret == -ENOENT && len <= sizeof(f->absent.name)) {
		f->absent.gen = f->dir_gen;
		f->absent.dir = dir;
		f->absent.len = len;
		memcpy(f->absent.name, name, len);
	}
	if (ret)
		return ret;
	/* An entry naming a reserved or nonexistent inode is corruption, not
	 * a stale handle. */
	if (ext4_check_ino(f, found))
		return -EUCLEAN;
	*ino = found;
	return 0;
}

/* The file type byte of a directory entry, when the filesystem stores one. */
static int entry_type(const struct sm_fs *f, uint32_t mode)
{
	return ext2fs_has_feature_filetype(f->fs->super) ? ext4_dirent_type(mode) : 0;
}

int ext4_dir_add(struct sm_fs *f, ext2_ino_t dir, const char *name, ext2_ino_t ino,
		 uint32_t mode)
{
	ext2_filsys fs = f->fs;
	errcode_t err;
	struct ext2_inode_large d;
	int ret = ext4_read_inode(f, dir, &d);
	if (ret)
		return ret;
	/* ext2fs_link inserts through the hash index with far fewer checks
	 * than ext4_htree_lookup makes: where that lookup refused the index
	 * (it answers EXT4_HTREE_LINEAR for an indexed directory), adding
	 * through it would spread the damage. */
	if ((d.i_flags & EXT2_INDEX_FL) && !(d.i_flags & EXT4_INLINE_DATA_FL) &&
	    ext2fs_has_feature_dir_index(fs->super)) {
		ext2_ino_t existing;
		ret = ext4_htree_lookup(f, dir, name, strlen(name), &existing);
		if (ret == EXT4_HTREE_LINEAR)
			return -EUCLEAN;
		if (ret == 0)
			return -EEXIST;
		if (ret != -ENOENT)
			return ret;
	}
	f->dir_gen++;
	ret = ext4_dircache_add(f, dir, name, strlen(name), ino, entry_type(f, mode));
	if (ret != EXT4_DC_UNCACHED)
		return ret;

	/* A full linear (or inline) directory grows by a block and we retry.
	 * For an htree directory ext2fs_link splits leaves itself; "no space"
	 * there means the tree is at its limit, and appending an unindexed
	 * block would corrupt it. */
	for (int tries = 0;; tries++) {
		err = ext2fs_link(fs, dir, name, ino, entry_type(f, mode));
		if (err != EXT2_ET_DIR_NO_SPACE || tries >= 2)
			break;
		ret = ext4_read_inode(f, dir, &d);
		if (ret)
			return ret;
		if (d.i_flags & EXT2_INDEX_FL)
			return -ENOSPC;
		err = ext2fs_expand_dir(fs, dir);
		if (err)
			break;
	}
	/* What the cache knew of dir (why it refused it) may no longer hold. */
	ext4_dircache_drop(f, dir);
	return ext4_err(err);
}

struct set_entry_ctx {
	const char *name;
	size_t len;
	ext2_ino_t old_ino, new_ino;
	int type;
	bool set_type, done;
};

static int set_entry_proc(ext2_ino_t dir, int entry, struct ext2_dir_entry *d, int offset,
			  int blocksize, char *buf, void *priv)
{
	struct set_entry_ctx *c = priv;
	(void)dir; (void)entry; (void)offset; (void)blocksize; (void)buf;
	if ((size_t)ext2fs_dirent_name_len(d) != c->len || memcmp(d->name, c->name, c->len) != 0)
		return 0;
	if (c->old_ino && d->inode != c->old_ino)
		return 0;
	d->inode = c->new_ino;
	if (c->set_type)
		ext2fs_dirent_set_file_type(d, c->type);
	c->done = true;
	return DIRENT_CHANGED | DIRENT_ABORT;
}

int ext4_dir_set_entry(struct sm_fs *f, ext2_ino_t dir, const char *name, size_t len,
		       ext2_ino_t old_ino, ext2_ino_t new_ino, uint32_t mode)
{
	f->dir_gen++;
	struct set_entry_ctx c = {
		.name = name, .len = len, .old_ino = old_ino, .new_ino = new_ino,
		.type = entry_type(f, mode), .set_type = ext2fs_has_feature_filetype(f->fs->super),
	};
	/* Rewriting in place keeps the slot (and the htree hash, which depends
	 * only on the name): it cannot run out of space half-way through.
	 * Inline-data directories are iterated (and written back) by
	 * ext2fs_dir_iterate2 on its own; DIRENT_FLAG_INCLUDE_INLINE_DATA is
	 * its internal "buffer already filled" flag and must not be passed. */
	int ret = ext4_dircache_set(f, dir, name, len, old_ino, new_ino, c.type, c.set_type);
	if (ret != EXT4_DC_UNCACHED)
		return ret;
	errcode_t err = ext2fs_dir_iterate2(f->fs, dir, 0, NULL,
					    set_entry_proc, &c);
	ext4_dircache_drop(f, dir);
	if (err)
		return ext4_err(err);
	return c.done ? 0 : -ENOENT;
}

int ext4_dir_remove(struct sm_fs *f, ext2_ino_t dir, const char *name, ext2_ino_t ino)
{
	f->dir_gen++;
	int ret = ext4_dircache_remove(f, dir, name, strlen(name), ino);
	if (ret != EXT4_DC_UNCACHED)
		return ret;
	errcode_t err = ext2fs_unlink(f->fs, dir, name, ino, 0);
	ext4_dircache_drop(f, dir);
	return ext4_err(err);
}

static bool dot_or_dotdot(const struct ext2_dir_entry *d)
{
	int len = ext2fs_dirent_name_len(d);
	return (len == 1 && d->name[0] == '.') ||
	       (len == 2 && d->name[0] == '.' && d->name[1] == '.');
}

static int empty_proc(ext2_ino_t dir, int entry, struct ext2_dir_entry *d, int offset,
		      int blocksize, char *buf, void *priv)
{
	bool *empty = priv;
	(void)dir; (void)entry; (void)offset; (void)blocksize; (void)buf;
	if (d->inode == 0 || dot_or_dotdot(d))
		return 0;
	*empty = false;
	return DIRENT_ABORT;
}

int ext4_dir_is_empty(struct sm_fs *f, ext2_ino_t dir)
{
	bool empty = true;
	errcode_t err = ext2fs_dir_iterate2(f->fs, dir, 0, NULL,
					    empty_proc, &empty);
	if (err)
		return ext4_err(err);
	return empty ? 1 : 0;
}

int ext4_read_child(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	/* An entry pointing at a free or deleted inode means the image is
	 * corrupt, not that a handle went stale. */
	int ret = ext4_read_inode(f, ino, inode);
	if (ret == -ESTALE)
		return -EUCLEAN;
	if (ret == 0 && inode->i_links_count == 0)
		return -EUCLEAN;
	return ret;
}

/* dir_nlink: a directory's link count stops at EXT2_LINK_MAX; with the
 * feature, more subdirectories make it 1 ("uncounted"), without it the
 * kernel refuses with EMLINK. */
int ext4_dir_nlink_check(const struct sm_fs *f, const struct ext2_inode_large *dir)
{
	if (dir->i_links_count >= EXT2_LINK_MAX && !ext2fs_has_feature_dir_nlink(f->fs->super))
		return -EMLINK;
	return 0;
}

static uint16_t dir_nlink_inc(uint16_t links)
{
	if (links == 1 || links >= EXT2_LINK_MAX)
		return 1;
	return (uint16_t)(links + 1);
}

static uint16_t dir_nlink_dec(uint16_t links)
{
	/* 1 means "uncounted" and stays; a directory keeps 2 for its own "."
	 * and its entry in the parent (as the kernel's ext4_dec_count). */
	return links > 2 ? (uint16_t)(links - 1) : links;
}

int ext4_dir_changed(struct sm_fs *f, ext2_ino_t dir, int nlink)
{
	struct ext2_inode_large inode;
	f->dir_gen++;
	/* Re-read: libext2fs may just have rewritten the inode (inline data,
	 * expansion, ext2fs_mkdir's own link count). */
	int ret = ext4_read_inode(f, dir, &inode);
	if (ret)
		return ret;
	if (nlink > 0)
		inode.i_links_count = dir_nlink_inc(inode.i_links_count);
	else if (nlink < 0)
		inode.i_links_count = dir_nlink_dec(inode.i_links_count);
	ext4_touch(&inode, true);
	return ext4_write_inode(f, dir, &inode);
}

/* ---- readdir ---------------------------------------------------------- */

struct snap_entry {
	ext2_ino_t ino;
	uint32_t type_mode;
	size_t name_off;
	uint8_t name_len;
};

/* What opendir hands out as fh: the entries as they were at the last
 * snapshot, so that cookies (index + 1) stay stable between calls. */
struct dir_handle {
	ext2_ino_t ino;
	bool fresh;              /* snapshot not served yet: off 0 needs no refresh */
	struct snap_entry *ents;
	size_t count, cap;
	char *names;
	size_t names_len, names_cap;
};

struct snap_ctx {
	struct sm_fs *f;
	struct dir_handle *h;
	int error;
};

static uint32_t type_mode_of(int ft)
{
	switch (ft) {
	case EXT2_FT_REG_FILE: return S_IFREG;
	case EXT2_FT_DIR: return S_IFDIR;
	case EXT2_FT_CHRDEV: return S_IFCHR;
	case EXT2_FT_BLKDEV: return S_IFBLK;
	case EXT2_FT_FIFO: return S_IFIFO;
	case EXT2_FT_SOCK: return S_IFSOCK;
	case EXT2_FT_SYMLINK: return S_IFLNK;
	default: return 0;       /* DT_UNKNOWN: the reader stats it */
	}
}

static int snap_proc(ext2_ino_t dir, int entry, struct ext2_dir_entry *d, int offset,
		     int blocksize, char *buf, void *priv)
{
	struct snap_ctx *c = priv;
	struct dir_handle *h = c->h;
	size_t len = (size_t)ext2fs_dirent_name_len(d);
	(void)dir; (void)entry; (void)offset; (void)blocksize; (void)buf;

	/* Entries the kernel could not use are skipped, not reported: a '/'
	 * or NUL in a name makes FUSE fail the whole readdir. */
	if (d->inode == 0 || ext4_check_ino(c->f, d->inode) || len == 0 ||
	    memchr(d->name, '/', len) || memchr(d->name, '\0', len))
		return 0;
	if (h->count >= EXT4_MAX_DIR_ENTRIES) {
		c->error = -EUCLEAN;
		return DIRENT_ABORT;
	}
	if (h->count == h->cap) {
		size_t ncap = h->cap ? h->cap * 2 : 64;
		struct snap_entry *n = realloc(h->ents, ncap * sizeof(*n));
		if (!n)
			goto nomem;
		h->ents = n;
		h->cap = ncap;
	}
	if (h->names_cap - h->names_len < len) {
		size_t ncap = h->names_cap ? h->names_cap * 2 : 4096;
		while (ncap - h->names_len < len)
			ncap *= 2;
		char *n = realloc(h->names, ncap);
		if (!n)
			goto nomem;
		h->names = n;
		h->names_cap = ncap;
	}
	memcpy(h->names + h->names_len, d->name, len);
	struct snap_entry *e = &h->ents[h->count++];
	e->ino = d->inode;
	e->name_off = h->names_len;
	e->name_len = (uint8_t)len;
	e->type_mode = ext2fs_has_feature_filetype(c->f->fs->super) ?
		       type_mode_of(ext2fs_dirent_file_type(d)) : 0;
	h->names_len += len;
	return 0;
nomem:
	c->error = -ENOMEM;
	return DIRENT_ABORT;
}

static int take_snapshot(struct sm_fs *f, struct dir_handle *h)
{
	struct snap_ctx c = { .f = f, .h = h };
	h->count = 0;
	h->names_len = 0;
	errcode_t err = ext2fs_dir_iterate2(f->fs, h->ino, 0, NULL,
					    snap_proc, &c);
	if (c.error)
		return c.error;
	return ext4_err(err);
}

static void free_handle(struct dir_handle *h)
{
	if (!h)
		return;
	free(h->ents);
	free(h->names);
	free(h);
}

int sm_opendir(struct sm_fs *f, uint64_t ino, uint64_t *fh)
{
	struct ext2_inode_large inode;
	struct dir_handle *h = NULL;
	int ret;

	EXT4_LOCK(f);
	ret = ext4_read_inode(f, (ext2_ino_t)ino, &inode);
	if (ret)
		goto out;
	if (!LINUX_S_ISDIR(inode.i_mode)) {
		ret = -ENOTDIR;
		goto out;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		ret = -ENOMEM;
		goto out;
	}
	h->ino = (ext2_ino_t)ino;
	ret = take_snapshot(f, h);
	if (ret)
		goto out_free;
	h->fresh = true;
	*fh = (uint64_t)(uintptr_t)h;
	EXT4_UNLOCK(f);
	return 0;

out_free:
	free_handle(h);
out:
	EXT4_UNLOCK(f);
	return ret;
}

int sm_readdir(struct sm_fs *f, uint64_t ino, uint64_t fh, uint64_t off,
	       sm_dirent_fn fn, void *ctx)
{
	struct dir_handle *h = (struct dir_handle *)(uintptr_t)fh;
	int ret = 0;

	EXT4_LOCK(f);
	if (!h || h->ino != ino) {
		ret = -EBADF;
		goto out;
	}
	if (off == 0) {
		/* A rewind (or the first call) sees the directory as it is now. */
		if (!h->fresh) {
			ret = take_snapshot(f, h);
			if (ret)
				goto out;
		}
		/* atime is best effort: a failed update must not fail the listing */
		(void)ext4_touch_atime(f, h->ino);
	}
	h->fresh = false;
	for (uint64_t i = off; i < h->count; i++) {
		const struct snap_entry *e = &h->ents[i];
		if (fn(ctx, h->names + e->name_off, e->name_len, e->ino, e->type_mode, i + 1))
			break;
	}
out:
	EXT4_UNLOCK(f);
	return ret;
}

int sm_releasedir(struct sm_fs *f, uint64_t ino, uint64_t fh)
{
	(void)ino;
	EXT4_LOCK(f);
	free_handle((struct dir_handle *)(uintptr_t)fh);
	EXT4_UNLOCK(f);
	return 0;
}
