// Test-only SkTransforms over node:crypto (RFC 5282 AES-GCM, RFC 7296 §3.14 AES-CBC + HMAC), independent of firmware/src/crypto.
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import type { SkTransform } from '../../../firmware/src/crypto/types.ts';

/** AES-GCM with a 16-octet ICV; key = AES key || 4-octet salt, nonce = salt || 8-octet wire IV (RFC 5282 §4). */
export function aesGcm16(keyWithSalt: Uint8Array): SkTransform {
  const key = Buffer.from(keyWithSalt.subarray(0, keyWithSalt.length - 4));
  const salt = keyWithSalt.subarray(keyWithSalt.length - 4);
  const alg = `aes-${key.length * 8}-gcm` as 'aes-128-gcm';
  const nonce = (iv: Uint8Array) => Buffer.concat([salt, iv]);
  return {
    ivLen: 8,
    icvLen: 16,
    blockLen: 1,
    seal(aad, iv, pt) {
      const c = createCipheriv(alg, key, nonce(iv), { authTagLength: 16 });
      c.setAAD(aad);
      return new Uint8Array(Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]));
    },
    open(aad, iv, ctIcv) {
      if (iv.length !== 8 || ctIcv.length < 16) return null;
      try {
        const d = createDecipheriv(alg, key, nonce(iv), { authTagLength: 16 });
        d.setAAD(aad);
        d.setAuthTag(ctIcv.subarray(ctIcv.length - 16));
        return new Uint8Array(Buffer.concat([d.update(ctIcv.subarray(0, ctIcv.length - 16)), d.final()]));
      } catch {
        return null;
      }
    },
  };
}

/** AES-CBC with HMAC-SHA2-256-128 over aad || IV || ciphertext (RFC 7296 §3.14, RFC 4868). */
export function aesCbcHmacSha256(encKey: Uint8Array, integKey: Uint8Array): SkTransform {
  const alg = `aes-${encKey.length * 8}-cbc` as 'aes-128-cbc';
  const mac = (aad: Uint8Array, iv: Uint8Array, ct: Uint8Array) =>
    createHmac('sha256', integKey).update(aad).update(iv).update(ct).digest().subarray(0, 16);
  return {
    ivLen: 16,
    icvLen: 16,
    blockLen: 16,
    seal(aad, iv, pt) {
      const c = createCipheriv(alg, encKey, iv).setAutoPadding(false);
      const ct = Buffer.concat([c.update(pt), c.final()]);
      return new Uint8Array(Buffer.concat([ct, mac(aad, iv, ct)]));
    },
    open(aad, iv, ctIcv) {
      if (iv.length !== 16 || ctIcv.length < 16 || (ctIcv.length - 16) % 16 !== 0) return null;
      const ct = ctIcv.subarray(0, ctIcv.length - 16);
      if (!timingSafeEqual(mac(aad, iv, ct), ctIcv.subarray(ctIcv.length - 16))) return null;
      try {
        const d = createDecipheriv(alg, encKey, iv).setAutoPadding(false);
        return new Uint8Array(Buffer.concat([d.update(ct), d.final()]));
      } catch {
        return null;
      }
    },
  };
}

/** Deterministic "random" bytes for IVs: a counter, so sealed test messages are reproducible. */
export function counterRandom(seed = 1): (n: number) => Uint8Array {
  let c = seed;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = (c++ * 151 + i * 7) & 0xff;
    return out;
  };
}

/** Fixed test keys (never used outside tests). */
export const gcmKey = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
export const cbcEncKey = Uint8Array.from({ length: 16 }, (_, i) => 0x40 + i);
export const cbcIntegKey = Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i);

export function bothTransforms(): { name: string; sk: SkTransform }[] {
  return [
    { name: 'AES-GCM-16', sk: aesGcm16(gcmKey) },
    { name: 'AES-CBC-128 + HMAC-SHA2-256-128', sk: aesCbcHmacSha256(cbcEncKey, cbcIntegKey) },
  ];
}
