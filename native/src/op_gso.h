/* Segmentation and coalescing offloads for the TUN device (virtio-net header, tuntap.rst) and Internet checksums (RFC 1071). */
#ifndef OP_GSO_H
#define OP_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* struct virtio_net_hdr as a TUN device with IFF_VNET_HDR reads and writes it (little-endian: TUNSETVNETLE). */
#define OP_VNET_HDR_LEN 10
#define OP_VNET_F_NEEDS_CSUM 1
#define OP_VNET_GSO_NONE 0
#define OP_VNET_GSO_TCPV4 1
#define OP_VNET_GSO_TCPV6 4
#define OP_VNET_GSO_ECN 0x80

struct op_vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

void op_vnet_read(const uint8_t *p, struct op_vnet_hdr *h);
void op_vnet_write(uint8_t *p, const struct op_vnet_hdr *h);

/* One's complement sum of buf, added to sum (native byte order, unfolded); op_csum_fold folds it to 16 bits. */
uint64_t op_csum_add(uint64_t sum, const uint8_t *buf, size_t len);
uint16_t op_csum_fold(uint64_t sum);

/*
 * Finishes a checksum the kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM, CHECKSUM_PARTIAL): the field at
 * start + offset holds the pseudo-header sum; the sum from `start` to the end goes there, complemented.
 * -EINVAL when the positions lie outside the packet.
 */
int op_csum_complete(uint8_t *pkt, size_t len, uint16_t start, uint16_t offset);

/*
 * Iterator over the segments of a TCP super-packet the kernel handed over with GSO (TSO, RFC 9293 segmentation
 * as tcp_gso_segment does it): each segment gets the headers with its own length, IPv4 ID (+1 each), sequence
 * number, flags (CWR on the first only, FIN and PSH on the last only) and full checksums.
 */
struct op_tso {
	const uint8_t *pkt;
	size_t len;
	size_t iph;    /* IP header octets (IPv6: 40 plus hop-by-hop / destination options headers) */
	size_t hlen;   /* IP + TCP header octets */
	size_t mss;
	size_t off;    /* payload octets already emitted */
	uint32_t seq;
	uint16_t ip_id;
	uint32_t index;
	int version;
};

/* -EINVAL (malformed, gso_size 0), -EPROTONOSUPPORT (not TCP over IPv4, or over IPv6 with only HBH/DSTOPT headers). */
int op_tso_init(struct op_tso *t, const uint8_t *pkt, size_t len, const struct op_vnet_hdr *h);
/* Writes the next segment to out: its length, 0 when all are out, -ENOBUFS when cap is too small. */
ssize_t op_tso_next(struct op_tso *t, uint8_t *out, size_t cap);
/* The largest segment: headers + MSS. */
size_t op_tso_max_segment(const struct op_tso *t);

/*
 * Coalescing of received TCP segments into super-packets for one TUN write each (like the kernel's tcp_gro_receive):
 * consecutive in-order segments of one flow with equal headers (addresses, ports, ACK, window, options, TTL/TOS)
 * and valid checksums, all but the last of the first one's payload size, ACK (and PSH on the last) as the only
 * flags, at most 64 KiB. Everything else is written alone.
 */
struct op_gro_pkt {
	uint8_t *data;   /* the IP packet; OP_VNET_HDR_LEN writable octets precede it */
	size_t len;
	size_t hlen;     /* set by op_gro_coalesce for members: where their payload starts */
	int32_t next;    /* the next member of the same unit, -1 at the end */
};

struct op_gro_unit {
	uint32_t head;   /* index of the first packet; its header (and vnet header in front) now describe the unit */
	uint32_t count;
	size_t len;      /* IP octets of the whole unit */
};

/*
 * Groups pkts into units (at most n), in order of each unit's first packet; rewrites each head for its unit (IP
 * length and checksum, PSH, the TCP checksum field as the pseudo-header sum) and fills the vnet header before every
 * head (GSO TCPV4/TCPV6 for units of more than one packet, none otherwise). Returns the number of units.
 */
size_t op_gro_coalesce(struct op_gro_pkt *pkts, size_t n, struct op_gro_unit *units);

#endif
