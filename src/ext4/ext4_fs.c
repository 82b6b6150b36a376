/* Opening and closing an ext2/3/4 image, and the helpers every other file
 * of the backend shares: error mapping, inode access, attributes, time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ext4_private.h"
#include "io/cache_io.h"

/* Features we serve read-write.  Anything else is refused rw, and unknown
 * incompat bits are refused even ro (we cannot parse what they change). */
#define EXT4_INCOMPAT_OK (EXT2_FEATURE_INCOMPAT_FILETYPE | EXT3_FEATURE_INCOMPAT_RECOVER | \
			  EXT2_FEATURE_INCOMPAT_META_BG | EXT3_FEATURE_INCOMPAT_EXTENTS | \
			  EXT4_FEATURE_INCOMPAT_64BIT | EXT4_FEATURE_INCOMPAT_FLEX_BG | \
			  EXT4_FEATURE_INCOMPAT_MMP | EXT4_FEATURE_INCOMPAT_EA_INODE | \
			  EXT4_FEATURE_INCOMPAT_CSUM_SEED | EXT4_FEATURE_INCOMPAT_LARGEDIR | \
			  EXT4_FEATURE_INCOMPAT_INLINE_DATA)
#define EXT4_RO_COMPAT_RW_OK (EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER | \
			      EXT2_FEATURE_RO_COMPAT_LARGE_FILE | EXT4_FEATURE_RO_COMPAT_HUGE_FILE | \
			      EXT4_FEATURE_RO_COMPAT_GDT_CSUM | EXT4_FEATURE_RO_COMPAT_DIR_NLINK | \
			      EXT4_FEATURE_RO_COMPAT_EXTRA_ISIZE | \
			      EXT4_FEATURE_RO_COMPAT_METADATA_CSUM)

static const struct { uint32_t bit; const char *name; } incompat_names[] = {
	{ EXT2_FEATURE_INCOMPAT_COMPRESSION, "compression" },
	{ EXT3_FEATURE_INCOMPAT_JOURNAL_DEV, "journal_dev" },
	{ EXT4_FEATURE_INCOMPAT_DIRDATA, "dirdata" },
	{ EXT4_FEATURE_INCOMPAT_ENCRYPT, "encrypt" },
	{ EXT4_FEATURE_INCOMPAT_CASEFOLD, "casefold" },
};
static const struct { uint32_t bit; const char *name; } ro_compat_names[] = {
	{ EXT4_FEATURE_RO_COMPAT_QUOTA, "quota" },
	{ EXT4_FEATURE_RO_COMPAT_BIGALLOC, "bigalloc" },
	{ EXT4_FEATURE_RO_COMPAT_REPLICA, "replica" },
	{ EXT4_FEATURE_RO_COMPAT_READONLY, "read-only" },
	{ EXT4_FEATURE_RO_COMPAT_PROJECT, "project" },
	{ EXT4_FEATURE_RO_COMPAT_SHARED_BLOCKS, "shared_blocks" },
	{ EXT4_FEATURE_RO_COMPAT_VERITY, "verity" },
	{ EXT4_FEATURE_RO_COMPAT_ORPHAN_PRESENT, "orphan_present" },
};

static char feature_msg[256];

