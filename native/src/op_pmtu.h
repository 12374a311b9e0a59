/* Path MTU for tunnelled packets: TCP MSS clamping (RFC 879/6691) and ICMP "too big" (RFC 1191, RFC 4443 §3.2). */
#ifndef OP_PMTU_H
#define OP_PMTU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Outer headers in front of the ESP header: IPv4/IPv6, plus UDP for ESP-in-UDP (RFC 3948); plain ESP has none. */
#define OP_OUTER_V4_IP 20
#define OP_OUTER_V6_IP 40
#define OP_OUTER_UDP 8
#define OP_OUTER_V4_HDR (OP_OUTER_V4_IP + OP_OUTER_UDP)
#define OP_OUTER_V6_HDR (OP_OUTER_V6_IP + OP_OUTER_UDP)
#define OP_IPV6_MIN_MTU 1280u

/*
 * If pkt (IPv4, or IPv6 with TCP as the first next header) is a TCP SYN whose MSS option exceeds `mss`,
 * rewrites the option to `mss` and updates the TCP checksum incrementally (RFC 1624). Returns 1 when rewritten,
 * 0 when nothing needed changing (not TCP, not a SYN, no MSS option, MSS already small, later fragment),
 * -EINVAL when the headers are truncated.
 */
int op_tcp_clamp_mss(uint8_t *pkt, size_t len, uint16_t mss);

/* The MSS that keeps a TCP segment of this IP version inside `mtu`-octet packets (no IP or TCP options). */
uint16_t op_mss_for_mtu(int ip_version, uint32_t mtu);

/* Whether a packet this large must be refused rather than sent: IPv4 with DF set, or any IPv6 packet. */
bool op_pkt_dont_fragment(const uint8_t *pkt, size_t len);

/*
 * Builds the ICMP error telling pkt's source that `mtu` is the largest packet the path takes: ICMPv4
 * Destination Unreachable / Fragmentation Needed with the next-hop MTU (RFC 1191 §4), or ICMPv6 Packet Too Big
 * (RFC 4443 §3.2, MTU at least 1280). The error comes from pkt's destination, so it passes reverse-path
 * filters on the way back, and quotes as much of pkt as RFC 1812 §4.3.2.3 (576 octets) / RFC 4443 §2.4(c)
 * (1280 octets) allow. Returns the length written to out, or -EINVAL (malformed), -EPERM (pkt must not draw an
 * error: an ICMP error itself, a non-first fragment, a multicast/broadcast/unspecified address), -ENOBUFS.
 */
ssize_t op_icmp_too_big(const uint8_t *pkt, size_t len, uint32_t mtu, uint8_t *out, size_t cap);

#endif
