/*
 * N-API surface of the XFRM backend (see XfrmNative in firmware/src/dataplane/xfrm-native.ts): a handle owning
 * a NETLINK_XFRM request socket (+ optional notification thread) in one network namespace, SA/policy calls,
 * the ethtool ESP feature query, the kernel probe, and test exports of the pure encoders (xfrmBuild,
 * xfrmParse, xfrmLayout) so the bytes can be checked against the kernel headers without a kernel.
 *
 * Convention as in op_addon.c: failures are negative errno numbers, the kernel's extended-ack text is kept for
 * xfrmLastError(handle); only misuse (wrong argument types) throws. Message buffers holding keys are wiped.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "op_xfrm_events.h"
#include "op_napi.h"
#include "op_xfrm_napi.h"
#include "op_xfrm_nl.h"

struct js_xfrm {
	struct op_xfrm_nl nl;
	struct op_xfrm_events *ev;
	napi_threadsafe_function tsfn; /* NULL without onEvent */
	atomic_uint_fast64_t queue_drops;
	bool closed;
};

/* ---- small value helpers ---- */

static napi_value num(napi_env env, double v)
{
	napi_value out;
	napi_create_double(env, v, &out);
	return out;
}

static napi_value big(napi_env env, uint64_t v)
{
	napi_value out;
	napi_create_bigint_uint64(env, v, &out);
	return out;
}

static napi_value boolean(napi_env env, bool v)
{
	napi_value out;
	napi_get_boolean(env, v, &out);
	return out;
}

static napi_value str(napi_env env, const char *s)
{
	napi_value out;
	napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &out);
	return out;
}

static napi_value null_value(napi_env env)
{
	napi_value out;
	napi_get_null(env, &out);
	return out;
}

static void set(napi_env env, napi_value obj, const char *key, napi_value v)
{
	napi_set_named_property(env, obj, key, v);
}

static napi_value addr_value(napi_env env, uint16_t family, const xfrm_address_t *a)
{
	char buf[INET6_ADDRSTRLEN];

	op_xfrm_format_addr(family, a, buf, sizeof(buf));
	return str(env, buf);
}

/* Present and not undefined/null. */
static bool has_value(napi_env env, napi_value obj, const char *key, napi_value *v)
{
	napi_valuetype t;
	bool has = false;

	if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has)
		return false;
	if (napi_get_named_property(env, obj, key, v) != napi_ok || napi_typeof(env, *v, &t) != napi_ok)
		return false;
	return t != napi_undefined && t != napi_null;
}

/* Number or bigint property as uint64 within [0, max]; absent gives def. -1 on a wrong type or range. */
static int get_u64(napi_env env, napi_value obj, const char *key, uint64_t def, uint64_t max, uint64_t *out)
{
	napi_value v;
	napi_valuetype t;

	*out = def;
	if (!has_value(env, obj, key, &v))
		return 0;
	if (napi_typeof(env, v, &t) != napi_ok)
		return -1;
	if (t == napi_bigint) {
		bool lossless;
		if (napi_get_value_bigint_uint64(env, v, out, &lossless) != napi_ok || !lossless)
			return -1;
	} else if (t == napi_number) {
		double d;
		if (napi_get_value_double(env, v, &d) != napi_ok || d < 0 || d > 9007199254740991.0 || d != (double)(uint64_t)d)
			return -1;
		*out = (uint64_t)d;
	} else {
		return -1;
	}
	return *out <= max ? 0 : -1;
}

static int get_u32(napi_env env, napi_value obj, const char *key, uint32_t def, uint32_t max, uint32_t *out)
{
	uint64_t v;
	int rc = get_u64(env, obj, key, def, max, &v);

	*out = (uint32_t)v;
	return rc;
}

static int get_bool(napi_env env, napi_value obj, const char *key, bool *out)
{
	napi_value v;

	*out = false;
	if (!has_value(env, obj, key, &v))
		return 0;
	return napi_get_value_bool(env, v, out) == napi_ok ? 0 : -1;
}

/* String property into buf; absent gives "". -1 on a wrong type or when too long. */
static int get_str(napi_env env, napi_value obj, const char *key, char *buf, size_t cap)
{
	napi_value v;
	size_t n;

	buf[0] = '\0';
	if (!has_value(env, obj, key, &v))
		return 0;
	if (napi_get_value_string_utf8(env, v, buf, cap, &n) != napi_ok)
		return -1;
	return n < cap - 1 ? 0 : -1;
}

static int get_bytes(napi_env env, napi_value v, const uint8_t **data, size_t *len)
{
	napi_typedarray_type type;
	napi_value ab;
	size_t offset;
	void *p;
	bool is_ta = false;

	if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta)
		return -1;
	if (napi_get_typedarray_info(env, v, &type, len, &p, &ab, &offset) != napi_ok || type != napi_uint8_array)
		return -1;
	*data = p ? p : (const uint8_t *)"";
	return 0;
}

static int get_bytes_prop(napi_env env, napi_value obj, const char *key, const uint8_t **data, size_t *len)
{
	napi_value v;

	*data = NULL;
	*len = 0;
	if (!has_value(env, obj, key, &v))
		return 0;
	return get_bytes(env, v, data, len);
}

/* Required address property: family (AF_INET/AF_INET6), 0 when absent, -1 on a wrong type / bad text. */
static int get_addr(napi_env env, napi_value obj, const char *key, xfrm_address_t *out)
{
	char buf[64];
	int f;

	memset(out, 0, sizeof(*out));
	if (get_str(env, obj, key, buf, sizeof(buf)))
		return -1;
	if (!buf[0])
		return 0;
	f = op_xfrm_parse_addr(buf, out);
	return f < 0 ? -1 : f;
}

static int xfrm_dir(const char *s)
{
	if (strcmp(s, "in") == 0)
		return XFRM_POLICY_IN;
	if (strcmp(s, "out") == 0)
		return XFRM_POLICY_OUT;
	if (strcmp(s, "fwd") == 0)
		return XFRM_POLICY_FWD;
	return -1;
}

static const char *dir_name(uint8_t d)
{
	return d == XFRM_POLICY_IN ? "in" : d == XFRM_POLICY_OUT ? "out" : d == XFRM_POLICY_FWD ? "fwd" : "?";
}

static int family_num(uint16_t f)
{
	return f == AF_INET ? 4 : f == AF_INET6 ? 6 : 0;
}

/* ---- JS objects -> C structs. 0 ok, -1 type error (throws), -EINVAL bad value (returned) ---- */