/* Refuse what we cannot serve; the message names the feature. */
static int check_features(const struct ext2_super_block *sb, bool read_only, const char **msg)
{
	uint32_t bad = sb->s_feature_incompat & ~EXT4_INCOMPAT_OK;
	if (bad) {
		const char *name = NULL;
		for (size_t i = 0; i < sizeof(incompat_names) / sizeof(incompat_names[0]); i++)
			if (bad & incompat_names[i].bit)
				name = incompat_names[i].name;
		if (name)
			snprintf(feature_msg, sizeof(feature_msg),
				 "the filesystem uses the '%s' feature, which safemount cannot serve safely", name);
		else
			snprintf(feature_msg, sizeof(feature_msg),
				 "the filesystem uses unknown incompatible features (0x%x)", bad);
		*msg = feature_msg;
		return -EOPNOTSUPP;
	}
	/* Multi-mount protection needs a heartbeat written every few seconds
	 * and a sleep of twice that at mount time; we keep neither, so such a
	 * filesystem is served read-only (MMP is skipped when opening). */
	if ((sb->s_feature_incompat & EXT4_FEATURE_INCOMPAT_MMP) && !read_only) {
		*msg = "the filesystem uses the 'mmp' (multi-mount protection) feature, which safemount can only mount read-only (use -o ro)";
		return -EROFS;
	}
	uint32_t ro_bad = sb->s_feature_ro_compat & ~EXT4_RO_COMPAT_RW_OK;
	if (ro_bad && !read_only) {
		const char *name = NULL;
		for (size_t i = 0; i < sizeof(ro_compat_names) / sizeof(ro_compat_names[0]); i++)
			if (ro_bad & ro_compat_names[i].bit)
				name = ro_compat_names[i].name;
		if (name)
			snprintf(feature_msg, sizeof(feature_msg),
				 "the filesystem uses the '%s' feature, which safemount can only mount read-only (use -o ro)",
				 name);
		else
			snprintf(feature_msg, sizeof(feature_msg),
				 "the filesystem uses unknown read-only-compatible features (0x%x); mount it with -o ro",
				 ro_bad);
		*msg = feature_msg;
		return -EROFS;
	}
	return 0;
}

