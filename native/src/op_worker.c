/*
 * The userspace data path (ARCHITECTURE.md §5): one native thread per TUN device, owning the NAT-T sockets and
 * the raw ESP sockets.
 *
 *   UDP sockets --recvmmsg (UDP GRO: several datagrams per message)--> per datagram:
 *        [0000 marker] -> IKE, up to JS with the local address from PKTINFO (RFC 3948 §2.2)
 *        [0xFF, 1 octet] -> NAT-keepalive, dropped (§2.3)
 *        [else] -> ESP: decrypt, tunnel policy (RFC 4301 §5.2), clamp SYN MSS -> rx queue
 *   raw ESP sockets --recvmmsg--> (IPv4: skip the IP header) -> ESP, as above (plain ESP, IP protocol 50)
 *   rx queue --end of the batch--> TCP runs coalesced (op_gro_coalesce) -> one TUN write each
 *   TUN device --read (a TSO super-packet is cut into segments, op_tso_next)--> route lookup (inner dst) ->
 *        clamp SYN MSS, path MTU check (ICMP too big back into the TUN) -> ESP encrypt -> tx queue
 *   tx queue --end of the batch--> sendmmsg from the route's socket (UDP, or raw ESP when no NAT was detected),
 *        source via PKTINFO; runs of one route and one size leave as one UDP GSO message (UDP_SEGMENT)
 *
 * Demultiplexing is by SPI alone in both cases (RFC 4301 §4.1: unicast SAs are found by SPI), so an SA that
 * moves between ESP-in-UDP and plain ESP (MOBIKE, NAT appearing) keeps working on either socket. The wire
 * never carries more than one ESP packet per datagram: GSO and GRO only batch the syscalls and the kernel's
 * per-packet work on this host.
 *
 * The thread owns its buffers, its queues (empty between rounds) and the sockets; SAs come from the shared table
 * by reference (op_sa_get), so JS may add and delete SAs and routes while traffic flows. JS never sees a data
 * packet. Stopping writes to an eventfd the thread polls, then joins. The config (MTUs) is read per packet from
 * atomics, so JS can change it at any time.
 */
#include "op_worker.h"
#include "op_common.h"
#include "op_esp.h"
#include "op_gso.h"
#include "op_pmtu.h"
#include "op_ts.h"
#include "op_tun.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#define BATCH 32     /* reads per source per round: recvmmsg messages, TUN reads */
#define SLOT 65536u  /* one datagram, or one (super-)packet from the TUN device */
#define TUN_SLOT (SLOT + OP_VNET_HDR_LEN)
#define CTRL 128u    /* IP_PKTINFO or IPV6_PKTINFO, UDP_GRO (and a spare) */
#define ICMP_BUF 1280u
#define SEG_BUF 65536u
/* Queues between the two sides of a round: encrypted datagrams waiting for sendmmsg, decrypted packets waiting
 * for the TUN device. Big enough for a whole batch of GSO reads / GRO datagrams before a flush. */
#define TX_ARENA (2u << 20)
#define TX_MAX 1024
#define RX_ARENA (2u << 20)
#define RX_MAX 1024
#define TX_CTRL 96u  /* PKTINFO + UDP_SEGMENT */
/* UDP GSO limits (udp_send_skb): at most 64 segments, and the whole must fit an IP packet. */
#define OP_UDP_MAX_SEGMENTS 64
#define OP_UDP_GSO_MAX_BYTES (65535u - 40 - 8)

struct txpkt {
	uint8_t *p;
	uint32_t len;
	uint16_t route;
};

struct txq {
	uint8_t *arena;
	size_t used;
	struct txpkt pkt[TX_MAX];
	size_t n;
	struct op_route routes[TX_MAX];
	size_t n_routes;
	struct iovec iov[TX_MAX];
	struct mmsghdr msgs[TX_MAX];
	uint32_t counts[TX_MAX];
	uint16_t socks[TX_MAX];
	uint64_t ctrl[TX_MAX][TX_CTRL / sizeof(uint64_t)];
};

struct rxq {
	uint8_t *arena;
	size_t used;
	struct op_gro_pkt pkt[RX_MAX];
	size_t n;
	struct op_gro_unit units[RX_MAX];
};

