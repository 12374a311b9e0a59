// IKE SA rekeying and reauthentication (RFC 7296 §1.3.2, §2.18, §2.8.2 collisions, §2.8.3, §2.25.2).
import { describe, expect, test } from 'vitest';
import { pskPair } from './testing/pairs.ts';
import { T0, type Pair, type Peer } from './testing/pair.ts';
import { CLIENT_ADDR, GW_ADDR, PSK, child, conn, gateway } from './testing/config.ts';
import { RawInitiator } from './testing/raw-initiator.ts';
import { createEngine } from './engine.ts';
import { createCryptoSuite } from '../crypto/suite.ts';
import { createSignatureOps } from '../pki/signature.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';
import type { IkeSaInfo } from './io.ts';
import { DhId, EncrId, EsnId, ExchangeType, Notify, PayloadType, PrfId, ProtocolId, TransformType } from './constants.ts';
import type { Payload } from './codec/types.ts';
import { resolveTs } from './ts.ts';

const GW_CHILD = child({ name: 'net', localTs: ['198.51.100.0/24'], remoteTs: ['dynamic'] });
const CLIENT_CHILD = child({ name: 'net', localTs: ['dynamic'], remoteTs: ['198.51.100.0/24'] });

function onlySa(p: Peer): IkeSaInfo {
  const sas = p.engine.listSas();
  expect(sas).toHaveLength(1);
  return sas[0]!;
}

function basicPair(seed = 'ike-rekey'): Pair {
  return pskPair({ client: { children: [CLIENT_CHILD] }, gw: { children: [GW_CHILD] }, seed });
}

async function rekeyIke(pair: Pair, side: 'a' | 'b'): Promise<void> {
  const p = side === 'a' ? pair.a : pair.b;
  await pair.command(side, { type: 'rekey', ikeId: onlySa(p).ikeId });
}

