// The seeded stream is reproducible, seed-separated and chunk-independent.
import { describe, expect, it } from 'vitest';
import { chacha20 } from '@noble/ciphers/chacha.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { seededRandom } from './seeded-random.ts';

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('seededRandom', () => {
  it('same seed, same stream; different seeds (incl. 1 vs "1") differ', () => {
    expect(toHex(seededRandom(1)(64))).toBe(toHex(seededRandom(1)(64)));
    expect(toHex(seededRandom(1)(64))).not.toBe(toHex(seededRandom(2)(64)));
    expect(toHex(seededRandom(1)(64))).not.toBe(toHex(seededRandom('1')(64)));
  });

  it('the stream does not depend on how it is cut into calls, across chunk boundaries', () => {
    const whole = seededRandom('x')(10000);
    const r = seededRandom('x');
    const parts: Uint8Array[] = [];
    for (const n of [0, 1, 4095, 2, 3000, 2902]) parts.push(r(n));
    expect(toHex(Buffer.concat(parts))).toBe(toHex(whole));
  });

  it('is the ChaCha20 keystream under SHA-256 of the tagged seed', () => {
    const key = sha256(new TextEncoder().encode('outpost-seeded-random:string:abc'));
    expect(toHex(seededRandom('abc')(100))).toBe(toHex(chacha20(key, new Uint8Array(12), new Uint8Array(100))));
  });

  it('refuses bad lengths', () => {
    expect(() => seededRandom(1)(-1)).toThrow(RangeError);
    expect(() => seededRandom(1)(1.5)).toThrow(RangeError);
  });
});
