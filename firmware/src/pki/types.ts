// Signature operations the engine needs for IKE_AUTH (RFC 7296 §2.15, RFC 7427), injected like the CryptoSuite.

export type KeyType = 'rsa' | 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521' | 'ed25519';

export type SignatureScheme =
  /** Only for the classic RSA_SIG auth method (1), which RFC 7296 §3.8 and strongSwan tie to SHA-1. */
  | 'rsa-pkcs1-sha1'
  | 'rsa-pkcs1-sha256'
  | 'rsa-pkcs1-sha384'
  | 'rsa-pkcs1-sha512'
  | 'rsa-pss-sha256'
  | 'rsa-pss-sha384'
  | 'rsa-pss-sha512'
  | 'ecdsa-sha256'
  | 'ecdsa-sha384'
  | 'ecdsa-sha512'
  | 'ed25519';

/**
 * How an ECDSA signature is laid out: 'der' (ECDSA-Sig-Value, what RFC 7427 AUTH method 14 carries) or
 * 'ieee-p1363' (fixed-length r||s, what the RFC 4754 auth methods 9/10/11 carry). Ignored for RSA and Ed25519.
 * Default 'der'.
 */
export type EcdsaSignatureFormat = 'der' | 'ieee-p1363';

export interface SignOptions {
  ecdsaFormat?: EcdsaSignatureFormat;
}

export interface Signer {
  readonly keyType: KeyType;
  /** Signs `data` (the whole signed octets; hashing is part of the scheme). Throws when scheme and key type differ. */
  sign(scheme: SignatureScheme, data: Uint8Array, opts?: SignOptions): Uint8Array;
}

export interface SignatureOps {
  /** From a PKCS#8 DER private key; throws on a malformed or unsupported key (config load time only). */
  createSigner(pkcs8Der: Uint8Array): Signer;
  /** The key type of a SubjectPublicKeyInfo, or null when unsupported/malformed. */
  keyTypeOf(spkiDer: Uint8Array): KeyType | null;
  /** Never throws: false on any malformed input. */
  verify(spkiDer: Uint8Array, scheme: SignatureScheme, data: Uint8Array, signature: Uint8Array, opts?: SignOptions): boolean;
  /**
   * Choose the scheme to sign with: for RFC 7427 from the hashes the peer announced in
   * SIGNATURE_HASH_ALGORITHMS (HashAlgorithm values); null peerHashes = peer did not send the notify, and the
   * result is the scheme of the classic auth method (RSA_SIG → rsa-pkcs1-sha1, ECDSA_SHA*_P* → the curve's hash;
   * Ed25519 has no classic method and still gets 'ed25519').
   */
  chooseScheme(keyType: KeyType, peerHashes: number[] | null): SignatureScheme;
  /** RFC 7427 §3 AUTH data: ASN.1 length octet, AlgorithmIdentifier DER, signature. */
  encodeDigitalSignature(scheme: SignatureScheme, signature: Uint8Array): Uint8Array;
  /** Parse RFC 7427 AUTH data; null when malformed or an unknown AlgorithmIdentifier. */
  decodeDigitalSignature(authData: Uint8Array): { scheme: SignatureScheme; signature: Uint8Array } | null;
  /** SHA-1 of a certificate's SubjectPublicKeyInfo (CERTREQ CA hashes, RFC 7296 §3.7); null when malformed. */
  caKeyHash(certDer: Uint8Array): Uint8Array | null;
  /** SubjectPublicKeyInfo DER of a certificate; null when malformed. */
  spkiOf(certDer: Uint8Array): Uint8Array | null;
}
