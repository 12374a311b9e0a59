// Security Association payload: proposals, transforms and transform attributes (RFC 7296 §3.3).
import { PayloadType, TransformAttr } from '../constants.ts';
import { assertValid, concat, isUint, ok, syntax, u16 } from './bytes.ts';
import { MAX_BODY_LEN, type PayloadCodec } from './payload-codec.ts';
import type { Decoded, Proposal, SaPayload, Transform } from './types.ts';

/*
    0                   1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Next Payload  |C|  RESERVED   |         Payload Length        |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                          <Proposals>                          ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

   Proposal Substructure (§3.3.1), Last Substruc = 0 (last) or 2 (more):
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Last Substruc |   RESERVED    |         Proposal Length       |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Proposal Num  |  Protocol ID  |    SPI Size   |Num  Transforms|
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                        SPI (variable)                         ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                        <Transforms>                           ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

   Transform Substructure (§3.3.2), Last Substruc = 0 (last) or 3 (more):
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Last Substruc |   RESERVED    |        Transform Length       |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |Transform Type |   RESERVED    |          Transform ID         |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   ~                      Transform Attributes                     ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

   Data Attribute (§3.3.5), AF = 1: TV (value in the second half), AF = 0: TLV:
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |A|       Attribute Type        |    AF=0  Attribute Length     |
   |F|                             |    AF=1  Attribute Value      |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |                   AF=0  Attribute Value                       |
   |                   AF=1  Not Transmitted                       |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
*/

const PROPOSAL_HEADER_LEN = 8;
const TRANSFORM_HEADER_LEN = 8;
const LAST = 0;
const MORE_PROPOSALS = 2;
const MORE_TRANSFORMS = 3;
const AF_TV = 0x8000;

function decodeAttributes(buf: Uint8Array, t: Transform): string | null {
  let off = 0;
  while (off < buf.length) {
    if (off + 4 > buf.length) return 'transform attribute truncated';
    const word = u16(buf, off);
    const type = word & 0x7fff;
    const tv = (word & AF_TV) !== 0;
    const len = tv ? 0 : u16(buf, off + 2);
    if (off + 4 + len > buf.length) return `transform attribute ${type} length ${len} overruns the transform`;
    if (tv && type === TransformAttr.KEY_LENGTH) {
      if (t.keyLength !== undefined) return 'duplicate Key Length attribute';
      t.keyLength = u16(buf, off + 2);
    } else {
      // Includes a TLV-encoded Key Length: not what §3.3.5 allows, so the proposal is treated as not understood.
      (t.unknownAttributes ??= []).push(type);
    }
    off += 4 + len;
  }
  return null;
}

function decodeTransforms(buf: Uint8Array, count: number, where: string): Decoded<Transform[]> {
  const out: Transform[] = [];
  let off = 0;
  for (let i = 0; i < count; i++) {
    if (off + TRANSFORM_HEADER_LEN > buf.length) return syntax(`${where}: transform ${i + 1} of ${count} truncated`);
    const last = buf[off] ?? 0;
    const len = u16(buf, off + 2);
    if (len < TRANSFORM_HEADER_LEN) return syntax(`${where}: transform length ${len} too small`);
    if (off + len > buf.length) return syntax(`${where}: transform ${i + 1} length ${len} overruns the proposal`);
    const isLast = i === count - 1;
    if (last !== (isLast ? LAST : MORE_TRANSFORMS)) {
      return syntax(`${where}: transform ${i + 1} of ${count} has Last Substruc ${last}`);
    }
    const t: Transform = { type: buf[off + 4] ?? 0, id: u16(buf, off + 6) };
    const err = decodeAttributes(buf.subarray(off + TRANSFORM_HEADER_LEN, off + len), t);
    if (err !== null) return syntax(`${where}: ${err}`);
    out.push(t);
    off += len;
  }
  if (off !== buf.length) return syntax(`${where}: ${buf.length - off} octets after ${count} transforms`);
  return ok(out);
}

