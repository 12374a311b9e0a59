/*
 * NETLINK_XFRM message encoding and decoding (linux/xfrm.h, linux/netlink.h): see op_xfrm_msg.h.
 *
 * Layout: nlmsghdr | fixed struct (xfrm_usersa_info, xfrm_userpolicy_info, ...) | attributes, each one
 * nlattr + payload padded to 4 octets. Every region is zeroed before it is written, so padding and unused
 * fields are 0 and two builds of the same parameters give the same bytes (DELPOLICY must equal NEWPOLICY's
 * selector octet for octet).
 */
#include "op_xfrm_msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

struct nlb {
	uint8_t *buf;
	size_t cap, len;
	int err;
};

static void *nlb_put(struct nlb *b, size_t len)
{
	size_t n = NLMSG_ALIGN(len);
	void *p;

	if (b->err || n > b->cap - b->len) {
		b->err = -ENOSPC;
		return NULL;
	}
	p = b->buf + b->len;
	memset(p, 0, n);
	b->len += n;
	return p;
}

static struct nlmsghdr *nlb_start(struct nlb *b, uint16_t type, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *h = nlb_put(b, sizeof(*h));

	if (h) {
		h->nlmsg_type = type;
		h->nlmsg_flags = flags;
		h->nlmsg_seq = seq;
	}
	return h;
}

/* An attribute of payload_len octets; returns the zeroed payload. */
static void *nlb_attr(struct nlb *b, uint16_t type, size_t payload_len)
{
	struct nlattr *a;

	if (payload_len > UINT16_MAX - NLA_HDRLEN) {
		b->err = -EINVAL;
		return NULL;
	}
	a = nlb_put(b, NLA_HDRLEN + payload_len);
	if (!a)
		return NULL;
	a->nla_len = (uint16_t)(NLA_HDRLEN + payload_len);
	a->nla_type = type;
	return (uint8_t *)a + NLA_HDRLEN;
}

static ssize_t nlb_finish(struct nlb *b)
{
	if (b->err)
		return b->err;
	((struct nlmsghdr *)b->buf)->nlmsg_len = (uint32_t)b->len;
	return (ssize_t)b->len;
}

static void nlb_init(struct nlb *b, uint8_t *buf, size_t cap)
{
	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->err = 0;
}

int op_xfrm_parse_addr(const char *text, xfrm_address_t *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, &out->a4) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, text, &out->in6) == 1)
		return AF_INET6;
	return -EINVAL;
}

void op_xfrm_format_addr(uint16_t family, const xfrm_address_t *a, char *buf, size_t cap)
{
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, a, buf, (socklen_t)cap) && cap)
		buf[0] = '\0';
}

static bool valid_family(uint16_t f)
{
	return f == AF_INET || f == AF_INET6;
}

static bool name_ok(const char *name)
{
	return strnlen(name, OP_XFRM_ALG_NAME_MAX) < OP_XFRM_ALG_NAME_MAX;
}

static uint64_t limit_or_inf(uint64_t v)
{
	return v ? v : XFRM_INF;
}

/* Clears the bits of a beyond the first plen. */
static void mask_addr(uint16_t family, xfrm_address_t *a, uint8_t plen)
{
	uint8_t *p = (uint8_t *)a;
	size_t bytes = family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < bytes; i++) {
		size_t bit = i * 8;
		if (bit >= plen)
			p[i] = 0;
		else if (plen - bit < 8)
			p[i] &= (uint8_t)(0xff << (8 - (plen - bit)));
	}
	if (family == AF_INET)
		memset(p + 4, 0, 12);
}

int op_xfrm_selector(const struct op_xfrm_sel *in, struct xfrm_selector *out)
{
	uint8_t max = in->family == AF_INET ? 32 : 128;

	memset(out, 0, sizeof(*out));
	if (!valid_family(in->family) || in->src_plen > max || in->dst_plen > max)
		return -EINVAL;
	out->family = in->family;
	out->saddr = in->src;
	out->daddr = in->dst;
	mask_addr(in->family, &out->saddr, in->src_plen);
	mask_addr(in->family, &out->daddr, in->dst_plen);
	out->prefixlen_s = in->src_plen;
	out->prefixlen_d = in->dst_plen;
	out->proto = in->proto;
	out->sport = htons(in->sport & in->sport_mask);
	out->sport_mask = htons(in->sport_mask);
	out->dport = htons(in->dport & in->dport_mask);
	out->dport_mask = htons(in->dport_mask);
	return 0;
}

