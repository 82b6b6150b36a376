/* Name operations of the ext2/3/4 backend: lookup, getattr, readlink, and
 * creating and removing names (mknod, create, mkdir, symlink, link, unlink,
 * rmdir).
 *
 * The kernel (FUSE default_permissions) has done the rwx checks; what is
 * left here is filesystem semantics the VFS cannot know about: immutable and
 * append-only flags, link count limits, setgid directories, the umask or
 * the parent's default ACL (the FUSE glue asks for DONT_MASK), and the
 * orphan list that keeps unlinked-but-open files alive.  Rename lives in
 * ext4_rename.c, directory entries and readdir in ext4_dir.c, setattr,
 * open/release and inode flags in ext4_inode.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ext4_private.h"

static bool is_dot(const char *name, size_t len)
{
	return len == 1 && name[0] == '.';
}

static bool is_dotdot(const char *name, size_t len)
{
	return len == 2 && name[0] == '.' && name[1] == '.';
}

static int read_dir(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	int ret = ext4_read_inode(f, ino, inode);
	if (ret)
		return ret;
	return LINUX_S_ISDIR(inode->i_mode) ? 0 : -ENOTDIR;
}

/* A directory that is to receive a new entry: alive (a removed directory
 * that is still open takes no new names) and not immutable.  Append-only
 * directories accept new entries. */
static int read_dir_for_add(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	int ret = read_dir(f, ino, inode);
	if (ret)
		return ret;
	if (inode->i_links_count == 0)
		return -ENOENT;
	return ext4_check_modify(inode, true);
}

/* What every operation that adds `name` to `parent` checks first, in the
 * kernel's order: a valid name that is not "." or "..", a directory we may
 * add to, and no entry of that name yet (-EEXIST). */
static int check_new_name(struct sm_fs *f, ext2_ino_t parent, const char *name, size_t *len,
			  struct ext2_inode_large *dir)
{
	ext2_ino_t existing;
	int ret = ext4_check_name(name, len);
	if (ret)
		return ret;
	if (is_dot(name, *len) || is_dotdot(name, *len))
		return -EEXIST;
	ret = read_dir_for_add(f, parent, dir);
	if (ret)
		return ret;
	ret = ext4_dir_lookup(f, parent, name, *len, &existing);
	/* The caller adds the name next, maybe inside libext2fs (mkdir,
	 * symlink) where ext4_dir_add cannot forget the absent name. */
	f->dir_gen++;
	if (ret == 0)
		return -EEXIST;
	return ret == -ENOENT ? 0 : ret;
}

static void set_owner(struct ext2_inode_large *inode, uint32_t uid, uint32_t gid)
{
	inode->i_uid = (uint16_t)uid;
	ext2fs_set_i_uid_high(*inode, (uint16_t)(uid >> 16));
	inode->i_gid = (uint16_t)gid;
	ext2fs_set_i_gid_high(*inode, (uint16_t)(gid >> 16));
}

/* Owner, group and mode of a new inode, as the kernel's inode_init_owner:
 * a setgid directory passes on its group, and its setgid bit to
 * subdirectories. */
static void init_owner(struct ext2_inode_large *inode, const struct ext2_inode_large *dir,
		       uint32_t mode, const struct sm_caller *who)
{
	uint32_t uid = who ? who->uid : 0, gid = who ? who->gid : 0;
	if (dir->i_mode & S_ISGID) {
		gid = inode_gid(*dir);
		/* The VFS (mode_strip_sgid) already dropped S_ISGID for callers
		 * outside the group, knowing their supplementary groups. */
		if (S_ISDIR(mode))
			mode |= S_ISGID;
	}
	inode->i_mode = (uint16_t)mode;
	set_owner(inode, uid, gid);
}

static uint32_t random_u32(void)
{
	uint32_t v;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
		/* No entropy yet: generations only need to differ between uses. */
		struct timespec now = ext4_now();
		v = (uint32_t)now.tv_nsec ^ (uint32_t)now.tv_sec ^ ((uint32_t)getpid() << 16);
	}
	return v;
}

