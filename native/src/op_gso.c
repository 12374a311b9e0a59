/*
 * TUN offloads (ARCHITECTURE.md §5, "per-packet work batched"): with IFF_VNET_HDR and TUNSETOFFLOAD the kernel hands
 * the worker whole TCP super-packets (up to 64 KiB, GSO) and takes them back, so one read or write carries dozens
 * of segments and the kernel's TCP stacks on either side see few large packets.
 *
 *   TUN read (GSO TCPV4/V6) -> op_tso_next per segment -> ESP, one datagram each (the wire never sees > MTU)
 *   ESP decrypted segments -> op_gro_coalesce -> one TUN write per flow run (GSO, checksum left partial)
 *
 * Checksums follow RFC 1071: summed as native 32-bit words in a 64-bit accumulator, folded at the end; the byte
 * order cancels out as long as every part is summed the same way and stored as it came out.
 */
#include "op_gso.h"
#include "op_common.h"

#include <string.h>

static inline uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void op_vnet_read(const uint8_t *p, struct op_vnet_hdr *h)
{
	h->flags = p[0];
	h->gso_type = p[1];
	h->hdr_len = le16(p + 2);
	h->gso_size = le16(p + 4);
	h->csum_start = le16(p + 6);
	h->csum_offset = le16(p + 8);
}

void op_vnet_write(uint8_t *p, const struct op_vnet_hdr *h)
{
	p[0] = h->flags;
	p[1] = h->gso_type;
	put_le16(p + 2, h->hdr_len);
	put_le16(p + 4, h->gso_size);
	put_le16(p + 6, h->csum_start);
	put_le16(p + 8, h->csum_offset);
}

/* ---- checksums ---- */

uint64_t op_csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	uint64_t carry = 0;

	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		sum += v;
		carry += sum < v;
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t v;
		memcpy(&v, p, 4);
		sum += v;
		carry += sum < v;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t v;
		memcpy(&v, p, 2);
		sum += v;
		carry += sum < v;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* A last odd octet is the first half of a 16-bit word padded with zero (RFC 1071 §4.1). */
		uint16_t v = 0;
		memcpy(&v, p, 1);
		sum += v;
		carry += sum < v;
	}
	sum += carry;
	return sum + (sum < carry);
}

uint16_t op_csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Stores a folded sum as the bytes it was computed from (native order), complemented when asked. */
static inline void store_sum(uint8_t *at, uint16_t folded)
{
	memcpy(at, &folded, 2);
}

int op_csum_complete(uint8_t *pkt, size_t len, uint16_t start, uint16_t offset)
{
	uint16_t c;

	if ((size_t)start + offset + 2 > len)
		return -EINVAL;
	c = (uint16_t)~op_csum_fold(op_csum_add(0, pkt + start, len - start));
	if (c == 0)
		c = 0xffff; /* UDP reads 0 as "no checksum" (RFC 768); 0xffff is the same value in one's complement */
	store_sum(pkt + start + offset, c);
	return 0;
}

/* Pseudo-header sum (RFC 9293 §3.1, RFC 8200 §8.1) for TCP of `l4len` octets. */
static uint64_t pseudo_sum(const uint8_t *ip, int version, size_t l4len)
{
	uint8_t tail[8] = { 0 };

	if (version == 4) {
		uint64_t s = op_csum_add(0, ip + 12, 8);
		tail[1] = 6;
		put_be16(tail + 2, (uint16_t)l4len);
		return op_csum_add(s, tail, 4);
	}
	uint64_t s = op_csum_add(0, ip + 8, 32);
	tail[0] = (uint8_t)(l4len >> 24);
	tail[1] = (uint8_t)(l4len >> 16);
	tail[2] = (uint8_t)(l4len >> 8);
	tail[3] = (uint8_t)l4len;
	tail[7] = 6;
	return op_csum_add(s, tail, 8);
}

static void ipv4_header_csum(uint8_t *ip, size_t ihl)
{
	ip[10] = ip[11] = 0;
	store_sum(ip + 10, (uint16_t)~op_csum_fold(op_csum_add(0, ip, ihl)));
}

/* ---- TSO: one super-packet -> segments ---- */

/*
 * IP (with IPv6 hop-by-hop and destination options headers, which leave the pseudo-header alone) and TCP header
 * lengths of a TCP packet; -EPROTONOSUPPORT for anything else (fragments, routing headers, other protocols).
 */
