/* TUN devices (Linux Documentation/networking/tuntap.rst) for the userspace data plane. */
#ifndef OP_TUN_H
#define OP_TUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline bool op_host_little_endian(void)
{
	const uint16_t one = 1;
	return *(const uint8_t *)&one == 1;
}

/*
 * Creates (or attaches to) the layer-3 TUN device `name` (IFF_TUN | IFF_NO_PI), optionally inside the network
 * namespace at `netns_path` (e.g. /run/netns/x). Returns the fd (O_CLOEXEC, non-blocking when asked) and
 * writes the kernel's device name to name_out, or -errno. offload adds the little-endian virtio-net header to
 * every read and write (IFF_VNET_HDR) and asks for checksum and TCP segmentation offload (TUN_F_CSUM, TSO4, TSO6).
 */
int op_tun_open(const char *name, const char *netns_path, int nonblocking, bool offload, char *name_out, size_t name_out_len);

/* 1 when reads and writes on this TUN fd carry a virtio-net header (IFF_VNET_HDR), 0 when not, -errno. */
int op_tun_vnet_hdr(int fd);

/*
 * Sets the MTU of interface `name` (when mtu > 0) and brings it up, inside netns_path when given.
 * Returns the interface index, or -errno.
 */
int op_tun_setup(const char *name, unsigned mtu, const char *netns_path);

/*
 * Adds (add = 1) or removes a route for prefix/plen through interface ifindex in the main table, over
 * NETLINK_ROUTE (rtnetlink(7)). family is 4 or 6; host bits of prefix must be clear. Adding never replaces a
 * route someone else installed: -EEXIST. Removing a missing route is -ESRCH.
 */
int op_tun_route(int ifindex, int add, int family, const uint8_t *prefix, unsigned plen, const char *netns_path);

#endif