static int parse_sa(napi_env env, napi_value o, struct op_xfrm_sa *sa)
{
	char mode[16], offload[16];
	uint64_t spi;
	uint32_t reqid, icv, trunc, window, sport, dport, ifindex;
	int fs, fd;

	memset(sa, 0, sizeof(*sa));
	fs = get_addr(env, o, "src", &sa->src);
	fd = get_addr(env, o, "dst", &sa->dst);
	if (fs < 0 || fd < 0 || get_u64(env, o, "spi", 0, UINT32_MAX, &spi) || get_u32(env, o, "reqid", 0, UINT32_MAX, &reqid) ||
	    get_str(env, o, "mode", mode, sizeof(mode)) || get_str(env, o, "aead", sa->aead_name, sizeof(sa->aead_name)) ||
	    get_str(env, o, "crypt", sa->crypt_name, sizeof(sa->crypt_name)) || get_str(env, o, "auth", sa->auth_name, sizeof(sa->auth_name)) ||
	    get_u32(env, o, "icvBits", 0, 1024, &icv) || get_u32(env, o, "truncBits", 0, 1024, &trunc) ||
	    get_bytes_prop(env, o, "encKey", &sa->enc_key, &sa->enc_key_len) ||
	    get_bytes_prop(env, o, "authKey", &sa->auth_key, &sa->auth_key_len) || get_bool(env, o, "esn", &sa->esn) ||
	    get_u32(env, o, "replayWindow", 0, UINT32_MAX, &window) || get_u32(env, o, "encapSport", 0, 65535, &sport) ||
	    get_u32(env, o, "encapDport", 0, 65535, &dport) || get_u64(env, o, "softBytes", 0, UINT64_MAX, &sa->lft.soft_bytes) ||
	    get_u64(env, o, "hardBytes", 0, UINT64_MAX, &sa->lft.hard_bytes) ||
	    get_u64(env, o, "softPackets", 0, UINT64_MAX, &sa->lft.soft_packets) ||
	    get_u64(env, o, "hardPackets", 0, UINT64_MAX, &sa->lft.hard_packets) ||
	    get_u64(env, o, "softAddSec", 0, UINT64_MAX, &sa->lft.soft_add_sec) ||
	    get_u64(env, o, "hardAddSec", 0, UINT64_MAX, &sa->lft.hard_add_sec) ||
	    get_str(env, o, "offload", offload, sizeof(offload)) || get_u32(env, o, "offloadIfindex", 0, INT32_MAX, &ifindex) ||
	    get_bool(env, o, "inbound", &sa->inbound))
		return -1;
	if (fs == 0 || fs != fd)
		return -EINVAL;
	sa->family = (uint16_t)fs;
	sa->spi = (uint32_t)spi;
	sa->reqid = reqid;
	if (!mode[0] || strcmp(mode, "tunnel") == 0)
		sa->mode = XFRM_MODE_TUNNEL;
	else if (strcmp(mode, "transport") == 0)
		sa->mode = XFRM_MODE_TRANSPORT;
	else
		return -EINVAL;
	sa->icv_bits = icv;
	sa->trunc_bits = trunc;
	sa->replay_window = window;
	sa->encap_sport = (uint16_t)sport;
	sa->encap_dport = (uint16_t)dport;
	if (!offload[0] || strcmp(offload, "none") == 0)
		sa->offload = OP_XFRM_OFFLOAD_NONE;
	else if (strcmp(offload, "crypto") == 0)
		sa->offload = OP_XFRM_OFFLOAD_CRYPTO;
	else if (strcmp(offload, "packet") == 0)
		sa->offload = OP_XFRM_OFFLOAD_PACKET;
	else
		return -EINVAL;
	sa->offload_ifindex = (int)ifindex;
	return 0;
}

static int parse_said(napi_env env, napi_value o, struct op_xfrm_said *id)
{
	uint64_t spi;
	int f;

	memset(id, 0, sizeof(*id));
	f = get_addr(env, o, "dst", &id->dst);
	if (f < 0 || get_u64(env, o, "spi", 0, UINT32_MAX, &spi))
		return -1;
	if (f == 0)
		return -EINVAL;
	id->family = (uint16_t)f;
	id->spi = (uint32_t)spi;
	return 0;
}

static int parse_move(napi_env env, napi_value o, struct op_xfrm_move *mv)
{
	uint32_t sport, dport;
	int fs, fd;

	memset(mv, 0, sizeof(*mv));
	fs = get_addr(env, o, "newSrc", &mv->src);
	fd = get_addr(env, o, "newDst", &mv->dst);
	if (fs < 0 || fd < 0 || get_u32(env, o, "encapSport", 0, 65535, &sport) || get_u32(env, o, "encapDport", 0, 65535, &dport))
		return -1;
	if (fs == 0 || fs != fd)
		return -EINVAL;
	mv->family = (uint16_t)fs;
	mv->encap_sport = (uint16_t)sport;
	mv->encap_dport = (uint16_t)dport;
	return 0;
}

static int parse_alloc(napi_env env, napi_value o, struct op_xfrm_alloc *a)
{
	int fs, fd;

	memset(a, 0, sizeof(*a));
	fs = get_addr(env, o, "src", &a->src);
	fd = get_addr(env, o, "dst", &a->dst);
	if (fs < 0 || fd < 0 || get_u32(env, o, "reqid", 0, UINT32_MAX, &a->reqid) || get_u32(env, o, "min", 0x100, UINT32_MAX, &a->min) ||
	    get_u32(env, o, "max", UINT32_MAX, UINT32_MAX, &a->max))
		return -1;
	if (fs == 0 || fs != fd)
		return -EINVAL;
	a->family = (uint16_t)fs;
	return 0;
}

static int parse_policy(napi_env env, napi_value o, struct op_xfrm_policy *p)
{
	char dir[8], action[8], tmode[16];
	uint32_t splen, dplen, proto, sport, smask, dport, dmask, ifindex;
	int fs, fd, ts, td, d;

	memset(p, 0, sizeof(*p));
	fs = get_addr(env, o, "src", &p->sel.src);
	fd = get_addr(env, o, "dst", &p->sel.dst);
	ts = get_addr(env, o, "tmplSrc", &p->tmpl_src);
	td = get_addr(env, o, "tmplDst", &p->tmpl_dst);
	if (fs < 0 || fd < 0 || ts < 0 || td < 0 || get_str(env, o, "dir", dir, sizeof(dir)) ||
	    get_str(env, o, "action", action, sizeof(action)) || get_str(env, o, "tmplMode", tmode, sizeof(tmode)) ||
	    get_u32(env, o, "srcPlen", 0, 128, &splen) || get_u32(env, o, "dstPlen", 0, 128, &dplen) ||
	    get_u32(env, o, "proto", 0, 255, &proto) || get_u32(env, o, "sport", 0, 65535, &sport) ||
	    get_u32(env, o, "sportMask", 0, 65535, &smask) || get_u32(env, o, "dport", 0, 65535, &dport) ||
	    get_u32(env, o, "dportMask", 0, 65535, &dmask) || get_u32(env, o, "priority", 0, UINT32_MAX, &p->priority) ||
	    get_u32(env, o, "tmplSpi", 0, UINT32_MAX, &p->tmpl_spi) || get_u32(env, o, "reqid", 0, UINT32_MAX, &p->reqid) ||
	    get_bool(env, o, "offloadPacket", &p->offload_packet) || get_u32(env, o, "offloadIfindex", 0, INT32_MAX, &ifindex))
		return -1;
	d = xfrm_dir(dir);
	if (d < 0 || fs == 0 || fs != fd || ts != td)
		return -EINVAL;
	p->dir = (uint8_t)d;
	p->sel.family = (uint16_t)fs;
	p->sel.src_plen = (uint8_t)splen;
	p->sel.dst_plen = (uint8_t)dplen;
	p->sel.proto = (uint8_t)proto;
	p->sel.sport = (uint16_t)sport;
	p->sel.sport_mask = (uint16_t)smask;
	p->sel.dport = (uint16_t)dport;
	p->sel.dport_mask = (uint16_t)dmask;
	if (!action[0] || strcmp(action, "allow") == 0)
		p->action = XFRM_POLICY_ALLOW;
	else if (strcmp(action, "block") == 0)
		p->action = XFRM_POLICY_BLOCK;
	else
		return -EINVAL;
	p->has_tmpl = ts != 0;
	p->tmpl_family = (uint16_t)ts;
	if (!tmode[0] || strcmp(tmode, "tunnel") == 0)
		p->tmpl_mode = XFRM_MODE_TUNNEL;
	else if (strcmp(tmode, "transport") == 0)
		p->tmpl_mode = XFRM_MODE_TRANSPORT;
	else
		return -EINVAL;
	p->offload_ifindex = (int)ifindex;
	return 0;
}

