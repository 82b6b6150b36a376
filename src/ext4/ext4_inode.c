/* Inode-level operations of the ext2/3/4 backend: attributes (setattr),
 * open/release with the open-count table, and the FS_IOC_*FLAGS flags.
 *
 * The kernel (FUSE default_permissions) has done the rwx and ownership
 * checks; left here is what only the filesystem knows: the immutable and
 * append-only flags, size limits, and the last release of an unlinked file.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "ext4_private.h"

int ext4_check_modify(const struct ext2_inode_large *inode, bool appending)
{
	if (inode->i_flags & EXT2_IMMUTABLE_FL)
		return -EPERM;
	if ((inode->i_flags & EXT2_APPEND_FL) && !appending)
		return -EPERM;
	return 0;
}

static void set_owner(struct ext2_inode_large *inode, uint32_t uid, uint32_t gid)
{
	inode->i_uid = (uint16_t)uid;
	ext2fs_set_i_uid_high(*inode, (uint16_t)(uid >> 16));
	inode->i_gid = (uint16_t)gid;
	ext2fs_set_i_gid_high(*inode, (uint16_t)(gid >> 16));
}

int sm_setattr(struct sm_fs *f, uint64_t ino_, const struct sm_caller *who,
	       const struct sm_setattr *set, struct sm_attr *out)
{
	const unsigned all = SM_SET_MODE | SM_SET_UID | SM_SET_GID | SM_SET_SIZE | SM_SET_ATIME |
			     SM_SET_MTIME | SM_SET_ATIME_NOW | SM_SET_MTIME_NOW | SM_SET_CTIME;
	ext2_ino_t ino = (ext2_ino_t)ino_;
	struct ext2_inode_large inode;
	unsigned valid = set->valid;
	int ret;
	(void)who;  /* the kernel checked ownership; nothing here depends on the caller */

	/* A size change frees or moves blocks a reader may be reading. */
	bool sized = valid & SM_SET_SIZE;
	if (sized)
		EXT4_DATA_WRLOCK(f, ino);
	EXT4_LOCK(f);
	ret = ext4_read_inode(f, ino, &inode);
	if (ret)
		goto out;
	if (valid & ~all) {
		ret = -EINVAL;
		goto out;
	}
	if (valid == 0)
		goto fill;
	ret = ext4_check_rw(f);
	if (ret)
		goto out;
	/* Like ext4_setattr: nothing changes on an immutable inode; an
	 * append-only one may only have its times set to "now". */
	if (inode.i_flags & EXT2_IMMUTABLE_FL) {
		ret = -EPERM;
		goto out;
	}
	if ((inode.i_flags & EXT2_APPEND_FL) &&
	    (valid & (SM_SET_MODE | SM_SET_UID | SM_SET_GID | SM_SET_SIZE |
		      ((valid & SM_SET_ATIME_NOW) ? 0 : SM_SET_ATIME) |
		      ((valid & SM_SET_MTIME_NOW) ? 0 : SM_SET_MTIME)))) {
		ret = -EPERM;
		goto out;
	}

	struct timespec now = ext4_now();
	bool size_changed = false;
	if (valid & SM_SET_SIZE) {
		if (LINUX_S_ISDIR(inode.i_mode)) {
			ret = -EISDIR;
			goto out;
		}
		if (!LINUX_S_ISREG(inode.i_mode)) {
			ret = -EINVAL;
			goto out;
		}
		if (set->size > ext4_max_file_size(f, &inode)) {
			ret = -EFBIG;
			goto out;
		}
		/* The kernel's ext4 (6.x) updates mtime on every truncate, to
		 * the same size too (measured: sem_ops.sh); blocks preallocated
		 * past EOF go even then. */
		size_changed = true;
		ret = ext4_truncate(f, ino, &inode, set->size);
		if (ret)
			goto out;
		/* Start again from what ext4_truncate wrote. */
		ret = ext4_read_inode(f, ino, &inode);
		if (ret)
			goto out;
	}

	uint32_t mode = inode.i_mode;
	if (valid & SM_SET_MODE)
		mode = (mode & S_IFMT) | (set->mode & 07777);
	if (valid & (SM_SET_UID | SM_SET_GID)) {
		uint32_t uid = (valid & SM_SET_UID) ? set->uid : inode_uid(inode);
		uint32_t gid = (valid & SM_SET_GID) ? set->gid : inode_gid(inode);
		set_owner(&inode, uid, gid);
		/* chown kills set-user-ID, and set-group-ID where it means
		 * "executable as group" (not mandatory locking).  The FUSE
		 * kernel module usually sends the new mode itself. */
		if (!(valid & SM_SET_MODE) && !LINUX_S_ISDIR(mode)) {
			mode &= ~(uint32_t)S_ISUID;
			if (mode & S_IXGRP)
				mode &= ~(uint32_t)S_ISGID;
		}
	}
	inode.i_mode = (uint16_t)mode;
	if (valid & SM_SET_ATIME_NOW)
		ext4_set_time(&inode, EXT4_ATIME, now);
	else if (valid & SM_SET_ATIME)
		ext4_set_time(&inode, EXT4_ATIME, set->atime);
	if (valid & SM_SET_MTIME_NOW)
		ext4_set_time(&inode, EXT4_MTIME, now);
	else if (valid & SM_SET_MTIME)
		ext4_set_time(&inode, EXT4_MTIME, set->mtime);
	else if (size_changed)
		ext4_set_time(&inode, EXT4_MTIME, now);
	ext4_set_time(&inode, EXT4_CTIME, (valid & SM_SET_CTIME) ? set->ctime : now);
	ret = ext4_write_inode(f, ino, &inode);
	if (ret)
		goto out;
	if (valid & SM_SET_MODE) {
		/* As ext4_setattr: posix_acl_chmod() after the mode is written.
		 * That may move the xattr block: start again from the disk. */
		ret = ext4_acl_chmod(f, ino, inode.i_mode);
		if (!ret)
			ret = ext4_read_inode(f, ino, &inode);
		if (ret)
			goto out;
	}
