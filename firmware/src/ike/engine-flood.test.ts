// DoS protection under a spoofed-source IKE_SA_INIT flood (RFC 7296 §2.6 cookies, §2.21 no state for unverified peers).
import { describe, expect, test } from 'vitest';
import { pskPair } from './testing/pairs.ts';
import { T0 } from './testing/pair.ts';
import { RawInitiator } from './testing/raw-initiator.ts';
import { GW_ADDR, conn, gateway } from './testing/config.ts';
import { createEngine, type Engine } from './engine.ts';
import { createCryptoSuite } from '../crypto/suite.ts';
import { createSignatureOps } from '../pki/signature.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';
import { ExchangeType, HeaderFlag, Notify, PayloadType } from './constants.ts';
import { decodeMessage } from './codec/index.ts';
import type { Datagram } from './io.ts';
import { CookieJar } from './cookie.ts';
import { notifyReply } from './stateless.ts';
import { parseIp } from './ip.ts';

const THRESHOLD = 10;

function floodEngine(seed = 'flood'): Engine {
  const cfg = gateway(GW_ADDR, [conn()], { cookieThreshold: THRESHOLD, halfOpenPerSource: 5 });
  return createEngine({ config: cfg, crypto: createCryptoSuite({ randomBytes: seededRandom(seed) }), sig: createSignatureOps(), nowMs: T0 });
}

/** A source in 198.18.0.0/15 (RFC 2544), like the interop generator's. */
function spoofed(i: number): string {
  return `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 0xff}.${i & 0xff}`;
}

/** One valid IKE_SA_INIT request; copies get a fresh SPIi and Ni (as a flood generator does). */
function template(): Uint8Array {
  const raw = new RawInitiator(createCryptoSuite({ randomBytes: seededRandom('tmpl') }), { addr: '198.18.0.1', port: 500 }, { addr: GW_ADDR, port: 500 });
  return raw.initRequest().data;
}

function variant(tmpl: Uint8Array, i: number, nonceAt: number): Uint8Array {
  const b = tmpl.slice();
  new DataView(b.buffer).setUint32(0, i + 1);
  new DataView(b.buffer).setUint32(nonceAt, i * 2654435761);
  return b;
}

function nonceOffset(b: Uint8Array): number {
  const dec = decodeMessage(b);
  if (!dec.ok) throw new Error(dec.error);
  const n = dec.value.payloads.find((p) => p.type === PayloadType.NONCE) as { data: Uint8Array };
  for (let off = 28; off <= b.length - n.data.length; off++) if (b.subarray(off, off + n.data.length).every((x, k) => x === n.data[k])) return off;
  throw new Error('nonce not found');
}

