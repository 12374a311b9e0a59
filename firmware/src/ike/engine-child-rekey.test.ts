// CHILD_SA rekeying and additional CHILD_SAs with CREATE_CHILD_SA (RFC 7296 §1.3.1, §1.3.3, §2.8 make-before-break, §2.17, §2.25).
import { describe, expect, test } from 'vitest';
import { pskPair } from './testing/pairs.ts';
import { T0, type Pair, type Peer } from './testing/pair.ts';
import { CLIENT_ADDR, GW_ADDR, PSK, child, conn, gateway } from './testing/config.ts';
import { RawInitiator } from './testing/raw-initiator.ts';
import { createEngine, type Engine } from './engine.ts';
import { createCryptoSuite } from '../crypto/suite.ts';
import { createSignatureOps } from '../pki/signature.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';
import type { ChildSaInfo } from './io.ts';
import type { NotifyPayload, Payload } from './codec/types.ts';
import { EncrId, EsnId, ExchangeType, Notify, PayloadType, ProtocolId, TransformType } from './constants.ts';
import { resolveTs } from './ts.ts';
import { u32Bytes } from './bytes.ts';

const GW_CHILD = child({ name: 'net', localTs: ['198.51.100.0/24'], remoteTs: ['dynamic'] });
const CLIENT_CHILD = child({ name: 'net', localTs: ['dynamic'], remoteTs: ['198.51.100.0/24'] });

function onlyChild(p: Peer): ChildSaInfo {
  const sas = p.engine.listSas();
  expect(sas).toHaveLength(1);
  expect(sas[0]!.children).toHaveLength(1);
  return sas[0]!.children[0]!;
}

/** Both ends agree on one CHILD_SA: SPIs mirror each other and each data plane holds exactly that pair, keys matching. */
function expectOnePair(pair: Pair): { a: ChildSaInfo; b: ChildSaInfo } {
  const a = onlyChild(pair.a);
  const b = onlyChild(pair.b);
  expect(a.spiIn).toBe(b.spiOut);
  expect(a.spiOut).toBe(b.spiIn);
  for (const [p, c] of [
    [pair.a, a],
    [pair.b, b],
  ] as const) {
    expect([...p.dp.sas.keys()].sort()).toEqual([`in:${c.spiIn}`, `out:${c.spiOut}`].sort());
    expect(p.dp.policies.map((x) => `${x.direction}:${x.spi}`).sort()).toEqual([`fwd:${c.spiIn}`, `in:${c.spiIn}`, `out:${c.spiOut}`]);
  }
  // What one side encrypts with, the other decrypts with.
  expect(pair.a.dp.sas.get(`out:${a.spiOut}`)!.encKey).toEqual(pair.b.dp.sas.get(`in:${b.spiIn}`)!.encKey);
  expect(pair.b.dp.sas.get(`out:${b.spiOut}`)!.encKey).toEqual(pair.a.dp.sas.get(`in:${a.spiIn}`)!.encKey);
  return { a, b };
}

async function rekeyChild(pair: Pair, side: 'a' | 'b'): Promise<void> {
  const sa = (side === 'a' ? pair.a : pair.b).engine.listSas()[0]!;
  await pair.command(side, { type: 'rekey', ikeId: sa.ikeId, childId: sa.children[0]!.childId });
}

