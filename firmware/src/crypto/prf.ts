// IKEv2 pseudo-random functions and prf+ (RFC 7296 §2.13; HMAC-SHA2 per RFC 4868 §2.1.2).
import { createHmac } from 'node:crypto';
import { PrfId } from '../ike/constants.ts';
import type { Prf } from './types.ts';
import { asBuffer, toBytes } from './bytes.ts';

interface PrfInfo {
  hash: string;
  outLen: number;
}

const PRFS: Readonly<Record<number, PrfInfo>> = {
  [PrfId.HMAC_SHA2_256]: { hash: 'sha256', outLen: 32 },
  [PrfId.HMAC_SHA2_384]: { hash: 'sha384', outLen: 48 },
  [PrfId.HMAC_SHA2_512]: { hash: 'sha512', outLen: 64 },
  [PrfId.HMAC_SHA1]: { hash: 'sha1', outLen: 20 },
  [PrfId.HMAC_MD5]: { hash: 'md5', outLen: 16 },
};

export function supportsPrf(prfId: number): boolean {
  return PRFS[prfId] !== undefined;
}

export function hmac(hash: string, key: Uint8Array, data: Uint8Array): Uint8Array {
  return toBytes(createHmac(hash, asBuffer(key)).update(asBuffer(data)).digest());
}

export function createPrf(prfId: number): Prf {
  const info = PRFS[prfId];
  if (!info) throw new Error(`unsupported PRF ${prfId}`);
  const { hash, outLen } = info;
  // RFC 4868 §2.1.2 / RFC 7296 §2.13: for HMAC PRFs the preferred key length is the output length.
  return { id: prfId, outLen, preferredKeyLen: outLen, compute: (key, data) => hmac(hash, key, data) };
}

/** prf+ (K,S) = T1 | T2 | ..., Tn = prf(K, Tn-1 | S | n), n a single octet, so at most 255 blocks. */
export function prfPlus(prf: Prf, key: Uint8Array, seed: Uint8Array, length: number): Uint8Array {
  const blocks = Math.ceil(length / prf.outLen);
  if (!Number.isInteger(length) || length < 0 || blocks > 255) throw new RangeError(`prf+ cannot produce ${length} octets`);
  const out = new Uint8Array(blocks * prf.outLen);
  let prev: Uint8Array = new Uint8Array(0);
  for (let n = 1; n <= blocks; n++) {
    const input = new Uint8Array(prev.length + seed.length + 1);
    input.set(prev, 0);
    input.set(seed, prev.length);
    input[input.length - 1] = n;
    prev = prf.compute(key, input);
    out.set(prev, (n - 1) * prf.outLen);
  }
  return out.subarray(0, length);
}
