/*
 * The userspace data path (ARCHITECTURE.md §5): one native thread per (UDP socket, TUN device) pair.
 *
 *   UDP socket --recvmmsg--> [0000 marker] -> IKE, up to JS (RFC 3948 §2.2)
 *                            [0xFF, 1 octet] -> NAT-keepalive, dropped (§2.3)
 *                            [else] -> ESP: decrypt, tunnel policy (RFC 4301 §5.2) -> write to TUN
 *   TUN device --read--> route lookup (inner dst) -> ESP encrypt -> sendmmsg to the peer's endpoint
 *
 * The thread owns its buffers and the socket; SAs come from the shared table by reference (op_sa_get), so JS
 * may add and delete SAs and routes while traffic flows. JS never sees a data packet. Stopping writes to an
 * eventfd the thread polls, then joins.
 */
#include "op_worker.h"
#include "op_common.h"
#include "op_esp.h"
#include "op_ts.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#define BATCH 32
#define SLOT 65536u

struct op_worker {
	int udp_fd;
	int tun_fd;
	int stop_fd;
	int family; /* AF_INET or AF_INET6 of udp_fd */
	pthread_t thread;
	op_ike_fn on_ike;
	void *arg;
	struct op_routes routes;

	_Atomic uint64_t stats[sizeof(struct op_worker_stats) / sizeof(uint64_t)];

	/* thread-private buffers */
	uint8_t *rx;      /* BATCH UDP slots */
	uint8_t *tun_rx;  /* BATCH TUN slots */
	uint8_t *tx;      /* BATCH ESP slots */
	uint8_t *plain;   /* one decrypted packet */
};

#define STAT(w, field) ((w)->stats[offsetof(struct op_worker_stats, field) / sizeof(uint64_t)])
#define BUMP(w, field, n) atomic_fetch_add_explicit(&STAT(w, field), (n), memory_order_relaxed)

static void handle_datagram(struct op_worker *w, const uint8_t *d, size_t len, bool truncated,
			    const struct sockaddr_storage *from, socklen_t from_len)
{
	struct op_esp_info info;
	ssize_t n;

	if (truncated || len == 0) {
		BUMP(w, runt_drops, 1);
		return;
	}
	if (len == 1 && d[0] == 0xff) {
		BUMP(w, keepalive_rx, 1);
		return;
	}
	if (len < OP_ESP_HDR_LEN) {
		/* Shorter than an ESP header: only a marker-prefixed IKE message could be this short, and it cannot. */
		BUMP(w, runt_drops, 1);
		return;
	}
	if (op_load_be32(d) == 0) {
		BUMP(w, ike_rx, 1);
		if (w->on_ike)
			w->on_ike(w->arg, d + 4, len - 4, from, from_len);
		return;
	}
	n = op_esp_decrypt_tunnel(d, len, w->plain, SLOT, &info);
	if (n < 0) {
		BUMP(w, esp_drops, 1);
		return;
	}
	if (n == 0)
		return; /* dummy packet (RFC 4303 §2.6) */
	if (write(w->tun_fd, w->plain, (size_t)n) != n) {
		BUMP(w, tx_errors, 1);
		return;
	}
	BUMP(w, esp_rx, 1);
}

static void drain_udp(struct op_worker *w)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage from[BATCH];
	int got;

	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = w->rx + (size_t)i * SLOT;
		iov[i].iov_len = SLOT;
		memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &from[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
	}
	got = recvmmsg(w->udp_fd, msgs, BATCH, MSG_DONTWAIT, NULL);
	if (got <= 0)
		return;
	BUMP(w, udp_rx, (uint64_t)got);
	for (int i = 0; i < got; i++)
		handle_datagram(w, iov[i].iov_base, msgs[i].msg_len, msgs[i].msg_hdr.msg_flags & MSG_TRUNC, &from[i],
				msgs[i].msg_hdr.msg_namelen);
}

