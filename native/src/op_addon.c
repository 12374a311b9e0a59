/*
 * N-API surface of the Outpost data plane (ARCHITECTURE.md §4-5): SA table, single-packet ESP, expire events,
 * TUN devices. Control-plane calls only; per-packet batching lives in native threads.
 *
 * Convention: failures come back as a negative errno number (never a thrown exception) so the TypeScript
 * loader maps them to typed results; only misuse (wrong argument types) throws.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "op_esp.h"
#include "op_gso.h"
#include "op_pmtu.h"
#include "op_sa.h"
#include "op_ts.h"
#include "op_tun.h"
#include "op_worker.h"
#include "op_napi.h"
#include "op_xfrm_napi.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>

static napi_value make_int(napi_env env, int64_t v)
{
	napi_value out;
	napi_create_int64(env, v, &out);
	return out;
}

static napi_value make_u64(napi_env env, uint64_t v)
{
	napi_value out;
	napi_create_bigint_uint64(env, v, &out);
	return out;
}

static napi_value make_bool(napi_env env, bool v)
{
	napi_value out;
	napi_get_boolean(env, v, &out);
	return out;
}

static void set_prop(napi_env env, napi_value obj, const char *key, napi_value v)
{
	napi_set_named_property(env, obj, key, v);
}

/* Reads a number or bigint property as uint64; absent/undefined gives def. -1 on a wrong type. */
static int get_u64_prop(napi_env env, napi_value obj, const char *key, uint64_t def, uint64_t *out)
{
	napi_value v;
	napi_valuetype t;
	bool has = false;

	*out = def;
	if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has)
		return 0;
	if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok)
		return -1;
	if (t == napi_undefined || t == napi_null)
		return 0;
	if (t == napi_bigint) {
		bool lossless;
		return napi_get_value_bigint_uint64(env, v, out, &lossless) == napi_ok && lossless ? 0 : -1;
	}
	if (t == napi_number) {
		double d;
		if (napi_get_value_double(env, v, &d) != napi_ok || d < 0 || d > 9007199254740991.0 || d != (double)(uint64_t)d)
			return -1;
		*out = (uint64_t)d;
		return 0;
	}
	return -1;
}

static int get_bool_prop(napi_env env, napi_value obj, const char *key, bool *out)
{
	napi_value v;
	bool has = false;

	*out = false;
	if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has)
		return 0;
	if (napi_get_named_property(env, obj, key, &v) != napi_ok)
		return -1;
	return napi_get_value_bool(env, v, out) == napi_ok ? 0 : -1;
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
	bool has = false;

	*data = (const uint8_t *)"";
	*len = 0;
	if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has)
		return 0;
	if (napi_get_named_property(env, obj, key, &v) != napi_ok)
		return -1;
	return get_bytes(env, v, data, len);
}

static int get_dir(napi_env env, napi_value v, enum op_dir *dir)
{
	char buf[8];
	size_t n;

	if (napi_get_value_string_utf8(env, v, buf, sizeof(buf), &n) != napi_ok)
		return -1;
	if (strcmp(buf, "in") == 0)
		*dir = OP_DIR_IN;
	else if (strcmp(buf, "out") == 0)
		*dir = OP_DIR_OUT;
	else
		return -1;
	return 0;
}

static int get_u32_arg(napi_env env, napi_value v, uint32_t *out)
{
	double d;

	if (napi_get_value_double(env, v, &d) != napi_ok || d < 0 || d > 4294967295.0 || d != (double)(uint32_t)d)
		return -1;
	*out = (uint32_t)d;
	return 0;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t cap)
{
	size_t n;
	napi_valuetype t;

	if (napi_typeof(env, v, &t) != napi_ok || t != napi_string)
		return -1;
	return napi_get_value_string_utf8(env, v, buf, cap, &n) == napi_ok && n < cap - 1 ? 0 : -1;
}

/* [{ startAddr, endAddr, ipProtocol, startPort, endPort }] -> selectors. 1 = bad type, -errno = bad value. */
static int get_ts_prop(napi_env env, napi_value obj, const char *key, struct op_ts *out, size_t *n_out)
{
	napi_value arr, item, v;
	bool has = false, is_arr = false;
	uint32_t n;

	*n_out = 0;
	if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has)
		return 0;
	if (napi_get_named_property(env, obj, key, &arr) != napi_ok || napi_is_array(env, arr, &is_arr) != napi_ok)
		return 1;
	if (!is_arr)
		return 1;
	napi_get_array_length(env, arr, &n);
	if (n > OP_TS_MAX)
		return -E2BIG;
	for (uint32_t i = 0; i < n; i++) {
		char start[64], end[64];
		uint64_t proto, lo, hi;
		int rc;

		if (napi_get_element(env, arr, i, &item) != napi_ok)
			return 1;
		if (napi_get_named_property(env, item, "startAddr", &v) != napi_ok || get_string(env, v, start, sizeof(start)))
			return 1;
		if (napi_get_named_property(env, item, "endAddr", &v) != napi_ok || get_string(env, v, end, sizeof(end)))
			return 1;
		if (get_u64_prop(env, item, "ipProtocol", 0, &proto) || proto > 255 ||
		    get_u64_prop(env, item, "startPort", 0, &lo) || lo > 65535 ||
		    get_u64_prop(env, item, "endPort", 65535, &hi) || hi > 65535)
			return 1;
		rc = op_ts_from_text(&out[i], start, end, (uint8_t)proto, (uint16_t)lo, (uint16_t)hi);
		if (rc)
			return rc;
	}
	*n_out = n;
	return 0;
}

/* saAdd({ spi, direction, encrId, encrKeyBits?, encKey, integId, integKey?, esn, replayWindow, softBytes?,
 *         hardBytes?, softPackets?, hardPackets?, initialSeq?, localTs?, remoteTs? }) -> 0 | -errno */
static napi_value js_sa_add(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], v;
	struct op_sa_params p;
	uint64_t spi, encr, bits, integ, window;
	int rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1)
		return type_error(env, "saAdd(params) needs an object");
	memset(&p, 0, sizeof(p));
	if (get_u64_prop(env, argv[0], "spi", 0, &spi) || spi > UINT32_MAX ||
	    get_u64_prop(env, argv[0], "encrId", 0, &encr) || encr > UINT16_MAX ||
	    get_u64_prop(env, argv[0], "encrKeyBits", 0, &bits) || bits > UINT16_MAX ||
	    get_u64_prop(env, argv[0], "integId", 0, &integ) || integ > UINT16_MAX ||
	    get_u64_prop(env, argv[0], "replayWindow", 0, &window) || window > UINT32_MAX ||
	    get_u64_prop(env, argv[0], "softBytes", 0, &p.limits.soft_bytes) ||
	    get_u64_prop(env, argv[0], "hardBytes", 0, &p.limits.hard_bytes) ||
	    get_u64_prop(env, argv[0], "softPackets", 0, &p.limits.soft_packets) ||
	    get_u64_prop(env, argv[0], "hardPackets", 0, &p.limits.hard_packets) ||
	    get_u64_prop(env, argv[0], "initialSeq", 0, &p.initial_seq) ||
	    get_bool_prop(env, argv[0], "esn", &p.esn) ||
	    get_bytes_prop(env, argv[0], "encKey", &p.xform.enc_key, &p.xform.enc_key_len) ||
	    get_bytes_prop(env, argv[0], "integKey", &p.xform.integ_key, &p.xform.integ_key_len))
		return type_error(env, "saAdd: a field has the wrong type or range");
	CHECK(env, napi_get_named_property(env, argv[0], "direction", &v));
	if (get_dir(env, v, &p.dir))
		return type_error(env, "saAdd: direction must be 'in' or 'out'");
	rc = get_ts_prop(env, argv[0], "localTs", p.local_ts, &p.n_local_ts);
	if (rc == 0)
		rc = get_ts_prop(env, argv[0], "remoteTs", p.remote_ts, &p.n_remote_ts);
	if (rc == 1)
		return type_error(env, "saAdd: localTs/remoteTs must be arrays of { startAddr, endAddr, ipProtocol, startPort, endPort }");
	if (rc)
		return make_int(env, rc);
	p.spi = (uint32_t)spi;
	p.xform.encr_id = (uint16_t)encr;
	p.xform.encr_key_bits = (uint16_t)bits;
	p.xform.integ_id = (uint16_t)integ;
	p.replay_window = (uint32_t)window;
	rc = op_sa_add(&p);
	return make_int(env, rc);
}