static int tcp_headers(const uint8_t *pkt, size_t len, int *version, size_t *iph, size_t *hlen)
{
	size_t thl;

	if (len < 1)
		return -EINVAL;
	*version = pkt[0] >> 4;
	if (*version == 4) {
		if (len < 20)
			return -EINVAL;
		*iph = (size_t)(pkt[0] & 0x0f) * 4;
		if (*iph < 20 || pkt[9] != 6)
			return *iph < 20 ? -EINVAL : -EPROTONOSUPPORT;
		if (be16(pkt + 6) & 0x3fff)
			return -EPROTONOSUPPORT; /* a fragment */
	} else if (*version == 6) {
		uint8_t nh;

		if (len < 40)
			return -EINVAL;
		*iph = 40;
		nh = pkt[6];
		for (int hops = 0; (nh == 0 || nh == 60) && hops < 4; hops++) {
			if (len < *iph + 8)
				return -EINVAL;
			nh = pkt[*iph];
			*iph += ((size_t)pkt[*iph + 1] + 1) * 8;
		}
		if (nh != 6)
			return -EPROTONOSUPPORT;
	} else {
		return -EPROTONOSUPPORT;
	}
	if (len < *iph + 20)
		return -EINVAL;
	thl = (size_t)(pkt[*iph + 12] >> 4) * 4;
	if (thl < 20 || len < *iph + thl)
		return -EINVAL;
	*hlen = *iph + thl;
	return 0;
}

int op_tso_init(struct op_tso *t, const uint8_t *pkt, size_t len, const struct op_vnet_hdr *h)
{
	int rc;

	memset(t, 0, sizeof(*t));
	rc = tcp_headers(pkt, len, &t->version, &t->iph, &t->hlen);
	if (rc)
		return rc;
	if ((h->gso_type & ~OP_VNET_GSO_ECN) != (t->version == 4 ? OP_VNET_GSO_TCPV4 : OP_VNET_GSO_TCPV6))
		return -EPROTONOSUPPORT;
	if (h->gso_size == 0)
		return -EINVAL;
	t->pkt = pkt;
	t->len = len;
	t->mss = h->gso_size;
	t->seq = op_load_be32(pkt + t->iph + 4);
	t->ip_id = t->version == 4 ? be16(pkt + 4) : 0;
	return 0;
}

size_t op_tso_max_segment(const struct op_tso *t)
{
	return t->hlen + t->mss;
}

ssize_t op_tso_next(struct op_tso *t, uint8_t *out, size_t cap)
{
	size_t payload = t->len - t->hlen, seg, total;
	uint8_t *th;
	bool first, last;

	if (t->off >= payload && !(payload == 0 && t->index == 0))
		return 0;
	seg = payload - t->off < t->mss ? payload - t->off : t->mss;
	total = t->hlen + seg;
	if (total > cap)
		return -ENOBUFS;
	first = t->index == 0;
	last = t->off + seg >= payload;
	memcpy(out, t->pkt, t->hlen);
	memcpy(out + t->hlen, t->pkt + t->hlen + t->off, seg);

	if (t->version == 4) {
		put_be16(out + 2, (uint16_t)total);
		put_be16(out + 4, (uint16_t)(t->ip_id + t->index));
		ipv4_header_csum(out, t->iph);
	} else {
		put_be16(out + 4, (uint16_t)(total - 40));
	}
	th = out + t->iph;
	op_store_be32(th + 4, t->seq + (uint32_t)t->off);
	if (!first)
		th[13] &= (uint8_t)~0x80; /* CWR */
	if (!last)
		th[13] &= (uint8_t)~0x09; /* FIN, PSH */
	th[16] = th[17] = 0;
	store_sum(th + 16, (uint16_t)~op_csum_fold(op_csum_add(pseudo_sum(out, t->version, total - t->iph), th, total - t->iph)));

	t->off += seg;
	t->index++;
	if (payload == 0)
		t->off = 1; /* a header-only packet is one segment */
	return (ssize_t)total;
}

/* ---- GRO: segments -> super-packets ---- */

#define GRO_MAX_LEN 65535u
#define GRO_MAX_SEGS 64u
#define GRO_OPEN 8 /* flows tracked at once; more is rare inside one batch and only costs coalescing */

/* Why a flow run cannot take more packets (or start): the TCP flags that must end or bypass it. */
#define TCP_FLAGS_PLAIN 0x10u /* ACK */
#define TCP_FLAG_PSH 0x08u

struct gro_flow {
	uint32_t head;
	uint32_t tail;
	uint32_t count;
	size_t len;       /* IP octets so far */
	size_t mss;       /* payload of the head: every member but the last carries exactly this */
	uint32_t next_seq;
	bool closed;
};

