/* Outbound routing of the userspace data plane: inner destination prefix -> outbound SA and peer endpoint. */
#ifndef OP_ROUTE_H
#define OP_ROUTE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct op_route {
	uint8_t family;  /* 4 or 6: of the inner prefix */
	uint8_t plen;
	uint8_t prefix[16];
	uint32_t spi;    /* outbound SA */
	struct sockaddr_storage remote; /* the peer's outer endpoint (UDP; port 0 for plain ESP), in the socket's family */
	socklen_t remote_len;
	/* Set by the worker (op_worker_route_add): which of its sockets sends, and the IP_PKTINFO / IPV6_PKTINFO
	 * control message that picks our outer source address on a wildcard socket (cmsg_len 0: none). */
	uint8_t sock;
	uint8_t outer_family; /* 4 or 6: the outer header the kernel will put in front (for the path MTU) */
	uint8_t outer_hdr;    /* octets in front of the ESP header: IP, plus UDP unless plain ESP */
	size_t cmsg_len;
	uint64_t cmsg[8];     /* aligned storage for one CMSG_SPACE(sizeof(struct in6_pktinfo)) */
};

struct op_routes {
	pthread_rwlock_t lock;
	struct op_route *v; /* sorted by plen, longest first, so the first match is the longest prefix */
	size_t n, cap;
};

int op_routes_init(struct op_routes *r);
void op_routes_free(struct op_routes *r);
/* Adds or replaces the route for (family, prefix/plen); host bits are cleared. -EINVAL, -ENOMEM. */
int op_routes_add(struct op_routes *r, const struct op_route *route);
/* -ENOENT when absent. */
int op_routes_del(struct op_routes *r, uint8_t family, const uint8_t *prefix, uint8_t plen);
/* Longest-prefix match; -EHOSTUNREACH when nothing covers dst. */
int op_routes_lookup(struct op_routes *r, uint8_t family, const uint8_t *dst, struct op_route *out);
size_t op_routes_count(struct op_routes *r);

#endif