/* Fields every new inode gets after libext2fs (or we) laid it out. */
static void init_new_inode(struct ext2_inode_large *inode)
{
	struct timespec now = ext4_now();
	ext4_set_time(inode, EXT4_ATIME, now);
	ext4_set_time(inode, EXT4_MTIME, now);
	ext4_set_time(inode, EXT4_CTIME, now);
	ext4_set_time(inode, EXT4_CRTIME, now);
	inode->i_dtime = 0;
	inode->i_generation = random_u32();
}

/* Write a brand-new inode over the whole on-disk slot: bytes past our
 * struct (the in-inode xattr area) may hold a deleted file's attributes. */
static int write_new_inode(struct sm_fs *f, ext2_ino_t ino, const struct ext2_inode_large *inode)
{
	size_t isz = EXT2_INODE_SIZE(f->fs->super);
	size_t n = isz > sizeof(*inode) ? isz : sizeof(*inode);
	char *buf = calloc(1, n);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, inode, isz < sizeof(*inode) ? isz : sizeof(*inode));
	errcode_t err = ext2fs_write_inode_full(f->fs, ino, (struct ext2_inode *)buf, (int)isz);
	free(buf);
	return ext4_err(err);
}

/* Device numbers as the kernel stores them: the old 8:8 encoding in
 * i_block[0] when it fits, else the new one in i_block[1]. */
static void encode_rdev(struct ext2_inode_large *inode, uint64_t rdev)
{
	unsigned maj = major(rdev), min = minor(rdev);
	if (maj < 256 && min < 256) {
		inode->i_block[0] = (maj << 8) | min;
	} else {
		inode->i_block[0] = 0;
		inode->i_block[1] = (min & 0xff) | (maj << 8) | ((min & ~0xffu) << 12);
	}
}

/* Give a new, linked inode the ACLs ext4_acl_prepare derived, and *inode
 * what that wrote.  As the kernel fails a creation whose ACLs cannot be
 * stored, a failure takes the inode back out again (best effort: the error
 * reported is the ACL's; a directory's parent link count is the caller's). */
static int store_acl(struct sm_fs *f, ext2_ino_t parent, const char *name, ext2_ino_t ino,
		     const struct ext4_new_acl *acl, struct ext2_inode_large *inode)
{
	if (!acl->access && !acl->dflt)
		return 0;
	int ret = ext4_acl_store(f, ino, acl);
	if (!ret)
		return ext4_read_inode(f, ino, inode);
	if (ext4_dir_remove(f, parent, name, ino) == 0) {
		struct ext2_inode_large dead;
		memset(&dead, 0, sizeof(dead));
		if (ext2fs_read_inode_full(f->fs, ino, (struct ext2_inode *)&dead,
					   sizeof(dead)) == 0)
			(void)ext4_free_inode(f, ino, &dead);
	}
	return ret;
}

/* Create a non-directory, non-symlink inode named `name` in `parent`. */
static int create_node(struct sm_fs *f, ext2_ino_t parent, const char *name, uint32_t mode,
		       uint64_t rdev, const struct sm_caller *who, ext2_ino_t *out_ino,
		       struct ext2_inode_large *out)
{
	ext2_filsys fs = f->fs;
	struct ext2_inode_large dir, inode;
	struct ext4_new_acl acl = { 0 };
	ext2_ino_t ino;
	size_t len;
	errcode_t err;
	int ret;

	ret = check_new_name(f, parent, name, &len, &dir);
	if (ret)
		return ret;
	/* The parent's default ACL (or else the umask) shapes the mode. */
	ret = ext4_acl_prepare(f, parent, &mode, who ? who->umask : 0, &acl);
	if (ret)
		return ret;