static void send_batch(struct op_worker *w, struct mmsghdr *msgs, int n)
{
	int off = 0;

	while (off < n) {
		int sent = sendmmsg(w->udp_fd, msgs + off, (unsigned)(n - off), MSG_DONTWAIT);
		if (sent < 0) {
			/* sendmmsg reports the first message's error; skip it and carry on with the rest. */
			BUMP(w, tx_errors, 1);
			off++;
			continue;
		}
		BUMP(w, esp_tx, (uint64_t)sent);
		off += sent;
	}
}

static void drain_tun(struct op_worker *w)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage to[BATCH];
	int n = 0;

	for (int i = 0; i < BATCH; i++) {
		uint8_t *pkt = w->tun_rx + (size_t)i * SLOT;
		ssize_t len = read(w->tun_fd, pkt, SLOT);
		struct op_flow f;
		struct op_route rt;
		ssize_t esp_len;
		int nh;

		if (len <= 0)
			break;
		BUMP(w, tun_rx, 1);
		nh = op_esp_tunnel_next_header(pkt, (size_t)len);
		if (nh < 0 || op_flow_parse(pkt, (size_t)len, &f) != 0) {
			BUMP(w, runt_drops, 1);
			continue;
		}
		if (op_routes_lookup(&w->routes, f.family, f.dst, &rt) != 0) {
			BUMP(w, no_route, 1);
			continue;
		}
		esp_len = op_esp_encrypt(rt.spi, pkt, (size_t)len, (uint8_t)nh, w->tx + (size_t)n * (SLOT + OP_ESP_MAX_OVERHEAD),
					 SLOT + OP_ESP_MAX_OVERHEAD);
		if (esp_len < 0) {
			BUMP(w, encrypt_drops, 1);
			continue;
		}
		iov[n].iov_base = w->tx + (size_t)n * (SLOT + OP_ESP_MAX_OVERHEAD);
		iov[n].iov_len = (size_t)esp_len;
		to[n] = rt.remote;
		memset(&msgs[n].msg_hdr, 0, sizeof(msgs[n].msg_hdr));
		msgs[n].msg_hdr.msg_iov = &iov[n];
		msgs[n].msg_hdr.msg_iovlen = 1;
		msgs[n].msg_hdr.msg_name = &to[n];
		msgs[n].msg_hdr.msg_namelen = rt.remote_len;
		n++;
	}
	if (n)
		send_batch(w, msgs, n);
}

static void *worker_main(void *arg)
{
	struct op_worker *w = arg;
	struct pollfd fds[3] = {
		{ .fd = w->stop_fd, .events = POLLIN },
		{ .fd = w->udp_fd, .events = POLLIN },
		{ .fd = w->tun_fd, .events = POLLIN },
	};

	for (;;) {
		if (poll(fds, 3, -1) < 0)
			continue; /* EINTR */
		if (fds[0].revents)
			break;
		/* One batch per source per round keeps either direction from starving the other. */
		if (fds[1].revents & POLLIN)
			drain_udp(w);
		if (fds[2].revents & POLLIN)
			drain_tun(w);
		if ((fds[1].revents | fds[2].revents) & (POLLERR | POLLNVAL))
			sched_yield(); /* e.g. a queued ICMP error on the socket: the next recvmmsg clears it */
	}
	return NULL;
}

static void worker_free(struct op_worker *w)
{
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	if (w->udp_fd >= 0)
		close(w->udp_fd);
	op_routes_free(&w->routes);
	free(w->rx);
	free(w->tun_rx);
	free(w->tx);
	free(w->plain);
	free(w);
}

