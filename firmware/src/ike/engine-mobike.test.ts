// MOBIKE (RFC 4555): negotiation, address updates without a rekey, return routability, NAT detection on update, NAT prohibition, address lists.
import { describe, expect, test } from 'vitest';
import { pskPair } from './testing/pairs.ts';
import { T0, type Pair } from './testing/pair.ts';
import { RawInitiator } from './testing/raw-initiator.ts';
import { CLIENT_ADDR, GW_ADDR, PSK, child, conn, gateway } from './testing/config.ts';
import { createEngine, type Engine } from './engine.ts';
import { createCryptoSuite } from '../crypto/suite.ts';
import { createSignatureOps } from '../pki/signature.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';
import { ExchangeType, Notify, PayloadType, ProtocolId, TransformType, EncrId } from './constants.ts';
import type { NotifyPayload, Payload } from './codec/types.ts';
import type { Datagram, Output } from './io.ts';
import { noNatsData } from './tasks/ike-mobike.ts';
import { u32Bytes } from './bytes.ts';

const NEW_ADDR = '192.0.2.3';
const NAT = '203.0.113.5';

function mobikePair(over: Parameters<typeof pskPair>[0] = {}): Pair {
  return pskPair({ ...over, gw: { mobike: true, ...over.gw }, client: { mobike: true, ...over.client } });
}

function logFields(pair: Pair, side: 'a' | 'b', event: string): Record<string, unknown>[] {
  const peer = side === 'a' ? pair.a : pair.b;
  return peer.events.flatMap((e) => (e.type === 'log' && e.fields?.event === event ? [e.fields] : []));
}

/** The client's address changes: it tells the gateway with UPDATE_SA_ADDRESSES from the new one. */
async function roam(pair: Pair, addr = NEW_ADDR): Promise<void> {
  pair.move('a', addr);
  await pair.command('a', { type: 'update-addresses', ikeId: pair.a.engine.listSas()[0]!.ikeId, local: { addr } });
}

describe('MOBIKE negotiation (§3.2)', () => {
  test('both sides announce MOBIKE_SUPPORTED in IKE_AUTH; the initiator moves to port 4500 though no NAT is there', async () => {
    const pair = mobikePair();
    await pair.initiate('to-gw');
    const auth = pair.wire.find((p) => p.exchange === ExchangeType.IKE_AUTH && !p.response)!;
    expect(auth.d.local).toEqual({ addr: GW_ADDR, port: 4500 });
    expect(auth.d.remote).toEqual({ addr: CLIENT_ADDR, port: 4500 });
    expect(pair.a.engine.listSas()[0]!.mobike).toEqual({ peerAddresses: [] });
    expect(pair.b.engine.listSas()[0]!.mobike).toEqual({ peerAddresses: [] });
    // No NAT: ESP stays unencapsulated although IKE uses 4500.
    expect(pair.b.dp.outbound()[0]!.encap).toBeUndefined();
    expect(pair.b.engine.listSas()[0]!.natRemote).toBe(false);
  });

  test('a gateway with mobike off does not answer MOBIKE_SUPPORTED: MOBIKE stays off on both sides', async () => {
    const pair = mobikePair({ gw: { mobike: false } });
    await pair.initiate('to-gw');
    expect(pair.a.engine.listSas()[0]!.mobike).toBeUndefined();
    expect(pair.b.engine.listSas()[0]!.mobike).toBeUndefined();
    // Moving is then impossible: the client says so and sends nothing.
    const n = pair.wire.length;
    await roam(pair);
    expect(pair.wire.length).toBe(n);
    expect(pair.a.logs('warn').some((l) => l.includes('MOBIKE is not enabled'))).toBe(true);
  });
});