static void sel_from_kernel(const struct xfrm_selector *k, struct op_xfrm_sel *out)
{
	memset(out, 0, sizeof(*out));
	out->family = k->family;
	out->src = k->saddr;
	out->dst = k->daddr;
	out->src_plen = k->prefixlen_s;
	out->dst_plen = k->prefixlen_d;
	out->proto = k->proto;
	out->sport = ntohs(k->sport);
	out->sport_mask = ntohs(k->sport_mask);
	out->dport = ntohs(k->dport);
	out->dport_mask = ntohs(k->dport_mask);
}

ssize_t op_xfrm_build_sa(uint8_t *buf, size_t cap, uint16_t type, uint32_t seq, const struct op_xfrm_sa *sa)
{
	struct nlb b;
	struct xfrm_usersa_info *info;
	bool aead = sa->aead_name[0], crypt = sa->crypt_name[0], auth = sa->auth_name[0];
	uint32_t window = sa->replay_window;

	if (type != XFRM_MSG_NEWSA && type != XFRM_MSG_UPDSA)
		return -EINVAL;
	if (!valid_family(sa->family) || (sa->mode != XFRM_MODE_TUNNEL && sa->mode != XFRM_MODE_TRANSPORT))
		return -EINVAL;
	if (!name_ok(sa->aead_name) || !name_ok(sa->crypt_name) || !name_ok(sa->auth_name))
		return -EINVAL;
	if ((aead && (crypt || auth)) || (!aead && !crypt))
		return -EINVAL;
	if (sa->enc_key_len > OP_XFRM_KEY_MAX || sa->auth_key_len > OP_XFRM_KEY_MAX || (auth && !sa->auth_key && sa->auth_key_len))
		return -EINVAL;
	if (window > OP_XFRM_REPLAY_MAX || (!sa->encap_sport != !sa->encap_dport) || sa->offload_ifindex < 0)
		return -EINVAL;
	if (sa->offload != OP_XFRM_OFFLOAD_NONE && sa->offload != OP_XFRM_OFFLOAD_CRYPTO && sa->offload != OP_XFRM_OFFLOAD_PACKET)
		return -EINVAL;

	nlb_init(&b, buf, cap);
	nlb_start(&b, type, NLM_F_REQUEST | NLM_F_ACK, seq);
	info = nlb_put(&b, sizeof(*info));
	if (!info)
		return b.err;
	/* Tunnel mode: no selector on the SA (the policies select), and the inner family may differ from the outer. */
	info->id.daddr = sa->dst;
	info->id.spi = htonl(sa->spi);
	info->id.proto = IPPROTO_ESP;
	info->saddr = sa->src;
	info->lft.soft_byte_limit = limit_or_inf(sa->lft.soft_bytes);
	info->lft.hard_byte_limit = limit_or_inf(sa->lft.hard_bytes);
	info->lft.soft_packet_limit = limit_or_inf(sa->lft.soft_packets);
	info->lft.hard_packet_limit = limit_or_inf(sa->lft.hard_packets);
	info->lft.soft_add_expires_seconds = sa->lft.soft_add_sec;
	info->lft.hard_add_expires_seconds = sa->lft.hard_add_sec;
	info->reqid = sa->reqid;
	info->family = sa->family;
	info->mode = sa->mode;
	if (sa->mode == XFRM_MODE_TUNNEL)
		info->flags |= XFRM_STATE_AF_UNSPEC;

	/*
	 * The legacy 32-packet bitmap fits in xfrm_usersa_info; ESN or a larger window needs XFRMA_REPLAY_ESN_VAL.
	 * With ESN the kernel refuses a window of 0 even on outbound SAs, which never check it: use 32 there.
	 */
	if (sa->esn || window > 32) {
		struct xfrm_replay_state_esn *r;
		uint32_t bmp_len;

		if (sa->esn) {
			info->flags |= XFRM_STATE_ESN;
			if (window == 0)
				window = 32;
		}
		bmp_len = (window + 31) / 32;
		r = nlb_attr(&b, XFRMA_REPLAY_ESN_VAL, sizeof(*r) + bmp_len * sizeof(uint32_t));
		if (r) {
			r->bmp_len = bmp_len;
			r->replay_window = window;
		}
	} else {
		info->replay_window = (uint8_t)window;
	}

	if (aead) {
		struct xfrm_algo_aead *a = nlb_attr(&b, XFRMA_ALG_AEAD, sizeof(*a) + sa->enc_key_len);
		if (a) {
			memcpy(a->alg_name, sa->aead_name, strlen(sa->aead_name));
			a->alg_key_len = (unsigned int)(sa->enc_key_len * 8);
			a->alg_icv_len = sa->icv_bits;
			if (sa->enc_key_len)
				memcpy(a->alg_key, sa->enc_key, sa->enc_key_len);
		}
	} else {
		struct xfrm_algo *c = nlb_attr(&b, XFRMA_ALG_CRYPT, sizeof(*c) + sa->enc_key_len);
		if (c) {
			memcpy(c->alg_name, sa->crypt_name, strlen(sa->crypt_name));
			c->alg_key_len = (unsigned int)(sa->enc_key_len * 8);
			if (sa->enc_key_len)
				memcpy(c->alg_key, sa->enc_key, sa->enc_key_len);
		}
		if (auth) {
			/* AUTH_TRUNC, not AUTH: the kernel's default truncation for hmac(sha256) is 96 bits, RFC 4868 says 128. */
			struct xfrm_algo_auth *h = nlb_attr(&b, XFRMA_ALG_AUTH_TRUNC, sizeof(*h) + sa->auth_key_len);
			if (h) {
				memcpy(h->alg_name, sa->auth_name, strlen(sa->auth_name));
				h->alg_key_len = (unsigned int)(sa->auth_key_len * 8);
				h->alg_trunc_len = sa->trunc_bits;
				if (sa->auth_key_len)
					memcpy(h->alg_key, sa->auth_key, sa->auth_key_len);
			}
		}
	}

	if (sa->encap_sport) {
		struct xfrm_encap_tmpl *e = nlb_attr(&b, XFRMA_ENCAP, sizeof(*e));
		if (e) {
			e->encap_type = OP_XFRM_UDP_ENCAP_ESPINUDP;
			e->encap_sport = htons(sa->encap_sport);
			e->encap_dport = htons(sa->encap_dport);
		}
	}

	if (sa->offload != OP_XFRM_OFFLOAD_NONE) {
		struct xfrm_user_offload *o = nlb_attr(&b, XFRMA_OFFLOAD_DEV, sizeof(*o));
		if (o) {
			o->ifindex = sa->offload_ifindex;
			o->flags = (uint8_t)((sa->inbound ? XFRM_OFFLOAD_INBOUND : 0) |
					     (sa->offload == OP_XFRM_OFFLOAD_PACKET ? XFRM_OFFLOAD_PACKET : 0));
		}
	}
	return nlb_finish(&b);
}