enum gro_kind { GRO_OTHER, GRO_TCP_ALONE, GRO_TCP };

/*
 * GRO_TCP: may join or start a run (sane headers, flags ACK or ACK|PSH, a payload, a valid checksum).
 * GRO_TCP_ALONE: TCP that must be written alone (SYN/FIN/RST/URG/CWR/ECE, no payload, IP options, bad checksum):
 * it still ends its flow's run, so nothing of that flow overtakes it. GRO_OTHER: anything else.
 */
static enum gro_kind gro_classify(struct op_gro_pkt *p, int *version, size_t *iph)
{
	size_t hlen;
	const uint8_t *th;

	if (tcp_headers(p->data, p->len, version, iph, &hlen))
		return GRO_OTHER;
	p->hlen = hlen;
	if (*version == 4 && (*iph != 20 || be16(p->data + 2) != p->len))
		return GRO_TCP_ALONE;
	if (*version == 6 && (*iph != 40 || (size_t)be16(p->data + 4) + 40 != p->len))
		return GRO_TCP_ALONE;
	th = p->data + *iph;
	if ((th[13] & ~TCP_FLAG_PSH) != TCP_FLAGS_PLAIN || p->len == hlen)
		return GRO_TCP_ALONE;
	if (op_csum_fold(op_csum_add(pseudo_sum(p->data, *version, p->len - *iph), th, p->len - *iph)) != 0xffff)
		return GRO_TCP_ALONE; /* written as it came, for the kernel to drop as it would have */
	return GRO_TCP;
}

/* The same TCP connection: addresses and ports. */
static bool gro_same_flow(const struct op_gro_pkt *h, size_t hiph, const struct op_gro_pkt *p, size_t piph, int version)
{
	const uint8_t *a = h->data, *b = p->data;

	if (version == 4 ? memcmp(a + 12, b + 12, 8) != 0 : memcmp(a + 8, b + 8, 32) != 0)
		return false;
	return memcmp(a + hiph, b + piph, 4) == 0;
}

/* Everything GRO must keep equal within a run (RFC 9293 fields, IP TOS/DF/TTL, IPv6 class/label/hop limit). */
static bool gro_same_headers(const struct op_gro_pkt *h, const struct op_gro_pkt *p, int version)
{
	const uint8_t *a = h->data, *b = p->data;
	size_t iph = version == 4 ? 20 : 40;

	if (h->hlen != p->hlen)
		return false;
	if (version == 4) {
		if (a[1] != b[1] || (a[6] & 0x40) != (b[6] & 0x40) || a[8] != b[8])
			return false;
	} else if (memcmp(a, b, 4) || a[7] != b[7]) {
		return false;
	}
	/* ACK number and data offset, window, options; the caller checks sequence number and flags */
	return memcmp(a + iph + 8, b + iph + 8, 5) == 0 && memcmp(a + iph + 14, b + iph + 14, 2) == 0 &&
	       memcmp(a + iph + 20, b + iph + 20, h->hlen - iph - 20) == 0;
}

/* IPv4 identification of p is the head's + k, or DF is set and it does not matter (RFC 6864 §4.1); IPv6 has none. */
static bool gro_ip_id_ok(const struct op_gro_pkt *h, const struct op_gro_pkt *p, uint32_t k, int version)
{
	if (version == 6 || (h->data[6] & 0x40))
		return true;
	return be16(p->data + 4) == (uint16_t)(be16(h->data + 4) + k);
}

static void gro_finish(struct op_gro_pkt *pkts, const struct gro_flow *f, struct op_gro_unit *u, int version)
{
	struct op_gro_pkt *h = &pkts[f->head];
	struct op_vnet_hdr vh = { 0 };
	size_t iph = version == 4 ? 20 : 40;
	uint8_t *th = h->data + iph;

	u->head = f->head;
	u->count = f->count;
	u->len = f->len;
	if (f->count > 1) {
		if (pkts[f->tail].data[iph + 13] & TCP_FLAG_PSH)
			th[13] |= TCP_FLAG_PSH;
		if (version == 4) {
			put_be16(h->data + 2, (uint16_t)f->len);
			ipv4_header_csum(h->data, 20);
		} else {
			put_be16(h->data + 4, (uint16_t)(f->len - 40));
		}
		/* The kernel completes the checksum (CHECKSUM_PARTIAL): the field holds the pseudo-header sum. */
		th[16] = th[17] = 0;
		store_sum(th + 16, op_csum_fold(pseudo_sum(h->data, version, f->len - iph)));
		vh.flags = OP_VNET_F_NEEDS_CSUM;
		vh.gso_type = version == 4 ? OP_VNET_GSO_TCPV4 : OP_VNET_GSO_TCPV6;
		vh.hdr_len = (uint16_t)h->hlen;
		vh.gso_size = (uint16_t)f->mss;
		vh.csum_start = (uint16_t)iph;
		vh.csum_offset = 16;
	}
	op_vnet_write(h->data - OP_VNET_HDR_LEN, &vh);
}

