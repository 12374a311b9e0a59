// Engine end to end with PSK (RFC 7296 §1.2, §2.15): two in-memory engines, fake clock, mock data plane.
import { describe, expect, test } from 'vitest';
import { pskPair } from './testing/pairs.ts';
import { CLIENT_ADDR, GW_ADDR, PSK, child } from './testing/config.ts';
import { ExchangeType } from './constants.ts';

describe('PSK end to end', () => {
  test('IKE_SA_INIT + IKE_AUTH bring up the IKE SA and one CHILD_SA with matching keys on both sides', async () => {
    const pair = pskPair();
    // IKE_SA_INIT { SA, KE, Ni, N(NAT_D) x2, N(FRAG_SUPPORTED), N(SIG_HASH) } -->
    //                              <-- IKE_SA_INIT { SA, KE, Nr, N(NAT_D) x2, N(FRAG_SUPPORTED), N(SIG_HASH) }
    // IKE_AUTH { IDi, N(INITIAL_CONTACT), IDr, AUTH, SA, TSi, TSr } -->
    //                              <-- IKE_AUTH { IDr, AUTH, SA, TSi, TSr }
    await pair.initiate('to-gw');
    expect(pair.trace()).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT', 'a>IKE_AUTH', 'b<IKE_AUTH']);

    const [upA] = pair.a.eventsOf('ike.up');
    const [upB] = pair.b.eventsOf('ike.up');
    expect(upA).toMatchObject({ conn: 'to-gw', initiator: true, remoteId: 'fqdn:gw.outpost.test', localId: 'fqdn:client.outpost.test' });
    expect(upB).toMatchObject({ conn: 'rw', initiator: false, remoteId: 'fqdn:client.outpost.test', localId: 'fqdn:gw.outpost.test' });
    expect(upA?.proposal).toBe('aes256gcm16-prfsha256-x25519');
    expect(upB?.proposal).toBe(upA?.proposal);

    // The initiator's outbound SA is the responder's inbound SA: same SPI, same key bytes, and vice versa.
    const aOut = pair.a.dp.outbound();
    const bIn = pair.b.dp.inbound();
    expect(aOut).toHaveLength(1);
    expect(bIn).toHaveLength(1);
    expect(aOut[0]!.spi).toBe(bIn[0]!.spi);
    expect(aOut[0]!.encKey).toEqual(bIn[0]!.encKey);
    expect(aOut[0]!.encKey.length).toBe(36); // AES-256 key + 4-octet salt
    const aIn = pair.a.dp.inbound()[0]!;
    const bOut = pair.b.dp.outbound()[0]!;
    expect(aIn.spi).toBe(bOut.spi);
    expect(aIn.encKey).toEqual(bOut.encKey);
    expect(aIn.encKey).not.toEqual(aOut[0]!.encKey);
    expect(aOut[0]).toMatchObject({ src: CLIENT_ADDR, dst: GW_ADDR, encrId: 20, encrKeyBits: 256 });
    expect(bIn[0]).toMatchObject({ src: CLIENT_ADDR, dst: GW_ADDR, replayWindow: 64 });
    expect(aOut[0]!.encap).toBeUndefined();

    // Selectors: the responder narrowed `dynamic` to the client's outer address.
    const [childB] = pair.b.eventsOf('child.up');
    expect(childB).toMatchObject({ localTs: ['198.51.100.0/24'], remoteTs: [`${CLIENT_ADDR}/32`], child: 'net' });
    const [childA] = pair.a.eventsOf('child.up');
    expect(childA).toMatchObject({ localTs: [`${CLIENT_ADDR}/32`], remoteTs: ['198.51.100.0/24'], spiOut: bIn[0]!.spi });
    // out / in / fwd policies for the one selector pair on each side.
    expect(pair.b.dp.policies.map((p) => p.direction).sort()).toEqual(['fwd', 'in', 'out']);
    expect(pair.b.dp.policies.find((p) => p.direction === 'out')).toMatchObject({
      localTs: { startAddr: '198.51.100.0', endAddr: '198.51.100.255' },
      remoteTs: { startAddr: CLIENT_ADDR, endAddr: CLIENT_ADDR },
      outerSrc: GW_ADDR,
      outerDst: CLIENT_ADDR,
      spi: bOut.spi,
    });

    expect(pair.a.engine.listSas()).toHaveLength(1);
    expect(pair.b.engine.listSas()[0]).toMatchObject({ state: 'established', conn: 'rw', children: [{ name: 'net' }] });
    expect(pair.b.engine.stats()).toMatchObject({ halfOpen: 0, established: 1, childSas: 1 });
    // No key material in any event.
    const text = JSON.stringify([pair.a.events, pair.b.events], (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v));
    expect(text).not.toContain(JSON.stringify(Array.from(aOut[0]!.encKey)).slice(1, -1));
  });

  test('the modp2048 CBC proposal works too and keys have HMAC parts', async () => {
    const pair = pskPair({
      client: { ikeProposals: ['aes256-sha256-modp2048'], children: [child({ localTs: ['dynamic'], remoteTs: ['198.51.100.0/24'], espProposals: ['aes128-sha256'] })] },
    });
    await pair.initiate('to-gw');
    expect(pair.a.eventsOf('ike.up')[0]?.proposal).toBe('aes256-sha256-prfsha256-modp2048');
    const aOut = pair.a.dp.outbound()[0]!;
    const bIn = pair.b.dp.inbound()[0]!;
    expect(aOut).toMatchObject({ encrId: 12, encrKeyBits: 128, integId: 12 });
    expect(aOut.integKey).toEqual(bIn.integKey);
    expect(aOut.integKey.length).toBe(32);
  });

  test('wrong PSK: AUTHENTICATION_FAILED on both sides with a one-line reason, no SA left', async () => {
    const pair = pskPair({ client: { psk: new TextEncoder().encode('wrong') } });
    await pair.initiate('to-gw');
    // IKE_AUTH { IDi, IDr, AUTH(wrong), ... } -->   <-- IKE_AUTH { N(AUTHENTICATION_FAILED) }
    expect(pair.trace()).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT', 'a>IKE_AUTH', 'b<IKE_AUTH']);
    const warnB = pair.b.logs('warn').filter((l) => l.startsWith('auth failed'));
    expect(warnB).toEqual([`auth failed: PSK mismatch for peer fqdn:client.outpost.test from ${CLIENT_ADDR}`]);
    expect(pair.b.eventsOf('auth.failed')).toHaveLength(1);
    expect(pair.b.eventsOf('auth.failed')[0]?.remoteId).toBe('fqdn:client.outpost.test');
    expect(pair.a.eventsOf('auth.failed')[0]?.reason).toContain('AUTHENTICATION_FAILED');
    expect(pair.a.eventsOf('ike.failed')[0]).toMatchObject({ notify: 24 });
    expect(pair.a.logs('warn').filter((l) => l.startsWith('auth failed'))).toHaveLength(1);
    expect(pair.a.engine.listSas()).toEqual([]);
    expect(pair.b.engine.listSas()).toEqual([]);
    expect(pair.b.engine.stats().halfOpen).toBe(0);
    expect(pair.a.dp.sas.size + pair.b.dp.sas.size).toBe(0);
  });

  test('an identity no connection accepts fails authentication', async () => {
    const pair = pskPair({ gw: { remote: { id: 'fqdn:other.outpost.test', auth: 'psk', cas: [] } } });
    await pair.initiate('to-gw');
    expect(pair.b.logs('warn')).toEqual([expect.stringMatching(/^auth failed: no connection accepts PSK auth .* for peer fqdn:client.outpost.test from 192.0.2.2$/)]);
    expect(pair.b.eventsOf('auth.failed')).toEqual([expect.objectContaining({ remoteId: 'fqdn:client.outpost.test', conn: undefined })]);
    expect(pair.a.engine.listSas()).toEqual([]);
  });

  test('an IDr naming an identity the gateway does not have fails on the responder', async () => {
    const pair = pskPair({ gw: { local: { id: 'fqdn:impostor.outpost.test', auth: 'psk' } } });
    await pair.initiate('to-gw');
    expect(pair.b.logs('warn')[0]).toContain('to fqdn:gw.outpost.test');
    expect(pair.a.engine.listSas()).toEqual([]);
    expect(pair.b.engine.listSas()).toEqual([]);
  });

  test('the initiator tells the responder when it rejects its AUTH, and both drop the SA', async () => {
    // The gateway does not check IDr (client sends none), but the client expects another gateway identity.
    const pair = pskPair({ client: { remote: { id: 'fqdn:*.example.net', auth: 'psk', cas: [] } } });
    await pair.initiate('to-gw');
    expect(pair.b.eventsOf('ike.up')).toHaveLength(1);
    expect(pair.a.logs('warn')).toEqual([`auth failed: responder identity does not match fqdn:*.example.net for peer fqdn:gw.outpost.test from ${GW_ADDR}`]);
    // INFORMATIONAL { N(AUTHENTICATION_FAILED) } -->  (no response expected; the responder deletes its SA)
    expect(pair.trace().slice(4)).toEqual(['a>INFORMATIONAL', 'b<INFORMATIONAL']);
    expect(pair.b.engine.listSas()).toEqual([]);
    expect(pair.b.eventsOf('ike.down')).toHaveLength(1);
  });
});

describe('PSK keys are the same on both sides', () => {
  test('the exported PSK is never in events', async () => {
    const pair = pskPair();
    await pair.initiate('to-gw');
    const text = JSON.stringify([pair.a.events, pair.b.events]);
    expect(text).not.toContain('correct horse');
    expect(PSK.length).toBeGreaterThan(0);
    expect(pair.wire.filter((p) => p.exchange === ExchangeType.IKE_AUTH)).toHaveLength(2);
  });
});
