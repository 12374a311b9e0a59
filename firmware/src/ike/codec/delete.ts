// Delete payload (RFC 7296 §3.11).
import { PayloadType } from '../constants.ts';
import { assertValid, concat, isUint, ok, syntax, u16 } from './bytes.ts';
import { MAX_BODY_LEN, type PayloadCodec } from './payload-codec.ts';
import type { DeletePayload } from './types.ts';

/*
    0                   1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Next Payload  |C|  RESERVED   |         Payload Length        |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Protocol ID   |   SPI Size    |          Num of SPIs          |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~               Security Parameter Index(es) (SPI)              ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
*/

export const del: PayloadCodec<DeletePayload> = {
  type: PayloadType.DELETE,
  name: 'D',
  decode(body) {
    if (body.length < 4) return syntax(`Delete payload body too short (${body.length})`);
    const spiSize = body[1] ?? 0;
    const count = u16(body, 2);
    if (spiSize === 0 && count !== 0) return syntax(`Delete lists ${count} SPIs of size 0`);
    if (spiSize * count !== body.length - 4) {
      return syntax(`Delete: ${count} SPIs of ${spiSize} octets do not fill ${body.length - 4} octets`);
    }
    const spis: Uint8Array[] = [];
    for (let i = 0; i < count; i++) spis.push(body.slice(4 + i * spiSize, 4 + (i + 1) * spiSize));
    return ok({ type: PayloadType.DELETE, protocolId: body[0] ?? 0, spis });
  },
  encode(p) {
    assertValid(del.verify(p), 'Delete');
    const spiSize = p.spis[0]?.length ?? 0;
    return concat([Uint8Array.of(p.protocolId, spiSize, p.spis.length >>> 8, p.spis.length & 0xff), ...p.spis]);
  },
  verify(p) {
    if (!isUint(p.protocolId, 0xff)) return 'protocolId out of range';
    const spiSize = p.spis[0]?.length ?? 0;
    if (spiSize === 0 && p.spis.length > 0) return 'empty SPI in the list';
    if (spiSize > 0xff) return 'SPI longer than 255 octets';
    if (p.spis.some((s) => s.length !== spiSize)) return 'SPIs of different sizes';
    if (4 + spiSize * p.spis.length > MAX_BODY_LEN) return 'too many SPIs';
    return null;
  },
};
