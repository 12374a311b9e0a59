// Lifetimes (RFC 7296 §2.8): soft with jitter → rekey, hard → delete; data-plane expire events; a rekeyed SA its peer never deletes.
import { describe, expect, test } from 'vitest';
import { pskPair } from './testing/pairs.ts';
import { T0, type Pair, type Peer } from './testing/pair.ts';
import { CLIENT_ADDR, GW_ADDR, PSK, child, conn, gateway } from './testing/config.ts';
import { RawInitiator } from './testing/raw-initiator.ts';
import { createEngine } from './engine.ts';
import { createCryptoSuite } from '../crypto/suite.ts';
import { createSignatureOps } from '../pki/signature.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';
import type { ChildConfig } from '../config/types.ts';
import type { Payload } from './codec/types.ts';
import type { IkeSaInfo } from './io.ts';
import { EncrId, EsnId, ExchangeType, Notify, PayloadType, ProtocolId, TransformType } from './constants.ts';
import { resolveTs } from './ts.ts';
import { u32Bytes } from './bytes.ts';

const S = 1000;

function lifetimePair(clientChild: Partial<ChildConfig>, gwChild: Partial<ChildConfig> = {}, seed = 'life', over: Parameters<typeof pskPair>[0] = {}): Pair {
  return pskPair({
    seed,
    ...over,
    client: { children: [child({ name: 'net', localTs: ['dynamic'], remoteTs: ['198.51.100.0/24'], ...clientChild })], ...over.client },
    gw: { children: [child({ name: 'net', localTs: ['198.51.100.0/24'], remoteTs: ['dynamic'], rekeySec: 5000, lifetimeSec: 6000, ...gwChild })], ...over.gw },
  });
}

function onlySa(p: Peer): IkeSaInfo {
  const sas = p.engine.listSas();
  expect(sas).toHaveLength(1);
  return sas[0]!;
}

const rekeys = (pair: Pair) => pair.trace().filter((t) => t.endsWith('>CREATE_CHILD_SA'));