static int spi_dir_args(napi_env env, napi_callback_info info, uint32_t *spi, enum op_dir *dir)
{
	size_t argc = 2;
	napi_value argv[2];

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2)
		return -1;
	if (get_u32_arg(env, argv[0], spi) || get_dir(env, argv[1], dir))
		return -1;
	return 0;
}

static napi_value js_sa_del(napi_env env, napi_callback_info info)
{
	uint32_t spi;
	enum op_dir dir;

	if (spi_dir_args(env, info, &spi, &dir))
		return type_error(env, "saDel(spi, 'in'|'out')");
	return make_int(env, op_sa_del(spi, dir));
}

static napi_value js_sa_query(napi_env env, napi_callback_info info)
{
	struct op_sa_counters c;
	uint32_t spi;
	enum op_dir dir;
	napi_value obj, nul;
	int rc;

	if (spi_dir_args(env, info, &spi, &dir))
		return type_error(env, "saQuery(spi, 'in'|'out')");
	rc = op_sa_query(spi, dir, &c);
	if (rc)
		return make_int(env, rc);
	CHECK(env, napi_create_object(env, &obj));
	CHECK(env, napi_get_null(env, &nul));
	set_prop(env, obj, "bytes", make_u64(env, c.bytes));
	set_prop(env, obj, "packets", make_u64(env, c.packets));
	set_prop(env, obj, "lastUsedMs", c.last_used_ms < 0 ? nul : make_int(env, c.last_used_ms));
	set_prop(env, obj, "seq", make_u64(env, c.seq));
	set_prop(env, obj, "replayDrops", make_u64(env, c.replay_drops));
	set_prop(env, obj, "authDrops", make_u64(env, c.auth_drops));
	set_prop(env, obj, "malformedDrops", make_u64(env, c.malformed_drops));
	set_prop(env, obj, "expiredDrops", make_u64(env, c.expired_drops));
	set_prop(env, obj, "policyDrops", make_u64(env, c.policy_drops));
	set_prop(env, obj, "softExpired", make_bool(env, c.soft_expired));
	set_prop(env, obj, "hardExpired", make_bool(env, c.hard_expired));
	return obj;
}

static napi_value js_sa_exists(napi_env env, napi_callback_info info)
{
	uint32_t spi;
	enum op_dir dir;

	if (spi_dir_args(env, info, &spi, &dir))
		return type_error(env, "saExists(spi, 'in'|'out')");
	return make_bool(env, op_sa_exists(spi, dir));
}

static napi_value js_sa_count(napi_env env, napi_callback_info info)
{
	(void)info;
	return make_int(env, (int64_t)op_sa_count());
}

static napi_value js_sa_flush(napi_env env, napi_callback_info info)
{
	(void)info;
	op_sa_flush();
	return make_int(env, 0);
}

static napi_value bytes_result(napi_env env, const uint8_t *data, size_t len)
{
	napi_value ab, ta;
	void *p;

	CHECK(env, napi_create_arraybuffer(env, len, &p, &ab));
	if (len)
		memcpy(p, data, len);
	CHECK(env, napi_create_typedarray(env, napi_uint8_array, len, ab, 0, &ta));
	return ta;
}

/* encrypt(spi, inner, nextHeader?) -> Uint8Array (ESP from the SPI on) | -errno */
static napi_value js_encrypt(napi_env env, napi_callback_info info)
{
	size_t argc = 3, inner_len;
	napi_value argv[3], result;
	napi_valuetype t = napi_undefined;
	const uint8_t *inner;
	uint32_t spi, nh32;
	uint8_t *buf;
	int nh;
	ssize_t rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || get_u32_arg(env, argv[0], &spi) || get_bytes(env, argv[1], &inner, &inner_len))
		return type_error(env, "encrypt(spi, inner: Uint8Array, nextHeader?)");
	if (argc >= 3)
		CHECK(env, napi_typeof(env, argv[2], &t));
	if (t == napi_number) {
		if (get_u32_arg(env, argv[2], &nh32) || nh32 > 255)
			return type_error(env, "encrypt: nextHeader must be 0-255");
		nh = (int)nh32;
	} else {
		nh = op_esp_tunnel_next_header(inner, inner_len);
		if (nh < 0)
			return make_int(env, nh);
	}
	if (inner_len > OP_ESP_MAX_INNER)
		return make_int(env, -EMSGSIZE);
	buf = malloc(inner_len + OP_ESP_MAX_OVERHEAD);
	if (!buf)
		return make_int(env, -ENOMEM);
	rc = op_esp_encrypt(spi, inner, inner_len, (uint8_t)nh, buf, inner_len + OP_ESP_MAX_OVERHEAD);
	result = rc < 0 ? make_int(env, rc) : bytes_result(env, buf, (size_t)rc);
	free(buf);
	return result;
}

/* decrypt(esp, tunnel?) -> { spi, seq: bigint, nextHeader, inner } | -errno; tunnel applies RFC 4301 §5.2 policy */
static napi_value js_decrypt(napi_env env, napi_callback_info info)
{
	size_t argc = 2, len;
	napi_value argv[2], obj;
	bool tunnel = false;
	napi_valuetype t;
	const uint8_t *pkt;
	struct op_esp_info esp;
	uint8_t *buf;
	ssize_t rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1 || get_bytes(env, argv[0], &pkt, &len))
		return type_error(env, "decrypt(esp: Uint8Array, tunnel?: boolean)");
	if (argc >= 2 && napi_typeof(env, argv[1], &t) == napi_ok && t == napi_boolean)
		CHECK(env, napi_get_value_bool(env, argv[1], &tunnel));
	buf = malloc(len ? len : 1);
	if (!buf)
		return make_int(env, -ENOMEM);
	rc = tunnel ? op_esp_decrypt_tunnel(pkt, len, buf, len, &esp) : op_esp_decrypt(pkt, len, buf, len, &esp);
	if (rc < 0) {
		free(buf);
		return make_int(env, rc);
	}
	if (napi_create_object(env, &obj) != napi_ok) {
		free(buf);
		return NULL;
	}
	set_prop(env, obj, "spi", make_int(env, esp.spi));
	set_prop(env, obj, "seq", make_u64(env, esp.seq));
	set_prop(env, obj, "nextHeader", make_int(env, esp.next_header));
	set_prop(env, obj, "inner", bytes_result(env, buf, (size_t)rc));
	OPENSSL_cleanse(buf, len);
	free(buf);
	return obj;
}