int sm_fs_open(const struct sm_open_opts *opts, struct sm_fs **out, const char **msg)
{
	static char open_msg[256];
	char name[32];
	ext2_filsys fs = NULL;
	int ret;

	*out = NULL;
	*msg = NULL;
	initialize_ext2_error_table();
	snprintf(name, sizeof(name), "%d", opts->image_fd);
	int flags = EXT2_FLAG_64BITS | EXT2_FLAG_SKIP_MMP;
	if (!opts->read_only)
		flags |= EXT2_FLAG_RW;
	/* Counted in 4 KiB blocks: smaller filesystem blocks get a
	 * proportionally smaller cache. */
	sm_cache_io_set_blocks((unsigned)(opts->cache_bytes / 4096));
	errcode_t err = ext2fs_open2(name, NULL, flags, 0, 0, sm_cache_io_manager, &fs);
	if (err) {
		snprintf(open_msg, sizeof(open_msg),
			 "it is not a valid ext2/ext3/ext4 filesystem (%s); check that this is the right image, or run 'e2fsck' on it",
			 error_message(err));
		*msg = open_msg;
		return -EINVAL;
	}
	/* The channel (src/io/cache_io.c) caches single blocks, write-back;
	 * file data moves in runs around the cache (ext4_extent_io.c). */
	struct ext2_super_block *sb = fs->super;
	ret = check_features(sb, opts->read_only, msg);
	if (ret)
		goto out_close;
	/* ext2fs_open2 only checks s_first_data_block < s_blocks_count, but
	 * with any other value than mke2fs's, libext2fs 1.47.0's
	 * ext2fs_read_bitmaps writes past its in-memory bitmap (ASan heap
	 * overflow in the group-bitmap copy; measured: 8 and up on 4 KiB and
	 * 1 KiB blocks, as if offset by first_data_block / 8 bytes; see
	 * corrupt_smoke.sh sb_first_data_block).  Accept only the value
	 * e2fsck insists on (PR_0_FIRST_DATA_BLOCK), before anything reads
	 * bitmaps or descriptors located from it. */
	unsigned first_data = (sb->s_log_block_size == 0 && EXT2FS_CLUSTER_RATIO(fs) == 1) ? 1 : 0;
	if (sb->s_first_data_block != first_data) {
		snprintf(open_msg, sizeof(open_msg),
			 "its superblock is corrupt (first data block %u, should be %u); run 'e2fsck -f' on the image",
			 sb->s_first_data_block, first_data);
		*msg = open_msg;
		ret = -EUCLEAN;
		goto out_close;
	}

	struct sm_fs *f = calloc(1, sizeof(*f));
	if (!f) {
		ret = -ENOMEM;
		*msg = "out of memory";
		goto out_close;
	}
	f->fs = fs;
	f->read_only = opts->read_only;
	f->atime = opts->atime;
	f->image_name = opts->image_name;
	f->image_fd = opts->image_fd;
	pthread_mutex_init(&f->lock, NULL);
	/* Writers first: a stream of reads must not starve a truncate. */
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	for (unsigned i = 0; i < EXT4_DATA_LOCKS; i++)
		pthread_rwlock_init(&f->data_lock[i], &ra);
	pthread_rwlockattr_destroy(&ra);

	if (ext2fs_has_feature_journal_needs_recovery(sb)) {
		if (!opts->read_only) {
			*msg = "the filesystem journal needs recovery; run 'e2fsck' on the image, or mount it with -o ro";
			ret = -EROFS;
			goto out_free;
		}
		f->warning = "the filesystem journal needs recovery: recent changes may be missing from this read-only view";
	} else if (!opts->read_only && !(sb->s_state & EXT2_VALID_FS)) {
		f->warning = "the filesystem was not cleanly unmounted or has errors; run 'e2fsck -f' on the image";
	}

	/* Like the kernel: a filesystem without a usable root directory is
	 * refused rather than mounted with every access failing. */
	struct ext2_inode_large root;
	ret = ext4_read_inode(f, EXT2_ROOT_INO, &root);
	if (ret || !LINUX_S_ISDIR(root.i_mode)) {
		*msg = "its root directory is corrupt; run 'e2fsck -f' on the image";
		ret = -EUCLEAN;
		goto out_free;
	}

	if (!opts->read_only) {
		/* Bitmaps or inode tables placed on other metadata or outside the
		 * filesystem would make allocation overwrite live data: what
		 * e2fsck checks first, we check before writing anything. */
		err = ext2fs_check_desc(fs);
		if (err) {
			snprintf(open_msg, sizeof(open_msg),
				 "its block group descriptors are corrupt (%s); run 'e2fsck -f' on the image, or mount it with -o ro",
				 error_message(err));
			*msg = open_msg;
			ret = -EUCLEAN;
			goto out_free;
		}
		err = ext2fs_read_bitmaps(fs);
		if (err) {
			snprintf(open_msg, sizeof(open_msg), "reading the allocation bitmaps failed (%s)",
				 error_message(err));
			*msg = open_msg;
			ret = -EIO;
			goto out_free;
		}
		ret = ext4_process_orphans(f);
		if (ret) {
			*msg = "the orphan inode list is corrupt; run 'e2fsck -f' on the image";
			goto out_free;
		}
		/* Mark the filesystem in use, so a crash leaves it "not clean". */
		sb->s_state &= (uint16_t)~EXT2_VALID_FS;
		sb->s_mtime = (uint32_t)time(NULL);
		sb->s_mnt_count++;
		ext2fs_mark_super_dirty(fs);
		err = ext2fs_flush2(fs, 0);
		if (err) {
			snprintf(open_msg, sizeof(open_msg), "writing the superblock failed (%s)",
				 error_message(err));
			*msg = open_msg;
			ret = ext4_err(err);
			goto out_free;
		}
		ext4_flusher_start(f);
	}
	*out = f;
	return 0;

out_free:
	for (unsigned i = 0; i < EXT4_DATA_LOCKS; i++)
		pthread_rwlock_destroy(&f->data_lock[i]);
	pthread_mutex_destroy(&f->lock);
	free(f);
out_close:
	/* Close without writing anything back. */
	fs->flags &= ~EXT2_FLAG_DIRTY;
	ext2fs_free(fs);
	return ret;
}