describe('CHILD_SA lifetimes', () => {
  test('soft lifetime: rekeyed between 90 % and 100 % of rekeySec, by the side whose lifetime runs out first', async () => {
    const pair = lifetimePair({ rekeySec: 1000, lifetimeSec: 2000 });
    await pair.initiate('to-gw');
    const at = onlySa(pair.a).children[0]!.rekeyAtMs!;
    expect(at).toBeGreaterThanOrEqual(T0 + 900 * S);
    expect(at).toBeLessThanOrEqual(T0 + 1000 * S);
    expect(onlySa(pair.a).children[0]!.expireAtMs).toBe(T0 + 2000 * S);
    await pair.advance(at - T0 - 1);
    expect(rekeys(pair)).toEqual([]);
    await pair.advance(1);
    // CREATE_CHILD_SA { N(REKEY_SA) ... } -->   <--   INFORMATIONAL { D(ESP old) } -->   <--
    expect(pair.trace().slice(4)).toEqual(['a>CREATE_CHILD_SA', 'b<CREATE_CHILD_SA', 'a>INFORMATIONAL', 'b<INFORMATIONAL']);
    const next = onlySa(pair.a).children[0]!;
    expect(next.rekeyAtMs! - at).toBeGreaterThanOrEqual(900 * S);
    expect(next.expireAtMs).toBe(at + 2000 * S);
    expect(pair.b.dp.sas.size).toBe(2);
  });

  test('the jitter differs between SAs (it comes from the injected randomness)', async () => {
    const times = new Set<number>();
    for (const seed of ['j1', 'j2', 'j3']) {
      const pair = lifetimePair({ rekeySec: 1000, lifetimeSec: 2000 }, {}, seed);
      await pair.initiate('to-gw');
      times.add(onlySa(pair.a).children[0]!.rekeyAtMs!);
    }
    expect(times.size).toBe(3);
  });

  test('hard lifetime without rekey: the CHILD_SA is deleted (INFORMATIONAL DELETE), the IKE SA stays', async () => {
    const pair = lifetimePair({ rekeySec: 0, lifetimeSec: 100 });
    await pair.initiate('to-gw');
    expect(onlySa(pair.a).children[0]!.rekeyAtMs).toBeUndefined();
    await pair.advance(100 * S);
    expect(pair.trace().slice(4)).toEqual(['a>INFORMATIONAL', 'b<INFORMATIONAL']);
    expect(onlySa(pair.a).children).toEqual([]);
    expect(onlySa(pair.b).children).toEqual([]);
    expect(pair.a.eventsOf('child.down')[0]?.reason).toBe('lifetime expired');
    expect(pair.a.dp.sas.size + pair.b.dp.sas.size).toBe(0);
  });

  test('data-plane expire events: soft → rekey, hard → delete, unknown SPI → counted and ignored', async () => {
    const pair = lifetimePair({});
    await pair.initiate('to-gw');
    const gwChild = onlySa(pair.b).children[0]!;
    await pair.command('b', { type: 'dp.expire', spi: gwChild.spiIn, direction: 'in', kind: 'soft' });
    expect(pair.trace().slice(4)).toEqual(['b>CREATE_CHILD_SA', 'a<CREATE_CHILD_SA', 'b>INFORMATIONAL', 'a<INFORMATIONAL']);
    // A second soft event for the old (now gone) SPI changes nothing.
    await pair.command('b', { type: 'dp.expire', spi: gwChild.spiIn, direction: 'in', kind: 'soft' });
    expect(pair.b.engine.stats().drops['expire-unknown-spi']).toBe(1);
    const next = onlySa(pair.b).children[0]!;
    await pair.command('b', { type: 'dp.expire', spi: next.spiOut, direction: 'out', kind: 'hard' });
    expect(pair.trace().slice(8)).toEqual(['b>INFORMATIONAL', 'a<INFORMATIONAL']);
    expect(pair.b.eventsOf('child.down').at(-1)?.reason).toBe('hard lifetime expired');
    expect(onlySa(pair.a).children).toEqual([]);
  });

  test('a rekey initiator that never deletes the old SA: the responder deletes it itself after 60 s and switches outbound first', () => {
    const gw = createEngine({
      config: gateway(GW_ADDR, [conn({ children: [child({ localTs: ['198.51.100.0/24'], remoteTs: ['dynamic'] })] })]),
      crypto: createCryptoSuite({ randomBytes: seededRandom('orphan-gw') }),
      sig: createSignatureOps(),
      nowMs: T0,
    });
    const raw = new RawInitiator(createCryptoSuite({ randomBytes: seededRandom('orphan-raw') }), { addr: CLIENT_ADDR, port: 500 }, { addr: GW_ADDR, port: 500 });
    raw.handleInitResponse(gw.receive(raw.initRequest(), T0).send[0]!.data);
    raw.open(gw.receive(raw.request(ExchangeType.IKE_AUTH, [...raw.authPayloads(PSK, 'client.outpost.test'), espSa(0x11223344), tsi(), tsr()]), T0).send[0]!.data);
    // CREATE_CHILD_SA { N(REKEY_SA, 11223344), SA(55667788), Ni, TSi, TSr } -->   <-- { SA, Nr, TSi, TSr } ... and no DELETE ever
    const rekeyed = gw.receive(
      raw.request(ExchangeType.CREATE_CHILD_SA, [
        { type: PayloadType.NOTIFY, protocolId: ProtocolId.ESP, spi: u32Bytes(0x11223344), notifyType: Notify.REKEY_SA, data: new Uint8Array(0) },
        espSa(0x55667788),
        { type: PayloadType.NONCE, data: new Uint8Array(32).fill(9) },
        tsi(),
        tsr(),
      ]),
      T0 + 1000,
    );
    expect(rekeyed.effects.map((e) => `${e.type}:${'sa' in e ? e.sa.direction : 'policy' in e ? e.policy.direction : ''}`)).toEqual(['dp.addSa:in', 'dp.addPolicy:in', 'dp.addPolicy:fwd']);
    expect(rekeyed.wakeAtMs).toBe(T0 + 61_000);
    const late = gw.tick(T0 + 61_000);
    // INFORMATIONAL { D(ESP, old inbound SPI) } from the gateway, after moving its outbound traffic to 55667788.
    const del = raw.open(late.send[0]!.data);
    expect(del.payloads[0]).toMatchObject({ type: PayloadType.DELETE, protocolId: ProtocolId.ESP });
    const done = gw.receive(raw.response(ExchangeType.INFORMATIONAL, [], del.header.messageId), T0 + 61_100);
    const kinds = done.effects.map((e) => `${e.type}:${'sa' in e ? `${e.sa.direction}:${e.sa.spi.toString(16)}` : 'spi' in e && 'direction' in e ? `${e.direction}:${e.spi.toString(16)}` : 'policy' in e ? e.policy.direction : ''}`);
    expect(kinds[0]).toBe('dp.addSa:out:55667788');
    expect(kinds).toContain('dp.delSa:out:11223344');
    expect(gw.listSas()[0]!.children.map((c) => c.spiOut)).toEqual([0x55667788]);
  });
});

