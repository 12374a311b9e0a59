// RADIUS packet codec (RFC 2865 §3, §5): header and attribute list; peer input never throws.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Code      |  Identifier   |            Length             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                         Authenticator (16)                    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Attributes: Type (1) | Length (1, incl. these 2) | Value ...
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
import type { Decoded } from '../ike/codec/types.ts';
import { AUTHENTICATOR_LEN, RADIUS_HEADER_LEN, RADIUS_MAX_ATTR_VALUE_LEN, RADIUS_MAX_PACKET_LEN } from './constants.ts';
import { readU16 } from './bytes.ts';

export interface RadiusAttribute {
  type: number;
  value: Uint8Array;
}

export interface RadiusPacket {
  code: number;
  identifier: number;
  authenticator: Uint8Array; // 16 octets
  attributes: RadiusAttribute[];
}

/**
 * Octets past the Length field are padding and ignored (§3); a Length below 20, above 4096 or beyond the datagram,
 * and an attribute running past Length or shorter than its own header, make the packet invalid (silently discarded
 * by the caller, §3/§5).
 */
export function decodePacket(buf: Uint8Array): Decoded<RadiusPacket> {
  if (buf.length < RADIUS_HEADER_LEN) return { ok: false, error: `truncated packet (${buf.length} octets, header needs 20)` };
  const length = readU16(buf, 2);
  if (length < RADIUS_HEADER_LEN || length > RADIUS_MAX_PACKET_LEN) return { ok: false, error: `bad Length ${length} (20..4096)` };
  if (length > buf.length) return { ok: false, error: `truncated packet (Length ${length}, received ${buf.length})` };
  const attributes: RadiusAttribute[] = [];
  let off = RADIUS_HEADER_LEN;
  while (off < length) {
    if (off + 2 > length) return { ok: false, error: `truncated attribute header at offset ${off}` };
    const type = buf[off] ?? 0;
    const len = buf[off + 1] ?? 0;
    if (len < 2) return { ok: false, error: `attribute ${type} at offset ${off} has length ${len} (< 2)` };
    if (off + len > length) return { ok: false, error: `attribute ${type} at offset ${off} runs past the packet` };
    attributes.push({ type, value: buf.slice(off + 2, off + len) });
    off += len;
  }
  return {
    ok: true,
    value: { code: buf[0] ?? 0, identifier: buf[1] ?? 0, authenticator: buf.slice(4, 4 + AUTHENTICATOR_LEN), attributes },
  };
}

/** Encoding our own packet fails (no throw) when an attribute or the packet is too long: peer data (EAP) can be. */
export function encodePacket(p: RadiusPacket): Decoded<Uint8Array> {
  if (p.authenticator.length !== AUTHENTICATOR_LEN) return { ok: false, error: 'authenticator must be 16 octets' };
  let length = RADIUS_HEADER_LEN;
  for (const a of p.attributes) {
    if (a.value.length > RADIUS_MAX_ATTR_VALUE_LEN) return { ok: false, error: `attribute ${a.type} value of ${a.value.length} octets exceeds 253` };
    if (!Number.isInteger(a.type) || a.type < 1 || a.type > 255) return { ok: false, error: `bad attribute type ${a.type}` };
    length += 2 + a.value.length;
  }
  if (length > RADIUS_MAX_PACKET_LEN) return { ok: false, error: `packet of ${length} octets exceeds 4096` };
  const out = new Uint8Array(length);
  out[0] = p.code;
  out[1] = p.identifier & 0xff;
  out[2] = length >>> 8;
  out[3] = length & 0xff;
  out.set(p.authenticator, 4);
  let off = RADIUS_HEADER_LEN;
  for (const a of p.attributes) {
    out[off] = a.type;
    out[off + 1] = a.value.length + 2;
    out.set(a.value, off + 2);
    off += 2 + a.value.length;
  }
  return { ok: true, value: out };
}

/** Offsets of every attribute of `type` in an already validated packet (for zeroing Message-Authenticator). */
export function attributeOffsets(raw: Uint8Array, type: number): number[] {
  const length = Math.min(readU16(raw, 2), raw.length);
  const found: number[] = [];
  let off = RADIUS_HEADER_LEN;
  while (off + 2 <= length) {
    const len = raw[off + 1] ?? 0;
    if (len < 2) break;
    if (raw[off] === type) found.push(off);
    off += len;
  }
  return found;
}
