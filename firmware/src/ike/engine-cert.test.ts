// Engine end to end with certificates (RFC 7296 §2.15, §3.6–3.8; RFC 7427; RFC 7383 fragmentation).
import { describe, expect, test } from 'vitest';
import { certPair, testPki } from './testing/pairs.ts';
import { CONNECT_TIMEOUT_MS } from './engine.ts';
import { CLIENT_ADDR, GW_ADDR } from './testing/config.ts';
import { ExchangeType, PayloadType } from './constants.ts';
import { decodeMessage } from './codec/index.ts';
import type { TestKeyType } from '../../../test/support/certs.ts';

describe('certificate authentication', () => {
  const cases: [TestKeyType, string][] = [
    ['ecdsa-p256', 'ECDSA P-256'],
    ['ed25519', 'Ed25519'],
    ['rsa', 'RSA-2048'],
  ];
  for (const [keyType, label] of cases) {
    test(`${label}: both sides validate the chain and verify RFC 7427 signatures`, async () => {
      const pair = certPair(keyType);
      // IKE_SA_INIT { SA, KE, Ni, N(NAT_D), N(FRAG), N(SIG_HASH) } -->
      //                      <-- IKE_SA_INIT { SA, KE, Nr, N(NAT_D), N(FRAG), N(SIG_HASH), CERTREQ }
      // IKE_AUTH { IDi, CERT, N(INITIAL_CONTACT), IDr, CERTREQ, AUTH(14), SA, TSi, TSr } -->
      //          (responder pauses on pki.validateChain, resumes)
      //                      <-- IKE_AUTH { IDr, CERT, AUTH(14), SA, TSi, TSr }
      await pair.initiate('to-gw');
      expect(pair.a.eventsOf('ike.up')).toHaveLength(1);
      expect(pair.b.eventsOf('ike.up')[0]).toMatchObject({ remoteId: 'fqdn:client.outpost.test' });
      expect(pair.a.effects.filter((e) => e.type === 'pki.validateChain')).toHaveLength(1);
      expect(pair.b.effects.filter((e) => e.type === 'pki.validateChain')).toHaveLength(1);
      expect(pair.a.dp.outbound()[0]!.encKey).toEqual(pair.b.dp.inbound()[0]!.encKey);
      expect(pair.b.engine.listSas()[0]?.state).toBe('established');
    });
  }

  test('the responder sends CERTREQ in IKE_SA_INIT and both send their certificate in IKE_AUTH', async () => {
    const pair = certPair('ecdsa-p256');
    await pair.initiate('to-gw');
    const initResp = pair.wire.find((p) => p.exchange === ExchangeType.IKE_SA_INIT && p.response)!;
    const dec = decodeMessage(initResp.d.data);
    expect(dec.ok && dec.value.payloads.map((p) => p.type)).toContain(PayloadType.CERTREQ);
    const sent = pair.b.effects.find((e) => e.type === 'pki.validateChain');
    expect(sent?.type === 'pki.validateChain' && sent.request.endEntityDer).toEqual(testPki().client['ecdsa-p256'].der);
    const got = pair.a.effects.find((e) => e.type === 'pki.validateChain');
    expect(got?.type === 'pki.validateChain' && got.request.identity.data).toEqual(new TextEncoder().encode('gw.outpost.test'));
  });

  test('an untrusted CA fails authentication with the reason in one line', async () => {
    const pki = testPki();
    const pair = certPair('ecdsa-p256', { clientCert: pki.gwUntrusted, client: { local: { id: 'fqdn:gw.outpost.test', auth: 'pubkey', certChain: [pki.gwUntrusted.der], privateKey: pki.gwUntrusted.keyDer } } });
    await pair.initiate('to-gw');
    const warn = pair.b.logs('warn');
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatch(/^auth failed: certificate not accepted \(no trusted CA .*\) for peer fqdn:gw.outpost.test from 192\.0\.2\.2$/);
    expect(pair.a.eventsOf('auth.failed')[0]?.reason).toContain('AUTHENTICATION_FAILED');
    expect(pair.a.engine.listSas()).toEqual([]);
    expect(pair.b.engine.listSas()).toEqual([]);
  });

  test('an expired gateway certificate is refused by the client, which tells the gateway', async () => {
    const pki = testPki();
    const pair = certPair('ecdsa-p256', {
      gw: { local: { id: 'fqdn:gw.outpost.test', auth: 'pubkey', certChain: [pki.gwExpired.der], privateKey: pki.gwExpired.keyDer } },
    });
    await pair.initiate('to-gw');
    const warn = pair.a.logs('warn');
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatch(/^auth failed: certificate not accepted \(.*expired.*\) for peer fqdn:gw.outpost.test from 192\.0\.2\.1$/);
    expect(pair.trace().slice(4)).toEqual(['a>INFORMATIONAL', 'b<INFORMATIONAL']);
    expect(pair.a.engine.listSas()).toEqual([]);
    expect(pair.b.engine.listSas()).toEqual([]);
  });

  test('a certificate without the claimed identity is refused (wrong SAN)', async () => {
    const pki = testPki();
    const pair = certPair('ecdsa-p256', {
      gw: { local: { id: 'fqdn:gw.outpost.test', auth: 'pubkey', certChain: [pki.gwWrongSan.der], privateKey: pki.gwWrongSan.keyDer } },
    });
    await pair.initiate('to-gw');
    expect(pair.a.logs('warn')[0]).toMatch(/^auth failed: certificate not accepted \(.*gw\.outpost\.test.*\)/);
    expect(pair.a.engine.listSas()).toEqual([]);
  });

  test('a valid certificate with a signature made by another key fails with the signature reason', async () => {
    const pki = testPki();
    const pair = certPair('ecdsa-p256', {
      client: { local: { id: 'fqdn:client.outpost.test', auth: 'pubkey', certChain: [pki.client['ecdsa-p256'].der], privateKey: pki.gw['ecdsa-p256'].keyDer } },
    });
    await pair.initiate('to-gw');
    expect(pair.b.logs('warn')).toEqual([`auth failed: ecdsa-sha256 signature invalid for peer fqdn:client.outpost.test from ${CLIENT_ADDR}`]);
    expect(pair.b.engine.listSas()).toEqual([]);
    expect(pair.a.engine.listSas()).toEqual([]);
  });

  test('a chain through an intermediate sent along in CERT payloads validates', async () => {
    const pki = testPki();
    const pair = certPair('ecdsa-p256', {
      gw: {
        local: { id: 'fqdn:gw.outpost.test', auth: 'pubkey', certChain: [pki.gwViaIntermediate.der, pki.intermediate.der], privateKey: pki.gwViaIntermediate.keyDer },
      },
    });
    await pair.initiate('to-gw');
    expect(pair.a.eventsOf('ike.up')).toHaveLength(1);
    const v = pair.a.effects.find((e) => e.type === 'pki.validateChain');
    expect(v?.type === 'pki.validateChain' && v.request.intermediatesDer).toEqual([pki.intermediate.der]);
  });

  test('a client whose identity the gateway connection does not accept fails', async () => {
    const pair = certPair('ecdsa-p256', { gw: { remote: { id: 'fqdn:someone-else.outpost.test', auth: 'pubkey', cas: [] } } });
    await pair.initiate('to-gw');
    expect(pair.b.logs('warn')).toEqual([`auth failed: no connection accepts signature auth to fqdn:gw.outpost.test for peer fqdn:client.outpost.test from ${CLIENT_ADDR}`]);
    expect(pair.b.effects.filter((e) => e.type === 'pki.validateChain')).toHaveLength(0);
  });

  test('while validation is pending, retransmits of the IKE_AUTH request are ignored; afterwards answered from the cache', async () => {
    const pair = certPair('ecdsa-p256');
    pair.holdValidations = true;
    await pair.initiate('to-gw');
    // IKE_AUTH request arrived; the gateway paused on pki.validateChain: no response yet.
    expect(pair.trace()).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT', 'a>IKE_AUTH']);
    expect(pair.held.map((h) => h.peer.name)).toEqual(['b']);
    // The client's retransmit timer fires: the gateway ignores the copy (no second validation, no answer).
    await pair.advance(1000);
    expect(pair.trace()).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT', 'a>IKE_AUTH', 'a>IKE_AUTH']);
    expect(pair.b.engine.stats().drops['retransmit-while-busy']).toBe(1);
    expect(pair.held).toHaveLength(1);
    // Validation done: the response goes out; the client then validates the gateway (held again).
    await pair.releaseValidations();
    expect(pair.trace().slice(4)).toEqual(['b<IKE_AUTH']);
    await pair.releaseValidations();
    expect(pair.a.eventsOf('ike.up')).toHaveLength(1);
    // A late copy of the request is answered from the cache, without a new validation.
    const request = pair.wire.find((p) => p.exchange === ExchangeType.IKE_AUTH && !p.response)!;
    pair.absorb(pair.b, pair.b.engine.receive(request.d, pair.clock));
    await pair.run();
    expect(pair.b.effects.filter((e) => e.type === 'pki.validateChain')).toHaveLength(1);
    expect(pair.b.engine.stats().counters['retransmit-answered']).toBe(1);
    expect(pair.trace().slice(-1)).toEqual(['b<IKE_AUTH']);
    expect(pair.a.engine.stats().drops['unexpected-response']).toBe(1);
  });

  test('an initiator paused on a validation that never answers gives up after the connect timeout', async () => {
    const pair = certPair('ecdsa-p256');
    pair.holdValidations = true;
    await pair.initiate('to-gw');
    await pair.releaseValidations(); // the gateway's check of the client
    expect(pair.held.map((h) => h.peer.name)).toEqual(['a']);
    await pair.advance(CONNECT_TIMEOUT_MS - 1);
    expect(pair.a.engine.listSas()).toHaveLength(1);
    await pair.advance(1);
    expect(pair.a.eventsOf('ike.failed')[0]?.reason).toBe('connect timeout');
    // A late answer finds nothing to resume.
    await pair.releaseValidations();
    expect(pair.a.engine.stats().drops['unknown-resume-ref']).toBe(1);
    expect(pair.a.engine.stats().internalErrors).toBe(0);
  });

  test('fragmentation: RSA certificates with a 576-octet fragment size go out as SKF fragments and reassemble', async () => {
    const pair = certPair('rsa', { gw: { fragmentSize: 576 }, client: { fragmentSize: 576 } });
    await pair.initiate('to-gw');
    expect(pair.a.eventsOf('ike.up')).toHaveLength(1);
    expect(pair.b.eventsOf('ike.up')).toHaveLength(1);
    const auth = pair.wire.filter((p) => p.exchange === ExchangeType.IKE_AUTH);
    expect(auth.filter((p) => !p.response).length).toBeGreaterThan(2);
    expect(auth.filter((p) => p.response).length).toBeGreaterThan(2);
    for (const p of auth) {
      expect(p.d.data.length).toBeLessThanOrEqual(576 - 28);
      const dec = decodeMessage(p.d.data);
      expect(dec.ok && dec.value.payloads[0]?.type).toBe(PayloadType.SKF);
    }
    expect(pair.a.dp.outbound()[0]!.spi).toBe(pair.b.dp.inbound()[0]!.spi);
  });

  test('without fragmentation support on one side the same messages go unfragmented', async () => {
    const pair = certPair('rsa', { gw: { fragmentSize: 576, fragmentation: false }, client: { fragmentSize: 576 } });
    await pair.initiate('to-gw');
    expect(pair.a.eventsOf('ike.up')).toHaveLength(1);
    const auth = pair.wire.filter((p) => p.exchange === ExchangeType.IKE_AUTH);
    expect(auth).toHaveLength(2);
    expect(auth[0]!.d.data.length).toBeGreaterThan(576);
    expect(GW_ADDR).toBe('192.0.2.1');
  });
});