ssize_t op_xfrm_build_said(uint8_t *buf, size_t cap, uint16_t type, uint32_t seq, const struct op_xfrm_said *id)
{
	struct nlb b;
	struct xfrm_usersa_id *u;

	if ((type != XFRM_MSG_DELSA && type != XFRM_MSG_GETSA) || !valid_family(id->family))
		return -EINVAL;
	nlb_init(&b, buf, cap);
	nlb_start(&b, type, NLM_F_REQUEST | (type == XFRM_MSG_DELSA ? NLM_F_ACK : 0), seq);
	u = nlb_put(&b, sizeof(*u));
	if (u) {
		u->daddr = id->dst;
		u->spi = htonl(id->spi);
		u->family = id->family;
		u->proto = IPPROTO_ESP;
	}
	return nlb_finish(&b);
}

ssize_t op_xfrm_build_allocspi(uint8_t *buf, size_t cap, uint32_t seq, const struct op_xfrm_alloc *a)
{
	struct nlb b;
	struct xfrm_userspi_info *u;

	if (!valid_family(a->family) || a->min > a->max)
		return -EINVAL;
	nlb_init(&b, buf, cap);
	/* No NLM_F_ACK: the answer is the larval SA (XFRM_MSG_NEWSA) or an error. */
	nlb_start(&b, XFRM_MSG_ALLOCSPI, NLM_F_REQUEST, seq);
	u = nlb_put(&b, sizeof(*u));
	if (u) {
		u->info.id.daddr = a->dst;
		u->info.id.proto = IPPROTO_ESP;
		u->info.saddr = a->src;
		u->info.family = a->family;
		u->info.reqid = a->reqid;
		u->info.mode = XFRM_MODE_TUNNEL;
		u->min = a->min;
		u->max = a->max;
	}
	return nlb_finish(&b);
}

