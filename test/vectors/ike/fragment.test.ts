// RFC 7383 fragmentation: sealing into SKF messages and reassembling them in any order.
import { describe, expect, it } from 'vitest';
import { CertEncoding, ExchangeType, HeaderFlag, IKE_VERSION, PayloadType } from '../../../firmware/src/ike/constants.ts';
import {
  decodeMessage,
  FragmentReassembler,
  sealFragments,
  sealSk,
  type IkeMessage,
  type Payload,
} from '../../../firmware/src/ike/codec/index.ts';
import type { SkTransform } from '../../../firmware/src/crypto/types.ts';
import { aesGcm16, bothTransforms, counterRandom, gcmKey } from './sk-transforms.ts';

const header = {
  spiI: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8),
  spiR: Uint8Array.of(9, 10, 11, 12, 13, 14, 15, 16),
  version: IKE_VERSION,
  exchange: ExchangeType.IKE_AUTH,
  flags: HeaderFlag.RESPONSE,
  messageId: 1,
};

/** Two 5 KiB CERT payloads and an AUTH: a certificate-heavy IKE_AUTH response. */
const inner: Payload[] = [
  { type: PayloadType.CERT, encoding: CertEncoding.X509_CERT_SIG, data: Uint8Array.from({ length: 5120 }, (_, i) => i * 13) },
  { type: PayloadType.CERT, encoding: CertEncoding.X509_CERT_SIG, data: Uint8Array.from({ length: 5120 }, (_, i) => i * 7) },
  { type: PayloadType.AUTH, method: 14, data: new Uint8Array(72).fill(3) },
];

function decoded(raw: Uint8Array): IkeMessage {
  const m = decodeMessage(raw);
  if (!m.ok) throw new Error(m.error);
  return m.value;
}

