/*
 * The userspace data path (ARCHITECTURE.md §5): one native thread per TUN device, owning the NAT-T sockets.
 *
 *   UDP sockets --recvmmsg--> [0000 marker] -> IKE, up to JS with the local address from PKTINFO (RFC 3948 §2.2)
 *                             [0xFF, 1 octet] -> NAT-keepalive, dropped (§2.3)
 *                             [else] -> ESP: decrypt, tunnel policy (RFC 4301 §5.2), clamp SYN MSS -> TUN
 *   TUN device --read--> route lookup (inner dst) -> clamp SYN MSS, path MTU check (ICMP too big back into
 *                        the TUN) -> ESP encrypt -> sendmmsg from the route's socket, source via PKTINFO
 *
 * The thread owns its buffers and the sockets; SAs come from the shared table by reference (op_sa_get), so JS
 * may add and delete SAs and routes while traffic flows. JS never sees a data packet. Stopping writes to an
 * eventfd the thread polls, then joins. The config (MTUs) is read per packet from atomics, so JS can change it
 * at any time.
 */
#include "op_worker.h"
#include "op_common.h"
#include "op_esp.h"
#include "op_pmtu.h"
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
#define CTRL 128u /* room for one IP_PKTINFO or IPV6_PKTINFO control message (and a spare) */
#define ICMP_BUF 1280u

struct wsock {
	int fd;
	int family;     /* AF_INET or AF_INET6 */
	bool v4ok;      /* carries IPv4 peers: AF_INET, or AF_INET6 without IPV6_V6ONLY */
	bool wildcard;  /* bound to 0.0.0.0 / ::, so the source address comes from PKTINFO */
	struct sockaddr_storage name;
	struct op_endpoint bound;
};

struct op_worker {
	struct wsock socks[OP_WORKER_MAX_SOCKETS];
	size_t n_socks;
	int tun_fd;
	int stop_fd;
	pthread_t thread;
	op_ike_fn on_ike;
	void *arg;
	struct op_routes routes;

	_Atomic uint32_t tun_mtu;
	_Atomic uint32_t path_mtu;
	atomic_bool clamp_mss;

	_Atomic uint64_t stats[sizeof(struct op_worker_stats) / sizeof(uint64_t)];

	/* thread-private buffers */
	uint8_t *rx;      /* BATCH UDP slots */
	uint8_t *rx_ctrl; /* BATCH control buffers */
	uint8_t *tun_rx;  /* BATCH TUN slots */
	uint8_t *tx;      /* BATCH ESP slots */
	uint8_t *plain;   /* one decrypted packet */
	uint8_t *icmp;    /* one ICMP error */
};

#define STAT(w, field) ((w)->stats[offsetof(struct op_worker_stats, field) / sizeof(uint64_t)])
#define BUMP(w, field, n) atomic_fetch_add_explicit(&STAT(w, field), (n), memory_order_relaxed)

/* ---- endpoints ---- */

void op_endpoint_from_sockaddr(const struct sockaddr_storage *ss, struct op_endpoint *out)
{
	memset(out, 0, sizeof(*out));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		out->family = 4;
		memcpy(out->addr, &a->sin_addr, 4);
		out->port = ntohs(a->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
			out->family = 4;
			memcpy(out->addr, &a->sin6_addr.s6_addr[12], 4);
		} else {
			out->family = 6;
			memcpy(out->addr, &a->sin6_addr, 16);
		}
		out->port = ntohs(a->sin6_port);
	}
}

static bool endpoint_addr_unset(const struct op_endpoint *e)
{
	static const uint8_t zero[16];
	return memcmp(e->addr, zero, e->family == 4 ? 4 : 16) == 0;
}

/* The endpoint as a sockaddr of the socket's family (IPv4 on an IPv6 socket becomes v4-mapped). */
static socklen_t endpoint_sockaddr(int sock_family, const struct op_endpoint *e, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (sock_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, e->addr, 4);
		s4->sin_port = htons(e->port);
		return sizeof(*s4);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	if (e->family == 4) {
		s6->sin6_addr.s6_addr[10] = s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], e->addr, 4);
	} else {
		memcpy(&s6->sin6_addr, e->addr, 16);
	}
	s6->sin6_port = htons(e->port);
	return sizeof(*s6);
}