struct wsock {
	int fd;
	int family;     /* AF_INET or AF_INET6 */
	bool esp;       /* raw IP protocol 50 socket: plain ESP only, no ports, no IKE */
	bool v4ok;      /* carries IPv4 peers: AF_INET, or AF_INET6 without IPV6_V6ONLY */
	bool wildcard;  /* bound to 0.0.0.0 / ::, so the source address comes from PKTINFO */
	bool gso;       /* the kernel takes UDP_SEGMENT on it */
	struct sockaddr_storage name;
	struct op_endpoint bound;
};

struct op_worker {
	struct wsock socks[OP_WORKER_MAX_SOCKETS + OP_WORKER_MAX_ESP_SOCKETS]; /* UDP first, then ESP */
	size_t n_socks;  /* all of them */
	size_t n_udp;
	int tun_fd;
	int stop_fd;
	pthread_t thread;
	op_ike_fn on_ike;
	void *arg;
	struct op_routes routes;

	_Atomic uint32_t tun_mtu;
	_Atomic uint32_t path_mtu;
	atomic_bool clamp_mss;
	bool tun_vnet;   /* the TUN fd carries virtio-net headers (IFF_VNET_HDR): GSO reads, GRO writes */
	bool udp_gso;    /* send with UDP_SEGMENT where a socket takes it */

	_Atomic uint64_t stats[sizeof(struct op_worker_stats) / sizeof(uint64_t)];

