// INFORMATIONAL exchanges: DELETE of IKE and CHILD SAs, liveness, unknown SPIs, malformed requests (RFC 7296 §1.4, §1.5, §2.21).
import { describe, expect, test } from 'vitest';
import { pskPair } from './testing/pairs.ts';
import { T0 } from './testing/pair.ts';
import { RawInitiator } from './testing/raw-initiator.ts';
import { CLIENT_ADDR, GW_ADDR, PSK, conn, gateway } from './testing/config.ts';
import { createEngine, type Engine } from './engine.ts';
import { createCryptoSuite } from '../crypto/suite.ts';
import { createSignatureOps } from '../pki/signature.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';
import { ExchangeType, HeaderFlag, Notify, PayloadType, ProtocolId } from './constants.ts';
import { decodeMessage } from './codec/index.ts';
import type { DeletePayload, NotifyPayload, Payload } from './codec/types.ts';
import type { Output } from './io.ts';
import { readU32 } from './bytes.ts';

describe('DELETE', () => {
  test('the initiator deletes the IKE SA: both sides remove SAs, policies and report ike.down', async () => {
    const pair = pskPair();
    await pair.initiate('to-gw');
    const ikeId = pair.a.engine.listSas()[0]!.ikeId;
    // INFORMATIONAL { D(IKE) } -->   <-- INFORMATIONAL { }
    pair.absorb(pair.a, pair.a.engine.command({ type: 'terminate', ikeId }, pair.clock));
    await pair.run();
    expect(pair.trace().slice(4)).toEqual(['a>INFORMATIONAL', 'b<INFORMATIONAL']);
    for (const p of [pair.a, pair.b]) {
      expect(p.engine.listSas()).toEqual([]);
      expect(p.dp.sas.size).toBe(0);
      expect(p.dp.policies).toEqual([]);
      expect(p.eventsOf('ike.down')).toHaveLength(1);
      expect(p.eventsOf('child.down')).toHaveLength(1);
    }
    expect(pair.b.eventsOf('ike.down')[0]?.reason).toBe('deleted by peer');
  });

  test('the responder can delete too: its own requests start at message ID 0', async () => {
    const pair = pskPair();
    await pair.initiate('to-gw');
    const ikeId = pair.b.engine.listSas()[0]!.ikeId;
    pair.absorb(pair.b, pair.b.engine.command({ type: 'terminate', ikeId }, pair.clock));
    await pair.run();
    expect(pair.trace().slice(4)).toEqual(['b>INFORMATIONAL', 'a<INFORMATIONAL']);
    expect(pair.wire[4]!.messageId).toBe(0);
    expect(pair.a.engine.listSas()).toEqual([]);
    expect(pair.b.engine.listSas()).toEqual([]);
  });

  test('DELETE of a CHILD_SA names our inbound SPI; the answer names the peer\'s inbound SPI; the IKE SA stays', async () => {
    const pair = pskPair();
    await pair.initiate('to-gw');
    const sa = pair.a.engine.listSas()[0]!;
    const childA = sa.children[0]!;
    // INFORMATIONAL { D(ESP, spiIn of a) } -->   <-- INFORMATIONAL { D(ESP, spiIn of b) }
    pair.absorb(pair.a, pair.a.engine.command({ type: 'terminate', ikeId: sa.ikeId, childId: childA.childId }, pair.clock));
    await pair.run();
    expect(pair.a.engine.listSas()[0]?.children).toEqual([]);
    expect(pair.b.engine.listSas()[0]?.children).toEqual([]);
    expect(pair.a.engine.listSas()[0]?.state).toBe('established');
    expect(pair.a.dp.sas.size + pair.b.dp.sas.size).toBe(0);
    expect(pair.a.dp.policies.length + pair.b.dp.policies.length).toBe(0);
    expect(pair.b.eventsOf('child.down')[0]?.reason).toBe('deleted by peer');
    expect(pair.b.dp.log.filter((e) => e.type === 'dp.delSa').map((e) => e.type === 'dp.delSa' && e.spi).sort()).toEqual([childA.spiIn, childA.spiOut].sort());
  });
});

