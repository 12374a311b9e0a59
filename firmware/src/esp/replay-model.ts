// Reference model of ESP anti-replay (RFC 4303 §3.4.3) and ESN inference (Appendix A2), for differential tests of the native window.
// Deliberately naive: a set of seen numbers instead of a bitmap, and ESN inference as "the one candidate in the
// 2^32-wide span that starts at the window's left edge" instead of the RFC's case analysis.

const TWO_32 = 1n << 32n;
const MAX_SEQ = (1n << 64n) - 1n;

export type ReplayVerdict = 'ok' | 'stale' | 'duplicate';

export class ReplayModel {
  private top: bigint;
  private readonly seen = new Set<bigint>();

  constructor(
    private readonly window: number,
    initialTop = 0n,
  ) {
    this.top = initialTop;
    if (initialTop > 0n && window > 0) {
      for (let s = initialTop; s > 0n && s > initialTop - BigInt(window); s--) this.seen.add(s);
    }
  }

  get highest(): bigint {
    return this.top;
  }

  /** The full 64-bit number for a received low half, or null when none can be valid. */
  infer(seqLow: number): bigint | null {
    const w = BigInt(this.window > 0 ? this.window : 0x80000000);
    const lo = this.top - w + 1n; // may be negative: the span then reaches into "epoch -1"
    const th = this.top >> 32n;
    for (const epoch of [th - 1n, th, th + 1n]) {
      const cand = epoch * TWO_32 + BigInt(seqLow >>> 0);
      if (cand >= lo && cand < lo + TWO_32) return cand < 0n || cand > MAX_SEQ ? null : cand;
    }
    return null;
  }

  check(seq: bigint): ReplayVerdict {
    if (seq === 0n) return 'stale';
    if (this.window === 0 || seq > this.top) return 'ok';
    if (this.top - seq >= BigInt(this.window)) return 'stale';
    return this.seen.has(seq) ? 'duplicate' : 'ok';
  }

  commit(seq: bigint): void {
    if (seq > this.top) this.top = seq;
    if (this.window === 0) return;
    this.seen.add(seq);
    const floor = this.top - BigInt(this.window);
    for (const s of this.seen) if (s <= floor) this.seen.delete(s);
  }
}