int sm_fs_close(struct sm_fs *f)
{
	int ret = 0;
	if (!f)
		return 0;
	ext4_flusher_stop(f);
	EXT4_LOCK(f);
	ext2_filsys fs = f->fs;
	if (!f->read_only) {
		/* Open files are all released by now; what is still on the orphan
		 * list goes. */
		ret = ext4_process_orphans(f);
		fs->super->s_state |= EXT2_VALID_FS;
		ext2fs_mark_super_dirty(fs);
	}
	errcode_t err = ext2fs_close2(fs, 0);
	if (err && !ret)
		ret = ext4_err(err);
	ext4_dircache_free(f);
	for (unsigned i = 0; i < EXT4_OPEN_BUCKETS; i++) {
		struct ext4_open_inode *o = f->open_inodes[i], *next;
		for (; o; o = next) {
			next = o->next;
			free(o);
		}
	}
	EXT4_UNLOCK(f);
	for (unsigned i = 0; i < EXT4_DATA_LOCKS; i++)
		pthread_rwlock_destroy(&f->data_lock[i]);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return ret;
}

uint64_t sm_backend_root(const struct sm_fs *f)
{
	(void)f;
	return EXT2_ROOT_INO;
}

const char *sm_fs_warning(const struct sm_fs *f)
{
	return f->warning;
}

int ext4_err(errcode_t err)
{
	if (err == 0)
		return 0;
	if (err > 0 && err < 4096)
		return -(int)err;
	switch (err) {
	case EXT2_ET_NO_MEMORY:
		return -ENOMEM;
	case EXT2_ET_DIR_NO_SPACE:
	case EXT2_ET_BLOCK_ALLOC_FAIL:
	case EXT2_ET_INODE_ALLOC_FAIL:
	case EXT2_ET_EA_NO_SPACE:
	case EXT2_ET_TOOSMALL:
	case EXT2_ET_RES_GDT_BLOCKS:
		return -ENOSPC;
	case EXT2_ET_FILE_NOT_FOUND:
		return -ENOENT;
	case EXT2_ET_DIR_EXISTS:
		return -EEXIST;
	case EXT2_ET_FILE_TOO_BIG:
		return -EFBIG;
	case EXT2_ET_RO_FILSYS:
		return -EROFS;
	case EXT2_ET_NO_DIRECTORY:
		return -ENOTDIR;
	case EXT2_ET_EA_KEY_NOT_FOUND:
	case EXT2_ET_NO_INLINE_DATA:
		return -ENODATA;
	case EXT2_ET_UNIMPLEMENTED:
	case EXT2_ET_OP_NOT_SUPPORTED:
	case EXT2_ET_EA_BAD_NAME_LEN:
		return -EOPNOTSUPP;
	case EXT2_ET_INVALID_ARGUMENT:
	case EXT2_ET_BAD_INODE_NUM:
		return -EINVAL;
	case EXT2_ET_SHORT_READ:
	case EXT2_ET_SHORT_WRITE:
		return -EIO;
	case EXT2_ET_DIR_CORRUPTED:
	default:
		/* Checksums, magic numbers, bad extent trees, block numbers out of
		 * range: the image is corrupt. */
		return -EUCLEAN;
	}
}

int ext4_check_ino(const struct sm_fs *f, uint64_t ino)
{
	if (ino < EXT2_ROOT_INO || ino > f->fs->super->s_inodes_count)
		return -ESTALE;
	if (ino != EXT2_ROOT_INO && ino < EXT2_FIRST_INODE(f->fs->super))
		return -ESTALE;
	return 0;
}

