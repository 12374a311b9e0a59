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
#include "op_sa.h"
#include "op_ts.h"
#include "op_tun.h"
#include "op_worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>

#define CHECK(env, call)                                                                                        \
	do {                                                                                                    \
		if ((call) != napi_ok) {                                                                        \
			napi_throw_error((env), "EINTERNAL", "N-API call failed: " #call);                       \
			return NULL;                                                                            \
		}                                                                                               \
	} while (0)

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

static napi_value type_error(napi_env env, const char *msg)
{
	napi_throw_type_error(env, "EINVAL", msg);
	return NULL;
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

/* tunOpen(name, netnsPath?, nonblocking?) -> { fd, name } | -errno */
static napi_value js_tun_open(napi_env env, napi_callback_info info)
{
	size_t argc = 3, n;
	napi_value argv[3], obj, s;
	char name[64] = "", ns[4096] = "", out_name[64];
	napi_valuetype t;
	bool nonblocking = false;
	int fd;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc >= 1 && napi_typeof(env, argv[0], &t) == napi_ok && t == napi_string)
		CHECK(env, napi_get_value_string_utf8(env, argv[0], name, sizeof(name), &n));
	if (argc >= 2 && napi_typeof(env, argv[1], &t) == napi_ok && t == napi_string)
		CHECK(env, napi_get_value_string_utf8(env, argv[1], ns, sizeof(ns), &n));
	if (argc >= 3 && napi_typeof(env, argv[2], &t) == napi_ok && t == napi_boolean)
		CHECK(env, napi_get_value_bool(env, argv[2], &nonblocking));
	fd = op_tun_open(name, ns, nonblocking, out_name, sizeof(out_name));
	if (fd < 0)
		return make_int(env, fd);
	CHECK(env, napi_create_object(env, &obj));
	set_prop(env, obj, "fd", make_int(env, fd));
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
	uint8_t data[];
};

static void sockaddr_text(const struct sockaddr_storage *ss, char *addr, uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, addr, INET6_ADDRSTRLEN);
		*port = ntohs(a->sin_port);
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
			inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], addr, INET6_ADDRSTRLEN);
		else
			inet_ntop(AF_INET6, &a->sin6_addr, addr, INET6_ADDRSTRLEN);
		*port = ntohs(a->sin6_port);
	}
}

/* Text address + port -> sockaddr of the socket's family (IPv4 peers on a "::" socket become v4-mapped). */
static int text_sockaddr(int family, const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct in_addr a4;
	struct in6_addr a6;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &a4) == 1) {
		if (family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
			s4->sin_family = AF_INET;
			s4->sin_addr = a4;
			s4->sin_port = htons(port);
			*len = sizeof(*s4);
			return 0;
		}
		memset(&a6, 0, sizeof(a6));
		a6.s6_addr[10] = a6.s6_addr[11] = 0xff;
		memcpy(&a6.s6_addr[12], &a4, 4);
	} else if (inet_pton(AF_INET6, addr, &a6) != 1) {
		return -EINVAL;
	} else if (family == AF_INET) {
		return -EAFNOSUPPORT;
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_addr = a6;
	s6->sin6_port = htons(port);
	*len = sizeof(*s6);
	return 0;
}

static void on_ike(void *arg, const uint8_t *msg, size_t len, const struct sockaddr_storage *from, socklen_t from_len)
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
	if (napi_call_threadsafe_function(jw->tsfn, m, napi_tsfn_nonblocking) != napi_ok) {
		atomic_fetch_add(&jw->ike_queue_drops, 1);
		free(m);
	}
}