	/* thread-private buffers */
	uint8_t *rx;      /* BATCH UDP slots */
	uint8_t *rx_ctrl; /* BATCH control buffers */
	uint8_t *tun_rx;  /* one TUN read */
	uint8_t *seg;     /* one segment of a GSO read */
	uint8_t *icmp;    /* one ICMP error */
	struct txq txq;
	struct rxq rxq;
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
 * address first, else a wildcard one (which then needs PKTINFO). esp picks among the raw ESP sockets.
 */
static int pick_socket(const struct op_worker *w, uint8_t remote_family, const struct op_endpoint *local, bool esp)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < w->n_socks; i++) {
			const struct wsock *s = &w->socks[i];
			bool exact;

			if (s->esp != esp || (remote_family == 4 ? !s->v4ok : s->family != AF_INET6))
				continue;
			if (!local)
				return (int)i;
			if (!esp && local->port && s->bound.port != local->port)
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

/* One write of a header-less packet, or of the packet behind an all-zero virtio-net header (no offload). */
static bool tun_write_one(struct op_worker *w, const uint8_t *pkt, size_t len)
{
	static const uint8_t zero_hdr[OP_VNET_HDR_LEN];
	struct iovec iov[2] = { { .iov_base = (void *)zero_hdr, .iov_len = OP_VNET_HDR_LEN }, { .iov_base = (void *)pkt, .iov_len = len } };
	ssize_t n = w->tun_vnet ? writev(w->tun_fd, iov, 2) : write(w->tun_fd, pkt, len);

	return n == (ssize_t)(len + (w->tun_vnet ? OP_VNET_HDR_LEN : 0));
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
static uint32_t inner_limit(struct op_worker *w, uint32_t spi, enum op_dir dir, uint32_t hdr)
{
	uint32_t tun = atomic_load_explicit(&w->tun_mtu, memory_order_relaxed);
	uint32_t path = atomic_load_explicit(&w->path_mtu, memory_order_relaxed);
	uint32_t lim = 0;

	if (path > hdr)
		lim = sa_max_inner(spi, dir, path - hdr);
	if (tun && (!lim || tun < lim))
		lim = tun;
	return lim;
}

/* outer_hdr: octets of outer IP (and UDP) header the path adds in front of ESP. */
static void clamp_syn(struct op_worker *w, uint8_t *pkt, size_t len, uint32_t spi, enum op_dir dir, uint32_t outer_hdr)
{
	uint32_t lim;

	if (!atomic_load_explicit(&w->clamp_mss, memory_order_relaxed))
		return;
	/* Cheap pre-check so only TCP SYNs pay for the SA lookup. */
	if (len < 40 || (pkt[0] >> 4 == 4 ? pkt[9] != 6 : pkt[0] >> 4 != 6 || pkt[6] != 6))
		return;
	lim = inner_limit(w, spi, dir, outer_hdr);
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
	uint32_t hdr = rt->outer_hdr;
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
	if (n > 0 && !tun_write_one(w, w->icmp, (size_t)n))
		BUMP(w, tx_errors, 1);
	BUMP(w, too_big, 1);
	return true;
}

/* ---- receive: ESP -> decrypted packets queued for the TUN device ---- */

static void count_esp_drop(struct op_worker *w, ssize_t rc)
{
	BUMP(w, esp_drops, 1);
	switch (rc) {
	case -ENOENT: BUMP(w, drop_no_sa, 1); break;
	case -EINVAL: BUMP(w, drop_truncated, 1); break;
	case -ESTALE:
	case -EALREADY: BUMP(w, drop_replay, 1); break;
	case -EBADMSG: BUMP(w, drop_auth, 1); break;
	case -EPROTO: BUMP(w, drop_malformed, 1); break;
	case -EACCES:
	case -EPROTONOSUPPORT: BUMP(w, drop_policy, 1); break;
	case -EKEYEXPIRED: BUMP(w, drop_expired, 1); break;
	default: break;
	}
}

/*
 * Writes what is queued: with the virtio-net header, runs of one TCP flow become one GSO write each (op_gro_coalesce),
 * the head's headers and vnet header in front, the other members' payloads gathered behind it.
 */
static void flush_rx(struct op_worker *w)
{
	struct rxq *q = &w->rxq;
	size_t n_units;

	if (q->n == 0)
		return;
	if (!w->tun_vnet) {
		for (size_t i = 0; i < q->n; i++) {
			if (tun_write_one(w, q->pkt[i].data, q->pkt[i].len))
				BUMP(w, esp_rx, 1);
			else
				BUMP(w, tx_errors, 1);
		}
		q->n = 0;
		q->used = 0;
		return;
	}
	n_units = op_gro_coalesce(q->pkt, q->n, q->units);
	for (size_t u = 0; u < n_units; u++) {
		struct op_gro_unit *unit = &q->units[u];
		struct op_gro_pkt *h = &q->pkt[unit->head];
		struct iovec iov[1 + 64];
		int n_iov = 1;
		size_t total = OP_VNET_HDR_LEN + h->len;

		iov[0] = (struct iovec){ .iov_base = h->data - OP_VNET_HDR_LEN, .iov_len = OP_VNET_HDR_LEN + h->len };
		for (int32_t m = h->next; m >= 0 && n_iov < (int)(sizeof(iov) / sizeof(iov[0])); m = q->pkt[m].next) {
			struct op_gro_pkt *p = &q->pkt[m];
			iov[n_iov++] = (struct iovec){ .iov_base = p->data + p->hlen, .iov_len = p->len - p->hlen };
			total += p->len - p->hlen;
		}
		if (writev(w->tun_fd, iov, n_iov) == (ssize_t)total) {
			BUMP(w, esp_rx, unit->count);
			if (unit->count > 1)
				BUMP(w, gro_tx, 1);
		} else {
			BUMP(w, tx_errors, 1);
		}
	}
	q->n = 0;
	q->used = 0;
}

/* One ESP packet (from the SPI on), however it arrived; outer_hdr is what carried it, for MSS clamping. */
static void handle_esp(struct op_worker *w, const uint8_t *d, size_t len, uint32_t outer_hdr)
{
	struct rxq *q = &w->rxq;
	struct op_esp_info info;
	uint8_t *out;
	ssize_t n;

	/* Room for the plaintext (never longer than the ESP packet) behind a virtio-net header. */
	if (q->n == RX_MAX || q->used + OP_VNET_HDR_LEN + len + 16 > RX_ARENA)
		flush_rx(w);
	out = q->arena + q->used + OP_VNET_HDR_LEN;
	n = op_esp_decrypt_tunnel(d, len, out, RX_ARENA - q->used - OP_VNET_HDR_LEN, &info);
	if (n < 0) {
		count_esp_drop(w, n);
		return;
	}
	if (n == 0)
		return; /* dummy packet (RFC 4303 §2.6) */
	clamp_syn(w, out, (size_t)n, info.spi, OP_DIR_IN, outer_hdr);
	q->pkt[q->n++] = (struct op_gro_pkt){ .data = out, .len = (size_t)n };
	q->used += (OP_VNET_HDR_LEN + (size_t)n + 15) & ~(size_t)15;
}

static void handle_datagram(struct op_worker *w, const struct wsock *s, const uint8_t *d, size_t len,
			    const struct sockaddr_storage *from, socklen_t from_len, struct msghdr *mh)
{
	if (len == 0) {
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
	handle_esp(w, d, len, from->ss_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)from)->sin6_addr)
				      ? OP_OUTER_V6_HDR
				      : OP_OUTER_V4_HDR);
}