int ext4_read_inode(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	int ret = ext4_check_ino(f, ino);
	if (ret)
		return ret;
	memset(inode, 0, sizeof(*inode));
	errcode_t err = ext2fs_read_inode_full(f->fs, ino, (struct ext2_inode *)inode,
					       sizeof(*inode));
	if (err)
		return ext4_err(err);
	if (inode->i_links_count == 0 && ext4_open_count(f, ino) == 0)
		return -ESTALE;
	switch (inode->i_mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		return 0;
	default:
		return inode->i_mode == 0 ? -ESTALE : -EUCLEAN;
	}
}

int ext4_write_inode(struct sm_fs *f, ext2_ino_t ino, struct ext2_inode_large *inode)
{
	if (f->read_only)
		return -EROFS;
	errcode_t err = ext2fs_write_inode_full(f->fs, ino, (struct ext2_inode *)inode,
						sizeof(*inode));
	return ext4_err(err);
}

uint64_t ext4_isize(const struct ext2_inode_large *inode)
{
	return EXT2_I_SIZE(inode);
}

int ext4_dirent_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return EXT2_FT_REG_FILE;
	case S_IFDIR: return EXT2_FT_DIR;
	case S_IFLNK: return EXT2_FT_SYMLINK;
	case S_IFCHR: return EXT2_FT_CHRDEV;
	case S_IFBLK: return EXT2_FT_BLKDEV;
	case S_IFIFO: return EXT2_FT_FIFO;
	case S_IFSOCK: return EXT2_FT_SOCK;
	default: return EXT2_FT_UNKNOWN;
	}
}

/* ext4 stores 32 signed seconds plus 2 epoch bits and 30 nanosecond bits in
 * *_extra, when the inode is large enough to hold the field. */
static bool has_extra(const struct ext2_inode_large *inode, size_t field_end)
{
	return EXT2_GOOD_OLD_INODE_SIZE + (size_t)inode->i_extra_isize >= field_end;
}

#define EXTRA_END(field) (offsetof(struct ext2_inode_large, field) + sizeof(uint32_t))

static struct timespec decode_time(uint32_t secs, uint32_t extra, bool use_extra)
{
	struct timespec ts;
	ts.tv_sec = (int32_t)secs;
	ts.tv_nsec = 0;
	if (use_extra) {
		ts.tv_sec += (int64_t)(extra & 3) << 32;
		ts.tv_nsec = (extra >> 2) % 1000000000u;
	}
	return ts;
}

/* Like the kernel's timestamp_truncate(): out-of-range times clamp to the
 * format's limits (with the nanoseconds dropped) instead of wrapping. */
static void encode_time(struct timespec ts, uint32_t *secs, uint32_t *extra, bool use_extra)
{
	const int64_t min = INT32_MIN;
	const int64_t max = use_extra ? (int64_t)INT32_MAX + (3LL << 32) : INT32_MAX;
	if (ts.tv_sec <= min) {
		ts.tv_sec = min;
		ts.tv_nsec = 0;
	} else if (ts.tv_sec >= max) {
		ts.tv_sec = max;
		ts.tv_nsec = 0;
	}
	*secs = (uint32_t)ts.tv_sec;
	if (use_extra) {
		int64_t epoch = (ts.tv_sec - (int32_t)(uint32_t)ts.tv_sec) >> 32;
		*extra = (uint32_t)((epoch & 3) | ((uint64_t)ts.tv_nsec << 2));
	}
}

struct timespec ext4_get_time(const struct ext2_inode_large *inode, enum ext4_time_field which)
{
	switch (which) {
	case EXT4_ATIME:
		return decode_time(inode->i_atime, inode->i_atime_extra,
				   has_extra(inode, EXTRA_END(i_atime_extra)));
	case EXT4_MTIME:
		return decode_time(inode->i_mtime, inode->i_mtime_extra,
				   has_extra(inode, EXTRA_END(i_mtime_extra)));
	case EXT4_CTIME:
		return decode_time(inode->i_ctime, inode->i_ctime_extra,
				   has_extra(inode, EXTRA_END(i_ctime_extra)));
	case EXT4_CRTIME:
	default:
		if (!has_extra(inode, EXTRA_END(i_crtime)))
			return (struct timespec){ 0, 0 };
		return decode_time(inode->i_crtime, inode->i_crtime_extra,
				   has_extra(inode, EXTRA_END(i_crtime_extra)));
	}
}