/* ---- C structs -> JS objects ---- */

static napi_value sel_object(napi_env env, const struct op_xfrm_sel *s)
{
	napi_value o;

	if (napi_create_object(env, &o) != napi_ok)
		return NULL;
	set(env, o, "family", num(env, family_num(s->family)));
	set(env, o, "src", addr_value(env, s->family, &s->src));
	set(env, o, "srcPlen", num(env, s->src_plen));
	set(env, o, "dst", addr_value(env, s->family, &s->dst));
	set(env, o, "dstPlen", num(env, s->dst_plen));
	set(env, o, "proto", num(env, s->proto));
	set(env, o, "sport", num(env, s->sport));
	set(env, o, "sportMask", num(env, s->sport_mask));
	set(env, o, "dport", num(env, s->dport));
	set(env, o, "dportMask", num(env, s->dport_mask));
	return o;
}

static napi_value sa_state_object(napi_env env, const struct op_xfrm_sa_state *s)
{
	napi_value o, lft, cur, stats, x;

	if (napi_create_object(env, &o) != napi_ok || napi_create_object(env, &lft) != napi_ok ||
	    napi_create_object(env, &cur) != napi_ok || napi_create_object(env, &stats) != napi_ok)
		return NULL;
	set(env, o, "family", num(env, family_num(s->family)));
	set(env, o, "src", addr_value(env, s->family, &s->src));
	set(env, o, "dst", addr_value(env, s->family, &s->dst));
	set(env, o, "spi", num(env, s->spi));
	set(env, o, "reqid", num(env, s->reqid));
	set(env, o, "mode", str(env, s->mode == XFRM_MODE_TUNNEL ? "tunnel" : s->mode == XFRM_MODE_TRANSPORT ? "transport" : "other"));
	set(env, o, "flags", num(env, s->flags));
	set(env, o, "esn", boolean(env, s->flags & XFRM_STATE_ESN));
	set(env, o, "replayWindow", num(env, s->replay_window));
	set(env, o, "oseq", num(env, s->oseq));
	set(env, o, "seq", num(env, s->seq));
	set(env, o, "oseqHi", num(env, s->oseq_hi));
	set(env, o, "seqHi", num(env, s->seq_hi));
	set(env, lft, "softBytes", big(env, s->lft.soft_byte_limit));
	set(env, lft, "hardBytes", big(env, s->lft.hard_byte_limit));
	set(env, lft, "softPackets", big(env, s->lft.soft_packet_limit));
	set(env, lft, "hardPackets", big(env, s->lft.hard_packet_limit));
	set(env, lft, "softAddSec", big(env, s->lft.soft_add_expires_seconds));
	set(env, lft, "hardAddSec", big(env, s->lft.hard_add_expires_seconds));
	set(env, o, "lifetime", lft);
	set(env, cur, "bytes", big(env, s->curlft.bytes));
	set(env, cur, "packets", big(env, s->curlft.packets));
	set(env, cur, "addTime", num(env, (double)s->curlft.add_time));
	set(env, cur, "useTime", num(env, (double)s->curlft.use_time));
	set(env, o, "current", cur);
	set(env, stats, "replayWindow", num(env, s->stats.replay_window));
	set(env, stats, "replay", num(env, s->stats.replay));
	set(env, stats, "integrityFailed", num(env, s->stats.integrity_failed));
	set(env, o, "stats", stats);
	set(env, o, "lastUsed", num(env, (double)s->lastused));
	if (s->has_encap) {
		napi_create_object(env, &x);
		set(env, x, "type", num(env, s->encap_type));
		set(env, x, "sport", num(env, s->encap_sport));
		set(env, x, "dport", num(env, s->encap_dport));
		set(env, o, "encap", x);
	} else {
		set(env, o, "encap", null_value(env));
	}
	if (s->has_offload) {
		napi_create_object(env, &x);
		set(env, x, "ifindex", num(env, s->offload_ifindex));
		set(env, x, "flags", num(env, s->offload_flags));
		set(env, x, "packet", boolean(env, s->offload_flags & XFRM_OFFLOAD_PACKET));
		set(env, x, "inbound", boolean(env, s->offload_flags & XFRM_OFFLOAD_INBOUND));
		set(env, o, "offload", x);
	} else {
		set(env, o, "offload", null_value(env));
	}
	set(env, o, "aead", str(env, s->aead_name));
	set(env, o, "crypt", str(env, s->crypt_name));
	set(env, o, "auth", str(env, s->auth_name));
	return o;
}

static napi_value event_object(napi_env env, const struct op_xfrm_event *ev)
{
	napi_value o;

	if (napi_create_object(env, &o) != napi_ok)
		return NULL;
	set(env, o, "family", num(env, family_num(ev->family)));
	set(env, o, "proto", num(env, ev->proto));
	set(env, o, "reqid", num(env, ev->reqid));
	switch (ev->type) {
	case OP_XFRM_EV_EXPIRE:
		set(env, o, "type", str(env, "expire"));
		set(env, o, "hard", boolean(env, ev->hard));
		set(env, o, "spi", num(env, ev->spi));
		set(env, o, "src", addr_value(env, ev->family, &ev->src));
		set(env, o, "dst", addr_value(env, ev->family, &ev->dst));
		break;
	case OP_XFRM_EV_ACQUIRE:
		set(env, o, "type", str(env, "acquire"));
		set(env, o, "dir", str(env, dir_name(ev->dir)));
		set(env, o, "policyIndex", num(env, ev->policy_index));
		/* The outer addresses follow the template's family, which may differ from the selector's. */
		set(env, o, "outerSrc", addr_value(env, ev->outer_family, &ev->src));
		set(env, o, "outerDst", addr_value(env, ev->outer_family, &ev->dst));
		set(env, o, "sel", sel_object(env, &ev->sel));
		break;
	case OP_XFRM_EV_MAPPING:
		set(env, o, "type", str(env, "mapping"));
		set(env, o, "spi", num(env, ev->spi));
		set(env, o, "dst", addr_value(env, ev->family, &ev->dst));
		set(env, o, "oldSrc", addr_value(env, ev->family, &ev->old_src));
		set(env, o, "oldSport", num(env, ev->old_sport));
		set(env, o, "newSrc", addr_value(env, ev->family, &ev->new_src));
		set(env, o, "newSport", num(env, ev->new_sport));
		break;
	}
	return o;
}

