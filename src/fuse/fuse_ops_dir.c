/* Directories: readdir and readdirplus over the backend's cookie-based
 * sm_readdir. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuse/fuse_ops_i.h"

void sm_op_opendir(fuse_req_t req, fuse_ino_t nodeid, struct fuse_file_info *fi)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);
	uint64_t fh;
	int ret;

	ret = sm_opendir(uf->fs, ino, &fh);
	if (ret < 0) {
		sm_fuse_reply_err(req, "opendir", ino, -ret);
		return;
	}
	fi->fh = fh;
	if (fuse_reply_open(req, fi) == -ENOENT)
		sm_releasedir(uf->fs, ino, fh);
}

void sm_op_releasedir(fuse_req_t req, fuse_ino_t nodeid, struct fuse_file_info *fi)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);

	sm_fuse_reply_status(req, "releasedir", ino, sm_releasedir(uf->fs, ino, fi->fh));
}

void sm_op_fsyncdir(fuse_req_t req, fuse_ino_t nodeid, int datasync,
			   struct fuse_file_info *fi)
{
	struct sm_fuse *uf = sm_ud(req);

	(void)datasync;
	(void)fi;
	sm_fuse_reply_status(req, "fsyncdir", sm_fuse_to_backend(uf, nodeid), sm_sync(uf->fs));
}

/* The backend's names are counted; fuse_add_direntry*() want C strings. */
static bool copy_name(char *dst, const char *name, size_t namelen)
{
	if (namelen == 0 || namelen > SM_NAME_MAX || memchr(name, '\0', namelen))
		return false;
	memcpy(dst, name, namelen);
	dst[namelen] = '\0';
	return true;
}

struct readdir_ctx {
	fuse_req_t req;
	char *buf;
	size_t size, pos;
	bool bad_name;
};

static int readdir_fill(void *ctx, const char *name, size_t namelen, uint64_t ino,
			uint32_t type_mode, uint64_t next)
{
	struct readdir_ctx *rc = ctx;
	char cname[SM_NAME_MAX + 1];
	struct stat st;
	size_t need;

	if (!copy_name(cname, name, namelen)) {
		/* the backend validates names; skip rather than send garbage */
		rc->bad_name = true;
		return 0;
	}
	memset(&st, 0, sizeof(st));
	st.st_ino = (ino_t)ino;
	st.st_mode = (mode_t)(type_mode & S_IFMT);
	need = fuse_add_direntry(rc->req, rc->buf + rc->pos, rc->size - rc->pos, cname,
				 &st, (off_t)next);
	if (need > rc->size - rc->pos)
		return 1;   /* full: the entry is not consumed */
	rc->pos += need;
	return 0;
}

void sm_op_readdir(fuse_req_t req, fuse_ino_t nodeid, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);
	struct readdir_ctx rc = { .req = req, .size = size };
	int ret;

	rc.buf = malloc(size ? size : 1);
	if (!rc.buf) {
		sm_fuse_reply_err(req, "readdir", ino, ENOMEM);
		return;
	}
	ret = sm_readdir(uf->fs, ino, fi->fh, (uint64_t)off, readdir_fill, &rc);
	if (rc.bad_name)
		sm_fuse_log_failure(uf, "readdir (bad name skipped)", ino, EUCLEAN);
	/* Entries already gathered are worth more than the error: the next
	 * call resumes after them and meets it again. */
	if (ret < 0 && rc.pos == 0)
		sm_fuse_reply_err(req, "readdir", ino, -ret);
	else
		fuse_reply_buf(req, rc.buf, rc.pos);
	free(rc.buf);
}

/* readdirplus gathers the entries first and reads their attributes after
 * sm_readdir returns: the backend holds its lock around the callback. */
struct plus_entry {
	uint64_t ino, next;
	uint32_t type;
	char name[SM_NAME_MAX + 1];
};