void ext4_set_time(struct ext2_inode_large *inode, enum ext4_time_field which, struct timespec ts)
{
	switch (which) {
	case EXT4_ATIME:
		encode_time(ts, &inode->i_atime, &inode->i_atime_extra,
			    has_extra(inode, EXTRA_END(i_atime_extra)));
		break;
	case EXT4_MTIME:
		encode_time(ts, &inode->i_mtime, &inode->i_mtime_extra,
			    has_extra(inode, EXTRA_END(i_mtime_extra)));
		break;
	case EXT4_CTIME:
		encode_time(ts, &inode->i_ctime, &inode->i_ctime_extra,
			    has_extra(inode, EXTRA_END(i_ctime_extra)));
		break;
	case EXT4_CRTIME:
	default:
		if (has_extra(inode, EXTRA_END(i_crtime)))
			encode_time(ts, &inode->i_crtime, &inode->i_crtime_extra,
				    has_extra(inode, EXTRA_END(i_crtime_extra)));
		break;
	}
}

struct timespec ext4_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

void ext4_touch(struct ext2_inode_large *inode, bool mtime)
{
	struct timespec now = ext4_now();
	ext4_set_time(inode, EXT4_CTIME, now);
	if (mtime)
		ext4_set_time(inode, EXT4_MTIME, now);
}

static int ts_cmp(struct timespec a, struct timespec b)
{
	if (a.tv_sec != b.tv_sec)
		return a.tv_sec < b.tv_sec ? -1 : 1;
	if (a.tv_nsec != b.tv_nsec)
		return a.tv_nsec < b.tv_nsec ? -1 : 1;
	return 0;
}

int ext4_touch_atime(struct sm_fs *f, ext2_ino_t ino)
{
	struct ext2_inode_large inode;
	if (f->read_only || f->atime == SM_ATIME_NOATIME)
		return 0;
	int ret = ext4_read_inode(f, ino, &inode);
	if (ret)
		return ret;
	if (inode.i_flags & (EXT2_NOATIME_FL | EXT2_IMMUTABLE_FL))
		return 0;
	struct timespec now = ext4_now();
	struct timespec at = ext4_get_time(&inode, EXT4_ATIME);
	/* The kernel's relatime_need_update(). */
	if (f->atime == SM_ATIME_RELATIME &&
	    ts_cmp(ext4_get_time(&inode, EXT4_MTIME), at) < 0 &&
	    ts_cmp(ext4_get_time(&inode, EXT4_CTIME), at) < 0 &&
	    now.tv_sec - at.tv_sec < 24 * 60 * 60)
		return 0;
	if (ts_cmp(at, now) == 0)
		return 0;
	ext4_set_time(&inode, EXT4_ATIME, now);
	return ext4_write_inode(f, ino, &inode);
}

void ext4_fill_attr(const struct sm_fs *f, ext2_ino_t ino, const struct ext2_inode_large *inode,
		    struct sm_attr *out)
{
	ext2_filsys fs = f->fs;
	memset(out, 0, sizeof(*out));
	out->ino = ino;
	out->generation = inode->i_generation;
	out->mode = inode->i_mode;
	out->nlink = inode->i_links_count;
	/* dir_nlink: a directory with more than 65000 subdirectories stores 1. */
	out->uid = inode_uid(*inode);
	out->gid = inode_gid(*inode);
	out->size = ext4_isize(inode);
	out->blocks = ext2fs_get_stat_i_blocks(fs, (struct ext2_inode *)inode);
	out->blksize = fs->blocksize;
	if (S_ISCHR(inode->i_mode) || S_ISBLK(inode->i_mode)) {
		/* Old encoding in block[0], new (huge) encoding in block[1]. */
		if (inode->i_block[0]) {
			out->rdev = makedev((inode->i_block[0] >> 8) & 0xff, inode->i_block[0] & 0xff);
		} else {
			uint32_t n = inode->i_block[1];
			out->rdev = makedev((n & 0xfff00) >> 8, (n & 0xff) | ((n >> 12) & 0xfff00));
		}
	}
	out->atime = ext4_get_time(inode, EXT4_ATIME);
	out->mtime = ext4_get_time(inode, EXT4_MTIME);
	out->ctime = ext4_get_time(inode, EXT4_CTIME);
	out->btime = ext4_get_time(inode, EXT4_CRTIME);
}