/* ---- the handle ---- */

static void handle_shutdown(struct js_xfrm *x)
{
	if (x->closed)
		return;
	x->closed = true;
	op_xfrm_events_stop(x->ev); /* joins: on_event runs no more */
	x->ev = NULL;
	if (x->tsfn)
		napi_release_threadsafe_function(x->tsfn, napi_tsfn_abort);
	x->tsfn = NULL;
	op_xfrm_nl_close(&x->nl);
}

static void cleanup_hook(void *arg)
{
	handle_shutdown(arg);
}

static void handle_finalize(napi_env env, void *data, void *hint)
{
	struct js_xfrm *x = data;

	(void)hint;
	if (!x->closed) {
		napi_remove_env_cleanup_hook(env, cleanup_hook, x);
		handle_shutdown(x);
	}
	free(x);
}

static struct js_xfrm *get_handle(napi_env env, napi_value v)
{
	void *p = NULL;
	napi_valuetype t;

	if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &p) != napi_ok)
		return NULL;
	return p;
}

static void on_event(void *arg, const struct op_xfrm_event *ev)
{
	struct js_xfrm *x = arg;
	struct op_xfrm_event *copy = malloc(sizeof(*copy));

	if (!copy) {
		atomic_fetch_add(&x->queue_drops, 1);
		return;
	}
	*copy = *ev;
	if (napi_call_threadsafe_function(x->tsfn, copy, napi_tsfn_nonblocking) != napi_ok) {
		atomic_fetch_add(&x->queue_drops, 1);
		free(copy);
	}
}

static void call_js_event(napi_env env, napi_value js_cb, void *context, void *data)
{
	struct op_xfrm_event *ev = data;
	napi_value obj, undef;

	(void)context;
	if (env && js_cb) {
		obj = event_object(env, ev);
		napi_get_undefined(env, &undef);
		if (obj)
			napi_call_function(env, undef, js_cb, 1, &obj, NULL);
	}
	free(ev);
}

/* xfrmOpen({ netnsPath?, onEvent? }) -> handle | -errno */
static napi_value js_open(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], cb = NULL, handle, name;
	char ns[4096] = "";
	struct js_xfrm *x;
	napi_valuetype t = napi_undefined;
	int rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc >= 1) {
		if (get_str(env, argv[0], "netnsPath", ns, sizeof(ns)))
			return type_error(env, "xfrmOpen({ netnsPath?: string, onEvent?: function })");
		if (has_value(env, argv[0], "onEvent", &cb))
			CHECK(env, napi_typeof(env, cb, &t));
		if (cb && t != napi_function)
			return type_error(env, "xfrmOpen: onEvent must be a function");
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return num(env, -ENOMEM);
	rc = op_xfrm_nl_open(&x->nl, ns);
	if (rc) {
		free(x);
		return num(env, rc);
	}
	if (cb && t == napi_function) {
		if (napi_create_string_utf8(env, "outpost-xfrm-events", NAPI_AUTO_LENGTH, &name) != napi_ok ||
		    napi_create_threadsafe_function(env, cb, NULL, name, 4096, 1, NULL, NULL, NULL, call_js_event, &x->tsfn) != napi_ok) {
			op_xfrm_nl_close(&x->nl);
			free(x);
			return num(env, -ENOMEM);
		}
		/* Listening must not keep the process alive. */
		napi_unref_threadsafe_function(env, x->tsfn);
		rc = op_xfrm_events_start(ns, on_event, x, &x->ev);
		if (rc) {
			napi_release_threadsafe_function(x->tsfn, napi_tsfn_abort);
			op_xfrm_nl_close(&x->nl);
			free(x);
			return num(env, rc);
		}
	}
	if (napi_create_external(env, x, handle_finalize, NULL, &handle) != napi_ok) {
		handle_shutdown(x);
		free(x);
		napi_throw_error(env, "EINTERNAL", "xfrmOpen: napi_create_external failed");
		return NULL;
	}
	CHECK(env, napi_add_env_cleanup_hook(env, cleanup_hook, x));
	return handle;
}

static struct js_xfrm *handle_arg(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *usage)
{
	size_t argc = want;
	struct js_xfrm *x;

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want || !(x = get_handle(env, argv[0]))) {
		type_error(env, usage);
		return NULL;
	}
	return x;
}

static napi_value js_close(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	struct js_xfrm *x = handle_arg(env, info, 1, argv, "xfrmClose(handle)");

	if (!x)
		return NULL;
	if (x->closed)
		return num(env, -EALREADY);
	napi_remove_env_cleanup_hook(env, cleanup_hook, x);
	handle_shutdown(x);
	return num(env, 0);
}

static napi_value js_last_error(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	struct js_xfrm *x = handle_arg(env, info, 1, argv, "xfrmLastError(handle)");

	return x ? str(env, x->nl.last_error) : NULL;
}

/* Builds with fn into a wiped buffer, sends, wipes. */
static int send_built(struct js_xfrm *x, ssize_t len, uint8_t *buf, uint8_t *reply, size_t reply_cap, size_t *reply_len)
{
	int rc;

	if (x->closed)
		return -ESHUTDOWN;
	x->nl.last_error[0] = '\0';
	rc = len < 0 ? (int)len : op_xfrm_nl_request(&x->nl, buf, (size_t)len, reply, reply_cap, reply_len);
	explicit_bzero(buf, OP_XFRM_MSG_MAX);
	return rc;
}

/* xfrmAddSa(handle, sa, update?) -> 0 | -errno; update sends XFRM_MSG_UPDSA (replaces a larval SA from ALLOCSPI) */
static napi_value js_add_sa(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3];
	struct op_xfrm_sa sa;
	struct js_xfrm *x;
	bool update = false;
	uint8_t buf[OP_XFRM_MSG_MAX];
	int rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || !(x = get_handle(env, argv[0])))
		return type_error(env, "xfrmAddSa(handle, sa, update?)");
	if (argc >= 3)
		napi_get_value_bool(env, argv[2], &update);
	rc = parse_sa(env, argv[1], &sa);
	if (rc == -1)
		return type_error(env, "xfrmAddSa: a field has the wrong type or range");
	if (rc)
		return num(env, rc);
	rc = send_built(x, op_xfrm_build_sa(buf, sizeof(buf), update ? XFRM_MSG_UPDSA : XFRM_MSG_NEWSA, 0, &sa), buf, NULL, 0, NULL);
	return num(env, rc);
}

static napi_value said_call(napi_env env, napi_callback_info info, uint16_t type, const char *usage)
{
	napi_value argv[2];
	struct op_xfrm_said id;
	struct js_xfrm *x = handle_arg(env, info, 2, argv, usage);
	uint8_t buf[OP_XFRM_MSG_MAX], *reply;
	size_t reply_len = 0;
	struct op_xfrm_sa_state st;
	int rc;

	if (!x)
		return NULL;
	rc = parse_said(env, argv[1], &id);
	if (rc == -1)
		return type_error(env, usage);
	if (rc)
		return num(env, rc);
	if (type == XFRM_MSG_DELSA)
		return num(env, send_built(x, op_xfrm_build_said(buf, sizeof(buf), type, 0, &id), buf, NULL, 0, NULL));
	reply = malloc(OP_XFRM_MSG_MAX);
	if (!reply)
		return num(env, -ENOMEM);
	rc = send_built(x, op_xfrm_build_said(buf, sizeof(buf), type, 0, &id), buf, reply, OP_XFRM_MSG_MAX, &reply_len);
	if (rc == 0)
		rc = reply_len ? op_xfrm_parse_sa(reply, reply_len, &st) : -ENOMSG;
	explicit_bzero(reply, OP_XFRM_MSG_MAX);
	free(reply);
	return rc ? num(env, rc) : sa_state_object(env, &st);
}

