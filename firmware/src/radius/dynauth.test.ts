// Dynamic Authorization checks and answers (RFC 5176 §2.3, §3.3, §3.5), sans-IO.
import { describe, expect, test } from 'vitest';
import { buildDynAuthResponse, checkDynAuthRequest } from './dynauth.ts';
import { signPacket, verifyPacket } from './authenticator.ts';
import { ErrorCause, RadiusAttr, RadiusCode } from './constants.ts';
import { getU32, ipv4Attr, textAttr, u32Attr } from './attributes.ts';
import type { RadiusAttribute } from './packet.ts';
import { utf8Bytes } from './bytes.ts';

const secret = utf8Bytes('coa-secret');
const nowSec = 1_800_000_000;

function request(code: number, attributes: RadiusAttribute[], opts: { ma?: boolean; key?: Uint8Array } = {}) {
  const s = signPacket({ code, identifier: 42, attributes }, { secret: opts.key ?? secret, messageAuthenticator: opts.ma });
  if (!s.ok) throw new Error(s.error);
  return s.value.bytes;
}

describe('checkDynAuthRequest', () => {
  test('a Disconnect-Request naming a user and session is accepted with its selector', () => {
    const raw = request(RadiusCode.DISCONNECT_REQUEST, [
      textAttr(RadiusAttr.USER_NAME, 'alice'),
      textAttr(RadiusAttr.ACCT_SESSION_ID, 'sess-1'),
      ipv4Attr(RadiusAttr.FRAMED_IP_ADDRESS, '203.0.113.9')!,
      u32Attr(RadiusAttr.EVENT_TIMESTAMP, nowSec - 10),
    ]);
    const c = checkDynAuthRequest(raw, secret, { nowSec });
    expect(c).toMatchObject({ ok: true, value: { kind: 'disconnect', selector: { userName: 'alice', acctSessionId: 'sess-1', framedIp: '203.0.113.9' }, hasMessageAuthenticator: false } });
  });

  test('a CoA-Request with Message-Authenticator', () => {
    const raw = request(RadiusCode.COA_REQUEST, [textAttr(RadiusAttr.USER_NAME, 'bob'), textAttr(RadiusAttr.FILTER_ID, 'quarantine')], { ma: true });
    expect(checkDynAuthRequest(raw, secret, { nowSec, requireMessageAuthenticator: true })).toMatchObject({ ok: true, value: { kind: 'coa', hasMessageAuthenticator: true } });
  });

  test('silently discarded: wrong secret, stale Event-Timestamp, missing required MA, other codes', () => {
    const attrs = [textAttr(RadiusAttr.USER_NAME, 'alice')];
    expect(checkDynAuthRequest(request(RadiusCode.DISCONNECT_REQUEST, attrs, { key: utf8Bytes('nope') }), secret, { nowSec })).toMatchObject({ ok: false, discard: true, error: expect.stringContaining('Request Authenticator') });
    expect(checkDynAuthRequest(request(RadiusCode.DISCONNECT_REQUEST, [...attrs, u32Attr(RadiusAttr.EVENT_TIMESTAMP, nowSec - 301)]), secret, { nowSec })).toMatchObject({ ok: false, discard: true, error: expect.stringContaining('Event-Timestamp') });
    expect(checkDynAuthRequest(request(RadiusCode.DISCONNECT_REQUEST, attrs), secret, { nowSec, requireEventTimestamp: true })).toMatchObject({ ok: false, discard: true });
    expect(checkDynAuthRequest(request(RadiusCode.DISCONNECT_REQUEST, attrs), secret, { nowSec, requireMessageAuthenticator: true })).toMatchObject({ ok: false, discard: true });
    expect(checkDynAuthRequest(request(RadiusCode.ACCOUNTING_REQUEST, attrs), secret, { nowSec })).toMatchObject({ ok: false, discard: true });
  });

  test('NAK 403 for another NAS, NAK 402 without any session attribute', () => {
    const other = request(RadiusCode.DISCONNECT_REQUEST, [textAttr(RadiusAttr.USER_NAME, 'alice'), textAttr(RadiusAttr.NAS_IDENTIFIER, 'gw2')]);
    expect(checkDynAuthRequest(other, secret, { nowSec, nasIdentifier: 'gw1' })).toMatchObject({ ok: false, discard: false, errorCause: ErrorCause.NAS_IDENTIFICATION_MISMATCH });
    expect(checkDynAuthRequest(other, secret, { nowSec, nasIdentifier: 'gw2' }).ok).toBe(true);
    const none = request(RadiusCode.DISCONNECT_REQUEST, [textAttr(RadiusAttr.NAS_IDENTIFIER, 'gw1')]);
    expect(checkDynAuthRequest(none, secret, { nowSec })).toMatchObject({ ok: false, discard: false, errorCause: ErrorCause.MISSING_ATTRIBUTE });
  });
});

describe('buildDynAuthResponse', () => {
  test('ACK = code + 1, NAK = code + 2 with Error-Cause; both verify against the request authenticator', () => {
    const raw = request(RadiusCode.COA_REQUEST, [textAttr(RadiusAttr.USER_NAME, 'bob')], { ma: true });
    const c = checkDynAuthRequest(raw, secret, { nowSec });
    if (!c.ok) throw new Error(c.error);
    const ack = buildDynAuthResponse(c.value.packet, { ack: true }, secret, true);
    const nak = buildDynAuthResponse(c.value.packet, { ack: false, errorCause: ErrorCause.SESSION_CONTEXT_NOT_FOUND }, secret, false);
    if (!ack.ok || !nak.ok) throw new Error('encode');
    const va = verifyPacket(ack.value, secret, c.value.packet.authenticator);
    expect(va).toMatchObject({ ok: true, packet: { code: RadiusCode.COA_ACK, identifier: 42 }, hasMessageAuthenticator: true });
    const vn = verifyPacket(nak.value, secret, c.value.packet.authenticator);
    expect(vn).toMatchObject({ ok: true, packet: { code: RadiusCode.COA_NAK } });
    expect(vn.ok && getU32(vn.packet, RadiusAttr.ERROR_CAUSE)).toBe(503);
    expect(verifyPacket(ack.value, utf8Bytes('other'), c.value.packet.authenticator).ok).toBe(false);
  });
});