	err = ext2fs_new_inode(fs, parent, (int)mode, NULL, &ino);
	if (err) {
		ret = ext4_err(err);
		goto out;
	}
	memset(&inode, 0, sizeof(inode));
	init_owner(&inode, &dir, mode, who);
	inode.i_links_count = 1;
	if (EXT2_INODE_SIZE(fs->super) > EXT2_GOOD_OLD_INODE_SIZE)
		inode.i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
	init_new_inode(&inode);
	switch (mode & S_IFMT) {
	case S_IFCHR:
	case S_IFBLK:
		encode_rdev(&inode, rdev);
		break;
	case S_IFREG:
		if (ext2fs_has_feature_extents(fs->super)) {
			ext2_extent_handle_t handle;
			/* Opening the extent tree of an empty inode writes the
			 * header into i_block (in our copy only). */
			inode.i_flags |= EXT4_EXTENTS_FL;
			err = ext2fs_extent_open2(fs, ino, (struct ext2_inode *)&inode, &handle);
			if (err) {
				ret = ext4_err(err);
				goto out;
			}
			ext2fs_extent_free(handle);
		}
		break;
	default:
		break;
	}
	ret = write_new_inode(f, ino, &inode);
	if (ret)
		goto out;
	ret = ext4_dir_add(f, parent, name, ino, mode);
	if (ret) {
		/* The inode is not allocated in the bitmap yet; leave no live-
		 * looking inode behind for e2fsck to find unattached. */
		struct ext2_inode_large dead;
		memset(&dead, 0, sizeof(dead));
		dead.i_dtime = (uint32_t)ext4_now().tv_sec;
		(void)write_new_inode(f, ino, &dead);
		goto out;
	}
	ext2fs_inode_alloc_stats2(fs, ino, +1, 0);
	ret = ext4_dir_changed(f, parent, 0);
	if (ret)
		goto out;
	ret = store_acl(f, parent, name, ino, &acl, &inode);
	if (ret)
		goto out;
	*out_ino = ino;
	*out = inode;
out:
	ext4_acl_release(&acl);
	return ret;
}

/* Look up the inode libext2fs just created under `name` and give it what
 * libext2fs does not set: owner, setgid inheritance, nanosecond times,
 * crtime, generation.  The layout (extra_isize, inline data) stays. */
static int finish_lib_inode(struct sm_fs *f, ext2_ino_t parent, const struct ext2_inode_large *dir,
			    const char *name, size_t len, uint32_t mode,
			    const struct sm_caller *who, ext2_ino_t *out_ino,
			    struct ext2_inode_large *out)
{
	ext2_ino_t ino;
	int ret = ext4_dir_lookup(f, parent, name, len, &ino);
	if (ret)
		return ret == -ENOENT ? -EIO : ret;
	ret = ext4_read_child(f, ino, out);
	if (ret)
		return ret;

	/* metadata_csum seeds directory block checksums with i_generation:
	 * the block written under the old generation is rewritten under the
	 * new one.  (Inline directories are covered by the inode checksum;
	 * a new directory's extents live in the inode.) */
	ext2_filsys fs = f->fs;
	char *block = NULL;
	blk64_t blk = 0;
	errcode_t err;
	bool redo_block = LINUX_S_ISDIR(out->i_mode) && !(out->i_flags & EXT4_INLINE_DATA_FL) &&
			  ext2fs_has_feature_metadata_csum(fs->super);
	if (redo_block) {
		err = ext2fs_bmap2(fs, ino, (struct ext2_inode *)out, NULL, 0, 0, NULL, &blk);
		if (!err && blk == 0)
			err = EXT2_ET_DIR_CORRUPTED;
		if (!err)
			err = ext2fs_get_mem(fs->blocksize, &block);
		if (!err)
			err = ext2fs_read_dir_block4(fs, blk, block, 0, ino);
		if (err) {
			ret = ext4_err(err);
			goto out;
		}
	}
	init_owner(out, dir, (out->i_mode & S_IFMT) | (mode & 07777), who);
	init_new_inode(out);
	ret = ext4_write_inode(f, ino, out);
	if (ret)
		goto out;
	if (redo_block) {
		err = ext2fs_write_dir_block4(fs, blk, block, 0, ino);
		if (err) {
			ret = ext4_err(err);
			goto out;
		}
	}
	*out_ino = ino;
out:
	if (block)
		ext2fs_free_mem(&block);
	return ret;
}

