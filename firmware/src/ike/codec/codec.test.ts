// Unit tests for the codec's header rules and encode-side checks (RFC 7296 §2.5, §3.1-§3.16).
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Notify, PayloadType as P } from '../constants.ts';
import { caHashes } from './certreq.ts';
import { decodeHeader, encodeHeader, HEADER_LEN, peekHeader } from './header.ts';
import { decodeMessage, decodePayloads, encodeMessage, encodePayloads } from './message.ts';
import { codecFor, payloadName } from './registry.ts';
import type { IkeHeader, Payload } from './types.ts';

const hdr: IkeHeader = {
  spiI: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8),
  spiR: new Uint8Array(8),
  nextPayload: 0,
  version: 0x20,
  exchange: 34,
  flags: 0x08,
  messageId: 0xfffffffe,
  length: 28,
};
const none = new Uint8Array(0);

describe('IKE header', () => {
  it('encodes and peeks every field, including a message ID above 2^31', () => {
    const b = encodeHeader(hdr);
    expect(b.length).toBe(HEADER_LEN);
    expect(peekHeader(b)).toEqual({ ok: true, value: hdr });
    expect(decodeHeader(b)).toEqual({ ok: true, value: hdr });
  });

  it('peekHeader ignores payload octets the datagram carries; decodeHeader does not', () => {
    const b = new Uint8Array([...encodeHeader({ ...hdr, length: 40 }), ...new Uint8Array(4)]);
    expect(peekHeader(b).ok).toBe(true);
    expect(decodeHeader(b)).toMatchObject({ ok: false, notify: Notify.INVALID_SYNTAX });
  });

  it('accepts a higher minor version and rejects a higher major one with INVALID_MAJOR_VERSION', () => {
    expect(peekHeader(encodeHeader({ ...hdr, version: 0x2f })).ok).toBe(true);
    expect(peekHeader(encodeHeader({ ...hdr, version: 0x30 }))).toMatchObject({ ok: false, notify: Notify.INVALID_MAJOR_VERSION });
    const v1 = peekHeader(encodeHeader({ ...hdr, version: 0x10 }));
    expect(v1.ok).toBe(false);
    if (!v1.ok) expect(v1.notify).toBeUndefined();
  });

  it('refuses to encode malformed local headers', () => {
    expect(() => encodeHeader({ ...hdr, spiI: new Uint8Array(4) })).toThrow(RangeError);
    expect(() => encodeHeader({ ...hdr, messageId: 2 ** 32 })).toThrow(RangeError);
    expect(() => encodeHeader({ ...hdr, exchange: 256 })).toThrow(RangeError);
  });
});

describe('payload chain', () => {
  it('encodeMessage fills Next Payload and Length; SK/SKF must be last', () => {
    const b = encodeMessage(hdr, [{ type: P.VENDOR, data: Uint8Array.of(1) }]);
    expect(b[16]).toBe(P.VENDOR);
    expect(b.length).toBe(28 + 5);
    expect(() => encodePayloads([{ type: P.SK, innerNext: 0, body: none }, { type: P.VENDOR, data: none }])).toThrow(/last/);
    expect(() =>
      encodePayloads([{ type: P.SKF, innerNext: 0, fragmentNumber: 2, totalFragments: 2, body: none }, { type: P.VENDOR, data: none }]),
    ).toThrow(/last/);
  });

  it('an unknown type must be marked as such to be encoded', () => {
    expect(() => encodePayloads([{ type: 99 } as unknown as Payload])).toThrow(RangeError);
    expect(encodePayloads([{ type: 99, unknown: true, critical: true, body: Uint8Array.of(7) }]).bytes).toEqual(Uint8Array.of(0, 0x80, 0, 5, 7));
  });

  it('decoded payloads do not alias the input buffer', () => {
    const b = encodeMessage(hdr, [{ type: P.VENDOR, data: Uint8Array.of(1, 2, 3) }]);
    const m = decodeMessage(b);
    b.fill(0xee, 28);
    expect(m.ok && m.value.payloads[0]).toEqual({ type: P.VENDOR, data: Uint8Array.of(1, 2, 3) });
  });

  it('a chain of 1024 empty payloads decodes; a dangling Next Payload at its end fails', () => {
    const chain = new Uint8Array(4096);
    for (let off = 0; off < chain.length; off += 4) chain.set([P.VENDOR, 0, 0, 4], off); // 1024 empty V payloads
    const r = decodePayloads(P.VENDOR, chain);
    expect(r.ok).toBe(false); // the last one still names a next payload
    chain[chain.length - 4] = 0;
    const ok = decodePayloads(P.VENDOR, chain);
    expect(ok.ok && ok.value.length).toBe(1024);
  });

  it('names payloads the RFC way', () => {
    expect(payloadName(P.NOTIFY)).toBe('N');
    expect(payloadName(P.TSr)).toBe('TSr');
    expect(payloadName(200)).toBe('payload 200');
  });
});

