/* File data of the in-memory backend: read, write, truncate, fallocate,
 * SEEK_DATA/SEEK_HOLE, fsync.
 *
 * A file is a radix tree of 4 KiB pages by page index (mem_private.h).
 * Holes are missing pages: a byte written at 1 TiB costs one page and a few
 * 512-byte nodes, and a read of a hole is a memset.  Pages are charged
 * against the mount's capacity as they appear; a write that runs out is
 * short, as on a full disk.  fallocate reserves pages without memory (see
 * UNWRITTEN), as ext4 allocates unwritten extents.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem_private.h"

#define PAGE_MASK ((uint64_t)MEM_PAGE_SIZE - 1)

/* One call moves at most this much (as ext4: a 32-bit length). */
#define MEM_MAX_IO (1u << 30)

/* What fallocate leaves in a page's slot: the space is charged but nothing
 * is allocated until the first write, it reads as zeros, and SEEK_DATA
 * takes it for a hole, like ext4's unwritten extents.  Never written to. */
static const char unwritten_page[MEM_PAGE_SIZE];
#define UNWRITTEN ((void *)(uintptr_t)unwritten_page)

/* How many page indices a tree of this height covers. */
static uint64_t tree_span(unsigned height)
{
	unsigned bits = height * MEM_FANOUT_SHIFT;

	return bits >= 64 ? UINT64_MAX : 1ULL << bits;
}

/* Which slot of a node at `level` (leaves' parents are level 0) leads to
 * page idx. */
static unsigned slot_index(uint64_t idx, unsigned level)
{
	return (unsigned)(idx >> (level * MEM_FANOUT_SHIFT)) & (MEM_FANOUT - 1);
}

static int regular_only(const struct mem_inode *inode)
{
	if (S_ISDIR(inode->mode))
		return -EISDIR;
	return S_ISREG(inode->mode) ? 0 : -EINVAL;
}

static char *page_find(const struct mem_file *file, uint64_t idx)
{
	void *p = file->root;
	unsigned h = file->height;

	if (idx >= tree_span(h))
		return NULL;
	while (h > 0 && p) {
		h--;
		p = ((struct mem_node *)p)->slot[slot_index(idx, h)];
	}
	return p;
}

static int node_new(struct sm_fs *f, struct mem_node **out)
{
	int ret = mem_charge(f, sizeof(struct mem_node));

	if (ret)
		return ret;
	*out = calloc(1, sizeof(struct mem_node));
	if (!*out) {
		mem_uncharge(f, sizeof(struct mem_node));
		return -ENOMEM;
	}
	return 0;
}

static void node_free(struct sm_fs *f, struct mem_node *n)
{
	free(n);
	mem_uncharge(f, sizeof(*n));
}

/* Make the tree tall enough to hold idx. */
static int grow_height(struct sm_fs *f, struct mem_file *file, uint64_t idx)
{
	while (idx >= tree_span(file->height)) {
		struct mem_node *n;
		int ret;

		if (!file->root) {
			file->height++;
			continue;
		}
		ret = node_new(f, &n);
		if (ret)
			return ret;
		n->slot[0] = file->root;
		n->used = 1;
		file->root = n;
		file->height++;
	}
	return 0;
}

/* The slot for page idx, the nodes on the way made; *parent is the node
 * that holds it (NULL: the root slot). */
static int page_slot(struct sm_fs *f, struct mem_file *file, uint64_t idx, void ***out,
		     struct mem_node **parent)
{
	void **slot = &file->root;
	int ret;

	*parent = NULL;
	ret = grow_height(f, file, idx);
	if (ret)
		return ret;
	for (unsigned h = file->height; h > 0; h--) {
		struct mem_node *n = *slot;

		if (!n) {
			ret = node_new(f, &n);
			if (ret)
				return ret;
			*slot = n;
			if (*parent)
				(*parent)->used++;
		}
		*parent = n;
		slot = &n->slot[slot_index(idx, h - 1)];
	}
	*out = slot;
	return 0;
}

/* A page that was not there is now: count it. */
static void page_added(struct mem_file *file, struct mem_node *parent)
{
	if (parent)
		parent->used++;
	file->pages++;
}

/* The page at idx, made writable (created if missing, or allocated if
 * only reserved).  *fresh says it is new: its contents are undefined and
 * the caller must fill or zero all of it. */