static napi_value events_array(napi_env env)
{
	struct op_event evs[64];
	napi_value arr;
	uint32_t idx = 0;
	size_t n;

	CHECK(env, napi_create_array(env, &arr));
	while ((n = op_events_take(evs, 64)) > 0) {
		for (size_t i = 0; i < n; i++) {
			napi_value e, s;
			CHECK(env, napi_create_object(env, &e));
			CHECK(env, napi_create_string_utf8(env, evs[i].hard ? "hard" : "soft", NAPI_AUTO_LENGTH, &s));
			set_prop(env, e, "kind", s);
			CHECK(env, napi_create_string_utf8(env, evs[i].dir == OP_DIR_IN ? "in" : "out", NAPI_AUTO_LENGTH, &s));
			set_prop(env, e, "direction", s);
			set_prop(env, e, "spi", make_int(env, evs[i].spi));
			CHECK(env, napi_set_element(env, arr, idx++, e));
		}
	}
	return arr;
}

static napi_value js_take_events(napi_env env, napi_callback_info info)
{
	(void)info;
	return events_array(env);
}

/* ---- event listener: a threadsafe function woken by the C queue ---- */

static pthread_mutex_t tsfn_lock = PTHREAD_MUTEX_INITIALIZER;
static napi_threadsafe_function events_tsfn;
/* Calls already queued on a replaced listener's TSFN must not drain events meant for its successor. */
static uintptr_t listener_generation;

static void notify_events(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&tsfn_lock);
	if (events_tsfn)
		napi_call_threadsafe_function(events_tsfn, NULL, napi_tsfn_nonblocking);
	pthread_mutex_unlock(&tsfn_lock);
}

static void call_js_events(napi_env env, napi_value js_cb, void *context, void *data)
{
	napi_value arr, undef;
	uint32_t len = 0;

	(void)data;
	if (!env || !js_cb || (uintptr_t)context != listener_generation)
		return;
	arr = events_array(env);
	if (!arr || napi_get_array_length(env, arr, &len) != napi_ok || len == 0)
		return;
	napi_get_undefined(env, &undef);
	napi_call_function(env, undef, js_cb, 1, &arr, NULL);
}

static void release_listener(void)
{
	pthread_mutex_lock(&tsfn_lock);
	if (events_tsfn) {
		napi_release_threadsafe_function(events_tsfn, napi_tsfn_abort);
		events_tsfn = NULL;
	}
	pthread_mutex_unlock(&tsfn_lock);
}

/* onEvents(fn | null): fn(events[]) runs on the JS thread whenever expire events are queued. */
static napi_value js_on_events(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], name;
	napi_valuetype t;
	napi_threadsafe_function tsfn;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	release_listener();
	listener_generation++;
	if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function)
		return make_int(env, 0);
	CHECK(env, napi_create_string_utf8(env, "outpost-dataplane-events", NAPI_AUTO_LENGTH, &name));
	CHECK(env, napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, NULL, NULL,
						   (void *)listener_generation, call_js_events,
						   &tsfn));
	/* Listening must not keep the process alive. */
	CHECK(env, napi_unref_threadsafe_function(env, tsfn));
	pthread_mutex_lock(&tsfn_lock);
	events_tsfn = tsfn;
	pthread_mutex_unlock(&tsfn_lock);
	op_events_set_notify(notify_events, NULL);
	notify_events(NULL); /* deliver what was queued before anyone listened */
	return make_int(env, 0);
}

static napi_value js_global_stats(napi_env env, napi_callback_info info)
{
	struct op_global_stats s;
	napi_value obj;

	(void)info;
	op_global_stats_get(&s);
	CHECK(env, napi_create_object(env, &obj));
	set_prop(env, obj, "noSa", make_u64(env, s.no_sa));
	set_prop(env, obj, "truncated", make_u64(env, s.truncated));
	return obj;
}

/* tunOpen(name, netnsPath?, nonblocking?, offload?) -> { fd, name, offload } | -errno; offload: virtio-net header + TSO */
static napi_value js_tun_open(napi_env env, napi_callback_info info)
{
	size_t argc = 4, n;
	napi_value argv[4], obj, s;
	char name[64] = "", ns[4096] = "", out_name[64];
	napi_valuetype t;
	bool nonblocking = false, offload = false;
	int fd;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc >= 1 && napi_typeof(env, argv[0], &t) == napi_ok && t == napi_string)
		CHECK(env, napi_get_value_string_utf8(env, argv[0], name, sizeof(name), &n));
	if (argc >= 2 && napi_typeof(env, argv[1], &t) == napi_ok && t == napi_string)
		CHECK(env, napi_get_value_string_utf8(env, argv[1], ns, sizeof(ns), &n));
	if (argc >= 3 && napi_typeof(env, argv[2], &t) == napi_ok && t == napi_boolean)
		CHECK(env, napi_get_value_bool(env, argv[2], &nonblocking));
	if (argc >= 4 && napi_typeof(env, argv[3], &t) == napi_ok && t == napi_boolean)
		CHECK(env, napi_get_value_bool(env, argv[3], &offload));
	fd = op_tun_open(name, ns, nonblocking, offload, out_name, sizeof(out_name));
	if (fd < 0)
		return make_int(env, fd);
	CHECK(env, napi_create_object(env, &obj));
	set_prop(env, obj, "fd", make_int(env, fd));
	set_prop(env, obj, "offload", make_bool(env, op_tun_vnet_hdr(fd) == 1));
	CHECK(env, napi_create_string_utf8(env, out_name, NAPI_AUTO_LENGTH, &s));
	set_prop(env, obj, "name", s);
	return obj;
}

static napi_value js_close_fd(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	uint32_t fd;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1 || get_u32_arg(env, argv[0], &fd) || fd > INT32_MAX)
		return type_error(env, "closeFd(fd)");
	return make_int(env, close((int)fd) == 0 ? 0 : -errno);
}

/* errnoName(-ENOENT) -> "ENOENT", for messages the operator can search for. */
static napi_value js_errno_name(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], s;
	int64_t code;
	const char *name;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1 || napi_get_value_int64(env, argv[0], &code) != napi_ok)
		return type_error(env, "errnoName(code)");
	name = strerrorname_np((int)(code < 0 ? -code : code));
	CHECK(env, napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &s));
	return s;
}

/* ---- the packet worker ---- */

struct js_worker {
	struct op_worker *w;
	napi_threadsafe_function tsfn; /* NULL without an onIke listener */
	napi_env env;
	bool stopped;
	atomic_uint_fast64_t ike_queue_drops;
};

struct ike_msg {
	size_t len;
	char addr[INET6_ADDRSTRLEN];
	uint16_t port;
	char local_addr[INET6_ADDRSTRLEN];
	uint16_t local_port;
	uint8_t data[];
};

