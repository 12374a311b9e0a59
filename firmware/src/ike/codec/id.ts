// Identification payloads IDi and IDr (RFC 7296 §3.5).
import { PayloadType } from '../constants.ts';
import { assertValid, isUint, ok, syntax, withPrefix } from './bytes.ts';
import { MAX_BODY_LEN, type PayloadCodec } from './payload-codec.ts';
import type { IdPayload } from './types.ts';

/*
    0                   1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Next Payload  |C|  RESERVED   |         Payload Length        |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |   ID Type     |                 RESERVED                      |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                   Identification Data                         ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
*/

function idCodec(type: typeof PayloadType.IDi | typeof PayloadType.IDr, name: string): PayloadCodec<IdPayload> {
  const codec: PayloadCodec<IdPayload> = {
    type,
    name,
    decode(body) {
      if (body.length < 4) return syntax(`${name} payload body too short (${body.length})`);
      // The RESERVED octets are part of the signed ID payload (RFC 7296 §2.15), so the engine signs the raw body;
      // they must be zero on the wire for the round trip to hold.
      return ok({ type, idType: body[0] ?? 0, data: body.slice(4) });
    },
    encode(p) {
      assertValid(codec.verify(p), name);
      return withPrefix([p.idType, 0, 0, 0], p.data);
    },
    verify(p) {
      if (!isUint(p.idType, 0xff)) return 'idType out of range';
      if (p.data.length > MAX_BODY_LEN - 4) return 'identification data too long';
      return null;
    },
  };
  return codec;
}

export const idi = idCodec(PayloadType.IDi, 'IDi');
export const idr = idCodec(PayloadType.IDr, 'IDr');