describe('IKE SA rekey', () => {
  test('the original initiator rekeys: new SPIs on both ends, the CHILD_SAs move untouched, the old SA is deleted over itself', async () => {
    const pair = basicPair();
    await pair.initiate('to-gw');
    const a0 = onlySa(pair.a);
    const dpBefore = pair.a.dp.log.length + pair.b.dp.log.length;
    // CREATE_CHILD_SA { SA(IKE, new SPIi), Ni, KEi } -->   <-- CREATE_CHILD_SA { SA(IKE, new SPIr), Nr, KEr }
    // INFORMATIONAL { D(IKE) } (old SA) -->                 <-- INFORMATIONAL { }
    await rekeyIke(pair, 'a');
    expect(pair.trace().slice(4)).toEqual(['a>CREATE_CHILD_SA', 'b<CREATE_CHILD_SA', 'a>INFORMATIONAL', 'b<INFORMATIONAL']);
    const a1 = onlySa(pair.a);
    const b1 = onlySa(pair.b);
    expect(a1.ikeId).not.toBe(a0.ikeId);
    expect(a1.spiI).not.toBe(a0.spiI);
    expect(a1.spiR).not.toBe(a0.spiR);
    expect([b1.spiI, b1.spiR]).toEqual([a1.spiI, a1.spiR]);
    expect(a1).toMatchObject({ state: 'established', initiator: true, proposal: 'aes256gcm16-prfsha256-x25519' });
    expect(b1.initiator).toBe(false);
    expect(a1.children.map((c) => [c.spiIn, c.spiOut])).toEqual(a0.children.map((c) => [c.spiIn, c.spiOut]));
    // Rekeying the IKE SA does not touch the data plane.
    expect(pair.a.dp.log.length + pair.b.dp.log.length).toBe(dpBefore);
    for (const p of [pair.a, pair.b]) {
      expect(p.eventsOf('ike.up')).toHaveLength(2);
      expect(p.eventsOf('ike.down')).toEqual([expect.objectContaining({ reason: 'rekeyed' })]);
      expect(p.eventsOf('child.down')).toEqual([]);
    }
    expect(pair.a.logs('info').some((l) => l.includes(`rekeyed: SPIs ${a0.spiI}_i ${a0.spiR}_r → ${a1.spiI}_i ${a1.spiR}_r`))).toBe(true);
  });

  test('the new SA works: message IDs restart at 0, a CHILD rekey with keys from the new SK_d, a DELETE', async () => {
    const pair = basicPair();
    await pair.initiate('to-gw');
    await rekeyIke(pair, 'a');
    const n = pair.wire.length;
    const sa = onlySa(pair.a);
    await pair.command('a', { type: 'rekey', ikeId: sa.ikeId, childId: sa.children[0]!.childId });
    expect(pair.wire[n]!.messageId).toBe(0);
    const a = onlySa(pair.a).children[0]!;
    const b = onlySa(pair.b).children[0]!;
    expect(pair.a.dp.sas.get(`out:${a.spiOut}`)!.encKey).toEqual(pair.b.dp.sas.get(`in:${b.spiIn}`)!.encKey);
    await pair.command('b', { type: 'terminate', ikeId: onlySa(pair.b).ikeId });
    expect(pair.a.engine.listSas()).toEqual([]);
    expect(pair.b.engine.listSas()).toEqual([]);
    expect(pair.a.dp.sas.size + pair.b.dp.sas.size).toBe(0);
  });

  test('the gateway (original responder) rekeys: roles swap on the new SA, and both sides keep using it', async () => {
    const pair = basicPair();
    await pair.initiate('to-gw');
    await rekeyIke(pair, 'b');
    expect(pair.trace().slice(4)).toEqual(['b>CREATE_CHILD_SA', 'a<CREATE_CHILD_SA', 'b>INFORMATIONAL', 'a<INFORMATIONAL']);
    const a1 = onlySa(pair.a);
    const b1 = onlySa(pair.b);
    expect(b1.initiator).toBe(true);
    expect(a1.initiator).toBe(false);
    expect([a1.spiI, a1.spiR]).toEqual([b1.spiI, b1.spiR]);
    // Liveness from the client over the swapped SA, then a rekey from the client again.
    await pair.command('a', { type: 'rekey', ikeId: a1.ikeId });
    const a2 = onlySa(pair.a);
    expect(a2.initiator).toBe(true);
    expect(onlySa(pair.b).spiI).toBe(a2.spiI);
    expect(a2.children).toHaveLength(1);
  });

  test('virtual IP leases move with the SA: the address stays taken and is reported on the new SA', async () => {
    const pool = { name: 'v4', cidr: '203.0.113.0/24', dns: [], domains: [] };
    const pair = pskPair({
      gw: { pools: ['v4'], children: [GW_CHILD] },
      gwCfg: { pools: [pool] },
      client: { vips: ['0.0.0.0'], children: [child({ localTs: ['dynamic'], remoteTs: ['0.0.0.0/0'] })] },
    });
    await pair.initiate('to-gw');
    await rekeyIke(pair, 'b');
    expect(onlySa(pair.b).virtualIps).toEqual(['203.0.113.1']);
    expect(onlySa(pair.a).virtualIps).toEqual(['203.0.113.1']);
  });

  for (const seed of ['k1', 'k2', 'k3', 'k4']) {
    test(`simultaneous IKE rekey (seed ${seed}): one new SA survives on both sides, the spare is deleted, children intact`, async () => {
      const pair = basicPair(seed);
      await pair.initiate('to-gw');
      const child0 = onlySa(pair.a).children[0]!;
      await pair.commandBoth({ type: 'rekey', ikeId: onlySa(pair.a).ikeId }, { type: 'rekey', ikeId: onlySa(pair.b).ikeId });
      await pair.advance(1000);
      const won = [pair.a, pair.b].filter((p) => p.logs('info').some((l) => l.includes('IKE_SA rekey collision won')));
      const lost = [pair.a, pair.b].filter((p) => p.logs('info').some((l) => l.includes('IKE_SA rekey collision lost')));
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      const a1 = onlySa(pair.a);
      const b1 = onlySa(pair.b);
      expect([a1.spiI, a1.spiR]).toEqual([b1.spiI, b1.spiR]);
      expect(a1.children.map((c) => c.spiIn)).toEqual([child0.spiIn]);
      expect(b1.children.map((c) => c.spiOut)).toEqual([child0.spiIn]);
      for (const p of [pair.a, pair.b]) {
        // The spare SA was never announced.
        expect(p.eventsOf('ike.up')).toHaveLength(2);
        expect(p.eventsOf('ike.down').map((e) => e.reason)).toEqual(['rekeyed']);
        expect(p.engine.stats().ikeSas).toBe(1);
      }
      // Both ends still talk over the survivor.
      await pair.command('a', { type: 'rekey', ikeId: a1.ikeId, childId: a1.children[0]!.childId });
      expect(onlySa(pair.b).children[0]!.spiOut).toBe(onlySa(pair.a).children[0]!.spiIn);
    });
  }

  test('collision where the winner\'s DELETE of the old SA overtakes our response: the winner\'s SA takes the children', async () => {
    // Seed k1: the gateway's exchange wins (see the collision tests above).
    const pair = basicPair('k1');
    await pair.initiate('to-gw');
    const child0 = onlySa(pair.a).children[0]!;
    let held = true;
    pair.filter = (p) => !(held && p.from === 'b' && p.response && p.exchange === ExchangeType.CREATE_CHILD_SA);
    await pair.commandBoth({ type: 'rekey', ikeId: onlySa(pair.a).ikeId }, { type: 'rekey', ikeId: onlySa(pair.b).ikeId });
    held = false;
    // The client never got its response; its retransmission goes to an SA the gateway deleted: dropped.
    await pair.advance(61_000);
    const a1 = onlySa(pair.a);
    const b1 = onlySa(pair.b);
    expect([a1.spiI, a1.spiR]).toEqual([b1.spiI, b1.spiR]);
    expect(a1.initiator).toBe(false);
    expect(a1.children.map((c) => c.spiIn)).toEqual([child0.spiIn]);
    expect(pair.a.eventsOf('child.down')).toEqual([]);
    expect(pair.b.engine.stats().ikeSas).toBe(1);
  });

  test('§2.25: a CREATE_CHILD_SA or IKE rekey on an IKE SA being deleted gets TEMPORARY_FAILURE', () => {
    const { gw, raw, crypto } = rawEstablished('busy');
    const ikeId = gw.listSas()[0]!.ikeId;
    // <-- INFORMATIONAL { D(IKE) } from the gateway, left unanswered
    expect(gw.command({ type: 'terminate', ikeId }, T0).send).toHaveLength(1);
    const ke = crypto.keyExchange(DhId.CURVE25519);
    const ikeSa: Payload = { type: PayloadType.SA, proposals: [{ num: 1, protocolId: ProtocolId.IKE, spi: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), transforms: IKE_TRANSFORMS }] };
    const rekey = gw.receive(raw.request(ExchangeType.CREATE_CHILD_SA, [ikeSa, { type: PayloadType.NONCE, data: new Uint8Array(32).fill(1) }, { type: PayloadType.KE, dhGroup: DhId.CURVE25519, data: ke.publicKey }]), T0);
    expect(raw.open(rekey.send[0]!.data).payloads).toEqual([temporaryFailure()]);
    const create = gw.receive(raw.request(ExchangeType.CREATE_CHILD_SA, [espSa(), { type: PayloadType.NONCE, data: new Uint8Array(32).fill(2) }, tsi(), tsr()]), T0);
    expect(raw.open(create.send[0]!.data).payloads).toEqual([temporaryFailure()]);
    expect(gw.listSas()[0]!.state).toBe('deleting');
  });

  test('§2.25.2: an IKE rekey crossing a CHILD rekey: both get TEMPORARY_FAILURE, both retry later and succeed', async () => {
    const pair = basicPair();
    await pair.initiate('to-gw');
    const a0 = onlySa(pair.a);
    await pair.commandBoth({ type: 'rekey', ikeId: a0.ikeId, childId: a0.children[0]!.childId }, { type: 'rekey', ikeId: onlySa(pair.b).ikeId });
    expect(pair.trace().slice(4)).toEqual(['a>CREATE_CHILD_SA', 'b>CREATE_CHILD_SA', 'b<CREATE_CHILD_SA', 'a<CREATE_CHILD_SA']);
    expect(pair.a.logs('info')).toContain('IKE_SA rekey refused (TEMPORARY_FAILURE): a CHILD_SA exchange of ours is in progress');
    expect(pair.b.logs('info')).toContain('CHILD_SA rekey refused (TEMPORARY_FAILURE): CHILD_SA net: we are rekeying the IKE_SA');
    expect(onlySa(pair.a).ikeId).toBe(a0.ikeId);
    await pair.advance(30_000);
    const a1 = onlySa(pair.a);
    expect(a1.ikeId).not.toBe(a0.ikeId);
    expect(a1.children[0]!.spiIn).not.toBe(a0.children[0]!.spiIn);
    expect(onlySa(pair.b).children[0]!.spiOut).toBe(a1.children[0]!.spiIn);
  });

  test('a peer\'s IKE rekey with a KE for another group: INVALID_KE_PAYLOAD naming ours; the IKE SA stays', () => {
    const { gw, raw, crypto } = rawEstablished('ike');
    const transforms = [...IKE_TRANSFORMS, { type: TransformType.DH, id: DhId.ECP_256 }];
    const ke = crypto.keyExchange(DhId.ECP_256);
    // CREATE_CHILD_SA { SA(IKE: x25519, ecp256), Ni, KEi(ecp256) } -->   <-- { N(INVALID_KE_PAYLOAD, 31) }
    const out = gw.receive(
      raw.request(ExchangeType.CREATE_CHILD_SA, [
        { type: PayloadType.SA, proposals: [{ num: 1, protocolId: ProtocolId.IKE, spi: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), transforms }] },
        { type: PayloadType.NONCE, data: new Uint8Array(32).fill(3) },
        { type: PayloadType.KE, dhGroup: DhId.ECP_256, data: ke.publicKey },
      ]),
      T0,
    );
    const resp = raw.open(out.send[0]!.data);
    expect(resp.payloads).toEqual([{ type: PayloadType.NOTIFY, protocolId: 0, spi: new Uint8Array(0), notifyType: Notify.INVALID_KE_PAYLOAD, data: Uint8Array.of(0, 31) }]);
    expect(gw.listSas()).toHaveLength(1);
    expect(gw.listSas()[0]!.state).toBe('established');
  });
});