static void sockaddr_text(const struct sockaddr_storage *ss, char *addr, uint16_t *port)
{
	struct op_endpoint e;

	op_endpoint_from_sockaddr(ss, &e);
	inet_ntop(e.family == 4 ? AF_INET : AF_INET6, e.addr, addr, INET6_ADDRSTRLEN);
	*port = e.port;
}

/* Text address + port -> endpoint; -EINVAL for text that is no address. */
static int text_endpoint(const char *addr, uint16_t port, struct op_endpoint *e)
{
	memset(e, 0, sizeof(*e));
	e->port = port;
	if (inet_pton(AF_INET, addr, e->addr) == 1) {
		e->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, addr, e->addr) == 1) {
		struct in6_addr a6;
		memcpy(&a6, e->addr, 16);
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memmove(e->addr, e->addr + 12, 4);
			memset(e->addr + 4, 0, 12);
			e->family = 4;
		} else {
			e->family = 6;
		}
		return 0;
	}
	return -EINVAL;
}

static void on_ike(void *arg, const uint8_t *msg, size_t len, const struct sockaddr_storage *from, socklen_t from_len,
		   const struct sockaddr_storage *local)
{
	struct js_worker *jw = arg;
	struct ike_msg *m;

	(void)from_len;
	if (!jw->tsfn)
		return;
	m = malloc(sizeof(*m) + len);
	if (!m) {
		atomic_fetch_add(&jw->ike_queue_drops, 1);
		return;
	}
	m->len = len;
	memcpy(m->data, msg, len);
	sockaddr_text(from, m->addr, &m->port);
	sockaddr_text(local, m->local_addr, &m->local_port);
	if (napi_call_threadsafe_function(jw->tsfn, m, napi_tsfn_nonblocking) != napi_ok) {
		atomic_fetch_add(&jw->ike_queue_drops, 1);
		free(m);
	}
}

static void call_js_ike(napi_env env, napi_value js_cb, void *context, void *data)
{
	struct ike_msg *m = data;
	napi_value argv[5], undef;

	(void)context;
	if (env && js_cb) {
		argv[0] = bytes_result(env, m->data, m->len);
		napi_create_string_utf8(env, m->addr, NAPI_AUTO_LENGTH, &argv[1]);
		napi_create_uint32(env, m->port, &argv[2]);
		napi_create_string_utf8(env, m->local_addr, NAPI_AUTO_LENGTH, &argv[3]);
		napi_create_uint32(env, m->local_port, &argv[4]);
		napi_get_undefined(env, &undef);
		if (argv[0])
			napi_call_function(env, undef, js_cb, 5, argv, NULL);
	}
	free(m);
}

static void worker_shutdown(struct js_worker *jw)
{
	if (jw->stopped)
		return;
	jw->stopped = true;
	op_worker_stop(jw->w); /* joins: on_ike runs no more */
	jw->w = NULL;
	if (jw->tsfn)
		napi_release_threadsafe_function(jw->tsfn, napi_tsfn_release);
	jw->tsfn = NULL;
}

static void worker_cleanup_hook(void *arg)
{
	worker_shutdown(arg);
}

static void worker_finalize(napi_env env, void *data, void *hint)
{
	struct js_worker *jw = data;

	(void)hint;
	if (!jw->stopped) {
		napi_remove_env_cleanup_hook(env, worker_cleanup_hook, jw);
		worker_shutdown(jw);
	}
	free(jw);
}

static struct js_worker *get_worker(napi_env env, napi_value v)
{
	void *p = NULL;
	napi_valuetype t;

	if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &p) != napi_ok)
		return NULL;
	return p;
}

/* { tunMtu?, pathMtu?, clampMss? } -> config; absent fields keep `cfg`'s values. -1 on a wrong type. */
static int get_worker_config(napi_env env, napi_value obj, struct op_worker_config *cfg)
{
	uint64_t tun, path;
	bool has = false;

	if (get_u64_prop(env, obj, "tunMtu", cfg->tun_mtu, &tun) || tun > 65535 ||
	    get_u64_prop(env, obj, "pathMtu", cfg->path_mtu, &path) || path > 65535)
		return -1;
	cfg->tun_mtu = (uint32_t)tun;
	cfg->path_mtu = (uint32_t)path;
	if (napi_has_named_property(env, obj, "clampMss", &has) != napi_ok)
		return -1;
	if (has && get_bool_prop(env, obj, "clampMss", &cfg->clamp_mss))
		return -1;
	return 0;
}

/* The sockets to open: `sockets: [{ addr, port, v6only? }]`, or the single `bindAddr` + `port`. 1 = bad type. */
struct sock_spec {
	char addr[64];
	uint16_t port;
	bool v6only;
};

static int get_socket_specs(napi_env env, napi_value obj, struct sock_spec *specs, size_t *n)
{
	napi_value arr, item, v;
	bool has = false, is_arr = false;
	uint32_t len;
	uint64_t port;

	*n = 0;
	if (napi_has_named_property(env, obj, "sockets", &has) != napi_ok)
		return 1;
	if (!has) {
		if (get_u64_prop(env, obj, "port", 4500, &port) || port > 65535 ||
		    napi_get_named_property(env, obj, "bindAddr", &v) != napi_ok || get_string(env, v, specs[0].addr, sizeof(specs[0].addr)))
			return 1;
		specs[0].port = (uint16_t)port;
		specs[0].v6only = false;
		*n = 1;
		return 0;
	}
	if (napi_get_named_property(env, obj, "sockets", &arr) != napi_ok || napi_is_array(env, arr, &is_arr) != napi_ok || !is_arr)
		return 1;
	napi_get_array_length(env, arr, &len);
	if (len == 0 || len > OP_WORKER_MAX_SOCKETS)
		return 1;
	for (uint32_t i = 0; i < len; i++) {
		if (napi_get_element(env, arr, i, &item) != napi_ok ||
		    napi_get_named_property(env, item, "addr", &v) != napi_ok || get_string(env, v, specs[i].addr, sizeof(specs[i].addr)) ||
		    get_u64_prop(env, item, "port", 4500, &port) || port > 65535 || get_bool_prop(env, item, "v6only", &specs[i].v6only))
			return 1;
		specs[i].port = (uint16_t)port;
	}
	*n = len;
	return 0;
}

/*
 * workerStart({ tunFd, sockets: [{ addr, port, v6only? }] | bindAddr + port, netnsPath?, onIke?, tunMtu?, pathMtu?,
 *               clampMss?, plainEsp? }) -> { handle, port, sockets: [{ addr, port }], plainEsp: { families, error } }
 *               | -errno
 * plainEsp opens raw IP protocol 50 sockets for the families the UDP sockets serve; failing that (no CAP_NET_RAW)
 * the worker still starts, ESP-in-UDP only, and plainEsp.error says why.
 */
