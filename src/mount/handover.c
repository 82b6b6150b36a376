/* Both ends of the hand-over protocol (see handover.h). */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mount/handover.h"

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;
	memcpy(dst, src ? src : "", n);
	memset(dst + n, 0, size - n);
}

int sm_ho_send_request(int sock, const struct sm_ho_request *req, int image_fd, int fuse_fd)
{
	int fds[2] = { image_fd, fuse_fd };
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = { .iov_base = (void *)req, .iov_len = sizeof(*req) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	ssize_t n;
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(*req) ? 0 : -EPROTO;
}

/* Close every descriptor a message carried, whatever else was wrong. */
static int take_fds(struct msghdr *msg, int *out, int want)
{
	int got = 0;
	bool bad = (msg->msg_flags & MSG_CTRUNC) != 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			bad = true;
			continue;
		}
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < want)
				out[got] = fd;
			else
				close(fd);
			got++;
		}
	}
	if (bad || got != want) {
		for (int i = 0; i < got && i < want; i++)
			close(out[i]);
		return -EPROTO;
	}
	return 0;
}

int sm_ho_recv_request(int sock, struct sm_ho_request *req, int *image_fd, int *fuse_fd)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	/* One byte more than expected, so that a longer message shows. */
	char data[sizeof(*req) + 1];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n;
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	int fds[2];
	int ret = take_fds(&msg, fds, 2);
	if (ret)
		return ret;
	memcpy(req, data, sizeof(*req));
	if (n != (ssize_t)sizeof(*req) || (msg.msg_flags & MSG_TRUNC) ||
	    req->magic != SM_HANDOVER_MAGIC || req->version != SM_HANDOVER_VERSION ||
	    req->size != sizeof(*req) || (req->flags & ~SM_HO_KNOWN_FLAGS) || req->reserved ||
	    req->atime > 2 || req->cache > (4ULL << 30) ||
	    !terminated(req->image_name, sizeof(req->image_name))) {
		close(fds[0]);
		close(fds[1]);
		return -EPROTO;
	}
	*image_fd = fds[0];
	*fuse_fd = fds[1];
	return 0;
}

int sm_ho_send_reply(int sock, int status, const char *message, const char *note)
{
	struct sm_ho_reply r = {
		.magic = SM_HANDOVER_MAGIC,
		.version = SM_HANDOVER_VERSION,
		.size = sizeof(r),
		.status = status,
	};
	copy_str(r.message, sizeof(r.message), message);
	copy_str(r.note, sizeof(r.note), note);
	ssize_t n;
	do {
		n = send(sock, &r, sizeof(r), MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(r) ? 0 : -EPROTO;
}

/* The server may be compromised: what it says reaches a terminal only as
 * printable text. */
static void printable(char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			*s = '?';
	}
}

int sm_ho_recv_reply(int sock, struct sm_ho_reply *rep, int timeout_ms)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int r;
	do {
		r = poll(&p, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	char data[sizeof(*rep) + 1];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	char ctl[CMSG_SPACE(sizeof(int))];
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	ssize_t n;
	do {
		n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	/* A reply carries no descriptors; close any it smuggled. */
	int none;
	if (msg.msg_controllen && take_fds(&msg, &none, 0))
		return -EPROTO;
	memcpy(rep, data, sizeof(*rep));
	if (n != (ssize_t)sizeof(*rep) || (msg.msg_flags & MSG_TRUNC) ||
	    rep->magic != SM_HANDOVER_MAGIC || rep->version != SM_HANDOVER_VERSION ||
	    rep->size != sizeof(*rep) || rep->status < 0 || rep->status > 4095 ||
	    !terminated(rep->message, sizeof(rep->message)) || !terminated(rep->note, sizeof(rep->note)))
		return -EPROTO;
	printable(rep->message);
	printable(rep->note);
	return 0;
}
