// AUTH payloads (RFC 7296 §2.15, RFC 7427, RFC 4754): method choice by peer announcement, verification rules.
import { describe, expect, test } from 'vitest';
import { buildAuth, signatureMethodAllowed, verifySignature } from './auth.ts';
import { AuthMethod, HashAlgorithm, PrfId } from './constants.ts';
import { IkeSa } from './ike-sa.ts';
import type { EngineContext } from './context.ts';
import { createCryptoSuite } from '../crypto/suite.ts';
import { createSignatureOps } from '../pki/signature.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';
import { conn } from './testing/config.ts';
import { testPki } from './testing/pairs.ts';
import type { TestCert } from '../../../test/support/certs.ts';
import type { ConnectionConfig } from '../config/types.ts';

const crypto = createCryptoSuite({ randomBytes: seededRandom('auth') });
const sig = createSignatureOps();
const ctx = {
  crypto,
  sig,
  signer: (c: ConnectionConfig) => sig.createSigner(c.local.privateKey!),
} as unknown as EngineContext;

function setup(cert: TestCert, peerHashes: number[] | null, legacy = false) {
  const c = conn({ legacy, local: { id: 'fqdn:gw.outpost.test', auth: 'pubkey', certChain: [cert.der], privateKey: cert.keyDer } });
  const sa = new IkeSa('t', false, new Uint8Array(8), { addr: '192.0.2.1', port: 500 }, { addr: '192.0.2.2', port: 500 }, c, [c], 0);
  sa.prfId = PrfId.HMAC_SHA2_256;
  sa.peerSigHashes = peerHashes;
  return { c, sa };
}

const octets = new TextEncoder().encode('signed octets');

describe('AUTH method choice', () => {
  test('RFC 7427 (method 14) when the peer announced hashes', () => {
    const cert = testPki().gw['ecdsa-p256'];
    const { c, sa } = setup(cert, [HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_256]);
    const a = buildAuth(ctx, sa, c, octets);
    if (!a.ok) throw new Error(a.reason);
    expect(a.value.method).toBe(AuthMethod.DIGITAL_SIGNATURE);
    expect(sig.decodeDigitalSignature(a.value.data)?.scheme).toBe('ecdsa-sha256');
    expect(verifySignature(ctx, false, cert.spkiDer, a.value, octets)).toEqual({ ok: true, value: true });
    expect(verifySignature(ctx, false, cert.spkiDer, a.value, new Uint8Array(3)).ok).toBe(false);
  });

  test('ECDSA P-256 without the announcement uses method 9 with a 64-octet r||s', () => {
    const cert = testPki().gw['ecdsa-p256'];
    const { c, sa } = setup(cert, null);
    const a = buildAuth(ctx, sa, c, octets);
    if (!a.ok) throw new Error(a.reason);
    expect(a.value.method).toBe(AuthMethod.ECDSA_SHA256_P256);
    expect(a.value.data.length).toBe(64);
    expect(verifySignature(ctx, false, cert.spkiDer, a.value, octets).ok).toBe(true);
    // Method 9 with a P-384 key does not verify.
    expect(verifySignature(ctx, false, testPki().gw['ecdsa-p384'].spkiDer, a.value, octets).ok).toBe(false);
  });

  test('RSA without the announcement needs legacy (method 1, SHA-1)', () => {
    const cert = testPki().gw.rsa;
    const strict = setup(cert, null);
    const refused = buildAuth(ctx, strict.sa, strict.c, octets);
    expect(refused.ok).toBe(false);
    const legacy = setup(cert, null, true);
    const a = buildAuth(ctx, legacy.sa, legacy.c, octets);
    if (!a.ok) throw new Error(a.reason);
    expect(a.value.method).toBe(AuthMethod.RSA_SIG);
    expect(verifySignature(ctx, true, cert.spkiDer, a.value, octets).ok).toBe(true);
    expect(verifySignature(ctx, false, cert.spkiDer, a.value, octets).ok).toBe(false);
    expect(signatureMethodAllowed(AuthMethod.RSA_SIG, false)).toContain('legacy');
    expect(signatureMethodAllowed(AuthMethod.DSS_SIG, true)).toContain('not supported');
  });

  test('Ed25519 always signs with method 14', () => {
    const cert = testPki().gw.ed25519;
    const { c, sa } = setup(cert, null);
    const a = buildAuth(ctx, sa, c, octets);
    if (!a.ok) throw new Error(a.reason);
    expect(a.value.method).toBe(AuthMethod.DIGITAL_SIGNATURE);
    expect(verifySignature(ctx, false, cert.spkiDer, a.value, octets).ok).toBe(true);
  });

  test('a PSK connection without a secret cannot authenticate', () => {
    const c = conn({ psk: undefined });
    const sa = new IkeSa('t', true, new Uint8Array(8), { addr: '192.0.2.1', port: 500 }, { addr: '192.0.2.2', port: 500 }, c, [c], 0);
    sa.prfId = PrfId.HMAC_SHA2_256;
    expect(buildAuth(ctx, sa, c, octets)).toEqual({ ok: false, reason: 'connection rw has no PSK' });
  });
});
