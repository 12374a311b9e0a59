// Sealing and opening the Encrypted payload SK (RFC 7296 §3.14; AEAD layout per RFC 5282 §3).
import type { SkTransform } from '../../crypto/types.ts';
import { PayloadType } from '../constants.ts';
import { concat, ok, putU16, syntax } from './bytes.ts';
import { encodeHeader, HEADER_LEN } from './header.ts';
import { encodePayloads, walkPayloads, type HeaderFields } from './message.ts';
import { GENERIC_HEADER_LEN, MAX_BODY_LEN } from './payload-codec.ts';
import type { Decoded, IkeMessage, Payload } from './types.ts';

/*
   What is protected (§3.14, RFC 5282 §5.1):
     aad        = IKE header (length final) || SK generic header       (every octet before the IV)
     plaintext  = inner payloads || Padding || Pad Length
     on the wire: aad || IV || ciphertext || ICV
   The ICV covers aad||IV||ciphertext for CBC+HMAC and aad as associated data for AEAD; the SkTransform decides.
*/

/** Padding so that content + padding + the Pad Length octet fill whole cipher blocks (minimum padding). */
export function padPlaintext(content: Uint8Array, blockLen: number): Uint8Array {
  const bl = Math.max(1, blockLen);
  const padLen = (bl - ((content.length + 1) % bl)) % bl;
  const out = new Uint8Array(content.length + padLen + 1);
  out.set(content, 0);
  out[out.length - 1] = padLen; // padding octets stay zero: §3.14 lets them hold any value
  return out;
}

/** Strips Padding and Pad Length; any pad length that fits is accepted (§3.14: "MUST accept any length"). */
export function unpadPlaintext(pt: Uint8Array): Uint8Array | null {
  if (pt.length < 1) return null;
  const padLen = pt[pt.length - 1] ?? 0;
  if (padLen + 1 > pt.length) return null;
  return pt.subarray(0, pt.length - 1 - padLen);
}

/**
 * Seals `plaintext` (already padded) into an encrypted payload that ends the message:
 * prefix = header||payload-header fields before the IV, whose lengths must already be final.
 */
export function sealBody(aad: Uint8Array, plaintext: Uint8Array, sk: SkTransform, random: (n: number) => Uint8Array): Uint8Array {
  const iv = random(sk.ivLen);
  if (iv.length !== sk.ivLen) throw new RangeError(`random(${sk.ivLen}) returned ${iv.length} octets`);
  const sealed = sk.seal(aad, iv, plaintext);
  if (sealed.length !== plaintext.length + sk.icvLen) {
    throw new RangeError(`SkTransform.seal returned ${sealed.length} octets, expected ${plaintext.length + sk.icvLen}`);
  }
  return concat([aad, iv, sealed]);
}

/** The encrypted payload's wire length for a padded plaintext: what goes in its generic header. */
export function encryptedPayloadLen(prefixLen: number, plaintextLen: number, sk: SkTransform): number {
  return prefixLen + sk.ivLen + plaintextLen + sk.icvLen;
}

/** The whole message `header { SK { inner } }` as bytes, ready to send. Throws only on bad local input. */
export function sealSk(header: HeaderFields, inner: readonly Payload[], sk: SkTransform, random: (n: number) => Uint8Array): Uint8Array {
  const { first, bytes } = encodePayloads(inner);
  const plaintext = padPlaintext(bytes, sk.blockLen);
  const skLen = encryptedPayloadLen(GENERIC_HEADER_LEN, plaintext.length, sk);
  if (skLen - GENERIC_HEADER_LEN > MAX_BODY_LEN) throw new RangeError(`SK payload of ${skLen} octets: fragment it`);
  // The length goes into the header before the aad is taken: the ICV covers it.
  const head = encodeHeader({ ...header, nextPayload: PayloadType.SK, length: HEADER_LEN + skLen });
  const skHead = Uint8Array.of(first, 0, 0, 0);
  putU16(skHead, 2, skLen);
  return sealBody(concat([head, skHead]), plaintext, sk, random);
}

/**
 * Authenticates and decrypts the encrypted payload that ends `raw` (IV||ciphertext||ICV = the last
 * `bodyLen` octets), returning the unpadded inner octets. Auth failures carry no notify: §2.21.2 drops them.
 */
export function openBody(raw: Uint8Array, bodyLen: number, sk: SkTransform): Decoded<Uint8Array> {
  if (bodyLen > raw.length) return syntax('encrypted payload longer than the message');
  const ctLen = bodyLen - sk.ivLen - sk.icvLen;
  if (ctLen < 1) return syntax(`encrypted payload of ${bodyLen} octets is too short for IV, Pad Length and ICV`);
  if (sk.blockLen > 1 && ctLen % sk.blockLen !== 0) return syntax(`ciphertext of ${ctLen} octets is not whole blocks`);
  const start = raw.length - bodyLen;
  const aad = raw.subarray(0, start);
  const iv = raw.subarray(start, start + sk.ivLen);
  const pt = sk.open(aad, iv, raw.subarray(start + sk.ivLen));
  if (pt === null) return { ok: false, error: 'integrity check failed' };
  const content = unpadPlaintext(pt);
  if (content === null) return syntax('Pad Length exceeds the decrypted payload');
  return ok(content);
}

/** Opens the SK payload that ends `msg` (decoded from `raw`) and decodes the payloads inside it. */
export function openSk(raw: Uint8Array, msg: IkeMessage, sk: SkTransform): Decoded<Payload[]> {
  const last = msg.payloads[msg.payloads.length - 1];
  if (last === undefined || last.type !== PayloadType.SK || !('innerNext' in last)) {
    return syntax('message does not end with an SK payload');
  }
  if (msg.header.length !== raw.length) return syntax('raw octets do not match the decoded header');
  const content = openBody(raw, last.body.length, sk);
  if (!content.ok) return content;
  return walkPayloads(last.innerNext, content.value, false);
}