/* A packet from a raw ESP socket: IPv4 hands over the whole datagram, IPv6 only what follows its headers (raw(7)). */
static void handle_raw(struct op_worker *w, const struct wsock *s, const uint8_t *d, size_t len, bool truncated)
{
	BUMP(w, raw_rx, 1);
	if (truncated) {
		BUMP(w, runt_drops, 1);
		return;
	}
	if (s->family == AF_INET) {
		size_t ihl;

		if (len < 20 || d[0] >> 4 != 4 || (ihl = (size_t)(d[0] & 0x0f) * 4) < 20 || ihl > len) {
			BUMP(w, runt_drops, 1);
			return;
		}
		handle_esp(w, d + ihl, len - ihl, OP_OUTER_V4_IP);
		return;
	}
	handle_esp(w, d, len, OP_OUTER_V6_IP);
}

/* The segment size of a UDP GRO read (UDP_GRO control message), 0 for a single datagram. */
static size_t gro_size_of(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
			int v = 0;
			memcpy(&v, CMSG_DATA(c), c->cmsg_len - CMSG_LEN(0) < sizeof(v) ? c->cmsg_len - CMSG_LEN(0) : sizeof(v));
			return v > 0 ? (size_t)v : 0;
		}
	}
	return 0;
}

static void drain_sock(struct op_worker *w, const struct wsock *s)
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
	for (int i = 0; i < got; i++) {
		const uint8_t *d = iov[i].iov_base;
		size_t len = msgs[i].msg_len, seg;
		bool truncated = msgs[i].msg_hdr.msg_flags & MSG_TRUNC;

		if (s->esp) {
			handle_raw(w, s, d, len, truncated);
			continue;
		}
		if (truncated) {
			BUMP(w, udp_rx, 1);
			BUMP(w, runt_drops, 1);
			continue;
		}
		/* With UDP_GRO one read may hold several datagrams of one sender, all `seg` long but the last. */
		seg = gro_size_of(&msgs[i].msg_hdr);
		if (!seg || seg >= len)
			seg = len;
		else
			BUMP(w, udp_gro_rx, 1);
		for (size_t off = 0; off < len || len == 0; off += seg) {
			size_t n = len - off < seg ? len - off : seg;
			BUMP(w, udp_rx, 1);
			handle_datagram(w, s, d + off, n, &from[i], msgs[i].msg_hdr.msg_namelen, &msgs[i].msg_hdr);
			if (len == 0)
				break;
		}
	}
	flush_rx(w);
}

/* ---- send: TUN packets -> ESP queued per route -> sendmmsg, UDP GSO where it applies ---- */

/* The route of the packets being queued: the last one when it is the same, else a new slot. */
static int txq_route(struct op_worker *w, const struct op_route *rt)
{
	struct txq *q = &w->txq;

	if (q->n_routes > 0) {
		const struct op_route *last = &q->routes[q->n_routes - 1];
		if (last->sock == rt->sock && last->remote_len == rt->remote_len && last->cmsg_len == rt->cmsg_len &&
		    memcmp(&last->remote, &rt->remote, rt->remote_len) == 0 && memcmp(last->cmsg, rt->cmsg, rt->cmsg_len) == 0 &&
		    last->outer_hdr == rt->outer_hdr)
			return (int)q->n_routes - 1;
	}
	if (q->n_routes == TX_MAX)
		return -1;
	q->routes[q->n_routes] = *rt;
	return (int)q->n_routes++;
}

/* A UDP_SEGMENT control message after the route's PKTINFO, in ctrl; returns the control length. */
static size_t gso_control(const struct op_route *rt, uint64_t *ctrl, size_t cap, uint16_t seg)
{
	struct msghdr mh = { .msg_control = ctrl, .msg_controllen = cap };
	struct cmsghdr *c;
	size_t used = rt->cmsg_len;

	memset(ctrl, 0, cap);
	memcpy(ctrl, rt->cmsg, rt->cmsg_len);
	if (!seg)
		return used;
	mh.msg_controllen = used + CMSG_SPACE(sizeof(uint16_t));
	c = used ? CMSG_NXTHDR(&mh, CMSG_FIRSTHDR(&mh)) : CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	return used + CMSG_SPACE(sizeof(uint16_t));
}

