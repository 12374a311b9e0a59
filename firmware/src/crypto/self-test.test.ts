// The boot self-test passes on the real suite and names what breaks on a faulty one.
import { describe, expect, it } from 'vitest';
import { DhId, EncrId, PrfId } from '../ike/constants.ts';
import type { CryptoSuite } from './types.ts';
import { createCryptoSuite } from './suite.ts';
import { runSelfTest } from './self-test.ts';

describe('runSelfTest', () => {
  it('passes on the production suite', () => {
    const r = runSelfTest();
    expect(r.failures).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('reports each broken algorithm by name', () => {
    const good = createCryptoSuite();
    const broken: CryptoSuite = {
      ...good,
      prf: (id) => {
        const p = good.prf(id);
        return id === PrfId.HMAC_SHA2_384 ? { ...p, compute: (k, d) => p.compute(d, k) } : p;
      },
      sk: (encrId, bits, integId, encKey, integKey) => {
        const sk = good.sk(encrId, bits, integId, encKey, integKey);
        if (encrId !== EncrId.CHACHA20_POLY1305) return sk;
        return { ...sk, open: (aad, iv, data) => sk.open(aad, iv, data) ?? new Uint8Array(0) }; // accepts forgeries
      },
      keyExchange: (group) => {
        const ke = good.keyExchange(group);
        if (group !== DhId.ECP_384) return ke;
        return { ...ke, computeSecret: (peer) => ke.computeSecret(peer) ?? new Uint8Array(48) };
      },
      randomBytes: (n) => new Uint8Array(n),
    };
    const r = runSelfTest(broken);
    expect(r.ok).toBe(false);
    expect(r.failures).toEqual(['HMAC-SHA-384', 'ChaCha20-Poly1305', 'AES-128-CBC/HMAC-SHA-384-192', `group ${DhId.ECP_384} pairwise`, 'randomBytes']);
  });

  it('catches exceptions as failures', () => {
    const good = createCryptoSuite();
    const r = runSelfTest({ ...good, hash: () => { throw new Error('no sha'); } });
    expect(r.failures).toEqual(['SHA-256: no sha']);
  });
});