fill:
	ext4_fill_attr(f, ino, &inode, out);
out:
	EXT4_UNLOCK(f);
	if (sized)
		EXT4_DATA_UNLOCK(f, ino);
	return ret;
}

/* Checks and O_TRUNC of an open for the given flags; counts the opener. */
static int do_open(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode, int flags)
{
	int acc = flags & O_ACCMODE;
	bool writing = acc == O_WRONLY || acc == O_RDWR;
	int ret;

	switch (inode->i_mode & S_IFMT) {
	case S_IFREG:
		break;
	case S_IFDIR:
		if (writing || (flags & O_TRUNC))
			return -EISDIR;
		break;
	case S_IFLNK:
		return -ELOOP;
	default:
		/* Device nodes and FIFOs are served by the kernel, not by us. */
		return -ENXIO;
	}
	if (writing || (flags & O_TRUNC)) {
		ret = ext4_check_rw(f);
		if (ret)
			return ret;
		/* may_open: append-only files open for writing only with
		 * O_APPEND, and are never truncated. */
		ret = ext4_check_modify(inode, (flags & O_APPEND) && !(flags & O_TRUNC));
		if (ret)
			return ret;
	}
	if ((flags & O_TRUNC) && LINUX_S_ISREG(inode->i_mode)) {
		ret = ext4_truncate(f, ino, inode, 0);
		if (ret)
			return ret;
		ret = ext4_read_inode(f, ino, inode);
		if (ret)
			return ret;
		/* open(O_TRUNC) sets mtime/ctime even on an empty file. */
		ext4_touch(inode, true);
		ret = ext4_write_inode(f, ino, inode);
		if (ret)
			return ret;
	}
	return ext4_open_get(f, ino);
}

int sm_open(struct sm_fs *f, uint64_t ino, int flags, uint64_t *fh)
{
	struct ext2_inode_large inode;
	/* O_TRUNC frees the blocks other openers may be reading. */
	bool trunc = flags & O_TRUNC;
	if (trunc)
		EXT4_DATA_WRLOCK(f, ino);
	EXT4_LOCK(f);
	int ret = ext4_read_inode(f, (ext2_ino_t)ino, &inode);
	if (!ret)
		ret = do_open(f, (ext2_ino_t)ino, &inode, flags);
	if (!ret)
		*fh = ext4_fh_from_flags(flags);
	EXT4_UNLOCK(f);
	if (trunc)
		EXT4_DATA_UNLOCK(f, ino);
	return ret;
}