static napi_value js_worker_start(napi_env env, napi_callback_info info)
{
	size_t argc = 1, n_specs = 0;
	napi_value argv[1], v, obj, handle, name, arr;
	char ns[4096] = "";
	uint64_t tun_fd;
	napi_valuetype t = napi_undefined;
	bool has = false;
	struct js_worker *jw;
	struct sock_spec specs[OP_WORKER_MAX_SOCKETS];
	struct op_worker_config cfg = { 0 };
	int fds[OP_WORKER_MAX_SOCKETS], esp_fds[OP_WORKER_MAX_ESP_SOCKETS];
	size_t n_esp = 0;
	bool plain_esp = false, want4 = false, want6 = false;
	int esp_error = 0;
	int rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1 || get_u64_prop(env, argv[0], "tunFd", UINT64_MAX, &tun_fd) || tun_fd > INT32_MAX ||
	    get_socket_specs(env, argv[0], specs, &n_specs))
		return type_error(env, "workerStart({ tunFd, sockets: [{ addr, port, v6only? }] (1-8) or bindAddr + port, netnsPath?, onIke? })");
	if (get_worker_config(env, argv[0], &cfg))
		return type_error(env, "workerStart: tunMtu/pathMtu must be 0-65535, clampMss a boolean");
	if (get_bool_prop(env, argv[0], "plainEsp", &plain_esp))
		return type_error(env, "workerStart: plainEsp must be a boolean");
	{
		bool has_off = false, udp_offload = true;
		if (napi_has_named_property(env, argv[0], "udpOffload", &has_off) != napi_ok ||
		    (has_off && get_bool_prop(env, argv[0], "udpOffload", &udp_offload)))
			return type_error(env, "workerStart: udpOffload must be a boolean");
		cfg.no_udp_offload = !udp_offload;
	}
	CHECK(env, napi_has_named_property(env, argv[0], "netnsPath", &has));
	if (has) {
		CHECK(env, napi_get_named_property(env, argv[0], "netnsPath", &v));
		CHECK(env, napi_typeof(env, v, &t));
		if (t == napi_string && get_string(env, v, ns, sizeof(ns)))
			return type_error(env, "workerStart: netnsPath too long");
	}
	for (size_t i = 0; i < n_specs; i++) {
		fds[i] = op_udp_open(specs[i].addr, specs[i].port, ns, specs[i].v6only);
		if (fds[i] < 0) {
			rc = fds[i];
			while (i-- > 0)
				close(fds[i]);
			return make_int(env, rc);
		}
		if (strchr(specs[i].addr, ':')) {
			want6 = true;
			want4 = want4 || !specs[i].v6only;
		} else {
			want4 = true;
		}
	}
	for (int fam = 4; plain_esp && fam <= 6; fam += 2) {
		int fd;

		if (!(fam == 4 ? want4 : want6))
			continue;
		fd = op_esp_open(fam, ns);
		if (fd >= 0)
			esp_fds[n_esp++] = fd;
		else if (!esp_error)
			esp_error = fd;
	}

	jw = calloc(1, sizeof(*jw));
	if (!jw) {
		for (size_t i = 0; i < n_specs; i++)
			close(fds[i]);
		for (size_t i = 0; i < n_esp; i++)
			close(esp_fds[i]);
		return make_int(env, -ENOMEM);
	}
	jw->env = env;
	CHECK(env, napi_get_named_property(env, argv[0], "onIke", &v));
	CHECK(env, napi_typeof(env, v, &t));
	if (t == napi_function) {
		CHECK(env, napi_create_string_utf8(env, "outpost-ike-rx", NAPI_AUTO_LENGTH, &name));
		CHECK(env, napi_create_threadsafe_function(env, v, NULL, name, 1024, 1, NULL, NULL, NULL, call_js_ike, &jw->tsfn));
		CHECK(env, napi_unref_threadsafe_function(env, jw->tsfn));
	}
	rc = op_worker_start(fds, n_specs, esp_fds, n_esp, (int)tun_fd, &cfg, on_ike, jw, &jw->w); /* closes the sockets on failure */
	if (rc) {
		if (jw->tsfn)
			napi_release_threadsafe_function(jw->tsfn, napi_tsfn_abort);
		free(jw);
		return make_int(env, rc);
	}
	CHECK(env, napi_create_external(env, jw, worker_finalize, NULL, &handle));
	CHECK(env, napi_add_env_cleanup_hook(env, worker_cleanup_hook, jw));
	CHECK(env, napi_create_object(env, &obj));
	CHECK(env, napi_create_array(env, &arr));
	for (size_t i = 0; i < op_worker_socket_count(jw->w); i++) {
		struct sockaddr_storage ss;
		char addr[INET6_ADDRSTRLEN];
		uint16_t port = 0;
		napi_value s, a;

		op_worker_socket_name(jw->w, i, &ss);
		sockaddr_text(&ss, addr, &port);
		CHECK(env, napi_create_object(env, &s));
		CHECK(env, napi_create_string_utf8(env, addr, NAPI_AUTO_LENGTH, &a));
		set_prop(env, s, "addr", a);
		set_prop(env, s, "port", make_int(env, port));
		CHECK(env, napi_set_element(env, arr, (uint32_t)i, s));
		if (i == 0)
			set_prop(env, obj, "port", make_int(env, port));
	}
	set_prop(env, obj, "handle", handle);
	set_prop(env, obj, "sockets", arr);
	{
		napi_value pe, fams;
		unsigned set = op_worker_esp_families(jw->w);
		uint32_t k = 0;

		CHECK(env, napi_create_object(env, &pe));
		CHECK(env, napi_create_array(env, &fams));
		for (int fam = 4; fam <= 6; fam += 2)
			if (set & (1u << fam))
				CHECK(env, napi_set_element(env, fams, k++, make_int(env, fam)));
		set_prop(env, pe, "families", fams);
		set_prop(env, pe, "error", make_int(env, esp_error));
		set_prop(env, obj, "plainEsp", pe);
	}
	return obj;
}

static napi_value js_worker_stop(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	struct js_worker *jw;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1 || !(jw = get_worker(env, argv[0])))
		return type_error(env, "workerStop(handle)");
	if (jw->stopped)
		return make_int(env, -EALREADY);
	napi_remove_env_cleanup_hook(env, worker_cleanup_hook, jw);
	worker_shutdown(jw);
	return make_int(env, 0);
}

/* Optional (addr, port) arguments at argv[i], argv[i+1]: 1 = absent, 0 = parsed, -1 = bad type, -errno = bad text. */
static int opt_endpoint_args(napi_env env, napi_value *argv, size_t argc, size_t i, struct op_endpoint *e)
{
	char addr[64];
	uint32_t port = 0;
	napi_valuetype t;

	if (argc <= i || napi_typeof(env, argv[i], &t) != napi_ok || t == napi_undefined || t == napi_null)
		return 1;
	if (get_string(env, argv[i], addr, sizeof(addr)))
		return -1;
	if (argc > i + 1 && napi_typeof(env, argv[i + 1], &t) == napi_ok && t != napi_undefined &&
	    (get_u32_arg(env, argv[i + 1], &port) || port > 65535))
		return -1;
	return text_endpoint(addr, (uint16_t)port, e);
}

