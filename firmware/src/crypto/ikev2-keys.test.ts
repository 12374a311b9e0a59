// IKEv2 key derivation checked against the RFC 7296 §2.14/§2.17/§2.18 formulas written out with @noble/hashes.
import { describe, expect, it } from 'vitest';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha384 } from '@noble/hashes/sha2.js';
import { EncrId, IntegId, PrfId } from '../ike/constants.ts';
import { createCryptoSuite } from './suite.ts';
import { deriveChildKeys, deriveIkeSaKeys, deriveRekeyedIkeSaKeys } from './ikev2-keys.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';

const suite = createCryptoSuite({ randomBytes: seededRandom('ikev2-keys') });
const rnd = seededRandom('ikev2-keys inputs');
const cat = (...p: Uint8Array[]) => new Uint8Array(Buffer.concat(p));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** prf+ from RFC 7296 §2.13, independently of the code under test. */
function noblePrfPlus(hash: Parameters<typeof hmac>[0], key: Uint8Array, seed: Uint8Array, len: number): Uint8Array {
  const out: Uint8Array[] = [];
  let t = new Uint8Array(0);
  for (let n = 1; out.reduce((a, b) => a + b.length, 0) < len; n++) {
    t = hmac(hash, key, cat(t, seed, new Uint8Array([n])));
    out.push(t);
  }
  return cat(...out).subarray(0, len);
}

const nonceI = rnd(32);
const nonceR = rnd(32);
const spiI = rnd(8);
const spiR = rnd(8);
const gir = rnd(256);

describe('deriveIkeSaKeys', () => {
  it('AES-CBC-256 + HMAC-SHA2-256-128 + PRF-HMAC-SHA2-256: matches the RFC formula', () => {
    const keys = deriveIkeSaKeys(suite, {
      prfId: PrfId.HMAC_SHA2_256,
      encrId: EncrId.AES_CBC,
      encrKeyBits: 256,
      integId: IntegId.HMAC_SHA2_256_128,
      nonceI,
      nonceR,
      sharedSecret: gir,
      spiI,
      spiR,
    });
    // SKEYSEED = prf(Ni | Nr, g^ir)
    const skeyseed = hmac(sha256, cat(nonceI, nonceR), gir);
    // {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr)
    const stream = noblePrfPlus(sha256, skeyseed, cat(nonceI, nonceR, spiI, spiR), 32 * 3 + 32 * 2 + 32 * 2);
    const parts = [32, 32, 32, 32, 32, 32, 32];
    const expected: string[] = [];
    let off = 0;
    for (const n of parts) expected.push(toHex(stream.subarray(off, (off += n))));
    expect([keys.skD, keys.skAi, keys.skAr, keys.skEi, keys.skEr, keys.skPi, keys.skPr].map(toHex)).toEqual(expected);
  });

  it('AES-GCM-256 + PRF-HMAC-SHA2-384: no SK_a, SK_e carries the salt, SK_d/SK_p are 48 octets', () => {
    const keys = deriveIkeSaKeys(suite, {
      prfId: PrfId.HMAC_SHA2_384,
      encrId: EncrId.AES_GCM_16,
      encrKeyBits: 256,
      integId: IntegId.NONE,
      nonceI,
      nonceR,
      sharedSecret: gir,
      spiI,
      spiR,
    });
    expect([keys.skD, keys.skAi, keys.skAr, keys.skEi, keys.skEr, keys.skPi, keys.skPr].map((k) => k.length)).toEqual([
      48, 0, 0, 36, 36, 48, 48,
    ]);
    const skeyseed = hmac(sha384, cat(nonceI, nonceR), gir);
    const stream = noblePrfPlus(sha384, skeyseed, cat(nonceI, nonceR, spiI, spiR), 48 + 36 * 2 + 48 * 2);
    expect(toHex(cat(keys.skD, keys.skEi, keys.skEr, keys.skPi, keys.skPr))).toBe(toHex(stream));
  });

  it('a fixed vector stays fixed (regression: ChaCha20-Poly1305, PRF-HMAC-SHA2-256)', () => {
    const fixed = (s: string, n: number) => new Uint8Array(n).fill(s.charCodeAt(0));
    const keys = deriveIkeSaKeys(suite, {
      prfId: PrfId.HMAC_SHA2_256,
      encrId: EncrId.CHACHA20_POLY1305,
      encrKeyBits: undefined,
      integId: IntegId.NONE,
      nonceI: fixed('i', 32),
      nonceR: fixed('r', 32),
      sharedSecret: fixed('g', 32),
      spiI: fixed('I', 8),
      spiR: fixed('R', 8),
    });
    const skeyseed = hmac(sha256, cat(fixed('i', 32), fixed('r', 32)), fixed('g', 32));
    const stream = noblePrfPlus(sha256, skeyseed, cat(fixed('i', 32), fixed('r', 32), fixed('I', 8), fixed('R', 8)), 32 + 72 + 64);
    expect(toHex(keys.skEi)).toBe(toHex(stream.subarray(32, 68)));
    expect(toHex(keys.skPr)).toBe(toHex(stream.subarray(136, 168)));
    expect(keys.skEi).toHaveLength(36);
  });

  it('different nonces or SPIs give different keys', () => {
    const base = { prfId: PrfId.HMAC_SHA2_256, encrId: EncrId.AES_GCM_16, encrKeyBits: 128, integId: IntegId.NONE, nonceI, nonceR, sharedSecret: gir, spiI, spiR };
    const a = deriveIkeSaKeys(suite, base);
    const b = deriveIkeSaKeys(suite, { ...base, spiR: rnd(8) });
    expect(toHex(a.skD)).not.toBe(toHex(b.skD));
    expect(toHex(a.skEi)).not.toBe(toHex(a.skEr));
  });
});