int sm_lookup(struct sm_fs *f, uint64_t parent, const char *name, struct sm_attr *out)
{
	struct ext2_inode_large dir, inode;
	ext2_ino_t ino;
	size_t len;
	int ret;

	EXT4_LOCK(f);
	ret = ext4_check_name(name, &len);
	if (ret)
		goto out;
	ret = read_dir(f, (ext2_ino_t)parent, &dir);
	if (ret)
		goto out;
	if (is_dot(name, len)) {
		ino = (ext2_ino_t)parent;
	} else {
		/* ".." comes from the directory's own entry (or the inline
		 * parent field): what NFS-style export needs to walk up. */
		ret = ext4_dir_lookup(f, (ext2_ino_t)parent, name, len, &ino);
		if (ret)
			goto out;
	}
	ret = ext4_read_child(f, ino, &inode);
	if (ret)
		goto out;
	ext4_fill_attr(f, ino, &inode, out);
out:
	EXT4_UNLOCK(f);
	return ret;
}

int sm_getattr(struct sm_fs *f, uint64_t ino, struct sm_attr *out)
{
	struct ext2_inode_large inode;
	EXT4_LOCK(f);
	int ret = ext4_read_inode(f, (ext2_ino_t)ino, &inode);
	if (!ret)
		ext4_fill_attr(f, (ext2_ino_t)ino, &inode, out);
	EXT4_UNLOCK(f);
	return ret;
}

/* The target of a symlink, bounded: longer than a block (or PATH_MAX) on
 * disk means corruption. */
static int read_symlink(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode,
			char *target, size_t *len)
{
	ext2_filsys fs = f->fs;
	uint64_t size = ext4_isize(inode);
	errcode_t err;

	if (size == 0 || size >= EXT4_MAX_SYMLINK || size >= fs->blocksize)
		return -EUCLEAN;
	if (inode->i_flags & EXT4_INLINE_DATA_FL) {
		size_t isize = 0;
		err = ext2fs_inline_data_size(fs, ino, &isize);
		if (err)
			return ext4_err(err);
		/* Inline data lives in i_block and the in-inode xattr area. */
		if (isize < size || isize > EXT2_INODE_SIZE(fs->super) + sizeof(inode->i_block))
			return -EUCLEAN;
		char *buf = malloc(isize);
		if (!buf)
			return -ENOMEM;
		err = ext2fs_inline_data_get(fs, ino, (struct ext2_inode *)inode, buf, &isize);
		if (!err && isize < size)
			err = EXT2_ET_INODE_CORRUPTED;
		if (!err)
			memcpy(target, buf, size);
		free(buf);
		if (err)
			return ext4_err(err);
	} else if (ext2fs_is_fast_symlink((struct ext2_inode *)inode)) {
		memcpy(target, inode->i_block, size);   /* size < sizeof(i_block) */
	} else {
		blk64_t phys = 0;
		err = ext2fs_bmap2(fs, ino, (struct ext2_inode *)inode, NULL, 0, 0, NULL, &phys);
		if (err)
			return ext4_err(err);
		if (phys == 0 || phys < fs->super->s_first_data_block ||
		    phys >= ext2fs_blocks_count(fs->super))
			return -EUCLEAN;
		char *buf = malloc(fs->blocksize);
		if (!buf)
			return -ENOMEM;
		err = io_channel_read_blk64(fs->io, phys, 1, buf);
		if (!err)
			memcpy(target, buf, size);
		free(buf);
		if (err)
			return ext4_err(err);
	}
	/* readlink(2) stops at a NUL, as the kernel does with such a target. */
	*len = strnlen(target, size);
	return *len ? 0 : -EUCLEAN;
}

int sm_readlink(struct sm_fs *f, uint64_t ino, char *buf, size_t size)
{
	struct ext2_inode_large inode;
	char target[EXT4_MAX_SYMLINK];
	size_t len = 0;
	int ret;

	EXT4_LOCK(f);
	if (size == 0) {
		ret = -ERANGE;
		goto out;
	}
	ret = ext4_read_inode(f, (ext2_ino_t)ino, &inode);
	if (ret)
		goto out;
	if (!LINUX_S_ISLNK(inode.i_mode)) {
		ret = -EINVAL;
		goto out;
	}
	ret = read_symlink(f, (ext2_ino_t)ino, &inode, target, &len);
	if (ret)
		goto out;
	/* Truncate like readlink(2), but return the full length so the caller
	 * can tell. */
	size_t n = len < size - 1 ? len : size - 1;
	memcpy(buf, target, n);
	buf[n] = '\0';
	ret = (int)len;
out:
	EXT4_UNLOCK(f);
	return ret;
}

