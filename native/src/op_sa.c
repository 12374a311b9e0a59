/*
 * SA table of the userspace data plane (RFC 4301 §4.4.2) and its expire-event queue.
 *
 * Ownership: the table holds one reference per SA; every packet holds another while it works (op_sa_get /
 * op_sa_put), so deleting an SA under traffic frees it only when the last packet is done. Lock order is
 * table lock -> sa->lock -> events lock; crypto_lock is never held together with sa->lock.
 */
#include "op_sa.h"
#include "op_common.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#define INITIAL_BUCKETS 256u

static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct op_sa **buckets;
static size_t n_buckets;
static size_t n_sas;

static atomic_uint_fast64_t stat_no_sa;
static atomic_uint_fast64_t stat_truncated;

static uint32_t bucket_of(uint32_t spi, enum op_dir dir, size_t n)
{
	uint32_t h = (spi ^ ((uint32_t)dir << 31)) * 2654435761u; /* Knuth's multiplicative hash */
	return (uint32_t)((h ^ (h >> 16)) & (n - 1));
}

static struct op_sa *find_locked(uint32_t spi, enum op_dir dir)
{
	if (!buckets)
		return NULL;
	for (struct op_sa *sa = buckets[bucket_of(spi, dir, n_buckets)]; sa; sa = sa->next)
		if (sa->spi == spi && sa->dir == dir)
			return sa;
	return NULL;
}

static int grow_locked(void)
{
	size_t n = n_buckets ? n_buckets * 2 : INITIAL_BUCKETS;
	struct op_sa **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	for (size_t i = 0; i < n_buckets; i++) {
		struct op_sa *sa = buckets[i];
		while (sa) {
			struct op_sa *next = sa->next;
			uint32_t b = bucket_of(sa->spi, sa->dir, n);
			sa->next = nb[b];
			nb[b] = sa;
			sa = next;
		}
	}
	free(buckets);
	buckets = nb;
	n_buckets = n;
	return 0;
}

static void sa_destroy(struct op_sa *sa)
{
	op_xform_free(&sa->xform);
	op_replay_free(&sa->replay);
	pthread_mutex_destroy(&sa->crypto_lock);
	pthread_mutex_destroy(&sa->lock);
	OPENSSL_cleanse(sa, sizeof(*sa));
	free(sa);
}

int op_sa_add(const struct op_sa_params *p)
{
	struct op_sa *sa;
	int rc;

	if (p->spi < 256)
		return -EINVAL; /* 1-255 reserved by IANA, 0 for local use (RFC 4303 §2.1) */
	if (p->dir != OP_DIR_IN && p->dir != OP_DIR_OUT)
		return -EINVAL;
	if (!p->esn && p->initial_seq > UINT32_MAX)
		return -EINVAL;
	if (p->n_local_ts > OP_TS_MAX || p->n_remote_ts > OP_TS_MAX)
		return -EINVAL;
	sa = calloc(1, sizeof(*sa));
	if (!sa)
		return -ENOMEM;
	sa->spi = p->spi;
	sa->dir = p->dir;
	sa->esn = p->esn;
	sa->limits = p->limits;
	memcpy(sa->local_ts, p->local_ts, sizeof(sa->local_ts));
	sa->n_local_ts = p->n_local_ts;
	memcpy(sa->remote_ts, p->remote_ts, sizeof(sa->remote_ts));
	sa->n_remote_ts = p->n_remote_ts;
	sa->c.last_used_ms = -1;
	atomic_init(&sa->refs, 1);
	pthread_mutex_init(&sa->crypto_lock, NULL);
	pthread_mutex_init(&sa->lock, NULL);
	rc = op_xform_init(&sa->xform, &p->xform, p->dir == OP_DIR_OUT);
	if (rc == 0)
		rc = op_replay_init(&sa->replay, p->dir == OP_DIR_IN ? p->replay_window : 0,
				    p->dir == OP_DIR_IN ? p->initial_seq : 0);
	if (rc) {
		sa_destroy(sa);
		return rc;
	}
	sa->tx_seq = p->dir == OP_DIR_OUT ? p->initial_seq : 0;
	sa->c.seq = p->initial_seq;

	pthread_rwlock_wrlock(&table_lock);
	if (find_locked(p->spi, p->dir)) {
		rc = -EEXIST;
	} else if ((n_sas + 1 > n_buckets * 2) && (rc = grow_locked()) != 0) {
		/* rc set */
	} else {
		uint32_t b = bucket_of(p->spi, p->dir, n_buckets);
		sa->next = buckets[b];
		buckets[b] = sa;
		n_sas++;
		sa = NULL;
	}
	pthread_rwlock_unlock(&table_lock);
	if (sa)
		sa_destroy(sa);
	return rc;
}

int op_sa_del(uint32_t spi, enum op_dir dir)
{
	struct op_sa *found = NULL;

	pthread_rwlock_wrlock(&table_lock);
	if (buckets) {
		struct op_sa **pp = &buckets[bucket_of(spi, dir, n_buckets)];
		for (; *pp; pp = &(*pp)->next) {
			if ((*pp)->spi == spi && (*pp)->dir == dir) {
				found = *pp;
				*pp = found->next;
				found->next = NULL;
				n_sas--;
				break;
			}
		}
	}
	pthread_rwlock_unlock(&table_lock);
	if (!found)
		return -ENOENT;
	op_sa_put(found);
	return 0;
}

struct op_sa *op_sa_get(uint32_t spi, enum op_dir dir)
{
	struct op_sa *sa;

