// SK seal/open round trips over real AES-GCM and AES-CBC+HMAC transforms (RFC 7296 §3.14, RFC 5282).
import { describe, expect, it } from 'vitest';
import { ExchangeType, HeaderFlag, IdType, IKE_VERSION, Notify, PayloadType } from '../../../firmware/src/ike/constants.ts';
import { decodeMessage, encodeMessage, openSk, sealSk, type Payload } from '../../../firmware/src/ike/codec/index.ts';
import { HEADER_LEN } from '../../../firmware/src/ike/codec/header.ts';
import { padPlaintext, unpadPlaintext } from '../../../firmware/src/ike/codec/protect.ts';
import type { SkTransform } from '../../../firmware/src/crypto/types.ts';
import { aesCbcHmacSha256, aesGcm16, bothTransforms, cbcEncKey, cbcIntegKey, counterRandom, gcmKey } from './sk-transforms.ts';

const header = {
  spiI: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8),
  spiR: Uint8Array.of(9, 10, 11, 12, 13, 14, 15, 16),
  version: IKE_VERSION,
  exchange: ExchangeType.IKE_AUTH,
  flags: HeaderFlag.INITIATOR,
  messageId: 1,
};

const inner: Payload[] = [
  { type: PayloadType.IDi, idType: IdType.ID_FQDN, data: new TextEncoder().encode('client.example') },
  { type: PayloadType.NOTIFY, protocolId: 0, spi: new Uint8Array(0), notifyType: Notify.INITIAL_CONTACT, data: new Uint8Array(0) },
  { type: PayloadType.AUTH, method: 2, data: new Uint8Array(32).fill(0xaa) },
];

function open(raw: Uint8Array, sk: SkTransform) {
  const msg = decodeMessage(raw);
  if (!msg.ok) return msg;
  return openSk(raw, msg.value, sk);
}

describe.each(bothTransforms())('SK with $name', ({ sk }) => {
  it('round-trips inner payloads and lays out header, SK header, IV, ciphertext, ICV', () => {
    const raw = sealSk(header, inner, sk, counterRandom());
    const msg = decodeMessage(raw);
    expect(msg.ok).toBe(true);
    if (!msg.ok) return;
    expect(msg.value.header.length).toBe(raw.length);
    expect(msg.value.header.nextPayload).toBe(PayloadType.SK);
    expect(msg.value.payloads).toHaveLength(1);
    const skp = msg.value.payloads[0]!;
    expect(skp.type).toBe(PayloadType.SK);
    expect('innerNext' in skp && skp.innerNext).toBe(PayloadType.IDi);
    expect(raw.length).toBe(HEADER_LEN + 4 + ('body' in skp ? skp.body.length : 0));
    // The IV on the wire is exactly what random() produced.
    expect(raw.subarray(32, 32 + sk.ivLen)).toEqual(counterRandom()(sk.ivLen));
    const ctLen = raw.length - 32 - sk.ivLen - sk.icvLen;
    expect(ctLen % Math.max(1, sk.blockLen)).toBe(0);
    const opened = openSk(raw, msg.value, sk);
    expect(opened).toEqual({ ok: true, value: inner });
  });

  it('seals an empty INFORMATIONAL (SK Next Payload 0) and opens it to no payloads', () => {
    const raw = sealSk({ ...header, exchange: ExchangeType.INFORMATIONAL }, [], sk, counterRandom(7));
    expect(raw[HEADER_LEN]).toBe(0);
    expect(open(raw, sk)).toEqual({ ok: true, value: [] });
  });

  it('rejects every single flipped bit (header, SK header, IV, ciphertext, ICV) without a notify', () => {
    const raw = sealSk(header, inner, sk, counterRandom());
    for (let i = 0; i < raw.length; i++) {
      const bad = raw.slice();
      bad[i]! ^= 0x01;
      const r = open(bad, sk);
      expect(r.ok, `flipped octet ${i}`).toBe(false);
    }
    const tamperedCt = raw.slice();
    tamperedCt[raw.length - sk.icvLen - 1]! ^= 0x80;
    expect(open(tamperedCt, sk)).toEqual({ ok: false, error: 'integrity check failed' });
    const tamperedHeader = raw.slice();
    tamperedHeader[20]! ^= 0x01; // message ID: the header is authenticated, not only the ciphertext
    expect(open(tamperedHeader, sk)).toEqual({ ok: false, error: 'integrity check failed' });
  });

  it('refuses a message opened with the other direction key', () => {
    const raw = sealSk(header, inner, sk, counterRandom());
    const other = sk.ivLen === 8 ? aesGcm16(gcmKey.map((x) => x ^ 1)) : aesCbcHmacSha256(cbcEncKey, cbcIntegKey.map((x) => x ^ 1));
    expect(open(raw, other).ok).toBe(false);
  });
});