describe('reauthentication (make-before-break)', () => {
  function twoChildPair(over: { ikeReauth?: boolean; ikeRekeySec?: number; ikeLifetimeSec?: number } = {}): Pair {
    const pool = { name: 'v4', cidr: '203.0.113.0/24', dns: [], domains: [] };
    return pskPair({
      gw: { pools: ['v4'], children: [child({ name: 'lan', localTs: ['198.51.100.0/24'] }), child({ name: 'dmz', localTs: ['192.0.2.128/25'] })] },
      gwCfg: { pools: [pool] },
      client: {
        vips: ['0.0.0.0'],
        ...over,
        children: [child({ name: 'lan', localTs: ['dynamic'], remoteTs: ['198.51.100.0/24'] }), child({ name: 'dmz', localTs: ['dynamic'], remoteTs: ['192.0.2.128/25'] })],
      },
    });
  }

  test('reauth: new IKE_SA_INIT/IKE_AUTH, the second CHILD_SA by CREATE_CHILD_SA, then the old SA is deleted; the new children stay', async () => {
    const pair = twoChildPair();
    await pair.initiate('to-gw', 'lan');
    await pair.command('a', { type: 'create-child', ikeId: onlySa(pair.a).ikeId, child: 'dmz' });
    const old = onlySa(pair.b);
    const oldSpis = old.children.map((c) => c.spiIn);
    let holdDelete = true;
    pair.filter = (p) => !(holdDelete && p.from === 'a' && p.exchange === ExchangeType.INFORMATIONAL);
    await pair.command('a', { type: 'reauth', ikeId: onlySa(pair.a).ikeId });
    expect(pair.trace().slice(6)).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT', 'a>IKE_AUTH', 'b<IKE_AUTH', 'a>CREATE_CHILD_SA', 'b<CREATE_CHILD_SA', 'a>INFORMATIONAL']);
    // Until the old SA's DELETE arrives the gateway keeps both (no INITIAL_CONTACT in a reauthentication).
    expect(pair.b.engine.listSas()).toHaveLength(2);
    holdDelete = false;
    await pair.advance(1000);
    const b1 = onlySa(pair.b);
    const a1 = onlySa(pair.a);
    expect(b1.ikeId).not.toBe(old.ikeId);
    expect(b1.children.map((c) => c.name)).toEqual(['lan', 'dmz']);
    expect(b1.children.some((c) => oldSpis.includes(c.spiIn))).toBe(false);
    expect(b1.virtualIps).toEqual(['203.0.113.1']);
    expect(a1.virtualIps).toEqual(['203.0.113.1']);
    // The gateway's data plane holds exactly the new pairs.
    expect([...pair.b.dp.sas.keys()].sort()).toEqual(b1.children.flatMap((c) => [`in:${c.spiIn}`, `out:${c.spiOut}`]).sort());
    expect(pair.b.dp.policies).toHaveLength(6);
    expect(pair.b.eventsOf('ike.down')).toEqual([expect.objectContaining({ ikeId: old.ikeId, reason: 'deleted by peer' })]);
    expect(pair.a.eventsOf('ike.down')).toEqual([expect.objectContaining({ reason: 'reauthenticated' })]);
  });

  test('ikeReauth: the soft IKE lifetime reauthenticates instead of rekeying', async () => {
    const pair = twoChildPair({ ikeReauth: true, ikeRekeySec: 600, ikeLifetimeSec: 900 });
    await pair.initiate('to-gw', 'lan');
    await pair.advance(600_000);
    expect(pair.trace().slice(4)).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT', 'a>IKE_AUTH', 'b<IKE_AUTH', 'a>INFORMATIONAL', 'b<INFORMATIONAL']);
    const up = pair.a.eventsOf('ike.up');
    expect(up).toHaveLength(2);
    expect(onlySa(pair.a).ikeId).toBe(up[1]!.ikeId);
    expect(onlySa(pair.b).children).toHaveLength(1);
  });

  test('a reauthentication that fails leaves the old SA in place', async () => {
    const pair = twoChildPair();
    await pair.initiate('to-gw', 'lan');
    const old = onlySa(pair.a);
    pair.filter = (p) => p.exchange !== ExchangeType.IKE_SA_INIT;
    await pair.command('a', { type: 'reauth', ikeId: old.ikeId });
    await pair.advance(20_000);
    expect(onlySa(pair.a).ikeId).toBe(old.ikeId);
    expect(onlySa(pair.b).state).toBe('established');
    expect(pair.a.eventsOf('ike.failed')).toHaveLength(1);
  });
});

