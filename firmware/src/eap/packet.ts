// EAP packet codec (RFC 3748 §4): Code, Identifier, Length, then Type and Type-Data for Request/Response.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Code      |  Identifier   |            Length             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Type      |  Type-Data ...   (Request and Response only)
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
import type { Decoded } from '../ike/codec/types.ts';
import { EapCode } from './constants.ts';

export interface EapPacket {
  code: number;
  identifier: number;
  /** Request/Response only. */
  type?: number;
  /** Type-Data (after the Type octet); empty for Success/Failure. */
  data: Uint8Array;
}

/** Octets beyond Length are link-layer padding and ignored (§4); anything shorter than Length is invalid. */
export function decodeEap(buf: Uint8Array): Decoded<EapPacket> {
  if (buf.length < 4) return { ok: false, error: `truncated EAP packet (${buf.length} octets)` };
  const code = buf[0] ?? 0;
  const identifier = buf[1] ?? 0;
  const length = ((buf[2] ?? 0) << 8) | (buf[3] ?? 0);
  if (length < 4) return { ok: false, error: `EAP Length ${length} below 4` };
  if (length > buf.length) return { ok: false, error: `truncated EAP packet (Length ${length}, have ${buf.length})` };
  switch (code) {
    case EapCode.REQUEST:
    case EapCode.RESPONSE:
      if (length < 5) return { ok: false, error: 'EAP Request/Response without a Type' };
      return { ok: true, value: { code, identifier, type: buf[4] ?? 0, data: buf.slice(5, length) } };
    case EapCode.SUCCESS:
    case EapCode.FAILURE:
      // §4.2: no data; a longer Length is tolerated and the extra ignored, as peers do.
      return { ok: true, value: { code, identifier, data: new Uint8Array(0) } };
    default:
      return { ok: false, error: `unknown EAP code ${code}` };
  }
}

export function encodeEap(p: EapPacket): Uint8Array {
  const withType = p.code === EapCode.REQUEST || p.code === EapCode.RESPONSE;
  const length = 4 + (withType ? 1 + p.data.length : 0);
  if (length > 0xffff) throw new RangeError('EAP packet longer than 65535 octets');
  const out = new Uint8Array(length);
  out[0] = p.code;
  out[1] = p.identifier & 0xff;
  out[2] = length >>> 8;
  out[3] = length & 0xff;
  if (withType) {
    out[4] = p.type ?? 0;
    out.set(p.data, 5);
  }
  return out;
}

/** §4.2: Success/Failure carry the Identifier of the Response they answer. */
export function eapSuccess(identifier: number): Uint8Array {
  return encodeEap({ code: EapCode.SUCCESS, identifier, data: new Uint8Array(0) });
}

export function eapFailure(identifier: number): Uint8Array {
  return encodeEap({ code: EapCode.FAILURE, identifier, data: new Uint8Array(0) });
}

/** §5.1: the identity is the Type-Data up to an optional NUL (after which some peers append options). */
export function identityFromTypeData(data: Uint8Array): Uint8Array {
  const nul = data.indexOf(0);
  return nul >= 0 ? data.slice(0, nul) : data;
}
