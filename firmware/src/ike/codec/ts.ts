// Traffic Selector payloads TSi and TSr (RFC 7296 §3.13, §3.13.1): IPv4 and IPv6 address ranges.
import { PayloadType, TsType } from '../constants.ts';
import { assertValid, concat, isUint, ok, syntax, u16 } from './bytes.ts';
import { MAX_BODY_LEN, type PayloadCodec } from './payload-codec.ts';
import type { TrafficSelector, TsPayload } from './types.ts';

/*
                        1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Next Payload  |C|  RESERVED   |         Payload Length        |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Number of TSs |                 RESERVED                      |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                       <Traffic Selectors>                     ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

   Traffic Selector:
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |   TS Type     |IP Protocol ID*|       Selector Length         |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |           Start Port*         |           End Port*           |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                         Starting Address*                     ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                         Ending Address*                       ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
*/

const SELECTOR_HEADER_LEN = 8;

/** Address octets per TS type; other types (e.g. RFC 4595 Fibre Channel) are not understood. */
function addrLen(tsType: number): number | undefined {
  if (tsType === TsType.TS_IPV4_ADDR_RANGE) return 4;
  if (tsType === TsType.TS_IPV6_ADDR_RANGE) return 16;
  return undefined;
}

function verifySelector(s: TrafficSelector): string | null {
  const n = addrLen(s.tsType);
  if (n === undefined) return `unsupported TS type ${s.tsType}`;
  if (s.startAddr.length !== n || s.endAddr.length !== n) return `TS type ${s.tsType} needs ${n}-octet addresses`;
  if (!isUint(s.ipProtocol, 0xff)) return 'ipProtocol out of range';
  // startPort > endPort is legal: RFC 7296 §3.13.1 uses 65535..0 to mean OPAQUE ports.
  if (!isUint(s.startPort, 0xffff) || !isUint(s.endPort, 0xffff)) return 'port out of range';
  return null;
}

function tsCodec(type: typeof PayloadType.TSi | typeof PayloadType.TSr, name: string): PayloadCodec<TsPayload> {
  const codec: PayloadCodec<TsPayload> = {
    type,
    name,
    decode(body) {
      if (body.length < 4) return syntax(`${name} payload body too short (${body.length})`);
      const count = body[0] ?? 0;
      const selectors: TrafficSelector[] = [];
      let off = 4;
      for (let i = 0; i < count; i++) {
        if (off + SELECTOR_HEADER_LEN > body.length) return syntax(`${name}: selector ${i + 1} of ${count} truncated`);
        const tsType = body[off] ?? 0;
        const selLen = u16(body, off + 2);
        const n = addrLen(tsType);
        if (n === undefined) return syntax(`${name}: unsupported TS type ${tsType}`);
        if (selLen !== SELECTOR_HEADER_LEN + 2 * n) return syntax(`${name}: selector length ${selLen} for TS type ${tsType}`);
        if (off + selLen > body.length) return syntax(`${name}: selector ${i + 1} overruns the payload`);
        const a = off + SELECTOR_HEADER_LEN;
        selectors.push({
          tsType,
          ipProtocol: body[off + 1] ?? 0,
          startPort: u16(body, off + 4),
          endPort: u16(body, off + 6),
          startAddr: body.slice(a, a + n),
          endAddr: body.slice(a + n, a + 2 * n),
        });
        off += selLen;
      }
      if (off !== body.length) return syntax(`${name}: ${body.length - off} octets after ${count} selectors`);
      return ok({ type, selectors });
    },
    encode(p) {
      assertValid(codec.verify(p), name);
      const parts: Uint8Array[] = [Uint8Array.of(p.selectors.length, 0, 0, 0)];
      for (const s of p.selectors) {
        const len = SELECTOR_HEADER_LEN + s.startAddr.length * 2;
        parts.push(
          Uint8Array.of(s.tsType, s.ipProtocol, len >>> 8, len & 0xff, s.startPort >>> 8, s.startPort & 0xff, s.endPort >>> 8, s.endPort & 0xff),
          s.startAddr,
          s.endAddr,
        );
      }
      return concat(parts);
    },
    verify(p) {
      if (p.selectors.length > 0xff) return 'more than 255 traffic selectors';
      let len = 4;
      for (const s of p.selectors) {
        const err = verifySelector(s);
        if (err !== null) return err;
        len += SELECTOR_HEADER_LEN + 2 * s.startAddr.length;
      }
      return len > MAX_BODY_LEN ? 'traffic selectors too long' : null;
    },
  };
  return codec;
}

export const tsi = tsCodec(PayloadType.TSi, 'TSi');
export const tsr = tsCodec(PayloadType.TSr, 'TSr');
