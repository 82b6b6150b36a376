/* The helper <-> server protocol treats every message as hostile: a wrong
 * size, magic, version, unknown flag, unterminated string or wrong number of
 * descriptors is refused (and every descriptor that came with it closed);
 * the server's text reaches the helper's terminal only as printable text. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mount/handover.h"
#include "tap.h"

static void pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		_exit(1);
	}
}

static struct sm_ho_request good_request(void)
{
	struct sm_ho_request r;
	memset(&r, 0, sizeof(r));
	r.magic = SM_HANDOVER_MAGIC;
	r.version = SM_HANDOVER_VERSION;
	r.size = sizeof(r);
	r.flags = SM_HO_READ_ONLY;
	r.sandbox_uid = r.sandbox_gid = 65533;
	strcpy(r.image_name, "/tmp/image");
	return r;
}

/* Send raw bytes with n descriptors (copies of /dev/null). */
static void send_raw(int sock, const void *data, size_t len, int nfds)
{
	int fds[4];
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	for (int i = 0; i < nfds; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nfds) {
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	if (sendmsg(sock, &msg, 0) < 0)
		perror("sendmsg");
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
}

static int open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/* One malformed request: refused with EPROTO, no descriptor left behind. */
static void refused(const char *what, const void *data, size_t len, int nfds)
{
	int sv[2];
	pair(sv);
	int before = open_fds();
	send_raw(sv[0], data, len, nfds);
	struct sm_ho_request got;
	int a = -1, b = -1;
	int ret = sm_ho_recv_request(sv[1], &got, &a, &b);
	int after = open_fds();
	tap_check(ret == -EPROTO && after == before, "request refused: %s (ret %d, fds %d -> %d)", what,
		  ret, before, after);
	close(sv[0]);
	close(sv[1]);
}

static void test_requests(void)
{
	int sv[2];
	pair(sv);
	struct sm_ho_request r = good_request(), got;
	int null1 = open("/dev/null", O_RDONLY), null2 = open("/dev/null", O_RDONLY);
	int a = -1, b = -1;
	int ret = sm_ho_send_request(sv[0], &r, null1, null2);
	if (!ret)
		ret = sm_ho_recv_request(sv[1], &got, &a, &b);
	tap_check(ret == 0 && a >= 0 && b >= 0 && !memcmp(&r, &got, sizeof(r)) &&
		  (fcntl(a, F_GETFD) & FD_CLOEXEC), "a valid request and its two descriptors arrive (close-on-exec)");
	close(a);
	close(b);
	close(null1);
	close(null2);
	close(sv[0]);
	close(sv[1]);

	r = good_request();
	refused("no descriptors", &r, sizeof(r), 0);
	refused("one descriptor", &r, sizeof(r), 1);
	refused("three descriptors", &r, sizeof(r), 3);
	refused("one byte short", &r, sizeof(r) - 1, 2);
	char big[sizeof(r) + 16];
	memset(big, 0, sizeof(big));
	memcpy(big, &r, sizeof(r));
	refused("longer than a request", big, sizeof(big), 2);

	struct sm_ho_request bad = good_request();
	bad.magic ^= 1;
	refused("wrong magic", &bad, sizeof(bad), 2);
	bad = good_request();
	bad.version = SM_HANDOVER_VERSION + 1;
	refused("unknown version", &bad, sizeof(bad), 2);
	bad = good_request();
	bad.size = sizeof(bad) - 8;
	refused("wrong size field", &bad, sizeof(bad), 2);
	bad = good_request();
	bad.flags |= 1u << 20;
	refused("an unknown flag", &bad, sizeof(bad), 2);
	bad = good_request();
	bad.reserved = 1;
	refused("a non-zero reserved field", &bad, sizeof(bad), 2);
	bad = good_request();
	bad.atime = 7;
	refused("an atime policy out of range", &bad, sizeof(bad), 2);
	bad = good_request();
	bad.cache = 5ULL << 30;
	refused("a cache larger than 4 GiB", &bad, sizeof(bad), 2);
	bad = good_request();
	memset(bad.image_name, 'x', sizeof(bad.image_name));
	refused("an image name without its NUL", &bad, sizeof(bad), 2);
}

static void test_replies(void)
{
	int sv[2];
	pair(sv);
	struct sm_ho_reply rep;
	int ret = sm_ho_send_reply(sv[1], 0, "journal needs recovery\033[2J\x07", "no \n landlock");
	if (!ret)
		ret = sm_ho_recv_reply(sv[0], &rep, 1000);
	tap_check(ret == 0 && rep.status == 0 && !strcmp(rep.message, "journal needs recovery?[2J?") &&
		  !strcmp(rep.note, "no ? landlock"),
		  "a reply's control characters are replaced before printing ('%s', '%s')",
		  ret ? "" : rep.message, ret ? "" : rep.note);

	char long_msg[4000];
	memset(long_msg, 'm', sizeof(long_msg) - 1);
	long_msg[sizeof(long_msg) - 1] = 0;
	ret = sm_ho_send_reply(sv[1], EIO, long_msg, NULL);
	if (!ret)
		ret = sm_ho_recv_reply(sv[0], &rep, 1000);
	tap_check(ret == 0 && rep.status == EIO && strlen(rep.message) == sizeof(rep.message) - 1,
		  "an overlong message is cut to the field, still terminated");

	struct sm_ho_reply raw;
	memset(&raw, 'A', sizeof(raw));
	raw.magic = SM_HANDOVER_MAGIC;
	raw.version = SM_HANDOVER_VERSION;
	raw.size = sizeof(raw);
	raw.status = 0;
	send_raw(sv[1], &raw, sizeof(raw), 0);
	ret = sm_ho_recv_reply(sv[0], &rep, 1000);
	tap_check(ret == -EPROTO, "a reply with unterminated strings is refused (%d)", ret);

	memset(&raw, 0, sizeof(raw));
	raw.magic = SM_HANDOVER_MAGIC;
	raw.version = SM_HANDOVER_VERSION;
	raw.size = sizeof(raw);
	raw.status = -5;
	send_raw(sv[1], &raw, sizeof(raw), 0);
	ret = sm_ho_recv_reply(sv[0], &rep, 1000);
	tap_check(ret == -EPROTO, "a reply with a negative status is refused (%d)", ret);

	raw.status = 0;
	int before = open_fds();
	send_raw(sv[1], &raw, sizeof(raw), 2);
	ret = sm_ho_recv_reply(sv[0], &rep, 1000);
	tap_check(ret == -EPROTO && open_fds() == before,
		  "a reply that smuggles descriptors is refused and they are closed (%d)", ret);

	send_raw(sv[1], &raw, 10, 0);
	ret = sm_ho_recv_reply(sv[0], &rep, 1000);
	tap_check(ret == -EPROTO, "a short reply is refused (%d)", ret);

	ret = sm_ho_recv_reply(sv[0], &rep, 50);
	tap_check(ret == -ETIMEDOUT, "no reply in time: ETIMEDOUT (%d)", ret);

	close(sv[1]);
	ret = sm_ho_recv_reply(sv[0], &rep, 1000);
	tap_check(ret == -ECONNRESET, "the server closed the socket without a reply: ECONNRESET (%d)", ret);
	close(sv[0]);
}

int main(void)
{
	test_requests();
	test_replies();
	return tap_finish();
}