ssize_t op_xfrm_build_policy(uint8_t *buf, size_t cap, uint16_t type, uint32_t seq, const struct op_xfrm_policy *p)
{
	struct nlb b;
	struct xfrm_selector sel;
	int rc;

	if (type != XFRM_MSG_NEWPOLICY && type != XFRM_MSG_UPDPOLICY && type != XFRM_MSG_DELPOLICY)
		return -EINVAL;
	if (p->dir > XFRM_POLICY_FWD || p->action > XFRM_POLICY_BLOCK)
		return -EINVAL;
	rc = op_xfrm_selector(&p->sel, &sel);
	if (rc)
		return rc;
	nlb_init(&b, buf, cap);
	nlb_start(&b, type, NLM_F_REQUEST | NLM_F_ACK, seq);
	if (type == XFRM_MSG_DELPOLICY) {
		struct xfrm_userpolicy_id *id = nlb_put(&b, sizeof(*id));
		if (id) {
			id->sel = sel;
			id->dir = p->dir;
		}
		return nlb_finish(&b);
	}
	if (p->has_tmpl && (!valid_family(p->tmpl_family) || p->tmpl_mode >= XFRM_MODE_MAX))
		return -EINVAL;
	if (p->offload_ifindex < 0)
		return -EINVAL;

	struct xfrm_userpolicy_info *info = nlb_put(&b, sizeof(*info));
	if (!info)
		return b.err;
	info->sel = sel;
	info->lft.soft_byte_limit = XFRM_INF;
	info->lft.hard_byte_limit = XFRM_INF;
	info->lft.soft_packet_limit = XFRM_INF;
	info->lft.hard_packet_limit = XFRM_INF;
	info->priority = p->priority;
	info->dir = p->dir;
	info->action = p->action;
	info->share = XFRM_SHARE_ANY;
	if (p->has_tmpl) {
		struct xfrm_user_tmpl *t = nlb_attr(&b, XFRMA_TMPL, sizeof(*t));
		if (t) {
			t->id.daddr = p->tmpl_dst;
			t->id.spi = htonl(p->tmpl_spi);
			t->id.proto = IPPROTO_ESP;
			t->family = p->tmpl_family;
			t->saddr = p->tmpl_src;
			t->reqid = p->reqid;
			t->mode = p->tmpl_mode;
			t->share = XFRM_SHARE_ANY;
			/* Any algorithm: the SA found by reqid was negotiated by IKE, the policy does not restrict it. */
			t->aalgos = t->ealgos = t->calgos = ~(uint32_t)0;
		}
	}
	if (p->offload_packet) {
		struct xfrm_user_offload *o = nlb_attr(&b, XFRMA_OFFLOAD_DEV, sizeof(*o));
		if (o) {
			o->ifindex = p->offload_ifindex;
			o->flags = XFRM_OFFLOAD_PACKET;
		}
	}
	return nlb_finish(&b);
}

/* Checked walk over the attributes in [p, end): returns the next one or NULL; *bad set on a broken length. */
static const struct nlattr *attr_next(const uint8_t **p, const uint8_t *end, bool *bad)
{
	const struct nlattr *a;

	if ((size_t)(end - *p) < NLA_HDRLEN)
		return NULL;
	a = (const struct nlattr *)*p;
	if (a->nla_len < NLA_HDRLEN || a->nla_len > (size_t)(end - *p)) {
		*bad = true;
		return NULL;
	}
	size_t step = NLA_ALIGN((size_t)a->nla_len), left = (size_t)(end - *p);
	*p += step < left ? step : left;
	return a;
}

static size_t attr_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

