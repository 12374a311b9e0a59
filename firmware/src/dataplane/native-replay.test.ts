// Native anti-replay (RFC 4303 §3.4.3, RFC 6479 bitmap) and ESN (RFC 4303 Appendix A), driven by oracle-built packets and diffed against a model.
import { afterEach, describe, expect, test } from 'vitest';
import { randomBytes } from 'node:crypto';
import { EncrId, IntegId } from '../ike/constants.ts';
import { createNodeEspPrimitives } from '../esp/node-primitives.ts';
import { decodeEsp, encodeEsp, ivFromSeq, type EspSaKeys } from '../esp/packet.ts';
import { ReplayModel, type ReplayVerdict } from '../esp/replay-model.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';
import { loadNativeAddon, type NativeDecrypted } from './native-addon.ts';

const addon = loadNativeAddon();
const prims = createNodeEspPrimitives();
const ESTALE = -116;
const EALREADY = -114;
const EOVERFLOW = -75;
const EKEYEXPIRED = -127;
const TWO_32 = 1n << 32n;

let nextSpi = 0x20000 + (randomBytes(2).readUInt16BE(0) << 8);
const added: Array<[number, 'in' | 'out']> = [];
afterEach(() => {
  for (const [spi, dir] of added.splice(0)) addon.saDel(spi, dir);
  addon.takeEvents();
});

interface Pair {
  keys: EspSaKeys;
  /** Oracle-encrypts a packet with the full 64-bit number. */
  packet(seq: bigint): Uint8Array;
  /** Native verdict for that packet. */
  recv(seq: bigint): ReplayVerdict | 'other';
}

function inbound(opts: { esn: boolean; window: number; initialSeq?: bigint }): Pair {
  const spi = nextSpi++;
  const keys: EspSaKeys = { spi, encrId: EncrId.AES_GCM_16, encrKeyBits: 128, encKey: new Uint8Array(randomBytes(20)), integId: IntegId.NONE, integKey: new Uint8Array(0), esn: opts.esn };
  const rc = addon.saAdd({ spi, direction: 'in', encrId: keys.encrId, encrKeyBits: 128, encKey: keys.encKey, integId: IntegId.NONE, esn: opts.esn, replayWindow: opts.window, initialSeq: opts.initialSeq ?? 0n });
  if (rc !== 0) throw new Error(addon.errnoName(rc));
  added.push([spi, 'in']);
  const packet = (seq: bigint) => encodeEsp(keys, prims, { seq, iv: ivFromSeq(seq), payload: Uint8Array.of(0x45, 0, 0, 4), nextHeader: 4 });
  return {
    keys,
    packet,
    recv(seq) {
      const r = addon.decrypt(packet(seq));
      if (typeof r !== 'number') {
        expect(r.seq).toBe(seq);
        return 'ok';
      }
      if (r === ESTALE) return 'stale';
      if (r === EALREADY) return 'duplicate';
      return 'other';
    },
  };
}