describe('CHILD_SA rekey (make-before-break)', () => {
  test('initiator rekeys without PFS: new SPIs on both sides, old pair deleted by the rekey initiator', async () => {
    const pair = pskPair({ client: { children: [CLIENT_CHILD] }, gw: { children: [GW_CHILD] } });
    await pair.initiate('to-gw');
    const before = expectOnePair(pair);
    const oldKey = pair.a.dp.sas.get(`out:${before.a.spiOut}`)!.encKey;
    // CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, TSi, TSr } -->   <-- CREATE_CHILD_SA { SA, Nr, TSi, TSr }
    // INFORMATIONAL { D(ESP, old SPI of a) } -->                <-- INFORMATIONAL { D(ESP, old SPI of b) }
    await rekeyChild(pair, 'a');
    expect(pair.trace().slice(4)).toEqual(['a>CREATE_CHILD_SA', 'b<CREATE_CHILD_SA', 'a>INFORMATIONAL', 'b<INFORMATIONAL']);
    const after = expectOnePair(pair);
    expect(after.a.spiIn).not.toBe(before.a.spiIn);
    expect(after.a.spiOut).not.toBe(before.a.spiOut);
    expect(after.a.state).toBe('installed');
    expect(after.a.proposal).toBe('aes256gcm16');
    expect(pair.a.dp.sas.get(`out:${after.a.spiOut}`)!.encKey).not.toEqual(oldKey);
    for (const p of [pair.a, pair.b]) {
      expect(p.eventsOf('child.up')).toHaveLength(2);
      expect(p.eventsOf('child.down')).toEqual([expect.objectContaining({ reason: 'rekeyed' })]);
    }
    // The selectors stay as they were; only SPIs (and the childId) change.
    expect(after.b.localTs).toEqual(before.b.localTs);
    expect(after.b.remoteTs).toEqual(before.b.remoteTs);
    expect(pair.a.engine.listSas()[0]!.state).toBe('established');
  });

  test('the responder installs the new inbound SA before answering and switches outbound only on the DELETE', async () => {
    const pair = pskPair({ client: { children: [CLIENT_CHILD] }, gw: { children: [GW_CHILD] } });
    await pair.initiate('to-gw');
    const before = expectOnePair(pair);
    pair.filter = (p) => !(p.from === 'a' && p.exchange === ExchangeType.INFORMATIONAL);
    await rekeyChild(pair, 'a');
    // The DELETE did not arrive: the gateway holds the old pair and the new inbound SA, still sends on the old SA.
    const gwSas = [...pair.b.dp.sas.keys()];
    expect(gwSas).toContain(`in:${before.b.spiIn}`);
    expect(gwSas).toContain(`out:${before.b.spiOut}`);
    expect(pair.b.dp.outbound()).toHaveLength(1);
    expect(pair.b.dp.inbound()).toHaveLength(2);
    expect(pair.b.dp.policies.filter((x) => x.direction === 'out').map((x) => x.spi)).toEqual([before.b.spiOut]);
    // The initiator already sends on the new SA (its out policy moved), and still accepts the old inbound SA.
    const aOut = pair.a.dp.policies.filter((x) => x.direction === 'out');
    expect(aOut).toHaveLength(1);
    expect(aOut[0]!.spi).not.toBe(before.a.spiOut);
    expect(pair.a.dp.inbound()).toHaveLength(2);
    // The DELETE gets through on retransmission: the gateway switches outbound and removes the old pair.
    pair.filter = () => true;
    await pair.advance(1000);
    expectOnePair(pair);
    const order = pair.b.dp.log.slice(-8).map((e) => `${e.type}:${'sa' in e ? e.sa.direction : 'direction' in e ? e.direction : 'policy' in e ? e.policy.direction : ''}`);
    expect(order.indexOf('dp.addSa:out')).toBeLessThan(order.indexOf('dp.delSa:out'));
  });

  test('the gateway (IKE responder) can rekey too: the client narrows to its virtual IP and the keys agree', async () => {
    const pool = { name: 'v4', cidr: '203.0.113.0/24', dns: [], domains: [] };
    const pair = pskPair({
      gw: { pools: ['v4'], children: [GW_CHILD] },
      gwCfg: { pools: [pool] },
      client: { vips: ['0.0.0.0'], children: [child({ localTs: ['dynamic'], remoteTs: ['0.0.0.0/0'] })] },
    });
    await pair.initiate('to-gw');
    // CREATE_CHILD_SA { N(REKEY_SA), SA, Ni, TSi(198.51.100.0/24), TSr(203.0.113.1/32) } <-- from the gateway
    await rekeyChild(pair, 'b');
    expect(pair.trace().slice(4)).toEqual(['b>CREATE_CHILD_SA', 'a<CREATE_CHILD_SA', 'b>INFORMATIONAL', 'a<INFORMATIONAL']);
    const { a } = expectOnePair(pair);
    expect(a.localTs).toEqual(['203.0.113.1/32']);
    expect(a.remoteTs).toEqual(['198.51.100.0/24']);
    expect(pair.a.engine.listSas()[0]!.virtualIps).toEqual(['203.0.113.1']);
  });

  test('with PFS: KEi/KEr, the group shows in the proposal; a gateway without configured groups accepts it', async () => {
    const pair = pskPair({ client: { children: [child({ ...CLIENT_CHILD, espProposals: ['aes256gcm16-x25519'] })] }, gw: { children: [GW_CHILD] } });
    await pair.initiate('to-gw');
    // The IKE_AUTH CHILD_SA has no KE: no group there (§1.2).
    expect(onlyChild(pair.b).proposal).toBe('aes256gcm16');
    const sizes: number[] = [];
    pair.filter = (p) => {
      if (p.exchange === ExchangeType.CREATE_CHILD_SA) sizes.push(p.d.data.length);
      return true;
    };
    await rekeyChild(pair, 'a');
    const { a, b } = expectOnePair(pair);
    expect(a.proposal).toBe('aes256gcm16-x25519');
    expect(b.proposal).toBe('aes256gcm16-x25519');
    // A KE payload of X25519 (4 + 4 + 32 octets) in the request and in the response.
    const plain = pskPair({ client: { children: [child({ ...CLIENT_CHILD, espProposals: ['aes256gcm16'] })] }, gw: { children: [GW_CHILD] }, seed: 'plain' });
    await plain.initiate('to-gw');
    const plainSizes: number[] = [];
    plain.filter = (p) => {
      if (p.exchange === ExchangeType.CREATE_CHILD_SA) plainSizes.push(p.d.data.length);
      return true;
    };
    await rekeyChild(plain, 'a');
    // KE payload (8 + 32 octets) plus the DH transform (8 octets) in the SA payload, each way.
    expect(sizes[0]! - plainSizes[0]!).toBe(48);
    expect(sizes[1]! - plainSizes[1]!).toBe(48);
  });

  test('a KE for the wrong group: INVALID_KE_PAYLOAD names the group, the initiator retries with it once', async () => {
    const pair = pskPair({
      client: { children: [child({ ...CLIENT_CHILD, espProposals: ['aes256gcm16-ecp256-x25519'] })] },
      gw: { children: [child({ ...GW_CHILD, espProposals: ['aes256gcm16-x25519'] })] },
    });
    await pair.initiate('to-gw');
    // CREATE_CHILD_SA { ..., KEi(ecp256) } -->  <-- { N(INVALID_KE_PAYLOAD, x25519) }   CREATE_CHILD_SA { ..., KEi(x25519) } -->
    await rekeyChild(pair, 'a');
    expect(pair.trace().slice(4)).toEqual(['a>CREATE_CHILD_SA', 'b<CREATE_CHILD_SA', 'a>CREATE_CHILD_SA', 'b<CREATE_CHILD_SA', 'a>INFORMATIONAL', 'b<INFORMATIONAL']);
    expect(expectOnePair(pair).a.proposal).toBe('aes256gcm16-x25519');
    expect(pair.b.logs('info')).toContain('CHILD_SA rekey refused (INVALID_KE_PAYLOAD): KE for group 19, we want 31');
  });

  test('PFS required by the gateway, none offered (macOS): NO_PROPOSAL_CHOSEN, the old CHILD_SA stays; modpnone makes PFS optional', async () => {
    const strict = pskPair({ client: { children: [CLIENT_CHILD] }, gw: { children: [child({ ...GW_CHILD, espProposals: ['aes256gcm16-x25519'] })] } });
    await strict.initiate('to-gw');
    const before = expectOnePair(strict);
    await rekeyChild(strict, 'a');
    expect(strict.trace().slice(4)).toEqual(['a>CREATE_CHILD_SA', 'b<CREATE_CHILD_SA']);
    expect(expectOnePair(strict).a.spiIn).toBe(before.a.spiIn);
    expect(onlyChild(strict.a).state).toBe('installed');
    expect(strict.a.logs('warn')).toEqual([`rekeying CHILD_SA net failed: refused by 192.0.2.1: NO_PROPOSAL_CHOSEN; it stays until its lifetime ends`]);

    const optional = pskPair({ client: { children: [CLIENT_CHILD] }, gw: { children: [child({ ...GW_CHILD, espProposals: ['aes256gcm16-x25519-modpnone'] })] } });
    await optional.initiate('to-gw');
    await rekeyChild(optional, 'a');
    expect(expectOnePair(optional).b.proposal).toBe('aes256gcm16');
  });

  test('the rekeyed CHILD_SA is rekeyed again later, and deleting it by id works', async () => {
    const pair = pskPair({ client: { children: [CLIENT_CHILD] }, gw: { children: [GW_CHILD] } });
    await pair.initiate('to-gw');
    await rekeyChild(pair, 'a');
    await rekeyChild(pair, 'b');
    expect(pair.trace().filter((t) => t.includes('CREATE_CHILD_SA'))).toHaveLength(4);
    const { a } = expectOnePair(pair);
    const ikeId = pair.a.engine.listSas()[0]!.ikeId;
    await pair.command('a', { type: 'terminate', ikeId, childId: a.childId });
    expect(pair.a.dp.sas.size + pair.b.dp.sas.size).toBe(0);
    expect(pair.a.dp.policies.length + pair.b.dp.policies.length).toBe(0);
  });
});

