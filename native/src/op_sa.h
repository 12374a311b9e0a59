/* Security Association Database of the userspace data plane (RFC 4301 §4.4.2): SAs keyed by (SPI, direction). */
#ifndef OP_SA_H
#define OP_SA_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "op_replay.h"
#include "op_ts.h"
#include "op_xform.h"

enum op_dir { OP_DIR_IN = 0, OP_DIR_OUT = 1 };

/* Byte and packet lifetimes (RFC 4301 §4.4.2.1); 0 = no limit. Time lifetimes are the engine's timers. */
struct op_limits {
	uint64_t soft_bytes;
	uint64_t hard_bytes;
	uint64_t soft_packets;
	uint64_t hard_packets;
};

struct op_sa_params {
	uint32_t spi;
	enum op_dir dir;
	struct op_xform_params xform;
	bool esn;
	uint32_t replay_window; /* inbound only */
	struct op_limits limits;
	uint64_t initial_seq;   /* out: last number sent; in: highest received (XFRM's oseq / seq); usually 0 */
	struct op_ts local_ts[OP_TS_MAX];  /* our side: inner destination of inbound packets */
	size_t n_local_ts;
	struct op_ts remote_ts[OP_TS_MAX]; /* the peer's side: inner source of inbound packets */
	size_t n_remote_ts;
};

struct op_sa_counters {
	uint64_t bytes;          /* inner (plaintext) packet octets */
	uint64_t packets;
	int64_t last_used_ms;    /* CLOCK_REALTIME in ms, -1 before the first packet */
	uint64_t seq;            /* out: last number sent; in: highest number accepted */
	uint64_t replay_drops;   /* duplicates and packets left of the window */
	uint64_t auth_drops;     /* ICV mismatch */
	uint64_t malformed_drops;/* too short, misaligned, bad padding */
	uint64_t expired_drops;  /* after the hard limit or sequence exhaustion */
	uint64_t policy_drops;   /* authentic, but not an IP packet its selectors allow (RFC 4301 §5.2) */
	bool soft_expired;
	bool hard_expired;
};

struct op_sa {
	struct op_sa *next;           /* hash chain, under the table lock */
	atomic_uint refs;
	uint32_t spi;
	enum op_dir dir;
	bool esn;
	struct op_limits limits;
	struct op_ts local_ts[OP_TS_MAX];   /* immutable after add */
	size_t n_local_ts;
	struct op_ts remote_ts[OP_TS_MAX];
	size_t n_remote_ts;

	pthread_mutex_t crypto_lock;  /* guards xform: EVP contexts are not reentrant */
	struct op_xform xform;

	pthread_mutex_t lock;         /* guards everything below */
	struct op_replay replay;      /* inbound */
	uint64_t tx_seq;              /* outbound: last number handed out */
	struct op_sa_counters c;
};

/* -EEXIST, -EINVAL (reserved SPI 0-255, bad lengths), -EOPNOTSUPP, -ENOMEM. */
int op_sa_add(const struct op_sa_params *p);
/* -ENOENT when absent. Packets in flight finish on their reference. */
int op_sa_del(uint32_t spi, enum op_dir dir);
int op_sa_query(uint32_t spi, enum op_dir dir, struct op_sa_counters *out);
bool op_sa_exists(uint32_t spi, enum op_dir dir);
size_t op_sa_count(void);
void op_sa_flush(void);

/* A counted reference for the data path, or NULL. */
struct op_sa *op_sa_get(uint32_t spi, enum op_dir dir);
void op_sa_put(struct op_sa *sa);

/* Whether an inbound inner packet's source and destination lie in the SA's selectors (RFC 4301 §5.2). */
bool op_sa_selectors_allow(const struct op_sa *sa, const struct op_flow *f);

/* With sa->lock held: counts one packet of `bytes` inner octets and raises soft/hard expire events. */
void op_sa_account_locked(struct op_sa *sa, size_t bytes);
/* With sa->lock held: the SA can carry nothing more (hard limit, sequence space used up). */
void op_sa_expire_hard_locked(struct op_sa *sa);

/* Expire events for the control plane (RFC 4301 §4.4.2.1 lifetimes). */
struct op_event {
	uint32_t spi;
	enum op_dir dir;
	bool hard;
};

/* fn is called (from any thread, no locks held by the queue) when the queue turns non-empty. */
void op_events_set_notify(void (*fn)(void *), void *arg);
size_t op_events_take(struct op_event *out, size_t max);

/* Drops that belong to no SA. */
struct op_global_stats {
	uint64_t no_sa;
	uint64_t truncated;
};
void op_global_stats_get(struct op_global_stats *out);
void op_global_count_no_sa(void);
void op_global_count_truncated(void);

#endif
