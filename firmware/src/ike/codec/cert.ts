// Certificate payload (RFC 7296 §3.6).
import { PayloadType } from '../constants.ts';
import { assertValid, isUint, ok, syntax, withPrefix } from './bytes.ts';
import { MAX_BODY_LEN, type PayloadCodec } from './payload-codec.ts';
import type { CertPayload } from './types.ts';

/*
    0                   1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Next Payload  |C|  RESERVED   |         Payload Length        |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Cert Encoding |                                               |
   +-+-+-+-+-+-+-+-+                                               |
   ~                       Certificate Data                        ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
*/

export const cert: PayloadCodec<CertPayload> = {
  type: PayloadType.CERT,
  name: 'CERT',
  decode(body) {
    if (body.length < 1) return syntax('CERT payload without Cert Encoding');
    return ok({ type: PayloadType.CERT, encoding: body[0] ?? 0, data: body.slice(1) });
  },
  encode(p) {
    assertValid(cert.verify(p), 'CERT');
    return withPrefix([p.encoding], p.data);
  },
  verify(p) {
    if (!isUint(p.encoding, 0xff)) return 'encoding out of range';
    if (p.data.length > MAX_BODY_LEN - 1) return 'certificate data too long';
    return null;
  },
};