describe('address update (§3.5)', () => {
  test('the client moves: one INFORMATIONAL each way plus the return routability check; SPIs stay, every ESP SA moves', async () => {
    const pair = mobikePair();
    await pair.initiate('to-gw');
    const gwBefore = pair.b.engine.listSas()[0]!;
    const spisBefore = pair.b.dp.log.filter((e) => e.type === 'dp.addSa').length;
    await roam(pair);
    // INFORMATIONAL { N(UPDATE_SA_ADDRESSES) N(NAT-D) N(NAT-D) N(COOKIE2) } -->
    //   <-- INFORMATIONAL { N(NAT-D) N(NAT-D) N(COOKIE2) }
    //   <-- INFORMATIONAL { N(COOKIE2) }   (the gateway's return routability check of 192.0.2.3)
    // INFORMATIONAL { N(COOKIE2) } -->
    expect(pair.trace().slice(4)).toEqual(['a>INFORMATIONAL', 'b<INFORMATIONAL', 'b>INFORMATIONAL', 'a<INFORMATIONAL']);
    expect(pair.trace().filter((t) => t.includes('IKE_SA_INIT'))).toHaveLength(2);
    const gw = pair.b.engine.listSas()[0]!;
    expect(gw).toMatchObject({ ikeId: gwBefore.ikeId, spiI: gwBefore.spiI, spiR: gwBefore.spiR, remote: { addr: NEW_ADDR, port: 4500 } });
    expect(gw.children.map((c) => [c.spiIn, c.spiOut])).toEqual(gwBefore.children.map((c) => [c.spiIn, c.spiOut]));
    // No new SA was installed: the existing ones were updated in place.
    expect(pair.b.dp.log.filter((e) => e.type === 'dp.addSa').length).toBe(spisBefore);
    expect(pair.b.dp.inbound()[0]).toMatchObject({ src: NEW_ADDR, dst: GW_ADDR });
    expect(pair.b.dp.outbound()[0]).toMatchObject({ src: GW_ADDR, dst: NEW_ADDR });
    expect(pair.a.dp.outbound()[0]).toMatchObject({ src: NEW_ADDR, dst: GW_ADDR });
    expect(pair.a.dp.inbound()[0]).toMatchObject({ src: GW_ADDR, dst: NEW_ADDR });
    for (const p of pair.b.dp.policies) {
      if (p.direction === 'out') expect([p.outerSrc, p.outerDst]).toEqual([GW_ADDR, NEW_ADDR]);
      else expect([p.outerSrc, p.outerDst]).toEqual([NEW_ADDR, GW_ADDR]);
    }
    expect(pair.b.dp.policies).toHaveLength(3);
    expect(logFields(pair, 'b', 'ike.moved')).toEqual([expect.objectContaining({ from: `${CLIENT_ADDR}:4500`, to: `${NEW_ADDR}:4500` })]);
    expect(logFields(pair, 'a', 'ike.moved')).toEqual([expect.objectContaining({ from: `${CLIENT_ADDR}:4500`, to: `${NEW_ADDR}:4500` })]);
    expect(pair.b.eventsOf('ike.down')).toEqual([]);
  });

  test('outbound ESP waits for the return routability check; inbound moves at once', async () => {
    const pair = mobikePair();
    await pair.initiate('to-gw');
    // The gateway's check (its own INFORMATIONAL request) does not get through at first.
    pair.filter = (p) => !(p.from === 'b' && !p.response);
    await roam(pair);
    expect(pair.b.dp.inbound()[0]).toMatchObject({ src: NEW_ADDR });
    expect(pair.b.dp.outbound()[0]).toMatchObject({ dst: CLIENT_ADDR });
    expect(pair.b.dp.policies.filter((p) => p.direction === 'out').map((p) => p.outerDst)).toEqual([CLIENT_ADDR]);
    pair.filter = () => true;
    await pair.advance(1000); // the check's retransmission
    expect(pair.b.dp.outbound()[0]).toMatchObject({ dst: NEW_ADDR });
    expect(pair.b.logs('info').some((l) => l.includes(`return routability of ${NEW_ADDR}:4500 confirmed`))).toBe(true);
  });

  test('a return routability check that is never answered ends like any unanswered request: the SA goes', async () => {
    const pair = mobikePair();
    await pair.initiate('to-gw');
    pair.filter = (p) => !(p.from === 'b' && !p.response);
    await roam(pair);
    await pair.advance(20_000);
    expect(pair.b.engine.listSas()).toEqual([]);
    expect(pair.b.eventsOf('ike.down')[0]?.reason).toContain('no response to INFORMATIONAL');
  });

  test('DPD and rekeying carry on at the new address', async () => {
    // Selectors that do not name the old outer address (a `dynamic` one would: it stays what was negotiated).
    const pair = mobikePair({
      client: { dpdDelaySec: 10, children: [child({ localTs: ['192.0.2.0/24'], remoteTs: ['198.51.100.0/24'] })] },
      gw: { children: [child({ remoteTs: ['192.0.2.0/24'] })] },
    });
    await pair.initiate('to-gw');
    await roam(pair);
    const n = pair.wire.length;
    await pair.advance(10_000);
    expect(pair.trace().slice(n)).toEqual(['a>INFORMATIONAL', 'b<INFORMATIONAL']);
    expect(pair.wire[n]!.d.remote).toEqual({ addr: NEW_ADDR, port: 4500 });
    const gw = pair.b.engine.listSas()[0]!;
    await pair.command('b', { type: 'rekey', ikeId: gw.ikeId, childId: gw.children[0]!.childId });
    const fresh = pair.b.dp.outbound().find((s) => s.spi !== gw.children[0]!.spiOut)!;
    expect(fresh).toMatchObject({ src: GW_ADDR, dst: NEW_ADDR });
    expect(pair.b.engine.listSas()[0]!.children).toHaveLength(1);
  });

  test('a client that roams behind a NAT: NAT-D in the update reveals it and ESP becomes UDP-encapsulated on both sides', async () => {
    const pair = mobikePair();
    await pair.initiate('to-gw');
    expect(pair.b.dp.outbound()[0]!.encap).toBeUndefined();
    pair.nat = NAT;
    await roam(pair);
    const gw = pair.b.engine.listSas()[0]!;
    expect(gw).toMatchObject({ remote: { addr: NAT, port: 34500 }, natRemote: true, natLocal: false });
    expect(pair.b.dp.inbound()[0]).toMatchObject({ src: NAT, encap: { srcPort: 34500, dstPort: 4500 } });
    expect(pair.b.dp.outbound()[0]).toMatchObject({ dst: NAT, encap: { srcPort: 4500, dstPort: 34500 } });
    expect(pair.a.engine.listSas()[0]).toMatchObject({ natLocal: true });
    expect(pair.a.dp.outbound()[0]).toMatchObject({ src: NEW_ADDR, encap: { srcPort: 4500, dstPort: 4500 } });
    // Behind the NAT now, the client keeps the mapping open.
    await pair.advance(20_000);
    expect(pair.wire.filter((p) => p.from === 'a' && p.d.data.length === 1)).toHaveLength(1);
  });

  test('with MOBIKE the gateway does not follow a NAT mapping change implicitly (§3.8); only UPDATE_SA_ADDRESSES moves it', async () => {
    const pair = mobikePair({ natAddr: NAT, client: { dpdDelaySec: 30 } });
    await pair.initiate('to-gw');
    pair.filter = (p) => {
      if (p.from === 'a') p.d = { ...p.d, remote: { addr: NAT, port: 40000 } };
      return true;
    };
    await pair.advance(30_000);
    expect(pair.b.engine.listSas()[0]?.remote).toEqual({ addr: NAT, port: 34500 });
    expect(pair.b.dp.outbound()[0]).toMatchObject({ encap: { dstPort: 34500 } });
  });
});

