// Native ESP (RFC 4303) against the TypeScript oracle, byte for byte both ways, plus RFC 4106 known answers from draft-mcgrew-gcm-test-01.
import { afterEach, describe, expect, test } from 'vitest';
import { randomBytes } from 'node:crypto';
import { EncrId, IntegId } from '../ike/constants.ts';
import { gcmEspVectors } from '../esp/gcm-esp-vectors.ts';
import { createNodeEspPrimitives } from '../esp/node-primitives.ts';
import { decodeEsp, encodeEsp, ivFromSeq, type EspSaKeys } from '../esp/packet.ts';
import { espSuite } from '../esp/suite.ts';
import { loadNativeAddon, type NativeDecrypted, type NativeSaParams } from './native-addon.ts';

const addon = loadNativeAddon();
const prims = createNodeEspPrimitives();
const ENOENT = -2;
const EINVAL = -22;
const EBADMSG = -74;
const EPROTO = -71;
const EPROTONOSUPPORT = -93;

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

let nextSpi = 0x10000 + (randomBytes(2).readUInt16BE(0) << 8);
const added: Array<[number, 'in' | 'out']> = [];

function addSa(p: NativeSaParams): void {
  const rc = addon.saAdd(p);
  if (rc !== 0) throw new Error(`saAdd: ${addon.errnoName(rc)}`);
  added.push([p.spi, p.direction]);
}

afterEach(() => {
  for (const [spi, dir] of added.splice(0)) addon.saDel(spi, dir);
});

interface SuiteCase {
  name: string;
  encrId: number;
  encrKeyBits?: number;
  integId: number;
}

const suites: readonly SuiteCase[] = [
  { name: 'AES-GCM-16-128', encrId: EncrId.AES_GCM_16, encrKeyBits: 128, integId: IntegId.NONE },
  { name: 'AES-GCM-16-256', encrId: EncrId.AES_GCM_16, encrKeyBits: 256, integId: IntegId.NONE },
  { name: 'AES-GCM-12-192', encrId: EncrId.AES_GCM_12, encrKeyBits: 192, integId: IntegId.NONE },
  { name: 'AES-GCM-8-128', encrId: EncrId.AES_GCM_8, encrKeyBits: 128, integId: IntegId.NONE },
  { name: 'ChaCha20-Poly1305', encrId: EncrId.CHACHA20_POLY1305, integId: IntegId.NONE },
  { name: 'AES-CBC-128 + HMAC-SHA2-256-128', encrId: EncrId.AES_CBC, encrKeyBits: 128, integId: IntegId.HMAC_SHA2_256_128 },
  { name: 'AES-CBC-256 + HMAC-SHA2-384-192', encrId: EncrId.AES_CBC, encrKeyBits: 256, integId: IntegId.HMAC_SHA2_384_192 },
  { name: 'AES-CBC-192 + HMAC-SHA2-512-256', encrId: EncrId.AES_CBC, encrKeyBits: 192, integId: IntegId.HMAC_SHA2_512_256 },
];

/** A fresh SPI with random keys for one suite: the oracle's view and the addon's parameters. */
function makeSa(c: SuiteCase, esn: boolean, extra: Partial<NativeSaParams> = {}): { keys: EspSaKeys; native: Omit<NativeSaParams, 'direction'> } {
  const s = espSuite(c.encrId, c.encrKeyBits, c.integId);
  if (!s.ok) throw new Error(s.error);
  const encKey = new Uint8Array(randomBytes(s.value.kind === 'aead' ? s.value.keyLen + 4 : s.value.keyLen));
  const integKey = new Uint8Array(randomBytes(s.value.kind === 'cbc-hmac' ? s.value.integKeyLen : 0));
  const spi = nextSpi++;
  return {
    keys: { spi, encrId: c.encrId, encrKeyBits: c.encrKeyBits, encKey, integId: c.integId, integKey, esn },
    native: { spi, encrId: c.encrId, encrKeyBits: c.encrKeyBits, encKey, integId: c.integId, integKey, esn, replayWindow: 64, ...extra },
  };
}

/** An IPv4 (or IPv6) lookalike: only the version nibble matters to ESP tunnel mode. */
function innerPacket(len: number, version: 4 | 6, seed: number): Uint8Array {
  const p = Uint8Array.from({ length: len }, (_, i) => (i * 13 + seed) & 0xff);
  if (len > 0) p[0] = (version << 4) | (p[0]! & 0x0f);
  return p;
}

