// EAP payload carrying one RFC 3748 packet (RFC 7296 §3.16).
import { PayloadType } from '../constants.ts';
import { assertValid, isUint, ok, syntax, u16, withPrefix } from './bytes.ts';
import { MAX_BODY_LEN, type PayloadCodec } from './payload-codec.ts';
import type { EapPayload } from './types.ts';

/*
                        1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Next Payload  |C|  RESERVED   |         Payload Length        |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                       EAP Message                             ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

   EAP Message (RFC 3748 §4):
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |     Code      | Identifier    |           Length              |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |     Type      | Type_Data...
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
*/

export const EapCode = { REQUEST: 1, RESPONSE: 2, SUCCESS: 3, FAILURE: 4 } as const;

/** Success and Failure carry no Type octet (RFC 3748 §4.2); every other code does. */
function hasType(code: number): boolean {
  return code !== EapCode.SUCCESS && code !== EapCode.FAILURE;
}

export const eap: PayloadCodec<EapPayload> = {
  type: PayloadType.EAP,
  name: 'EAP',
  decode(body) {
    if (body.length < 4) return syntax(`EAP message too short (${body.length})`);
    const len = u16(body, 2);
    if (len !== body.length) return syntax(`EAP Length ${len} differs from the payload's ${body.length}`);
    const code = body[0] ?? 0;
    const identifier = body[1] ?? 0;
    if (!hasType(code)) return ok({ type: PayloadType.EAP, code, identifier, data: body.slice(4) });
    if (body.length < 5) return syntax(`EAP code ${code} without a Type`);
    return ok({ type: PayloadType.EAP, code, identifier, eapType: body[4] ?? 0, data: body.slice(5) });
  },
  encode(p) {
    assertValid(eap.verify(p), 'EAP');
    const len = 4 + (p.eapType === undefined ? 0 : 1) + p.data.length;
    const prefix = [p.code, p.identifier, len >>> 8, len & 0xff];
    if (p.eapType !== undefined) prefix.push(p.eapType);
    return withPrefix(prefix, p.data);
  },
  verify(p) {
    if (!isUint(p.code, 0xff) || !isUint(p.identifier, 0xff)) return 'code/identifier out of range';
    if (hasType(p.code) && p.eapType === undefined) return `EAP code ${p.code} needs a Type`;
    if (!hasType(p.code) && p.eapType !== undefined) return `EAP code ${p.code} has no Type`;
    if (p.eapType !== undefined && !isUint(p.eapType, 0xff)) return 'eapType out of range';
    return 5 + p.data.length > MAX_BODY_LEN ? 'EAP message too long' : null;
  },
};