describe('replay window, 32-bit sequence numbers', () => {
  test('in order, then duplicates', () => {
    const p = inbound({ esn: false, window: 32 });
    for (let s = 1n; s <= 100n; s++) expect(p.recv(s)).toBe('ok');
    expect(p.recv(100n)).toBe('duplicate');
    expect(p.recv(99n)).toBe('duplicate');
    const q = addon.saQuery(p.keys.spi, 'in');
    expect(typeof q !== 'number' && [q.packets, q.replayDrops, q.seq]).toEqual([100n, 2n, 100n]);
  });

  test('out of order inside the window is accepted once; left of it is stale', () => {
    const p = inbound({ esn: false, window: 32 });
    expect(p.recv(100n)).toBe('ok');
    expect(p.recv(69n)).toBe('ok'); // 100 - 69 = 31 < 32
    expect(p.recv(68n)).toBe('stale');
    expect(p.recv(90n)).toBe('ok');
    expect(p.recv(90n)).toBe('duplicate');
    expect(p.recv(101n)).toBe('ok');
    expect(p.recv(69n)).toBe('stale'); // the window moved on
  });

  test('sequence number 0 is never valid', () => {
    const p = inbound({ esn: false, window: 32 });
    expect(p.recv(0n)).toBe('stale');
  });

  test('a jump wider than the window clears old state', () => {
    const p = inbound({ esn: false, window: 64 });
    for (let s = 1n; s <= 10n; s++) expect(p.recv(s)).toBe('ok');
    expect(p.recv(5000n)).toBe('ok');
    expect(p.recv(4937n)).toBe('ok'); // 5000 - 4937 = 63
    expect(p.recv(4936n)).toBe('stale');
    expect(p.recv(4999n)).toBe('ok');
    expect(p.recv(5000n)).toBe('duplicate');
  });

  test('window 0 turns replay protection off (RFC 4303 §3.4.3 lets the receiver disable it)', () => {
    const p = inbound({ esn: false, window: 0 });
    expect(p.recv(5n)).toBe('ok');
    expect(p.recv(5n)).toBe('ok');
    expect(p.recv(1n)).toBe('ok');
  });

  test('a restored SA treats everything up to its initial number as seen', () => {
    const p = inbound({ esn: false, window: 32, initialSeq: 1000n });
    expect(p.recv(1000n)).toBe('duplicate');
    expect(p.recv(990n)).toBe('duplicate');
    expect(p.recv(1001n)).toBe('ok');
  });

  for (const window of [32, 64, 100, 1024]) {
    test(`matches the reference model over 3000 random arrivals (window ${window})`, () => {
      const rnd = seededRandom(`replay-${window}`);
      const p = inbound({ esn: false, window });
      const model = new ReplayModel(window);
      let front = 1n;
      for (let i = 0; i < 3000; i++) {
        const r = rnd(2);
        // Mostly forward with jitter around the front, some far-back and some big jumps.
        const pick = r[0]! % 16;
        let seq: bigint;
        if (pick < 10) seq = front + BigInt(r[1]! % 8);
        else if (pick < 14) seq = front > BigInt(window) * 2n ? front - BigInt((r[1]! * 7) % (window * 2)) : 1n + BigInt(r[1]!);
        else seq = front + BigInt(r[1]! * 17);
        if (seq > front) front = seq;
        const expected = model.check(seq);
        expect(p.recv(seq)).toBe(expected);
        if (expected === 'ok') model.commit(seq);
      }
    });
  }
});

describe('ESN (64-bit sequence numbers)', () => {
  test('receives across the 2^32 boundary and late packets from the old epoch', () => {
    const p = inbound({ esn: true, window: 64, initialSeq: TWO_32 - 20n });
    expect(p.recv(TWO_32 - 5n)).toBe('ok');
    expect(p.recv(TWO_32 + 2n)).toBe('ok'); // low half 2, inferred into epoch 1
    expect(p.recv(TWO_32 - 3n)).toBe('ok'); // low half 0xfffffffd, inferred back into epoch 0
    expect(p.recv(TWO_32 - 3n)).toBe('duplicate');
    for (let s = TWO_32 + 3n; s < TWO_32 + 80n; s++) expect(p.recv(s)).toBe('ok');
    expect(p.recv(TWO_32 - 1n)).toBe('other'); // low half 0xffffffff now infers epoch 1: wrong AAD, ICV fails
    const q = addon.saQuery(p.keys.spi, 'in');
    expect(typeof q !== 'number' && q.seq).toBe(TWO_32 + 79n);
  });

  test('the high half is only in the ICV: a packet replayed from another epoch fails authentication', () => {
    const p = inbound({ esn: true, window: 64, initialSeq: 3n * TWO_32 + 100n });
    const old = p.packet(2n * TWO_32 + 150n); // same low half as 3·2^32+150, different high half
    expect(typeof addon.decrypt(old)).toBe('number');
    expect(p.recv(3n * TWO_32 + 150n)).toBe('ok');
  });

  test('the top of the 64-bit space, and nothing beyond it', () => {
    const max = (1n << 64n) - 1n;
    const p = inbound({ esn: true, window: 32, initialSeq: max - 10n });
    expect(p.recv(max)).toBe('ok');
    expect(p.recv(max - 1n)).toBe('ok');
    // Low half 0 right after 2^64-1 would be 2^64: impossible, so it is stale, not a wrap.
    expect(addon.decrypt(p.packet(0n))).toBe(ESTALE);
  });

  for (const window of [64, 1000]) {
    test(`matches the reference model around the 2^32 boundary (window ${window})`, () => {
      const rnd = seededRandom(`esn-${window}`);
      const start = TWO_32 - 1500n;
      const p = inbound({ esn: true, window, initialSeq: start });
      const model = new ReplayModel(window, start);
      let front = start;
      for (let i = 0; i < 3000; i++) {
        const r = rnd(2);
        const back = BigInt(((r[0]! << 8) | r[1]!) % (window + window / 2));
        const seq = r[0]! % 4 === 0 && front > back ? front - back : front + BigInt(r[1]! % 5);
        if (seq > front) front = seq;
        const low = Number(seq & 0xffffffffn);
        const inferred = model.infer(low);
        const expected: ReplayVerdict | 'other' = inferred === null ? 'stale' : inferred !== seq ? 'other' : model.check(seq);
        const r2 = addon.decrypt(p.packet(seq));
        const got = typeof r2 !== 'number' ? 'ok' : r2 === ESTALE ? 'stale' : r2 === EALREADY ? 'duplicate' : 'other';
        if (inferred !== null && inferred !== seq) {
          // The receiver guesses a different epoch: the ICV must fail (or, if the guess is replayable, it is stale).
          expect(got === 'other' || got === 'stale' || got === 'duplicate').toBe(true);
        } else {
          expect(got).toBe(expected);
        }
        if (got === 'ok') {
          expect((r2 as NativeDecrypted).seq).toBe(seq);
          model.commit(seq);
        }
      }
      expect(front).toBeGreaterThan(TWO_32);
    });
  }
});

