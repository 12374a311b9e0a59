// Encrypted Fragment payload SKF (RFC 7383 §2.5), carried undecrypted here; fragment.ts seals and reassembles.
import { PayloadType } from '../constants.ts';
import { assertValid, isUint, ok, syntax, u16, withPrefix } from './bytes.ts';
import { MAX_BODY_LEN, type PayloadCodec } from './payload-codec.ts';
import type { SkfPayload } from './types.ts';

/*
                        1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Next Payload  |C|  RESERVED   |         Payload Length        |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |        Fragment Number        |        Total Fragments        |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |                   Initialization Vector                       |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                      Encrypted content                        ~
   +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |               |             Padding (0-255 octets)            |
   +-+-+-+-+-+-+-+-+                               +-+-+-+-+-+-+-+-+
   |                                               |  Pad Length   |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                    Integrity Checksum Data                    ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

   Next Payload is the first inner payload's type in fragment 1 and zero in the others.
*/

/** Octets of the SKF payload before the IV: generic header + Fragment Number + Total Fragments. */
export const SKF_HEADER_LEN = 8;

export const skf: PayloadCodec<SkfPayload> = {
  type: PayloadType.SKF,
  name: 'SKF',
  decode(body, nextField) {
    if (body.length < 4) return syntax(`SKF payload body too short (${body.length})`);
    const fragmentNumber = u16(body, 0);
    const totalFragments = u16(body, 2);
    // RFC 7383 §2.6: such fragments are discarded before any decryption.
    if (totalFragments === 0) return syntax('SKF Total Fragments is zero');
    if (fragmentNumber === 0 || fragmentNumber > totalFragments) {
      return syntax(`SKF Fragment Number ${fragmentNumber} outside 1..${totalFragments}`);
    }
    return ok({ type: PayloadType.SKF, innerNext: nextField, fragmentNumber, totalFragments, body: body.slice(4) });
  },
  encode(p) {
    assertValid(skf.verify(p), 'SKF');
    return withPrefix(
      [p.fragmentNumber >>> 8, p.fragmentNumber & 0xff, p.totalFragments >>> 8, p.totalFragments & 0xff],
      p.body,
    );
  },
  verify(p) {
    if (!isUint(p.innerNext, 0xff)) return 'innerNext out of range';
    if (!isUint(p.totalFragments, 0xffff) || p.totalFragments === 0) return 'totalFragments out of range';
    if (!isUint(p.fragmentNumber, 0xffff) || p.fragmentNumber === 0 || p.fragmentNumber > p.totalFragments) {
      return 'fragmentNumber out of range';
    }
    if (p.fragmentNumber !== 1 && p.innerNext !== 0) return 'only fragment 1 names the first inner payload';
    return p.body.length > MAX_BODY_LEN - 4 ? 'SKF body too long' : null;
  },
  nextField: (p) => p.innerNext,
};
