// Vendor ID payload (RFC 7296 §3.12).
import { PayloadType } from '../constants.ts';
import { assertValid, ok } from './bytes.ts';
import { MAX_BODY_LEN, type PayloadCodec } from './payload-codec.ts';
import type { VendorPayload } from './types.ts';

/*
    0                   1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Next Payload  |C|  RESERVED   |         Payload Length        |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                        Vendor ID (VID)                        ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
*/

export const vendor: PayloadCodec<VendorPayload> = {
  type: PayloadType.VENDOR,
  name: 'V',
  decode(body) {
    return ok({ type: PayloadType.VENDOR, data: body.slice() });
  },
  encode(p) {
    assertValid(vendor.verify(p), 'VENDOR');
    return p.data.slice();
  },
  verify(p) {
    return p.data.length > MAX_BODY_LEN ? 'vendor ID too long' : null;
  },
};