int sm_mknod(struct sm_fs *f, uint64_t parent, const char *name, uint32_t mode,
	     uint64_t rdev, const struct sm_caller *who, struct sm_attr *out)
{
	struct ext2_inode_large inode;
	ext2_ino_t ino;
	int ret;

	EXT4_LOCK(f);
	/* mknod(2): a zero file type means a regular file. */
	if ((mode & S_IFMT) == 0)
		mode |= S_IFREG;
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		ret = ext4_check_rw(f);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	if (!ret)
		ret = create_node(f, (ext2_ino_t)parent, name, (mode & S_IFMT) | (mode & 07777),
				  rdev, who, &ino, &inode);
	if (!ret)
		ext4_fill_attr(f, ino, &inode, out);
	EXT4_UNLOCK(f);
	return ret;
}

int sm_mkdir(struct sm_fs *f, uint64_t parent_, const char *name, uint32_t mode,
	     const struct sm_caller *who, struct sm_attr *out)
{
	ext2_ino_t parent = (ext2_ino_t)parent_, ino;
	struct ext2_inode_large dir, inode;
	struct ext4_new_acl acl = { 0 };
	uint32_t dmode = S_IFDIR | (mode & 07777);
	errcode_t err;
	size_t len;
	int ret;

	EXT4_LOCK(f);
	ret = ext4_check_rw(f);
	if (ret)
		goto out;
	ret = check_new_name(f, parent, name, &len, &dir);
	if (ret)
		goto out;
	ret = ext4_dir_nlink_check(f, &dir);
	if (ret)
		goto out;
	/* The parent's default ACL (or else the umask) shapes the mode. */
	ret = ext4_acl_prepare(f, parent, &dmode, who ? who->umask : 0, &acl);
	if (ret)
		goto out;

	/* ext2fs_mkdir lays out the directory (a block, or inline data) and
	 * links it; a full parent is grown and the whole thing retried. */
	err = ext2fs_mkdir(f->fs, parent, 0, name);
	if (err == EXT2_ET_DIR_NO_SPACE && !(dir.i_flags & EXT2_INDEX_FL)) {
		err = ext2fs_expand_dir(f->fs, parent);
		if (!err)
			err = ext2fs_mkdir(f->fs, parent, 0, name);
	}
	/* libext2fs added the entry behind the directory cache's back. */
	ext4_dircache_drop(f, parent);
	if (err) {
		ret = ext4_err(err);
		goto out;
	}
	ret = finish_lib_inode(f, parent, &dir, name, len, dmode, who, &ino, &inode);
	if (ret)
		goto out;
	int acl_ret = store_acl(f, parent, name, ino, &acl, &inode);
	/* ext2fs_mkdir bumped the parent's count without dir_nlink rules:
	 * redo it from the count we saw (also when store_acl took the new
	 * directory back out). */
	struct ext2_inode_large p;
	ret = ext4_read_inode(f, parent, &p);
	if (ret)
		goto out;
	p.i_links_count = dir.i_links_count;
	ret = ext4_write_inode(f, parent, &p);
	if (ret)
		goto out;
	ret = acl_ret;
	if (ret)
		goto out;
	ret = ext4_dir_changed(f, parent, +1);
	if (ret)
		goto out;
	ext4_fill_attr(f, ino, &inode, out);
out:
	ext4_acl_release(&acl);
	EXT4_UNLOCK(f);
	return ret;
}