describe('additional CHILD_SAs', () => {
  test('CREATE_CHILD_SA without REKEY_SA adds a second configured child; the gateway picks its config by selectors', async () => {
    const pair = pskPair({
      gw: { children: [child({ name: 'lan', localTs: ['198.51.100.0/24'] }), child({ name: 'dmz', localTs: ['203.0.113.0/24'] })] },
      client: {
        children: [
          child({ name: 'lan', localTs: ['dynamic'], remoteTs: ['198.51.100.0/24'] }),
          child({ name: 'dmz', localTs: ['dynamic'], remoteTs: ['203.0.113.0/28'], espProposals: ['aes256gcm16-x25519'] }),
        ],
      },
    });
    await pair.initiate('to-gw', 'lan');
    const ikeId = pair.a.engine.listSas()[0]!.ikeId;
    // CREATE_CHILD_SA { SA, Ni, KEi, TSi, TSr } -->   <-- CREATE_CHILD_SA { SA, Nr, KEr, TSi, TSr }
    await pair.command('a', { type: 'create-child', ikeId, child: 'dmz' });
    expect(pair.trace().slice(4)).toEqual(['a>CREATE_CHILD_SA', 'b<CREATE_CHILD_SA']);
    const gwChildren = pair.b.engine.listSas()[0]!.children;
    expect(gwChildren.map((c) => c.name)).toEqual(['lan', 'dmz']);
    expect(gwChildren[1]).toMatchObject({ localTs: ['203.0.113.0/28'], proposal: 'aes256gcm16-x25519' });
    expect(pair.a.dp.sas.size).toBe(4);
    expect(pair.b.dp.sas.size).toBe(4);
    const dmzA = pair.a.engine.listSas()[0]!.children[1]!;
    expect(pair.a.dp.sas.get(`out:${dmzA.spiOut}`)!.encKey).toEqual(pair.b.dp.sas.get(`in:${dmzA.spiOut}`)!.encKey);
  });

  test('selectors outside every child: TS_UNACCEPTABLE, nothing installed, the IKE SA stays', async () => {
    const pair = pskPair({
      client: { children: [CLIENT_CHILD, child({ name: 'other', localTs: ['dynamic'], remoteTs: ['10.0.0.0/8'] })] },
      gw: { children: [GW_CHILD] },
    });
    await pair.initiate('to-gw', 'net');
    const ikeId = pair.a.engine.listSas()[0]!.ikeId;
    await pair.command('a', { type: 'create-child', ikeId, child: 'other' });
    expect(pair.a.logs('warn')).toEqual(['CHILD_SA other not created: refused by 192.0.2.1: TS_UNACCEPTABLE']);
    expect(pair.a.dp.sas.size).toBe(2);
    expect(pair.b.engine.listSas()[0]!.state).toBe('established');
  });
});