/* A GSO message the kernel refused (a path MTU below what GSO assumed), sent again datagram by datagram. */
static void send_plain(struct op_worker *w, int fd, struct msghdr *gso_msg)
{
	for (size_t i = 0; i < gso_msg->msg_iovlen; i++) {
		struct msghdr mh = *gso_msg;
		mh.msg_iov = &gso_msg->msg_iov[i];
		mh.msg_iovlen = 1;
		/* Keep only the PKTINFO message, which comes first. */
		if (mh.msg_controllen) {
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			mh.msg_controllen = c && c->cmsg_level == SOL_UDP ? 0 : CMSG_SPACE(c->cmsg_len - CMSG_LEN(0));
			if (!mh.msg_controllen)
				mh.msg_control = NULL;
		}
		if (sendmsg(fd, &mh, MSG_DONTWAIT) < 0)
			BUMP(w, tx_errors, 1);
		else
			BUMP(w, esp_tx, 1);
	}
}

/* sendmmsg in runs of one socket; counts[i] datagrams in message i (more than one: UDP GSO). */
static void send_msgs(struct op_worker *w, struct mmsghdr *msgs, const uint32_t *counts, const uint16_t *socks, int n)
{
	int off = 0;

	while (off < n) {
		int end = off + 1, sent;
		int fd = w->socks[socks[off]].fd;

		while (end < n && socks[end] == socks[off])
			end++;
		sent = sendmmsg(fd, msgs + off, (unsigned)(end - off), MSG_DONTWAIT);
		if (sent < 0) {
			/* sendmmsg reports the first message's error: a refused GSO message goes again datagram by datagram. */
			int err = errno;
			if (counts[off] > 1 && (err == EINVAL || err == EIO || err == EMSGSIZE))
				send_plain(w, fd, &msgs[off].msg_hdr);
			else
				BUMP(w, tx_errors, counts[off]);
			off++;
			continue;
		}
		for (int i = off; i < off + sent; i++) {
			BUMP(w, esp_tx, counts[i]);
			if (counts[i] > 1)
				BUMP(w, udp_gso_tx, 1);
		}
		off += sent;
	}
}

/* The ESP packet room a route's path takes without fragmenting, for UDP GSO (which must not fragment). */
static size_t gso_room(struct op_worker *w, const struct op_route *rt)
{
	uint32_t path = atomic_load_explicit(&w->path_mtu, memory_order_relaxed);

	if (!path)
		path = 1500; /* unknown: Ethernet; a smaller one makes the kernel refuse and send_plain take over */
	return path > rt->outer_hdr ? path - rt->outer_hdr : 0;
}

/* Sends everything queued: consecutive packets of one route and one size become one UDP GSO message. */
static void flush_tx(struct op_worker *w)
{
	struct txq *q = &w->txq;
	int n_msgs = 0;
	size_t i = 0;

	while (i < q->n) {
		const struct op_route *rt = &q->routes[q->pkt[i].route];
		const struct wsock *s = &w->socks[rt->sock];
		size_t seg = q->pkt[i].len, total = seg, j = i + 1;
		size_t max_segs = w->udp_gso && s->gso && !s->esp && seg <= gso_room(w, rt) ? OP_UDP_MAX_SEGMENTS : 1;
		struct msghdr *mh = &q->msgs[n_msgs].msg_hdr;

		/* Same route, same size (the last may be shorter), within 64 KiB and the kernel's segment limit. */
		while (j < q->n && j - i < max_segs && q->pkt[j].route == q->pkt[i].route && q->pkt[j].len <= seg &&
		       total + q->pkt[j].len <= OP_UDP_GSO_MAX_BYTES) {
			total += q->pkt[j].len;
			j++;
			if (q->pkt[j - 1].len < seg)
				break;
		}
		for (size_t k = i; k < j; k++)
			q->iov[k] = (struct iovec){ .iov_base = q->pkt[k].p, .iov_len = q->pkt[k].len };
		memset(mh, 0, sizeof(*mh));
		mh->msg_name = (void *)&rt->remote;
		mh->msg_namelen = rt->remote_len;
		mh->msg_iov = &q->iov[i];
		mh->msg_iovlen = j - i;
		mh->msg_controllen = gso_control(rt, q->ctrl[n_msgs], sizeof(q->ctrl[n_msgs]), j - i > 1 ? (uint16_t)seg : 0);
		mh->msg_control = mh->msg_controllen ? q->ctrl[n_msgs] : NULL;
		q->counts[n_msgs] = (uint32_t)(j - i);
		q->socks[n_msgs] = rt->sock;
		n_msgs++;
		i = j;
	}
	if (n_msgs)
		send_msgs(w, q->msgs, q->counts, q->socks, n_msgs);
	q->n = 0;
	q->used = 0;
	q->n_routes = 0;
}