static int page_get(struct sm_fs *f, struct mem_file *file, uint64_t idx, char **page, bool *fresh)
{
	struct mem_node *parent;
	void **slot, *p;
	int ret;

	*fresh = false;
	ret = page_slot(f, file, idx, &slot, &parent);
	if (ret)
		return ret;
	if (*slot && *slot != UNWRITTEN) {
		*page = *slot;
		return 0;
	}
	/* A reserved page was charged by fallocate. */
	if (!*slot) {
		ret = mem_charge(f, MEM_PAGE_SIZE);
		if (ret)
			return ret;
	}
	p = malloc(MEM_PAGE_SIZE);
	if (!p) {
		if (!*slot)
			mem_uncharge(f, MEM_PAGE_SIZE);
		return -ENOMEM;
	}
	if (!*slot)
		page_added(file, parent);
	*slot = p;
	*page = p;
	*fresh = true;
	return 0;
}

/* Reserve page idx for fallocate if it is a hole. */
static int page_reserve(struct sm_fs *f, struct mem_file *file, uint64_t idx)
{
	struct mem_node *parent;
	void **slot;
	int ret;

	ret = page_slot(f, file, idx, &slot, &parent);
	if (ret || *slot)
		return ret;
	ret = mem_charge(f, MEM_PAGE_SIZE);
	if (ret)
		return ret;
	*slot = UNWRITTEN;
	page_added(file, parent);
	return 0;
}

/* Turn an allocated page back into a reserved one (ZERO_RANGE). */
static void page_unwrite(struct mem_file *file, uint64_t idx)
{
	void **slot = &file->root;

	if (idx >= tree_span(file->height))
		return;
	for (unsigned h = file->height; h > 0 && *slot; h--)
		slot = &((struct mem_node *)*slot)->slot[slot_index(idx, h - 1)];
	if (*slot && *slot != UNWRITTEN) {
		free(*slot);
		*slot = UNWRITTEN;
	}
}

/* Free the pages [first, last] of the subtree in *slot (height h, first
 * index base), and the nodes that become empty. */
static void free_sub(struct sm_fs *f, struct mem_file *file, void **slot, unsigned h,
		     uint64_t base, uint64_t first, uint64_t last)
{
	struct mem_node *n = *slot;
	uint64_t cs, lo, hi;

	if (!n)
		return;
	if (h == 0) {
		if ((void *)n != UNWRITTEN)
			free(n);
		mem_uncharge(f, MEM_PAGE_SIZE);
		file->pages--;
		*slot = NULL;
		return;
	}
	cs = tree_span(h - 1);
	lo = first > base ? (first - base) / cs : 0;
	hi = (last - base) / cs;
	if (hi >= MEM_FANOUT)
		hi = MEM_FANOUT - 1;
	for (uint64_t i = lo; i <= hi; i++) {
		if (!n->slot[i])
			continue;
		free_sub(f, file, &n->slot[i], h - 1, base + i * cs, first, last);
		if (!n->slot[i])
			n->used--;
	}
	if (n->used == 0) {
		node_free(f, n);
		*slot = NULL;
	}
}

/* Drop the top levels that only lead to index 0's subtree. */
static void shrink_height(struct sm_fs *f, struct mem_file *file)
{
	while (file->height > 0 && file->root) {
		struct mem_node *n = file->root;

		if (n->used != 1 || !n->slot[0])
			break;
		file->root = n->slot[0];
		file->height--;
		node_free(f, n);
	}
	if (!file->root)
		file->height = 0;
}

static void free_range(struct sm_fs *f, struct mem_file *file, uint64_t first, uint64_t last)
{
	if (first > last || first >= tree_span(file->height))
		return;
	free_sub(f, file, &file->root, file->height, 0, first, last);
	shrink_height(f, file);
}

void mem_file_free(struct sm_fs *f, struct mem_file *file)
{
	free_range(f, file, 0, UINT64_MAX);
}

/* Pages present in [first, last] below p (height h, first index base). */
static uint64_t count_sub(const void *p, unsigned h, uint64_t base, uint64_t first,
			  uint64_t last)
{
	const struct mem_node *n = p;
	uint64_t cs, lo, hi, sum = 0;

	if (!p)
		return 0;
	if (h == 0)
		return 1;
	cs = tree_span(h - 1);
	lo = first > base ? (first - base) / cs : 0;
	hi = (last - base) / cs;
	if (hi >= MEM_FANOUT)
		hi = MEM_FANOUT - 1;
	for (uint64_t i = lo; i <= hi; i++)
		sum += count_sub(n->slot[i], h - 1, base + i * cs, first, last);
	return sum;
}

