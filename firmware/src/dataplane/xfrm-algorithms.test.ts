// IANA ESP transform ids to Linux crypto names, key and ICV sizes (RFC 4106 §8.1, RFC 7634 §2, RFC 4868 §2.3).
import { describe, expect, test } from 'vitest';
import { EncrId, IntegId } from '../ike/constants.ts';
import { xfrmAlgorithms } from './xfrm-algorithms.ts';

describe('xfrmAlgorithms', () => {
  test.each([
    ['AES-GCM-16-256', EncrId.AES_GCM_16, 256, IntegId.NONE, 36, 0, { aead: 'rfc4106(gcm(aes))', icvBits: 128 }],
    ['AES-GCM-8-128', EncrId.AES_GCM_8, 128, IntegId.NONE, 20, 0, { aead: 'rfc4106(gcm(aes))', icvBits: 64 }],
    ['AES-GCM-12-192', EncrId.AES_GCM_12, 192, IntegId.NONE, 28, 0, { aead: 'rfc4106(gcm(aes))', icvBits: 96 }],
    ['ChaCha20-Poly1305', EncrId.CHACHA20_POLY1305, undefined, IntegId.NONE, 36, 0, { aead: 'rfc7539esp(chacha20,poly1305)', icvBits: 128 }],
    ['AES-CBC-256 + HMAC-SHA2-256-128', EncrId.AES_CBC, 256, IntegId.HMAC_SHA2_256_128, 32, 32, { crypt: 'cbc(aes)', auth: 'hmac(sha256)', truncBits: 128 }],
    ['AES-CBC-128 + HMAC-SHA2-384-192', EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_384_192, 16, 48, { crypt: 'cbc(aes)', auth: 'hmac(sha384)', truncBits: 192 }],
    ['AES-CBC-192 + HMAC-SHA2-512-256', EncrId.AES_CBC, 192, IntegId.HMAC_SHA2_512_256, 24, 64, { crypt: 'cbc(aes)', auth: 'hmac(sha512)', truncBits: 256 }],
    ['AES-CTR-128 + HMAC-SHA1-96', EncrId.AES_CTR, 128, IntegId.HMAC_SHA1_96, 20, 20, { crypt: 'rfc3686(ctr(aes))', auth: 'hmac(sha1)', truncBits: 96 }],
    ['NULL + AES-XCBC-96', EncrId.NULL, undefined, IntegId.AES_XCBC_96, 0, 16, { crypt: 'ecb(cipher_null)', auth: 'xcbc(aes)', truncBits: 96 }],
  ])('%s', (_, encr, bits, integ, ek, ik, want) => {
    expect(xfrmAlgorithms(encr, bits, integ, ek, ik)).toEqual({ ok: true, value: want });
  });

  test.each([
    ['GCM with an integrity algorithm', EncrId.AES_GCM_16, 256, IntegId.HMAC_SHA2_256_128, 36, 32, /separate integrity/],
    ['GCM key without the salt', EncrId.AES_GCM_16, 256, IntegId.NONE, 32, 0, /expected 36/],
    ['GCM with a 512-bit key', EncrId.AES_GCM_16, 512, IntegId.NONE, 68, 0, /not 128, 192 or 256/],
    ['CBC without integrity', EncrId.AES_CBC, 256, IntegId.NONE, 32, 0, /without integrity/],
    ['a short HMAC key', EncrId.AES_CBC, 256, IntegId.HMAC_SHA2_256_128, 32, 20, /expected 32/],
    ['DES', EncrId.DES, undefined, IntegId.HMAC_SHA1_96, 8, 20, /unsupported encryption/],
    ['an unknown integrity id', EncrId.AES_CBC, 128, 99, 16, 16, /unsupported integrity/],
  ])('refuses %s', (_, encr, bits, integ, ek, ik, why) => {
    const r = xfrmAlgorithms(encr, bits, integ, ek, ik);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(why);
  });
});