static const void *attr_data(const struct nlattr *a)
{
	return (const uint8_t *)a + NLA_HDRLEN;
}

/* The message at buf if its header is sane; its total length in *msg_len. */
static const struct nlmsghdr *msg_check(const uint8_t *buf, size_t len, size_t *msg_len)
{
	const struct nlmsghdr *h = (const struct nlmsghdr *)buf;

	if (len < NLMSG_HDRLEN || h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > len)
		return NULL;
	*msg_len = h->nlmsg_len;
	return h;
}

ssize_t op_xfrm_build_sa_moved(uint8_t *buf, size_t cap, uint16_t type, uint32_t seq, const uint8_t *dump, size_t dump_len,
			       const struct op_xfrm_move *mv)
{
	const struct nlmsghdr *h;
	const struct xfrm_usersa_info *old;
	const uint8_t *p, *end;
	const struct nlattr *a;
	struct xfrm_usersa_info *info;
	struct nlb b;
	size_t len;
	bool bad = false, has_trunc = false;

	if ((type != XFRM_MSG_NEWSA && type != XFRM_MSG_UPDSA) || !valid_family(mv->family) || (!mv->encap_sport != !mv->encap_dport))
		return -EINVAL;
	h = msg_check(dump, dump_len, &len);
	if (!h || h->nlmsg_type != XFRM_MSG_NEWSA || len < NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*old)))
		return -EBADMSG;
	old = (const struct xfrm_usersa_info *)(dump + NLMSG_HDRLEN);
	end = dump + len;
	for (p = dump + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*old)); (a = attr_next(&p, end, &bad));)
		if ((a->nla_type & NLA_TYPE_MASK) == XFRMA_ALG_AUTH_TRUNC)
			has_trunc = true;
	if (bad)
		return -EBADMSG;

	nlb_init(&b, buf, cap);
	nlb_start(&b, type, NLM_F_REQUEST | NLM_F_ACK, seq);
	info = nlb_put(&b, sizeof(*info));
	if (!info)
		return b.err;
	info->sel = old->sel;
	info->id = old->id;
	info->id.daddr = mv->dst;
	info->saddr = mv->src;
	info->lft = old->lft;
	info->reqid = old->reqid;
	info->family = mv->family;
	info->mode = old->mode;
	info->replay_window = old->replay_window;
	info->flags = old->flags;

	/* Keys, replay state (so sequence numbers continue), offload, marks: copied as the kernel reported them. */
	for (p = dump + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*old)); (a = attr_next(&p, end, &bad));) {
		uint16_t t = a->nla_type & NLA_TYPE_MASK;
		void *dst;

		switch (t) {
		case XFRMA_ALG_AUTH:
			if (has_trunc)
				continue; /* the kernel reports both; AUTH would lose the truncation length */
			/* fall through */
		case XFRMA_ALG_AEAD:
		case XFRMA_ALG_CRYPT:
		case XFRMA_ALG_AUTH_TRUNC:
		case XFRMA_REPLAY_ESN_VAL:
		case XFRMA_REPLAY_VAL:
		case XFRMA_OFFLOAD_DEV:
		case XFRMA_MARK:
		case XFRMA_IF_ID:
		case XFRMA_SA_EXTRA_FLAGS:
		case XFRMA_TFCPAD:
		case XFRMA_SET_MARK:
		case XFRMA_SET_MARK_MASK:
			dst = nlb_attr(&b, t, attr_len(a));
			if (dst && attr_len(a))
				memcpy(dst, attr_data(a), attr_len(a));
			break;
		default:
			break; /* ENCAP is replaced below; counters, timestamps and the rest are the kernel's own */
		}
	}
	if (bad)
		return -EBADMSG;
	if (mv->encap_sport) {
		struct xfrm_encap_tmpl *e = nlb_attr(&b, XFRMA_ENCAP, sizeof(*e));
		if (e) {
			e->encap_type = OP_XFRM_UDP_ENCAP_ESPINUDP;
			e->encap_sport = htons(mv->encap_sport);
			e->encap_dport = htons(mv->encap_dport);
		}
	}
	return nlb_finish(&b);
}

