// SK payload protection (RFC 7296 §3.14): AES-GCM (RFC 5282, RFC 4106 nonce), ChaCha20-Poly1305 (RFC 7634), CBC + HMAC.
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { EncrId, IntegId } from '../ike/constants.ts';
import type { KeyLengths, SkTransform } from './types.ts';
import { asBuffer, concatBytes } from './bytes.ts';

const AEAD_SALT_LEN = 4; // RFC 5282 §7.1 / RFC 7634 §2: key material = key || 4-octet salt
const AEAD_IV_LEN = 8;
const AEAD_ICV_LEN = 16;

interface IntegInfo {
  hash: string;
  keyLen: number;
  icvLen: number;
}

const INTEGS: Readonly<Record<number, IntegInfo>> = {
  [IntegId.HMAC_SHA2_256_128]: { hash: 'sha256', keyLen: 32, icvLen: 16 }, // RFC 4868 §2.1
  [IntegId.HMAC_SHA2_384_192]: { hash: 'sha384', keyLen: 48, icvLen: 24 },
  [IntegId.HMAC_SHA2_512_256]: { hash: 'sha512', keyLen: 64, icvLen: 32 },
  [IntegId.HMAC_SHA1_96]: { hash: 'sha1', keyLen: 20, icvLen: 12 }, // RFC 2404
  [IntegId.HMAC_MD5_96]: { hash: 'md5', keyLen: 16, icvLen: 12 }, // RFC 2403
};

interface CbcInfo {
  cipher: string;
  keyLen: number;
  blockLen: number;
}

function cbcInfo(encrId: number, keyBits: number | undefined): CbcInfo | undefined {
  if (encrId === EncrId.AES_CBC && (keyBits === 128 || keyBits === 192 || keyBits === 256)) {
    return { cipher: `aes-${keyBits}-cbc`, keyLen: keyBits / 8, blockLen: 16 };
  }
  if (encrId === EncrId.TRIPLE_DES && keyBits === undefined) return { cipher: 'des-ede3-cbc', keyLen: 24, blockLen: 8 };
  return undefined;
}

function isGcm(encrId: number): boolean {
  return encrId === EncrId.AES_GCM_8 || encrId === EncrId.AES_GCM_12 || encrId === EncrId.AES_GCM_16;
}

/** Key lengths for IKE SK_e/SK_a and for ESP KEYMAT; covers ciphers the data plane may implement too. */
export function keyLengths(encrId: number, encrKeyBits: number | undefined, integId: number): KeyLengths {
  let encKeyLen: number;
  if (isGcm(encrId)) {
    if (encrKeyBits !== 128 && encrKeyBits !== 192 && encrKeyBits !== 256) throw new Error(`bad AES-GCM key length ${encrKeyBits}`);
    encKeyLen = encrKeyBits / 8 + AEAD_SALT_LEN;
  } else if (encrId === EncrId.CHACHA20_POLY1305) {
    if (encrKeyBits !== undefined && encrKeyBits !== 256) throw new Error(`bad ChaCha20-Poly1305 key length ${encrKeyBits}`);
    encKeyLen = 32 + AEAD_SALT_LEN;
  } else if (encrId === EncrId.NULL) {
    encKeyLen = 0;
  } else if (encrId === EncrId.DES) {
    encKeyLen = 8;
  } else {
    const cbc = cbcInfo(encrId, encrKeyBits);
    if (!cbc) throw new Error(`unsupported encryption ${encrId}/${encrKeyBits}`);
    encKeyLen = cbc.keyLen;
  }
  let integKeyLen = 0;
  if (integId !== IntegId.NONE) {
    const integ = INTEGS[integId];
    if (!integ) throw new Error(`unsupported integrity ${integId}`);
    integKeyLen = integ.keyLen;
  }
  return { encKeyLen, integKeyLen };
}

export function supportsSk(encrId: number, encrKeyBits: number | undefined, integId: number): boolean {
  if (encrId === EncrId.AES_GCM_16 || encrId === EncrId.CHACHA20_POLY1305) {
    return integId === IntegId.NONE && (encrId === EncrId.CHACHA20_POLY1305 ? encrKeyBits === undefined || encrKeyBits === 256 : encrKeyBits === 128 || encrKeyBits === 192 || encrKeyBits === 256);
  }
  return cbcInfo(encrId, encrKeyBits) !== undefined && INTEGS[integId] !== undefined;
}

export function createSkTransform(
  encrId: number,
  encrKeyBits: number | undefined,
  integId: number,
  encKey: Uint8Array,
  integKey: Uint8Array,
): SkTransform {
  if (!supportsSk(encrId, encrKeyBits, integId)) throw new Error(`unsupported SK transform ${encrId}/${encrKeyBits}/${integId}`);
  const want = keyLengths(encrId, encrKeyBits, integId);
  if (encKey.length !== want.encKeyLen || integKey.length !== want.integKeyLen) throw new Error('SK key length mismatch');
  if (encrId === EncrId.AES_GCM_16) return aesGcm(encKey);
  if (encrId === EncrId.CHACHA20_POLY1305) return chachaPoly(encKey);
  return cbcHmac(cbcInfo(encrId, encrKeyBits)!, INTEGS[integId]!, encKey, integKey);
}

