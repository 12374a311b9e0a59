/*
 * NETLINK_XFRM messages (linux/xfrm.h, RFC 4301 SAD/SPD): pure builders and parsers over caller buffers.
 *
 * Nothing here touches a socket, so every byte the XFRM backend sends can be checked without a kernel
 * (op_xfrm_nl.c does the I/O). Builders return the message length or -errno (-ENOSPC: buffer too small,
 * -EINVAL: parameters the kernel would refuse anyway); parsers never trust a length field they did not check.
 */
#ifndef OP_XFRM_MSG_H
#define OP_XFRM_MSG_H

#include <linux/netlink.h>
#include <linux/xfrm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Room for the largest request (NEWSA with AEAD/CBC+HMAC-512 keys, ESN bitmap of 4096 packets, encap, offload). */
#define OP_XFRM_MSG_MAX 4096
#define OP_XFRM_ALG_NAME_MAX 64 /* sizeof(xfrm_algo.alg_name) */
#define OP_XFRM_KEY_MAX 128 /* octets */
#define OP_XFRM_REPLAY_MAX 4096 /* XFRMA_REPLAY_ESN_MAX bits: the kernel's largest bitmap */
#define OP_XFRM_UDP_ENCAP_ESPINUDP 2 /* linux/udp.h UDP_ENCAP_ESPINUDP (RFC 3948) */

enum op_xfrm_offload { OP_XFRM_OFFLOAD_NONE = 0, OP_XFRM_OFFLOAD_CRYPTO = 1, OP_XFRM_OFFLOAD_PACKET = 2 };

/* Byte and packet limits of 0 mean "none" (sent as XFRM_INF); seconds of 0 mean "none" (the kernel's own rule). */
struct op_xfrm_lifetime {
	uint64_t soft_bytes, hard_bytes;
	uint64_t soft_packets, hard_packets;
	uint64_t soft_add_sec, hard_add_sec;
};

/* One ESP SA (one direction). Either aead_name, or crypt_name (+ auth_name unless the cipher is an AEAD). */
struct op_xfrm_sa {
	uint16_t family; /* AF_INET or AF_INET6, of the outer addresses */
	xfrm_address_t src, dst;
	uint32_t spi; /* host order */
	uint32_t reqid; /* ties the SA to its policies' templates */
	uint8_t mode; /* XFRM_MODE_TUNNEL or XFRM_MODE_TRANSPORT */
	char aead_name[OP_XFRM_ALG_NAME_MAX];
	uint32_t icv_bits;
	char crypt_name[OP_XFRM_ALG_NAME_MAX];
	char auth_name[OP_XFRM_ALG_NAME_MAX];
	uint32_t trunc_bits;
	const uint8_t *enc_key; /* AEAD: key || salt */
	size_t enc_key_len;
	const uint8_t *auth_key;
	size_t auth_key_len;
	bool esn;
	uint32_t replay_window; /* packets */
	uint16_t encap_sport, encap_dport; /* host order; both 0 = no UDP encapsulation */
	struct op_xfrm_lifetime lft;
	enum op_xfrm_offload offload;
	int offload_ifindex; /* 0: the kernel picks the device the route uses */
	bool inbound; /* XFRM_OFFLOAD_INBOUND for offloaded inbound SAs */
};

/* (daddr, spi, proto) identifies an SA in the kernel. */
struct op_xfrm_said {
	uint16_t family;
	xfrm_address_t dst;
	uint32_t spi; /* host order */
};

/* Where an SA moves to (MOBIKE / NAT mapping change): new outer addresses and encapsulation. */
struct op_xfrm_move {
	uint16_t family;
	xfrm_address_t src, dst;
	uint16_t encap_sport, encap_dport; /* both 0 = no UDP encapsulation */
};

struct op_xfrm_sel {
	uint16_t family;
	xfrm_address_t src, dst;
	uint8_t src_plen, dst_plen;
	uint8_t proto; /* 0 = any */
	uint16_t sport, sport_mask, dport, dport_mask; /* host order; ICMP: type in sport, code in dport */
};

struct op_xfrm_policy {
	struct op_xfrm_sel sel;
	uint8_t dir; /* XFRM_POLICY_IN / OUT / FWD */
	uint32_t priority; /* lower wins */
	uint8_t action; /* XFRM_POLICY_ALLOW / BLOCK */
	bool has_tmpl;
	uint16_t tmpl_family;
	xfrm_address_t tmpl_src, tmpl_dst; /* outer (tunnel) addresses */
	uint32_t tmpl_spi; /* host order; 0 = any SA with the reqid */
	uint32_t reqid;
	uint8_t tmpl_mode;
	bool offload_packet; /* XFRMA_OFFLOAD_DEV with XFRM_OFFLOAD_PACKET */
	int offload_ifindex;
};

