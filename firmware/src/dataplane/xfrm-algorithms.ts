// IKEv2 ESP transform ids (RFC 7296 §3.3.2, IANA) to Linux crypto API names and key/ICV sizes for XFRM.
import { EncrId, IntegId } from '../ike/constants.ts';
import type { XfrmSaSpec } from './xfrm-native.ts';

export type XfrmAlgorithms = Pick<XfrmSaSpec, 'aead' | 'icvBits' | 'crypt' | 'auth' | 'truncBits'>;

const AES_BITS = new Set([128, 192, 256]);

/** AEAD transforms: kernel name and ICV bits; the key is the cipher key followed by the salt (RFC 4106 §8.1, RFC 7634 §2). */
const AEAD: Record<number, { name: string; icvBits: number; salt: number }> = {
  [EncrId.AES_GCM_8]: { name: 'rfc4106(gcm(aes))', icvBits: 64, salt: 4 },
  [EncrId.AES_GCM_12]: { name: 'rfc4106(gcm(aes))', icvBits: 96, salt: 4 },
  [EncrId.AES_GCM_16]: { name: 'rfc4106(gcm(aes))', icvBits: 128, salt: 4 },
  [EncrId.CHACHA20_POLY1305]: { name: 'rfc7539esp(chacha20,poly1305)', icvBits: 128, salt: 4 },
};

/** Integrity: kernel name, key octets, truncation bits (RFC 2404, RFC 3566, RFC 4868). */
const INTEG: Record<number, { name: string; keyLen: number; truncBits: number }> = {
  [IntegId.HMAC_MD5_96]: { name: 'hmac(md5)', keyLen: 16, truncBits: 96 },
  [IntegId.HMAC_SHA1_96]: { name: 'hmac(sha1)', keyLen: 20, truncBits: 96 },
  [IntegId.AES_XCBC_96]: { name: 'xcbc(aes)', keyLen: 16, truncBits: 96 },
  [IntegId.HMAC_SHA2_256_128]: { name: 'hmac(sha256)', keyLen: 32, truncBits: 128 },
  [IntegId.HMAC_SHA2_384_192]: { name: 'hmac(sha384)', keyLen: 48, truncBits: 192 },
  [IntegId.HMAC_SHA2_512_256]: { name: 'hmac(sha512)', keyLen: 64, truncBits: 256 },
};

/** Kernel algorithm names for an SA, or why it cannot be expressed (checked here: the kernel only says EINVAL). */
export function xfrmAlgorithms(encrId: number, encrKeyBits: number | undefined, integId: number, encKeyLen: number, integKeyLen: number): { ok: true; value: XfrmAlgorithms } | { ok: false; error: string } {
  const aead = AEAD[encrId];
  if (aead) {
    if (integId !== IntegId.NONE) return { ok: false, error: 'AEAD encryption with a separate integrity algorithm' };
    const keyBytes = encrId === EncrId.CHACHA20_POLY1305 ? 32 : encrKeyBits !== undefined && AES_BITS.has(encrKeyBits) ? encrKeyBits / 8 : null;
    if (keyBytes === null) return { ok: false, error: `AES-GCM key size ${encrKeyBits ?? '(none)'} is not 128, 192 or 256` };
    if (encKeyLen !== keyBytes + aead.salt) return { ok: false, error: `encryption key is ${encKeyLen} octets, expected ${keyBytes + aead.salt}` };
    return { ok: true, value: { aead: aead.name, icvBits: aead.icvBits } };
  }
  let crypt: string;
  let keyBytes: number | null;
  switch (encrId) {
    case EncrId.AES_CBC:
      crypt = 'cbc(aes)';
      keyBytes = encrKeyBits !== undefined && AES_BITS.has(encrKeyBits) ? encrKeyBits / 8 : null;
      break;
    case EncrId.AES_CTR:
      crypt = 'rfc3686(ctr(aes))';
      keyBytes = encrKeyBits !== undefined && AES_BITS.has(encrKeyBits) ? encrKeyBits / 8 + 4 : null; // + nonce (RFC 3686 §5.1)
      break;
    case EncrId.TRIPLE_DES:
      crypt = 'cbc(des3_ede)';
      keyBytes = 24;
      break;
    case EncrId.NULL:
      crypt = 'ecb(cipher_null)';
      keyBytes = 0;
      break;
    default:
      return { ok: false, error: `unsupported encryption ${encrId}` };
  }
  if (keyBytes === null) return { ok: false, error: `key size ${encrKeyBits ?? '(none)'} is not 128, 192 or 256` };
  if (encKeyLen !== keyBytes) return { ok: false, error: `encryption key is ${encKeyLen} octets, expected ${keyBytes}` };
  const integ = INTEG[integId];
  if (!integ) return { ok: false, error: integId === IntegId.NONE ? 'non-AEAD encryption without integrity' : `unsupported integrity ${integId}` };
  if (integKeyLen !== integ.keyLen) return { ok: false, error: `integrity key is ${integKeyLen} octets, expected ${integ.keyLen}` };
  return { ok: true, value: { crypt, auth: integ.name, truncBits: integ.truncBits } };
}
