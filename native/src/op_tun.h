/* TUN devices (Linux Documentation/networking/tuntap.rst) for the userspace data plane. */
#ifndef OP_TUN_H
#define OP_TUN_H

#include <stddef.h>

/*
 * Creates (or attaches to) the layer-3 TUN device `name` (IFF_TUN | IFF_NO_PI), optionally inside the network
 * namespace at `netns_path` (e.g. /run/netns/x). Returns the fd (O_CLOEXEC, non-blocking when asked) and
 * writes the kernel's device name to name_out, or -errno.
 */
int op_tun_open(const char *name, const char *netns_path, int nonblocking, char *name_out, size_t name_out_len);

#endif
