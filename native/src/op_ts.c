/*
 * Selector matching for the inbound policy check of RFC 4301 §5.2 (a decrypted packet must match the SA's
 * selectors, or a peer could inject traffic from addresses it was never granted) and for outbound routing.
 * Ports follow RFC 4301 §4.4.1.1: ICMP/ICMPv6 type and code sit in the port fields; a packet whose ports
 * cannot be read (non-first fragment, unknown IPv6 extension) only matches selectors with the full port range.
 */
#include "op_ts.h"
#include "op_common.h"

#include <arpa/inet.h>
#include <string.h>

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58
#define PROTO_SCTP 132

static void read_ports(struct op_flow *f, const uint8_t *l4, size_t l4_len)
{
	switch (f->proto) {
	case PROTO_TCP:
	case PROTO_UDP:
	case PROTO_SCTP:
		if (l4_len < 4)
			return;
		f->src_port = (uint16_t)(l4[0] << 8 | l4[1]);
		f->dst_port = (uint16_t)(l4[2] << 8 | l4[3]);
		f->has_ports = true;
		return;
	case PROTO_ICMP:
	case PROTO_ICMPV6:
		if (l4_len < 2)
			return;
		f->src_port = f->dst_port = (uint16_t)(l4[0] << 8 | l4[1]);
		f->has_ports = true;
		return;
	default:
		return;
	}
}

int op_flow_parse(const uint8_t *pkt, size_t len, struct op_flow *f)
{
	memset(f, 0, sizeof(*f));
	if (len < 1)
		return -EINVAL;
	if (pkt[0] >> 4 == 4) {
		size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
		if (len < 20 || ihl < 20 || ihl > len)
			return -EINVAL;
		f->family = 4;
		f->proto = pkt[9];
		memcpy(f->src, pkt + 12, 4);
		memcpy(f->dst, pkt + 16, 4);
		if ((op_load_be32(pkt + 4) & 0x1fff) == 0) /* fragment offset 0: the L4 header is here */
			read_ports(f, pkt + ihl, len - ihl);
		return 0;
	}
	if (pkt[0] >> 4 == 6) {
		if (len < 40)
			return -EINVAL;
		f->family = 6;
		f->proto = pkt[6];
		memcpy(f->src, pkt + 8, 16);
		memcpy(f->dst, pkt + 24, 16);
		read_ports(f, pkt + 40, len - 40); /* extension headers leave has_ports false */
		return 0;
	}
	return -EINVAL;
}

bool op_ts_match(const struct op_ts *ts, const struct op_flow *f, bool source)
{
	size_t alen = f->family == 4 ? 4 : 16;
	const uint8_t *a = source ? f->src : f->dst;
	uint16_t port = source ? f->src_port : f->dst_port;

	if (ts->family != f->family)
		return false;
	if (memcmp(a, ts->lo, alen) < 0 || memcmp(a, ts->hi, alen) > 0)
		return false;
	if (ts->proto != 0 && ts->proto != f->proto)
		return false;
	if (ts->port_lo == 0 && ts->port_hi == 0xffff)
		return true;
	if (ts->port_lo == 0xffff && ts->port_hi == 0) /* OPAQUE (RFC 7296 §3.13.1): ports unavailable */
		return !f->has_ports;
	if (ts->proto == 0 || !f->has_ports)
		return false;
	return port >= ts->port_lo && port <= ts->port_hi;
}

int op_ts_from_text(struct op_ts *ts, const char *start, const char *end, uint8_t proto, uint16_t port_lo,
		    uint16_t port_hi)
{
	size_t alen;

	memset(ts, 0, sizeof(*ts));
	if (inet_pton(AF_INET, start, ts->lo) == 1 && inet_pton(AF_INET, end, ts->hi) == 1) {
		ts->family = 4;
		alen = 4;
	} else if (inet_pton(AF_INET6, start, ts->lo) == 1 && inet_pton(AF_INET6, end, ts->hi) == 1) {
		ts->family = 6;
		alen = 16;
	} else {
		return -EINVAL;
	}
	if (memcmp(ts->lo, ts->hi, alen) > 0)
		return -EINVAL;
	if (port_lo > port_hi && !(port_lo == 0xffff && port_hi == 0))
		return -EINVAL;
	ts->proto = proto;
	ts->port_lo = port_lo;
	ts->port_hi = port_hi;
	return 0;
}
