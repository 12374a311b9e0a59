// Runs every codec fixture: decode, encode, byte-exact round trip; and every negative fixture.
import { describe, expect, it } from 'vitest';
import { decodeMessage, decodePayloads, encodeMessage, encodePayloads } from '../../../firmware/src/ike/codec/index.ts';
import { isUnknown } from '../../../firmware/src/ike/codec/message.ts';
import { codecFor } from '../../../firmware/src/ike/codec/registry.ts';
import { messageFixtures, negativeFixtures } from './message-fixtures.ts';
import { payloadFixtures } from './payload-fixtures.ts';

describe('payload fixtures', () => {
  it.each(payloadFixtures)('$name', (f) => {
    const decoded = decodePayloads(f.first, f.bytes);
    expect(decoded).toEqual({ ok: true, value: f.payloads });
    for (const p of f.payloads) if (!isUnknown(p)) expect(codecFor(p.type)?.verify(p as never)).toBeNull();
    const encoded = encodePayloads(f.payloads);
    expect(encoded.first).toBe(f.first);
    if (f.canonical !== false) expect(encoded.bytes).toEqual(f.bytes);
    else expect(encoded.bytes).not.toEqual(f.bytes);
    // Round trip through our own encoding is exact in both directions.
    const again = decodePayloads(encoded.first, encoded.bytes);
    expect(again).toEqual({ ok: true, value: f.payloads });
    if (again.ok) expect(encodePayloads(again.value).bytes).toEqual(encoded.bytes);
  });

  it('cover every payload type the codec knows', () => {
    const covered = new Set(payloadFixtures.flatMap((f) => f.payloads.map((p) => p.type)));
    for (const t of [33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 53]) expect(covered.has(t), `type ${t}`).toBe(true);
  });
});

describe('message fixtures', () => {
  it.each(messageFixtures)('$name', (f) => {
    expect(decodeMessage(f.bytes)).toEqual({ ok: true, value: f.message });
    const { nextPayload: _n, length: _l, ...fields } = f.message.header;
    const encoded = encodeMessage(fields, f.message.payloads);
    expect(encoded).toEqual(f.bytes);
    const again = decodeMessage(encoded);
    expect(again.ok && encodeMessage(fields, again.value.payloads)).toEqual(f.bytes);
  });
});

describe('negative fixtures', () => {
  it.each(negativeFixtures)('$name', (f) => {
    const r = f.first === undefined ? decodeMessage(f.bytes) : decodePayloads(f.first, f.bytes);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatch(f.error);
    expect(r.notify).toBe(f.notify);
    if (f.notifyData !== undefined) expect(r.notifyData).toEqual(f.notifyData);
  });

  it('every strict prefix of every fixture is rejected, never thrown on', () => {
    for (const f of messageFixtures) {
      for (let n = 0; n < f.bytes.length; n++) expect(decodeMessage(f.bytes.subarray(0, n)).ok, `${f.name} @${n}`).toBe(false);
    }
    for (const f of payloadFixtures) {
      for (let n = 0; n < f.bytes.length; n++) expect(decodePayloads(f.first, f.bytes.subarray(0, n)).ok, `${f.name} @${n}`).toBe(false);
    }
  });
});