static uint64_t count_range(const struct mem_file *file, uint64_t first, uint64_t last)
{
	if (first > last || first >= tree_span(file->height))
		return 0;
	return count_sub(file->root, file->height, 0, first, last);
}

/* Zero bytes [from, to) of page idx, if it exists. */
static void zero_in_page(struct mem_file *file, uint64_t idx, unsigned from, unsigned to)
{
	char *page = page_find(file, idx);

	if (page && page != UNWRITTEN && from < to)
		memset(page + from, 0, to - from);
}

void mem_truncate(struct sm_fs *f, struct mem_inode *inode, uint64_t size)
{
	struct mem_file *file = &inode->u.file;

	/* Bytes past the new end must read as zeros if it grows again. */
	if (size < inode->size && (size & PAGE_MASK))
		zero_in_page(file, size >> MEM_PAGE_SHIFT, (unsigned)(size & PAGE_MASK),
			     MEM_PAGE_SIZE);
	/* Pages past EOF go, preallocated ones too (as ext4). */
	free_range(f, file, (size + PAGE_MASK) >> MEM_PAGE_SHIFT, UINT64_MAX);
	inode->size = size;
}

/* ---- read / write ---- */

static void copy_out(const struct mem_file *file, char *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		uint64_t pos = off + done;
		size_t in = (size_t)(pos & PAGE_MASK);
		size_t n = MEM_PAGE_SIZE - in;
		const char *page = page_find(file, pos >> MEM_PAGE_SHIFT);

		if (n > len - done)
			n = len - done;
		if (page)
			memcpy(buf + done, page + in, n);
		else
			memset(buf + done, 0, n);
		done += n;
	}
}

ssize_t sm_read(struct sm_fs *f, uint64_t ino, uint64_t fh, void *buf, size_t size, uint64_t off)
{
	struct mem_inode *inode;
	ssize_t ret;

	MEM_LOCK(f);
	ret = mem_inode_find(f, ino, &inode);
	if (!ret)
		ret = regular_only(inode);
	if (ret || size == 0)
		goto out;
	if (size > MEM_MAX_IO)
		size = MEM_MAX_IO;
	if (off < inode->size) {
		size_t len = inode->size - off < size ? (size_t)(inode->size - off) : size;

		copy_out(&inode->u.file, buf, len, off);
		ret = (ssize_t)len;
	}
	if (!(fh & MEM_FH_NOATIME))
		mem_touch_atime(f, inode);
out:
	MEM_UNLOCK(f);
	return ret;
}

/* Copy data into the file's pages; stops at the first page that cannot be
 * had (*err says why).  Returns the bytes stored. */
static size_t copy_in(struct sm_fs *f, struct mem_file *file, const char *data, size_t size,
		      uint64_t off, int *err)
{
	size_t done = 0;

	*err = 0;
	while (done < size) {
		uint64_t pos = off + done;
		size_t in = (size_t)(pos & PAGE_MASK);
		size_t n = MEM_PAGE_SIZE - in;
		bool fresh;
		char *page;

		if (n > size - done)
			n = size - done;
		*err = page_get(f, file, pos >> MEM_PAGE_SHIFT, &page, &fresh);
		if (*err)
			break;
		if (fresh) {
			/* Only what the write does not cover needs zeroing. */
			memset(page, 0, in);
			memset(page + in + n, 0, MEM_PAGE_SIZE - in - n);
		}
		memcpy(page + in, data + done, n);
		done += n;
	}
	return done;
}

ssize_t sm_write(struct sm_fs *f, uint64_t ino, uint64_t fh, const void *buf, size_t size,
		 uint64_t off)
{
	struct mem_inode *inode;
	size_t done;
	ssize_t ret;
	int err;

	(void)fh;
	MEM_LOCK(f);
	ret = mem_check_rw(f);
	if (!ret)
		ret = mem_inode_find(f, ino, &inode);
	if (!ret)
		ret = regular_only(inode);
	/* Append-only is enforced at open (O_APPEND); immutable here. */
	if (!ret)
		ret = mem_check_modify(inode, true);
	if (ret || size == 0)
		goto out;
	/* As the kernel: starting at the limit is EFBIG, crossing it is a
	 * short write. */
	if (off >= MEM_MAX_FILE_SIZE) {
		ret = -EFBIG;
		goto out;
	}
	if (size > MEM_MAX_FILE_SIZE - off)
		size = (size_t)(MEM_MAX_FILE_SIZE - off);
	if (size > MEM_MAX_IO)
		size = MEM_MAX_IO;
	done = copy_in(f, &inode->u.file, buf, size, off, &err);
	if (done == 0) {
		ret = err;
		goto out;
	}
	if (off + done > inode->size)
		inode->size = off + done;
	/* SUID/SGID are the glue's to drop (a SETATTR first, or the WRITE's
	 * KILLPRIV_V2 mark). */
	mem_touch(inode, true);
	ret = (ssize_t)done;
out:
	MEM_UNLOCK(f);
	return ret;
}