describe('liveness', () => {
  test('an idle SA with dpdDelaySec sends an empty INFORMATIONAL, which is answered', async () => {
    const pair = pskPair({ client: { dpdDelaySec: 30 } });
    await pair.initiate('to-gw');
    await pair.advance(29_999);
    expect(pair.trace()).toHaveLength(4);
    await pair.advance(1);
    // INFORMATIONAL { } -->   <-- INFORMATIONAL { }
    expect(pair.trace().slice(4)).toEqual(['a>INFORMATIONAL', 'b<INFORMATIONAL']);
    expect(pair.a.engine.listSas()[0]?.state).toBe('established');
    await pair.advance(30_000);
    expect(pair.trace().slice(4)).toEqual(['a>INFORMATIONAL', 'b<INFORMATIONAL', 'a>INFORMATIONAL', 'b<INFORMATIONAL']);
  });

  test('a dead peer: the liveness check is retransmitted, then the SA and its CHILD_SAs are removed', async () => {
    const pair = pskPair({ client: { dpdDelaySec: 10, dpdAction: 'clear' } });
    await pair.initiate('to-gw');
    pair.filter = () => false;
    await pair.advance(60_000);
    expect(pair.a.engine.listSas()).toEqual([]);
    expect(pair.a.eventsOf('ike.down')[0]?.reason).toBe('DPD: no response to INFORMATIONAL from 192.0.2.1');
    expect(pair.a.eventsOf('child.down')).toHaveLength(1);
    expect(pair.a.dp.sas.size).toBe(0);
  });

  test('an INFORMATIONAL with unknown notifies gets an empty answer', async () => {
    const { gw, raw, send } = await rawEstablished();
    const out = send(raw.request(ExchangeType.INFORMATIONAL, [notify(Notify.NO_ADDITIONAL_ADDRESSES), notify(40000)]));
    const resp = raw.open(out.send[0]!.data);
    expect(resp.payloads).toEqual([]);
    expect(gw.listSas()[0]?.state).toBe('established');
  });
});

function notify(notifyType: number, data = new Uint8Array(0)): NotifyPayload {
  return { type: PayloadType.NOTIFY, protocolId: 0, spi: new Uint8Array(0), notifyType, data };
}

function gwEngine(seed: string): Engine {
  return createEngine({
    config: gateway(GW_ADDR, [conn()]),
    crypto: createCryptoSuite({ randomBytes: seededRandom(`${seed}-gw`) }),
    sig: createSignatureOps(),
    nowMs: T0,
  });
}

/** A gateway engine with one IKE SA established by the hand-driven initiator (no CHILD_SA). */
async function rawEstablished(seed = 'raw') {
  const gw = gwEngine(seed);
  const raw = new RawInitiator(createCryptoSuite({ randomBytes: seededRandom(`${seed}-raw`) }), { addr: CLIENT_ADDR, port: 500 }, { addr: GW_ADDR, port: 500 });
  const send = (d: ReturnType<RawInitiator['request']>): Output => gw.receive(d, T0);
  const init = send(raw.initRequest());
  raw.handleInitResponse(init.send[0]!.data);
  const auth = send(raw.request(ExchangeType.IKE_AUTH, raw.authPayloads(PSK, 'client.outpost.test')));
  const resp = raw.open(auth.send[0]!.data);
  if (!resp.payloads.some((p) => p.type === PayloadType.AUTH)) throw new Error('not established');
  return { gw, raw, send };
}