int sm_release(struct sm_fs *f, uint64_t ino_, uint64_t fh)
{
	ext2_ino_t ino = (ext2_ino_t)ino_;
	struct ext2_inode_large inode;
	int ret = 0;
	(void)fh;

	/* The last release frees an unlinked inode's blocks. */
	EXT4_DATA_WRLOCK(f, ino);
	EXT4_LOCK(f);
	if (ext4_check_ino(f, ino) || ext4_open_count(f, ino) == 0) {
		ret = -EBADF;
		goto out;
	}
	if (ext4_open_put(f, ino) > 0 || f->read_only)
		goto out;
	/* Last opener gone: an unlinked inode leaves the orphan list and is
	 * freed.  Read it raw: ext4_read_inode calls such an inode stale. */
	memset(&inode, 0, sizeof(inode));
	errcode_t err = ext2fs_read_inode_full(f->fs, ino, (struct ext2_inode *)&inode,
					       sizeof(inode));
	if (err) {
		ret = ext4_err(err);
		goto out;
	}
	if (inode.i_links_count == 0 && inode.i_mode != 0 &&
	    ext2fs_test_inode_bitmap2(f->fs->inode_map, ino))
		ret = ext4_free_inode(f, ino, &inode);
out:
	EXT4_UNLOCK(f);
	EXT4_DATA_UNLOCK(f, ino);
	return ret;
}

int sm_get_flags(struct sm_fs *f, uint64_t ino, uint32_t *flags)
{
	struct ext2_inode_large inode;
	EXT4_LOCK(f);
	int ret = ext4_read_inode(f, (ext2_ino_t)ino, &inode);
	if (!ret)
		*flags = inode.i_flags & EXT2_FL_USER_VISIBLE;
	EXT4_UNLOCK(f);
	return ret;
}

/* ext4_mask_flags: directory-only flags mean nothing elsewhere. */
static uint32_t mask_flags(uint32_t mode, uint32_t flags)
{
	const uint32_t dir_only = EXT2_DIRSYNC_FL | EXT2_TOPDIR_FL | EXT4_CASEFOLD_FL |
				  EXT4_PROJINHERIT_FL | EXT2_INDEX_FL;
	if (LINUX_S_ISDIR(mode))
		return flags;
	if (LINUX_S_ISREG(mode))
		return flags & ~dir_only;
	return flags & (EXT2_NODUMP_FL | EXT2_NOATIME_FL);
}

int sm_set_flags(struct sm_fs *f, uint64_t ino_, const struct sm_caller *who, uint32_t flags)
{
	/* The layout flags are not ours to flip (the kernel would migrate the
	 * file; we cannot): they keep their value whatever is asked.  Casefold
	 * needs a feature we refuse to mount rw. */
	const uint32_t kept = EXT4_EXTENTS_FL | EXT4_INLINE_DATA_FL;
	const uint32_t modifiable = EXT2_FL_USER_MODIFIABLE & ~kept & ~EXT4_CASEFOLD_FL;
	ext2_ino_t ino = (ext2_ino_t)ino_;
	struct ext2_inode_large inode;
	int ret;

	EXT4_LOCK(f);
	ret = ext4_check_rw(f);
	if (ret)
		goto out;
	ret = ext4_read_inode(f, ino, &inode);
	if (ret)
		goto out;
	uint32_t old = inode.i_flags;
	if (!who || (who->uid != 0 && who->uid != inode_uid(inode))) {
		ret = -EPERM;
		goto out;
	}
	if ((flags & EXT4_CASEFOLD_FL) != (old & EXT4_CASEFOLD_FL)) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	uint32_t req = mask_flags(inode.i_mode, flags);
	uint32_t new = (old & ~modifiable) | (req & modifiable);
	/* CAP_LINUX_IMMUTABLE: only root sets or clears immutable/append. */
	if (((new ^ old) & (EXT2_IMMUTABLE_FL | EXT2_APPEND_FL)) && who->uid != 0) {
		ret = -EPERM;
		goto out;
	}
	/* An inode that stays immutable accepts no other flag change. */
	if ((old & EXT2_IMMUTABLE_FL) && (new & EXT2_IMMUTABLE_FL) && new != old) {
		ret = -EPERM;
		goto out;
	}
	inode.i_flags = new;
	ext4_touch(&inode, false);
	ret = ext4_write_inode(f, ino, &inode);
out:
	EXT4_UNLOCK(f);
	return ret;
}