/*
 * The socket to send to `remote_family` from `local`: same port when given; a socket bound to exactly that
 * address first, else a wildcard one (which then needs PKTINFO).
 */
static int pick_socket(const struct op_worker *w, uint8_t remote_family, const struct op_endpoint *local)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < w->n_socks; i++) {
			const struct wsock *s = &w->socks[i];
			bool exact;

			if (remote_family == 4 ? !s->v4ok : s->family != AF_INET6)
				continue;
			if (!local)
				return (int)i;
			if (local->port && s->bound.port != local->port)
				continue;
			exact = !s->wildcard && s->bound.family == local->family &&
				memcmp(s->bound.addr, local->addr, local->family == 4 ? 4 : 16) == 0;
			if (pass == 0 ? exact : (s->wildcard || endpoint_addr_unset(local)))
				return (int)i;
		}
	}
	return -EADDRNOTAVAIL;
}

/* IP_PKTINFO / IPV6_PKTINFO naming `local` as the source; 0 (no message) when the socket needs none. */
static size_t build_pktinfo(const struct wsock *s, const struct op_endpoint *local, uint64_t *buf, size_t cap)
{
	struct msghdr mh = { .msg_control = buf, .msg_controllen = cap };
	struct cmsghdr *c;

	if (!local || !s->wildcard || endpoint_addr_unset(local))
		return 0;
	memset(buf, 0, cap);
	c = CMSG_FIRSTHDR(&mh);
	if (s->family == AF_INET) {
		struct in_pktinfo pi = { 0 };
		memcpy(&pi.ipi_spec_dst, local->addr, 4);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	struct in6_pktinfo pi6 = { 0 };
	struct sockaddr_storage ss;
	endpoint_sockaddr(AF_INET6, local, &ss);
	pi6.ipi6_addr = ((struct sockaddr_in6 *)&ss)->sin6_addr;
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi6));
	memcpy(CMSG_DATA(c), &pi6, sizeof(pi6));
	return CMSG_SPACE(sizeof(pi6));
}

/* The address a datagram was sent to, from its PKTINFO, with the socket's port; the bound name without one. */
static void local_of(const struct wsock *s, struct msghdr *mh, struct sockaddr_storage *out)
{
	*out = s->name;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && s->family == AF_INET) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			((struct sockaddr_in *)out)->sin_addr = pi.ipi_addr;
			return;
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO && s->family == AF_INET6) {
			struct in6_pktinfo pi6;
			memcpy(&pi6, CMSG_DATA(c), sizeof(pi6));
			((struct sockaddr_in6 *)out)->sin6_addr = pi6.ipi6_addr;
			return;
		}
	}
}

/* ---- path MTU ---- */

/* Largest inner packet the SA's ESP fits into `room` octets (ESP header to ICV); 0 when unknown or none. */
static uint32_t sa_max_inner(uint32_t spi, enum op_dir dir, uint32_t room)
{
	struct op_sa *sa = op_sa_get(spi, dir);
	uint32_t fixed, block, avail;

	if (!sa)
		return 0;
	fixed = OP_ESP_HDR_LEN + sa->xform.iv_len + sa->xform.icv_len;
	block = sa->xform.block_len ? sa->xform.block_len : 4;
	op_sa_put(sa);
	if (room < fixed + block + 2)
		return 0;
	/* payload + padding + 2 trailer octets is a multiple of the block (RFC 4303 §2.4) */
	avail = (room - fixed) / block * block;
	return avail - 2;
}

