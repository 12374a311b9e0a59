// Redirect (RFC 5685): at IKE_SA_INIT (gateway policy, session limit, per connection) and of established SAs; the client following it.
import { describe, expect, test } from 'vitest';
import { Pair, T0 } from './testing/pair.ts';
import { RawInitiator } from './testing/raw-initiator.ts';
import { CLIENT_ADDR, GW_ADDR, clientConn, conn, gateway } from './testing/config.ts';
import type { ConnectionConfig, GatewayConfig } from '../config/types.ts';
import { createEngine } from './engine.ts';
import { createCryptoSuite } from '../crypto/suite.ts';
import { createSignatureOps } from '../pki/signature.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';
import { ExchangeType, HeaderFlag, Notify, PayloadType } from './constants.ts';
import { decodeMessage, encodeMessage } from './codec/index.ts';
import type { NotifyPayload } from './codec/types.ts';
import { decodeRedirectData, encodeRedirectData, parseGateway } from './redirect.ts';

const GW2_ADDR = '192.0.2.4';

/** Client a, gateway b at 192.0.2.1, gateway c at 192.0.2.4; both gateways accept the client. */
function fleet(over: { b?: Partial<GatewayConfig>; c?: Partial<GatewayConfig>; bConn?: Partial<ConnectionConfig>; client?: Partial<ConnectionConfig> } = {}): Pair {
  return new Pair({
    a: gateway(CLIENT_ADDR, [clientConn(over.client)]),
    b: gateway(GW_ADDR, [conn(over.bConn)], over.b),
    aAddr: CLIENT_ADDR,
    bAddr: GW_ADDR,
    c: { config: gateway(GW2_ADDR, [conn()], over.c), addr: GW2_ADDR },
    seed: 'redirect',
  });
}

/** The notifies of the plain IKE_SA_INIT messages on the wire, by sender and direction. */
function initNotifies(pair: Pair, from: 'a' | 'b' | 'c', response: boolean): NotifyPayload[][] {
  return pair.wire
    .filter((p) => p.from === from && p.exchange === ExchangeType.IKE_SA_INIT && p.response === response)
    .map((p) => {
      const dec = decodeMessage(p.d.data);
      if (!dec.ok) throw new Error(dec.error);
      return dec.value.payloads.filter((x): x is NotifyPayload => x.type === PayloadType.NOTIFY);
    });
}

