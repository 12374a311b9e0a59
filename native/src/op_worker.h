/* The userspace data path: one thread owning the NAT-T UDP sockets (ESP-in-UDP and IKE, RFC 3948), raw ESP sockets (RFC 4303) and a TUN device. */
#ifndef OP_WORKER_H
#define OP_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "op_route.h"

#define OP_WORKER_MAX_SOCKETS 8
/* Raw IP protocol 50 sockets for plain ESP: one per address family. */
#define OP_WORKER_MAX_ESP_SOCKETS 2

/*
 * IKE datagrams (after the 4-octet non-ESP marker) go up through this; it must copy what it keeps. `local` is
 * the address the datagram was sent to (IP_PKTINFO / IPV6_PKTINFO) with the socket's port: NAT detection
 * (RFC 7296 §2.23) hashes it, and a wildcard socket cannot know it otherwise.
 */
typedef void (*op_ike_fn)(void *arg, const uint8_t *msg, size_t len, const struct sockaddr_storage *from,
			  socklen_t from_len, const struct sockaddr_storage *local);

struct op_worker_config {
	/* Largest inner packet the tunnel carries (the TUN device's MTU). TCP SYNs are clamped to fit it. 0 = no limit. */
	uint32_t tun_mtu;
	/* MTU of the outer path to peers. An inner packet whose ESP-in-UDP datagram would exceed it is refused with
	 * ICMP "too big" when it may not be fragmented (IPv4 DF, IPv6), else sent and fragmented outside. 0 = off. */
	uint32_t path_mtu;
	bool clamp_mss;
	/* At start only: no UDP GSO (UDP_SEGMENT) or GRO (UDP_GRO) on the UDP sockets, one datagram per send/read. */
	bool no_udp_offload;
};

struct op_worker_stats {
	uint64_t udp_rx;        /* datagrams read */
	uint64_t ike_rx;        /* handed to the control plane */
	uint64_t keepalive_rx;  /* NAT-keepalive, RFC 3948 §2.3 */
	uint64_t esp_rx;        /* ESP decrypted and written to the TUN device */
	uint64_t esp_drops;     /* failed decryption or policy: the sum of the drop_* reasons below (and -ENOBUFS) */
	uint64_t runt_drops;    /* too short to classify, or truncated by the buffer */
	uint64_t tun_rx;        /* packets read from the TUN device */
	uint64_t no_route;      /* no route for the inner destination */
	uint64_t esp_tx;        /* ESP datagrams sent */
	uint64_t encrypt_drops; /* the route's SA refused (expired, missing, sequence exhausted) */
	uint64_t tx_errors;     /* sendmmsg / write failures */
	uint64_t mss_clamped;   /* TCP SYNs whose MSS option was lowered */
	uint64_t too_big;       /* inner packets refused for the path MTU (an ICMP error went back) */
	uint64_t ike_tx;        /* IKE messages sent for the control plane */
	uint64_t raw_rx;        /* plain ESP packets read from the raw IP protocol 50 sockets */
	/* Why inbound ESP was dropped (the SA's own counters say it per SA; these survive the SA). */
	uint64_t drop_no_sa;     /* unknown SPI */
	uint64_t drop_truncated; /* shorter than the SA's header + IV + ICV, or ciphertext not block-aligned */
	uint64_t drop_replay;    /* duplicate or left of the window (RFC 4303 §3.4.3) */
	uint64_t drop_auth;      /* ICV mismatch (RFC 4303 §3.4.4) */
	uint64_t drop_malformed; /* authentic, but bad padding */
	uint64_t drop_policy;    /* authentic, but not an IP packet the SA's selectors allow (RFC 4301 §5.2) */
	uint64_t drop_expired;   /* SA past its hard lifetime */
	/* Offloads at work (tuntap.rst virtio-net header, udp(7) UDP_SEGMENT / UDP_GRO). */
	uint64_t gso_rx;         /* TCP super-packets read from the TUN device (their segments count in tun_rx) */
	uint64_t gro_tx;         /* TUN writes that carried several coalesced segments (all count in esp_rx) */
	uint64_t udp_gso_tx;     /* sends that carried several datagrams (all count in esp_tx) */
	uint64_t udp_gro_rx;     /* reads that held several datagrams (all count in udp_rx) */
};