int sm_symlink(struct sm_fs *f, uint64_t parent_, const char *name, const char *target,
	       const struct sm_caller *who, struct sm_attr *out)
{
	ext2_ino_t parent = (ext2_ino_t)parent_, ino;
	struct ext2_inode_large dir, inode;
	errcode_t err;
	size_t len;
	int ret;

	EXT4_LOCK(f);
	ret = ext4_check_rw(f);
	if (ret)
		goto out;
	size_t tlen = target ? strnlen(target, EXT4_MAX_SYMLINK) : 0;
	if (tlen == 0) {
		ret = -ENOENT;
		goto out;
	}
	/* As ext4_symlink: the target and its NUL must fit in one block. */
	if (tlen >= EXT4_MAX_SYMLINK || tlen + 1 > f->fs->blocksize) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	ret = check_new_name(f, parent, name, &len, &dir);
	if (ret)
		goto out;

	/* Fast (in i_block), slow (one block) or inline-data symlinks. */
	err = ext2fs_symlink(f->fs, parent, 0, name, target);
	if (err == EXT2_ET_DIR_NO_SPACE && !(dir.i_flags & EXT2_INDEX_FL)) {
		err = ext2fs_expand_dir(f->fs, parent);
		if (!err)
			err = ext2fs_symlink(f->fs, parent, 0, name, target);
	}
	/* libext2fs added the entry behind the directory cache's back. */
	ext4_dircache_drop(f, parent);
	if (err) {
		ret = ext4_err(err);
		goto out;
	}
	ret = finish_lib_inode(f, parent, &dir, name, len, S_IFLNK | 0777, who, &ino, &inode);
	if (ret)
		goto out;
	ret = ext4_dir_changed(f, parent, 0);
	if (ret)
		goto out;
	ext4_fill_attr(f, ino, &inode, out);
out:
	EXT4_UNLOCK(f);
	return ret;
}

int sm_link(struct sm_fs *f, uint64_t ino_, uint64_t newparent, const char *newname,
	    struct sm_attr *out)
{
	ext2_ino_t ino = (ext2_ino_t)ino_;
	struct ext2_inode_large inode, dir;
	size_t len;
	int ret;

	EXT4_LOCK(f);
	ret = ext4_check_rw(f);
	if (ret)
		goto out;
	ret = check_new_name(f, (ext2_ino_t)newparent, newname, &len, &dir);
	if (ret)
		goto out;
	ret = ext4_read_inode(f, ino, &inode);
	if (ret)
		goto out;
	if (LINUX_S_ISDIR(inode.i_mode)) {
		ret = -EPERM;
		goto out;
	}
	/* vfs_link: an unlinked (open) file cannot get a name back. */
	if (inode.i_links_count == 0) {
		ret = -ENOENT;
		goto out;
	}
	ret = ext4_check_modify(&inode, false);
	if (ret)
		goto out;
	if (inode.i_links_count >= EXT2_LINK_MAX) {
		ret = -EMLINK;
		goto out;
	}
	ret = ext4_dir_add(f, (ext2_ino_t)newparent, newname, ino, inode.i_mode);
	if (ret)
		goto out;
	inode.i_links_count++;
	ext4_touch(&inode, false);
	ret = ext4_write_inode(f, ino, &inode);
	if (ret)
		goto out;
	ret = ext4_dir_changed(f, (ext2_ino_t)newparent, 0);
	if (ret)
		goto out;
	ext4_fill_attr(f, ino, &inode, out);
out:
	EXT4_UNLOCK(f);
	return ret;
}

/* Common part of unlink and rmdir: find `name`, check the flags that
 * forbid removal, remove the entry. */