describe('outbound sequence numbers', () => {
  function outbound(esn: boolean, initialSeq: bigint): { keys: EspSaKeys } {
    const spi = nextSpi++;
    const keys: EspSaKeys = { spi, encrId: EncrId.CHACHA20_POLY1305, encKey: new Uint8Array(randomBytes(36)), integId: IntegId.NONE, integKey: new Uint8Array(0), esn };
    expect(addon.saAdd({ spi, direction: 'out', encrId: keys.encrId, encKey: keys.encKey, integId: IntegId.NONE, esn, replayWindow: 0, initialSeq })).toBe(0);
    added.push([spi, 'out']);
    return { keys };
  }

  test('ESN: the low half wraps to 0 and the high half moves into the AAD', () => {
    const { keys } = outbound(true, TWO_32 - 2n);
    const a = addon.encrypt(keys.spi, Uint8Array.of(0x45, 1, 2, 3));
    const b = addon.encrypt(keys.spi, Uint8Array.of(0x45, 1, 2, 3));
    if (typeof a === 'number' || typeof b === 'number') throw new Error('encrypt failed');
    expect(Buffer.from(a.subarray(4, 8)).readUInt32BE(0)).toBe(0xffffffff);
    expect(Buffer.from(b.subarray(4, 8)).readUInt32BE(0)).toBe(0);
    expect(decodeEsp(keys, prims, a, 0).ok).toBe(true);
    expect(decodeEsp(keys, prims, b, 1).ok).toBe(true);
    expect(decodeEsp(keys, prims, b, 0).ok).toBe(false);
  });

  test('32-bit: after 2^32-1 the SA refuses to send and expires hard (RFC 4303 §3.3.3: never cycle)', () => {
    const { keys } = outbound(false, TWO_32 - 2n);
    expect(typeof addon.encrypt(keys.spi, Uint8Array.of(0x45))).not.toBe('number');
    expect(addon.encrypt(keys.spi, Uint8Array.of(0x45))).toBe(EOVERFLOW);
    expect(addon.takeEvents()).toContainEqual({ kind: 'hard', direction: 'out', spi: keys.spi });
    expect(addon.encrypt(keys.spi, Uint8Array.of(0x45))).toBe(EKEYEXPIRED);
    const q = addon.saQuery(keys.spi, 'out');
    expect(typeof q !== 'number' && [q.hardExpired, q.expiredDrops, q.seq, q.packets]).toEqual([true, 2n, TWO_32 - 1n, 1n]);
  });

  test('ESN: after 2^64-1 the same', () => {
    const { keys } = outbound(true, (1n << 64n) - 2n);
    expect(typeof addon.encrypt(keys.spi, Uint8Array.of(0x45))).not.toBe('number');
    expect(addon.encrypt(keys.spi, Uint8Array.of(0x45))).toBe(EOVERFLOW);
  });
});