/* The inner packet size the path takes for this SA: min(TUN MTU, path MTU - outer headers - ESP). 0 = no limit. */
static uint32_t inner_limit(struct op_worker *w, uint32_t spi, enum op_dir dir, uint8_t outer_family)
{
	uint32_t tun = atomic_load_explicit(&w->tun_mtu, memory_order_relaxed);
	uint32_t path = atomic_load_explicit(&w->path_mtu, memory_order_relaxed);
	uint32_t hdr = outer_family == 6 ? OP_OUTER_V6_HDR : OP_OUTER_V4_HDR;
	uint32_t lim = 0;

	if (path > hdr)
		lim = sa_max_inner(spi, dir, path - hdr);
	if (tun && (!lim || tun < lim))
		lim = tun;
	return lim;
}

static void clamp_syn(struct op_worker *w, uint8_t *pkt, size_t len, uint32_t spi, enum op_dir dir, uint8_t outer_family)
{
	uint32_t lim;

	if (!atomic_load_explicit(&w->clamp_mss, memory_order_relaxed))
		return;
	/* Cheap pre-check so only TCP SYNs pay for the SA lookup. */
	if (len < 40 || (pkt[0] >> 4 == 4 ? pkt[9] != 6 : pkt[0] >> 4 != 6 || pkt[6] != 6))
		return;
	lim = inner_limit(w, spi, dir, outer_family);
	if (lim && op_tcp_clamp_mss(pkt, len, op_mss_for_mtu(pkt[0] >> 4, lim)) == 1)
		BUMP(w, mss_clamped, 1);
}

/*
 * Whether the outbound packet is too big for the outer path; if so and it may not be fragmented, an ICMP
 * error goes back into the TUN device and the packet is dropped (true).
 */
static bool refuse_too_big(struct op_worker *w, const uint8_t *pkt, size_t len, const struct op_route *rt)
{
	uint32_t path = atomic_load_explicit(&w->path_mtu, memory_order_relaxed);
	uint32_t hdr = rt->outer_family == 6 ? OP_OUTER_V6_HDR : OP_OUTER_V4_HDR;
	uint32_t lim;
	ssize_t n;

	if (!path || len + hdr + OP_ESP_MAX_OVERHEAD <= path)
		return false; /* fits whatever the transform */
	lim = path > hdr ? sa_max_inner(rt->spi, OP_DIR_OUT, path - hdr) : 0;
	if (!lim)
		return false; /* no SA: encryption will count the drop */
	if (pkt[0] >> 4 == 6 && lim < OP_IPV6_MIN_MTU)
		lim = OP_IPV6_MIN_MTU; /* IPv6 links carry 1280 (RFC 8200 §5): fragment the outer packet instead */
	if (len <= lim || !op_pkt_dont_fragment(pkt, len))
		return false;
	n = op_icmp_too_big(pkt, len, lim, w->icmp, ICMP_BUF);
	if (n > 0 && write(w->tun_fd, w->icmp, (size_t)n) != n)
		BUMP(w, tx_errors, 1);
	BUMP(w, too_big, 1);
	return true;
}

/* ---- receive ---- */

static void handle_datagram(struct op_worker *w, const struct wsock *s, const uint8_t *d, size_t len, bool truncated,
			    const struct sockaddr_storage *from, socklen_t from_len, struct msghdr *mh)
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
		struct sockaddr_storage local;
		BUMP(w, ike_rx, 1);
		local_of(s, mh, &local);
		if (w->on_ike)
			w->on_ike(w->arg, d + 4, len - 4, from, from_len, &local);
		return;
	}
	n = op_esp_decrypt_tunnel(d, len, w->plain, SLOT, &info);
	if (n < 0) {
		BUMP(w, esp_drops, 1);
		return;
	}
	if (n == 0)
		return; /* dummy packet (RFC 4303 §2.6) */
	{
		struct op_endpoint peer;
		op_endpoint_from_sockaddr(from, &peer);
		clamp_syn(w, w->plain, (size_t)n, info.spi, OP_DIR_IN, peer.family);
	}
	if (write(w->tun_fd, w->plain, (size_t)n) != n) {
		BUMP(w, tx_errors, 1);
		return;
	}
	BUMP(w, esp_rx, 1);
}

