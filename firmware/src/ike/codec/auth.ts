// Authentication payload (RFC 7296 §3.8).
import { PayloadType } from '../constants.ts';
import { assertValid, isUint, ok, syntax, withPrefix } from './bytes.ts';
import { MAX_BODY_LEN, type PayloadCodec } from './payload-codec.ts';
import type { AuthPayload } from './types.ts';

/*
    0                   1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Next Payload  |C|  RESERVED   |         Payload Length        |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Auth Method   |                RESERVED                       |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                      Authentication Data                      ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
*/

export const auth: PayloadCodec<AuthPayload> = {
  type: PayloadType.AUTH,
  name: 'AUTH',
  decode(body) {
    if (body.length < 4) return syntax(`AUTH payload body too short (${body.length})`);
    return ok({ type: PayloadType.AUTH, method: body[0] ?? 0, data: body.slice(4) });
  },
  encode(p) {
    assertValid(auth.verify(p), 'AUTH');
    return withPrefix([p.method, 0, 0, 0], p.data);
  },
  verify(p) {
    if (!isUint(p.method, 0xff)) return 'method out of range';
    if (p.data.length > MAX_BODY_LEN - 4) return 'authentication data too long';
    return null;
  },
};
