// The raw cipher and MAC operations the ESP oracle needs (RFC 4303 §3.3.2), injected so the codec stays sans-IO.

export type EspAead = 'aes-gcm' | 'chacha20-poly1305';
export type EspHash = 'sha256' | 'sha384' | 'sha512';

export interface EspPrimitives {
  /** Returns ciphertext || tag (tagLen octets). */
  aeadSeal(alg: EspAead, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, tagLen: number): Uint8Array;
  /** Returns the plaintext, or null when the tag does not verify. Never throws on bad input. */
  aeadOpen(alg: EspAead, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertextAndTag: Uint8Array, tagLen: number): Uint8Array | null;
  /** Raw CBC without padding: data is a multiple of the block size. */
  aesCbcEncrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  aesCbcDecrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array;
  hmac(hash: EspHash, key: Uint8Array, data: Uint8Array): Uint8Array;
  /** Constant-time equality, for ICVs. */
  equal(a: Uint8Array, b: Uint8Array): boolean;
}
