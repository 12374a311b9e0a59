// Notify payload (RFC 7296 §3.10).
import { PayloadType } from '../constants.ts';
import { assertValid, concat, isUint, ok, syntax, u16 } from './bytes.ts';
import { MAX_BODY_LEN, type PayloadCodec } from './payload-codec.ts';
import type { NotifyPayload } from './types.ts';

/*
    0                   1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Next Payload  |C|  RESERVED   |         Payload Length        |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |  Protocol ID  |   SPI Size    |      Notify Message Type      |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                Security Parameter Index (SPI)                 ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                       Notification Data                       ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
*/

export const notify: PayloadCodec<NotifyPayload> = {
  type: PayloadType.NOTIFY,
  name: 'N',
  decode(body) {
    if (body.length < 4) return syntax(`Notify payload body too short (${body.length})`);
    const spiSize = body[1] ?? 0;
    if (4 + spiSize > body.length) return syntax(`Notify SPI size ${spiSize} overruns the payload`);
    return ok({
      type: PayloadType.NOTIFY,
      protocolId: body[0] ?? 0,
      spi: body.slice(4, 4 + spiSize),
      notifyType: u16(body, 2),
      data: body.slice(4 + spiSize),
    });
  },
  encode(p) {
    assertValid(notify.verify(p), 'Notify');
    return concat([Uint8Array.of(p.protocolId, p.spi.length, p.notifyType >>> 8, p.notifyType & 0xff), p.spi, p.data]);
  },
  verify(p) {
    if (!isUint(p.protocolId, 0xff)) return 'protocolId out of range';
    if (!isUint(p.notifyType, 0xffff)) return 'notifyType out of range';
    if (p.spi.length > 0xff) return 'SPI longer than 255 octets';
    if (4 + p.spi.length + p.data.length > MAX_BODY_LEN) return 'notification data too long';
    return null;
  },
};