describe('IKE SA lifetimes', () => {
  test('ikeRekeySec: the IKE SA is rekeyed by the side whose soft lifetime comes first', async () => {
    const pair = lifetimePair({}, {}, 'ike-life', { client: { ikeRekeySec: 1000, ikeLifetimeSec: 2000 } });
    await pair.initiate('to-gw');
    const sa0 = onlySa(pair.a);
    expect(sa0.rekeyAtMs).toBeGreaterThanOrEqual(T0 + 900 * S);
    expect(sa0.expireAtMs).toBe(T0 + 2000 * S);
    await pair.advance(1000 * S);
    expect(pair.trace().slice(4)).toEqual(['a>CREATE_CHILD_SA', 'b<CREATE_CHILD_SA', 'a>INFORMATIONAL', 'b<INFORMATIONAL']);
    const sa1 = onlySa(pair.a);
    expect(sa1.spiI).not.toBe(sa0.spiI);
    expect(sa1.expireAtMs).toBeGreaterThan(sa0.expireAtMs!);
  });

  test('ikeLifetimeSec without rekey: the IKE SA is deleted when it runs out', async () => {
    const pair = lifetimePair({}, {}, 'ike-hard', { gw: { ikeRekeySec: 0, ikeLifetimeSec: 500 } });
    await pair.initiate('to-gw');
    expect(onlySa(pair.b).rekeyAtMs).toBeUndefined();
    await pair.advance(500 * S);
    expect(pair.trace().slice(4)).toEqual(['b>INFORMATIONAL', 'a<INFORMATIONAL']);
    expect(pair.b.engine.listSas()).toEqual([]);
    expect(pair.a.engine.listSas()).toEqual([]);
    expect(pair.b.eventsOf('ike.down')[0]?.reason).toBe('IKE lifetime expired');
  });
});

function espSa(spi: number): Payload {
  const transforms = [
    { type: TransformType.ENCR, id: EncrId.AES_GCM_16, keyLength: 256 },
    { type: TransformType.ESN, id: EsnId.NO_ESN },
  ];
  return { type: PayloadType.SA, proposals: [{ num: 1, protocolId: ProtocolId.ESP, spi: u32Bytes(spi), transforms }] };
}
const tsi = (): Payload => ({ type: PayloadType.TSi, selectors: resolveTs([`${CLIENT_ADDR}/32`], []) });
const tsr = (): Payload => ({ type: PayloadType.TSr, selectors: resolveTs(['198.51.100.0/24'], []) });
