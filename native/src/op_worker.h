/* The userspace data path: one thread owning a UDP socket (ESP-in-UDP and IKE, RFC 3948) and a TUN device. */
#ifndef OP_WORKER_H
#define OP_WORKER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "op_route.h"

/* IKE datagrams (after the 4-octet non-ESP marker) go up through this; it must copy what it keeps. */
typedef void (*op_ike_fn)(void *arg, const uint8_t *msg, size_t len, const struct sockaddr_storage *from,
			  socklen_t from_len);

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
};

struct op_worker;

/*
 * Starts the thread. The worker owns udp_fd (closed on stop) and borrows tun_fd (the caller closes it after
 * op_worker_stop). Both must be non-blocking. -errno on failure.
 */
int op_worker_start(int udp_fd, int tun_fd, op_ike_fn on_ike, void *arg, struct op_worker **out);
/* Stops and joins the thread; afterwards on_ike is never called again. Frees the worker. */
void op_worker_stop(struct op_worker *w);

/* Sends an IKE message with the non-ESP marker prepended (RFC 3948 §2.2). Any thread. */
int op_worker_send_ike(struct op_worker *w, const uint8_t *msg, size_t len, const struct sockaddr *to, socklen_t to_len);

struct op_routes *op_worker_routes(struct op_worker *w);
int op_worker_socket_family(const struct op_worker *w);
void op_worker_get_stats(struct op_worker *w, struct op_worker_stats *out);

/* A non-blocking UDP socket bound to addr:port, created inside netns_path when given. Returns the fd or -errno. */
int op_udp_open(const char *addr, uint16_t port, const char *netns_path);

#endif
