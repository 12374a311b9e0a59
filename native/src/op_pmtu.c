/*
 * Keeping tunnelled packets inside the path MTU (RFC 4459 §3): ESP-in-UDP adds 50-80 octets, so an inner packet
 * that fitted the LAN no longer fits the outer path.
 *
 * - TCP: the MSS option of SYNs crossing the tunnel is lowered (the classic "clamp MSS to PMTU"), so both ends
 *   send segments that fit without any ICMP at all. The checksum is patched incrementally (RFC 1624 eqn. 3).
 * - Everything else with DF set (and all IPv6): an ICMP "fragmentation needed" (RFC 1191) / "packet too big"
 *   (RFC 4443) is written back into the TUN device, so the sender's PMTU discovery lowers its packet size.
 *   Packets without DF are encrypted anyway and the outer datagram is fragmented by the kernel.
 */
#include "op_pmtu.h"
#include "op_common.h"

#include <string.h>

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_ICMPV6 58
#define TCP_FLAG_SYN 0x02
#define TCP_OPT_EOL 0
#define TCP_OPT_NOP 1
#define TCP_OPT_MSS 2

/* RFC 1812 §4.3.2.3: an ICMPv4 error is at most 576 octets; RFC 4443 §2.4(c): an ICMPv6 error at most 1280. */
#define ICMP4_MAX_ERROR 576u
#define ICMP6_MAX_ERROR 1280u

static inline uint16_t load_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void store_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (; len > 1; p += 2, len -= 2)
		sum += load_be16(p);
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline uint16_t bswap(uint16_t v)
{
	return (uint16_t)(v << 8 | v >> 8);
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). A field at an odd offset enters the sum byte-swapped. */
static void patch_checksum(uint8_t *csum, uint16_t old, uint16_t new_value, bool odd)
{
	uint32_t sum;

	if (odd) {
		old = bswap(old);
		new_value = bswap(new_value);
	}
	sum = (uint16_t)~load_be16(csum);
	sum += (uint16_t)~old;
	sum += new_value;
	store_be16(csum, fold(sum));
}

/* Offset of the TCP header when pkt carries TCP where a SYN can be seen; 0 when not, -EINVAL when truncated. */
static ssize_t tcp_offset(const uint8_t *pkt, size_t len)
{
	if (len < 1)
		return -EINVAL;
	if (pkt[0] >> 4 == 4) {
		size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
		if (len < 20 || ihl < 20 || ihl > len)
			return -EINVAL;
		if (pkt[9] != PROTO_TCP || (load_be16(pkt + 6) & 0x1fff) != 0)
			return 0;
		return (ssize_t)ihl;
	}
	if (pkt[0] >> 4 == 6) {
		if (len < 40)
			return -EINVAL;
		/* Extension headers before TCP on a SYN are rare enough to pass unclamped. */
		return pkt[6] == PROTO_TCP ? 40 : 0;
	}
	return 0;
}

int op_tcp_clamp_mss(uint8_t *pkt, size_t len, uint16_t mss)
{
	ssize_t off = tcp_offset(pkt, len);
	uint8_t *tcp;
	size_t tl, doff, i;

	if (off <= 0)
		return (int)off;
	tcp = pkt + off;
	tl = len - (size_t)off;
	if (tl < 20)
		return -EINVAL;
	if (!(tcp[13] & TCP_FLAG_SYN))
		return 0;
	doff = (size_t)(tcp[12] >> 4) * 4;
	if (doff < 20 || doff > tl)
		return -EINVAL;
	for (i = 20; i < doff;) {
		uint8_t kind = tcp[i], olen;

		if (kind == TCP_OPT_EOL)
			break;
		if (kind == TCP_OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= doff)
			break;
		olen = tcp[i + 1];
		if (olen < 2 || i + olen > doff)
			break;
		if (kind == TCP_OPT_MSS && olen == 4) {
			uint16_t cur = load_be16(tcp + i + 2);
			if (cur <= mss)
				return 0;
			store_be16(tcp + i + 2, mss);
			patch_checksum(tcp + 16, cur, mss, ((i + 2) & 1) != 0);
			return 1;
		}
		i += olen;
	}
	return 0;
}

uint16_t op_mss_for_mtu(int ip_version, uint32_t mtu)
{
	uint32_t hdr = ip_version == 6 ? 60 : 40;

	if (mtu > 65535)
		mtu = 65535;
	return mtu > hdr + 64 ? (uint16_t)(mtu - hdr) : 64;
}

bool op_pkt_dont_fragment(const uint8_t *pkt, size_t len)
{
	if (len >= 20 && pkt[0] >> 4 == 4)
		return (load_be16(pkt + 6) & 0x4000) != 0;
	return len >= 1 && pkt[0] >> 4 == 6;
}