describe('IKE_SA_INIT flood (§2.6)', () => {
  test('above the threshold every spoofed request gets one 72-octet COOKIE and nothing is allocated', () => {
    const gw = floodEngine();
    const tmpl = template();
    const at = nonceOffset(tmpl);
    const from = (i: number): Datagram => ({ local: { addr: GW_ADDR, port: 500 }, remote: { addr: spoofed(i), port: 500 }, data: variant(tmpl, i, at) });
    // The first THRESHOLD requests create half-open SAs (each answered with SA/KE/Nr) ...
    for (let i = 0; i < THRESHOLD; i++) expect(gw.receive(from(i), T0).send[0]!.data.length).toBeGreaterThan(100);
    expect(gw.stats().halfOpen).toBe(THRESHOLD);
    // ... then the flood only costs a cookie each.
    const N = 20_000;
    let replies = 0;
    for (let i = THRESHOLD; i < THRESHOLD + N; i++) {
      const out = gw.receive(from(i), T0 + i);
      expect(out.effects.length + out.events.length).toBe(0);
      replies += out.send.length;
      if (out.send[0]!.data.length !== 72) throw new Error(`reply ${i} is ${out.send[0]!.data.length} octets`);
    }
    expect(replies).toBe(N);
    const s = gw.stats();
    expect(s).toMatchObject({ halfOpen: THRESHOLD, ikeSas: THRESHOLD, received: THRESHOLD + N, internalErrors: 0 });
    expect(s.counters['cookie-sent']).toBe(N);
  });

  test('the flood path answers exactly what the full path would: the same COOKIE response, octet for octet', () => {
    const gw = floodEngine('same');
    const tmpl = template();
    const at = nonceOffset(tmpl);
    for (let i = 0; i < THRESHOLD; i++) gw.receive({ local: { addr: GW_ADDR, port: 500 }, remote: { addr: spoofed(i), port: 500 }, data: variant(tmpl, i, at) }, T0);
    const d: Datagram = { local: { addr: GW_ADDR, port: 500 }, remote: { addr: '198.19.7.7', port: 500 }, data: variant(tmpl, 999, at) };
    const reply = gw.receive(d, T0).send[0]!;
    const dec = decodeMessage(reply.data);
    if (!dec.ok) throw new Error(dec.error);
    const cookie = (dec.value.payloads[0] as { data: Uint8Array }).data;
    const req = decodeMessage(d.data);
    if (!req.ok) throw new Error(req.error);
    expect(reply).toEqual(notifyReply(d, req.value.header, Notify.COOKIE, cookie));
    expect(dec.value.header).toMatchObject({ exchange: ExchangeType.IKE_SA_INIT, flags: HeaderFlag.RESPONSE, messageId: 0 });
    expect(Array.from(dec.value.header.spiR)).toEqual(new Array(8).fill(0));
  });

  test('malformed and truncated floods are dropped without a reply and without an exception', () => {
    const gw = floodEngine('junk');
    const tmpl = template();
    const at = nonceOffset(tmpl);
    for (let i = 0; i < THRESHOLD; i++) gw.receive({ local: { addr: GW_ADDR, port: 500 }, remote: { addr: spoofed(i), port: 500 }, data: variant(tmpl, i, at) }, T0);
    const rnd = seededRandom('junk-bytes');
    let replies = 0;
    for (let i = 0; i < 3000; i++) {
      const b = variant(tmpl, 50_000 + i, at);
      const kind = i % 5;
      let data: Uint8Array;
      if (kind === 0) data = b.subarray(0, 28 + (i % 40)); // truncated
      else if (kind === 1) data = b.slice(), (data[24 + (i % 4)]! ^= 1 + (i % 255)); // header length lies
      else if (kind === 2) data = b.slice(), (data[28 + 2 + (i % 2)]! ^= 0x40); // first payload length lies
      else if (kind === 3) data = rnd(1 + (i % 600)); // noise
      else data = b.slice(), (data[17] = 0x10); // IKEv1 version
      replies += gw.receive({ local: { addr: GW_ADDR, port: 500 }, remote: { addr: spoofed(70_000 + i), port: 500 }, data }, T0).send.length;
    }
    expect(gw.stats()).toMatchObject({ halfOpen: THRESHOLD, internalErrors: 0 });
    // Only variants that are still a well-formed IKE_SA_INIT (a header length field that decodes) could be answered.
    expect(replies).toBeLessThan(600);
  });

  test('during the flood a real client still connects (it returns the cookie), and a known half-open SA\'s retransmission is served from the cache', async () => {
    const pair = pskPair({ gwCfg: { cookieThreshold: THRESHOLD } });
    const tmpl = template();
    const at = nonceOffset(tmpl);
    const gw = pair.b;
    const flood = (n: number, base: number) => {
      for (let i = 0; i < n; i++) gw.engine.receive({ local: { addr: GW_ADDR, port: 500 }, remote: { addr: spoofed(base + i), port: 500 }, data: variant(tmpl, base + i, at) }, pair.clock);
    };
    flood(THRESHOLD, 0);
    const first = { local: { addr: GW_ADDR, port: 500 }, remote: { addr: spoofed(0), port: 500 }, data: variant(tmpl, 0, at) };
    const cached = gw.engine.receive(first, pair.clock).send[0]!.data;
    expect(cached.length).toBeGreaterThan(100);
    flood(5000, 100);
    await pair.initiate('to-gw');
    flood(5000, 6000);
    expect(pair.a.engine.listSas()[0]?.state).toBe('established');
    expect(pair.trace().slice(0, 3)).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT', 'a>IKE_SA_INIT']);
    expect(gw.engine.receive(first, pair.clock).send[0]!.data).toEqual(cached);
  });

  test('cookies from before a secret rotation still verify once; older ones do not', () => {
    const crypto = createCryptoSuite({ randomBytes: seededRandom('jar') });
    const jar = new CookieJar(crypto, T0);
    const ni = new Uint8Array(32).fill(1);
    const ip = parseIp('198.18.0.9')!;
    const spi = new Uint8Array(8).fill(2);
    const c = jar.make(ni, ip, spi, T0);
    expect(jar.verify(c, ni, ip, spi, T0 + 121_000)).toBe(true);
    expect(jar.verify(c, ni, ip, spi, T0 + 242_000)).toBe(false);
    expect(jar.verify(c, ni, parseIp('198.18.0.10')!, spi, T0 + 1000)).toBe(false);
  });
});