int op_xfrm_parse_ack(const uint8_t *buf, size_t len, uint32_t seq, int *err, char *msg, size_t msg_cap)
{
	const struct nlmsghdr *h;
	const struct nlmsgerr *e;
	const uint8_t *p, *end;
	const struct nlattr *a;
	size_t mlen, payload, off;
	bool bad = false;

	if (msg_cap)
		msg[0] = '\0';
	h = msg_check(buf, len, &mlen);
	if (!h)
		return -EBADMSG;
	if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_seq != seq)
		return 0;
	if (mlen < NLMSG_HDRLEN + sizeof(*e))
		return -EBADMSG;
	e = (const struct nlmsgerr *)(buf + NLMSG_HDRLEN);
	*err = e->error > 0 ? -e->error : e->error;
	if (!(h->nlmsg_flags & NLM_F_ACK_TLVS))
		return 1;
	/* Extended-ack TLVs follow the echoed request: just its header when capped, else the whole request. */
	payload = sizeof(int) + ((h->nlmsg_flags & NLM_F_CAPPED) ? NLMSG_HDRLEN : e->msg.nlmsg_len);
	off = NLMSG_HDRLEN + NLMSG_ALIGN(payload);
	if (payload < sizeof(*e) || off > mlen)
		return 1;
	end = buf + mlen;
	for (p = buf + off; (a = attr_next(&p, end, &bad));) {
		if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG && msg_cap) {
			size_t n = strnlen(attr_data(a), attr_len(a));
			if (n >= msg_cap)
				n = msg_cap - 1;
			memcpy(msg, attr_data(a), n);
			msg[n] = '\0';
		}
	}
	return 1;
}

static void copy_name(char *dst, const struct nlattr *a)
{
	size_t n;

	if (attr_len(a) < OP_XFRM_ALG_NAME_MAX)
		return;
	n = strnlen(attr_data(a), OP_XFRM_ALG_NAME_MAX - 1);
	memcpy(dst, attr_data(a), n);
	dst[n] = '\0';
}

int op_xfrm_parse_sa(const uint8_t *buf, size_t len, struct op_xfrm_sa_state *out)
{
	const struct nlmsghdr *h;
	const struct xfrm_usersa_info *info;
	const uint8_t *p, *end;
	const struct nlattr *a;
	size_t mlen;
	bool bad = false;

	memset(out, 0, sizeof(*out));
	h = msg_check(buf, len, &mlen);
	if (!h || (h->nlmsg_type != XFRM_MSG_NEWSA && h->nlmsg_type != XFRM_MSG_UPDSA) ||
	    mlen < NLMSG_HDRLEN + sizeof(*info))
		return -EBADMSG;
	info = (const struct xfrm_usersa_info *)(buf + NLMSG_HDRLEN);
	out->family = info->family;
	out->src = info->saddr;
	out->dst = info->id.daddr;
	out->spi = ntohl(info->id.spi);
	out->reqid = info->reqid;
	out->mode = info->mode;
	out->flags = info->flags;
	out->replay_window_legacy = info->replay_window;
	out->replay_window = info->replay_window;
	out->lft = info->lft;
	out->curlft = info->curlft;
	out->stats = info->stats;
	end = buf + mlen;
	for (p = buf + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*info)); p < end && (a = attr_next(&p, end, &bad));) {
		switch (a->nla_type & NLA_TYPE_MASK) {
		case XFRMA_ENCAP:
			if (attr_len(a) >= sizeof(struct xfrm_encap_tmpl)) {
				const struct xfrm_encap_tmpl *e = attr_data(a);
				out->has_encap = true;
				out->encap_type = e->encap_type;
				out->encap_sport = ntohs(e->encap_sport);
				out->encap_dport = ntohs(e->encap_dport);
			}
			break;
		case XFRMA_OFFLOAD_DEV:
			if (attr_len(a) >= sizeof(struct xfrm_user_offload)) {
				const struct xfrm_user_offload *o = attr_data(a);
				out->has_offload = true;
				out->offload_ifindex = o->ifindex;
				out->offload_flags = o->flags;
			}
			break;
		case XFRMA_REPLAY_ESN_VAL:
			if (attr_len(a) >= sizeof(struct xfrm_replay_state_esn)) {
				const struct xfrm_replay_state_esn *r = attr_data(a);
				out->has_esn = true;
				out->replay_window = r->replay_window;
				out->oseq = r->oseq;
				out->seq = r->seq;
				out->oseq_hi = r->oseq_hi;
				out->seq_hi = r->seq_hi;
			}
			break;
		case XFRMA_REPLAY_VAL:
			if (attr_len(a) >= sizeof(struct xfrm_replay_state) && !out->has_esn) {
				const struct xfrm_replay_state *r = attr_data(a);
				out->oseq = r->oseq;
				out->seq = r->seq;
			}
			break;
		case XFRMA_LASTUSED:
			if (attr_len(a) >= sizeof(uint64_t))
				memcpy(&out->lastused, attr_data(a), sizeof(uint64_t));
			break;
		case XFRMA_ALG_AEAD:
			copy_name(out->aead_name, a);
			break;
		case XFRMA_ALG_CRYPT:
			copy_name(out->crypt_name, a);
			break;
		case XFRMA_ALG_AUTH_TRUNC:
		case XFRMA_ALG_AUTH:
			copy_name(out->auth_name, a);
			break;
		default:
			break;
		}
	}
	return bad ? -EBADMSG : 0;
}

