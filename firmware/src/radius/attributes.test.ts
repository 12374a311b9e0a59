// Attribute helpers: Vendor-Specific, EAP-Message fragmentation (RFC 3579 §3.1), MS-MPPE keys (RFC 2548 §2.4),
// AAA attributes from an Accept, accounting records (RFC 2866, RFC 2869 gigawords).
import { describe, expect, test } from 'vitest';
import { eapMessageAttrs, getU32, getVendorAttr, joinEapMessage, vendorAttr, vendorAttrs } from './attributes.ts';
import { decryptMppeKey, encryptMppeKey, mskFromMppeKeys } from './hiding.ts';
import { aaaAttributes } from './aaa.ts';
import { accountingAttributes } from './accounting.ts';
import { AcctStatusType, AcctTerminateCause, MicrosoftAttr, RadiusAttr, VendorId } from './constants.ts';
import type { RadiusPacket } from './packet.ts';
import { concat, fromHex, readU32, toHex, u32, utf8Bytes } from './bytes.ts';
import { md5 } from './md5.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';

const random = seededRandom('radius-attributes');
const packet = (attributes: RadiusPacket['attributes']): RadiusPacket => ({ code: 2, identifier: 0, authenticator: new Uint8Array(16), attributes });
const eap = (len: number) => {
  const b = random(len);
  b[0] = 2;
  b[2] = len >>> 8;
  b[3] = len & 0xff;
  return b;
};

describe('EAP-Message across attributes', () => {
  test('600 octets become 253 + 253 + 94 and join back', () => {
    const e = eap(600);
    const attrs = eapMessageAttrs(e);
    expect(attrs.map((a) => a.value.length)).toEqual([253, 253, 94]);
    const j = joinEapMessage(packet([{ type: RadiusAttr.STATE, value: new Uint8Array(4) }, ...attrs]));
    expect(j?.ok && toHex(j.value)).toBe(toHex(e));
  });
  test('exactly 253 octets stay in one attribute', () => {
    expect(eapMessageAttrs(eap(253)).length).toBe(1);
  });
  test('absent → undefined; split by another attribute, or a Length mismatch → error', () => {
    expect(joinEapMessage(packet([]))).toBeUndefined();
    const [a, b, c] = eapMessageAttrs(eap(600));
    expect(joinEapMessage(packet([a!, { type: RadiusAttr.STATE, value: new Uint8Array(2) }, b!, c!]))).toMatchObject({ ok: false, error: expect.stringContaining('consecutive') });
    expect(joinEapMessage(packet([a!, b!]))).toMatchObject({ ok: false, error: expect.stringContaining('EAP Length') });
    expect(joinEapMessage(packet([{ type: RadiusAttr.EAP_MESSAGE, value: new Uint8Array(3) }]))).toMatchObject({ ok: false });
  });
});

describe('Vendor-Specific (RFC 2865 §5.26)', () => {
  test('several sub-attributes in one VSA round trip; a malformed VSA is skipped, not fatal', () => {
    const v = vendorAttr(VendorId.MICROSOFT, [
      { vendorType: 7, value: u32(1) },
      { vendorType: 8, value: u32(6) },
    ]);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(toHex(v.value.value)).toBe('00000137' + '0706' + '00000001' + '0806' + '00000006');
    const bad = { type: RadiusAttr.VENDOR_SPECIFIC, value: fromHex('00000137 07 09 0000')! };
    const p = packet([bad, v.value]);
    expect(vendorAttrs(p).map((s) => [s.vendorId, s.vendorType, toHex(s.value)])).toEqual([
      [311, 7, '00000001'],
      [311, 8, '00000006'],
    ]);
    expect(getVendorAttr(p, 311, 8)).toEqual(u32(6));
    expect(getVendorAttr(p, 9, 8)).toBeUndefined();
  });
  test('an oversize sub-attribute is refused', () => {
    expect(vendorAttr(311, [{ vendorType: 1, value: new Uint8Array(250) }]).ok).toBe(false);
  });
});

