// Mutation fuzzing of the engine (ARCHITECTURE.md §3: drop-and-count beats crash). The only claim: no exception
// escapes and none is even caught internally (stats().internalErrors stays 0), whatever the peer sends.
import { describe, expect, test } from 'vitest';
import { pskPair } from './testing/pairs.ts';
import { T0 } from './testing/pair.ts';
import { RawInitiator } from './testing/raw-initiator.ts';
import { CLIENT_ADDR, GW_ADDR, PSK, conn, gateway } from './testing/config.ts';
import { createEngine, type Engine } from './engine.ts';
import { createCryptoSuite } from '../crypto/suite.ts';
import { createSignatureOps } from '../pki/signature.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';
import { ExchangeType, PayloadType } from './constants.ts';
import { encodePayloads } from './codec/index.ts';
import type { Datagram } from './io.ts';

function rng(seed: string) {
  const r = seededRandom(seed);
  const int = (n: number) => {
    const b = r(4);
    return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) % Math.max(1, n);
  };
  return { int, bytes: r };
}

/** Bit flips, octet overwrites, truncation, extension, splices: what a careless or hostile peer produces. */
function mutate(data: Uint8Array, r: ReturnType<typeof rng>): Uint8Array {
  const m = mutateOnce(data, r);
  if (m.length !== data.length || m.some((b, i) => b !== data[i])) return m;
  m[r.int(m.length)]! ^= 0x80; // never the original itself
  return m;
}

function mutateOnce(data: Uint8Array, r: ReturnType<typeof rng>): Uint8Array {
  const out = data.slice();
  switch (r.int(6)) {
    case 0:
      for (let i = 0, n = 1 + r.int(4); i < n; i++) out[r.int(out.length)]! ^= 1 << r.int(8);
      return out;
    case 1:
      for (let i = 0, n = 1 + r.int(8); i < n; i++) out[r.int(out.length)] = r.int(256);
      return out;
    case 2:
      return out.slice(0, r.int(out.length));
    case 3:
      return Uint8Array.from([...out, ...r.bytes(1 + r.int(64))]);
    case 4: {
      const at = r.int(out.length);
      return Uint8Array.from([...out.slice(0, at), ...r.bytes(r.int(16)), ...out.slice(at + r.int(16))]);
    }
    default: {
      // Header fields: exchange, flags, message ID, length.
      const field = [18, 19, 23, 27][r.int(4)]!;
      out[field] = r.int(256);
      return out;
    }
  }
}

function gwEngine(seed: string): Engine {
  return createEngine({
    config: gateway(GW_ADDR, [conn()], { halfOpenPerSource: 1_000_000, cookieThreshold: 1_000_000 }),
    crypto: createCryptoSuite({ randomBytes: seededRandom(seed) }),
    sig: createSignatureOps(),
    nowMs: T0,
  });
}