describe('exchange collisions (§2.8.1, §2.25)', () => {
  for (const seed of ['c1', 'c2', 'c3', 'c4']) {
    test(`simultaneous rekey of one CHILD_SA (seed ${seed}): the lowest nonce loses, one pair survives on both sides`, async () => {
      const pair = pskPair({ client: { children: [CLIENT_CHILD] }, gw: { children: [GW_CHILD] }, seed });
      await pair.initiate('to-gw');
      const a0 = pair.a.engine.listSas()[0]!;
      const b0 = pair.b.engine.listSas()[0]!;
      // CREATE_CHILD_SA { N(REKEY_SA) ... } -->  <-- CREATE_CHILD_SA { N(REKEY_SA) ... }  (crossing), both answered
      await pair.commandBoth(
        { type: 'rekey', ikeId: a0.ikeId, childId: a0.children[0]!.childId },
        { type: 'rekey', ikeId: b0.ikeId, childId: b0.children[0]!.childId },
      );
      const won = [pair.a, pair.b].filter((p) => p.logs('info').some((l) => l.includes('rekey collision won')));
      const lost = [pair.a, pair.b].filter((p) => p.logs('info').some((l) => l.includes('rekey collision lost')));
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      // The winner deletes the old pair, the loser its redundant new pair: two INFORMATIONAL exchanges.
      expect(pair.trace().slice(4).filter((t) => t.includes('>INFORMATIONAL')).sort()).toEqual(['a>INFORMATIONAL', 'b>INFORMATIONAL']);
      const { a } = expectOnePair(pair);
      expect(a.spiIn).not.toBe(a0.children[0]!.spiIn);
      // The survivor was announced once on each side; the redundant SA never was.
      for (const p of [pair.a, pair.b]) {
        expect(p.eventsOf('child.up')).toHaveLength(2);
        expect(p.eventsOf('child.down')).toEqual([expect.objectContaining({ reason: 'rekeyed' })]);
      }
    });
  }

  test('collision where the winner\'s DELETE of the old SA overtakes our response: its SA takes over, ours is deleted', async () => {
    // Seed c2: the gateway's exchange wins (see the test above).
    const pair = pskPair({ client: { children: [CLIENT_CHILD] }, gw: { children: [GW_CHILD] }, seed: 'c2' });
    await pair.initiate('to-gw');
    const a0 = pair.a.engine.listSas()[0]!;
    const b0 = pair.b.engine.listSas()[0]!;
    let late: Parameters<Pair['filter']>[0] | null = null;
    pair.filter = (p) => {
      if (!late && p.from === 'b' && p.response && p.exchange === ExchangeType.CREATE_CHILD_SA) {
        late = p;
        return false;
      }
      return true;
    };
    await pair.commandBoth(
      { type: 'rekey', ikeId: a0.ikeId, childId: a0.children[0]!.childId },
      { type: 'rekey', ikeId: b0.ikeId, childId: b0.children[0]!.childId },
    );
    // The gateway won and deleted the old SA; the client switched to the gateway's new SA before knowing it lost.
    expect(pair.a.eventsOf('child.down')).toEqual([expect.objectContaining({ reason: 'rekeyed' })]);
    pair.filter = () => true;
    pair.absorb(pair.a, pair.a.engine.receive(late!.d, pair.clock));
    await pair.run();
    expect(pair.a.logs('info').some((l) => l.includes('rekey collision lost'))).toBe(true);
    expectOnePair(pair);
  });

  test('a rekey request naming an unknown SPI gets CHILD_SA_NOT_FOUND carrying that SPI; the IKE SA stays', () => {
    const { gw, raw } = rawWithChild();
    const unknown = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);
    // CREATE_CHILD_SA { N(REKEY_SA, ESP, deadbeef), SA, Ni, TSi, TSr } -->   <-- { N(CHILD_SA_NOT_FOUND, ESP, deadbeef) }
    const out = gw.receive(raw.request(ExchangeType.CREATE_CHILD_SA, [rekeySa(unknown), espSa(0x55667788), nonce(), tsi(), tsr()]), T0);
    expect(raw.open(out.send[0]!.data).payloads).toEqual([
      { type: PayloadType.NOTIFY, protocolId: ProtocolId.ESP, spi: unknown, notifyType: Notify.CHILD_SA_NOT_FOUND, data: new Uint8Array(0) },
    ]);
    expect(gw.listSas()[0]!.children).toHaveLength(1);
    expect(gw.listSas()[0]!.state).toBe('established');
  });

  test('the gateway rekeys: N(REKEY_SA) names its inbound SPI; answered CHILD_SA_NOT_FOUND, it drops the SA silently and creates it afresh', () => {
    const { gw, raw, child: c } = rawWithChild();
    const ikeId = gw.listSas()[0]!.ikeId;
    const out = gw.command({ type: 'rekey', ikeId, childId: c.childId }, T0);
    const req = raw.open(out.send[0]!.data);
    expect(req.header.exchange).toBe(ExchangeType.CREATE_CHILD_SA);
    expect(req.header.messageId).toBe(0);
    const rekey = req.payloads.find((p): p is NotifyPayload => p.type === PayloadType.NOTIFY && (p as NotifyPayload).notifyType === Notify.REKEY_SA);
    expect(rekey).toMatchObject({ protocolId: ProtocolId.ESP, spi: u32Bytes(c.spiIn) });
    expect(req.payloads.map((p) => p.type)).toEqual([PayloadType.SA, PayloadType.NONCE, PayloadType.TSi, PayloadType.TSr, PayloadType.NOTIFY]);
    // <-- CREATE_CHILD_SA { N(CHILD_SA_NOT_FOUND, ESP, spi) } : no DELETE, then a fresh CREATE_CHILD_SA without REKEY_SA.
    const notFound: NotifyPayload = { type: PayloadType.NOTIFY, protocolId: ProtocolId.ESP, spi: u32Bytes(c.spiOut), notifyType: Notify.CHILD_SA_NOT_FOUND, data: new Uint8Array(0) };
    const next = gw.receive(raw.response(ExchangeType.CREATE_CHILD_SA, [notFound], 0), T0);
    expect(next.events).toContainEqual(expect.objectContaining({ type: 'child.down', reason: 'not found at the peer' }));
    expect(next.effects.filter((e) => e.type === 'dp.delSa')).toHaveLength(2);
    expect(next.send).toHaveLength(1);
    const fresh = raw.open(next.send[0]!.data);
    expect(fresh.header.messageId).toBe(1);
    expect(fresh.header.exchange).toBe(ExchangeType.CREATE_CHILD_SA);
    expect(fresh.payloads.some((p) => p.type === PayloadType.NOTIFY)).toBe(false);
    expect(fresh.payloads.some((p) => p.type === PayloadType.SA)).toBe(true);
  });

  test('a rekey of a CHILD_SA we are deleting gets TEMPORARY_FAILURE; the peer does not retry at once', async () => {
    const pair = pskPair({ client: { children: [CLIENT_CHILD] }, gw: { children: [GW_CHILD] } });
    await pair.initiate('to-gw');
    const a0 = pair.a.engine.listSas()[0]!;
    let held = true;
    pair.filter = (p) => !(held && p.from === 'a' && p.exchange === ExchangeType.INFORMATIONAL);
    // INFORMATIONAL { D(ESP) } --> (lost once)     <-- CREATE_CHILD_SA { N(REKEY_SA) }   --> { N(TEMPORARY_FAILURE) }
    await pair.command('a', { type: 'terminate', ikeId: a0.ikeId, childId: a0.children[0]!.childId });
    await rekeyChild(pair, 'b');
    expect(pair.a.logs('info')).toContain('CHILD_SA rekey refused (TEMPORARY_FAILURE): CHILD_SA net: we are deleting it');
    expect(pair.b.logs('info').some((l) => /peer answered TEMPORARY_FAILURE, retrying in \d+ s/.test(l))).toBe(true);
    held = false;
    await pair.advance(20_000);
    // The DELETE went through on retransmission; the retry found nothing to rekey and sent nothing.
    expect(pair.trace().filter((t) => t === 'b>CREATE_CHILD_SA')).toHaveLength(1);
    expect(pair.a.engine.listSas()[0]!.children).toEqual([]);
    expect(pair.b.engine.listSas()[0]!.children).toEqual([]);
  });
});