describe('encode-side verify', () => {
  const v = (p: Payload) => codecFor(p.type)!.verify(p as never);

  it('nonce length 16..256', () => {
    expect(v({ type: P.NONCE, data: new Uint8Array(15) })).toMatch(/15 octets/);
    expect(v({ type: P.NONCE, data: new Uint8Array(16) })).toBeNull();
    expect(() => encodePayloads([{ type: P.NONCE, data: new Uint8Array(257) }])).toThrow(RangeError);
  });

  it('SA: proposals numbered consecutively from their first number, sizes in range', () => {
    const t = [{ type: 1, id: 20, keyLength: 256 }];
    expect(v({ type: P.SA, proposals: [] })).toMatch(/no proposals/);
    expect(v({ type: P.SA, proposals: [{ num: 1, protocolId: 1, spi: none, transforms: t }, { num: 3, protocolId: 1, spi: none, transforms: t }] })).toMatch(/numbers/);
    expect(v({ type: P.SA, proposals: [{ num: 0, protocolId: 1, spi: none, transforms: t }] })).toMatch(/numbers/);
    expect(v({ type: P.SA, proposals: [{ num: 4, protocolId: 3, spi: new Uint8Array(4), transforms: t }] })).toBeNull();
    expect(v({ type: P.SA, proposals: [{ num: 1, protocolId: 1, spi: none, transforms: [{ type: 1, id: 12, keyLength: 70000 }] }] })).toMatch(/keyLength/);
  });

  it('Delete: SPIs of one size', () => {
    expect(v({ type: P.DELETE, protocolId: 3, spis: [new Uint8Array(4), new Uint8Array(8)] })).toMatch(/different sizes/);
    expect(v({ type: P.DELETE, protocolId: 3, spis: [none] })).toMatch(/empty SPI/);
  });

  it('TS: address length matches the TS type', () => {
    const s = { tsType: 7, ipProtocol: 0, startPort: 0, endPort: 65535, startAddr: new Uint8Array(16), endAddr: new Uint8Array(16) };
    expect(v({ type: P.TSi, selectors: [s] })).toMatch(/4-octet/);
    expect(v({ type: P.TSi, selectors: [{ ...s, tsType: 8 }] })).toBeNull();
    expect(v({ type: P.TSi, selectors: [{ ...s, tsType: 9 }] })).toMatch(/unsupported/);
  });

  it('EAP: Type present exactly for codes other than Success/Failure', () => {
    expect(v({ type: P.EAP, code: 1, identifier: 1, data: none })).toMatch(/needs a Type/);
    expect(v({ type: P.EAP, code: 3, identifier: 1, eapType: 1, data: none })).toMatch(/has no Type/);
  });

  it('SKF: fragment fields in range, Next Payload only in fragment 1', () => {
    expect(v({ type: P.SKF, innerNext: 35, fragmentNumber: 2, totalFragments: 2, body: none })).toMatch(/fragment 1/);
    expect(v({ type: P.SKF, innerNext: 0, fragmentNumber: 3, totalFragments: 2, body: none })).toMatch(/fragmentNumber/);
    expect(v({ type: P.SKF, innerNext: 0, fragmentNumber: 1, totalFragments: 0, body: none })).toMatch(/totalFragments/);
  });

  it('CP attribute types fit 15 bits; Notify SPI fits its size octet; payload bodies fit 16 bits', () => {
    expect(v({ type: P.CP, cfgType: 1, attributes: [{ type: 0x8000, value: none }] })).toMatch(/attribute type/);
    expect(v({ type: P.NOTIFY, protocolId: 3, spi: new Uint8Array(256), notifyType: 1, data: none })).toMatch(/SPI/);
    expect(v({ type: P.CERT, encoding: 4, data: new Uint8Array(65531) })).toMatch(/too long/);
    expect(v({ type: P.CERT, encoding: 4, data: new Uint8Array(65530) })).toBeNull();
  });

  it('caHashes splits a CERTREQ into 20-octet hashes', () => {
    const data = new Uint8Array(45).map((_, i) => i);
    expect(caHashes({ type: P.CERTREQ, encoding: 4, data })).toEqual([data.slice(0, 20), data.slice(20, 40)]);
  });
});

describe('sans-IO', () => {
  it('codec sources import nothing but their siblings, constants and crypto types', () => {
    const dir = new URL('.', import.meta.url);
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts') && !n.endsWith('.test.ts'))) {
      const src = readFileSync(new URL(f, dir), 'utf8');
      for (const m of src.matchAll(/from '([^']+)'/g)) expect(m[1], `${f}`).toMatch(/^\.\/[a-z-]+\.ts$|^\.\.\/constants\.ts$|^\.\.\/\.\.\/crypto\/types\.ts$/);
    }
  });
});