struct op_xfrm_alloc {
	uint16_t family;
	xfrm_address_t src, dst;
	uint32_t reqid;
	uint32_t min, max;
};

/* What GETSA / ALLOCSPI return (never keys). */
struct op_xfrm_sa_state {
	uint16_t family;
	xfrm_address_t src, dst;
	uint32_t spi;
	uint32_t reqid;
	uint8_t mode, flags, replay_window_legacy;
	struct xfrm_lifetime_cfg lft;
	struct xfrm_lifetime_cur curlft;
	struct xfrm_stats stats;
	bool has_encap;
	uint16_t encap_type, encap_sport, encap_dport;
	bool has_offload;
	int offload_ifindex;
	uint8_t offload_flags;
	bool has_esn;
	uint32_t replay_window, oseq, seq, oseq_hi, seq_hi;
	uint64_t lastused; /* seconds (wall clock), 0 = never */
	char aead_name[OP_XFRM_ALG_NAME_MAX], crypt_name[OP_XFRM_ALG_NAME_MAX], auth_name[OP_XFRM_ALG_NAME_MAX];
};

enum op_xfrm_event_type { OP_XFRM_EV_EXPIRE = 1, OP_XFRM_EV_ACQUIRE = 2, OP_XFRM_EV_MAPPING = 3 };

struct op_xfrm_event {
	enum op_xfrm_event_type type;
	uint16_t family;
	uint16_t outer_family; /* acquire: of the template (tunnel endpoints); else = family */
	uint32_t spi; /* expire, mapping */
	uint8_t proto;
	bool hard; /* expire */
	uint32_t reqid; /* expire, mapping; acquire: of the first template (0 if none) */
	xfrm_address_t src, dst; /* expire: the SA's; acquire: outer addresses asked for; mapping: SA destination */
	struct op_xfrm_sel sel; /* acquire: the packet's selector */
	uint8_t dir; /* acquire: policy direction */
	uint32_t policy_index; /* acquire */
	xfrm_address_t old_src, new_src; /* mapping */
	uint16_t old_sport, new_sport; /* mapping, host order */
};

/* Text address -> xfrm_address_t; returns AF_INET / AF_INET6, or -EINVAL. */
int op_xfrm_parse_addr(const char *text, xfrm_address_t *out);
/* xfrm_address_t -> text (buf of INET6_ADDRSTRLEN). */
void op_xfrm_format_addr(uint16_t family, const xfrm_address_t *a, char *buf, size_t cap);

/* NEWSA or UPDSA (type) for sa; flags NLM_F_REQUEST | NLM_F_ACK. */
ssize_t op_xfrm_build_sa(uint8_t *buf, size_t cap, uint16_t type, uint32_t seq, const struct op_xfrm_sa *sa);
/* DELSA (NLM_F_ACK) or GETSA (type) for id. */
ssize_t op_xfrm_build_said(uint8_t *buf, size_t cap, uint16_t type, uint32_t seq, const struct op_xfrm_said *id);
ssize_t op_xfrm_build_allocspi(uint8_t *buf, size_t cap, uint32_t seq, const struct op_xfrm_alloc *a);
/* NEWPOLICY, UPDPOLICY or DELPOLICY (type). Host bits beyond the prefixes are cleared: delete must match add. */
ssize_t op_xfrm_build_policy(uint8_t *buf, size_t cap, uint16_t type, uint32_t seq, const struct op_xfrm_policy *p);
/*
 * A NEWSA/UPDSA (type) re-creating the SA in `dump` (a GETSA reply, keys included) at the addresses and
 * encapsulation of mv, so keys never leave the kernel and this process's C side.
 */
ssize_t op_xfrm_build_sa_moved(uint8_t *buf, size_t cap, uint16_t type, uint32_t seq, const uint8_t *dump, size_t dump_len,
			       const struct op_xfrm_move *mv);

/* The selector as the kernel stores it (prefix host bits cleared, ports in network order). -EINVAL when invalid. */
int op_xfrm_selector(const struct op_xfrm_sel *in, struct xfrm_selector *out);

/*
 * Looks at one netlink message. Returns 1 for the NLMSG_ERROR answering seq (*err = 0 or -errno, msg = the
 * kernel's extended-ack text or ""), 0 for any other well-formed message, -EBADMSG when malformed.
 */
int op_xfrm_parse_ack(const uint8_t *buf, size_t len, uint32_t seq, int *err, char *msg, size_t msg_cap);
/* A NEWSA/UPDSA message (GETSA and ALLOCSPI replies, SA dumps) -> state. */
int op_xfrm_parse_sa(const uint8_t *buf, size_t len, struct op_xfrm_sa_state *out);
/* EXPIRE / ACQUIRE / MAPPING -> ev; -ENOMSG for other message types, -EBADMSG when malformed. */
int op_xfrm_parse_event(const uint8_t *buf, size_t len, struct op_xfrm_event *ev);

#endif
