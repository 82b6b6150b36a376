/* Directories of the in-memory backend: a hash table per directory for
 * lookups, the entries in creation order for readdir, and the readdir
 * cookies that index that order directly (no rescans, whatever the size).
 *
 * Cookies: 1 is after ".", 2 after "..", and slot + 3 after the entry in
 * that slot.  A removed entry leaves its slot empty, so a cookie handed out
 * stays valid while the directory is open; the empty slots are squeezed
 * out once no handle is open.  Entries made after opendir show up when the
 * reader gets to them, as POSIX allows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mem_private.h"

#define MEM_MIN_BUCKETS 8u
#define MEM_MIN_SLOTS   8u

int mem_check_name(const char *name, size_t *len)
{
	size_t n;

	if (!name || !name[0])
		return -ENOENT;
	n = strnlen(name, MEM_NAME_MAX + 1);
	if (n > MEM_NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(name, '/', n))
		return -EINVAL;
	*len = n;
	return 0;
}

/* FNV-1a from a per-mount seed: names are short, and a seed the caller
 * cannot know keeps crafted names from landing in one chain. */
static uint32_t name_hash(const struct sm_fs *f, const char *name, size_t len)
{
	uint32_t h = 2166136261u ^ f->hash_seed;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 16777619u;
	}
	return h;
}

struct mem_dirent *mem_dir_find(const struct sm_fs *f, const struct mem_dir *dir,
				const char *name, size_t len)
{
	uint32_t h;

	if (!dir->nbuckets)
		return NULL;
	h = name_hash(f, name, len);
	for (struct mem_dirent *e = dir->buckets[h & (dir->nbuckets - 1)]; e; e = e->hnext)
		if (e->hash == h && e->len == len && memcmp(e->name, name, len) == 0)
			return e;
	return NULL;
}

/* Grow a table of pointers from *cap to ncap entries, charging the
 * difference. */
static int grow_table(struct sm_fs *f, struct mem_dirent ***table, size_t *cap, size_t ncap,
		      bool zero)
{
	size_t add = (ncap - *cap) * sizeof(**table);
	struct mem_dirent **n;
	int ret = mem_charge(f, add);

	if (ret)
		return ret;
	n = zero ? calloc(ncap, sizeof(*n)) : realloc(*table, ncap * sizeof(*n));
	if (!n) {
		mem_uncharge(f, add);
		return -ENOMEM;
	}
	if (zero)
		free(*table);
	*table = n;
	*cap = ncap;
	return 0;
}

/* Keep the load factor at most 1: double and rehash. */
static int grow_buckets(struct sm_fs *f, struct mem_dir *dir)
{
	struct mem_dirent **old = dir->buckets;
	size_t oldn = dir->nbuckets, ncap = oldn ? oldn * 2 : MEM_MIN_BUCKETS;
	struct mem_dirent **table = NULL;
	size_t cap = 0;
	int ret;

	/* Charge only the growth: the old table is given back below. */
	ret = grow_table(f, &table, &cap, ncap, true);
	if (ret)
		return ret;
	for (size_t i = 0; i < oldn; i++) {
		struct mem_dirent *e = old[i], *next;

		for (; e; e = next) {
			next = e->hnext;
			e->hnext = table[e->hash & (ncap - 1)];
			table[e->hash & (ncap - 1)] = e;
		}
	}
	mem_uncharge(f, oldn * sizeof(*old));
	free(old);
	dir->buckets = table;
	dir->nbuckets = ncap;
	return 0;
}

int mem_dir_add(struct sm_fs *f, struct mem_inode *dir_inode, const char *name, size_t len,
		const struct mem_inode *child)
{
	struct mem_dir *dir = &dir_inode->u.dir;
	size_t esize = sizeof(struct mem_dirent) + len + 1;
	struct mem_dirent *e;
	int ret;

	if (dir->count + 1 > dir->nbuckets) {
		ret = grow_buckets(f, dir);
		if (ret)
			return ret;
	}
	if (dir->nslots == dir->slots_cap) {
		mem_dir_maybe_compact(f, dir_inode);
		if (dir->nslots == dir->slots_cap) {
			size_t ncap = dir->slots_cap ? dir->slots_cap * 2 : MEM_MIN_SLOTS;

			ret = grow_table(f, &dir->slots, &dir->slots_cap, ncap, false);
			if (ret)
				return ret;
		}
	}
	ret = mem_charge(f, esize);
	if (ret)
		return ret;
	e = malloc(esize);
	if (!e) {
		mem_uncharge(f, esize);
		return -ENOMEM;
	}
	memcpy(e->name, name, len);
	e->name[len] = '\0';
	e->len = (uint16_t)len;
	e->ino = child->ino;
	e->type = child->mode & S_IFMT;
	e->hash = name_hash(f, name, len);
	e->hnext = dir->buckets[e->hash & (dir->nbuckets - 1)];
	dir->buckets[e->hash & (dir->nbuckets - 1)] = e;
	e->slot = dir->nslots;
	dir->slots[dir->nslots++] = e;
	dir->count++;
	return 0;
}

/* An empty directory nobody has open gives its tables back: a directory
 * that once held a million names must not keep their memory. */
