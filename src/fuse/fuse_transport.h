/* Our own read and writev on /dev/fuse, under libfuse (fuse_session_custom_io).
 *
 * Why: every WRITE used to cost a GETXATTR "security.capability" first.
 * The kernel skips it (SB_NOSEC, then S_NOSEC per inode) only on a
 * connection that negotiated FUSE_HANDLE_KILLPRIV_V2, which libfuse 3.14
 * cannot ask for.  So the INIT reply gets the flag on its way out (when the
 * kernel offered it), and since the kernel then no longer clears SUID/SGID
 * with a SETATTR of its own but marks the WRITE or OPEN instead, and
 * libfuse 3.14 does not pass those marks on, the request headers are read
 * here on their way in. */
#ifndef SAFEMOUNT_FUSE_TRANSPORT_H
#define SAFEMOUNT_FUSE_TRANSPORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct fuse_session;

/* Per session; lives in struct sm_fuse (the session's userdata, which
 * libfuse hands to the callbacks).  Zero-initialised: nothing negotiated. */
struct sm_transport {
	/* The INIT request the kernel offered KILLPRIV_V2 in, until the
	 * reply to it has been sent. */
	atomic_bool init_pending;
	_Atomic uint64_t init_unique;
	/* The INIT reply carried FUSE_HANDLE_KILLPRIV_V2. */
	atomic_bool killpriv_v2;
};

/* Serve the session on the /dev/fuse descriptor fd through our callbacks
 * (instead of fuse_session_mount()).  0 or a negative errno. */
int sm_transport_attach(struct fuse_session *se, int fd);

static inline bool sm_transport_killpriv_v2(struct sm_transport *t)
{
	return atomic_load_explicit(&t->killpriv_v2, memory_order_acquire);
}

/* The requests whose flags are kept (the kernel's opcodes). */
enum sm_tp_op { SM_TP_OPEN = 14, SM_TP_WRITE = 16 };

enum sm_tp_kill {
	SM_TP_KEEP,     /* the kernel did not ask to drop SUID/SGID */
	SM_TP_KILL,     /* it did: the caller lacks CAP_FSETID */
	SM_TP_UNKNOWN,  /* this thread's last request is not that one */
};

/* For the request the calling thread is handling (libfuse handles each on
 * the thread that read it): did the kernel mark it FUSE_WRITE_KILL_SUIDGID
 * (WRITE) or FUSE_OPEN_KILL_SUIDGID (OPEN)?  op and nodeid must match the
 * request read last, or the answer is SM_TP_UNKNOWN.  Only meaningful
 * under KILLPRIV_V2. */
enum sm_tp_kill sm_transport_kill_mark(enum sm_tp_op op, uint64_t nodeid);

#endif
