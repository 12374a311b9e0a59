// ESP oracle tests: draft-mcgrew-gcm-test-01 known answers, round trips of every suite, and malformed input (RFC 4303 §2-3).
import { describe, expect, test } from 'vitest';
import { EncrId, IntegId } from '../ike/constants.ts';
import { gcmEspVectors } from './gcm-esp-vectors.ts';
import { createNodeEspPrimitives } from './node-primitives.ts';
import { decodeEsp, encodeEsp, ivFromSeq, peekEsp, type EspSaKeys } from './packet.ts';
import { espSuite } from './suite.ts';

const prims = createNodeEspPrimitives();
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + 1) & 0xff);
}

describe('draft-mcgrew-gcm-test-01 vectors', () => {
  for (const v of gcmEspVectors) {
    const sa: EspSaKeys = { spi: v.spi, encrId: EncrId.AES_GCM_16, encrKeyBits: v.keyBits, encKey: hex(v.encKey), integId: IntegId.NONE, integKey: new Uint8Array(0), esn: v.esn };
    const pt = hex(v.plaintext);
    const padLen = pt[pt.length - 2]!;
    const payload = pt.subarray(0, pt.length - 2 - padLen);
    const seq = (BigInt(v.seqHigh) << 32n) | BigInt(v.seqLow);

    test(`${v.name}: encode gives the vector's packet`, () => {
      const packet = encodeEsp(sa, prims, { seq, iv: hex(v.iv), payload, nextHeader: pt[pt.length - 1]! });
      expect(toHex(packet)).toBe(v.packet);
    });

    test(`${v.name}: decode recovers payload, padding and next header`, () => {
      const d = decodeEsp(sa, prims, hex(v.packet), v.seqHigh);
      expect(d.ok).toBe(true);
      if (!d.ok) return;
      expect(d.value.spi).toBe(v.spi);
      expect(d.value.seqLow).toBe(v.seqLow);
      expect(toHex(d.value.payload)).toBe(toHex(payload));
      expect(d.value.padLen).toBe(padLen);
      expect(d.value.nextHeader).toBe(1);
    });

    test(`${v.name}: a flipped ICV bit fails`, () => {
      const p = hex(v.packet);
      p[p.length - 1]! ^= 0x01;
      expect(decodeEsp(sa, prims, p, v.seqHigh)).toEqual({ ok: false, error: 'ICV mismatch' });
    });
  }

  test('with ESN the high half is authenticated: a wrong guess fails', () => {
    const v = gcmEspVectors.find((x) => x.esn && x.seqHigh !== 0)!;
    const sa: EspSaKeys = { spi: v.spi, encrId: EncrId.AES_GCM_16, encrKeyBits: v.keyBits, encKey: hex(v.encKey), integId: IntegId.NONE, integKey: new Uint8Array(0), esn: true };
    expect(decodeEsp(sa, prims, hex(v.packet), v.seqHigh).ok).toBe(true);
    expect(decodeEsp(sa, prims, hex(v.packet), v.seqHigh + 1).ok).toBe(false);
    expect(decodeEsp({ ...sa, esn: false }, prims, hex(v.packet)).ok).toBe(false);
  });
});

interface SuiteCase {
  name: string;
  encrId: number;
  encrKeyBits?: number;
  integId: number;
}