function splitSalt(keyMat: Uint8Array): { key: Buffer; salt: Uint8Array } {
  const keyLen = keyMat.length - AEAD_SALT_LEN;
  return { key: Buffer.from(keyMat.subarray(0, keyLen)), salt: keyMat.slice(keyLen) };
}

function aesGcm(keyMat: Uint8Array): SkTransform {
  const { key, salt } = splitSalt(keyMat);
  const cipher = `aes-${key.length * 8}-gcm` as 'aes-128-gcm';
  const nonce = (iv: Uint8Array) => asBuffer(concatBytes(salt, iv));
  return {
    ivLen: AEAD_IV_LEN,
    icvLen: AEAD_ICV_LEN,
    blockLen: 1,
    seal(aad, iv, plaintext) {
      if (iv.length !== AEAD_IV_LEN) throw new Error('bad IV length');
      const c = createCipheriv(cipher, key, nonce(iv), { authTagLength: AEAD_ICV_LEN });
      c.setAAD(asBuffer(aad));
      const head = c.update(asBuffer(plaintext));
      const tail = c.final();
      return concatBytes(head, tail, c.getAuthTag());
    },
    open(aad, iv, data) {
      if (iv.length !== AEAD_IV_LEN || data.length < AEAD_ICV_LEN) return null;
      try {
        const d = createDecipheriv(cipher, key, nonce(iv), { authTagLength: AEAD_ICV_LEN });
        d.setAAD(asBuffer(aad));
        d.setAuthTag(asBuffer(data.subarray(data.length - AEAD_ICV_LEN)));
        const head = d.update(asBuffer(data.subarray(0, data.length - AEAD_ICV_LEN)));
        const tail = d.final(); // throws when the tag does not verify
        return concatBytes(head, tail);
      } catch {
        return null;
      }
    },
  };
}

function chachaPoly(keyMat: Uint8Array): SkTransform {
  const { key, salt } = splitSalt(keyMat);
  const rawKey = new Uint8Array(key);
  return {
    ivLen: AEAD_IV_LEN,
    icvLen: AEAD_ICV_LEN,
    blockLen: 1,
    seal(aad, iv, plaintext) {
      if (iv.length !== AEAD_IV_LEN) throw new Error('bad IV length');
      return chacha20poly1305(rawKey, concatBytes(salt, iv), aad).encrypt(plaintext);
    },
    open(aad, iv, data) {
      if (iv.length !== AEAD_IV_LEN || data.length < AEAD_ICV_LEN) return null;
      try {
        return chacha20poly1305(rawKey, concatBytes(salt, iv), aad).decrypt(data);
      } catch {
        return null;
      }
    },
  };
}

function cbcHmac(cbc: CbcInfo, integ: IntegInfo, encKey: Uint8Array, integKey: Uint8Array): SkTransform {
  const key = Buffer.from(encKey);
  const macKey = Buffer.from(integKey);
  // RFC 7296 §3.14: the ICV covers the whole message up to the ICV: header, SK header, IV and ciphertext.
  const mac = (aad: Uint8Array, iv: Uint8Array, ct: Uint8Array) =>
    createHmac(integ.hash, macKey).update(asBuffer(aad)).update(asBuffer(iv)).update(asBuffer(ct)).digest().subarray(0, integ.icvLen);
  return {
    ivLen: cbc.blockLen,
    icvLen: integ.icvLen,
    blockLen: cbc.blockLen,
    seal(aad, iv, plaintext) {
      if (iv.length !== cbc.blockLen) throw new Error('bad IV length');
      if (plaintext.length % cbc.blockLen !== 0) throw new Error('plaintext not padded to the block size');
      const c = createCipheriv(cbc.cipher, key, asBuffer(iv));
      c.setAutoPadding(false);
      const ct = concatBytes(c.update(asBuffer(plaintext)), c.final());
      return concatBytes(ct, mac(aad, iv, ct));
    },
    open(aad, iv, data) {
      const ctLen = data.length - integ.icvLen;
      if (iv.length !== cbc.blockLen || ctLen <= 0 || ctLen % cbc.blockLen !== 0) return null;
      try {
        const ct = data.subarray(0, ctLen);
        const expected = mac(aad, iv, ct);
        // Authenticate before decrypting: no padding oracle, and a forged message costs one HMAC.
        if (!timingSafeEqual(expected, asBuffer(data.subarray(ctLen)))) return null;
        const d = createDecipheriv(cbc.cipher, key, asBuffer(iv));
        d.setAutoPadding(false);
        return concatBytes(d.update(asBuffer(ct)), d.final());
      } catch {
        return null;
      }
    },
  };
}
