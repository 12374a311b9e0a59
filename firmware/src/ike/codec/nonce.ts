// Nonce payload (RFC 7296 §3.9): 16 to 256 octets.
import { PayloadType } from '../constants.ts';
import { assertValid, ok, syntax } from './bytes.ts';
import type { PayloadCodec } from './payload-codec.ts';
import type { NoncePayload } from './types.ts';

/*
    0                   1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Next Payload  |C|  RESERVED   |         Payload Length        |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                            Nonce Data                         ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
*/

export const NONCE_MIN_LEN = 16;
export const NONCE_MAX_LEN = 256;

export const nonce: PayloadCodec<NoncePayload> = {
  type: PayloadType.NONCE,
  name: 'NONCE',
  decode(body) {
    const p: NoncePayload = { type: PayloadType.NONCE, data: body.slice() };
    const err = nonce.verify(p);
    return err === null ? ok(p) : syntax(err);
  },
  encode(p) {
    assertValid(nonce.verify(p), 'NONCE');
    return p.data.slice();
  },
  verify(p) {
    if (p.data.length < NONCE_MIN_LEN || p.data.length > NONCE_MAX_LEN) {
      return `nonce of ${p.data.length} octets, must be ${NONCE_MIN_LEN}..${NONCE_MAX_LEN}`;
    }
    return null;
  },
};
