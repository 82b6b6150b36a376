/* The /dev/fuse transport: plain read and writev, plus the two things
 * libfuse 3.14 cannot do for KILLPRIV_V2 (see fuse_transport.h).
 *
 * Everything read here comes from the kernel, but it is still parsed as
 * bytes of a given length: each field is copied out only when the message
 * holds it, and libfuse's own buffers are never written to. */
#include <errno.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fuse/fuse_glue.h"
#include "fuse/fuse_transport.h"

_Static_assert((int)SM_TP_OPEN == (int)FUSE_OPEN && (int)SM_TP_WRITE == (int)FUSE_WRITE,
	       "sm_tp_op values are the kernel's opcodes");

/* The request this thread read last, as much of it as the handlers ask
 * about.  Reset before every read, so a failed or short read, or a request
 * of another kind, can never leave the flags of an earlier one behind. */
struct tp_request {
	uint32_t opcode;    /* 0: none */
	uint64_t nodeid;
	bool kill;          /* *_KILL_SUIDGID set */
};
static _Thread_local struct tp_request last;

static void note_request(struct sm_transport *t, const char *buf, size_t n)
{
	struct fuse_in_header h;

	if (n < sizeof(h))
		return;
	memcpy(&h, buf, sizeof(h));
	if (h.len < sizeof(h) || h.len > n)
		return;        /* libfuse refuses it too */
	const char *body = buf + sizeof(h);
	size_t blen = h.len - sizeof(h);

	switch (h.opcode) {
	case FUSE_WRITE: {
		struct fuse_write_in w;

		if (blen < sizeof(w))
			return;
		memcpy(&w, body, sizeof(w));
		last = (struct tp_request){ h.opcode, h.nodeid,
					    (w.write_flags & FUSE_WRITE_KILL_SUIDGID) != 0 };
		break;
	}
	case FUSE_OPEN: {
		struct fuse_open_in o;

		if (blen < sizeof(o))
			return;
		memcpy(&o, body, sizeof(o));
		last = (struct tp_request){ h.opcode, h.nodeid,
					    (o.open_flags & FUSE_OPEN_KILL_SUIDGID) != 0 };
		break;
	}
	case FUSE_INIT: {
		/* flags is in every version of fuse_init_in; KILLPRIV_V2 is a
		 * low bit, so FUSE_INIT_EXT's flags2 does not matter. */
		struct fuse_init_in in = { 0 };

		if (blen < offsetof(struct fuse_init_in, flags) + sizeof(in.flags))
			return;
		memcpy(&in, body, offsetof(struct fuse_init_in, flags) + sizeof(in.flags));
		if (!(in.flags & FUSE_HANDLE_KILLPRIV_V2))
			return;
		atomic_store(&t->init_unique, h.unique);
		atomic_store(&t->init_pending, true);
		break;
	}
	default:
		break;
	}
}

static ssize_t tp_read(int fd, void *buf, size_t len, void *userdata)
{
	struct sm_fuse *uf = userdata;

	last = (struct tp_request){ 0 };
	ssize_t n = read(fd, buf, len);
	if (n > 0)
		note_request(&uf->tp, buf, (size_t)n);   /* leaves errno alone */
	return n;
}

/* The reply to the INIT request that offered KILLPRIV_V2, with the flag
 * added: libfuse's reply is a fuse_out_header and a fuse_init_out, two
 * iovecs.  Anything else is sent as it is, and the connection simply runs
 * without V2 (as before this existed). */
static ssize_t send_init_reply(struct sm_transport *t, int fd, const struct iovec *iov,
			       int count)
{
	struct fuse_out_header h;
	struct fuse_init_out out = { 0 };
	const size_t flags_end = offsetof(struct fuse_init_out, flags) + sizeof(out.flags);

	if (count != 2 || iov[0].iov_len != sizeof(h))
		return writev(fd, iov, count);
	memcpy(&h, iov[0].iov_base, sizeof(h));
	if (h.unique != atomic_load(&t->init_unique))
		return writev(fd, iov, count);
	/* This is the reply: patched or not, there is no other. */
	atomic_store(&t->init_pending, false);
	if (h.error != 0 || iov[1].iov_len < flags_end || iov[1].iov_len > sizeof(out))
		return writev(fd, iov, count);

	memcpy(&out, iov[1].iov_base, iov[1].iov_len);
	out.flags |= FUSE_HANDLE_KILLPRIV_V2;
	struct iovec mine[2] = { iov[0], { &out, iov[1].iov_len } };
	/* Before the write: the kernel may send the next request, to another
	 * thread, as soon as it has the reply. */
	atomic_store_explicit(&t->killpriv_v2, true, memory_order_release);
	ssize_t n = writev(fd, mine, 2);
	if (n < 0) {
		int err = errno;

		atomic_store_explicit(&t->killpriv_v2, false, memory_order_release);
		errno = err;
	}
	return n;
}

static ssize_t tp_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct sm_fuse *uf = userdata;

	if (atomic_load_explicit(&uf->tp.init_pending, memory_order_relaxed))
		return send_init_reply(&uf->tp, fd, iov, count);
	return writev(fd, iov, count);
}

int sm_transport_attach(struct fuse_session *se, int fd)
{
	/* No splice callbacks: the server never splices (libfuse would only
	 * for SPLICE_READ/WRITE, which the init callback leaves off). */
	static const struct fuse_custom_io io = { .read = tp_read, .writev = tp_writev };

	return fuse_session_custom_io(se, &io, fd);
}

enum sm_tp_kill sm_transport_kill_mark(enum sm_tp_op op, uint64_t nodeid)
{
	if (last.opcode != (uint32_t)op || last.nodeid != nodeid)
		return SM_TP_UNKNOWN;
	return last.kill ? SM_TP_KILL : SM_TP_KEEP;
}