function decodeProposals(body: Uint8Array): Decoded<Proposal[]> {
  const out: Proposal[] = [];
  let off = 0;
  while (off < body.length) {
    const where = `proposal ${out.length + 1}`;
    if (off + PROPOSAL_HEADER_LEN > body.length) return syntax(`${where} truncated`);
    const last = body[off] ?? 0;
    const len = u16(body, off + 2);
    const num = body[off + 4] ?? 0;
    const spiSize = body[off + 6] ?? 0;
    const numTransforms = body[off + 7] ?? 0;
    if (len < PROPOSAL_HEADER_LEN + spiSize) return syntax(`${where}: length ${len} too small`);
    if (off + len > body.length) return syntax(`${where}: length ${len} overruns the SA payload`);
    const isLast = off + len === body.length;
    if (last !== (isLast ? LAST : MORE_PROPOSALS)) return syntax(`${where}: Last Substruc ${last} does not match`);
    const prev = out[out.length - 1];
    // §3.3.1: the first is 1 in an offer and the chosen number in an answer; each next one is one more.
    if (num === 0 || (prev !== undefined && num !== prev.num + 1)) return syntax(`${where}: Proposal Num ${num} out of sequence`);
    const spiEnd = off + PROPOSAL_HEADER_LEN + spiSize;
    const transforms = decodeTransforms(body.subarray(spiEnd, off + len), numTransforms, where);
    if (!transforms.ok) return transforms;
    out.push({ num, protocolId: body[off + 5] ?? 0, spi: body.slice(off + PROPOSAL_HEADER_LEN, spiEnd), transforms: transforms.value });
    off += len;
  }
  if (out.length === 0) return syntax('SA payload without proposals');
  return ok(out);
}

function encodeTransform(t: Transform, isLast: boolean): Uint8Array {
  const attrs: number[] = [];
  if (t.keyLength !== undefined) attrs.push(0x80 | (TransformAttr.KEY_LENGTH >>> 8), TransformAttr.KEY_LENGTH & 0xff, t.keyLength >>> 8, t.keyLength & 0xff);
  // Only the types of unknown attributes are kept; they are re-sent as TV attributes with value 0.
  for (const a of t.unknownAttributes ?? []) attrs.push(0x80 | (a >>> 8), a & 0xff, 0, 0);
  const len = TRANSFORM_HEADER_LEN + attrs.length;
  return Uint8Array.of(isLast ? LAST : MORE_TRANSFORMS, 0, len >>> 8, len & 0xff, t.type, 0, t.id >>> 8, t.id & 0xff, ...attrs);
}

function encodeProposal(p: Proposal, isLast: boolean): Uint8Array {
  const transforms = p.transforms.map((t, i) => encodeTransform(t, i === p.transforms.length - 1));
  const len = PROPOSAL_HEADER_LEN + p.spi.length + transforms.reduce((n, t) => n + t.length, 0);
  const head = Uint8Array.of(isLast ? LAST : MORE_PROPOSALS, 0, len >>> 8, len & 0xff, p.num, p.protocolId, p.spi.length, p.transforms.length);
  return concat([head, p.spi, ...transforms]);
}

function verifyTransform(t: Transform): string | null {
  if (!isUint(t.type, 0xff) || !isUint(t.id, 0xffff)) return 'transform type/id out of range';
  if (t.keyLength !== undefined && !isUint(t.keyLength, 0xffff)) return 'keyLength out of range';
  if ((t.unknownAttributes ?? []).some((a) => !isUint(a, 0x7fff))) return 'attribute type out of range';
  return null;
}

export const sa: PayloadCodec<SaPayload> = {
  type: PayloadType.SA,
  name: 'SA',
  decode(body) {
    const proposals = decodeProposals(body);
    return proposals.ok ? ok({ type: PayloadType.SA, proposals: proposals.value }) : proposals;
  },
  encode(p) {
    assertValid(sa.verify(p), 'SA');
    return concat(p.proposals.map((x, i) => encodeProposal(x, i === p.proposals.length - 1)));
  },
  verify(p) {
    if (p.proposals.length === 0) return 'no proposals';
    let len = 0;
    for (const [i, x] of p.proposals.entries()) {
      const first = p.proposals[0]?.num ?? 1;
      if (!isUint(x.num, 0xff) || x.num !== first + i || x.num === 0) return `proposal numbers must run ${first}, ${first + 1}, ...`;
      if (!isUint(x.protocolId, 0xff)) return 'protocolId out of range';
      if (x.spi.length > 0xff) return 'SPI longer than 255 octets';
      if (x.transforms.length > 0xff) return 'more than 255 transforms';
      for (const t of x.transforms) {
        const err = verifyTransform(t);
        if (err !== null) return err;
        len += TRANSFORM_HEADER_LEN + 4 * ((t.keyLength === undefined ? 0 : 1) + (t.unknownAttributes?.length ?? 0));
      }
      len += PROPOSAL_HEADER_LEN + x.spi.length;
    }
    return len > MAX_BODY_LEN ? 'SA payload too long' : null;
  },
};