// ---- a hand-driven client against a gateway engine ----

const IKE_TRANSFORMS = [
  { type: TransformType.ENCR, id: EncrId.AES_GCM_16, keyLength: 256 },
  { type: TransformType.PRF, id: PrfId.HMAC_SHA2_256 },
  { type: TransformType.DH, id: DhId.CURVE25519 },
];

function rawEstablished(seed: string) {
  const gw = createEngine({
    config: gateway(GW_ADDR, [conn({ children: [GW_CHILD] })]),
    crypto: createCryptoSuite({ randomBytes: seededRandom(`${seed}-gw`) }),
    sig: createSignatureOps(),
    nowMs: T0,
  });
  const crypto = createCryptoSuite({ randomBytes: seededRandom(`${seed}-raw`) });
  const raw = new RawInitiator(crypto, { addr: CLIENT_ADDR, port: 500 }, { addr: GW_ADDR, port: 500 });
  raw.handleInitResponse(gw.receive(raw.initRequest(), T0).send[0]!.data);
  raw.open(gw.receive(raw.request(ExchangeType.IKE_AUTH, raw.authPayloads(PSK, 'client.outpost.test')), T0).send[0]!.data);
  return { gw, raw, crypto };
}

function espSa(): Payload {
  const transforms = [
    { type: TransformType.ENCR, id: EncrId.AES_GCM_16, keyLength: 256 },
    { type: TransformType.ESN, id: EsnId.NO_ESN },
  ];
  return { type: PayloadType.SA, proposals: [{ num: 1, protocolId: ProtocolId.ESP, spi: Uint8Array.of(0x12, 0x34, 0x56, 0x78), transforms }] };
}
const tsi = (): Payload => ({ type: PayloadType.TSi, selectors: resolveTs([`${CLIENT_ADDR}/32`], []) });
const tsr = (): Payload => ({ type: PayloadType.TSr, selectors: resolveTs(['198.51.100.0/24'], []) });
const temporaryFailure = () => ({ type: PayloadType.NOTIFY, protocolId: 0, spi: new Uint8Array(0), notifyType: Notify.TEMPORARY_FAILURE, data: new Uint8Array(0) });