/** Deterministic shuffle (xorshift32). */
function shuffle<T>(xs: T[], seed: number): T[] {
  const out = xs.slice();
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function feed(r: FragmentReassembler, frags: Uint8Array[], sk: SkTransform) {
  let last;
  for (const f of frags) last = r.add(f, decoded(f), sk);
  return last;
}

describe.each(bothTransforms())('fragments with $name', ({ sk }) => {
  it.each([576, 1280])('seals into messages of at most %i octets and reassembles in random order with duplicates', (max) => {
    const frags = sealFragments(header, inner, sk, counterRandom(), max);
    expect(frags.length).toBeGreaterThan(1);
    frags.forEach((f, i) => {
      expect(f.length).toBeLessThanOrEqual(max);
      const m = decoded(f);
      expect(m.header.nextPayload).toBe(PayloadType.SKF);
      expect(m.payloads).toHaveLength(1);
      const p = m.payloads[0]!;
      expect(p).toMatchObject({ type: PayloadType.SKF, fragmentNumber: i + 1, totalFragments: frags.length });
      expect('innerNext' in p && p.innerNext).toBe(i === 0 ? PayloadType.CERT : 0);
    });
    // All but the last are filled to the limit's block-aligned capacity: no needless fragments.
    expect(frags.slice(0, -1).every((f) => f.length > max - Math.max(16, sk.blockLen))).toBe(true);

    const order = shuffle([...frags, frags[0]!, frags[frags.length - 1]!, frags[1]!], max);
    const r = new FragmentReassembler();
    const results = order.map((f) => r.add(f, decoded(f), sk));
    const done = results.filter((x) => x.ok && x.value.done);
    expect(done).toHaveLength(1);
    expect(done[0]).toEqual({ ok: true, value: { done: true, payloads: inner } });
    expect(results.every((x) => x.ok || x.error === 'message already reassembled')).toBe(true);
  });
});

describe('fragment sealing limits', () => {
  const sk = aesGcm16(gcmKey);

  it('a message that fits still yields one SKF fragment (1 of 1)', () => {
    const frags = sealFragments(header, inner.slice(2), sk, counterRandom(), 1280);
    expect(frags).toHaveLength(1);
    const r = new FragmentReassembler();
    expect(r.add(frags[0]!, decoded(frags[0]!), sk)).toEqual({ ok: true, value: { done: true, payloads: inner.slice(2) } });
  });

  it('throws when maxMessageLen leaves no room for content', () => {
    // 28 header + 8 SKF header + 8 IV + 16 ICV = 60: one more octet holds only the Pad Length.
    expect(() => sealFragments(header, inner, sk, counterRandom(), 61)).toThrow(RangeError);
    expect(() => sealFragments(header, inner, sk, counterRandom(), 10)).toThrow(RangeError);
    expect(sealFragments(header, inner.slice(2), sk, counterRandom(), 62).length).toBeGreaterThan(50);
  });

  it('throws beyond 65535 fragments', () => {
    const big: Payload[] = Array.from({ length: 2 }, () => ({ type: PayloadType.CERT, encoding: 4, data: new Uint8Array(65000) }));
    expect(() => sealFragments(header, big, sk, counterRandom(), 62)).toThrow(/65535/);
  });
});

describe('FragmentReassembler', () => {
  const sk = aesGcm16(gcmKey);
  const frags576 = sealFragments(header, inner, sk, counterRandom(), 576);
  const frags1280 = sealFragments(header, inner, sk, counterRandom(9), 1280);

  it('refuses sets with more fragments than the limit before decrypting', () => {
    const r = new FragmentReassembler({ maxFragments: 8 });
    expect(frags576.length).toBeGreaterThan(8);
    const res = r.add(frags576[0]!, decoded(frags576[0]!), sk);
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.error).toMatch(/exceed the limit/);
    expect(r.received).toBe(0);
  });

  it('refuses a reassembled size above maxBytes', () => {
    const r = new FragmentReassembler({ maxBytes: 4096 });
    const results = frags1280.map((f) => r.add(f, decoded(f), sk));
    expect(results.some((x) => !x.ok && /exceeds 4096/.test(x.error))).toBe(true);
    expect(results.some((x) => x.ok && x.value.done)).toBe(false);
  });

  it('restarts on a higher total (peer re-fragmented smaller) and discards fragments with a lower total', () => {
    const r = new FragmentReassembler();
    expect(r.add(frags1280[0]!, decoded(frags1280[0]!), sk)).toEqual({ ok: true, value: { done: false } });
    expect(r.total).toBe(frags1280.length);
    // A 576-octet set has more fragments: start over with it.
    expect(r.add(frags576[1]!, decoded(frags576[1]!), sk)).toEqual({ ok: true, value: { done: false } });
    expect(r.total).toBe(frags576.length);
    expect(r.received).toBe(1);
    // Late fragment of the old, smaller set: discarded.
    const stale = r.add(frags1280[1]!, decoded(frags1280[1]!), sk);
    expect(stale.ok).toBe(false);
    const res = feed(r, frags576, sk);
    expect(res).toEqual({ ok: true, value: { done: true, payloads: inner } });
  });

  it('does not let a forged fragment with a higher total reset the collection', () => {
    const r = new FragmentReassembler();
    r.add(frags1280[0]!, decoded(frags1280[0]!), sk);
    const forged = frags576[2]!.slice();
    forged[forged.length - 1]! ^= 1;
    expect(r.add(forged, decoded(forged), sk)).toEqual({ ok: false, error: 'integrity check failed' });
    expect(r.total).toBe(frags1280.length);
    expect(r.received).toBe(1);
  });

  it('refuses fragments of another message ID and tampered fragments', () => {
    const r = new FragmentReassembler();
    r.add(frags576[0]!, decoded(frags576[0]!), sk);
    const other = sealFragments({ ...header, messageId: 2 }, inner, sk, counterRandom(), 576);
    const res = r.add(other[1]!, decoded(other[1]!), sk);
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.error).toMatch(/message 2/);
    const tampered = frags576[3]!.slice();
    tampered[40]! ^= 0x10;
    expect(r.add(tampered, decoded(tampered), sk).ok).toBe(false);
    expect(r.received).toBe(1);
  });

  it('authenticates the Fragment Number: a fragment relabelled as another number fails', () => {
    const f = frags576[2]!.slice();
    f[28 + 5] = 4; // Fragment Number 3 → 4
    const r = new FragmentReassembler();
    expect(r.add(f, decoded(f), sk)).toEqual({ ok: false, error: 'integrity check failed' });
  });

  it('refuses a plain SK message', () => {
    const raw = sealSk(header, inner.slice(2), sk, counterRandom());
    const r = new FragmentReassembler();
    expect(r.add(raw, decoded(raw), sk).ok).toBe(false);
  });
});
