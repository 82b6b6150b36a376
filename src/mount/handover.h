/* The helper -> server hand-over on an AF_UNIX SOCK_SEQPACKET socketpair.
 *
 * The helper sends one request with exactly two descriptors (SCM_RIGHTS):
 * the image and the mounted /dev/fuse.  The server answers with one reply:
 * ready (status 0, maybe a warning and a note about a weaker sandbox) or an
 * error message.  Both sides check every message as hostile: exact size,
 * magic and version, no unknown flags, strings NUL-terminated inside their
 * arrays, exactly the expected descriptors; the helper, which may be root,
 * also replaces control characters in the server's text before printing it.
 * The server gets the socket as descriptor SM_HANDOVER_FD. */
#ifndef SAFEMOUNT_MOUNT_HANDOVER_H
#define SAFEMOUNT_MOUNT_HANDOVER_H

#include <stdint.h>

#define SM_HANDOVER_FD 3
#define SM_HANDOVER_MAGIC 0x31484d53u   /* "SMH1" */
#define SM_HANDOVER_VERSION 1

enum {
	SM_HO_READ_ONLY = 1u << 0,
	SM_HO_DEBUG = 1u << 1,
	SM_HO_FOREGROUND = 1u << 2,   /* keep stderr; the helper waits for us */
	SM_HO_MAP_OWNER = 1u << 3,    /* report every inode as owner_uid:owner_gid */
};
#define SM_HO_KNOWN_FLAGS 0xfu

struct sm_ho_request {
	uint32_t magic, version, size, flags;
	uint32_t atime;                   /* enum sm_atime_policy */
	uint32_t owner_uid, owner_gid;    /* with SM_HO_MAP_OWNER */
	uint32_t sandbox_uid, sandbox_gid;/* ids a root-started server drops to */
	uint32_t reserved;                /* 0 */
	uint64_t memlimit;                /* RLIMIT_AS, 0 = none */
	uint64_t cache;                   /* block cache bytes, 0 = none */
	char image_name[4096];            /* for messages only */
};

struct sm_ho_reply {
	uint32_t magic, version, size;
	int32_t status;                   /* 0 = serving, else a positive errno */
	char message[1024];               /* the error, or a warning when ready */
	char note[256];                   /* the sandbox is weaker than usual: why */
};

/* Each returns 0 or -errno (-EPROTO for a malformed message). */
int sm_ho_send_request(int sock, const struct sm_ho_request *req, int image_fd, int fuse_fd);
int sm_ho_recv_request(int sock, struct sm_ho_request *req, int *image_fd, int *fuse_fd);
int sm_ho_send_reply(int sock, int status, const char *message, const char *note);
/* Waits up to timeout_ms; -ETIMEDOUT, or -ECONNRESET if the server died. */
int sm_ho_recv_reply(int sock, struct sm_ho_reply *rep, int timeout_ms);

#endif
