/* Anti-replay window (RFC 4303 §3.4.3, bitmap of RFC 6479) with ESN reconstruction (RFC 4303 Appendix A). */
#ifndef OP_REPLAY_H
#define OP_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define OP_REPLAY_MAX_WINDOW 65536u

struct op_replay {
	uint64_t top;      /* highest sequence number committed so far (0 = none yet) */
	uint32_t window;   /* W in packets; 0 disables replay checks (counters still advance) */
	uint32_t n_words;  /* bitmap words, a power of two holding at least W + 64 bits */
	uint64_t *bits;    /* bit (seq % (64 * n_words)) set = seq seen */
};

/* Sets up an empty window of `window` packets; top starts at `initial_top` (an SA moved or restored). */
int op_replay_init(struct op_replay *r, uint32_t window, uint64_t initial_top);
void op_replay_free(struct op_replay *r);

/*
 * Reconstructs the full 64-bit number of a packet carrying the low 32 bits `seq_low` (RFC 4303 A2.2).
 * Returns 0 and sets *seq, or -ESTALE when the only candidate lies before sequence number 1.
 */
int op_replay_infer_esn(const struct op_replay *r, uint32_t seq_low, uint64_t *seq);

/* 0 when `seq` may be accepted; -ESTALE (left of the window, or 0) or -EALREADY (duplicate). Read-only. */
int op_replay_check(const struct op_replay *r, uint64_t seq);

/* Marks `seq` received, sliding the window right when it is new; call only after authentication. */
void op_replay_commit(struct op_replay *r, uint64_t seq);

#endif
