// EspPrimitives over node:crypto, with ChaCha20-Poly1305 (RFC 8439) from @noble/ciphers since Bun's node:crypto lacks it.
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import type { EspAead, EspHash, EspPrimitives } from './primitives.ts';

function u8(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function gcmName(key: Uint8Array): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  if (key.length === 16) return 'aes-128-gcm';
  if (key.length === 24) return 'aes-192-gcm';
  if (key.length === 32) return 'aes-256-gcm';
  throw new RangeError(`bad AES key length ${key.length}`);
}

function cbcName(key: Uint8Array): string {
  if (key.length === 16 || key.length === 24 || key.length === 32) return `aes-${key.length * 8}-cbc`;
  throw new RangeError(`bad AES key length ${key.length}`);
}

export function createNodeEspPrimitives(): EspPrimitives {
  return {
    aeadSeal(alg: EspAead, key, nonce, aad, plaintext, tagLen) {
      if (alg === 'chacha20-poly1305') {
        if (tagLen !== 16) throw new RangeError('ChaCha20-Poly1305 has a 16-octet tag');
        return chacha20poly1305(key, nonce, aad).encrypt(plaintext);
      }
      const c = createCipheriv(gcmName(key), key, nonce, { authTagLength: 16 });
      c.setAAD(aad);
      const ct = Buffer.concat([c.update(plaintext), c.final()]);
      const out = new Uint8Array(ct.length + tagLen);
      out.set(ct, 0);
      out.set(c.getAuthTag().subarray(0, tagLen), ct.length); // RFC 4106 §6: ICV = leftmost octets of the tag
      return out;
    },
    aeadOpen(alg: EspAead, key, nonce, aad, data, tagLen) {
      if (data.length < tagLen) return null;
      try {
        if (alg === 'chacha20-poly1305') return chacha20poly1305(key, nonce, aad).decrypt(data);
        const ct = data.subarray(0, data.length - tagLen);
        const d = createDecipheriv(gcmName(key), key, nonce, { authTagLength: tagLen });
        d.setAAD(aad);
        d.setAuthTag(data.subarray(data.length - tagLen));
        return u8(Buffer.concat([d.update(ct), d.final()]));
      } catch {
        return null;
      }
    },
    aesCbcEncrypt(key, iv, data) {
      const c = createCipheriv(cbcName(key), key, iv).setAutoPadding(false);
      return u8(Buffer.concat([c.update(data), c.final()]));
    },
    aesCbcDecrypt(key, iv, data) {
      const d = createDecipheriv(cbcName(key), key, iv).setAutoPadding(false);
      return u8(Buffer.concat([d.update(data), d.final()]));
    },
    hmac(hash: EspHash, key, data) {
      return u8(createHmac(hash, key).update(data).digest());
    },
    equal(a, b) {
      return a.length === b.length && timingSafeEqual(a, b);
    },
  };
}