/* xfrmDelSa(handle, { dst, spi }) -> 0 | -errno */
static napi_value js_del_sa(napi_env env, napi_callback_info info)
{
	return said_call(env, info, XFRM_MSG_DELSA, "xfrmDelSa(handle, { dst, spi })");
}

/* xfrmGetSa(handle, { dst, spi }) -> state (no keys) | -errno */
static napi_value js_get_sa(napi_env env, napi_callback_info info)
{
	return said_call(env, info, XFRM_MSG_GETSA, "xfrmGetSa(handle, { dst, spi })");
}

/* xfrmAllocSpi(handle, { src, dst, reqid?, min?, max? }) -> spi | -errno; leaves a larval SA in the kernel */
static napi_value js_alloc_spi(napi_env env, napi_callback_info info)
{
	napi_value argv[2];
	struct op_xfrm_alloc a;
	struct js_xfrm *x = handle_arg(env, info, 2, argv, "xfrmAllocSpi(handle, { src, dst, reqid?, min?, max? })");
	uint8_t buf[OP_XFRM_MSG_MAX], reply[OP_XFRM_MSG_MAX];
	size_t reply_len = 0;
	struct op_xfrm_sa_state st;
	int rc;

	if (!x)
		return NULL;
	rc = parse_alloc(env, argv[1], &a);
	if (rc == -1)
		return type_error(env, "xfrmAllocSpi: a field has the wrong type or range");
	if (rc)
		return num(env, rc);
	rc = send_built(x, op_xfrm_build_allocspi(buf, sizeof(buf), 0, &a), buf, reply, sizeof(reply), &reply_len);
	if (rc == 0)
		rc = reply_len ? op_xfrm_parse_sa(reply, reply_len, &st) : -ENOMSG;
	return num(env, rc ? rc : (double)st.spi);
}

/*
 * xfrmMoveSa(handle, { dst, spi, newSrc, newDst, encapSport?, encapDport? }) -> 0 | -errno. Reads the SA back
 * (keys stay in C), then: same addresses and encapsulated before and after -> UPDSA (atomic port change); new
 * destination -> NEWSA at the new place, then DELSA of the old; otherwise DELSA then NEWSA, as strongSwan does.
 */
static napi_value js_move_sa(napi_env env, napi_callback_info info)
{
	napi_value argv[2];
	struct op_xfrm_said id;
	struct op_xfrm_move mv;
	struct op_xfrm_sa_state st;
	struct js_xfrm *x = handle_arg(env, info, 2, argv, "xfrmMoveSa(handle, { dst, spi, newSrc, newDst, encapSport?, encapDport? })");
	uint8_t *dump = NULL, buf[OP_XFRM_MSG_MAX];
	size_t dump_len = 0;
	bool same_dst, same_src;
	int rc, rc1, rc2 = 0;

	if (!x)
		return NULL;
	rc1 = parse_said(env, argv[1], &id);
	rc2 = parse_move(env, argv[1], &mv);
	if (rc1 == -1 || rc2 == -1)
		return type_error(env, "xfrmMoveSa: a field has the wrong type or range");
	if (rc1 || rc2)
		return num(env, rc1 ? rc1 : rc2);
	dump = malloc(OP_XFRM_MSG_MAX);
	if (!dump)
		return num(env, -ENOMEM);
	rc = send_built(x, op_xfrm_build_said(buf, sizeof(buf), XFRM_MSG_GETSA, 0, &id), buf, dump, OP_XFRM_MSG_MAX, &dump_len);
	if (rc == 0)
		rc = dump_len ? op_xfrm_parse_sa(dump, dump_len, &st) : -ENOMSG;
	if (rc)
		goto out;
	same_dst = mv.family == id.family && memcmp(&mv.dst, &id.dst, sizeof(mv.dst)) == 0;
	same_src = mv.family == st.family && memcmp(&mv.src, &st.src, sizeof(mv.src)) == 0;
	if (same_dst && same_src && st.has_encap && mv.encap_sport) {
		rc = send_built(x, op_xfrm_build_sa_moved(buf, sizeof(buf), XFRM_MSG_UPDSA, 0, dump, dump_len, &mv), buf, NULL, 0, NULL);
	} else if (!same_dst) {
		rc = send_built(x, op_xfrm_build_sa_moved(buf, sizeof(buf), XFRM_MSG_NEWSA, 0, dump, dump_len, &mv), buf, NULL, 0, NULL);
		if (rc == 0)
			rc = send_built(x, op_xfrm_build_said(buf, sizeof(buf), XFRM_MSG_DELSA, 0, &id), buf, NULL, 0, NULL);
	} else {
		rc = send_built(x, op_xfrm_build_said(buf, sizeof(buf), XFRM_MSG_DELSA, 0, &id), buf, NULL, 0, NULL);
		if (rc == 0)
			rc = send_built(x, op_xfrm_build_sa_moved(buf, sizeof(buf), XFRM_MSG_NEWSA, 0, dump, dump_len, &mv), buf, NULL, 0, NULL);
	}
out:
	explicit_bzero(dump, OP_XFRM_MSG_MAX);
	free(dump);
	return num(env, rc);
}

static napi_value policy_call(napi_env env, napi_callback_info info, bool del)
{
	size_t argc = 3;
	napi_value argv[3];
	struct op_xfrm_policy p;
	struct js_xfrm *x;
	bool update = false;
	uint8_t buf[OP_XFRM_MSG_MAX];
	uint16_t type;
	int rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || !(x = get_handle(env, argv[0])))
		return type_error(env, del ? "xfrmDelPolicy(handle, policy)" : "xfrmAddPolicy(handle, policy, update?)");
	if (!del && argc >= 3)
		napi_get_value_bool(env, argv[2], &update);
	rc = parse_policy(env, argv[1], &p);
	if (rc == -1)
		return type_error(env, "policy: a field has the wrong type or range");
	if (rc)
		return num(env, rc);
	type = del ? XFRM_MSG_DELPOLICY : update ? XFRM_MSG_UPDPOLICY : XFRM_MSG_NEWPOLICY;
	return num(env, send_built(x, op_xfrm_build_policy(buf, sizeof(buf), type, 0, &p), buf, NULL, 0, NULL));
}

/* xfrmAddPolicy(handle, policy, update?) -> 0 | -errno; update sends XFRM_MSG_UPDPOLICY (add or replace) */
static napi_value js_add_policy(napi_env env, napi_callback_info info)
{
	return policy_call(env, info, false);
}

/* xfrmDelPolicy(handle, policy) -> 0 | -errno (matched by selector and direction) */
static napi_value js_del_policy(napi_env env, napi_callback_info info)
{
	return policy_call(env, info, true);
}