int op_worker_start(int udp_fd, int tun_fd, op_ike_fn on_ike, void *arg, struct op_worker **out)
{
	struct op_worker *w = calloc(1, sizeof(*w));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int rc;

	if (!w)
		return -ENOMEM;
	w->udp_fd = udp_fd;
	w->tun_fd = tun_fd;
	w->on_ike = on_ike;
	w->arg = arg;
	w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->stop_fd < 0 || getsockname(udp_fd, (struct sockaddr *)&ss, &sl) < 0) {
		rc = -errno;
		w->udp_fd = -1; /* the caller keeps it on failure */
		worker_free(w);
		return rc;
	}
	w->family = ss.ss_family;
	w->rx = malloc((size_t)BATCH * SLOT);
	w->tun_rx = malloc((size_t)BATCH * SLOT);
	w->tx = malloc((size_t)BATCH * (SLOT + OP_ESP_MAX_OVERHEAD));
	w->plain = malloc(SLOT);
	rc = op_routes_init(&w->routes);
	if (!rc && (!w->rx || !w->tun_rx || !w->tx || !w->plain))
		rc = -ENOMEM;
	if (!rc)
		rc = -pthread_create(&w->thread, NULL, worker_main, w);
	if (rc) {
		w->udp_fd = -1;
		worker_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void op_worker_stop(struct op_worker *w)
{
	uint64_t one = 1;

	if (write(w->stop_fd, &one, sizeof(one)) != sizeof(one))
		abort(); /* an eventfd write of 1 cannot fail short of memory corruption */
	pthread_join(w->thread, NULL);
	worker_free(w);
}

int op_worker_send_ike(struct op_worker *w, const uint8_t *msg, size_t len, const struct sockaddr *to, socklen_t to_len)
{
	static const uint8_t marker[4] = { 0, 0, 0, 0 };
	struct iovec iov[2] = { { .iov_base = (void *)marker, .iov_len = 4 }, { .iov_base = (void *)msg, .iov_len = len } };
	struct msghdr mh = { .msg_name = (void *)to, .msg_namelen = to_len, .msg_iov = iov, .msg_iovlen = 2 };

	return sendmsg(w->udp_fd, &mh, MSG_DONTWAIT) < 0 ? -errno : 0;
}

struct op_routes *op_worker_routes(struct op_worker *w)
{
	return &w->routes;
}

int op_worker_socket_family(const struct op_worker *w)
{
	return w->family;
}

void op_worker_get_stats(struct op_worker *w, struct op_worker_stats *out)
{
	uint64_t *o = (uint64_t *)out;

	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		o[i] = atomic_load_explicit(&w->stats[i], memory_order_relaxed);
}

/* ---- socket creation, optionally inside a network namespace ---- */

struct udp_job {
	const char *addr;
	uint16_t port;
	const char *netns_path;
	int rc;
};

static int udp_create(const char *addr, uint16_t port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	int v6 = inet_pton(AF_INET6, addr, &a6.sin6_addr) == 1;
	int fd, off = 0, size = 4 << 20;

	if (!v6 && inet_pton(AF_INET, addr, &a4.sin_addr) != 1)
		return -EINVAL;
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (v6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)); /* "::" also serves IPv4 peers */
	/* Bursts of a whole batch must not overflow the defaults; best effort, capped by net.core.*mem_max. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if ((v6 ? bind(fd, (struct sockaddr *)&a6, sizeof(a6)) : bind(fd, (struct sockaddr *)&a4, sizeof(a4))) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

static void *udp_thread(void *arg)
{
	struct udp_job *job = arg;
	int ns = open(job->netns_path, O_RDONLY | O_CLOEXEC);

	if (ns < 0) {
		job->rc = -errno;
		return NULL;
	}
	if (setns(ns, CLONE_NEWNET) < 0) {
		job->rc = -errno;
		close(ns);
		return NULL;
	}
	close(ns);
	job->rc = udp_create(job->addr, job->port);
	return NULL;
}

int op_udp_open(const char *addr, uint16_t port, const char *netns_path)
{
	struct udp_job job = { .addr = addr, .port = port, .netns_path = netns_path, .rc = -EIO };
	pthread_t t;
	int err;

	if (!netns_path || !netns_path[0])
		return udp_create(addr, port);
	/* Same trick as op_tun_open: only a short-lived helper thread enters the namespace. */
	err = pthread_create(&t, NULL, udp_thread, &job);
	if (err)
		return -err;
	pthread_join(t, NULL);
	return job.rc;
}