const suiteCases: readonly SuiteCase[] = [
  { name: 'AES-GCM-16-128', encrId: EncrId.AES_GCM_16, encrKeyBits: 128, integId: IntegId.NONE },
  { name: 'AES-GCM-16-192', encrId: EncrId.AES_GCM_16, encrKeyBits: 192, integId: IntegId.NONE },
  { name: 'AES-GCM-16-256', encrId: EncrId.AES_GCM_16, encrKeyBits: 256, integId: IntegId.NONE },
  { name: 'AES-GCM-12-256', encrId: EncrId.AES_GCM_12, encrKeyBits: 256, integId: IntegId.NONE },
  { name: 'AES-GCM-8-128', encrId: EncrId.AES_GCM_8, encrKeyBits: 128, integId: IntegId.NONE },
  { name: 'ChaCha20-Poly1305', encrId: EncrId.CHACHA20_POLY1305, integId: IntegId.NONE },
  { name: 'AES-CBC-128 + HMAC-SHA2-256-128', encrId: EncrId.AES_CBC, encrKeyBits: 128, integId: IntegId.HMAC_SHA2_256_128 },
  { name: 'AES-CBC-256 + HMAC-SHA2-384-192', encrId: EncrId.AES_CBC, encrKeyBits: 256, integId: IntegId.HMAC_SHA2_384_192 },
  { name: 'AES-CBC-192 + HMAC-SHA2-512-256', encrId: EncrId.AES_CBC, encrKeyBits: 192, integId: IntegId.HMAC_SHA2_512_256 },
];

function keysFor(c: SuiteCase, esn: boolean, seed = 1): EspSaKeys {
  const s = espSuite(c.encrId, c.encrKeyBits, c.integId);
  if (!s.ok) throw new Error(s.error);
  const encLen = s.value.kind === 'aead' ? s.value.keyLen + s.value.saltLen : s.value.keyLen;
  const integLen = s.value.kind === 'cbc-hmac' ? s.value.integKeyLen : 0;
  return { spi: 0x1000 + seed, encrId: c.encrId, encrKeyBits: c.encrKeyBits, encKey: bytes(encLen, seed), integId: c.integId, integKey: bytes(integLen, seed + 100), esn };
}

describe('round trips', () => {
  for (const c of suiteCases) {
    test(`${c.name}: every payload length 0-40 pads to the block and decodes back`, () => {
      const s = espSuite(c.encrId, c.encrKeyBits, c.integId);
      if (!s.ok) throw new Error(s.error);
      const { ivLen, icvLen, blockLen } = s.value;
      for (const esn of [false, true]) {
        const sa = keysFor(c, esn);
        for (let len = 0; len <= 40; len++) {
          const seq = esn ? (7n << 32n) + BigInt(len + 1) : BigInt(len + 1);
          const payload = bytes(len, len);
          const packet = encodeEsp(sa, prims, { seq, iv: ivLen === 8 ? ivFromSeq(seq) : bytes(16, len), payload, nextHeader: 4 });
          const ctLen = packet.length - 8 - ivLen - icvLen;
          expect(ctLen % blockLen).toBe(0);
          expect(ctLen - len - 2).toBeLessThan(blockLen); // minimal padding
          const d = decodeEsp(sa, prims, packet, Number(seq >> 32n));
          expect(d.ok).toBe(true);
          if (!d.ok) continue;
          expect(toHex(d.value.payload)).toBe(toHex(payload));
          expect(d.value.nextHeader).toBe(4);
          expect(d.value.padLen).toBe(ctLen - len - 2);
        }
      }
    });
  }

  test('CBC + HMAC with ESN: the high half is authenticated as if appended, never sent (RFC 4303 §2.2.1)', () => {
    const c = suiteCases.find((x) => x.encrId === EncrId.AES_CBC)!;
    const iv = bytes(16, 3);
    const payload = bytes(20, 3);
    const plain = encodeEsp(keysFor(c, false), prims, { seq: 5n, iv, payload, nextHeader: 4 });
    const esnLow = encodeEsp(keysFor(c, true), prims, { seq: 5n, iv, payload, nextHeader: 4 });
    const esnHigh = encodeEsp(keysFor(c, true), prims, { seq: (1n << 32n) + 5n, iv, payload, nextHeader: 4 });
    const body = (p: Uint8Array) => toHex(p.subarray(0, p.length - 16));
    const icv = (p: Uint8Array) => toHex(p.subarray(-16));
    expect(esnHigh.length).toBe(plain.length);
    expect(body(esnLow)).toBe(body(plain));
    expect(body(esnHigh)).toBe(body(plain));
    expect(new Set([icv(plain), icv(esnLow), icv(esnHigh)]).size).toBe(3); // even a zero high half is MACed
    expect(decodeEsp(keysFor(c, true), prims, esnHigh, 1).ok).toBe(true);
    expect(decodeEsp(keysFor(c, true), prims, esnHigh, 0).ok).toBe(false);
  });

  test('extra padding blocks (up to 255 octets) decode', () => {
    const sa = keysFor(suiteCases[0]!, false);
    const packet = encodeEsp(sa, prims, { seq: 1n, iv: ivFromSeq(1n), payload: bytes(9, 1), nextHeader: 41, extraPadBlocks: 60 });
    const d = decodeEsp(sa, prims, packet);
    expect(d.ok && d.value.padLen).toBe(1 + 240);
  });
});