int op_xfrm_parse_event(const uint8_t *buf, size_t len, struct op_xfrm_event *ev)
{
	const struct nlmsghdr *h;
	size_t mlen;

	memset(ev, 0, sizeof(*ev));
	h = msg_check(buf, len, &mlen);
	if (!h)
		return -EBADMSG;
	switch (h->nlmsg_type) {
	case XFRM_MSG_EXPIRE: {
		const struct xfrm_user_expire *x = (const void *)(buf + NLMSG_HDRLEN);
		if (mlen < NLMSG_HDRLEN + sizeof(*x))
			return -EBADMSG;
		ev->type = OP_XFRM_EV_EXPIRE;
		ev->family = ev->outer_family = x->state.family;
		ev->spi = ntohl(x->state.id.spi);
		ev->proto = x->state.id.proto;
		ev->hard = x->hard != 0;
		ev->reqid = x->state.reqid;
		ev->src = x->state.saddr;
		ev->dst = x->state.id.daddr;
		return 0;
	}
	case XFRM_MSG_ACQUIRE: {
		const struct xfrm_user_acquire *q = (const void *)(buf + NLMSG_HDRLEN);
		const uint8_t *p, *end = buf + mlen;
		const struct nlattr *a;
		bool bad = false;

		if (mlen < NLMSG_HDRLEN + sizeof(*q))
			return -EBADMSG;
		ev->type = OP_XFRM_EV_ACQUIRE;
		ev->family = q->policy.sel.family;
		ev->proto = q->id.proto;
		ev->src = q->saddr;
		ev->dst = q->id.daddr;
		sel_from_kernel(&q->sel, &ev->sel);
		ev->dir = q->policy.dir;
		ev->policy_index = q->policy.index;
		ev->outer_family = ev->family;
		for (p = buf + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*q)); p < end && (a = attr_next(&p, end, &bad));) {
			if ((a->nla_type & NLA_TYPE_MASK) == XFRMA_TMPL && attr_len(a) >= sizeof(struct xfrm_user_tmpl)) {
				const struct xfrm_user_tmpl *t = attr_data(a);
				ev->reqid = t->reqid;
				if (valid_family(t->family))
					ev->outer_family = t->family;
				break;
			}
		}
		return bad ? -EBADMSG : 0;
	}
	case XFRM_MSG_MAPPING: {
		const struct xfrm_user_mapping *m = (const void *)(buf + NLMSG_HDRLEN);
		if (mlen < NLMSG_HDRLEN + sizeof(*m))
			return -EBADMSG;
		ev->type = OP_XFRM_EV_MAPPING;
		ev->family = ev->outer_family = m->id.family;
		ev->spi = ntohl(m->id.spi);
		ev->proto = m->id.proto;
		ev->dst = m->id.daddr;
		ev->reqid = m->reqid;
		ev->old_src = m->old_saddr;
		ev->new_src = m->new_saddr;
		ev->old_sport = ntohs(m->old_sport);
		ev->new_sport = ntohs(m->new_sport);
		return 0;
	}
	default:
		return -ENOMSG;
	}
}