/* Encrypts one inner packet under the route's SA into the send queue. */
static void queue_esp(struct op_worker *w, const struct op_route *rt, const uint8_t *pkt, size_t len, uint8_t nh)
{
	struct txq *q = &w->txq;
	ssize_t esp_len;
	int ri;

	if (q->n == TX_MAX || q->used + len + OP_ESP_MAX_OVERHEAD + 16 > TX_ARENA)
		flush_tx(w);
	ri = txq_route(w, rt);
	if (ri < 0) {
		flush_tx(w);
		ri = txq_route(w, rt);
	}
	esp_len = op_esp_encrypt(rt->spi, pkt, len, nh, q->arena + q->used, TX_ARENA - q->used);
	if (esp_len < 0) {
		BUMP(w, encrypt_drops, 1);
		return;
	}
	q->pkt[q->n++] = (struct txpkt){ .p = q->arena + q->used, .len = (uint32_t)esp_len, .route = (uint16_t)ri };
	q->used += ((size_t)esp_len + 15) & ~(size_t)15;
}

/* A TCP super-packet from the kernel (TSO): segments it and queues every segment as its own ESP packet. */
static void tun_gso_packet(struct op_worker *w, const uint8_t *pkt, size_t len, const struct op_vnet_hdr *h)
{
	struct op_tso t;
	struct op_flow f;
	struct op_route rt;
	ssize_t n;
	int nh;

	if (op_tso_init(&t, pkt, len, h) != 0 || (nh = op_esp_tunnel_next_header(pkt, len)) < 0 || op_flow_parse(pkt, len, &f) != 0) {
		BUMP(w, runt_drops, 1);
		return;
	}
	BUMP(w, gso_rx, 1);
	if (op_routes_lookup(&w->routes, f.family, f.dst, &rt) != 0) {
		BUMP(w, no_route, 1);
		return;
	}
	while ((n = op_tso_next(&t, w->seg, SEG_BUF)) > 0) {
		BUMP(w, tun_rx, 1);
		/* Every segment is as large as the first but the last: one too big means the whole packet is. */
		if (t.index == 1 && refuse_too_big(w, w->seg, (size_t)n, &rt))
			return;
		queue_esp(w, &rt, w->seg, (size_t)n, (uint8_t)nh);
	}
	if (n < 0)
		BUMP(w, runt_drops, 1);
}

static void drain_tun(struct op_worker *w)
{
	for (int i = 0; i < BATCH; i++) {
		uint8_t *buf = w->tun_rx;
		ssize_t got = read(w->tun_fd, buf, TUN_SLOT);
		uint8_t *pkt = buf;
		size_t len;
		struct op_flow f;
		struct op_route rt;
		int nh;

		if (got <= 0)
			break;
		len = (size_t)got;
		if (w->tun_vnet) {
			struct op_vnet_hdr h;

			if (len < OP_VNET_HDR_LEN) {
				BUMP(w, runt_drops, 1);
				continue;
			}
			op_vnet_read(buf, &h);
			pkt = buf + OP_VNET_HDR_LEN;
			len -= OP_VNET_HDR_LEN;
			if (h.gso_type != OP_VNET_GSO_NONE) {
				tun_gso_packet(w, pkt, len, &h);
				continue;
			}
			/* Checksum offload: the kernel left the transport checksum for us to finish. */
			if ((h.flags & OP_VNET_F_NEEDS_CSUM) && op_csum_complete(pkt, len, h.csum_start, h.csum_offset) != 0) {
				BUMP(w, runt_drops, 1);
				continue;
			}
		}
		BUMP(w, tun_rx, 1);
		nh = op_esp_tunnel_next_header(pkt, len);
		if (nh < 0 || op_flow_parse(pkt, len, &f) != 0) {
			BUMP(w, runt_drops, 1);
			continue;
		}
		if (op_routes_lookup(&w->routes, f.family, f.dst, &rt) != 0) {
			BUMP(w, no_route, 1);
			continue;
		}
		if (refuse_too_big(w, pkt, len, &rt))
			continue;
		if (f.proto == 6)
			clamp_syn(w, pkt, len, rt.spi, OP_DIR_OUT, rt.outer_hdr);
		queue_esp(w, &rt, pkt, len, (uint8_t)nh);
	}
	flush_tx(w);
}