/* workerSendIke(handle, msg, addr, port, localAddr?, localPort?) -> 0 | -errno; the non-ESP marker is added here */
static napi_value js_worker_send_ike(napi_env env, napi_callback_info info)
{
	size_t argc = 6, len;
	napi_value argv[6];
	struct js_worker *jw;
	const uint8_t *msg;
	char addr[64];
	uint32_t port;
	struct op_endpoint to, local;
	int rc, has_local;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 4 || !(jw = get_worker(env, argv[0])) || get_bytes(env, argv[1], &msg, &len) ||
	    get_string(env, argv[2], addr, sizeof(addr)) || get_u32_arg(env, argv[3], &port) || port > 65535)
		return type_error(env, "workerSendIke(handle, msg: Uint8Array, addr, port, localAddr?, localPort?)");
	has_local = opt_endpoint_args(env, argv, argc, 4, &local);
	if (has_local == -1)
		return type_error(env, "workerSendIke: localAddr must be an address string, localPort 0-65535");
	if (jw->stopped)
		return make_int(env, -ESHUTDOWN);
	rc = text_endpoint(addr, (uint16_t)port, &to);
	if (rc)
		return make_int(env, rc);
	if (has_local < 0)
		return make_int(env, has_local);
	return make_int(env, op_worker_send_ike(jw->w, msg, len, &to, has_local == 0 ? &local : NULL));
}

static int parse_prefix(const char *text, uint8_t *family, uint8_t prefix[16])
{
	memset(prefix, 0, 16);
	if (inet_pton(AF_INET, text, prefix) == 1) {
		*family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, prefix) == 1) {
		*family = 6;
		return 0;
	}
	return -EINVAL;
}

/*
 * workerRouteAdd(handle, { prefix, prefixLen, spi, remoteAddr, remotePort, localAddr?, localPort?, plainEsp? }) -> 0 | -errno;
 * plainEsp sends IP protocol 50 from the raw socket of the remote's family (ports unused).
 */
static napi_value js_worker_route_add(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], v;
	struct js_worker *jw;
	struct op_route rt;
	struct op_endpoint remote, local;
	char prefix[64], remote_text[64], local_text[64] = "";
	uint64_t plen, spi, rport, lport;
	bool has_local = false, plain_esp = false;
	int rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || !(jw = get_worker(env, argv[0])) ||
	    get_u64_prop(env, argv[1], "prefixLen", UINT64_MAX, &plen) || plen > 128 ||
	    get_u64_prop(env, argv[1], "spi", 0, &spi) || spi > UINT32_MAX ||
	    get_u64_prop(env, argv[1], "remotePort", 4500, &rport) || rport > 65535 ||
	    get_u64_prop(env, argv[1], "localPort", 0, &lport) || lport > 65535 ||
	    napi_get_named_property(env, argv[1], "prefix", &v) != napi_ok || get_string(env, v, prefix, sizeof(prefix)) ||
	    napi_get_named_property(env, argv[1], "remoteAddr", &v) != napi_ok || get_string(env, v, remote_text, sizeof(remote_text)) ||
	    napi_has_named_property(env, argv[1], "localAddr", &has_local) != napi_ok ||
	    (has_local && (napi_get_named_property(env, argv[1], "localAddr", &v) != napi_ok || get_string(env, v, local_text, sizeof(local_text)))) ||
	    get_bool_prop(env, argv[1], "plainEsp", &plain_esp))
		return type_error(env, "workerRouteAdd(handle, { prefix, prefixLen, spi, remoteAddr, remotePort, localAddr?, localPort?, plainEsp? })");
	if (jw->stopped)
		return make_int(env, -ESHUTDOWN);
	memset(&rt, 0, sizeof(rt));
	if (parse_prefix(prefix, &rt.family, rt.prefix))
		return make_int(env, -EINVAL);
	rt.plen = (uint8_t)plen;
	rt.spi = (uint32_t)spi;
	rc = text_endpoint(remote_text, (uint16_t)rport, &remote);
	if (!rc && has_local)
		rc = text_endpoint(local_text, (uint16_t)lport, &local);
	else if (!rc && lport) {
		memset(&local, 0, sizeof(local));
		local.family = remote.family;
		local.port = (uint16_t)lport;
		has_local = true;
	}
	if (rc)
		return make_int(env, rc);
	return make_int(env, op_worker_route_add(jw->w, &rt, &remote, has_local ? &local : NULL, plain_esp));
}

/* workerRouteDel(handle, prefix, prefixLen) -> 0 | -errno */
static napi_value js_worker_route_del(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3];
	struct js_worker *jw;
	char prefix[64];
	uint8_t family, p[16];
	uint32_t plen;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 3 || !(jw = get_worker(env, argv[0])) || get_string(env, argv[1], prefix, sizeof(prefix)) ||
	    get_u32_arg(env, argv[2], &plen) || plen > 128)
		return type_error(env, "workerRouteDel(handle, prefix, prefixLen)");
	if (jw->stopped)
		return make_int(env, -ESHUTDOWN);
	if (parse_prefix(prefix, &family, p))
		return make_int(env, -EINVAL);
	return make_int(env, op_routes_del(op_worker_routes(jw->w), family, p, (uint8_t)plen));
}

/* workerConfigure(handle, { tunMtu?, pathMtu?, clampMss? }) -> 0 | -errno; absent fields are left as they are */
static napi_value js_worker_configure(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2];
	struct js_worker *jw;
	struct op_worker_config cfg;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || !(jw = get_worker(env, argv[0])))
		return type_error(env, "workerConfigure(handle, { tunMtu?, pathMtu?, clampMss? })");
	if (jw->stopped)
		return make_int(env, -ESHUTDOWN);
	op_worker_get_config(jw->w, &cfg);
	if (get_worker_config(env, argv[1], &cfg))
		return type_error(env, "workerConfigure: tunMtu/pathMtu must be 0-65535, clampMss a boolean");
	op_worker_set_config(jw->w, &cfg);
	return make_int(env, 0);
}

static napi_value js_worker_stats(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], obj;
	struct js_worker *jw;
	struct op_worker_stats s;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1 || !(jw = get_worker(env, argv[0])))
		return type_error(env, "workerStats(handle)");
	if (jw->stopped)
		return make_int(env, -ESHUTDOWN);
	op_worker_get_stats(jw->w, &s);
	CHECK(env, napi_create_object(env, &obj));
	set_prop(env, obj, "udpRx", make_u64(env, s.udp_rx));
	set_prop(env, obj, "ikeRx", make_u64(env, s.ike_rx));
	set_prop(env, obj, "ikeTx", make_u64(env, s.ike_tx));
	set_prop(env, obj, "keepaliveRx", make_u64(env, s.keepalive_rx));
	set_prop(env, obj, "espRx", make_u64(env, s.esp_rx));
	set_prop(env, obj, "espDrops", make_u64(env, s.esp_drops));
	set_prop(env, obj, "runtDrops", make_u64(env, s.runt_drops));
	set_prop(env, obj, "tunRx", make_u64(env, s.tun_rx));
	set_prop(env, obj, "noRoute", make_u64(env, s.no_route));
	set_prop(env, obj, "espTx", make_u64(env, s.esp_tx));
	set_prop(env, obj, "encryptDrops", make_u64(env, s.encrypt_drops));
	set_prop(env, obj, "txErrors", make_u64(env, s.tx_errors));
	set_prop(env, obj, "mssClamped", make_u64(env, s.mss_clamped));
	set_prop(env, obj, "tooBig", make_u64(env, s.too_big));
	set_prop(env, obj, "rawRx", make_u64(env, s.raw_rx));
	set_prop(env, obj, "dropNoSa", make_u64(env, s.drop_no_sa));
	set_prop(env, obj, "dropTruncated", make_u64(env, s.drop_truncated));
	set_prop(env, obj, "dropReplay", make_u64(env, s.drop_replay));
	set_prop(env, obj, "dropAuth", make_u64(env, s.drop_auth));
	set_prop(env, obj, "dropMalformed", make_u64(env, s.drop_malformed));
	set_prop(env, obj, "dropPolicy", make_u64(env, s.drop_policy));
	set_prop(env, obj, "dropExpired", make_u64(env, s.drop_expired));
	set_prop(env, obj, "gsoRx", make_u64(env, s.gso_rx));
	set_prop(env, obj, "groTx", make_u64(env, s.gro_tx));
	set_prop(env, obj, "udpGsoTx", make_u64(env, s.udp_gso_tx));
	set_prop(env, obj, "udpGroRx", make_u64(env, s.udp_gro_rx));
	set_prop(env, obj, "ikeQueueDrops", make_u64(env, atomic_load(&jw->ike_queue_drops)));
	set_prop(env, obj, "routes", make_int(env, (int64_t)op_routes_count(op_worker_routes(jw->w))));
	return obj;
}