struct op_worker;

/*
 * Starts the thread. The worker owns the n_udp UDP sockets and the n_esp raw ESP sockets (closed on stop, also on
 * failure) and borrows tun_fd (the caller closes it after op_worker_stop). All must be non-blocking; at most
 * OP_WORKER_MAX_SOCKETS UDP and OP_WORKER_MAX_ESP_SOCKETS ESP sockets (esp_fds may be NULL). cfg may be NULL
 * (no clamping, no path MTU). -errno on failure.
 */
int op_worker_start(const int *udp_fds, size_t n_udp, const int *esp_fds, size_t n_esp, int tun_fd,
		    const struct op_worker_config *cfg, op_ike_fn on_ike, void *arg, struct op_worker **out);
/* Stops and joins the thread; afterwards on_ike is never called again. Frees the worker. */
void op_worker_stop(struct op_worker *w);

void op_worker_set_config(struct op_worker *w, const struct op_worker_config *cfg);
void op_worker_get_config(struct op_worker *w, struct op_worker_config *out);

/* A datagram endpoint in plain form: family 4 or 6, address in network order, port in host order. */
struct op_endpoint {
	uint8_t family;
	uint8_t addr[16];
	uint16_t port;
};

/*
 * Sends an IKE message with the non-ESP marker prepended (RFC 3948 §2.2), from the socket bound to local->port
 * (and local->addr when a socket is bound to it), with local->addr as the source on a wildcard socket. local may
 * be NULL (first socket of the family). Any thread. -EADDRNOTAVAIL when no socket fits.
 */
int op_worker_send_ike(struct op_worker *w, const uint8_t *msg, size_t len, const struct op_endpoint *to,
		       const struct op_endpoint *local);

/*
 * Adds (or replaces) the route prefix/plen -> (spi, remote), sent from `local` (optional, as for send_ike).
 * route->family/plen/prefix/spi are read; the worker fills in the rest. plain_esp sends the ESP packets as IP
 * protocol 50 from the raw socket of remote's family (ports ignored) instead of ESP-in-UDP.
 * -EINVAL, -EADDRNOTAVAIL, -EAFNOSUPPORT (no socket of that family), -EPROTONOSUPPORT (plain ESP without a raw
 * ESP socket), -ENOMEM.
 */
int op_worker_route_add(struct op_worker *w, const struct op_route *route, const struct op_endpoint *remote,
			const struct op_endpoint *local, bool plain_esp);
struct op_routes *op_worker_routes(struct op_worker *w);
void op_worker_get_stats(struct op_worker *w, struct op_worker_stats *out);

/* Number of UDP sockets and the local endpoint each is bound to (port resolved). */
size_t op_worker_socket_count(const struct op_worker *w);
/* Address families (4, 6) of the raw ESP sockets, as a bit set: 1 << 4 | 1 << 6. */
unsigned op_worker_esp_families(const struct op_worker *w);
int op_worker_socket_name(const struct op_worker *w, size_t i, struct sockaddr_storage *out);

/*
 * A non-blocking UDP socket bound to addr:port, created inside netns_path when given, with IP_PKTINFO /
 * IPV6_RECVPKTINFO on. "::" takes IPv4 too unless v6only. Returns the fd or -errno.
 */
int op_udp_open(const char *addr, uint16_t port, const char *netns_path, bool v6only);

/*
 * A non-blocking raw socket for IP protocol 50 (plain ESP, RFC 4303) of family 4 or 6, created inside netns_path
 * when given, with IP_PKTINFO / IPV6_RECVPKTINFO on. The kernel adds the outer IP header on send; IPv4 reads start
 * with the IP header, IPv6 reads with the ESP header. Needs CAP_NET_RAW. Returns the fd or -errno.
 */
int op_esp_open(int family, const char *netns_path);

/* sockaddr <-> op_endpoint; IPv4-mapped IPv6 addresses come back as IPv4. */
void op_endpoint_from_sockaddr(const struct sockaddr_storage *ss, struct op_endpoint *out);

#endif