static void release_if_empty(struct sm_fs *f, struct mem_inode *dir_inode)
{
	struct mem_dir *dir = &dir_inode->u.dir;

	if (dir->count || dir_inode->opens)
		return;
	mem_uncharge(f, (dir->nbuckets + dir->slots_cap) * sizeof(struct mem_dirent *));
	free(dir->buckets);
	free(dir->slots);
	dir->buckets = dir->slots = NULL;
	dir->nbuckets = dir->nslots = dir->slots_cap = 0;
}

void mem_dir_remove(struct sm_fs *f, struct mem_inode *dir_inode, struct mem_dirent *e)
{
	struct mem_dir *dir = &dir_inode->u.dir;
	struct mem_dirent **pp = &dir->buckets[e->hash & (dir->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	dir->slots[e->slot] = NULL;
	/* The last slot can go at once: no cookie points past it. */
	while (dir->nslots && !dir->slots[dir->nslots - 1] && dir_inode->opens == 0)
		dir->nslots--;
	dir->count--;
	mem_uncharge(f, sizeof(*e) + e->len + 1);
	free(e);
	mem_dir_maybe_compact(f, dir_inode);
	release_if_empty(f, dir_inode);
}

void mem_dir_maybe_compact(struct sm_fs *f, struct mem_inode *dir_inode)
{
	struct mem_dir *dir = &dir_inode->u.dir;
	size_t holes = dir->nslots - dir->count, j = 0;

	(void)f;
	/* Open handles may hold cookies (slot numbers): leave them be.
	 * Compacting costs O(slots), so only when holes dominate. */
	if (dir_inode->opens || holes == 0 || holes < dir->count + MEM_MIN_SLOTS)
		return;
	for (size_t i = 0; i < dir->nslots; i++) {
		struct mem_dirent *e = dir->slots[i];

		if (!e)
			continue;
		e->slot = j;
		dir->slots[j++] = e;
	}
	dir->nslots = j;
}

void mem_dir_free(struct sm_fs *f, struct mem_dir *dir)
{
	for (size_t i = 0; i < dir->nslots; i++) {
		struct mem_dirent *e = dir->slots[i];

		if (e) {
			mem_uncharge(f, sizeof(*e) + e->len + 1);
			free(e);
		}
	}
	mem_uncharge(f, (dir->nbuckets + dir->slots_cap) * sizeof(struct mem_dirent *));
	free(dir->buckets);
	free(dir->slots);
	memset(dir, 0, sizeof(*dir));
}

/* dir_nlink: past EXT4_LINK_MAX a directory's count becomes 1
 * ("uncounted") and stays; it never drops below 2 for "." and its name. */
void mem_dir_changed(struct mem_inode *dir, int nlink)
{
	if (nlink > 0 && (dir->nlink == 1 || dir->nlink >= MEM_LINK_MAX))
		dir->nlink = 1;
	else if (nlink > 0)
		dir->nlink++;
	else if (nlink < 0 && dir->nlink > 2)
		dir->nlink--;
	mem_touch(dir, true);
}

/* ---- readdir ---- */

int sm_opendir(struct sm_fs *f, uint64_t ino, uint64_t *fh)
{
	struct mem_inode *inode;
	int ret;

	MEM_LOCK(f);
	ret = mem_inode_find(f, ino, &inode);
	if (!ret && !S_ISDIR(inode->mode))
		ret = -ENOTDIR;
	if (!ret) {
		/* Keeps slot numbers (cookies) stable, and a removed
		 * directory alive until its last handle goes. */
		inode->opens++;
		*fh = ino;
	}
	MEM_UNLOCK(f);
	return ret;
}

int sm_readdir(struct sm_fs *f, uint64_t ino, uint64_t fh, uint64_t off,
	       sm_dirent_fn fn, void *ctx)
{
	struct mem_inode *inode;
	struct mem_dir *dir;
	int ret = 0;

	MEM_LOCK(f);
	inode = mem_inode_get(f, ino);
	if (!inode || fh != ino || !S_ISDIR(inode->mode) || inode->opens == 0) {
		ret = -EBADF;
		goto out;
	}
	dir = &inode->u.dir;
	if (off == 0) {
		mem_touch_atime(f, inode);
		if (fn(ctx, ".", 1, ino, S_IFDIR, 1))
			goto out;
		off = 1;
	}
	if (off == 1) {
		if (fn(ctx, "..", 2, dir->parent, S_IFDIR, 2))
			goto out;
		off = 2;
	}
	for (uint64_t i = off - 2; i < dir->nslots; i++) {
		const struct mem_dirent *e = dir->slots[i];

		if (e && fn(ctx, e->name, e->len, e->ino, e->type, i + 3))
			break;
	}
out:
	MEM_UNLOCK(f);
	return ret;
}

int sm_releasedir(struct sm_fs *f, uint64_t ino, uint64_t fh)
{
	struct mem_inode *inode;
	int ret = 0;

	(void)fh;
	MEM_LOCK(f);
	inode = mem_inode_get(f, ino);
	if (!inode || !S_ISDIR(inode->mode) || inode->opens == 0) {
		ret = -EBADF;
		goto out;
	}
	inode->opens--;
	if (inode->opens == 0) {
		struct mem_dir *dir = &inode->u.dir;

		while (dir->nslots && !dir->slots[dir->nslots - 1])
			dir->nslots--;
		mem_dir_maybe_compact(f, inode);
		release_if_empty(f, inode);
	}
	mem_inode_put(f, inode);
out:
	MEM_UNLOCK(f);
	return ret;
}