struct gro_state {
	struct gro_flow flow[GRO_OPEN];
	int version[GRO_OPEN];
	size_t iph[GRO_OPEN];
	uint32_t unit[GRO_OPEN];
	size_t n;
};

static void gro_close(struct gro_state *st, size_t k, struct op_gro_pkt *pkts, struct op_gro_unit *units)
{
	gro_finish(pkts, &st->flow[k], &units[st->unit[k]], st->version[k]);
	/* Keep the rest in age order: the oldest is evicted first when the table is full. */
	memmove(&st->flow[k], &st->flow[k + 1], (st->n - k - 1) * sizeof(st->flow[0]));
	memmove(&st->version[k], &st->version[k + 1], (st->n - k - 1) * sizeof(st->version[0]));
	memmove(&st->iph[k], &st->iph[k + 1], (st->n - k - 1) * sizeof(st->iph[0]));
	memmove(&st->unit[k], &st->unit[k + 1], (st->n - k - 1) * sizeof(st->unit[0]));
	st->n--;
}

size_t op_gro_coalesce(struct op_gro_pkt *pkts, size_t n, struct op_gro_unit *units)
{
	struct gro_state st = { .n = 0 };
	size_t n_units = 0;
	static const struct op_vnet_hdr none;

	for (size_t i = 0; i < n; i++) {
		struct op_gro_pkt *p = &pkts[i];
		int version = 0;
		size_t iph = 0, payload;
		enum gro_kind kind = gro_classify(p, &version, &iph);
		bool joined = false;

		p->next = -1;
		if (kind == GRO_OTHER) {
			op_vnet_write(p->data - OP_VNET_HDR_LEN, &none);
			units[n_units++] = (struct op_gro_unit){ .head = (uint32_t)i, .count = 1, .len = p->len };
			continue;
		}
		/* An open run of the same connection either takes this segment or ends here. */
		for (size_t k = 0; k < st.n; k++) {
			struct gro_flow *f = &st.flow[k];
			struct op_gro_pkt *h = &pkts[f->head];

			if (st.version[k] != version || !gro_same_flow(h, st.iph[k], p, iph, version))
				continue;
			payload = p->len - p->hlen;
			if (kind == GRO_TCP && !f->closed && gro_same_headers(h, p, version) &&
			    op_load_be32(p->data + iph + 4) == f->next_seq && payload <= f->mss && f->len + payload <= GRO_MAX_LEN &&
			    f->count < GRO_MAX_SEGS && gro_ip_id_ok(h, p, f->count, version)) {
				pkts[f->tail].next = (int32_t)i;
				f->tail = (uint32_t)i;
				f->count++;
				f->len += payload;
				f->next_seq += (uint32_t)payload;
				f->closed = payload < f->mss || (p->data[iph + 13] & TCP_FLAG_PSH);
				joined = true;
			} else {
				gro_close(&st, k, pkts, units);
			}
			break;
		}
		if (joined)
			continue;
		if (kind == GRO_TCP_ALONE) {
			op_vnet_write(p->data - OP_VNET_HDR_LEN, &none);
			units[n_units++] = (struct op_gro_unit){ .head = (uint32_t)i, .count = 1, .len = p->len };
			continue;
		}
		if (st.n == GRO_OPEN)
			gro_close(&st, 0, pkts, units); /* the oldest run makes room */
		payload = p->len - p->hlen;
		st.flow[st.n] = (struct gro_flow){ .head = (uint32_t)i, .tail = (uint32_t)i, .count = 1, .len = p->len, .mss = payload,
						   .next_seq = op_load_be32(p->data + iph + 4) + (uint32_t)payload,
						   .closed = (p->data[iph + 13] & TCP_FLAG_PSH) != 0 };
		st.version[st.n] = version;
		st.iph[st.n] = iph;
		st.unit[st.n] = (uint32_t)n_units;
		units[n_units++] = (struct op_gro_unit){ .head = (uint32_t)i, .count = 1, .len = p->len };
		st.n++;
	}
	while (st.n > 0)
		gro_close(&st, 0, pkts, units);
	return n_units;
}