int sm_fsync(struct sm_fs *f, uint64_t ino, int datasync)
{
	struct mem_inode *inode;
	int ret;

	(void)datasync;
	MEM_LOCK(f);
	ret = mem_inode_find(f, ino, &inode);
	MEM_UNLOCK(f);
	return ret;
}

/* ---- fallocate ---- */

/* Reserve every hole of pages [first, last].  Checks the space first, so
 * that it is all or nothing. */
static int alloc_pages(struct sm_fs *f, struct mem_file *file, uint64_t first, uint64_t last)
{
	uint64_t missing = last - first + 1 - count_range(file, first, last);
	int ret;

	if (missing > (f->cap - f->used) / MEM_PAGE_SIZE)
		return -ENOSPC;
	for (uint64_t i = first; i <= last; i++) {
		ret = page_reserve(f, file, i);
		if (ret)
			return ret;
	}
	return 0;
}

/* Zero the partial pages at the edges of [off, end) and return the whole
 * pages inside as [*first, *last_excl). */
static void zero_edges(struct mem_file *file, uint64_t off, uint64_t end, uint64_t *first,
		       uint64_t *last_excl)
{
	*first = (off + PAGE_MASK) >> MEM_PAGE_SHIFT;
	*last_excl = end >> MEM_PAGE_SHIFT;
	if (off >> MEM_PAGE_SHIFT == (end - 1) >> MEM_PAGE_SHIFT) {
		if ((off & PAGE_MASK) || (end & PAGE_MASK))
			zero_in_page(file, off >> MEM_PAGE_SHIFT, (unsigned)(off & PAGE_MASK),
				     (unsigned)((end - 1) & PAGE_MASK) + 1);
		return;
	}
	if (off & PAGE_MASK)
		zero_in_page(file, off >> MEM_PAGE_SHIFT, (unsigned)(off & PAGE_MASK),
			     MEM_PAGE_SIZE);
	if (end & PAGE_MASK)
		zero_in_page(file, end >> MEM_PAGE_SHIFT, 0, (unsigned)(end & PAGE_MASK));
}

static int falloc_punch(struct sm_fs *f, struct mem_inode *inode, uint64_t off, uint64_t len)
{
	struct mem_file *file = &inode->u.file;
	uint64_t end = off + len, eof_end, first, last_excl;

	/* Nothing at or past EOF, and past it only to the end of its page
	 * (preallocation beyond stays), as the kernel. */
	if (off >= inode->size)
		return 0;
	eof_end = (inode->size + PAGE_MASK) & ~PAGE_MASK;
	if (end > eof_end)
		end = eof_end;
	zero_edges(file, off, end, &first, &last_excl);
	if (first < last_excl)
		free_range(f, file, first, last_excl - 1);
	mem_touch(inode, true);
	return 0;
}

static int falloc_zero(struct sm_fs *f, struct mem_inode *inode, uint64_t off, uint64_t len,
		       bool keep)
{
	struct mem_file *file = &inode->u.file;
	uint64_t end = off + len, first, last_excl;
	int ret;

	/* The range ends up allocated and zero: whole pages reserved (their
	 * memory goes), the partial ones at the edges zeroed in place. */
	ret = alloc_pages(f, file, off >> MEM_PAGE_SHIFT, (end - 1) >> MEM_PAGE_SHIFT);
	if (ret)
		return ret;
	zero_edges(file, off, end, &first, &last_excl);
	for (uint64_t i = first; i < last_excl; i++)
		page_unwrite(file, i);
	if (!keep && end > inode->size)
		inode->size = end;
	mem_touch(inode, true);
	return 0;
}

static int falloc_alloc(struct sm_fs *f, struct mem_inode *inode, uint64_t off, uint64_t len,
			bool keep)
{
	uint64_t end = off + len;
	bool grow = !keep && end > inode->size;
	int ret;

	ret = alloc_pages(f, &inode->u.file, off >> MEM_PAGE_SHIFT, (end - 1) >> MEM_PAGE_SHIFT);
	if (ret)
		return ret;
	if (grow)
		inode->size = end;
	/* ctime always, mtime when the size moved (ext4_alloc_file_blocks). */
	mem_touch(inode, grow);
	return 0;
}

