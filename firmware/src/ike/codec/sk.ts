// Encrypted payload SK (RFC 7296 §3.14), carried undecrypted here; protect.ts seals and opens it.
import { PayloadType } from '../constants.ts';
import { assertValid, isUint, ok } from './bytes.ts';
import { MAX_BODY_LEN, type PayloadCodec } from './payload-codec.ts';
import type { SkPayload } from './types.ts';

/*
    0                   1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Next Payload  |C|  RESERVED   |         Payload Length        |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |                     Initialization Vector                     |
   |         (length is block size for encryption algorithm)       |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                    Encrypted IKE Payloads                     ~
   +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |               |             Padding (0-255 octets)            |
   +-+-+-+-+-+-+-+-+                               +-+-+-+-+-+-+-+-+
   |                                               |  Pad Length   |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                    Integrity Checksum Data                    ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

   Next Payload is the type of the first payload inside (innerNext).
*/

export const sk: PayloadCodec<SkPayload> = {
  type: PayloadType.SK,
  name: 'SK',
  // IV/ICV lengths depend on the negotiated transform, so the body's inner structure is checked by openSk.
  decode(body, nextField) {
    return ok({ type: PayloadType.SK, innerNext: nextField, body: body.slice() });
  },
  encode(p) {
    assertValid(sk.verify(p), 'SK');
    return p.body.slice();
  },
  verify(p) {
    if (!isUint(p.innerNext, 0xff)) return 'innerNext out of range';
    return p.body.length > MAX_BODY_LEN ? 'SK body too long' : null;
  },
  nextField: (p) => p.innerNext,
};