describe('malformed and unexpected input', () => {
  test('an authenticated request with an unknown critical payload gets UNSUPPORTED_CRITICAL_PAYLOAD; the SA stays', async () => {
    const { gw, raw, send } = await rawEstablished();
    const unknown: Payload = { type: 200, unknown: true, critical: true, body: new Uint8Array(4) };
    const out = send(raw.request(ExchangeType.INFORMATIONAL, [unknown]));
    const resp = raw.open(out.send[0]!.data);
    expect(resp.payloads).toEqual([notify(Notify.UNSUPPORTED_CRITICAL_PAYLOAD, Uint8Array.of(200))]);
    expect(gw.listSas()[0]?.state).toBe('established');
    // The message ID was consumed: the next request uses the next one and is answered normally.
    const next = raw.open(send(raw.request(ExchangeType.INFORMATIONAL, [])).send[0]!.data);
    expect(next.payloads).toEqual([]);
  });

  test('an authenticated request whose inner payloads do not parse gets INVALID_SYNTAX', async () => {
    const { gw, raw, send } = await rawEstablished();
    // A Nonce payload of 3 octets: the codec refuses nonces under 16 octets.
    const out = send(raw.request(ExchangeType.INFORMATIONAL, [{ type: PayloadType.VENDOR, data: new Uint8Array(0) }, { type: 40, unknown: true, critical: false, body: new Uint8Array(3) } as Payload]));
    const resp = raw.open(out.send[0]!.data);
    expect(resp.payloads).toEqual([notify(Notify.INVALID_SYNTAX)]);
    expect(gw.stats().drops['invalid-syntax']).toBe(1);
    expect(gw.listSas()[0]?.state).toBe('established');
  });

  test('a request with a forged ICV is dropped silently', async () => {
    const { gw, raw, send } = await rawEstablished();
    const d = raw.request(ExchangeType.INFORMATIONAL, []);
    d.data[d.data.length - 1]! ^= 1;
    expect(send(d).send).toEqual([]);
    expect(gw.stats().drops['integrity']).toBe(1);
  });

  test('a request with a message ID from the future is dropped; the expected one still works', async () => {
    const { gw, raw, send } = await rawEstablished();
    expect(send(raw.request(ExchangeType.INFORMATIONAL, [], 7)).send).toEqual([]);
    expect(gw.stats().drops['bad-message-id']).toBe(1);
    expect(send(raw.request(ExchangeType.INFORMATIONAL, [])).send).toHaveLength(1);
  });

  test('a CREATE_CHILD_SA without an SA payload is refused with NO_PROPOSAL_CHOSEN and the IKE SA stays', async () => {
    const { gw, raw, send } = await rawEstablished();
    const out = send(raw.request(ExchangeType.CREATE_CHILD_SA, [{ type: PayloadType.NONCE, data: new Uint8Array(32) }]));
    expect(raw.open(out.send[0]!.data).payloads).toEqual([notify(Notify.NO_PROPOSAL_CHOSEN)]);
    expect(gw.listSas()[0]?.state).toBe('established');
  });

  test('a DELETE for an unknown CHILD SPI is answered with an empty DELETE-less response', async () => {
    const { raw, send } = await rawEstablished();
    const del: DeletePayload = { type: PayloadType.DELETE, protocolId: ProtocolId.ESP, spis: [Uint8Array.of(1, 2, 3, 4)] };
    expect(raw.open(send(raw.request(ExchangeType.INFORMATIONAL, [del])).send[0]!.data).payloads).toEqual([]);
  });

  test('a request for an unknown SPI gets INVALID_IKE_SPI, unprotected, rate-limited; responses get nothing', () => {
    const gw = gwEngine('unknown');
    const raw = new RawInitiator(createCryptoSuite({ randomBytes: seededRandom('x') }), { addr: CLIENT_ADDR, port: 4500 }, { addr: GW_ADDR, port: 4500 });
    raw.spiR = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    raw.handleInitResponse(fakeInitResponse(raw));
    const replies: Output[] = [];
    for (let i = 0; i < 50; i++) replies.push(gw.receive(raw.request(ExchangeType.INFORMATIONAL, []), T0));
    const sent = replies.flatMap((o) => o.send);
    expect(sent).toHaveLength(10);
    const dec = decodeMessage(sent[0]!.data);
    if (!dec.ok) throw new Error(dec.error);
    expect(dec.value.header).toMatchObject({ exchange: ExchangeType.INFORMATIONAL, flags: HeaderFlag.RESPONSE, messageId: 0, spiI: raw.spiI, spiR: raw.spiR });
    expect(dec.value.payloads).toEqual([notify(Notify.INVALID_IKE_SPI)]);
    expect(sent[0]!.remote).toEqual({ addr: CLIENT_ADDR, port: 4500 });
    expect(gw.stats().drops['unknown-spi']).toBe(50);
    // One second later the budget is back.
    expect(gw.receive(raw.request(ExchangeType.INFORMATIONAL, []), T0 + 1000).send).toHaveLength(1);
    expect(readU32(dec.value.header.spiR, 0)).toBe(0x01020304);
  });
});

/** An IKE_SA_INIT response from a made-up responder, so RawInitiator has keys for an SA the gateway never saw. */
function fakeInitResponse(raw: RawInitiator): Uint8Array {
  const other = createCryptoSuite({ randomBytes: seededRandom('fake') });
  const peer = new RawInitiator(other, raw.remote, raw.local);
  const d = peer.initRequest();
  // Turn the request into a response-looking message carrying the same KE/Nonce types the parser needs.
  const copy = d.data.slice();
  copy.set(raw.spiR, 8);
  return copy;
}