/* tunSetup(name, mtu, netnsPath?) -> ifindex | -errno: MTU set (when mtu > 0) and the link up */
static napi_value js_tun_setup(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3];
	char name[64], ns[4096] = "";
	uint32_t mtu;
	napi_valuetype t;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || get_string(env, argv[0], name, sizeof(name)) || get_u32_arg(env, argv[1], &mtu) || mtu > 65535)
		return type_error(env, "tunSetup(name, mtu 0-65535, netnsPath?)");
	if (argc >= 3 && napi_typeof(env, argv[2], &t) == napi_ok && t == napi_string && get_string(env, argv[2], ns, sizeof(ns)))
		return type_error(env, "tunSetup: netnsPath too long");
	return make_int(env, op_tun_setup(name, mtu, ns));
}

/* tunRoute(ifindex, add, prefix, prefixLen, netnsPath?) -> 0 | -errno (-EEXIST: a route is there already) */
static napi_value js_tun_route(napi_env env, napi_callback_info info)
{
	size_t argc = 5;
	napi_value argv[5];
	char prefix[64], ns[4096] = "";
	uint32_t ifindex, plen;
	uint8_t family, p[16];
	bool add;
	napi_valuetype t;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 4 || get_u32_arg(env, argv[0], &ifindex) || ifindex > INT32_MAX || napi_get_value_bool(env, argv[1], &add) != napi_ok ||
	    get_string(env, argv[2], prefix, sizeof(prefix)) || get_u32_arg(env, argv[3], &plen) || plen > 128)
		return type_error(env, "tunRoute(ifindex, add: boolean, prefix, prefixLen, netnsPath?)");
	if (argc >= 5 && napi_typeof(env, argv[4], &t) == napi_ok && t == napi_string && get_string(env, argv[4], ns, sizeof(ns)))
		return type_error(env, "tunRoute: netnsPath too long");
	if (parse_prefix(prefix, &family, p))
		return make_int(env, -EINVAL);
	return make_int(env, op_tun_route((int)ifindex, add, family, p, plen, ns));
}

/* tcpClampMss(packet, mss) -> 1 (rewritten in place) | 0 (left alone) | -errno; the worker's own code path */
static napi_value js_tcp_clamp_mss(napi_env env, napi_callback_info info)
{
	size_t argc = 2, len;
	napi_value argv[2];
	const uint8_t *pkt;
	uint32_t mss;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || get_bytes(env, argv[0], &pkt, &len) || get_u32_arg(env, argv[1], &mss) || mss > 65535)
		return type_error(env, "tcpClampMss(packet: Uint8Array, mss 0-65535)");
	return make_int(env, op_tcp_clamp_mss((uint8_t *)pkt, len, (uint16_t)mss));
}

/* icmpTooBig(packet, mtu) -> Uint8Array (the ICMP error the worker would write into the TUN) | -errno */
static napi_value js_icmp_too_big(napi_env env, napi_callback_info info)
{
	size_t argc = 2, len;
	napi_value argv[2];
	const uint8_t *pkt;
	uint32_t mtu;
	uint8_t out[1280];
	ssize_t n;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || get_bytes(env, argv[0], &pkt, &len) || get_u32_arg(env, argv[1], &mtu))
		return type_error(env, "icmpTooBig(packet: Uint8Array, mtu)");
	n = op_icmp_too_big(pkt, len, mtu, out, sizeof(out));
	return n < 0 ? make_int(env, n) : bytes_result(env, out, (size_t)n);
}

/*
 * tsoSegment(vnetPacket) -> Uint8Array[] | -errno: what the worker makes of one TUN read with a virtio-net header
 * (segments of a GSO packet, or the packet with its partial checksum finished). For tests.
 */
static napi_value js_tso_segment(napi_env env, napi_callback_info info)
{
	size_t argc = 1, len;
	napi_value argv[1], arr;
	const uint8_t *in;
	struct op_vnet_hdr h;
	uint8_t *buf;
	uint32_t k = 0;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1 || get_bytes(env, argv[0], &in, &len))
		return type_error(env, "tsoSegment(vnetPacket: Uint8Array)");
	if (len < OP_VNET_HDR_LEN)
		return make_int(env, -EINVAL);
	op_vnet_read(in, &h);
	CHECK(env, napi_create_array(env, &arr));
	buf = malloc(65536 + len);
	if (!buf)
		return make_int(env, -ENOMEM);
	if (h.gso_type == OP_VNET_GSO_NONE) {
		memcpy(buf, in + OP_VNET_HDR_LEN, len - OP_VNET_HDR_LEN);
		if ((h.flags & OP_VNET_F_NEEDS_CSUM) && op_csum_complete(buf, len - OP_VNET_HDR_LEN, h.csum_start, h.csum_offset)) {
			free(buf);
			return make_int(env, -EINVAL);
		}
		napi_set_element(env, arr, 0, bytes_result(env, buf, len - OP_VNET_HDR_LEN));
	} else {
		struct op_tso t;
		ssize_t n;
		int rc = op_tso_init(&t, in + OP_VNET_HDR_LEN, len - OP_VNET_HDR_LEN, &h);
		if (rc) {
			free(buf);
			return make_int(env, rc);
		}
		while ((n = op_tso_next(&t, buf, 65536)) > 0)
			napi_set_element(env, arr, k++, bytes_result(env, buf, (size_t)n));
	}
	free(buf);
	return arr;
}

