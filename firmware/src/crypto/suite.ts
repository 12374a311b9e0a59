// The production CryptoSuite over node:crypto, with @noble for what Bun lacks (ARCHITECTURE.md §6, RFC 7296 §2.13-2.14).
import { createHash, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';
import type { CryptoSuite, HashName, Prf } from './types.ts';
import { asBuffer, toBytes } from './bytes.ts';
import { createPrf, prfPlus } from './prf.ts';
import { createSkTransform, keyLengths } from './sk-transform.ts';
import { createKeyExchange, supportsGroup } from './key-exchange.ts';

export interface CryptoSuiteOptions {
  /** Source of every random octet the suite uses (IVs are the caller's; private keys are ours). Seed it in tests. */
  randomBytes?: (n: number) => Uint8Array;
}

export function createCryptoSuite(opts: CryptoSuiteOptions = {}): CryptoSuite {
  const random = opts.randomBytes ?? ((n: number) => toBytes(nodeRandomBytes(n)));
  const prfs = new Map<number, Prf>();
  const prf = (prfId: number): Prf => {
    let p = prfs.get(prfId);
    if (!p) {
      p = createPrf(prfId);
      prfs.set(prfId, p);
    }
    return p;
  };
  return {
    randomBytes: (n) => random(n),
    prf,
    prfPlus: (prfId, key, seed, length) => prfPlus(prf(prfId), key, seed, length),
    keyLengths,
    sk: createSkTransform,
    keyExchange: (group) => createKeyExchange(group, random),
    supportsGroup,
    hash: (name: HashName, data) => toBytes(createHash(name).update(asBuffer(data)).digest()),
    equal: (a, b) => a.length === b.length && timingSafeEqual(asBuffer(a), asBuffer(b)),
  };
}
