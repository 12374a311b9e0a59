// The CryptoSuite contract injected into the sans-IO engine (ARCHITECTURE.md §6). Synchronous on purpose.

/** One direction of SK protection (RFC 7296 §3.14, RFC 5282 for AEAD). */
export interface SkTransform {
  readonly ivLen: number; // octets of IV sent on the wire
  readonly icvLen: number; // octets of ICV (AEAD tag or truncated HMAC)
  readonly blockLen: number; // padding granularity of the plaintext (1 for stream/AEAD-CTR modes, 16 for CBC)
  /**
   * aad = every octet of the message before the IV (IKE header + SK/SKF generic header [+ fragment fields]),
   * with the final length already set. AEAD: used as associated data. CBC+HMAC: ICV = HMAC(aad||iv||ct).
   * plaintext must already carry padding and the Pad Length octet. Returns ciphertext || icv.
   */
  seal(aad: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** Returns the padded plaintext, or null when authentication fails. Never throws on bad input. */
  open(aad: Uint8Array, iv: Uint8Array, ciphertextAndIcv: Uint8Array): Uint8Array | null;
}

/** A pseudo-random function (RFC 7296 §2.13). */
export interface Prf {
  readonly id: number; // PrfId
  readonly outLen: number; // octets
  readonly preferredKeyLen: number; // octets
  compute(key: Uint8Array, data: Uint8Array): Uint8Array;
}

/** One ephemeral key exchange (RFC 7296 §1.2): our public value, then the shared secret. */
export interface KeyExchange {
  readonly group: number; // DhId
  readonly publicKey: Uint8Array; // KE payload data as on the wire
  /** null when the peer's value is malformed or invalid (wrong length, not on the curve, 1 or p-1 ...). */
  computeSecret(peerPublic: Uint8Array): Uint8Array | null;
}

/** Lengths of the keys a negotiated transform set consumes from prf+ (RFC 7296 §2.14, §2.17). */
export interface KeyLengths {
  encKeyLen: number; // octets incl. salt for AEAD (AES-GCM: key+4, ChaCha20-Poly1305: 32+4)
  integKeyLen: number; // octets, 0 for AEAD
}

export type HashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

export interface CryptoSuite {
  randomBytes(n: number): Uint8Array;
  prf(prfId: number): Prf; // throws on an unsupported id (policy never selects one)
  /** RFC 7296 §2.13 prf+. */
  prfPlus(prfId: number, key: Uint8Array, seed: Uint8Array, length: number): Uint8Array;
  keyLengths(encrId: number, encrKeyBits: number | undefined, integId: number): KeyLengths;
  sk(encrId: number, encrKeyBits: number | undefined, integId: number, encKey: Uint8Array, integKey: Uint8Array): SkTransform;
  /** Fresh ephemeral key pair for a group, from this suite's randomness. */
  keyExchange(group: number): KeyExchange;
  supportsGroup(group: number): boolean;
  hash(name: HashName, data: Uint8Array): Uint8Array;
  /** Constant-time equality for MACs and AUTH values. */
  equal(a: Uint8Array, b: Uint8Array): boolean;
}
