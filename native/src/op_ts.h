/* Traffic selectors (RFC 7296 §3.13.1, RFC 4301 §4.4.1) and the inner-packet fields they are matched against. */
#ifndef OP_TS_H
#define OP_TS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OP_TS_MAX 16

struct op_ts {
	uint8_t family;     /* 4 or 6 */
	uint8_t proto;      /* 0 = any */
	uint16_t port_lo;   /* ICMP: type << 8 | code (RFC 4301 §4.4.1.1) */
	uint16_t port_hi;
	uint8_t lo[16];     /* network order; IPv4 uses the first 4 octets */
	uint8_t hi[16];
};

/* What a selector looks at in an IP packet (RFC 4301 §4.4.1.1). */
struct op_flow {
	uint8_t family;
	uint8_t proto;
	bool has_ports;      /* false for non-first fragments and unknown extension chains */
	uint16_t src_port;   /* ICMP: type << 8 | code in both */
	uint16_t dst_port;
	uint8_t src[16];
	uint8_t dst[16];
};

/* Parses IPv4 or IPv6; -EINVAL when the header is truncated or inconsistent. */
int op_flow_parse(const uint8_t *pkt, size_t len, struct op_flow *out);

/* Whether (addr, proto, port) of one end of the flow lies in the selector. */
bool op_ts_match(const struct op_ts *ts, const struct op_flow *f, bool source);

/* Parses "a.b.c.d" / IPv6 text ranges into a selector; -EINVAL on bad text, mixed families or lo > hi
 * (ports 65535..0 are OPAQUE and allowed). */
int op_ts_from_text(struct op_ts *ts, const char *start, const char *end, uint8_t proto, uint16_t port_lo,
		    uint16_t port_hi);

#endif
