// Dynamic Authorization, the NAS side (RFC 5176 §2, §3): checking a Disconnect-/CoA-Request and answering with
// ACK or NAK. Sans-IO; the listener in dynauth-server.ts owns the socket.
import type { Decoded } from '../ike/codec/types.ts';
import { ErrorCause, RadiusAttr, RadiusCode } from './constants.ts';
import { getAllAttrs, getIpv4, getText, getU32, u32Attr } from './attributes.ts';
import { signPacket, verifyPacket } from './authenticator.ts';
import type { RadiusAttribute, RadiusPacket } from './packet.ts';

export type DynAuthKind = 'disconnect' | 'coa';

/** Which session(s) a request names (§3: session identification attributes). */
export interface SessionSelector {
  userName?: string;
  acctSessionId?: string;
  framedIp?: string;
  callingStationId?: string;
  classes?: Uint8Array[];
}

export interface CheckedDynAuth {
  kind: DynAuthKind;
  packet: RadiusPacket;
  selector: SessionSelector;
  hasMessageAuthenticator: boolean;
}

export interface DynAuthCheckOptions {
  nowSec: number;
  /** Event-Timestamp tolerance (§3.5: replay protection); 300 s as RFC 5176 suggests. */
  windowSec?: number;
  /** Refuse requests without Message-Authenticator / Event-Timestamp. */
  requireMessageAuthenticator?: boolean;
  requireEventTimestamp?: boolean;
  /** Our NAS-Identifier / NAS-IP-Address: a request naming another NAS gets NAK 403 (§3). */
  nasIdentifier?: string;
  nasIpAddress?: string;
}

/**
 * `discard`: drop silently (§3.5: bad authenticator, stale Event-Timestamp, not a Disconnect/CoA-Request).
 * `nak`: answer with this Error-Cause.
 */
export type DynAuthCheck = { ok: true; value: CheckedDynAuth } | { ok: false; discard: true; error: string } | { ok: false; discard: false; error: string; packet: RadiusPacket; errorCause: number };

export function selectorOf(p: RadiusPacket): SessionSelector {
  const s: SessionSelector = {};
  const un = getText(p, RadiusAttr.USER_NAME);
  if (un !== undefined) s.userName = un;
  const sid = getText(p, RadiusAttr.ACCT_SESSION_ID);
  if (sid !== undefined) s.acctSessionId = sid;
  const ip = getIpv4(p, RadiusAttr.FRAMED_IP_ADDRESS);
  if (ip !== undefined) s.framedIp = ip;
  const cs = getText(p, RadiusAttr.CALLING_STATION_ID);
  if (cs !== undefined) s.callingStationId = cs;
  const cl = getAllAttrs(p, RadiusAttr.CLASS);
  if (cl.length) s.classes = cl;
  return s;
}

export function checkDynAuthRequest(raw: Uint8Array, secret: Uint8Array, opts: DynAuthCheckOptions): DynAuthCheck {
  const v = verifyPacket(raw, secret);
  if (!v.ok) return { ok: false, discard: true, error: v.error };
  const p = v.packet;
  const kind: DynAuthKind | null = p.code === RadiusCode.DISCONNECT_REQUEST ? 'disconnect' : p.code === RadiusCode.COA_REQUEST ? 'coa' : null;
  if (!kind) return { ok: false, discard: true, error: `code ${p.code} is not a Disconnect-Request or CoA-Request` };
  if (opts.requireMessageAuthenticator && !v.hasMessageAuthenticator) return { ok: false, discard: true, error: 'no Message-Authenticator' };
  const ts = getU32(p, RadiusAttr.EVENT_TIMESTAMP);
  if (ts === undefined && opts.requireEventTimestamp) return { ok: false, discard: true, error: 'no Event-Timestamp' };
  if (ts !== undefined && Math.abs(opts.nowSec - ts) > (opts.windowSec ?? 300)) return { ok: false, discard: true, error: `Event-Timestamp ${ts} outside the window` };
  const nasId = getText(p, RadiusAttr.NAS_IDENTIFIER);
  const nasIp = getIpv4(p, RadiusAttr.NAS_IP_ADDRESS);
  if ((nasId !== undefined && opts.nasIdentifier !== undefined && nasId !== opts.nasIdentifier) || (nasIp !== undefined && opts.nasIpAddress !== undefined && nasIp !== opts.nasIpAddress)) {
    return { ok: false, discard: false, error: 'request names another NAS', packet: p, errorCause: ErrorCause.NAS_IDENTIFICATION_MISMATCH };
  }
  const selector = selectorOf(p);
  if (Object.keys(selector).length === 0) {
    return { ok: false, discard: false, error: 'no session identification attribute', packet: p, errorCause: ErrorCause.MISSING_ATTRIBUTE };
  }
  return { ok: true, value: { kind, packet: p, selector, hasMessageAuthenticator: v.hasMessageAuthenticator } };
}

/** ACK is the request code + 1, NAK + 2 (§2.3); a NAK carries Error-Cause (§3.5). Message-Authenticator mirrors the request. */
export function buildDynAuthResponse(
  request: RadiusPacket,
  answer: { ack: true; attributes?: RadiusAttribute[] } | { ack: false; errorCause: number; attributes?: RadiusAttribute[] },
  secret: Uint8Array,
  messageAuthenticator: boolean,
): Decoded<Uint8Array> {
  const code = request.code + (answer.ack ? 1 : 2);
  const attributes = [...(answer.attributes ?? []), ...(answer.ack ? [] : [u32Attr(RadiusAttr.ERROR_CAUSE, answer.errorCause)])];
  const s = signPacket({ code, identifier: request.identifier, attributes }, { secret, requestAuthenticator: request.authenticator, messageAuthenticator });
  return s.ok ? { ok: true, value: s.value.bytes } : s;
}