static void drain_udp(struct op_worker *w, const struct wsock *s)
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
		msgs[i].msg_hdr.msg_control = w->rx_ctrl + (size_t)i * CTRL;
		msgs[i].msg_hdr.msg_controllen = CTRL;
	}
	got = recvmmsg(s->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
	if (got <= 0)
		return;
	BUMP(w, udp_rx, (uint64_t)got);
	for (int i = 0; i < got; i++)
		handle_datagram(w, s, iov[i].iov_base, msgs[i].msg_len, msgs[i].msg_hdr.msg_flags & MSG_TRUNC, &from[i],
				msgs[i].msg_hdr.msg_namelen, &msgs[i].msg_hdr);
}

/* ---- send ---- */

static void send_run(struct op_worker *w, int fd, struct mmsghdr *msgs, int n)
{
	int off = 0;

	while (off < n) {
		int sent = sendmmsg(fd, msgs + off, (unsigned)(n - off), MSG_DONTWAIT);
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

/* Sends the batch in runs of messages that leave through the same socket. */
static void send_batch(struct op_worker *w, struct mmsghdr *msgs, const struct op_route *rts, int n)
{
	int start = 0;

	for (int i = 1; i <= n; i++) {
		if (i == n || rts[i].sock != rts[start].sock) {
			send_run(w, w->socks[rts[start].sock].fd, msgs + start, i - start);
			start = i;
		}
	}
}

static void drain_tun(struct op_worker *w)
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct op_route rts[BATCH];
	int n = 0;

	for (int i = 0; i < BATCH; i++) {
		uint8_t *pkt = w->tun_rx + (size_t)i * SLOT;
		ssize_t len = read(w->tun_fd, pkt, SLOT);
		struct op_flow f;
		struct op_route *rt = &rts[n];
		uint8_t *out = w->tx + (size_t)n * (SLOT + OP_ESP_MAX_OVERHEAD);
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
		if (op_routes_lookup(&w->routes, f.family, f.dst, rt) != 0) {
			BUMP(w, no_route, 1);
			continue;
		}
		if (refuse_too_big(w, pkt, (size_t)len, rt))
			continue;
		if (f.proto == 6)
			clamp_syn(w, pkt, (size_t)len, rt->spi, OP_DIR_OUT, rt->outer_family);
		esp_len = op_esp_encrypt(rt->spi, pkt, (size_t)len, (uint8_t)nh, out, SLOT + OP_ESP_MAX_OVERHEAD);
		if (esp_len < 0) {
			BUMP(w, encrypt_drops, 1);
			continue;
		}
		iov[n].iov_base = out;
		iov[n].iov_len = (size_t)esp_len;
		memset(&msgs[n].msg_hdr, 0, sizeof(msgs[n].msg_hdr));
		msgs[n].msg_hdr.msg_iov = &iov[n];
		msgs[n].msg_hdr.msg_iovlen = 1;
		msgs[n].msg_hdr.msg_name = &rt->remote;
		msgs[n].msg_hdr.msg_namelen = rt->remote_len;
		if (rt->cmsg_len) {
			msgs[n].msg_hdr.msg_control = rt->cmsg;
			msgs[n].msg_hdr.msg_controllen = rt->cmsg_len;
		}
		n++;
	}
	if (n)
		send_batch(w, msgs, rts, n);
}

static void *worker_main(void *arg)
{
	struct op_worker *w = arg;
	struct pollfd fds[2 + OP_WORKER_MAX_SOCKETS];
	size_t nfds = 2 + w->n_socks;

	fds[0] = (struct pollfd){ .fd = w->stop_fd, .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = w->tun_fd, .events = POLLIN };
	for (size_t i = 0; i < w->n_socks; i++)
		fds[2 + i] = (struct pollfd){ .fd = w->socks[i].fd, .events = POLLIN };

	for (;;) {
		short errs = 0;

		if (poll(fds, nfds, -1) < 0)
			continue; /* EINTR */
		if (fds[0].revents)
			break;
		/* One batch per source per round keeps either direction from starving the other. */
		for (size_t i = 0; i < w->n_socks; i++) {
			if (fds[2 + i].revents & POLLIN)
				drain_udp(w, &w->socks[i]);
			errs |= fds[2 + i].revents;
		}
		if (fds[1].revents & POLLIN)
			drain_tun(w);
		if ((errs | fds[1].revents) & (POLLERR | POLLNVAL))
			sched_yield(); /* e.g. a queued ICMP error on a socket: the next recvmmsg clears it */
	}
	return NULL;
}

/* ---- lifecycle ---- */

static void worker_free(struct op_worker *w)
{
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	for (size_t i = 0; i < w->n_socks; i++)
		if (w->socks[i].fd >= 0)
			close(w->socks[i].fd);
	op_routes_free(&w->routes);
	free(w->rx);
	free(w->rx_ctrl);
	free(w->tun_rx);
	free(w->tx);
	free(w->plain);
	free(w->icmp);
	free(w);
}

void op_worker_set_config(struct op_worker *w, const struct op_worker_config *cfg)
{
	atomic_store(&w->tun_mtu, cfg ? cfg->tun_mtu : 0);
	atomic_store(&w->path_mtu, cfg ? cfg->path_mtu : 0);
	atomic_store(&w->clamp_mss, cfg ? cfg->clamp_mss : false);
}

void op_worker_get_config(struct op_worker *w, struct op_worker_config *out)
{
	out->tun_mtu = atomic_load(&w->tun_mtu);
	out->path_mtu = atomic_load(&w->path_mtu);
	out->clamp_mss = atomic_load(&w->clamp_mss);
}

static int socket_info(int fd, struct wsock *s)
{
	socklen_t sl = sizeof(s->name);
	int v6only = 0;
	socklen_t ol = sizeof(v6only);

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	if (getsockname(fd, (struct sockaddr *)&s->name, &sl) < 0)
		return -errno;
	s->family = s->name.ss_family;
	if (s->family != AF_INET && s->family != AF_INET6)
		return -EAFNOSUPPORT;
	if (s->family == AF_INET6 && getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &ol) < 0)
		return -errno;
	s->v4ok = s->family == AF_INET || !v6only;
	op_endpoint_from_sockaddr(&s->name, &s->bound);
	if (s->family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&s->name)->sin6_addr))
		s->bound.family = 6; /* "::" stays IPv6 even though it reads as all zeroes */
	s->wildcard = endpoint_addr_unset(&s->bound);
	return 0;
}

