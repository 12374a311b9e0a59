// Short run of the gateway fuzzer (the full ≥ 1M-packet run is `make fuzz`): a running `outpost gateway` on
// loopback takes valid and mutated messages at every exchange state, stays up, logs no internal error, and an
// Outpost initiator still connects afterwards (RFC 7296 §2.21: drop and count, never crash).
import { describe, expect, it } from 'vitest';
import { fuzzGateway } from './gateway-fuzzer.ts';

describe('gateway fuzzer (short)', () => {
  it('4000 packets at every exchange state: no crash, no internal error, still serving', async () => {
    const r = await fuzzGateway({ packets: 4000, seed: 7, ratePerSec: 20_000 });
    expect(r.problems).toEqual([]);
    expect(r.sent).toBeGreaterThanOrEqual(4000);
    expect(r.handshakes.ok).toBeGreaterThan(0);
    for (const state of ['init', 'half-open', 'established'] as const) expect(r.byState[state]).toBeGreaterThan(100);
    expect(r.liveness.ok).toBe(true);
  }, 90_000);
});