static void *worker_main(void *arg)
{
	struct op_worker *w = arg;
	struct pollfd fds[2 + OP_WORKER_MAX_SOCKETS + OP_WORKER_MAX_ESP_SOCKETS];
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
				drain_sock(w, &w->socks[i]);
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
	free(w->seg);
	free(w->icmp);
	free(w->txq.arena);
	free(w->rxq.arena);
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

static int socket_info(int fd, bool esp, struct wsock *s)
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
	s->esp = esp;
	/* An IPv6 raw socket cannot send to v4-mapped addresses: each family has its own ESP socket. */
	s->v4ok = s->family == AF_INET || (!v6only && !esp);
	op_endpoint_from_sockaddr(&s->name, &s->bound);
	if (s->family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&s->name)->sin6_addr))
		s->bound.family = 6; /* "::" stays IPv6 even though it reads as all zeroes */
	if (esp)
		s->bound.port = 0; /* getsockname reports the protocol number there */
	s->wildcard = endpoint_addr_unset(&s->bound);
	return 0;
}

static void close_all(const int *udp_fds, size_t n_udp, const int *esp_fds, size_t n_esp)
{
	for (size_t i = 0; i < n_udp; i++)
		close(udp_fds[i]);
	for (size_t i = 0; i < n_esp; i++)
		close(esp_fds[i]);
}

int op_worker_start(const int *udp_fds, size_t n_udp, const int *esp_fds, size_t n_esp, int tun_fd,
		    const struct op_worker_config *cfg, op_ike_fn on_ike, void *arg, struct op_worker **out)
{
	struct op_worker *w;
	int rc = 0;

	if (n_udp == 0 || n_udp > OP_WORKER_MAX_SOCKETS || n_esp > OP_WORKER_MAX_ESP_SOCKETS || (n_esp && !esp_fds)) {
		close_all(udp_fds, n_udp, esp_fds, n_esp);
		return -EINVAL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		close_all(udp_fds, n_udp, esp_fds, n_esp);
		return -ENOMEM;
	}
	w->tun_fd = tun_fd;
	w->on_ike = on_ike;
	w->arg = arg;
	w->stop_fd = -1;
	for (size_t i = 0; i < n_udp + n_esp; i++) {
		bool esp = i >= n_udp;
		int fd = esp ? esp_fds[i - n_udp] : udp_fds[i];
		int r = socket_info(fd, esp, &w->socks[i]);
		w->socks[i].fd = fd;
		w->n_socks++;
		if (r && !rc)
			rc = r;
	}
	w->n_udp = n_udp;
	op_worker_set_config(w, cfg);
	if (!rc) {
		w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (w->stop_fd < 0)
			rc = -errno;
	}
	if (!rc) {
		w->rx = malloc((size_t)BATCH * SLOT);
		w->rx_ctrl = malloc((size_t)BATCH * CTRL);
		w->tun_rx = malloc(TUN_SLOT);
		w->seg = malloc(SEG_BUF);
		w->icmp = malloc(ICMP_BUF);
		w->txq.arena = malloc(TX_ARENA);
		w->rxq.arena = malloc(RX_ARENA);
		rc = op_routes_init(&w->routes);
		if (!rc && (!w->rx || !w->rx_ctrl || !w->tun_rx || !w->seg || !w->icmp || !w->txq.arena || !w->rxq.arena))
			rc = -ENOMEM;
	}
	if (!rc) {
		int vnet = op_tun_vnet_hdr(tun_fd);
		w->tun_vnet = vnet == 1;
		w->udp_gso = !cfg || !cfg->no_udp_offload;
		/* UDP GRO hands over several datagrams of one sender per read; UDP_SEGMENT probes send-side GSO. */
		for (size_t i = 0; i < w->n_udp && w->udp_gso; i++) {
			int on = 1, zero = 0;
			w->socks[i].gso = setsockopt(w->socks[i].fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero)) == 0;
			setsockopt(w->socks[i].fd, SOL_UDP, UDP_GRO, &on, sizeof(on));
		}
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
	int i = pick_socket(w, to->family, local, false);
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
			const struct op_endpoint *local, bool plain_esp)
{
	struct op_route rt = *route;
	struct op_endpoint to = *remote;
	int i;

	if (remote->family != 4 && remote->family != 6)
		return -EINVAL;
	if (local && local->family != remote->family && !endpoint_addr_unset(local))
		return -EINVAL;
	i = pick_socket(w, remote->family, local, plain_esp);
	if (i < 0 && plain_esp)
		return -EPROTONOSUPPORT;
	if (i < 0)
		return i == -EADDRNOTAVAIL && remote->family == 6 ? -EAFNOSUPPORT : i;
	if (plain_esp)
		to.port = 0; /* raw(7): IPv6 takes 0 or the protocol there; IPv4 ignores it */
	rt.sock = (uint8_t)i;
	rt.outer_family = remote->family;
	rt.outer_hdr = (uint8_t)((remote->family == 6 ? OP_OUTER_V6_IP : OP_OUTER_V4_IP) + (plain_esp ? 0 : OP_OUTER_UDP));
	rt.remote_len = endpoint_sockaddr(w->socks[i].family, &to, &rt.remote);
	rt.cmsg_len = build_pktinfo(&w->socks[i], local, rt.cmsg, sizeof(rt.cmsg));
	return op_routes_add(&w->routes, &rt);
}