describe('redirect at IKE_SA_INIT (RFC 5685 §4)', () => {
  test('a gateway with redirect_to sends every new client on, statelessly; the client comes back with REDIRECTED_FROM', async () => {
    const pair = fleet({ b: { redirectTo: [GW2_ADDR] } });
    await pair.initiate('to-gw');
    // IKE_SA_INIT { SA KE Ni N(REDIRECT_SUPPORTED) } -->  b
    //   <-- IKE_SA_INIT { N(REDIRECT(192.0.2.4, Ni)) }  (SPIr zero: b keeps nothing)
    // IKE_SA_INIT { SA KE Ni N(REDIRECTED_FROM(192.0.2.1)) } -->  c  ... IKE_AUTH with c
    expect(pair.trace()).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT', 'a>IKE_SA_INIT', 'c<IKE_SA_INIT', 'a>IKE_AUTH', 'c<IKE_AUTH']);
    expect(initNotifies(pair, 'a', false)[0]!.map((n) => n.notifyType)).toContain(Notify.REDIRECT_SUPPORTED);
    const [redirect] = initNotifies(pair, 'b', true)[0]!;
    expect(redirect!.notifyType).toBe(Notify.REDIRECT);
    const data = decodeRedirectData(redirect!.data)!;
    expect(data.gateway).toEqual({ kind: 'ip', addr: GW2_ADDR });
    const firstInit = decodeMessage(pair.wire[0]!.d.data);
    const ni = firstInit.ok ? (firstInit.value.payloads.find((p) => p.type === PayloadType.NONCE) as { data: Uint8Array }).data : null;
    expect(data.nonce).toEqual(ni);
    const again = initNotifies(pair, 'a', false)[1]!;
    expect(again.map((n) => n.notifyType)).not.toContain(Notify.REDIRECT_SUPPORTED);
    const from = again.find((n) => n.notifyType === Notify.REDIRECTED_FROM)!;
    expect(decodeRedirectData(from.data)?.gateway).toEqual({ kind: 'ip', addr: GW_ADDR });
    expect(pair.b.engine.listSas()).toEqual([]);
    expect(pair.b.engine.stats().counters['redirect-sent']).toBe(1);
    expect(pair.a.engine.listSas()[0]).toMatchObject({ state: 'established', remote: { addr: GW2_ADDR }, redirectedFrom: GW_ADDR });
    expect(pair.c!.engine.listSas()[0]!.children).toHaveLength(1);
    expect(pair.a.eventsOf('ike.failed')).toEqual([]);
    expect(pair.c!.logs('info')).toContain(`${CLIENT_ADDR} was redirected here from ${GW_ADDR}`);
  });

  test('max_sessions: the gateway serves up to its limit and redirects beyond it', async () => {
    const pair = fleet({ b: { redirectTo: [GW2_ADDR], maxSessions: 1 } });
    await pair.initiate('to-gw');
    await pair.initiate('to-gw');
    expect(pair.b.engine.listSas()).toHaveLength(1);
    expect(pair.c!.engine.listSas()).toHaveLength(1);
    expect(pair.a.engine.listSas().map((s) => s.remote.addr).sort()).toEqual([GW_ADDR, GW2_ADDR]);
    expect(pair.b.logs('info').some((l) => l.includes('(1 sessions reached)'))).toBe(true);
  });

  test('a client that was redirected already is not sent on again (no ping-pong between two full gateways)', async () => {
    const pair = fleet({ b: { redirectTo: [GW2_ADDR] }, c: { redirectTo: [GW_ADDR] } });
    await pair.initiate('to-gw');
    expect(pair.a.engine.listSas()[0]).toMatchObject({ state: 'established', remote: { addr: GW2_ADDR } });
    expect(pair.c!.engine.stats().counters['redirect-sent']).toBeUndefined();
  });

  test('a connection-level redirect_to sends that connection\'s peers on', async () => {
    const pair = fleet({ bConn: { redirectTo: [GW2_ADDR] } });
    await pair.initiate('to-gw');
    expect(pair.a.engine.listSas()[0]!.remote.addr).toBe(GW2_ADDR);
  });

  test('a client without REDIRECT_SUPPORTED is served when the gateway has room, refused (no answer) when it is full', () => {
    const make = (maxSessions: number) =>
      createEngine({
        config: gateway(GW_ADDR, [conn()], { redirectTo: [GW2_ADDR], maxSessions }),
        crypto: createCryptoSuite({ randomBytes: seededRandom('gw') }),
        sig: createSignatureOps(),
        nowMs: T0,
      });
    const raw = () => new RawInitiator(createCryptoSuite({ randomBytes: seededRandom('raw') }), { addr: CLIENT_ADDR, port: 500 }, { addr: GW_ADDR, port: 500 });
    // redirect_to alone redirects only those who can follow: RawInitiator announces nothing, so it is served.
    const open = make(0).receive(raw().initRequest(), T0);
    const dec = decodeMessage(open.send[0]!.data);
    expect(dec.ok && dec.value.payloads.some((p) => p.type === PayloadType.SA)).toBe(true);
    const full = make(1);
    const first = raw();
    const other = new RawInitiator(createCryptoSuite({ randomBytes: seededRandom('raw2') }), { addr: '192.0.2.7', port: 500 }, { addr: GW_ADDR, port: 500 });
    expect(full.receive(first.initRequest(), T0).send).toHaveLength(1);
    expect(full.receive(other.initRequest(), T0).send).toEqual([]);
    expect(full.stats().drops['session-limit']).toBe(1);
  });

  test('a REDIRECT whose nonce is not ours is ignored (an off-path forgery); the client keeps waiting for the real answer', async () => {
    const pair = fleet();
    pair.filter = (p) => !(p.from === 'a' && p.exchange === ExchangeType.IKE_SA_INIT);
    await pair.initiate('to-gw');
    const req = decodeMessage(pair.a.sent[0]!.data);
    if (!req.ok) throw new Error(req.error);
    const forged = encodeMessage(
      { spiI: req.value.header.spiI, spiR: new Uint8Array(8), version: 0x20, exchange: ExchangeType.IKE_SA_INIT, flags: HeaderFlag.RESPONSE, messageId: 0 },
      [{ type: PayloadType.NOTIFY, protocolId: 0, spi: new Uint8Array(0), notifyType: Notify.REDIRECT, data: encodeRedirectData(parseGateway('198.51.100.66')!, new Uint8Array(32)) }],
    );
    pair.absorb(pair.a, pair.a.engine.receive({ local: pair.a.sent[0]!.local, remote: pair.a.sent[0]!.remote, data: forged }, pair.clock));
    expect(pair.a.logs('info').some((l) => l.includes('ignoring a REDIRECT from 192.0.2.1: its nonce is not ours'))).toBe(true);
    expect(pair.a.engine.listSas()).toHaveLength(1);
    pair.filter = () => true;
    await pair.advance(1000);
    expect(pair.a.engine.listSas()[0]).toMatchObject({ state: 'established', remote: { addr: GW_ADDR } });
  });

  test('a redirect to a DNS name cannot be followed here (no resolver in the engine): the attempt fails, saying why', async () => {
    const pair = fleet({ b: { redirectTo: ['gw2.outpost.test'] } });
    await pair.initiate('to-gw');
    expect(pair.a.engine.listSas()).toEqual([]);
    expect(pair.a.eventsOf('ike.failed')[0]?.reason).toBe('redirected by 192.0.2.1 to gw2.outpost.test, which we cannot follow');
  });
});

