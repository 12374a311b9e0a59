// MD5 and HMAC-MD5 as RADIUS mandates them (RFC 2865 §3, RFC 3579 §3.2); used for nothing else in Outpost.
import { hmac } from '@noble/hashes/hmac.js';
import { md5 as nobleMd5 } from '@noble/hashes/legacy.js';
import { concat } from './bytes.ts';

export function md5(...parts: readonly Uint8Array[]): Uint8Array {
  return nobleMd5(concat(...parts));
}

export function hmacMd5(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(nobleMd5, key, data);
}