static int ifname_arg(napi_env env, napi_value v, char *buf, size_t cap)
{
	size_t n;
	napi_valuetype t;

	if (napi_typeof(env, v, &t) != napi_ok || t != napi_string)
		return -1;
	return napi_get_value_string_utf8(env, v, buf, cap, &n) == napi_ok && n < cap - 1 ? 0 : -1;
}

/* xfrmIfindex(handle, ifname) -> ifindex | -errno, in the handle's namespace */
static napi_value js_ifindex(napi_env env, napi_callback_info info)
{
	napi_value argv[2];
	char name[64];
	struct js_xfrm *x = handle_arg(env, info, 2, argv, "xfrmIfindex(handle, ifname)");

	if (!x)
		return NULL;
	if (ifname_arg(env, argv[1], name, sizeof(name)))
		return type_error(env, "xfrmIfindex(handle, ifname: string)");
	if (x->closed)
		return num(env, -ESHUTDOWN);
	return num(env, op_xfrm_ifindex(x->nl.ioctl_fd, name));
}

static napi_value feature_object(napi_env env, const struct op_ethtool_feature *f)
{
	napi_value o;

	napi_create_object(env, &o);
	set(env, o, "present", boolean(env, f->present));
	set(env, o, "available", boolean(env, f->available));
	set(env, o, "requested", boolean(env, f->requested));
	set(env, o, "active", boolean(env, f->active));
	set(env, o, "neverChanged", boolean(env, f->never_changed));
	return o;
}

/* xfrmEthtoolEsp(handle, ifname) -> { ifindex, espHwOffload, espTxCsumHwOffload } | -errno */
static napi_value js_ethtool_esp(napi_env env, napi_callback_info info)
{
	napi_value argv[2], o;
	char name[64];
	struct op_ethtool_esp e;
	struct js_xfrm *x = handle_arg(env, info, 2, argv, "xfrmEthtoolEsp(handle, ifname)");
	int rc;

	if (!x)
		return NULL;
	if (ifname_arg(env, argv[1], name, sizeof(name)))
		return type_error(env, "xfrmEthtoolEsp(handle, ifname: string)");
	if (x->closed)
		return num(env, -ESHUTDOWN);
	rc = op_ethtool_esp_features(x->nl.ioctl_fd, name, &e);
	if (rc)
		return num(env, rc);
	CHECK(env, napi_create_object(env, &o));
	set(env, o, "ifindex", num(env, e.ifindex));
	set(env, o, "espHwOffload", feature_object(env, &e.hw_offload));
	set(env, o, "espTxCsumHwOffload", feature_object(env, &e.tx_csum));
	return o;
}

/* xfrmEventStats(handle) -> { received, overruns, malformed, queueDrops } | -errno (no listener) */
static napi_value js_event_stats(napi_env env, napi_callback_info info)
{
	napi_value argv[1], o;
	struct op_xfrm_events_stats s;
	struct js_xfrm *x = handle_arg(env, info, 1, argv, "xfrmEventStats(handle)");

	if (!x)
		return NULL;
	if (x->closed || !x->ev)
		return num(env, x->closed ? -ESHUTDOWN : -ENOENT);
	op_xfrm_events_get_stats(x->ev, &s);
	CHECK(env, napi_create_object(env, &o));
	set(env, o, "received", num(env, (double)s.received));
	set(env, o, "overruns", num(env, (double)s.overruns));
	set(env, o, "malformed", num(env, (double)s.malformed));
	set(env, o, "queueDrops", num(env, (double)atomic_load(&x->queue_drops)));
	return o;
}

/* xfrmProbe(netnsPath?: string | null) -> { openRc, openWhat, steps: [{ what, rc, message }] }; null: private netns */
static napi_value js_probe(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], o, arr, step;
	napi_valuetype t = napi_undefined;
	char ns[4096] = "";
	struct op_xfrm_probe p;
	size_t n;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc >= 1)
		CHECK(env, napi_typeof(env, argv[0], &t));
	if (t == napi_string && (napi_get_value_string_utf8(env, argv[0], ns, sizeof(ns), &n) != napi_ok || n >= sizeof(ns) - 1))
		return type_error(env, "xfrmProbe(netnsPath?: string | null)");
	op_xfrm_probe_kernel(t == napi_string ? ns : NULL, &p);
	CHECK(env, napi_create_object(env, &o));
	set(env, o, "openRc", num(env, p.open_rc));
	set(env, o, "openWhat", str(env, p.open_what));
	CHECK(env, napi_create_array_with_length(env, OP_XFRM_PROBE_STEPS, &arr));
	for (uint32_t i = 0; i < OP_XFRM_PROBE_STEPS; i++) {
		CHECK(env, napi_create_object(env, &step));
		set(env, step, "what", str(env, p.steps[i].what ? p.steps[i].what : ""));
		set(env, step, "rc", num(env, p.steps[i].rc));
		set(env, step, "message", str(env, p.steps[i].message));
		napi_set_element(env, arr, i, step);
	}
	set(env, o, "steps", arr);
	return o;
}

/* ---- test exports: the pure encoders and decoders ---- */

static napi_value bytes_value(napi_env env, const uint8_t *data, size_t len)
{
	napi_value ab, ta;
	void *p;

	CHECK(env, napi_create_arraybuffer(env, len, &p, &ab));
	if (len)
		memcpy(p, data, len);
	CHECK(env, napi_create_typedarray(env, napi_uint8_array, len, ab, 0, &ta));
	return ta;
}

