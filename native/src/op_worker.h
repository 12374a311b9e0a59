/* The userspace data path: one thread owning the NAT-T UDP sockets (ESP-in-UDP and IKE, RFC 3948) and a TUN device. */
#ifndef OP_WORKER_H
#define OP_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "op_route.h"

#define OP_WORKER_MAX_SOCKETS 8

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
};

struct op_worker_stats {
	uint64_t udp_rx;        /* datagrams read */
	uint64_t ike_rx;        /* handed to the control plane */
	uint64_t keepalive_rx;  /* NAT-keepalive, RFC 3948 §2.3 */
	uint64_t esp_rx;        /* ESP decrypted and written to the TUN device */
	uint64_t esp_drops;     /* failed decryption or policy (the SA's counters say why) */
	uint64_t runt_drops;    /* too short to classify, or truncated by the buffer */
	uint64_t tun_rx;        /* packets read from the TUN device */
	uint64_t no_route;      /* no route for the inner destination */
	uint64_t esp_tx;        /* ESP datagrams sent */
	uint64_t encrypt_drops; /* the route's SA refused (expired, missing, sequence exhausted) */
	uint64_t tx_errors;     /* sendmmsg / write failures */
	uint64_t mss_clamped;   /* TCP SYNs whose MSS option was lowered */
	uint64_t too_big;       /* inner packets refused for the path MTU (an ICMP error went back) */
	uint64_t ike_tx;        /* IKE messages sent for the control plane */
};

struct op_worker;

/*
 * Starts the thread. The worker owns the n_udp sockets (closed on stop, also on failure) and borrows tun_fd
 * (the caller closes it after op_worker_stop). All must be non-blocking; at most OP_WORKER_MAX_SOCKETS
 * sockets. cfg may be NULL (no clamping, no path MTU). -errno on failure.
 */
int op_worker_start(const int *udp_fds, size_t n_udp, int tun_fd, const struct op_worker_config *cfg, op_ike_fn on_ike,
		    void *arg, struct op_worker **out);
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
 * route->family/plen/prefix/spi are read; the worker fills in the rest. -EINVAL, -EADDRNOTAVAIL, -ENOMEM.
 */
int op_worker_route_add(struct op_worker *w, const struct op_route *route, const struct op_endpoint *remote,
			const struct op_endpoint *local);
struct op_routes *op_worker_routes(struct op_worker *w);
void op_worker_get_stats(struct op_worker *w, struct op_worker_stats *out);

/* Number of sockets and the local endpoint each is bound to (port resolved). */
size_t op_worker_socket_count(const struct op_worker *w);
int op_worker_socket_name(const struct op_worker *w, size_t i, struct sockaddr_storage *out);

/*
 * A non-blocking UDP socket bound to addr:port, created inside netns_path when given, with IP_PKTINFO /
 * IPV6_RECVPKTINFO on. "::" takes IPv4 too unless v6only. Returns the fd or -errno.
 */
int op_udp_open(const char *addr, uint16_t port, const char *netns_path, bool v6only);

/* sockaddr <-> op_endpoint; IPv4-mapped IPv6 addresses come back as IPv4. */
void op_endpoint_from_sockaddr(const struct sockaddr_storage *ss, struct op_endpoint *out);

#endif
