// IKE fragmentation limits (RFC 7383 §2.5, §2.6): large fragmented requests are reassembled, floods of fragments are bounded.
import { describe, expect, test } from 'vitest';
import { T0 } from './testing/pair.ts';
import { RawInitiator } from './testing/raw-initiator.ts';
import { CLIENT_ADDR, GW_ADDR, PSK, conn, gateway } from './testing/config.ts';
import { createEngine, type Engine } from './engine.ts';
import { createCryptoSuite } from '../crypto/suite.ts';
import { createSignatureOps } from '../pki/signature.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';
import { CertEncoding, ExchangeType, PayloadType } from './constants.ts';
import type { Payload } from './codec/types.ts';
import type { Datagram, Output } from './io.ts';

/** What fits in one fragment at fragment_size 576 on port 4500 (IPv4 + UDP + non-ESP marker removed). */
const MAX_576 = 576 - 20 - 8 - 4;

function setup(seed: string): { gw: Engine; raw: RawInitiator; send: (d: Datagram) => Output } {
  const gw = createEngine({ config: gateway(GW_ADDR, [conn({ fragmentSize: 576 })]), crypto: createCryptoSuite({ randomBytes: seededRandom(seed) }), sig: createSignatureOps(), nowMs: T0 });
  const raw = new RawInitiator(createCryptoSuite({ randomBytes: seededRandom(`${seed}-peer`) }), { addr: CLIENT_ADDR, port: 4500 }, { addr: GW_ADDR, port: 4500 });
  const send = (d: Datagram) => gw.receive(d, T0);
  raw.handleInitResponse(send(raw.initRequest()).send[0]!.data);
  return { gw, raw, send };
}

/** IKE_AUTH (PSK) padded with a CERTREQ of `octets` SHA-1 hashes' worth: the size of a long certificate chain. */
function bigAuth(raw: RawInitiator, octets: number): Payload[] {
  return [...raw.authPayloads(PSK, 'client.outpost.test'), { type: PayloadType.CERTREQ, encoding: CertEncoding.X509_CERT_SIG, data: new Uint8Array(Math.floor(octets / 20) * 20).fill(7) }];
}

describe('fragment reassembly limits', () => {
  test('an IKE_AUTH in 40 fragments of at most 576-octet packets is reassembled and answered (fragments in any order)', () => {
    const { gw, raw, send } = setup('frag40');
    const frags = raw.requestFragments(ExchangeType.IKE_AUTH, bigAuth(raw, 19_000), MAX_576);
    expect(frags.length).toBeGreaterThanOrEqual(40);
    for (const f of frags) expect(f.data.length).toBeLessThanOrEqual(MAX_576);
    const order = frags.map((_, i) => i).sort((x, y) => ((x * 7919) % frags.length) - ((y * 7919) % frags.length));
    const outs = order.map((i) => send(frags[i]!));
    expect(outs.slice(0, -1).every((o) => o.send.length === 0)).toBe(true);
    expect(outs.at(-1)!.send.length).toBeGreaterThan(0);
    expect(gw.listSas()[0]?.state).toBe('established');
  });

  test('more than 64 fragments are refused before any decryption; the SA waits for a sane retransmission', () => {
    const { gw, raw, send } = setup('frag70');
    const frags = raw.requestFragments(ExchangeType.IKE_AUTH, bigAuth(raw, 33_000), MAX_576, 1);
    expect(frags.length).toBeGreaterThan(64);
    for (const f of frags) expect(send(f).send).toEqual([]);
    expect(gw.stats().drops['fragment']).toBe(frags.length);
    expect(gw.listSas()[0]?.state).toBe('connecting');
    // The same message cut in fewer, larger fragments (RFC 7383 §2.5.2 PMTU fallback works the other way, but any
    // total within the limit is accepted).
    const fewer = raw.requestFragments(ExchangeType.IKE_AUTH, bigAuth(raw, 20_000), 1200, 1);
    let last: Output = { send: [], effects: [], events: [] };
    for (const f of fewer) last = send(f);
    expect(last.send.length).toBeGreaterThan(0);
    expect(gw.listSas()[0]?.state).toBe('established');
  });
});

describe('forged fragments', () => {
  test('a fragment that fails its ICV is dropped alone: the fragments collected so far stay and the message completes (found by the gateway fuzzer)', () => {
    const { gw, raw, send } = setup('forged');
    const frags = raw.requestFragments(ExchangeType.IKE_AUTH, bigAuth(raw, 3_000), MAX_576, 1);
    expect(frags.length).toBeGreaterThan(3);
    for (const f of frags.slice(0, -1)) expect(send(f).send).toEqual([]);
    // Anyone who sees the SPIs can send this: same header, garbage where the ciphertext was.
    const last = frags.at(-1)!;
    const forged = last.data.slice();
    forged[forged.length - 5]! ^= 0xff;
    expect(send({ ...last, data: forged }).send).toEqual([]);
    expect(gw.stats().drops['fragment']).toBe(1);
    expect(send(frags.at(-1)!).send.length).toBeGreaterThan(0);
    expect(gw.listSas()[0]?.state).toBe('established');
  });
});