/* xfrmBuild(kind, params, seq?) -> Uint8Array | -errno. kind: newsa updsa delsa getsa allocspi newpolicy updpolicy delpolicy movesa updmovesa */
static napi_value js_build(napi_env env, napi_callback_info info)
{
	size_t argc = 3, n;
	napi_value argv[3], v, result;
	char kind[16];
	uint32_t seq = 0;
	uint8_t buf[OP_XFRM_MSG_MAX];
	ssize_t len;
	int rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || napi_get_value_string_utf8(env, argv[0], kind, sizeof(kind), &n) != napi_ok)
		return type_error(env, "xfrmBuild(kind, params, seq?)");
	if (argc >= 3) {
		double d;
		if (napi_get_value_double(env, argv[2], &d) != napi_ok || d < 0 || d > UINT32_MAX)
			return type_error(env, "xfrmBuild: seq must be a uint32");
		seq = (uint32_t)d;
	}
	if (strcmp(kind, "newsa") == 0 || strcmp(kind, "updsa") == 0) {
		struct op_xfrm_sa sa;
		rc = parse_sa(env, argv[1], &sa);
		len = rc ? rc : op_xfrm_build_sa(buf, sizeof(buf), kind[0] == 'n' ? XFRM_MSG_NEWSA : XFRM_MSG_UPDSA, seq, &sa);
	} else if (strcmp(kind, "delsa") == 0 || strcmp(kind, "getsa") == 0) {
		struct op_xfrm_said id;
		rc = parse_said(env, argv[1], &id);
		len = rc ? rc : op_xfrm_build_said(buf, sizeof(buf), kind[0] == 'd' ? XFRM_MSG_DELSA : XFRM_MSG_GETSA, seq, &id);
	} else if (strcmp(kind, "allocspi") == 0) {
		struct op_xfrm_alloc a;
		rc = parse_alloc(env, argv[1], &a);
		len = rc ? rc : op_xfrm_build_allocspi(buf, sizeof(buf), seq, &a);
	} else if (strcmp(kind, "newpolicy") == 0 || strcmp(kind, "updpolicy") == 0 || strcmp(kind, "delpolicy") == 0) {
		struct op_xfrm_policy p;
		uint16_t type = kind[0] == 'n' ? XFRM_MSG_NEWPOLICY : kind[0] == 'u' ? XFRM_MSG_UPDPOLICY : XFRM_MSG_DELPOLICY;
		rc = parse_policy(env, argv[1], &p);
		len = rc ? rc : op_xfrm_build_policy(buf, sizeof(buf), type, seq, &p);
	} else if (strcmp(kind, "movesa") == 0 || strcmp(kind, "updmovesa") == 0) {
		struct op_xfrm_move mv;
		const uint8_t *dump;
		size_t dump_len;
		CHECK(env, napi_get_named_property(env, argv[1], "dump", &v));
		if (get_bytes(env, v, &dump, &dump_len))
			return type_error(env, "xfrmBuild('movesa', { dump: Uint8Array, newSrc, newDst, encapSport?, encapDport? })");
		rc = parse_move(env, argv[1], &mv);
		len = rc ? rc : op_xfrm_build_sa_moved(buf, sizeof(buf), kind[0] == 'm' ? XFRM_MSG_NEWSA : XFRM_MSG_UPDSA, seq, dump, dump_len, &mv);
	} else {
		return type_error(env, "xfrmBuild: unknown kind");
	}
	if (len == -1)
		return type_error(env, "xfrmBuild: a field has the wrong type or range");
	result = len < 0 ? num(env, (double)len) : bytes_value(env, buf, (size_t)len);
	explicit_bzero(buf, sizeof(buf));
	return result;
}

/* xfrmParse(bytes, seq?) -> { kind: 'ack', error, message } | { kind: 'sa', ... } | { kind: 'event', ... } | -errno */
static napi_value js_parse(napi_env env, napi_callback_info info)
{
	size_t argc = 2, len;
	napi_value argv[2], o;
	const uint8_t *data;
	const struct nlmsghdr *h;
	uint32_t seq = 0;
	int rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1 || get_bytes(env, argv[0], &data, &len))
		return type_error(env, "xfrmParse(bytes: Uint8Array, seq?)");
	if (argc >= 2) {
		double d;
		if (napi_get_value_double(env, argv[1], &d) == napi_ok && d >= 0 && d <= UINT32_MAX)
			seq = (uint32_t)d;
	}
	if (len < NLMSG_HDRLEN)
		return num(env, -EBADMSG);
	h = (const struct nlmsghdr *)data;
	if (h->nlmsg_type == NLMSG_ERROR) {
		char msg[OP_XFRM_ERRMSG_MAX];
		int err = 0;
		rc = op_xfrm_parse_ack(data, len, seq, &err, msg, sizeof(msg));
		if (rc < 0)
			return num(env, rc);
		if (rc == 0)
			return num(env, -ENOMSG);
		CHECK(env, napi_create_object(env, &o));
		set(env, o, "kind", str(env, "ack"));
		set(env, o, "error", num(env, err));
		set(env, o, "message", str(env, msg));
		return o;
	}
	if (h->nlmsg_type == XFRM_MSG_NEWSA || h->nlmsg_type == XFRM_MSG_UPDSA) {
		struct op_xfrm_sa_state st;
		rc = op_xfrm_parse_sa(data, len, &st);
		if (rc)
			return num(env, rc);
		o = sa_state_object(env, &st);
		set(env, o, "kind", str(env, "sa"));
		return o;
	}
	struct op_xfrm_event ev;
	rc = op_xfrm_parse_event(data, len, &ev);
	if (rc)
		return num(env, rc);
	o = event_object(env, &ev);
	set(env, o, "kind", str(env, "event"));
	return o;
}

#define SIZE(o, T) set(env, (o), #T, num(env, sizeof(struct T)))
#define OFF(o, T, f) set(env, (o), #T "." #f, num(env, offsetof(struct T, f)))