function ok<T>(r: T | number): T {
  if (typeof r === 'number') throw new Error(`native call failed: ${addon.errnoName(r)}`);
  return r;
}

describe('native encrypt = oracle encode, native decrypt = oracle decode', () => {
  for (const c of suites) {
    for (const esn of [false, true]) {
      test(`${c.name}${esn ? ' ESN' : ''}`, () => {
        const { keys, native } = makeSa(c, esn);
        addSa({ ...native, direction: 'out' });
        addSa({ ...native, direction: 'in' });
        const ivLen = c.encrId === EncrId.AES_CBC ? 16 : 8;
        let seq = 0n;
        for (const len of [1, 20, 21, 22, 23, 40, 41, 63, 64, 65, 1400]) {
          for (const version of [4, 6] as const) {
            seq++;
            const inner = innerPacket(len, version, len);
            const esp = ok(addon.encrypt(keys.spi, inner));
            const iv = ivLen === 8 ? ivFromSeq(seq) : esp.subarray(8, 24);
            if (ivLen === 8) expect(toHex(esp.subarray(8, 16))).toBe(toHex(ivFromSeq(seq))); // counter IV = seq
            const expected = encodeEsp(keys, prims, { seq, iv, payload: inner, nextHeader: version === 4 ? 4 : 41 });
            expect(toHex(esp)).toBe(toHex(expected));
            const d = decodeEsp(keys, prims, esp, 0);
            expect(d.ok && toHex(d.value.payload)).toBe(toHex(inner));
            const n = ok(addon.decrypt(esp));
            expect(n.spi).toBe(keys.spi);
            expect(n.seq).toBe(seq);
            expect(n.nextHeader).toBe(version === 4 ? 4 : 41);
            expect(toHex(n.inner)).toBe(toHex(inner));
          }
        }
      });
    }
  }

  test('oracle packets with arbitrary IVs and extra padding decrypt natively', () => {
    for (const c of suites) {
      const { keys, native } = makeSa(c, true, { replayWindow: 128 });
      addSa({ ...native, direction: 'in' });
      const ivLen = c.encrId === EncrId.AES_CBC ? 16 : 8;
      for (let i = 1; i <= 20; i++) {
        const inner = innerPacket(i * 7, 4, i);
        const esp = encodeEsp(keys, prims, { seq: BigInt(i), iv: new Uint8Array(randomBytes(ivLen)), payload: inner, nextHeader: 4, extraPadBlocks: i % 3 });
        const n = ok(addon.decrypt(esp));
        expect(toHex(n.inner)).toBe(toHex(inner));
      }
    }
  });

  test('CBC IVs are random, AEAD IVs are the sequence number', () => {
    const cbc = makeSa(suites[5]!, false);
    addSa({ ...cbc.native, direction: 'out' });
    const ivs = new Set<string>();
    for (let i = 0; i < 50; i++) ivs.add(toHex(ok(addon.encrypt(cbc.keys.spi, innerPacket(40, 4, 1))).subarray(8, 24)));
    expect(ivs.size).toBe(50);
  });
});

describe('draft-mcgrew-gcm-test-01 packets decrypt natively', () => {
  for (const v of gcmEspVectors) {
    test(v.name, () => {
      const spi = v.spi;
      expect(addon.saExists(spi, 'in')).toBe(false);
      const seq = (BigInt(v.seqHigh) << 32n) | BigInt(v.seqLow);
      // Place the window just below the vector so ESN inference lands on the draft's high half.
      addSa({ spi, direction: 'in', encrId: EncrId.AES_GCM_16, encrKeyBits: v.keyBits, encKey: hex(v.encKey), integId: IntegId.NONE, esn: v.esn, replayWindow: 32, initialSeq: seq > 16n ? seq - 16n : 0n });
      const pt = hex(v.plaintext);
      const padLen = pt[pt.length - 2]!;
      const n = ok(addon.decrypt(hex(v.packet)));
      expect(n.seq).toBe(seq);
      expect(n.nextHeader).toBe(1);
      expect(toHex(n.inner)).toBe(toHex(pt.subarray(0, pt.length - 2 - padLen)));
    });
  }
});

