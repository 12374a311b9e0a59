// Whole IKEv2 messages (RFC 7296 §3.1, §3.2): the header and the chain of generic payload headers.
import { Notify, PayloadType } from '../constants.ts';
import { concat, ok, putU16, syntax, u16 } from './bytes.ts';
import { decodeHeader, encodeHeader, HEADER_LEN } from './header.ts';
import { CRITICAL_BIT, GENERIC_HEADER_LEN, MAX_BODY_LEN } from './payload-codec.ts';
import { codecFor, payloadName } from './registry.ts';
import type { Decoded, IkeHeader, IkeMessage, Payload, UnknownPayload } from './types.ts';

/*
   Generic Payload Header (§3.2):
                        1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Next Payload  |C|  RESERVED   |         Payload Length        |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
*/

export type HeaderFields = Omit<IkeHeader, 'length' | 'nextPayload'>;

export function isEncrypted(type: number): boolean {
  return type === PayloadType.SK || type === PayloadType.SKF;
}

export function isUnknown(p: Payload): p is UnknownPayload {
  return (p as Partial<UnknownPayload>).unknown === true;
}

/**
 * Walks the Next Payload chain. Every payload is at least its 4-octet header long, so the walk ends.
 * An encrypted payload (SK/SKF) ends the chain: its Next Payload octet names its first inner payload.
 */
export function walkPayloads(firstType: number, buf: Uint8Array, allowEncrypted: boolean): Decoded<Payload[]> {
  const out: Payload[] = [];
  let next = firstType;
  let off = 0;
  while (next !== PayloadType.NONE) {
    const name = payloadName(next);
    if (off + GENERIC_HEADER_LEN > buf.length) return syntax(`${name}: payload header truncated at offset ${off}`);
    const nextField = buf[off] ?? 0;
    const critical = ((buf[off + 1] ?? 0) & CRITICAL_BIT) !== 0;
    const len = u16(buf, off + 2);
    if (len < GENERIC_HEADER_LEN) return syntax(`${name}: payload length ${len} too small`);
    if (off + len > buf.length) return syntax(`${name}: payload length ${len} overruns the message`);
    const body = buf.subarray(off + GENERIC_HEADER_LEN, off + len);
    const codec = codecFor(next);
    if (codec === undefined) {
      // §2.5: an unknown payload with the critical bit rejects the whole message; without it, it is skipped.
      if (critical) {
        return {
          ok: false,
          error: `unsupported critical payload type ${next}`,
          notify: Notify.UNSUPPORTED_CRITICAL_PAYLOAD,
          notifyData: Uint8Array.of(next),
        };
      }
      out.push({ type: next, unknown: true, critical: false, body: body.slice() });
    } else {
      if (isEncrypted(next) && !allowEncrypted) return syntax(`${name} inside an encrypted payload`);
      const d = codec.decode(body, nextField);
      if (!d.ok) return d.error.startsWith(name) ? d : { ...d, error: `${name}: ${d.error}` };
      out.push(critical ? ({ ...d.value, critical: true } as Payload) : (d.value as Payload));
      if (isEncrypted(next)) {
        if (off + len !== buf.length) return syntax(`${name} is not the last payload`);
        return ok(out);
      }
    }
    off += len;
    next = nextField;
  }
  if (off !== buf.length) return syntax(`${buf.length - off} octets after the last payload`);
  return ok(out);
}

/** Decodes a payload chain whose first type comes from elsewhere (IKE header, SK Next Payload). */
export function decodePayloads(firstType: number, buf: Uint8Array): Decoded<Payload[]> {
  return walkPayloads(firstType, buf, true);
}

/** Decodes header and payloads; SK/SKF stay undecrypted (protect.ts / fragment.ts open them). */
export function decodeMessage(buf: Uint8Array): Decoded<IkeMessage> {
  const header = decodeHeader(buf);
  if (!header.ok) return header;
  const payloads = walkPayloads(header.value.nextPayload, buf.subarray(HEADER_LEN), true);
  if (!payloads.ok) return payloads;
  return ok({ header: header.value, payloads: payloads.value });
}

/** Encodes a chain of payloads. Throws RangeError on a malformed local payload or SK/SKF not last. */
export function encodePayloads(payloads: readonly Payload[]): { first: number; bytes: Uint8Array } {
  const parts: Uint8Array[] = [];
  for (const [i, p] of payloads.entries()) {
    const following = payloads[i + 1];
    let body: Uint8Array;
    let nextField: number;
    if (isUnknown(p)) {
      if (p.body.length > MAX_BODY_LEN) throw new RangeError(`payload ${p.type}: body too long`);
      body = p.body;
      nextField = following?.type ?? PayloadType.NONE;
    } else {
      const codec = codecFor(p.type);
      if (codec === undefined) throw new RangeError(`payload type ${p.type} has no codec and is not marked unknown`);
      if (isEncrypted(p.type) && following !== undefined) throw new RangeError(`${codec.name} must be the last payload`);
      body = codec.encode(p);
      nextField = codec.nextField?.(p) ?? following?.type ?? PayloadType.NONE;
    }
    const head = Uint8Array.of(nextField, p.critical === true ? CRITICAL_BIT : 0, 0, 0);
    putU16(head, 2, GENERIC_HEADER_LEN + body.length);
    parts.push(head, body);
  }
  return { first: payloads[0]?.type ?? PayloadType.NONE, bytes: concat(parts) };
}

export function encodeMessage(header: HeaderFields, payloads: readonly Payload[]): Uint8Array {
  const { first, bytes } = encodePayloads(payloads);
  const head = encodeHeader({ ...header, nextPayload: first, length: HEADER_LEN + bytes.length });
  return concat([head, bytes]);
}