describe('MS-MPPE keys (RFC 2548 §2.4.2)', () => {
  const secret = utf8Bytes('s3cret');
  const ra = random(16);

  test.each([16, 32])('%i-octet key: salt high bit set, padded length, round trip', (n) => {
    const key = random(n);
    const enc = encryptMppeKey(key, secret, ra, Uint8Array.of(0x12, 0x34));
    expect(enc.ok).toBe(true);
    if (!enc.ok) return;
    expect(enc.value[0]! & 0x80).toBe(0x80);
    expect(enc.value.length).toBe(2 + Math.ceil((n + 1) / 16) * 16);
    const dec = decryptMppeKey(enc.value, secret, ra);
    expect(dec.ok && toHex(dec.value)).toBe(toHex(key));
  });

  test('matches the construction written out by hand: b(1) = MD5(S + R + A), c(1) = p(1) xor b(1)', () => {
    const key = random(16);
    const salt = Uint8Array.of(0x80, 0x01);
    const enc = encryptMppeKey(key, secret, ra, salt);
    const p = concat(Uint8Array.of(16), key, new Uint8Array(15));
    const b1 = md5(secret, ra, salt);
    const c1 = p.slice(0, 16).map((x, i) => x ^ b1[i]!);
    const b2 = md5(secret, c1);
    const c2 = p.slice(16).map((x, i) => x ^ b2[i]!);
    expect(enc.ok && toHex(enc.value)).toBe(toHex(concat(salt, c1, c2)));
  });

  test('wrong secret, wrong request authenticator, or a bad length do not yield the key', () => {
    const key = random(16);
    const enc = encryptMppeKey(key, secret, ra, Uint8Array.of(0x80, 0x02));
    if (!enc.ok) throw new Error(enc.error);
    for (const [s, r] of [
      [utf8Bytes('other'), ra],
      [secret, random(16)],
    ] as const) {
      const d = decryptMppeKey(enc.value, s, r);
      expect(d.ok && toHex(d.value) === toHex(key)).toBe(false);
    }
    expect(decryptMppeKey(enc.value.slice(0, 17), secret, ra).ok).toBe(false);
    expect(decryptMppeKey(enc.value.slice(0, 33), secret, ra).ok).toBe(false);
  });

  test('MSK = MS-MPPE-Recv-Key || MS-MPPE-Send-Key; one key alone is an error, none is undefined', () => {
    const recv = random(32);
    const send = random(32);
    const r = encryptMppeKey(recv, secret, ra, Uint8Array.of(0x80, 1));
    const s = encryptMppeKey(send, secret, ra, Uint8Array.of(0x80, 2));
    if (!r.ok || !s.ok) throw new Error('encrypt');
    const vsa = vendorAttr(VendorId.MICROSOFT, [
      { vendorType: MicrosoftAttr.MS_MPPE_SEND_KEY, value: s.value },
      { vendorType: MicrosoftAttr.MS_MPPE_RECV_KEY, value: r.value },
    ]);
    if (!vsa.ok) throw new Error(vsa.error);
    const msk = mskFromMppeKeys(packet([vsa.value]), secret, ra);
    expect(msk?.ok && toHex(msk.value)).toBe(toHex(concat(recv, send)));
    const onlySend = vendorAttr(VendorId.MICROSOFT, [{ vendorType: MicrosoftAttr.MS_MPPE_SEND_KEY, value: s.value }]);
    if (!onlySend.ok) throw new Error(onlySend.error);
    expect(mskFromMppeKeys(packet([onlySend.value]), secret, ra)).toMatchObject({ ok: false });
    expect(mskFromMppeKeys(packet([]), secret, ra)).toBeUndefined();
  });
});

describe('AAA attributes from an Access-Accept', () => {
  test('Framed-IP-Address, Filter-Id, Class, timeouts, User-Name', () => {
    const p = packet([
      { type: RadiusAttr.FRAMED_IP_ADDRESS, value: Uint8Array.of(203, 0, 113, 77) },
      { type: RadiusAttr.FILTER_ID, value: utf8Bytes('staff') },
      { type: RadiusAttr.FILTER_ID, value: utf8Bytes('printers') },
      { type: RadiusAttr.CLASS, value: utf8Bytes('c1') },
      { type: RadiusAttr.SESSION_TIMEOUT, value: u32(3600) },
      { type: RadiusAttr.IDLE_TIMEOUT, value: u32(600) },
      { type: RadiusAttr.ACCT_INTERIM_INTERVAL, value: u32(300) },
      { type: RadiusAttr.USER_NAME, value: utf8Bytes('alice@example.com') },
    ]);
    expect(aaaAttributes(p)).toEqual({
      framedIp: '203.0.113.77',
      filterIds: ['staff', 'printers'],
      classes: [utf8Bytes('c1')],
      sessionTimeoutSec: 3600,
      idleTimeoutSec: 600,
      acctInterimIntervalSec: 300,
      userName: 'alice@example.com',
    });
  });
  test('"NAS chooses" addresses and malformed integers are not taken', () => {
    const p = packet([
      { type: RadiusAttr.FRAMED_IP_ADDRESS, value: Uint8Array.of(255, 255, 255, 254) },
      { type: RadiusAttr.SESSION_TIMEOUT, value: Uint8Array.of(1, 2) },
    ]);
    expect(aaaAttributes(p)).toEqual({});
    expect(getU32(p, RadiusAttr.SESSION_TIMEOUT)).toBeUndefined();
  });
});

describe('accounting records', () => {
  test('Start has identity and no counters; Stop has counters, gigawords and cause', () => {
    const start = packet(accountingAttributes({ status: 'start', sessionId: 's1', userName: 'alice', framedIp: '203.0.113.5', classes: [utf8Bytes('c1')], inputOctets: 5 }));
    expect(getU32(start, RadiusAttr.ACCT_STATUS_TYPE)).toBe(AcctStatusType.START);
    expect(getU32(start, RadiusAttr.ACCT_INPUT_OCTETS)).toBeUndefined();
    expect(start.attributes.find((a) => a.type === RadiusAttr.CLASS)?.value).toEqual(utf8Bytes('c1'));
    const inOctets = 5 * 2 ** 32 + 1234;
    const stop = packet(
      accountingAttributes({ status: 'stop', sessionId: 's1', userName: 'alice', sessionTimeSec: 61.9, inputOctets: inOctets, outputOctets: 99, inputPackets: 10, outputPackets: 11, terminateCause: AcctTerminateCause.ADMIN_RESET }),
    );
    expect(getU32(stop, RadiusAttr.ACCT_STATUS_TYPE)).toBe(AcctStatusType.STOP);
    expect(getU32(stop, RadiusAttr.ACCT_INPUT_OCTETS)).toBe(1234);
    expect(getU32(stop, RadiusAttr.ACCT_INPUT_GIGAWORDS)).toBe(5);
    expect(getU32(stop, RadiusAttr.ACCT_OUTPUT_OCTETS)).toBe(99);
    expect(getU32(stop, RadiusAttr.ACCT_OUTPUT_GIGAWORDS)).toBeUndefined();
    expect(getU32(stop, RadiusAttr.ACCT_SESSION_TIME)).toBe(61);
    expect(getU32(stop, RadiusAttr.ACCT_TERMINATE_CAUSE)).toBe(AcctTerminateCause.ADMIN_RESET);
    expect(readU32(stop.attributes.find((a) => a.type === RadiusAttr.ACCT_INPUT_PACKETS)!.value, 0)).toBe(10);
  });
});