// ---- hand-driven peer: what a well-behaved engine never sends ----

function notify(notifyType: number, data: Uint8Array = new Uint8Array(0)): NotifyPayload {
  return { type: PayloadType.NOTIFY, protocolId: 0, spi: new Uint8Array(0), notifyType, data };
}

function gwEngine(seed: string, mobike = true): Engine {
  const cfg = gateway(GW_ADDR, [conn({ mobike, children: [child({ remoteTs: ['192.0.2.0/24'] })] })]);
  return createEngine({ config: cfg, crypto: createCryptoSuite({ randomBytes: seededRandom(seed) }), sig: createSignatureOps(), nowMs: T0, idSource: () => 'ike1' });
}

function childPayloads(): Payload[] {
  const proposal = { num: 1, protocolId: ProtocolId.ESP, spi: u32Bytes(0x1234), transforms: [{ type: TransformType.ENCR, id: EncrId.AES_GCM_16, keyLength: 256 }, { type: TransformType.ESN, id: 0 }] };
  const ts = { tsType: 7, ipProtocol: 0, startPort: 0, endPort: 65535 };
  return [
    { type: PayloadType.SA, proposals: [proposal] },
    { type: PayloadType.TSi, selectors: [{ ...ts, startAddr: Uint8Array.of(192, 0, 2, 2), endAddr: Uint8Array.of(192, 0, 2, 2) }] },
    { type: PayloadType.TSr, selectors: [{ ...ts, startAddr: Uint8Array.of(198, 51, 100, 0), endAddr: Uint8Array.of(198, 51, 100, 255) }] },
  ] as Payload[];
}