/* ICMPv4 messages that are not errors (RFC 1122 §3.2.2: never answer an error with an error). */
static bool icmp4_is_query(uint8_t type)
{
	switch (type) {
	case 0:  /* echo reply */
	case 8:  /* echo */
	case 13: /* timestamp */
	case 14:
	case 17: /* address mask */
	case 18:
		return true;
	default:
		return false;
	}
}

static ssize_t too_big_v4(const uint8_t *pkt, size_t len, uint32_t mtu, uint8_t *out, size_t cap)
{
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4, quote, total;
	uint8_t src0 = pkt[12], dst0 = pkt[16];
	uint16_t c;

	if (len < 20 || ihl < 20 || ihl > len)
		return -EINVAL;
	if ((load_be16(pkt + 6) & 0x1fff) != 0)
		return -EPERM; /* only the first fragment draws errors (RFC 1812 §4.3.2.7) */
	if (op_load_be32(pkt + 12) == 0 || src0 >= 224 || dst0 >= 224)
		return -EPERM; /* unspecified, multicast, class E, broadcast */
	if (pkt[9] == PROTO_ICMP && (len <= ihl || !icmp4_is_query(pkt[ihl])))
		return -EPERM;
	if (load_be16(pkt + 2) >= ihl && load_be16(pkt + 2) < len)
		len = load_be16(pkt + 2);
	quote = len < ICMP4_MAX_ERROR - 28 ? len : ICMP4_MAX_ERROR - 28;
	total = 28 + quote;
	if (cap < total)
		return -ENOBUFS;
	memset(out, 0, 28);
	out[0] = 0x45;
	out[1] = 0xc0; /* precedence "internetwork control", as routers send ICMP */
	store_be16(out + 2, (uint16_t)total);
	out[8] = 64;
	out[9] = PROTO_ICMP;
	memcpy(out + 12, pkt + 16, 4); /* from the unreachable destination: passes rp_filter on the way back */
	memcpy(out + 16, pkt + 12, 4);
	store_be16(out + 10, fold(sum16(out, 20, 0)));
	out[20] = 3; /* destination unreachable */
	out[21] = 4; /* fragmentation needed and DF set */
	store_be16(out + 26, (uint16_t)(mtu > 0xffff ? 0xffff : mtu));
	memcpy(out + 28, pkt, quote);
	c = fold(sum16(out + 20, 8 + quote, 0));
	store_be16(out + 22, c);
	return (ssize_t)total;
}

static ssize_t too_big_v6(const uint8_t *pkt, size_t len, uint32_t mtu, uint8_t *out, size_t cap)
{
	static const uint8_t unspecified[16];
	size_t quote, plen;
	uint32_t sum;

	if (len < 40)
		return -EINVAL;
	if (memcmp(pkt + 8, unspecified, 16) == 0 || pkt[8] == 0xff)
		return -EPERM; /* RFC 4443 §2.4(e): not to an unspecified or multicast source */
	if (pkt[6] == PROTO_ICMPV6 && (len <= 40 || pkt[40] < 128))
		return -EPERM;
	if (40u + load_be16(pkt + 4) < len)
		len = 40u + load_be16(pkt + 4);
	if (mtu < OP_IPV6_MIN_MTU)
		mtu = OP_IPV6_MIN_MTU;
	quote = len < ICMP6_MAX_ERROR - 48 ? len : ICMP6_MAX_ERROR - 48;
	plen = 8 + quote;
	if (cap < 40 + plen)
		return -ENOBUFS;
	memset(out, 0, 48);
	out[0] = 0x60;
	store_be16(out + 4, (uint16_t)plen);
	out[6] = PROTO_ICMPV6;
	out[7] = 64;
	memcpy(out + 8, pkt + 24, 16);
	memcpy(out + 24, pkt + 8, 16);
	out[40] = 2; /* packet too big */
	op_store_be32(out + 44, mtu);
	memcpy(out + 48, pkt, quote);
	/* RFC 8200 §8.1 pseudo-header: source, destination, upper-layer length, next header. */
	sum = sum16(out + 8, 32, 0);
	sum += (uint32_t)plen;
	sum += PROTO_ICMPV6;
	sum = sum16(out + 40, plen, sum);
	store_be16(out + 42, fold(sum));
	return (ssize_t)(40 + plen);
}

ssize_t op_icmp_too_big(const uint8_t *pkt, size_t len, uint32_t mtu, uint8_t *out, size_t cap)
{
	if (len < 1)
		return -EINVAL;
	if (pkt[0] >> 4 == 4)
		return too_big_v4(pkt, len, mtu, out, cap);
	if (pkt[0] >> 4 == 6)
		return too_big_v6(pkt, len, mtu, out, cap);
	return -EINVAL;
}
