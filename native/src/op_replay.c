/*
 * Anti-replay window (RFC 4303 §3.4.3) as the RFC 6479 ring bitmap, and ESN inference (RFC 4303 Appendix A2.2).
 *
 * The ring holds one block (64 bits) more than the window so that sliding right only clears whole words and
 * never touches bits still inside the window. Callers hold the SA's lock: check before authentication (cheap
 * rejection of replays), commit after it (an attacker must not move the window with forged packets).
 */
#include "op_replay.h"

#include <errno.h>
#include <stdlib.h>

#define BITS_PER_WORD 64u

static uint32_t round_up_pow2(uint32_t v)
{
	uint32_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

int op_replay_init(struct op_replay *r, uint32_t window, uint64_t initial_top)
{
	if (window > OP_REPLAY_MAX_WINDOW)
		return -EINVAL;
	r->top = initial_top;
	r->window = window;
	r->n_words = round_up_pow2((window + BITS_PER_WORD - 1) / BITS_PER_WORD + 1);
	r->bits = calloc(r->n_words, sizeof(uint64_t));
	if (!r->bits)
		return -ENOMEM;
	/* A restored SA treats everything up to its top as seen: an unknown history must not be replayable. */
	if (initial_top != 0 && window != 0) {
		uint64_t lowest = initial_top >= window ? initial_top - window + 1 : 1;
		for (uint64_t s = lowest; s <= initial_top; s++)
			r->bits[(s / BITS_PER_WORD) & (r->n_words - 1)] |= 1ull << (s % BITS_PER_WORD);
	}
	return 0;
}

void op_replay_free(struct op_replay *r)
{
	free(r->bits);
	r->bits = NULL;
}

int op_replay_infer_esn(const struct op_replay *r, uint32_t seq_low, uint64_t *seq)
{
	/* Without a window the receiver still needs a guess: take the half of the 2^32 space nearest to top. */
	uint32_t w = r->window ? r->window : 0x80000000u;
	uint32_t tl = (uint32_t)r->top;
	uint32_t th = (uint32_t)(r->top >> 32);
	uint32_t bottom = tl - w + 1; /* wraps modulo 2^32 in case B, as the RFC intends */
	uint32_t sh;

	if (tl >= w - 1) { /* case A: the window lies within one 2^32 epoch */
		if (seq_low >= bottom) {
			sh = th;
		} else {
			if (th == UINT32_MAX)
				return -ESTALE; /* would be past 2^64: the sender cannot have sent it */
			sh = th + 1;
		}
	} else { /* case B: the window spans the boundary into the previous epoch */
		if (seq_low >= bottom) {
			if (th == 0)
				return -ESTALE;
			sh = th - 1;
		} else {
			sh = th;
		}
	}
	*seq = ((uint64_t)sh << 32) | seq_low;
	return 0;
}

int op_replay_check(const struct op_replay *r, uint64_t seq)
{
	if (seq == 0)
		return -ESTALE; /* the first packet of an SA carries 1 (RFC 4303 §3.3.3) */
	if (r->window == 0 || seq > r->top)
		return 0;
	if (r->top - seq >= r->window)
		return -ESTALE;
	if (r->bits[(seq / BITS_PER_WORD) & (r->n_words - 1)] & (1ull << (seq % BITS_PER_WORD)))
		return -EALREADY;
	return 0;
}

void op_replay_commit(struct op_replay *r, uint64_t seq)
{
	if (seq > r->top) {
		if (r->window != 0) {
			uint64_t old_word = r->top / BITS_PER_WORD;
			uint64_t new_word = seq / BITS_PER_WORD;
			uint64_t diff = new_word - old_word;
			if (diff > r->n_words)
				diff = r->n_words;
			for (uint64_t i = 1; i <= diff; i++)
				r->bits[(old_word + i) & (r->n_words - 1)] = 0;
		}
		r->top = seq;
	}
	if (r->window != 0)
		r->bits[(seq / BITS_PER_WORD) & (r->n_words - 1)] |= 1ull << (seq % BITS_PER_WORD);
}
