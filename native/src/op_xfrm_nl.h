/*
 * NETLINK_XFRM socket I/O and the ethtool feature query (SIOCETHTOOL) for the XFRM data-plane backend.
 *
 * A netlink socket belongs to the network namespace it was created in, for its whole life; to talk to another
 * namespace's XFRM tables a short-lived helper thread enters it, creates the sockets and exits (like op_tun.c).
 * Requests are synchronous and answered within the sendmsg call by the kernel, so callers block microseconds.
 */
#ifndef OP_XFRM_NL_H
#define OP_XFRM_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "op_xfrm_msg.h"

#define OP_XFRM_ERRMSG_MAX 256

struct op_xfrm_nl {
	int fd; /* NETLINK_XFRM, requests */
	int ioctl_fd; /* AF_INET datagram socket of the same namespace, for SIOCETHTOOL / SIOCGIFINDEX */
	uint32_t seq;
	char last_error[OP_XFRM_ERRMSG_MAX]; /* the kernel's extended-ack text of the last failure, or "" */
};

/* Opens both sockets in the namespace at netns_path ("" or NULL: the caller's). 0 or -errno. */
int op_xfrm_nl_open(struct op_xfrm_nl *nl, const char *netns_path);
void op_xfrm_nl_close(struct op_xfrm_nl *nl);

/*
 * Sends msg (its nlmsg_seq is assigned here) and waits for the answer: 0 on an ACK, 0 with the data message
 * copied to reply when one answers (GETSA, ALLOCSPI), or -errno with last_error set. reply may be NULL.
 */
int op_xfrm_nl_request(struct op_xfrm_nl *nl, uint8_t *msg, size_t len, uint8_t *reply, size_t reply_cap, size_t *reply_len);

/* A NETLINK_XFRM socket in the namespace at netns_path subscribed to the groups (XFRMNLGRP_*), non-blocking. */
int op_xfrm_nl_open_events(const char *netns_path, const unsigned *groups, size_t n_groups);

/* Runs fn(arg) on a thread inside the namespace at netns_path, or inside a fresh private one when NULL. */
int op_xfrm_nl_in_netns(const char *netns_path, int (*fn)(void *), void *arg);

struct op_xfrm_probe_step {
	const char *what; /* algorithm set, e.g. "cbc(aes)+hmac(sha256)" */
	int rc; /* 0 = the kernel accepted a test SA (deleted again), else -errno */
	char message[OP_XFRM_ERRMSG_MAX];
};

#define OP_XFRM_PROBE_STEPS 3

struct op_xfrm_probe {
	int open_rc; /* creating the namespace / socket; the steps are meaningless unless 0 */
	char open_what[32]; /* "unshare", "setns", "socket" when open_rc != 0 */
	struct op_xfrm_probe_step steps[OP_XFRM_PROBE_STEPS];
};

/*
 * Tries to install (and at once deletes) one ESP SA per algorithm set: CBC+HMAC first (ESP itself), then the
 * AEADs. netns_path NULL: in a fresh namespace of a helper thread, gone when it exits; "": in the caller's
 * namespace with reserved SPIs 1-3 (RFC 4303 §2.1) between loopback addresses, which no peer can negotiate.
 */
void op_xfrm_probe_kernel(const char *netns_path, struct op_xfrm_probe *out);

struct op_ethtool_feature {
	bool present; /* the kernel knows the feature name */
	bool available; /* changeable with ethtool -K */
	bool requested, active, never_changed;
};

struct op_ethtool_esp {
	int ifindex;
	struct op_ethtool_feature hw_offload; /* "esp-hw-offload" (NETIF_F_HW_ESP) */
	struct op_ethtool_feature tx_csum; /* "esp-tx-csum-hw-offload" (NETIF_F_HW_ESP_TX_CSUM) */
};

/* ETH_SS_FEATURES string lookup + ETHTOOL_GFEATURES for ifname. 0 or -errno (-ENODEV: no such device). */
int op_ethtool_esp_features(int ioctl_fd, const char *ifname, struct op_ethtool_esp *out);
/* SIOCGIFINDEX on the namespace's socket. ifindex or -errno. */
int op_xfrm_ifindex(int ioctl_fd, const char *ifname);

#endif