static void call_js_ike(napi_env env, napi_value js_cb, void *context, void *data)
{
	struct ike_msg *m = data;
	napi_value argv[3], undef;

	(void)context;
	if (env && js_cb) {
		argv[0] = bytes_result(env, m->data, m->len);
		napi_create_string_utf8(env, m->addr, NAPI_AUTO_LENGTH, &argv[1]);
		napi_create_uint32(env, m->port, &argv[2]);
		napi_get_undefined(env, &undef);
		if (argv[0])
			napi_call_function(env, undef, js_cb, 3, argv, NULL);
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

/* workerStart({ tunFd, bindAddr, port, netnsPath?, onIke? }) -> { handle, port } | -errno */
static napi_value js_worker_start(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], v, obj, handle, name;
	char bind_addr[64] = "", ns[4096] = "";
	uint64_t tun_fd, port;
	napi_valuetype t = napi_undefined;
	bool has = false;
	struct js_worker *jw;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char unused[INET6_ADDRSTRLEN];
	uint16_t bound_port = 0;
	int udp_fd, rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1 || get_u64_prop(env, argv[0], "tunFd", UINT64_MAX, &tun_fd) || tun_fd > INT32_MAX ||
	    get_u64_prop(env, argv[0], "port", 4500, &port) || port > 65535)
		return type_error(env, "workerStart({ tunFd, bindAddr, port, netnsPath?, onIke? })");
	CHECK(env, napi_get_named_property(env, argv[0], "bindAddr", &v));
	if (get_string(env, v, bind_addr, sizeof(bind_addr)))
		return type_error(env, "workerStart: bindAddr must be an address string");
	CHECK(env, napi_has_named_property(env, argv[0], "netnsPath", &has));
	if (has) {
		CHECK(env, napi_get_named_property(env, argv[0], "netnsPath", &v));
		CHECK(env, napi_typeof(env, v, &t));
		if (t == napi_string && get_string(env, v, ns, sizeof(ns)))
			return type_error(env, "workerStart: netnsPath too long");
	}
	udp_fd = op_udp_open(bind_addr, (uint16_t)port, ns);
	if (udp_fd < 0)
		return make_int(env, udp_fd);
	if (getsockname(udp_fd, (struct sockaddr *)&ss, &sl) == 0)
		sockaddr_text(&ss, unused, &bound_port);

	jw = calloc(1, sizeof(*jw));
	if (!jw) {
		close(udp_fd);
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
	rc = op_worker_start(udp_fd, (int)tun_fd, on_ike, jw, &jw->w);
	if (rc) {
		close(udp_fd);
		if (jw->tsfn)
			napi_release_threadsafe_function(jw->tsfn, napi_tsfn_abort);
		free(jw);
		return make_int(env, rc);
	}
	CHECK(env, napi_create_external(env, jw, worker_finalize, NULL, &handle));
	CHECK(env, napi_add_env_cleanup_hook(env, worker_cleanup_hook, jw));
	CHECK(env, napi_create_object(env, &obj));
	set_prop(env, obj, "handle", handle);
	set_prop(env, obj, "port", make_int(env, bound_port));
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

/* workerSendIke(handle, msg, addr, port) -> 0 | -errno; the non-ESP marker is added here */
static napi_value js_worker_send_ike(napi_env env, napi_callback_info info)
{
	size_t argc = 4, len;
	napi_value argv[4];
	struct js_worker *jw;
	const uint8_t *msg;
	char addr[64];
	uint32_t port;
	struct sockaddr_storage ss;
	socklen_t sl;
	int rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 4 || !(jw = get_worker(env, argv[0])) || get_bytes(env, argv[1], &msg, &len) ||
	    get_string(env, argv[2], addr, sizeof(addr)) || get_u32_arg(env, argv[3], &port) || port > 65535)
		return type_error(env, "workerSendIke(handle, msg: Uint8Array, addr, port)");
	if (jw->stopped)
		return make_int(env, -ESHUTDOWN);
	rc = text_sockaddr(op_worker_socket_family(jw->w), addr, (uint16_t)port, &ss, &sl);
	if (rc)
		return make_int(env, rc);
	return make_int(env, op_worker_send_ike(jw->w, msg, len, (struct sockaddr *)&ss, sl));
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

/* workerRouteAdd(handle, { prefix, prefixLen, spi, remoteAddr, remotePort }) -> 0 | -errno */
static napi_value js_worker_route_add(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], v;
	struct js_worker *jw;
	struct op_route rt;
	char prefix[64], remote[64];
	uint64_t plen, spi, rport;
	int rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 2 || !(jw = get_worker(env, argv[0])) ||
	    get_u64_prop(env, argv[1], "prefixLen", UINT64_MAX, &plen) || plen > 128 ||
	    get_u64_prop(env, argv[1], "spi", 0, &spi) || spi > UINT32_MAX ||
	    get_u64_prop(env, argv[1], "remotePort", 4500, &rport) || rport > 65535 ||
	    napi_get_named_property(env, argv[1], "prefix", &v) != napi_ok || get_string(env, v, prefix, sizeof(prefix)) ||
	    napi_get_named_property(env, argv[1], "remoteAddr", &v) != napi_ok || get_string(env, v, remote, sizeof(remote)))
		return type_error(env, "workerRouteAdd(handle, { prefix, prefixLen, spi, remoteAddr, remotePort })");
	if (jw->stopped)
		return make_int(env, -ESHUTDOWN);
	memset(&rt, 0, sizeof(rt));
	if (parse_prefix(prefix, &rt.family, rt.prefix))
		return make_int(env, -EINVAL);
	rt.plen = (uint8_t)plen;
	rt.spi = (uint32_t)spi;
	rc = text_sockaddr(op_worker_socket_family(jw->w), remote, (uint16_t)rport, &rt.remote, &rt.remote_len);
	if (rc)
		return make_int(env, rc);
	return make_int(env, op_routes_add(op_worker_routes(jw->w), &rt));
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
	set_prop(env, obj, "keepaliveRx", make_u64(env, s.keepalive_rx));
	set_prop(env, obj, "espRx", make_u64(env, s.esp_rx));
	set_prop(env, obj, "espDrops", make_u64(env, s.esp_drops));
	set_prop(env, obj, "runtDrops", make_u64(env, s.runt_drops));
	set_prop(env, obj, "tunRx", make_u64(env, s.tun_rx));
	set_prop(env, obj, "noRoute", make_u64(env, s.no_route));
	set_prop(env, obj, "espTx", make_u64(env, s.esp_tx));
	set_prop(env, obj, "encryptDrops", make_u64(env, s.encrypt_drops));
	set_prop(env, obj, "txErrors", make_u64(env, s.tx_errors));
	set_prop(env, obj, "ikeQueueDrops", make_u64(env, atomic_load(&jw->ike_queue_drops)));
	set_prop(env, obj, "routes", make_int(env, (int64_t)op_routes_count(op_worker_routes(jw->w))));
	return obj;
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
	};
	napi_value v;

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		CHECK(env, napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &v));
		CHECK(env, napi_set_named_property(env, exports, fns[i].name, v));
	}
	CHECK(env, napi_create_string_utf8(env, OpenSSL_version(OPENSSL_VERSION), NAPI_AUTO_LENGTH, &v));
	CHECK(env, napi_set_named_property(env, exports, "opensslVersion", v));
	CHECK(env, napi_create_uint32(env, 2, &v));
	CHECK(env, napi_set_named_property(env, exports, "abiVersion", v));
	CHECK(env, napi_add_env_cleanup_hook(env, cleanup_hook, NULL));
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
