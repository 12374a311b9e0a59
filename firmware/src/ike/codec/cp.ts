// Configuration payload CP and its attributes (RFC 7296 §3.15, §3.15.1).
import { PayloadType } from '../constants.ts';
import { assertValid, concat, isUint, ok, syntax, u16 } from './bytes.ts';
import { MAX_BODY_LEN, type PayloadCodec } from './payload-codec.ts';
import type { CfgAttribute, CpPayload } from './types.ts';

/*
                        1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Next Payload  |C| RESERVED    |         Payload Length        |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |   CFG Type    |                    RESERVED                   |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                   Configuration Attributes                    ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

   Configuration Attribute:
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |R|         Attribute Type      |            Length             |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                             Value                             ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
*/

const ATTR_HEADER_LEN = 4;

export const cp: PayloadCodec<CpPayload> = {
  type: PayloadType.CP,
  name: 'CP',
  decode(body) {
    if (body.length < 4) return syntax(`CP payload body too short (${body.length})`);
    const attributes: CfgAttribute[] = [];
    let off = 4;
    while (off < body.length) {
      if (off + ATTR_HEADER_LEN > body.length) return syntax('CP attribute header truncated');
      const type = u16(body, off) & 0x7fff; // R bit is reserved: ignored on receipt
      const len = u16(body, off + 2);
      const start = off + ATTR_HEADER_LEN;
      if (start + len > body.length) return syntax(`CP attribute ${type} length ${len} overruns the payload`);
      attributes.push({ type, value: body.slice(start, start + len) });
      off = start + len;
    }
    return ok({ type: PayloadType.CP, cfgType: body[0] ?? 0, attributes });
  },
  encode(p) {
    assertValid(cp.verify(p), 'CP');
    const parts: Uint8Array[] = [Uint8Array.of(p.cfgType, 0, 0, 0)];
    for (const a of p.attributes) {
      parts.push(Uint8Array.of(a.type >>> 8, a.type & 0xff, a.value.length >>> 8, a.value.length & 0xff), a.value);
    }
    return concat(parts);
  },
  verify(p) {
    if (!isUint(p.cfgType, 0xff)) return 'cfgType out of range';
    let len = 4;
    for (const a of p.attributes) {
      if (!isUint(a.type, 0x7fff)) return `attribute type ${a.type} out of range`;
      len += ATTR_HEADER_LEN + a.value.length;
    }
    return len > MAX_BODY_LEN ? 'CP attributes too long' : null;
  },
};