describe('malformed input never throws', () => {
  const c = suiteCases[0]!;
  const sa = keysFor(c, false);
  const good = encodeEsp(sa, prims, { seq: 1n, iv: ivFromSeq(1n), payload: bytes(30, 2), nextHeader: 4 });

  test('every truncation is rejected', () => {
    for (let n = 0; n < good.length; n++) {
      const d = decodeEsp(sa, prims, good.subarray(0, n));
      expect(d.ok).toBe(false);
    }
  });

  test('peekEsp needs 8 octets', () => {
    expect(peekEsp(good.subarray(0, 7)).ok).toBe(false);
    expect(peekEsp(good)).toEqual({ ok: true, value: { spi: sa.spi, seqLow: 1 } });
  });

  test('flipping any single bit of header, IV, ciphertext or ICV is detected', () => {
    for (const c2 of suiteCases) {
      const k = keysFor(c2, false, 9);
      const s = espSuite(c2.encrId, c2.encrKeyBits, c2.integId);
      if (!s.ok) throw new Error(s.error);
      const p = encodeEsp(k, prims, { seq: 3n, iv: s.value.ivLen === 8 ? ivFromSeq(3n) : bytes(16, 9), payload: bytes(21, 9), nextHeader: 4 });
      for (let i = 4; i < p.length; i++) {
        const t = p.slice();
        t[i]! ^= 1 << (i % 8);
        expect(decodeEsp(k, prims, t).ok).toBe(false);
      }
    }
  });

  test('wrong SPI, bad padding and an oversized Pad Length are rejected after decryption', () => {
    expect(decodeEsp({ ...sa, spi: sa.spi + 1 }, prims, good).ok).toBe(false);
    const badPad = encodeEsp(sa, prims, { seq: 2n, iv: ivFromSeq(2n), payload: bytes(1, 1), nextHeader: 4, paddingOverride: Uint8Array.of(1, 3, 3, 4, 5) });
    expect(decodeEsp(sa, prims, badPad)).toEqual({ ok: false, error: 'padding is not 1, 2, 3, ... (RFC 4303 §2.4)' });
    const hugePad = encodeEsp(sa, prims, { seq: 2n, iv: ivFromSeq(2n), payload: new Uint8Array(0), nextHeader: 4, paddingOverride: Uint8Array.of(1, 2), padLenOverride: 9 });
    expect(decodeEsp(sa, prims, hugePad)).toEqual({ ok: false, error: 'Pad Length exceeds the payload' });
  });

  test('an unsupported or mis-keyed SA is an error, not an exception', () => {
    expect(decodeEsp({ ...sa, encKey: new Uint8Array(3) }, prims, good).ok).toBe(false);
    expect(decodeEsp({ ...sa, encrId: 3 }, prims, good).ok).toBe(false);
    expect(espSuite(EncrId.AES_GCM_16, 128, IntegId.HMAC_SHA2_256_128).ok).toBe(false);
    expect(espSuite(EncrId.AES_CBC, 128, IntegId.NONE).ok).toBe(false);
  });
});