describe('fuzzing the responder', () => {
  test('mutated messages of a real handshake, fed to a responder mid-handshake, never break it; the real one still works', async () => {
    const limits = { halfOpenPerSource: 1_000_000, cookieThreshold: 1_000_000 };
    const pair = pskPair({ seed: 'fuzz', gwCfg: limits });
    let held: Datagram | undefined;
    pair.filter = (p) => {
      if (p.from === 'a' && p.exchange === ExchangeType.IKE_AUTH && !held) {
        held = p.d;
        return false;
      }
      return true;
    };
    await pair.initiate('to-gw');
    const init = pair.wire[0]!.d;
    expect(held).toBeDefined();
    const gw = pair.b.engine;
    const r = rng('mutations');
    // Unauthenticated IKE_SA_INIT: every decoder and ike-init path is reachable.
    // A fresh SPIi for most of them, so they are not taken for retransmits of the accepted request.
    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      const data = mutate(init.data, r);
      if (data.length >= 8 && i % 4 !== 0) data.set(r.bytes(8), 0);
      if (gw.receive({ ...init, data }, pair.clock).send.length > 0) accepted++;
    }
    expect(accepted).toBeGreaterThan(100);
    // IKE_AUTH for the half-open SA: header, SK framing and integrity checks.
    for (let i = 0; i < 2000; i++) gw.receive({ ...held!, data: mutate(held!.data, r) }, pair.clock);
    expect(gw.stats().internalErrors).toBe(0);
    // The genuine IKE_AUTH still completes the handshake.
    pair.filter = () => true;
    pair.absorb(pair.b, gw.receive(held!, pair.clock));
    await pair.run();
    expect(pair.a.eventsOf('ike.up')).toHaveLength(1);
    expect(pair.b.eventsOf('ike.up')).toHaveLength(1);
    await pair.advance(60_000);
    expect(gw.stats().internalErrors).toBe(0);
    expect(pair.a.engine.stats().internalErrors).toBe(0);
  });

  test('garbage behind a valid ICV (authenticated but malformed IKE_AUTH and INFORMATIONAL) never breaks it', async () => {
    const r = rng('inner');
    const gw = gwEngine('fuzz-gw-2');
    const sample = encodePayloads([
      { type: PayloadType.IDi, idType: 2, data: new TextEncoder().encode('client.outpost.test') },
      { type: PayloadType.AUTH, method: 2, data: new Uint8Array(32) },
      { type: PayloadType.CP, cfgType: 1, attributes: [{ type: 1, value: new Uint8Array(0) }] },
      { type: PayloadType.SA, proposals: [{ num: 1, protocolId: 3, spi: Uint8Array.of(1, 2, 3, 4), transforms: [{ type: 1, id: 20, keyLength: 256 }] }] },
      { type: PayloadType.TSi, selectors: [{ tsType: 7, ipProtocol: 0, startPort: 0, endPort: 65535, startAddr: new Uint8Array(4), endAddr: new Uint8Array(4).fill(255) }] },
      { type: PayloadType.TSr, selectors: [{ tsType: 7, ipProtocol: 0, startPort: 0, endPort: 65535, startAddr: new Uint8Array(4), endAddr: new Uint8Array(4).fill(255) }] },
      { type: PayloadType.DELETE, protocolId: 3, spis: [Uint8Array.of(1, 2, 3, 4)] },
    ]);
    const seedCrypto = createCryptoSuite({ randomBytes: seededRandom('fuzz-raw') });
    // Many half-open SAs, each receiving one authenticated garbage IKE_AUTH.
    for (let i = 0; i < 300; i++) {
      const raw = new RawInitiator(seedCrypto, { addr: CLIENT_ADDR, port: 500 + i }, { addr: GW_ADDR, port: 500 });
      const init = gw.receive(raw.initRequest(), T0);
      if (init.send.length !== 1) throw new Error('no IKE_SA_INIT response');
      raw.handleInitResponse(init.send[0]!.data);
      gw.receive(raw.requestRaw(ExchangeType.IKE_AUTH, PayloadType.IDi, mutate(sample.bytes, r)), T0);
    }
    // One established SA receiving authenticated garbage INFORMATIONAL / CREATE_CHILD_SA requests.
    const raw = new RawInitiator(seedCrypto, { addr: CLIENT_ADDR, port: 9999 }, { addr: GW_ADDR, port: 500 });
    raw.handleInitResponse(gw.receive(raw.initRequest(), T0).send[0]!.data);
    const auth = gw.receive(raw.request(ExchangeType.IKE_AUTH, raw.authPayloads(PSK, 'client.outpost.test')), T0);
    expect(raw.open(auth.send[0]!.data).payloads.some((p) => p.type === PayloadType.AUTH)).toBe(true);
    const types = [PayloadType.NOTIFY, PayloadType.DELETE, PayloadType.SA, PayloadType.CP, PayloadType.TSi, 200, PayloadType.SK];
    for (let i = 0; i < 1000; i++) {
      const exchange = r.int(3) === 0 ? ExchangeType.CREATE_CHILD_SA : ExchangeType.INFORMATIONAL;
      const out = gw.receive(raw.requestRaw(exchange, types[r.int(types.length)]!, mutate(sample.bytes, r)), T0);
      if (out.send.length === 0) raw.nextMsgId--;
    }
    expect(gw.stats().internalErrors).toBe(0);
    expect(gw.listSas().some((s) => s.state === 'established')).toBe(true);
  });

  test('random datagrams of every size are dropped and counted', () => {
    const r = rng('random');
    const gw = gwEngine('fuzz-gw-3');
    for (let i = 0; i < 2000; i++) {
      const data = r.bytes(r.int(200));
      if (data.length >= 28 && i % 2 === 0) data[17] = 0x20; // make half of them look like IKEv2
      gw.receive({ local: { addr: GW_ADDR, port: 500 }, remote: { addr: CLIENT_ADDR, port: 500 }, data }, T0);
    }
    const s = gw.stats();
    expect(s.internalErrors).toBe(0);
    expect(s.received).toBe(2000);
  });
});
