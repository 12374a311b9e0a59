// Key Exchange payload (RFC 7296 §3.4).
import { PayloadType } from '../constants.ts';
import { assertValid, isUint, ok, syntax, u16, withPrefix } from './bytes.ts';
import { MAX_BODY_LEN, type PayloadCodec } from './payload-codec.ts';
import type { KePayload } from './types.ts';

/*
    0                   1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Next Payload  |C|  RESERVED   |         Payload Length        |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |   Diffie-Hellman Group Num    |           RESERVED            |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                       Key Exchange Data                       ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
*/

export const ke: PayloadCodec<KePayload> = {
  type: PayloadType.KE,
  name: 'KE',
  decode(body) {
    if (body.length < 4) return syntax(`KE payload body too short (${body.length})`);
    // The data length is checked against the group by the key exchange itself (INVALID_KE_PAYLOAD vs syntax).
    return ok({ type: PayloadType.KE, dhGroup: u16(body, 0), data: body.slice(4) });
  },
  encode(p) {
    assertValid(ke.verify(p), 'KE');
    return withPrefix([p.dhGroup >>> 8, p.dhGroup & 0xff, 0, 0], p.data);
  },
  verify(p) {
    if (!isUint(p.dhGroup, 0xffff)) return 'dhGroup out of range';
    if (p.data.length > MAX_BODY_LEN - 4) return 'key exchange data too long';
    return null;
  },
};