	pthread_rwlock_rdlock(&table_lock);
	sa = find_locked(spi, dir);
	if (sa)
		atomic_fetch_add_explicit(&sa->refs, 1, memory_order_relaxed);
	pthread_rwlock_unlock(&table_lock);
	return sa;
}

void op_sa_put(struct op_sa *sa)
{
	if (atomic_fetch_sub_explicit(&sa->refs, 1, memory_order_acq_rel) == 1)
		sa_destroy(sa);
}

int op_sa_query(uint32_t spi, enum op_dir dir, struct op_sa_counters *out)
{
	struct op_sa *sa = op_sa_get(spi, dir);

	if (!sa)
		return -ENOENT;
	pthread_mutex_lock(&sa->lock);
	*out = sa->c;
	out->seq = dir == OP_DIR_OUT ? sa->tx_seq : sa->replay.top;
	pthread_mutex_unlock(&sa->lock);
	op_sa_put(sa);
	return 0;
}

bool op_sa_exists(uint32_t spi, enum op_dir dir)
{
	bool found;

	pthread_rwlock_rdlock(&table_lock);
	found = find_locked(spi, dir) != NULL;
	pthread_rwlock_unlock(&table_lock);
	return found;
}

size_t op_sa_count(void)
{
	size_t n;

	pthread_rwlock_rdlock(&table_lock);
	n = n_sas;
	pthread_rwlock_unlock(&table_lock);
	return n;
}

void op_sa_flush(void)
{
	struct op_sa *all = NULL;

	pthread_rwlock_wrlock(&table_lock);
	for (size_t i = 0; i < n_buckets; i++) {
		while (buckets[i]) {
			struct op_sa *sa = buckets[i];
			buckets[i] = sa->next;
			sa->next = all;
			all = sa;
		}
	}
	n_sas = 0;
	pthread_rwlock_unlock(&table_lock);
	while (all) {
		struct op_sa *next = all->next;
		all->next = NULL;
		op_sa_put(all);
		all = next;
	}
}

bool op_sa_selectors_allow(const struct op_sa *sa, const struct op_flow *f)
{
	bool src_ok = false, dst_ok = false;

	for (size_t i = 0; i < sa->n_remote_ts && !src_ok; i++)
		src_ok = op_ts_match(&sa->remote_ts[i], f, true);
	for (size_t i = 0; i < sa->n_local_ts && !dst_ok; i++)
		dst_ok = op_ts_match(&sa->local_ts[i], f, false);
	return src_ok && dst_ok;
}

/* ---- expire events ---- */

struct event_node {
	struct event_node *next;
	struct op_event ev;
};

static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static struct event_node *events_head, *events_tail;
static void (*events_notify)(void *);
static void *events_notify_arg;

void op_events_set_notify(void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&events_lock);
	events_notify = fn;
	events_notify_arg = arg;
	pthread_mutex_unlock(&events_lock);
}

static void push_event(uint32_t spi, enum op_dir dir, bool hard)
{
	struct event_node *n = malloc(sizeof(*n));
	void (*fn)(void *) = NULL;
	void *arg = NULL;

	if (!n)
		return; /* the SA's flags still show the state to a later query */
	n->next = NULL;
	n->ev.spi = spi;
	n->ev.dir = dir;
	n->ev.hard = hard;
	pthread_mutex_lock(&events_lock);
	if (events_tail)
		events_tail->next = n;
	else
		events_head = n;
	if (!events_head->next) { /* the queue was empty: wake the consumer once, it drains everything */
		fn = events_notify;
		arg = events_notify_arg;
	}
	events_tail = n;
	pthread_mutex_unlock(&events_lock);
	if (fn)
		fn(arg);
}

size_t op_events_take(struct op_event *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&events_lock);
	while (events_head && n < max) {
		struct event_node *e = events_head;
		events_head = e->next;
		out[n++] = e->ev;
		free(e);
	}
	if (!events_head)
		events_tail = NULL;
	pthread_mutex_unlock(&events_lock);
	return n;
}

/* ---- accounting ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void op_sa_expire_hard_locked(struct op_sa *sa)
{
	if (sa->c.hard_expired)
		return;
	sa->c.hard_expired = true;
	sa->c.soft_expired = true; /* hard implies soft; the engine gets one event */
	push_event(sa->spi, sa->dir, true);
}

void op_sa_account_locked(struct op_sa *sa, size_t bytes)
{
	const struct op_limits *l = &sa->limits;

	sa->c.packets++;
	sa->c.bytes += bytes;
	sa->c.last_used_ms = now_ms();
	if ((l->hard_packets && sa->c.packets >= l->hard_packets) || (l->hard_bytes && sa->c.bytes >= l->hard_bytes)) {
		op_sa_expire_hard_locked(sa);
		return;
	}
	if (!sa->c.soft_expired &&
	    ((l->soft_packets && sa->c.packets >= l->soft_packets) || (l->soft_bytes && sa->c.bytes >= l->soft_bytes))) {
		sa->c.soft_expired = true;
		push_event(sa->spi, sa->dir, false);
	}
}

void op_global_stats_get(struct op_global_stats *out)
{
	out->no_sa = atomic_load(&stat_no_sa);
	out->truncated = atomic_load(&stat_truncated);
}

void op_global_count_no_sa(void)
{
	atomic_fetch_add_explicit(&stat_no_sa, 1, memory_order_relaxed);
}

void op_global_count_truncated(void)
{
	atomic_fetch_add_explicit(&stat_truncated, 1, memory_order_relaxed);
}
