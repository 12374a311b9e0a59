// Certificate Request payload (RFC 7296 §3.7).
import { PayloadType } from '../constants.ts';
import { assertValid, isUint, ok, syntax, withPrefix } from './bytes.ts';
import { MAX_BODY_LEN, type PayloadCodec } from './payload-codec.ts';
import type { CertReqPayload } from './types.ts';

/*
    0                   1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Next Payload  |C|  RESERVED   |         Payload Length        |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   | Cert Encoding |                                               |
   +-+-+-+-+-+-+-+-+                                               |
   ~                    Certification Authority                    ~
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
*/

/** Length of one CA entry for X.509 encodings: a SHA-1 hash of the CA's SubjectPublicKeyInfo. */
export const CA_HASH_LEN = 20;

/** The CA hashes of an X.509 CERTREQ; a trailing partial entry is ignored, as peers differ on padding. */
export function caHashes(p: CertReqPayload): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off + CA_HASH_LEN <= p.data.length; off += CA_HASH_LEN) out.push(p.data.slice(off, off + CA_HASH_LEN));
  return out;
}

export const certreq: PayloadCodec<CertReqPayload> = {
  type: PayloadType.CERTREQ,
  name: 'CERTREQ',
  decode(body) {
    if (body.length < 1) return syntax('CERTREQ payload without Cert Encoding');
    // Not checked as a multiple of 20: an empty CA list is common, and a request is only a hint (§3.7).
    return ok({ type: PayloadType.CERTREQ, encoding: body[0] ?? 0, data: body.slice(1) });
  },
  encode(p) {
    assertValid(certreq.verify(p), 'CERTREQ');
    return withPrefix([p.encoding], p.data);
  },
  verify(p) {
    if (!isUint(p.encoding, 0xff)) return 'encoding out of range';
    if (p.data.length > MAX_BODY_LEN - 1) return 'certification authority data too long';
    return null;
  },
};