describe('redirect of an established SA (RFC 5685 §5)', () => {
  test('the gateway redirects; the client brings its CHILD_SAs up at the new gateway, then deletes the old SA', async () => {
    const pair = fleet();
    await pair.initiate('to-gw');
    const gwSa = pair.b.engine.listSas()[0]!;
    const n = pair.wire.length;
    await pair.command('b', { type: 'redirect', ikeId: gwSa.ikeId, to: GW2_ADDR });
    // INFORMATIONAL { N(REDIRECT(192.0.2.4)) } <--  ;  --> { }
    // IKE_SA_INIT / IKE_AUTH with c (REDIRECTED_FROM 192.0.2.1), then INFORMATIONAL { D(IKE) } --> b
    expect(pair.trace().slice(n)).toEqual(['b>INFORMATIONAL', 'a<INFORMATIONAL', 'a>IKE_SA_INIT', 'c<IKE_SA_INIT', 'a>IKE_AUTH', 'c<IKE_AUTH', 'a>INFORMATIONAL', 'b<INFORMATIONAL']);
    expect(pair.b.engine.listSas()).toEqual([]);
    expect(pair.b.eventsOf('ike.down')[0]?.reason).toBe('deleted by peer');
    const sas = pair.a.engine.listSas();
    expect(sas).toHaveLength(1);
    expect(sas[0]).toMatchObject({ remote: { addr: GW2_ADDR }, redirectedFrom: GW_ADDR, state: 'established' });
    expect(sas[0]!.children.map((c) => c.name)).toEqual(['net']);
    expect(pair.a.eventsOf('ike.down')[0]?.reason).toBe('redirected');
  });

  test('a client that never deletes its old SA loses it after 30 s', async () => {
    const pair = fleet();
    await pair.initiate('to-gw');
    // The new gateway is unreachable: the client keeps its old SA, the gateway gives up on it.
    pair.filter = (p) => p.d.local.addr !== GW2_ADDR;
    await pair.command('b', { type: 'redirect', ikeId: pair.b.engine.listSas()[0]!.ikeId, to: GW2_ADDR });
    await pair.advance(29_000);
    expect(pair.b.engine.listSas()).toHaveLength(1);
    await pair.advance(2_000);
    expect(pair.b.engine.listSas()).toEqual([]);
    expect(pair.b.logs('info')).toContain('the redirected peer did not delete its IKE_SA, deleting it');
  });

  test('no REDIRECT to a peer that did not announce REDIRECT_SUPPORTED, nor to something that is not an address or name', async () => {
    const gw = createEngine({ config: gateway(GW_ADDR, [conn()]), crypto: createCryptoSuite({ randomBytes: seededRandom('gw') }), sig: createSignatureOps(), nowMs: T0, idSource: () => 'ike1' });
    const raw = new RawInitiator(createCryptoSuite({ randomBytes: seededRandom('raw') }), { addr: CLIENT_ADDR, port: 500 }, { addr: GW_ADDR, port: 500 });
    raw.handleInitResponse(gw.receive(raw.initRequest(), T0).send[0]!.data);
    gw.receive(raw.request(ExchangeType.IKE_AUTH, raw.authPayloads(new TextEncoder().encode('correct horse battery staple'), 'client.outpost.test')), T0);
    expect(gw.listSas()[0]!.state).toBe('established');
    const out = gw.command({ type: 'redirect', ikeId: 'ike1', to: GW2_ADDR }, T0);
    expect(out.send).toEqual([]);
    expect(out.events.some((e) => e.type === 'log' && e.msg.includes('did not announce REDIRECT_SUPPORTED'))).toBe(true);
    expect(gw.command({ type: 'redirect', ikeId: 'ike1', to: 'not a gateway!' }, T0).send).toEqual([]);
  });
});

describe('redirect data (RFC 5685 §8)', () => {
  test('IPv4, IPv6 and FQDN identities round-trip; malformed data is refused, never thrown', () => {
    for (const t of ['192.0.2.4', '2001:db8::4', 'gw2.outpost.test']) {
      const g = parseGateway(t)!;
      expect(decodeRedirectData(encodeRedirectData(g, Uint8Array.of(9, 9)))).toEqual({ gateway: g, nonce: Uint8Array.of(9, 9) });
    }
    expect(decodeRedirectData(Uint8Array.of(1, 5, 1, 2, 3, 4, 5))).toBeNull();
    expect(decodeRedirectData(Uint8Array.of(3, 10, 0x61))).toBeNull();
    expect(decodeRedirectData(Uint8Array.of(7, 0))).toBeNull();
    expect(decodeRedirectData(Uint8Array.of(3, 2, 0xff, 0xfe))).toBeNull();
    expect(parseGateway('not a gateway!')).toBeNull();
  });
});