int op_worker_start(const int *udp_fds, size_t n_udp, int tun_fd, const struct op_worker_config *cfg, op_ike_fn on_ike,
		    void *arg, struct op_worker **out)
{
	struct op_worker *w;
	int rc = 0;

	if (n_udp == 0 || n_udp > OP_WORKER_MAX_SOCKETS) {
		for (size_t i = 0; i < n_udp; i++)
			close(udp_fds[i]);
		return -EINVAL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		for (size_t i = 0; i < n_udp; i++)
			close(udp_fds[i]);
		return -ENOMEM;
	}
	w->tun_fd = tun_fd;
	w->on_ike = on_ike;
	w->arg = arg;
	w->stop_fd = -1;
	for (size_t i = 0; i < n_udp; i++) {
		int r = socket_info(udp_fds[i], &w->socks[i]);
		w->socks[i].fd = udp_fds[i];
		w->n_socks++;
		if (r && !rc)
			rc = r;
	}
	op_worker_set_config(w, cfg);
	if (!rc) {
		w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (w->stop_fd < 0)
			rc = -errno;
	}
	if (!rc) {
		w->rx = malloc((size_t)BATCH * SLOT);
		w->rx_ctrl = malloc((size_t)BATCH * CTRL);
		w->tun_rx = malloc((size_t)BATCH * SLOT);
		w->tx = malloc((size_t)BATCH * (SLOT + OP_ESP_MAX_OVERHEAD));
		w->plain = malloc(SLOT);
		w->icmp = malloc(ICMP_BUF);
		rc = op_routes_init(&w->routes);
		if (!rc && (!w->rx || !w->rx_ctrl || !w->tun_rx || !w->tx || !w->plain || !w->icmp))
			rc = -ENOMEM;
	}
	if (!rc)
		rc = -pthread_create(&w->thread, NULL, worker_main, w);
	if (rc) {
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

int op_worker_send_ike(struct op_worker *w, const uint8_t *msg, size_t len, const struct op_endpoint *to,
		       const struct op_endpoint *local)
{
	static const uint8_t marker[4] = { 0, 0, 0, 0 };
	struct iovec iov[2] = { { .iov_base = (void *)marker, .iov_len = 4 }, { .iov_base = (void *)msg, .iov_len = len } };
	struct sockaddr_storage dst;
	uint64_t ctrl[8];
	struct msghdr mh = { .msg_name = &dst, .msg_iov = iov, .msg_iovlen = 2 };
	int i = pick_socket(w, to->family, local);
	size_t cl;

	if (i < 0)
		return i;
	mh.msg_namelen = endpoint_sockaddr(w->socks[i].family, to, &dst);
	cl = build_pktinfo(&w->socks[i], local, ctrl, sizeof(ctrl));
	if (cl) {
		mh.msg_control = ctrl;
		mh.msg_controllen = cl;
	}
	if (sendmsg(w->socks[i].fd, &mh, MSG_DONTWAIT) < 0)
		return -errno;
	BUMP(w, ike_tx, 1);
	return 0;
}

int op_worker_route_add(struct op_worker *w, const struct op_route *route, const struct op_endpoint *remote,
			const struct op_endpoint *local)
{
	struct op_route rt = *route;
	int i;

	if (remote->family != 4 && remote->family != 6)
		return -EINVAL;
	if (local && local->family != remote->family && !endpoint_addr_unset(local))
		return -EINVAL;
	i = pick_socket(w, remote->family, local);
	if (i < 0)
		return i == -EADDRNOTAVAIL && remote->family == 6 ? -EAFNOSUPPORT : i;
	rt.sock = (uint8_t)i;
	rt.outer_family = remote->family;
	rt.remote_len = endpoint_sockaddr(w->socks[i].family, remote, &rt.remote);
	rt.cmsg_len = build_pktinfo(&w->socks[i], local, rt.cmsg, sizeof(rt.cmsg));
	return op_routes_add(&w->routes, &rt);
}

struct op_routes *op_worker_routes(struct op_worker *w)
{
	return &w->routes;
}

size_t op_worker_socket_count(const struct op_worker *w)
{
	return w->n_socks;
}

int op_worker_socket_name(const struct op_worker *w, size_t i, struct sockaddr_storage *out)
{
	if (i >= w->n_socks)
		return -EINVAL;
	*out = w->socks[i].name;
	return 0;
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
	bool v6only;
	int rc;
};

static int udp_create(const char *addr, uint16_t port, bool v6only)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	int v6 = inet_pton(AF_INET6, addr, &a6.sin6_addr) == 1;
	int fd, on = 1, only = v6only ? 1 : 0, size = 4 << 20;

	if (!v6 && inet_pton(AF_INET, addr, &a4.sin_addr) != 1)
		return -EINVAL;
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (v6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof(only)); /* "::" also serves IPv4 peers unless v6only */
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
	} else {
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	}
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
	job->rc = udp_create(job->addr, job->port, job->v6only);
	return NULL;
}

int op_udp_open(const char *addr, uint16_t port, const char *netns_path, bool v6only)
{
	struct udp_job job = { .addr = addr, .port = port, .netns_path = netns_path, .v6only = v6only, .rc = -EIO };
	pthread_t t;
	int err;

	if (!netns_path || !netns_path[0])
		return udp_create(addr, port, v6only);
	/* Same trick as op_tun_open: only a short-lived helper thread enters the namespace. */
	err = pthread_create(&t, NULL, udp_thread, &job);
	if (err)
		return -err;
	pthread_join(t, NULL);
	return job.rc;
}