describe('rejection and counting', () => {
  test('a flipped bit anywhere after the SPI fails authentication, counts, and does not consume the sequence number', () => {
    for (const c of suites) {
      const { keys, native } = makeSa(c, false);
      addSa({ ...native, direction: 'out' });
      addSa({ ...native, direction: 'in' });
      const esp = ok(addon.encrypt(keys.spi, innerPacket(50, 4, 3)));
      let bad = 0;
      for (let i = 4; i < esp.length; i++) {
        const t = esp.slice();
        t[i]! ^= 0x80 >> (i % 8);
        const r = addon.decrypt(t);
        expect(typeof r).toBe('number');
        bad++;
      }
      const q = ok(addon.saQuery(keys.spi, 'in'));
      // Bits in the sequence number either fail the ICV or (high bits) land left of the window / wrong ESN guess.
      expect(q.authDrops + q.replayDrops).toBe(BigInt(bad));
      expect(q.packets).toBe(0n);
      const n = ok(addon.decrypt(esp)); // the genuine packet still gets in: forgeries never moved the window
      expect(n.seq).toBe(1n);
    }
  });

  test('ICV failure is -EBADMSG', () => {
    const { keys, native } = makeSa(suites[0]!, false);
    addSa({ ...native, direction: 'out' });
    addSa({ ...native, direction: 'in' });
    const esp = ok(addon.encrypt(keys.spi, innerPacket(30, 4, 1)));
    esp[esp.length - 1]! ^= 1;
    expect(addon.decrypt(esp)).toBe(EBADMSG);
    expect(ok(addon.saQuery(keys.spi, 'in')).authDrops).toBe(1n);
  });

  test('unknown SPI, truncation, misaligned CBC and authentic-but-bad padding', () => {
    const before = addon.globalStats();
    expect(addon.decrypt(Uint8Array.of(0, 0, 0x12, 0x34, 0, 0, 0, 1, 9, 9, 9, 9))).toBe(ENOENT);
    expect(addon.decrypt(Uint8Array.of(1, 2, 3))).toBe(EINVAL);
    const after = addon.globalStats();
    expect(after.noSa - before.noSa).toBe(1n);
    expect(after.truncated - before.truncated).toBe(1n);

    const cbc = makeSa(suites[5]!, false);
    addSa({ ...cbc.native, direction: 'in' });
    const good = encodeEsp(cbc.keys, prims, { seq: 1n, iv: new Uint8Array(16), payload: innerPacket(10, 4, 1), nextHeader: 4 });
    for (let n = 8; n < good.length; n++) expect(addon.decrypt(good.subarray(0, n))).toBeLessThan(0);
    const badPad = encodeEsp(cbc.keys, prims, { seq: 2n, iv: new Uint8Array(16), payload: innerPacket(10, 4, 1), nextHeader: 4, paddingOverride: Uint8Array.of(1, 2, 3, 9) });
    expect(addon.decrypt(badPad)).toBe(EPROTO);
    const q = ok(addon.saQuery(cbc.keys.spi, 'in'));
    expect(q.malformedDrops).toBeGreaterThanOrEqual(1n);
    expect(q.packets).toBe(0n);
    expect(ok(addon.decrypt(good)).seq).toBe(1n);
  });

  test('tunnel mode infers Next Header from the IP version; anything else needs it explicitly', () => {
    const { keys, native } = makeSa(suites[0]!, false);
    addSa({ ...native, direction: 'out' });
    addSa({ ...native, direction: 'in' });
    expect(addon.encrypt(keys.spi, Uint8Array.of(0x50, 1, 2))).toBe(EPROTONOSUPPORT);
    expect(addon.encrypt(keys.spi, new Uint8Array(0))).toBe(EPROTONOSUPPORT);
    const dummy = ok(addon.encrypt(keys.spi, new Uint8Array(0), 59)); // RFC 4303 §2.6 dummy packet
    const n = ok(addon.decrypt(dummy)) as NativeDecrypted;
    expect(n.nextHeader).toBe(59);
    expect(n.inner.length).toBe(0);
  });
});

test('benchEsp runs the C path alone and accounts every packet', () => {
  const { keys, native } = makeSa(suites[0]!, true, { replayWindow: 64 });
  addSa({ ...native, direction: 'out' });
  addSa({ ...native, direction: 'in' });
  const r = ok(addon.benchEsp(keys.spi, 100, 130));
  expect(r.packets).toBe(130);
  for (const dir of ['in', 'out'] as const) {
    const q = ok(addon.saQuery(keys.spi, dir));
    expect([q.packets, q.bytes]).toEqual([130n, 13000n]);
  }
  expect(addon.benchEsp(nextSpi++, 100, 1)).toBe(ENOENT);
});