/* groCoalesce(packets: Uint8Array[]) -> Uint8Array[]: each TUN write the worker would make (virtio-net header first). */
static napi_value js_gro_coalesce(napi_env env, napi_callback_info info)
{
	size_t argc = 1, n_units;
	napi_value argv[1], arr, out;
	uint32_t n = 0;
	bool is_arr = false;
	uint8_t *arena = NULL, *w;
	struct op_gro_pkt *pkts = NULL;
	struct op_gro_unit *units = NULL;
	size_t total = 0;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1 || napi_is_array(env, argv[0], &is_arr) != napi_ok || !is_arr)
		return type_error(env, "groCoalesce(packets: Uint8Array[])");
	napi_get_array_length(env, argv[0], &n);
	for (uint32_t i = 0; i < n; i++) {
		napi_value v;
		const uint8_t *d;
		size_t l;
		if (napi_get_element(env, argv[0], i, &v) != napi_ok || get_bytes(env, v, &d, &l))
			return type_error(env, "groCoalesce: every packet must be a Uint8Array");
		total += l + OP_VNET_HDR_LEN;
	}
	arena = malloc(total + 1);
	pkts = calloc(n + 1, sizeof(*pkts));
	units = calloc(n + 1, sizeof(*units));
	if (!arena || !pkts || !units) {
		free(arena);
		free(pkts);
		free(units);
		return make_int(env, -ENOMEM);
	}
	w = arena;
	for (uint32_t i = 0; i < n; i++) {
		napi_value v;
		const uint8_t *d = NULL;
		size_t l = 0;
		if (napi_get_element(env, argv[0], i, &v) != napi_ok || get_bytes(env, v, &d, &l))
			l = 0; /* checked above; only a getter changing the array could get here */
		if (l)
			memcpy(w + OP_VNET_HDR_LEN, d, l);
		pkts[i] = (struct op_gro_pkt){ .data = w + OP_VNET_HDR_LEN, .len = l };
		w += OP_VNET_HDR_LEN + l;
	}
	n_units = op_gro_coalesce(pkts, n, units);
	CHECK(env, napi_create_array(env, &arr));
	for (size_t u = 0; u < n_units; u++) {
		struct op_gro_pkt *h = &pkts[units[u].head];
		size_t len = OP_VNET_HDR_LEN + units[u].len, off;
		uint8_t *buf = malloc(len);
		if (!buf)
			break;
		memcpy(buf, h->data - OP_VNET_HDR_LEN, OP_VNET_HDR_LEN + h->len);
		off = OP_VNET_HDR_LEN + h->len;
		for (int32_t m = h->next; m >= 0; m = pkts[m].next) {
			memcpy(buf + off, pkts[m].data + pkts[m].hlen, pkts[m].len - pkts[m].hlen);
			off += pkts[m].len - pkts[m].hlen;
		}
		out = bytes_result(env, buf, off);
		free(buf);
		napi_set_element(env, arr, (uint32_t)u, out);
	}
	free(arena);
	free(pkts);
	free(units);
	return arr;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * benchEsp(spi, innerLen, count) -> { encryptNs, decryptNs, packets } | -errno. Runs the C path alone (no N-API
 * per packet): batches of 64 packets through the outbound SA, then through the inbound SA of the same SPI.
 */
static napi_value js_bench_esp(napi_env env, napi_callback_info info)
{
	enum { BATCH = 64 };
	size_t argc = 3;
	napi_value argv[3], obj;
	uint32_t spi, inner_len, count, done = 0;
	uint8_t *inner, *bufs, *out;
	ssize_t lens[BATCH];
	int64_t enc_ns = 0, dec_ns = 0;
	ssize_t rc = 0;
	struct op_esp_info esp;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 3 || get_u32_arg(env, argv[0], &spi) || get_u32_arg(env, argv[1], &inner_len) ||
	    get_u32_arg(env, argv[2], &count) || inner_len < 20 || inner_len > OP_ESP_MAX_INNER)
		return type_error(env, "benchEsp(spi, innerLen >= 20, count)");
	size_t slot = inner_len + OP_ESP_MAX_OVERHEAD;
	inner = calloc(1, inner_len);
	bufs = malloc(slot * BATCH);
	out = malloc(slot);
	if (!inner || !bufs || !out) {
		rc = -ENOMEM;
		goto done;
	}
	inner[0] = 0x45;
	while (done < count) {
		uint32_t n = count - done < BATCH ? count - done : BATCH;
		int64_t t0 = mono_ns();
		for (uint32_t i = 0; i < n; i++) {
			lens[i] = op_esp_encrypt(spi, inner, inner_len, OP_NH_IPV4, bufs + i * slot, slot);
			if (lens[i] < 0) {
				rc = lens[i];
				goto done;
			}
		}
		int64_t t1 = mono_ns();
		for (uint32_t i = 0; i < n; i++) {
			rc = op_esp_decrypt(bufs + i * slot, (size_t)lens[i], out, slot, &esp);
			if (rc < 0)
				goto done;
		}
		enc_ns += t1 - t0;
		dec_ns += mono_ns() - t1;
		done += n;
	}
	rc = 0;
done:
	free(inner);
	free(bufs);
	free(out);
	if (rc < 0)
		return make_int(env, rc);
	CHECK(env, napi_create_object(env, &obj));
	set_prop(env, obj, "encryptNs", make_int(env, enc_ns));
	set_prop(env, obj, "decryptNs", make_int(env, dec_ns));
	set_prop(env, obj, "packets", make_int(env, done));
	return obj;
}

static void cleanup_hook(void *arg)
{
	(void)arg;
	op_events_set_notify(NULL, NULL);
	release_listener();
}

static napi_value init(napi_env env, napi_value exports)
{
	static const struct {
		const char *name;
		napi_callback fn;
	} fns[] = {
		{ "saAdd", js_sa_add },         { "saDel", js_sa_del },       { "saQuery", js_sa_query },
		{ "saExists", js_sa_exists },   { "saCount", js_sa_count },   { "saFlush", js_sa_flush },
		{ "encrypt", js_encrypt },      { "decrypt", js_decrypt },    { "takeEvents", js_take_events },
		{ "onEvents", js_on_events },   { "globalStats", js_global_stats }, { "tunOpen", js_tun_open },
		{ "closeFd", js_close_fd },     { "errnoName", js_errno_name }, { "benchEsp", js_bench_esp },
		{ "workerStart", js_worker_start }, { "workerStop", js_worker_stop }, { "workerSendIke", js_worker_send_ike },
		{ "workerRouteAdd", js_worker_route_add }, { "workerRouteDel", js_worker_route_del }, { "workerStats", js_worker_stats },
		{ "workerConfigure", js_worker_configure }, { "tunSetup", js_tun_setup }, { "tunRoute", js_tun_route },
		{ "tcpClampMss", js_tcp_clamp_mss }, { "icmpTooBig", js_icmp_too_big },
		{ "tsoSegment", js_tso_segment }, { "groCoalesce", js_gro_coalesce },
	};
	napi_value v;

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		CHECK(env, napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &v));
		CHECK(env, napi_set_named_property(env, exports, fns[i].name, v));
	}
	CHECK(env, napi_create_string_utf8(env, OpenSSL_version(OPENSSL_VERSION), NAPI_AUTO_LENGTH, &v));
	CHECK(env, napi_set_named_property(env, exports, "opensslVersion", v));
	CHECK(env, napi_create_uint32(env, 4, &v));
	CHECK(env, napi_set_named_property(env, exports, "abiVersion", v));
	CHECK(env, napi_add_env_cleanup_hook(env, cleanup_hook, NULL));
	if (op_xfrm_register(env, exports))
		return NULL;
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