/* xfrmLayout() -> { sizes, offsets, constants } as compiled against this machine's kernel headers */
static napi_value js_layout(napi_env env, napi_callback_info info)
{
	napi_value o, s, f, c;

	(void)info;
	CHECK(env, napi_create_object(env, &o));
	CHECK(env, napi_create_object(env, &s));
	CHECK(env, napi_create_object(env, &f));
	CHECK(env, napi_create_object(env, &c));
	SIZE(s, nlmsghdr);
	SIZE(s, nlattr);
	SIZE(s, nlmsgerr);
	SIZE(s, xfrm_selector);
	SIZE(s, xfrm_id);
	SIZE(s, xfrm_lifetime_cfg);
	SIZE(s, xfrm_lifetime_cur);
	SIZE(s, xfrm_stats);
	SIZE(s, xfrm_usersa_info);
	SIZE(s, xfrm_usersa_id);
	SIZE(s, xfrm_userspi_info);
	SIZE(s, xfrm_algo);
	SIZE(s, xfrm_algo_auth);
	SIZE(s, xfrm_algo_aead);
	SIZE(s, xfrm_encap_tmpl);
	SIZE(s, xfrm_replay_state_esn);
	SIZE(s, xfrm_user_offload);
	SIZE(s, xfrm_userpolicy_info);
	SIZE(s, xfrm_userpolicy_id);
	SIZE(s, xfrm_user_tmpl);
	SIZE(s, xfrm_user_expire);
	SIZE(s, xfrm_user_acquire);
	SIZE(s, xfrm_user_mapping);
	OFF(f, xfrm_selector, daddr);
	OFF(f, xfrm_selector, saddr);
	OFF(f, xfrm_selector, dport);
	OFF(f, xfrm_selector, dport_mask);
	OFF(f, xfrm_selector, sport);
	OFF(f, xfrm_selector, sport_mask);
	OFF(f, xfrm_selector, family);
	OFF(f, xfrm_selector, prefixlen_d);
	OFF(f, xfrm_selector, prefixlen_s);
	OFF(f, xfrm_selector, proto);
	OFF(f, xfrm_selector, ifindex);
	OFF(f, xfrm_selector, user);
	OFF(f, xfrm_usersa_info, sel);
	OFF(f, xfrm_usersa_info, id);
	OFF(f, xfrm_usersa_info, saddr);
	OFF(f, xfrm_usersa_info, lft);
	OFF(f, xfrm_usersa_info, curlft);
	OFF(f, xfrm_usersa_info, stats);
	OFF(f, xfrm_usersa_info, seq);
	OFF(f, xfrm_usersa_info, reqid);
	OFF(f, xfrm_usersa_info, family);
	OFF(f, xfrm_usersa_info, mode);
	OFF(f, xfrm_usersa_info, replay_window);
	OFF(f, xfrm_usersa_info, flags);
	OFF(f, xfrm_id, spi);
	OFF(f, xfrm_id, proto);
	OFF(f, xfrm_usersa_id, spi);
	OFF(f, xfrm_usersa_id, family);
	OFF(f, xfrm_usersa_id, proto);
	OFF(f, xfrm_userspi_info, min);
	OFF(f, xfrm_userspi_info, max);
	OFF(f, xfrm_algo, alg_key_len);
	OFF(f, xfrm_algo, alg_key);
	OFF(f, xfrm_algo_auth, alg_trunc_len);
	OFF(f, xfrm_algo_auth, alg_key);
	OFF(f, xfrm_algo_aead, alg_icv_len);
	OFF(f, xfrm_algo_aead, alg_key);
	OFF(f, xfrm_encap_tmpl, encap_sport);
	OFF(f, xfrm_encap_tmpl, encap_dport);
	OFF(f, xfrm_encap_tmpl, encap_oa);
	OFF(f, xfrm_replay_state_esn, replay_window);
	OFF(f, xfrm_replay_state_esn, bmp);
	OFF(f, xfrm_user_offload, flags);
	OFF(f, xfrm_userpolicy_info, lft);
	OFF(f, xfrm_userpolicy_info, curlft);
	OFF(f, xfrm_userpolicy_info, priority);
	OFF(f, xfrm_userpolicy_info, index);
	OFF(f, xfrm_userpolicy_info, dir);
	OFF(f, xfrm_userpolicy_info, action);
	OFF(f, xfrm_userpolicy_info, flags);
	OFF(f, xfrm_userpolicy_info, share);
	OFF(f, xfrm_userpolicy_id, index);
	OFF(f, xfrm_userpolicy_id, dir);
	OFF(f, xfrm_user_tmpl, family);
	OFF(f, xfrm_user_tmpl, saddr);
	OFF(f, xfrm_user_tmpl, reqid);
	OFF(f, xfrm_user_tmpl, mode);
	OFF(f, xfrm_user_tmpl, share);
	OFF(f, xfrm_user_tmpl, optional);
	OFF(f, xfrm_user_tmpl, aalgos);
	OFF(f, xfrm_user_tmpl, ealgos);
	OFF(f, xfrm_user_tmpl, calgos);
	OFF(f, xfrm_user_expire, hard);
	OFF(f, xfrm_user_acquire, saddr);
	OFF(f, xfrm_user_acquire, sel);
	OFF(f, xfrm_user_acquire, policy);
	OFF(f, xfrm_user_acquire, aalgos);
	OFF(f, xfrm_user_acquire, seq);
	OFF(f, xfrm_user_mapping, reqid);
	OFF(f, xfrm_user_mapping, old_saddr);
	OFF(f, xfrm_user_mapping, new_saddr);
	OFF(f, xfrm_user_mapping, old_sport);
	OFF(f, xfrm_user_mapping, new_sport);
	set(env, c, "XFRM_MSG_NEWSA", num(env, XFRM_MSG_NEWSA));
	set(env, c, "XFRM_MSG_DELSA", num(env, XFRM_MSG_DELSA));
	set(env, c, "XFRM_MSG_GETSA", num(env, XFRM_MSG_GETSA));
	set(env, c, "XFRM_MSG_NEWPOLICY", num(env, XFRM_MSG_NEWPOLICY));
	set(env, c, "XFRM_MSG_DELPOLICY", num(env, XFRM_MSG_DELPOLICY));
	set(env, c, "XFRM_MSG_ALLOCSPI", num(env, XFRM_MSG_ALLOCSPI));
	set(env, c, "XFRM_MSG_ACQUIRE", num(env, XFRM_MSG_ACQUIRE));
	set(env, c, "XFRM_MSG_EXPIRE", num(env, XFRM_MSG_EXPIRE));
	set(env, c, "XFRM_MSG_UPDPOLICY", num(env, XFRM_MSG_UPDPOLICY));
	set(env, c, "XFRM_MSG_UPDSA", num(env, XFRM_MSG_UPDSA));
	set(env, c, "XFRM_MSG_MAPPING", num(env, XFRM_MSG_MAPPING));
	set(env, c, "XFRMA_ALG_AUTH", num(env, XFRMA_ALG_AUTH));
	set(env, c, "XFRMA_ALG_CRYPT", num(env, XFRMA_ALG_CRYPT));
	set(env, c, "XFRMA_ENCAP", num(env, XFRMA_ENCAP));
	set(env, c, "XFRMA_TMPL", num(env, XFRMA_TMPL));
	set(env, c, "XFRMA_ALG_AEAD", num(env, XFRMA_ALG_AEAD));
	set(env, c, "XFRMA_ALG_AUTH_TRUNC", num(env, XFRMA_ALG_AUTH_TRUNC));
	set(env, c, "XFRMA_REPLAY_ESN_VAL", num(env, XFRMA_REPLAY_ESN_VAL));
	set(env, c, "XFRMA_OFFLOAD_DEV", num(env, XFRMA_OFFLOAD_DEV));
	set(env, c, "XFRMA_LASTUSED", num(env, XFRMA_LASTUSED));
	set(env, c, "XFRMNLGRP_ACQUIRE", num(env, XFRMNLGRP_ACQUIRE));
	set(env, c, "XFRMNLGRP_EXPIRE", num(env, XFRMNLGRP_EXPIRE));
	set(env, c, "XFRMNLGRP_MAPPING", num(env, XFRMNLGRP_MAPPING));
	set(env, c, "XFRM_OFFLOAD_INBOUND", num(env, XFRM_OFFLOAD_INBOUND));
	set(env, c, "XFRM_OFFLOAD_PACKET", num(env, XFRM_OFFLOAD_PACKET));
	set(env, c, "XFRM_STATE_ESN", num(env, XFRM_STATE_ESN));
	set(env, c, "XFRM_STATE_AF_UNSPEC", num(env, XFRM_STATE_AF_UNSPEC));
	set(env, c, "NETLINK_XFRM", num(env, NETLINK_XFRM));
	set(env, o, "sizes", s);
	set(env, o, "offsets", f);
	set(env, o, "constants", c);
	return o;
}

int op_xfrm_register(napi_env env, napi_value exports)
{
	static const struct {
		const char *name;
		napi_callback fn;
	} fns[] = {
		{ "xfrmOpen", js_open },
		{ "xfrmClose", js_close },
		{ "xfrmLastError", js_last_error },
		{ "xfrmAddSa", js_add_sa },
		{ "xfrmDelSa", js_del_sa },
		{ "xfrmGetSa", js_get_sa },
		{ "xfrmAllocSpi", js_alloc_spi },
		{ "xfrmMoveSa", js_move_sa },
		{ "xfrmAddPolicy", js_add_policy },
		{ "xfrmDelPolicy", js_del_policy },
		{ "xfrmIfindex", js_ifindex },
		{ "xfrmEthtoolEsp", js_ethtool_esp },
		{ "xfrmEventStats", js_event_stats },
		{ "xfrmProbe", js_probe },
		{ "xfrmBuild", js_build },
		{ "xfrmParse", js_parse },
		{ "xfrmLayout", js_layout },
	};
	napi_value v;

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &v) != napi_ok ||
		    napi_set_named_property(env, exports, fns[i].name, v) != napi_ok)
			return -EIO;
	}
	return 0;
}
