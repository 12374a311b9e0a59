// RADIUS authenticators: Request/Response Authenticator (RFC 2865 §3), Accounting-Request (RFC 2866 §3),
// CoA/Disconnect (RFC 5176 §3.3), and Message-Authenticator (RFC 3579 §3.2, HMAC-MD5).
import type { Decoded } from '../ike/codec/types.ts';
import { AUTHENTICATOR_LEN, RadiusAttr, RadiusCode } from './constants.ts';
import { attributeOffsets, decodePacket, encodePacket, type RadiusAttribute, type RadiusPacket } from './packet.ts';
import { equalBytes } from './bytes.ts';
import { hmacMd5, md5 } from './md5.ts';

const ZERO16 = new Uint8Array(AUTHENTICATOR_LEN);

/**
 * How the Authenticator field of a code is formed:
 * random: Access-Request and Status-Server carry a random Request Authenticator (RFC 2865 §3, RFC 5997 §3);
 * hashed: Accounting-, Disconnect- and CoA-Request carry MD5 over the packet with a zero field (RFC 2866 §3, RFC 5176 §3.3);
 * response: every reply carries MD5 over the packet with the request's authenticator (RFC 2865 §3).
 */
export type AuthenticatorKind = 'random' | 'hashed' | 'response';

export function authenticatorKind(code: number): AuthenticatorKind | null {
  switch (code) {
    case RadiusCode.ACCESS_REQUEST:
    case RadiusCode.STATUS_SERVER:
      return 'random';
    case RadiusCode.ACCOUNTING_REQUEST:
    case RadiusCode.DISCONNECT_REQUEST:
    case RadiusCode.COA_REQUEST:
      return 'hashed';
    case RadiusCode.ACCESS_ACCEPT:
    case RadiusCode.ACCESS_REJECT:
    case RadiusCode.ACCESS_CHALLENGE:
    case RadiusCode.ACCOUNTING_RESPONSE:
    case RadiusCode.DISCONNECT_ACK:
    case RadiusCode.DISCONNECT_NAK:
    case RadiusCode.COA_ACK:
    case RadiusCode.COA_NAK:
      return 'response';
    default:
      return null;
  }
}

export interface SignOptions {
  secret: Uint8Array;
  /** random kind: the fresh Request Authenticator; response kind: the authenticator of the request answered. */
  requestAuthenticator?: Uint8Array;
  /**
   * Add a Message-Authenticator, placed first (RFC 3579 §3.2; first, as the Blast-RADIUS mitigations advise, so a
   * forged MD5 prefix cannot precede it). Mandatory with EAP-Message.
   */
  messageAuthenticator?: boolean;
}

export interface Signed {
  bytes: Uint8Array;
  /** The Authenticator field as sent (for requests: what the response will be checked against). */
  authenticator: Uint8Array;
}

/** Encode and sign a packet of any code; fails (never throws) on oversize, an unknown code or a missing authenticator. */
export function signPacket(p: { code: number; identifier: number; attributes: RadiusAttribute[] }, opts: SignOptions): Decoded<Signed> {
  const kind = authenticatorKind(p.code);
  if (!kind) return { ok: false, error: `no authenticator rule for code ${p.code}` };
  if (kind !== 'hashed' && opts.requestAuthenticator?.length !== AUTHENTICATOR_LEN) {
    return { ok: false, error: 'a 16-octet request authenticator is required' };
  }
  const withoutMa = p.attributes.filter((a) => a.type !== RadiusAttr.MESSAGE_AUTHENTICATOR);
  const attributes = opts.messageAuthenticator ? [{ type: RadiusAttr.MESSAGE_AUTHENTICATOR, value: new Uint8Array(16) }, ...withoutMa] : withoutMa;
  const fieldForMac = kind === 'hashed' ? ZERO16 : (opts.requestAuthenticator as Uint8Array);
  const enc = encodePacket({ code: p.code, identifier: p.identifier, authenticator: fieldForMac, attributes });
  if (!enc.ok) return enc;
  const bytes = enc.value;
  if (opts.messageAuthenticator) {
    // §3.2: HMAC-MD5 over the packet with the MA value zeroed and the Authenticator field as the MAC rule says.
    bytes.set(hmacMd5(opts.secret, bytes), 20 + 2);
  }
  if (kind === 'random') return { ok: true, value: { bytes, authenticator: fieldForMac.slice() } };
  const auth = md5(bytes, opts.secret);
  bytes.set(auth, 4);
  return { ok: true, value: { bytes, authenticator: auth } };
}

export type Verified = { ok: true; packet: RadiusPacket; hasMessageAuthenticator: boolean } | { ok: false; error: string };

/**
 * Check a received packet's Authenticator and, when present, its Message-Authenticator.
 * `requestAuthenticator` is needed for responses (the one we sent); ignored for hashed requests.
 * Access-Request (random kind) carries nothing to check but its Message-Authenticator.
 */
export function verifyPacket(raw: Uint8Array, secret: Uint8Array, requestAuthenticator?: Uint8Array): Verified {
  const dec = decodePacket(raw);
  if (!dec.ok) return { ok: false, error: dec.error };
  const packet = dec.value;
  const kind = authenticatorKind(packet.code);
  if (!kind) return { ok: false, error: `unexpected code ${packet.code}` };
  const length = ((raw[2] ?? 0) << 8) | (raw[3] ?? 0);
  const bytes = raw.slice(0, length);
  if (kind === 'response' && requestAuthenticator?.length !== AUTHENTICATOR_LEN) return { ok: false, error: 'no request authenticator to check a response against' };
  const fieldForMac = kind === 'hashed' ? ZERO16 : kind === 'response' ? (requestAuthenticator as Uint8Array) : packet.authenticator;
  if (kind !== 'random') {
    const copy = bytes.slice();
    copy.set(fieldForMac, 4);
    if (!equalBytes(md5(copy, secret), packet.authenticator)) {
      return { ok: false, error: kind === 'response' ? 'bad Response Authenticator (wrong secret or forged)' : 'bad Request Authenticator (wrong secret or forged)' };
    }
  }
  const maOffsets = attributeOffsets(bytes, RadiusAttr.MESSAGE_AUTHENTICATOR);
  if (maOffsets.length > 1) return { ok: false, error: 'more than one Message-Authenticator' };
  const maOff = maOffsets[0];
  if (maOff !== undefined) {
    if (bytes[maOff + 1] !== 18) return { ok: false, error: 'Message-Authenticator is not 16 octets' };
    const got = bytes.slice(maOff + 2, maOff + 18);
    const copy = bytes.slice();
    copy.set(fieldForMac, 4);
    copy.fill(0, maOff + 2, maOff + 18);
    if (!equalBytes(hmacMd5(secret, copy), got)) return { ok: false, error: 'bad Message-Authenticator' };
  }
  return { ok: true, packet, hasMessageAuthenticator: maOff !== undefined };
}