describe('deriveRekeyedIkeSaKeys', () => {
  it('SKEYSEED = prf_old(SK_d (old), g^ir (new) | Ni | Nr), expanded with the new PRF', () => {
    const oldSkD = rnd(48);
    const newSpiI = rnd(8);
    const newSpiR = rnd(8);
    const keys = deriveRekeyedIkeSaKeys(suite, {
      oldPrfId: PrfId.HMAC_SHA2_384,
      oldSkD,
      prfId: PrfId.HMAC_SHA2_256,
      encrId: EncrId.AES_GCM_16,
      encrKeyBits: 128,
      integId: IntegId.NONE,
      nonceI,
      nonceR,
      sharedSecret: gir,
      spiI: newSpiI,
      spiR: newSpiR,
    });
    const skeyseed = hmac(sha384, oldSkD, cat(gir, nonceI, nonceR));
    const stream = noblePrfPlus(sha256, skeyseed, cat(nonceI, nonceR, newSpiI, newSpiR), 32 + 20 * 2 + 32 * 2);
    expect(toHex(cat(keys.skD, keys.skEi, keys.skEr, keys.skPi, keys.skPr))).toBe(toHex(stream));
  });
});

describe('deriveChildKeys', () => {
  const skD = rnd(32);
  it('without PFS: KEYMAT = prf+(SK_d, Ni | Nr) as encr-i, integ-i, encr-r, integ-r', () => {
    const k = deriveChildKeys(suite, {
      prfId: PrfId.HMAC_SHA2_256,
      skD,
      nonceI,
      nonceR,
      encrId: EncrId.AES_CBC,
      encrKeyBits: 128,
      integId: IntegId.HMAC_SHA2_256_128,
    });
    const km = noblePrfPlus(sha256, skD, cat(nonceI, nonceR), 2 * (16 + 32));
    expect([k.encI, k.integI, k.encR, k.integR].map(toHex)).toEqual([
      toHex(km.subarray(0, 16)),
      toHex(km.subarray(16, 48)),
      toHex(km.subarray(48, 64)),
      toHex(km.subarray(64, 96)),
    ]);
  });

  it('with PFS: KEYMAT = prf+(SK_d, g^ir (new) | Ni | Nr); AEAD has empty integ keys', () => {
    const k = deriveChildKeys(suite, {
      prfId: PrfId.HMAC_SHA2_256,
      skD,
      nonceI,
      nonceR,
      sharedSecret: gir,
      encrId: EncrId.AES_GCM_16,
      encrKeyBits: 256,
      integId: IntegId.NONE,
    });
    const km = noblePrfPlus(sha256, skD, cat(gir, nonceI, nonceR), 72);
    expect(toHex(k.encI)).toBe(toHex(km.subarray(0, 36)));
    expect(toHex(k.encR)).toBe(toHex(km.subarray(36, 72)));
    expect(k.integI).toHaveLength(0);
    expect(k.integR).toHaveLength(0);
  });
});