// ---- a hand-driven client (RawInitiator) against a gateway engine, for wire-level checks ----

function espSa(spi: number): Payload {
  const transforms = [
    { type: TransformType.ENCR, id: EncrId.AES_GCM_16, keyLength: 256 },
    { type: TransformType.ESN, id: EsnId.NO_ESN },
  ];
  return { type: PayloadType.SA, proposals: [{ num: 1, protocolId: ProtocolId.ESP, spi: u32Bytes(spi), transforms }] };
}
const tsi = (): Payload => ({ type: PayloadType.TSi, selectors: resolveTs([`${CLIENT_ADDR}/32`], []) });
const tsr = (): Payload => ({ type: PayloadType.TSr, selectors: resolveTs(['198.51.100.0/24'], []) });
const nonce = (): Payload => ({ type: PayloadType.NONCE, data: new Uint8Array(32).fill(7) });
const rekeySa = (spi: Uint8Array): Payload => ({ type: PayloadType.NOTIFY, protocolId: ProtocolId.ESP, spi, notifyType: Notify.REKEY_SA, data: new Uint8Array(0) });

function rawWithChild(): { gw: Engine; raw: RawInitiator; child: ChildSaInfo } {
  const gw = createEngine({
    config: gateway(GW_ADDR, [conn({ children: [GW_CHILD] })]),
    crypto: createCryptoSuite({ randomBytes: seededRandom('raw-gw') }),
    sig: createSignatureOps(),
    nowMs: T0,
  });
  const raw = new RawInitiator(createCryptoSuite({ randomBytes: seededRandom('raw-client') }), { addr: CLIENT_ADDR, port: 500 }, { addr: GW_ADDR, port: 500 });
  raw.handleInitResponse(gw.receive(raw.initRequest(), T0).send[0]!.data);
  const auth = gw.receive(raw.request(ExchangeType.IKE_AUTH, [...raw.authPayloads(PSK, 'client.outpost.test'), espSa(0x11223344), tsi(), tsr()]), T0);
  raw.open(auth.send[0]!.data);
  const c = gw.listSas()[0]!.children[0];
  if (!c) throw new Error('no CHILD_SA');
  return { gw, raw, child: c };
}