static unsigned open_bucket(ext2_ino_t ino)
{
	return (ino * 2654435761u) % EXT4_OPEN_BUCKETS;
}

uint32_t ext4_open_count(struct sm_fs *f, ext2_ino_t ino)
{
	for (struct ext4_open_inode *o = f->open_inodes[open_bucket(ino)]; o; o = o->next)
		if (o->ino == ino)
			return o->opens;
	return 0;
}

int ext4_open_get(struct sm_fs *f, ext2_ino_t ino)
{
	struct ext4_open_inode **head = &f->open_inodes[open_bucket(ino)];
	for (struct ext4_open_inode *o = *head; o; o = o->next)
		if (o->ino == ino) {
			o->opens++;
			return 0;
		}
	struct ext4_open_inode *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->ino = ino;
	o->opens = 1;
	o->next = *head;
	*head = o;
	return 0;
}

uint32_t ext4_open_put(struct sm_fs *f, ext2_ino_t ino)
{
	struct ext4_open_inode **pp = &f->open_inodes[open_bucket(ino)];
	for (; *pp; pp = &(*pp)->next) {
		struct ext4_open_inode *o = *pp;
		if (o->ino != ino)
			continue;
		if (--o->opens > 0)
			return o->opens;
		*pp = o->next;
		free(o);
		return 0;
	}
	return 0;
}

int sm_statfs(struct sm_fs *f, struct sm_statfs *out)
{
	EXT4_LOCK(f);
	ext2_filsys fs = f->fs;
	struct ext2_super_block *sb = fs->super;
	/* Like the kernel's ext4 (minixdf off): overhead is not counted as used. */
	uint64_t overhead = sb->s_overhead_clusters;
	uint64_t blocks = ext2fs_blocks_count(sb);
	uint64_t free_blocks = ext2fs_free_blocks_count(sb);
	uint64_t reserved = ext2fs_r_blocks_count(sb);
	memset(out, 0, sizeof(*out));
	out->bsize = fs->blocksize;
	out->frsize = fs->blocksize;
	out->blocks = blocks > overhead ? blocks - overhead : blocks;
	out->bfree = free_blocks;
	out->bavail = free_blocks > reserved ? free_blocks - reserved : 0;
	out->files = sb->s_inodes_count;
	out->ffree = sb->s_free_inodes_count;
	out->namemax = EXT2_NAME_LEN;
	uint64_t fsid = 0;
	memcpy(&fsid, sb->s_uuid, sizeof(fsid));
	out->fsid = fsid;
	EXT4_UNLOCK(f);
	return 0;
}

int ext4_flush_all(struct sm_fs *f)
{
	if (f->read_only)
		return 0;
	/* Data blocks are already in the I/O channel; the superblock,
	 * descriptors and bitmaps are not until flushed.  The channel's flush
	 * then fsyncs the image. */
	errcode_t err = ext2fs_flush2(f->fs, 0);
	if (!err)
		err = io_channel_flush(f->fs->io);
	return ext4_err(err);
}

int sm_sync(struct sm_fs *f)
{
	EXT4_LOCK(f);
	int ret = ext4_flush_all(f);
	EXT4_UNLOCK(f);
	return ret;
}
