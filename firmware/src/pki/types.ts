// Signature operations the engine needs for IKE_AUTH (RFC 7296 §2.15, RFC 7427), injected like the CryptoSuite.

export type KeyType = 'rsa' | 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521' | 'ed25519';

export type SignatureScheme =
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

export interface Signer {
  readonly keyType: KeyType;
  /** Signs `data` (the whole signed octets; hashing is part of the scheme). */
  sign(scheme: SignatureScheme, data: Uint8Array): Uint8Array;
}

export interface SignatureOps {
  /** From a PKCS#8 DER private key; throws on a malformed or unsupported key (config load time only). */
  createSigner(pkcs8Der: Uint8Array): Signer;
  /** The key type of a SubjectPublicKeyInfo, or null when unsupported/malformed. */
  keyTypeOf(spkiDer: Uint8Array): KeyType | null;
  /** Never throws: false on any malformed input. */
  verify(spkiDer: Uint8Array, scheme: SignatureScheme, data: Uint8Array, signature: Uint8Array): boolean;
  /**
   * Choose the scheme to sign with: for RFC 7427 from the hashes the peer announced in
   * SIGNATURE_HASH_ALGORITHMS (HashAlgorithm values); null peerHashes = peer did not send the notify.
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