describe('SK padding and structure', () => {
  it('pads to the block size with the minimum padding and accepts any aligned pad length', () => {
    for (let n = 0; n < 40; n++) {
      const p = padPlaintext(new Uint8Array(n).fill(1), 16);
      expect(p.length % 16).toBe(0);
      expect(p.length - n - 1).toBeLessThan(16);
      expect(unpadPlaintext(p)).toEqual(new Uint8Array(n).fill(1));
    }
    expect(padPlaintext(new Uint8Array(5), 1).length).toBe(6);
    expect(unpadPlaintext(Uint8Array.of(1, 2, 3, 5))).toBeNull();
    expect(unpadPlaintext(new Uint8Array(0))).toBeNull();
  });

  it('rejects a correctly authenticated message whose Pad Length overruns the plaintext', () => {
    const sk = aesGcm16(gcmKey);
    // Hand-build the plaintext with a bogus Pad Length, sealed correctly so only the padding check can fail.
    const evil: SkTransform = { ...sk, seal: (aad, iv, pt) => sk.seal(aad, iv, Uint8Array.of(...pt.subarray(0, -1), 200)) };
    const raw = sealSk(header, inner, evil, counterRandom());
    const r = open(raw, sk);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.notify).toBe(Notify.INVALID_SYNTAX);
  });

  it('rejects SK bodies too short for IV + Pad Length + ICV and ciphertext not in whole blocks', () => {
    const sk = aesCbcHmacSha256(cbcEncKey, cbcIntegKey);
    const tiny = encodeMessage(header, [{ type: PayloadType.SK, innerNext: 0, body: new Uint8Array(sk.ivLen + sk.icvLen) }]);
    expect(open(tiny, sk).ok).toBe(false);
    const ragged = encodeMessage(header, [{ type: PayloadType.SK, innerNext: 0, body: new Uint8Array(sk.ivLen + 17 + sk.icvLen) }]);
    const r = open(ragged, sk);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/whole blocks/);
  });

  it('openSk refuses a message that does not end in SK', () => {
    const raw = encodeMessage(header, inner);
    const msg = decodeMessage(raw);
    expect(msg.ok).toBe(true);
    if (msg.ok) expect(openSk(raw, msg.value, aesGcm16(gcmKey)).ok).toBe(false);
  });

  it('refuses an inner SK payload (no nesting) even when authenticated', () => {
    const sk = aesGcm16(gcmKey);
    const raw = sealSk(header, [{ type: PayloadType.SK, innerNext: 0, body: new Uint8Array(30) }], sk, counterRandom());
    const r = open(raw, sk);
    expect(r.ok).toBe(false);
  });

  it('reports an unknown critical payload inside SK with UNSUPPORTED_CRITICAL_PAYLOAD', () => {
    const sk = aesGcm16(gcmKey);
    const raw = sealSk(header, [{ type: 200, unknown: true, critical: true, body: Uint8Array.of(1, 2) }], sk, counterRandom());
    const r = open(raw, sk);
    expect(r).toMatchObject({ ok: false, notify: Notify.UNSUPPORTED_CRITICAL_PAYLOAD, notifyData: Uint8Array.of(200) });
  });
});