async function rawMobike(opts: { mobike?: boolean; announce?: boolean } = {}) {
  const gw = gwEngine('raw-mobike', opts.mobike ?? true);
  const raw = new RawInitiator(createCryptoSuite({ randomBytes: seededRandom('raw-mobike-peer') }), { addr: CLIENT_ADDR, port: 4500 }, { addr: GW_ADDR, port: 4500 });
  const send = (d: Datagram, at = T0): Output => gw.receive(d, at);
  raw.handleInitResponse(send(raw.initRequest()).send[0]!.data);
  const auth = [...raw.authPayloads(PSK, 'client.outpost.test'), ...(opts.announce === false ? [] : [notify(Notify.MOBIKE_SUPPORTED)]), ...childPayloads()];
  const resp = raw.open(send(raw.request(ExchangeType.IKE_AUTH, auth)).send[0]!.data);
  return { gw, raw, send, authResponse: resp };
}

describe('MOBIKE responder details (hand-driven peer)', () => {
  test('the IKE_AUTH response answers MOBIKE_SUPPORTED; COOKIE2 is echoed verbatim and NAT-D answered in any INFORMATIONAL', async () => {
    const { raw, send, authResponse } = await rawMobike();
    expect(authResponse.payloads.some((p) => p.type === PayloadType.NOTIFY && (p as NotifyPayload).notifyType === Notify.MOBIKE_SUPPORTED)).toBe(true);
    const cookie2 = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
    const resp = raw.open(send(raw.request(ExchangeType.INFORMATIONAL, [notify(Notify.COOKIE2, cookie2), notify(Notify.NAT_DETECTION_SOURCE_IP, new Uint8Array(20)), notify(Notify.NAT_DETECTION_DESTINATION_IP, new Uint8Array(20))])).send[0]!.data);
    const types = resp.payloads.map((p) => (p as NotifyPayload).notifyType);
    expect(types).toEqual([Notify.NAT_DETECTION_SOURCE_IP, Notify.NAT_DETECTION_DESTINATION_IP, Notify.COOKIE2]);
    expect((resp.payloads[2] as NotifyPayload).data).toEqual(cookie2);
  });

  test('a COOKIE2 outside 8..64 octets is not echoed', async () => {
    const { raw, send } = await rawMobike();
    const resp = raw.open(send(raw.request(ExchangeType.INFORMATIONAL, [notify(Notify.COOKIE2, new Uint8Array(4))])).send[0]!.data);
    expect(resp.payloads).toEqual([]);
  });

  test('UPDATE_SA_ADDRESSES moves the SA to the IP header\'s addresses; a wrong COOKIE2 in the answer to our check closes the SA (§3.7)', async () => {
    const { gw, raw, send } = await rawMobike();
    raw.local = { addr: NEW_ADDR, port: 4500 };
    const out = send(raw.request(ExchangeType.INFORMATIONAL, [notify(Notify.UPDATE_SA_ADDRESSES)]));
    expect(gw.listSas()[0]!.remote).toEqual({ addr: NEW_ADDR, port: 4500 });
    // The response and the check both go to the new address.
    expect(out.send.map((d) => d.remote.addr)).toEqual([NEW_ADDR, NEW_ADDR]);
    expect(out.effects.filter((e) => e.type === 'dp.updateSa').map((e) => e.type === 'dp.updateSa' && [e.direction, e.src])).toEqual([['in', NEW_ADDR]]);
    const check = raw.open(out.send[1]!.data);
    expect(check.header.exchange).toBe(ExchangeType.INFORMATIONAL);
    const cookie2 = check.payloads.find((p) => (p as NotifyPayload).notifyType === Notify.COOKIE2) as NotifyPayload;
    expect(cookie2.data.length).toBeGreaterThanOrEqual(8);
    const wrong = cookie2.data.slice();
    wrong[0]! ^= 0xff;
    const after = send(raw.response(ExchangeType.INFORMATIONAL, [notify(Notify.COOKIE2, wrong)], check.header.messageId));
    expect(gw.listSas()).toEqual([]);
    expect(after.events.find((e) => e.type === 'ike.down')).toMatchObject({ reason: expect.stringContaining('COOKIE2 does not match') });
  });

  test('the right COOKIE2 moves outbound ESP too', async () => {
    const { gw, raw, send } = await rawMobike();
    raw.local = { addr: NEW_ADDR, port: 4500 };
    const out = send(raw.request(ExchangeType.INFORMATIONAL, [notify(Notify.UPDATE_SA_ADDRESSES)]));
    const check = raw.open(out.send[1]!.data);
    const cookie2 = check.payloads.find((p) => (p as NotifyPayload).notifyType === Notify.COOKIE2) as NotifyPayload;
    const after = send(raw.response(ExchangeType.INFORMATIONAL, [notify(Notify.COOKIE2, cookie2.data)], check.header.messageId));
    expect(after.effects.filter((e) => e.type === 'dp.updateSa').map((e) => e.type === 'dp.updateSa' && [e.direction, e.dst])).toEqual([['out', NEW_ADDR]]);
    expect(gw.listSas()[0]!.state).toBe('established');
  });

  test('NO_NATS_ALLOWED naming other addresses than arrived: UNEXPECTED_NAT_DETECTED, and the SA stays where it was (§3.9)', async () => {
    const { gw, raw, send } = await rawMobike();
    const claimed = noNatsData({ addr: '192.0.2.99', port: 4500 }, { addr: GW_ADDR, port: 4500 });
    raw.local = { addr: NEW_ADDR, port: 4500 };
    const out = send(raw.request(ExchangeType.INFORMATIONAL, [notify(Notify.UPDATE_SA_ADDRESSES), notify(Notify.NO_NATS_ALLOWED, claimed)]));
    expect(raw.open(out.send[0]!.data).payloads.map((p) => (p as NotifyPayload).notifyType)).toEqual([Notify.UNEXPECTED_NAT_DETECTED]);
    expect(gw.listSas()[0]!.remote).toEqual({ addr: CLIENT_ADDR, port: 4500 });
    expect(out.effects).toEqual([]);
    // The same with the true addresses is accepted.
    const ok = send(raw.request(ExchangeType.INFORMATIONAL, [notify(Notify.UPDATE_SA_ADDRESSES), notify(Notify.NO_NATS_ALLOWED, noNatsData(raw.local, raw.remote))]));
    expect(raw.open(ok.send[0]!.data).payloads).toEqual([]);
    expect(gw.listSas()[0]!.remote).toEqual({ addr: NEW_ADDR, port: 4500 });
  });

  test('ADDITIONAL_IP4/6_ADDRESS lists are stored; NO_ADDITIONAL_ADDRESSES clears them; malformed ones are skipped', async () => {
    const { gw, raw, send } = await rawMobike();
    const v6 = new Uint8Array(16);
    v6.set([0x20, 0x01, 0x0d, 0xb8], 0);
    v6[15] = 7;
    send(raw.request(ExchangeType.INFORMATIONAL, [notify(Notify.ADDITIONAL_IP4_ADDRESS, Uint8Array.of(198, 51, 100, 9)), notify(Notify.ADDITIONAL_IP6_ADDRESS, v6), notify(Notify.ADDITIONAL_IP4_ADDRESS, Uint8Array.of(1, 2, 3))]));
    expect(gw.listSas()[0]!.mobike).toEqual({ peerAddresses: ['198.51.100.9', '2001:db8::7'] });
    send(raw.request(ExchangeType.INFORMATIONAL, [notify(Notify.NO_ADDITIONAL_ADDRESSES)]));
    expect(gw.listSas()[0]!.mobike).toEqual({ peerAddresses: [] });
  });

  test('without MOBIKE negotiated (the peer did not announce it), UPDATE_SA_ADDRESSES is ignored and answered empty', async () => {
    const { gw, raw, send } = await rawMobike({ announce: false });
    raw.local = { addr: NEW_ADDR, port: 4500 };
    const out = send(raw.request(ExchangeType.INFORMATIONAL, [notify(Notify.UPDATE_SA_ADDRESSES), notify(Notify.COOKIE2, new Uint8Array(16))]));
    expect(raw.open(out.send[0]!.data).payloads).toEqual([]);
    expect(gw.listSas()[0]!.remote).toEqual({ addr: CLIENT_ADDR, port: 4500 });
    expect(out.effects).toEqual([]);
  });

  test('moving between IPv4 and IPv6 is refused with UNACCEPTABLE_ADDRESSES', async () => {
    const { gw, raw, send } = await rawMobike();
    raw.local = { addr: '2001:db8::2', port: 4500 };
    const out = send(raw.request(ExchangeType.INFORMATIONAL, [notify(Notify.UPDATE_SA_ADDRESSES)]));
    expect(raw.open(out.send[0]!.data).payloads.map((p) => (p as NotifyPayload).notifyType)).toEqual([Notify.UNACCEPTABLE_ADDRESSES]);
    expect(gw.listSas()[0]!.remote.addr).toBe(CLIENT_ADDR);
  });
});

describe('MOBIKE after an IKE rekey', () => {
  test('the rekeyed IKE SA keeps MOBIKE: the client still moves without a new IKE_SA_INIT', async () => {
    const pair = mobikePair();
    await pair.initiate('to-gw');
    await pair.command('a', { type: 'rekey', ikeId: pair.a.engine.listSas()[0]!.ikeId });
    const gw = pair.b.engine.listSas();
    expect(gw).toHaveLength(1);
    expect(gw[0]!.mobike).toEqual({ peerAddresses: [] });
    await roam(pair);
    expect(pair.b.engine.listSas()[0]!.remote).toEqual({ addr: NEW_ADDR, port: 4500 });
    expect(pair.b.dp.outbound()[0]).toMatchObject({ dst: NEW_ADDR });
    expect(pair.trace().filter((t) => t.includes('IKE_SA_INIT'))).toHaveLength(2);
  });
});
