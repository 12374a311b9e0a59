// Deterministic mutation fuzzer for the IKEv2 codec (RFC 7296 §3, RFC 7383). Its only claim: never throws, never hangs.
// The same fuzzer runs ≥ 10M inputs in `make fuzz` (test/fuzz/codec-fuzz-long.ts); this is its short run.
import { describe, expect, it } from 'vitest';
import { decodeMessage } from '../../firmware/src/ike/codec/index.ts';
import { corpus, runCodecFuzz } from './codec-fuzz-core.ts';

const ITERATIONS = 24_000;

describe('codec mutation fuzzer', () => {
  it(`decodeMessage, decodePayloads, openSk and the reassembler never throw over ${ITERATIONS} mutants`, () => {
    const stats = runCodecFuzz({ iterations: ITERATIONS, seed: 0x1ce2 });
    // The fuzzer must reach deep code, not only the header checks.
    expect(stats.inputs).toBe(ITERATIONS);
    expect(stats.decoded).toBeGreaterThan(ITERATIONS / 10);
    expect(stats.rejected).toBeGreaterThan(ITERATIONS / 10);
    expect(stats.fragments).toBeGreaterThan(100);
    expect(stats.opened).toBeGreaterThan(100);
    expect(stats.innerRejected).toBeGreaterThan(100);
    expect(stats.reencoded).toBeGreaterThan(100);
  });

  it('feeds the unmodified fragments and sealed messages through open and the reassembler', () => {
    // Guards the fuzzer's corpus: the seeds themselves are valid, so mutants start from deep inside.
    const seeds = corpus().filter((s) => s.first === undefined);
    for (const s of seeds) expect(decodeMessage(s.bytes).ok).toBe(true);
  });
});