struct op_routes *op_worker_routes(struct op_worker *w)
{
	return &w->routes;
}

size_t op_worker_socket_count(const struct op_worker *w)
{
	return w->n_udp;
}

unsigned op_worker_esp_families(const struct op_worker *w)
{
	unsigned set = 0;

	for (size_t i = w->n_udp; i < w->n_socks; i++)
		set |= 1u << (w->socks[i].family == AF_INET6 ? 6 : 4);
	return set;
}

int op_worker_socket_name(const struct op_worker *w, size_t i, struct sockaddr_storage *out)
{
	if (i >= w->n_udp)
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

/*
 * Socket buffers for bursts of whole batches (a GSO message is 64 KiB): 4 MiB, past net.core.[rw]mem_max when
 * the process may (CAP_NET_ADMIN, the *FORCE options), else as much as the sysctl allows. Best effort.
 */
static void size_buffers(int fd)
{
	int size = 4 << 20;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

struct sock_job {
	const char *addr;
	uint16_t port;
	bool v6only;
	int family; /* op_esp_open */
	int (*create)(const struct sock_job *job);
	const char *netns_path;
	int rc;
};

static int udp_create(const char *addr, uint16_t port, bool v6only)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	int v6 = inet_pton(AF_INET6, addr, &a6.sin6_addr) == 1;
	int fd, on = 1, only = v6only ? 1 : 0;

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
	size_buffers(fd);
	if ((v6 ? bind(fd, (struct sockaddr *)&a6, sizeof(a6)) : bind(fd, (struct sockaddr *)&a4, sizeof(a4))) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

static int udp_job_create(const struct sock_job *job)
{
	return udp_create(job->addr, job->port, job->v6only);
}

static int esp_create(const struct sock_job *job)
{
	int af = job->family == 6 ? AF_INET6 : AF_INET;
	int fd = socket(af, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ESP), on = 1;

	if (fd < 0)
		return -errno;
	if (af == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
	else
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	size_buffers(fd);
	return fd;
}

static void *sock_thread(void *arg)
{
	struct sock_job *job = arg;

	job->rc = op_enter_netns(job->netns_path);
	if (job->rc == 0)
		job->rc = job->create(job);
	return NULL;
}

static int sock_open(struct sock_job *job)
{
	pthread_t t;
	int err;

	if (!job->netns_path || !job->netns_path[0])
		return job->create(job);
	/* Same trick as op_tun_open: only a short-lived helper thread enters the namespace. */
	err = pthread_create(&t, NULL, sock_thread, job);
	if (err)
		return -err;
	pthread_join(t, NULL);
	return job->rc;
}

int op_udp_open(const char *addr, uint16_t port, const char *netns_path, bool v6only)
{
	struct sock_job job = { .addr = addr, .port = port, .v6only = v6only, .create = udp_job_create,
				.netns_path = netns_path, .rc = -EIO };
	return sock_open(&job);
}

int op_esp_open(int family, const char *netns_path)
{
	struct sock_job job = { .family = family, .create = esp_create, .netns_path = netns_path, .rc = -EIO };

	if (family != 4 && family != 6)
		return -EINVAL;
	return sock_open(&job);
}