struct plus_ctx {
	fuse_req_t req;
	size_t size, pos;
	struct plus_entry *ents;
	size_t count, cap;
	bool bad_name, nomem;
};

static int plus_gather(void *ctx, const char *name, size_t namelen, uint64_t ino,
		       uint32_t type_mode, uint64_t next)
{
	struct plus_ctx *pc = ctx;
	struct plus_entry *pe;
	char cname[SM_NAME_MAX + 1];
	size_t need;

	if (!copy_name(cname, name, namelen)) {
		pc->bad_name = true;
		return 0;
	}
	/* with a NULL buffer only the size is computed */
	need = fuse_add_direntry_plus(pc->req, NULL, 0, cname, NULL, 0);
	if (need > pc->size - pc->pos)
		return 1;
	if (pc->count == pc->cap) {
		size_t ncap = pc->cap ? pc->cap * 2 : 64;
		struct plus_entry *n = realloc(pc->ents, ncap * sizeof(*n));

		if (!n) {
			pc->nomem = true;
			return 1;
		}
		pc->ents = n;
		pc->cap = ncap;
	}
	pe = &pc->ents[pc->count++];
	pe->ino = ino;
	pe->next = next;
	pe->type = type_mode & S_IFMT;
	memcpy(pe->name, cname, namelen + 1);
	pc->pos += need;
	return 0;
}

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* The entry for one gathered name: with attributes (a lookup reference)
 * when we can, else only d_ino and type, which the kernel takes as "no
 * attributes" and resolves with a lookup later. */
static void plus_entry_param(struct sm_fuse *uf, uint64_t dir, const struct plus_entry *pe,
			     struct fuse_entry_param *e)
{
	struct sm_attr a;
	int ret;

	if (!is_dot_or_dotdot(pe->name)) {
		ret = sm_getattr(uf->fs, pe->ino, &a);
		if (ret < 0) {
			sm_fuse_log_failure(uf, "readdirplus", ret == -EUCLEAN ? pe->ino : dir, -ret);
		} else if ((a.mode & S_IFMT) == pe->type && sm_fuse_fill_entry(uf, &a, e) == 0) {
			return;
		}
	}
	memset(e, 0, sizeof(*e));
	e->attr.st_ino = (ino_t)pe->ino;
	e->attr.st_mode = (mode_t)pe->type;
}

void sm_op_readdirplus(fuse_req_t req, fuse_ino_t nodeid, size_t size, off_t off,
			      struct fuse_file_info *fi)
{
	struct sm_fuse *uf = sm_ud(req);
	uint64_t ino = sm_fuse_to_backend(uf, nodeid);
	struct plus_ctx pc = { .req = req, .size = size };
	size_t pos = 0, i;
	char *buf;
	int ret;

	buf = malloc(size ? size : 1);
	if (!buf) {
		sm_fuse_reply_err(req, "readdirplus", ino, ENOMEM);
		return;
	}
	ret = sm_readdir(uf->fs, ino, fi->fh, (uint64_t)off, plus_gather, &pc);
	if (pc.bad_name)
		sm_fuse_log_failure(uf, "readdirplus (bad name skipped)", ino, EUCLEAN);
	if (pc.nomem && pc.count == 0 && ret >= 0)
		ret = -ENOMEM;
	if (ret < 0 && pc.count == 0) {
		sm_fuse_reply_err(req, "readdirplus", ino, -ret);
		goto out;
	}
	for (i = 0; i < pc.count; i++) {
		struct fuse_entry_param e;
		size_t need;

		plus_entry_param(uf, ino, &pc.ents[i], &e);
		need = fuse_add_direntry_plus(req, buf + pos, size - pos, pc.ents[i].name, &e,
					      (off_t)pc.ents[i].next);
		if (need > size - pos)
			break;   /* cannot happen: sizes were reserved while gathering */
		pos += need;
	}
	fuse_reply_buf(req, buf, pos);
out:
	free(pc.ents);
	free(buf);
}