static int remove_entry(struct sm_fs *f, ext2_ino_t parent, const char *name, size_t len,
			bool want_dir, ext2_ino_t *out_ino, struct ext2_inode_large *inode)
{
	struct ext2_inode_large dir;
	ext2_ino_t ino;
	int ret;

	ret = read_dir(f, parent, &dir);
	if (ret)
		return ret;
	ret = ext4_dir_lookup(f, parent, name, len, &ino);
	if (ret)
		return ret;
	ret = ext4_read_child(f, ino, inode);
	if (ret)
		return ret;
	if (want_dir) {
		if (!LINUX_S_ISDIR(inode->i_mode))
			return -ENOTDIR;
		if (ino == EXT2_ROOT_INO)
			return -EBUSY;
		if (ino == parent)
			return -EUCLEAN;   /* an entry other than "." naming its own dir */
	} else if (LINUX_S_ISDIR(inode->i_mode)) {
		return -EISDIR;
	}
	/* may_delete: append-only directories keep their entries, and
	 * immutable / append-only inodes keep their names. */
	ret = ext4_check_modify(&dir, false);
	if (ret)
		return ret;
	ret = ext4_check_modify(inode, false);
	if (ret)
		return ret;
	if (want_dir) {
		ret = ext4_dir_is_empty(f, ino);
		if (ret < 0)
			return ret;
		if (ret == 0)
			return -ENOTEMPTY;
	}
	ret = ext4_dir_remove(f, parent, name, ino);
	if (ret)
		return ret;
	/* A removed directory's cache must not outlive its inode. */
	if (want_dir)
		ext4_dircache_drop(f, ino);
	*out_ino = ino;
	return 0;
}

int sm_unlink(struct sm_fs *f, uint64_t parent, const char *name)
{
	struct ext2_inode_large inode;
	ext2_ino_t ino;
	size_t len;
	int ret;

	EXT4_LOCK(f);
	ret = ext4_check_rw(f);
	if (ret)
		goto out;
	ret = ext4_check_name(name, &len);
	if (ret)
		goto out;
	if (is_dot(name, len) || is_dotdot(name, len)) {
		ret = -EISDIR;
		goto out;
	}
	ret = remove_entry(f, (ext2_ino_t)parent, name, len, false, &ino, &inode);
	if (ret)
		goto out;
	inode.i_links_count--;
	ext4_touch(&inode, false);
	if (inode.i_links_count == 0)
		ret = ext4_drop_inode(f, ino, &inode);
	else
		ret = ext4_write_inode(f, ino, &inode);
	if (ret)
		goto out;
	ret = ext4_dir_changed(f, (ext2_ino_t)parent, 0);
out:
	EXT4_UNLOCK(f);
	return ret;
}

int sm_rmdir(struct sm_fs *f, uint64_t parent, const char *name)
{
	struct ext2_inode_large inode;
	ext2_ino_t ino;
	size_t len;
	int ret;

	EXT4_LOCK(f);
	ret = ext4_check_rw(f);
	if (ret)
		goto out;
	ret = ext4_check_name(name, &len);
	if (ret)
		goto out;
	/* As rmdir(2): "." is invalid, ".." is never empty. */
	if (is_dot(name, len)) {
		ret = -EINVAL;
		goto out;
	}
	if (is_dotdot(name, len)) {
		ret = -ENOTEMPTY;
		goto out;
	}
	ret = remove_entry(f, (ext2_ino_t)parent, name, len, true, &ino, &inode);
	if (ret)
		goto out;
	/* Its "." and the parent's entry are both gone. */
	inode.i_links_count = 0;
	ext4_touch(&inode, false);
	ret = ext4_drop_inode(f, ino, &inode);
	if (ret)
		goto out;
	ret = ext4_dir_changed(f, (ext2_ino_t)parent, -1);
out:
	EXT4_UNLOCK(f);
	return ret;
}

int sm_create(struct sm_fs *f, uint64_t parent, const char *name, uint32_t mode,
	      int flags, const struct sm_caller *who, struct sm_attr *out, uint64_t *fh)
{
	struct ext2_inode_large inode;
	ext2_ino_t ino;
	int ret;
	(void)flags;  /* a new empty file: O_TRUNC has nothing to do, O_EXCL is the kernel's */

	EXT4_LOCK(f);
	ret = ext4_check_rw(f);
	if (ret)
		goto out;
	ret = create_node(f, (ext2_ino_t)parent, name, S_IFREG | (mode & 07777), 0, who,
			  &ino, &inode);
	if (ret)
		goto out;
	ret = ext4_open_get(f, ino);
	if (ret)
		goto out;
	*fh = ext4_fh_from_flags(flags);
	ext4_fill_attr(f, ino, &inode, out);
out:
	EXT4_UNLOCK(f);
	return ret;
}