int sm_fallocate(struct sm_fs *f, uint64_t ino, int mode, uint64_t off, uint64_t len)
{
	const int known = SM_FALLOC_KEEP_SIZE | SM_FALLOC_PUNCH_HOLE | SM_FALLOC_ZERO_RANGE;
	bool keep = (mode & SM_FALLOC_KEEP_SIZE) != 0;
	struct mem_inode *inode;
	int ret;

	/* vfs_fallocate()'s checks, in its order. */
	if (mode & ~known)
		return -EOPNOTSUPP;
	if ((mode & SM_FALLOC_PUNCH_HOLE) && (mode & SM_FALLOC_ZERO_RANGE))
		return -EOPNOTSUPP;
	if ((mode & SM_FALLOC_PUNCH_HOLE) && !keep)
		return -EOPNOTSUPP;
	if (len == 0 || off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX)
		return -EINVAL;

	MEM_LOCK(f);
	ret = mem_check_rw(f);
	if (!ret)
		ret = mem_inode_find(f, ino, &inode);
	if (ret)
		goto out;
	if (S_ISDIR(inode->mode)) {
		ret = -EISDIR;
		goto out;
	}
	if (!S_ISREG(inode->mode)) {
		ret = -ENODEV;
		goto out;
	}
	/* Immutable: never.  Append-only: only plain allocation. */
	ret = mem_check_modify(inode, (mode & ~SM_FALLOC_KEEP_SIZE) == 0);
	if (ret)
		goto out;
	if (off + len > MEM_MAX_FILE_SIZE || off + len < off) {
		ret = -EFBIG;
		goto out;
	}
	if (mode & SM_FALLOC_PUNCH_HOLE)
		ret = falloc_punch(f, inode, off, len);
	else if (mode & SM_FALLOC_ZERO_RANGE)
		ret = falloc_zero(f, inode, off, len, keep);
	else
		ret = falloc_alloc(f, inode, off, len, keep);
out:
	MEM_UNLOCK(f);
	return ret;
}

/* ---- SEEK_DATA / SEEK_HOLE ---- */

/* The first index >= idx below p (height h, first index base, idx inside
 * its span) that is a page (want_data) or a hole.  False if none there. */
static bool seek_sub(const void *p, unsigned h, uint64_t base, uint64_t idx, bool want_data,
		     uint64_t *out)
{
	const struct mem_node *n = p;
	uint64_t cs;

	if (!p || h == 0) {
		/* Reserved pages are holes, as unwritten extents. */
		if ((p != NULL && p != UNWRITTEN) != want_data)
			return false;
		*out = idx > base ? idx : base;
		return true;
	}
	cs = tree_span(h - 1);
	for (uint64_t i = idx > base ? (idx - base) / cs : 0; i < MEM_FANOUT; i++)
		if (seek_sub(n->slot[i], h - 1, base + i * cs, idx, want_data, out))
			return true;
	return false;
}

/* The first page (or hole) index at or after idx; UINT64_MAX: no data. */
static uint64_t seek_page(const struct mem_file *file, uint64_t idx, bool want_data)
{
	uint64_t span = tree_span(file->height), res;

	if (idx >= span)
		return want_data ? UINT64_MAX : idx;
	if (seek_sub(file->root, file->height, 0, idx, want_data, &res))
		return res;
	return want_data ? UINT64_MAX : span;
}

int64_t sm_lseek(struct sm_fs *f, uint64_t ino, uint64_t off, int whence)
{
	bool want_data = whence == SEEK_DATA;
	struct mem_inode *inode;
	uint64_t idx, res, pos;
	int64_t ret;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	MEM_LOCK(f);
	ret = mem_inode_find(f, ino, &inode);
	if (!ret)
		ret = regular_only(inode);
	if (ret)
		goto out;
	if (off >= inode->size) {
		ret = -ENXIO;
		goto out;
	}
	idx = off >> MEM_PAGE_SHIFT;
	res = seek_page(&inode->u.file, idx, want_data);
	if (res == UINT64_MAX)
		pos = UINT64_MAX;
	else
		pos = res == idx ? off : res << MEM_PAGE_SHIFT;
	if (want_data)
		ret = pos >= inode->size ? -ENXIO : (int64_t)pos;
	else
		ret = (int64_t)(pos < inode->size ? pos : inode->size);
out:
	MEM_UNLOCK(f);
	return ret;
}
