// Tests for certificate path validation and identity binding (RFC 5280 §6, RFC 7296 §3.5, RFC 4945 §5).
import * as nodeCrypto from 'node:crypto';
import { beforeEach, describe, expect, test } from 'vitest';
import { issueBenchCert, makeBenchCa } from '../../../test/bench/bench-pki.ts';
import { makeTestPki, TEST_KEY_TYPES, type TestCert } from '../../../test/support/certs.ts';
import { IdType } from '../ike/constants.ts';
import { parseIdentity, type Identity } from '../ike/identity.ts';
import type { ValidateChainResult } from '../ike/io.ts';
import { CHAIN_CACHE_TTL_MS, chainCacheStats, clearChainCache, validateChain } from './chain.ts';

const pki = makeTestPki();
const now = pki.options.nowMs;

function id(spec: string): Identity {
  const r = parseIdentity(spec);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

function check(ee: TestCert | Uint8Array, identity: string, extra: { intermediates?: Uint8Array[]; anchors?: Uint8Array[]; nowMs?: number } = {}): Promise<ValidateChainResult> {
  return validateChain({
    endEntityDer: ee instanceof Uint8Array ? ee : ee.der,
    intermediatesDer: extra.intermediates ?? [],
    trustAnchorsDer: extra.anchors ?? [pki.ca.der],
    identity: id(identity),
    nowMs: extra.nowMs ?? now,
  });
}

function reason(r: ValidateChainResult): string {
  return r.ok ? '(ok)' : r.reason;
}

describe('validateChain', () => {
  test.each(TEST_KEY_TYPES)('a %s gateway certificate issued by the CA is accepted, with its key and subject', async (t) => {
    const r = await check(pki.gw[t], 'gw.outpost.test');
    expect(r).toEqual({ ok: true, spkiDer: pki.gw[t].spkiDer, subject: 'C=CH, O=Outpost Test, CN=gw.outpost.test' });
  });

  test('identities bound by SAN: FQDN ignoring case, IPv4 address, email; and by subject DN', async () => {
    expect((await check(pki.gw.rsa, 'GW.Outpost.Test')).ok).toBe(true);
    expect((await check(pki.gw.rsa, '192.0.2.1')).ok).toBe(true);
    expect((await check(pki.client['ecdsa-p384'], 'client@outpost.test')).ok).toBe(true);
    expect((await check(pki.client['ecdsa-p384'], 'client.outpost.test')).ok).toBe(true);
    expect((await check(pki.gw.ed25519, 'dn:C=CH, O=Outpost Test, CN=gw.outpost.test')).ok).toBe(true);
    expect((await check(pki.gw.ed25519, 'dn:c=ch,  o=outpost test, cn=GW.outpost.test')).ok).toBe(true);
  });

  test('an identity the certificate does not carry is refused with the identity in the reason', async () => {
    expect(reason(await check(pki.gwWrongSan, 'gw.outpost.test'))).toBe('identity fqdn:gw.outpost.test not in certificate SAN');
    expect(reason(await check(pki.gw.rsa, '192.0.2.2'))).toBe('identity ipv4:192.0.2.2 not in certificate SAN');
    expect(reason(await check(pki.gw.rsa, 'ipv6:2001:db8::1'))).toBe('identity ipv6:2001:db8::1 not in certificate SAN');
    expect(reason(await check(pki.gw.rsa, 'client@outpost.test'))).toBe('identity email:client@outpost.test not in certificate SAN');
    expect(reason(await check(pki.gw.rsa, 'dn:C=CH, O=Outpost Test, CN=other'))).toMatch(/^identity dn:C=CH, O=Outpost Test, CN=other does not match certificate subject C=CH, O=Outpost Test, CN=gw.outpost.test$/);
    expect(reason(await check(pki.gw.rsa, 'keyid:0102'))).toMatch(/key id/);
  });

  test('an expired certificate is refused, naming the expiry time', async () => {
    const r = await check(pki.gwExpired, 'gw.outpost.test');
    const notAfter = new Date(Math.floor((now - 86_400_000) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    expect(reason(r)).toBe(`certificate expired ${notAfter}`);
  });

  test('a not yet valid certificate is refused', async () => {
    expect(reason(await check(pki.gwNotYetValid, 'gw.outpost.test'))).toMatch(/^certificate not valid before \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  test('validity is judged at nowMs, not the wall clock', async () => {
    expect(reason(await check(pki.gw['ecdsa-p256'], 'gw.outpost.test', { nowMs: now + 400 * 86_400_000 }))).toMatch(/^certificate expired /);
    expect((await check(pki.gwNotYetValid, 'gw.outpost.test', { nowMs: now + 2 * 86_400_000 })).ok).toBe(true);
  });

  test('a certificate from an untrusted CA is refused', async () => {
    expect(reason(await check(pki.gwUntrusted, 'gw.outpost.test'))).toMatch(/^no trusted CA for .*Untrusted Root CA/);
    expect(reason(await check(pki.gw['ecdsa-p256'], 'gw.outpost.test', { anchors: [pki.otherCa.der] }))).toMatch(/^no trusted CA/);
  });

  test('a chain through an intermediate CA is accepted when the intermediate is supplied', async () => {
    expect((await check(pki.gwViaIntermediate, 'gw.outpost.test', { intermediates: [pki.intermediate.der] })).ok).toBe(true);
    expect(reason(await check(pki.gwViaIntermediate, 'gw.outpost.test'))).toMatch(/^no trusted CA .*Intermediate CA/);
    // Trusting the intermediate alone is enough.
    expect((await check(pki.gwViaIntermediate, 'gw.outpost.test', { anchors: [pki.intermediate.der] })).ok).toBe(true);
  });

  test('a forged signature is refused', async () => {
    const forged = pki.gw['ecdsa-p256'].der.slice();
    // Flip a bit inside the signature's r value (the tail of the DER).
    const i = forged.length - 10;
    forged[i] = (forged[i] as number) ^ 0x01;
    expect(reason(await check(forged, 'gw.outpost.test'))).toMatch(/^signature invalid: certificate not signed by C=CH, O=Outpost Test, CN=Outpost Test Root CA$/);
  });

  test('key usage without digitalSignature and an EKU that excludes IKE are refused; a missing EKU is fine', async () => {
    expect(reason(await check(pki.gwNoDigitalSignature, 'gw.outpost.test'))).toBe('certificate key usage lacks digitalSignature');
    expect(reason(await check(pki.gwBadEku, 'gw.outpost.test'))).toMatch(/extended key usage \(1\.3\.6\.1\.5\.5\.7\.3\.3\) allows neither/);
  });

  test('garbage never throws', async () => {
    const cases: Uint8Array[] = [new Uint8Array(), new Uint8Array([0x30, 0x82, 0xff]), pki.gw.rsa.der.subarray(0, 200), new Uint8Array([...pki.gw.rsa.der, 0])];
    for (let i = 0; i < 20; i++) cases.push(new Uint8Array(nodeCrypto.randomBytes(50 + i * 20)));
    for (const der of cases) {
      const r = await check(der, 'gw.outpost.test');
      expect(reason(r)).toBe('malformed end-entity certificate');
    }
    expect(reason(await check(pki.gw.rsa, 'gw.outpost.test', { intermediates: [new Uint8Array([1, 2, 3])] }))).toBe('malformed intermediate certificate');
    expect(reason(await check(pki.gw.rsa, 'gw.outpost.test', { anchors: [new Uint8Array([1, 2, 3])] }))).toBe('no trusted CA configured');
    expect(reason(await check(pki.gw.rsa, 'gw.outpost.test', { anchors: [] }))).toBe('no trusted CA configured');
  });

  test.each(['rsa', 'ed25519'] as const)('CAs with %s keys work too', async (caKeyType) => {
    const other = makeTestPki({ caKeyType, nowMs: now });
    const r = await validateChain({ endEntityDer: other.gw['ecdsa-p384'].der, intermediatesDer: [], trustAnchorsDer: [other.ca.der], identity: id('gw.outpost.test'), nowMs: now });
    expect(r.ok).toBe(true);
    const wrong = await validateChain({ endEntityDer: other.gw['ecdsa-p384'].der, intermediatesDer: [], trustAnchorsDer: [pki.ca.der], identity: id('gw.outpost.test'), nowMs: now });
    expect(wrong.ok).toBe(false);
  });
});

describe('validateChain cache', () => {
  const DAY = 86_400_000;
  beforeEach(() => clearChainCache());

  /** Counter deltas across `fn`. */
  async function counting<T>(fn: () => Promise<T>): Promise<{ value: T; hits: number; misses: number; stale: number }> {
    const a = chainCacheStats();
    const value = await fn();
    const b = chainCacheStats();
    return { value, hits: b.hits - a.hits, misses: b.misses - a.misses, stale: b.stale - a.stale };
  }

  test('a repeated validation is answered from the cache with the same result, as a copy', async () => {
    const first = await counting(() => check(pki.gw['ecdsa-p256'], 'gw.outpost.test'));
    expect(first).toMatchObject({ hits: 0, misses: 1 });
    const again = await counting(() => check(pki.gw['ecdsa-p256'], 'gw.outpost.test', { nowMs: now + 60_000 }));
    expect(again).toMatchObject({ hits: 1, misses: 0 });
    expect(again.value).toEqual(first.value);
    // Whoever alters a returned key must not alter what the next caller gets.
    if (again.value.ok) again.value.spkiDer.fill(0);
    const third = await check(pki.gw['ecdsa-p256'], 'gw.outpost.test');
    expect(third).toEqual({ ok: true, spkiDer: pki.gw['ecdsa-p256'].spkiDer, subject: pki.gw['ecdsa-p256'].subject });
  });

  test('a cached certificate that has expired since fails on the next request, naming its expiry', async () => {
    expect((await check(pki.gw['ecdsa-p256'], 'gw.outpost.test')).ok).toBe(true);
    const later = await counting(() => check(pki.gw['ecdsa-p256'], 'gw.outpost.test', { nowMs: now + 400 * DAY }));
    expect(later).toMatchObject({ hits: 0, stale: 1, misses: 1 });
    expect(reason(later.value)).toMatch(/^certificate expired \d{4}-/);
    // And the failure is not remembered: back at a valid time the chain validates in full again.
    expect(chainCacheStats().entries).toBe(0);
  });

  test('the cache window ends with the earliest notAfter on the path, here the CA', async () => {
    const t = Date.now();
    const ca = makeBenchCa('Short-lived CA', { notAfterMs: t + 10 * DAY });
    const ee = issueBenchCert(ca, 'peer.bench.example', { notAfterMs: t + 30 * DAY });
    const caEnd = Math.floor((t + 10 * DAY) / 1000) * 1000;
    const req = (nowMs: number) => ({ endEntityDer: ee.certDer, intermediatesDer: [], trustAnchorsDer: [ca.certDer], identity: id('peer.bench.example'), nowMs });
    // Remembered a minute before the CA expires, asked again a second after: well within the TTL, yet no hit.
    expect((await validateChain(req(caEnd - 60_000))).ok).toBe(true);
    expect(await counting(() => validateChain(req(caEnd)))).toMatchObject({ hits: 1 });
    const late = await counting(() => validateChain(req(caEnd + 1000)));
    expect(late).toMatchObject({ hits: 0, stale: 1 });
    expect(reason(late.value)).toMatch(/^CA certificate "O=Outpost Bench, CN=Short-lived CA" expired /);
  });

  test('another identity never hits the entry of the first, even on the same certificate', async () => {
    expect((await check(pki.gw.rsa, 'gw.outpost.test')).ok).toBe(true);
    const wrong = await counting(() => check(pki.gw.rsa, '192.0.2.2'));
    expect(wrong.hits).toBe(0);
    expect(reason(wrong.value)).toBe('identity ipv4:192.0.2.2 not in certificate SAN');
    const otherGood = await counting(() => check(pki.gw.rsa, '192.0.2.1'));
    expect(otherGood).toMatchObject({ hits: 0, misses: 1 });
    expect(otherGood.value.ok).toBe(true);
    // The same octets under another identity type are another identity too.
    const asEmail = await validateChain({
      endEntityDer: pki.gw.rsa.der,
      intermediatesDer: [],
      trustAnchorsDer: [pki.ca.der],
      identity: { idType: IdType.ID_RFC822_ADDR, data: new TextEncoder().encode('gw.outpost.test') },
      nowMs: now,
    });
    expect(reason(asEmail)).toMatch(/^identity .*gw\.outpost\.test not in certificate SAN$/);
  });

  test('other trust anchors or intermediates never hit an entry made with different ones', async () => {
    expect((await check(pki.gwViaIntermediate, 'gw.outpost.test', { intermediates: [pki.intermediate.der] })).ok).toBe(true);
    const noIntermediate = await counting(() => check(pki.gwViaIntermediate, 'gw.outpost.test'));
    expect(noIntermediate.hits).toBe(0);
    expect(reason(noIntermediate.value)).toMatch(/^no trusted CA/);
    const otherAnchor = await counting(() => check(pki.gwViaIntermediate, 'gw.outpost.test', { intermediates: [pki.intermediate.der], anchors: [pki.otherCa.der] }));
    expect(otherAnchor.hits).toBe(0);
    expect(reason(otherAnchor.value)).toMatch(/^no trusted CA/);
  });

  test('failures are never remembered', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await counting(() => check(pki.gwUntrusted, 'gw.outpost.test'));
      expect(r).toMatchObject({ hits: 0, misses: 1 });
      expect(r.value.ok).toBe(false);
    }
    expect(chainCacheStats().entries).toBe(0);
  });

  test('an entry is reused for at most CHAIN_CACHE_TTL_MS, and not when the clock went back', async () => {
    expect((await check(pki.gw.ed25519, 'gw.outpost.test')).ok).toBe(true);
    expect(await counting(() => check(pki.gw.ed25519, 'gw.outpost.test', { nowMs: now + CHAIN_CACHE_TTL_MS - 1 }))).toMatchObject({ hits: 1 });
    const old = await counting(() => check(pki.gw.ed25519, 'gw.outpost.test', { nowMs: now + CHAIN_CACHE_TTL_MS }));
    expect(old).toMatchObject({ hits: 0, stale: 1, misses: 1 });
    expect(old.value.ok).toBe(true);
    const back = await counting(() => check(pki.gw.ed25519, 'gw.outpost.test', { nowMs: now }));
    expect(back).toMatchObject({ hits: 0, stale: 1 });
  });

  test('a forged certificate never hits the entry of the genuine one', async () => {
    expect((await check(pki.gw['ecdsa-p256'], 'gw.outpost.test')).ok).toBe(true);
    const forged = pki.gw['ecdsa-p256'].der.slice();
    forged[forged.length - 10] = (forged[forged.length - 10] as number) ^ 0x01;
    expect(reason(await check(forged, 'gw.outpost.test'))).toMatch(/^signature invalid/);
  });
});
