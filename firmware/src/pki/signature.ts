// IKE_AUTH signatures over node:crypto: RFC 7296 §2.15/§3.8, RFC 7427 (digital signature AUTH), RFC 4754, RFC 8420.
import * as nodeCrypto from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { AuthMethod, HashAlgorithm } from '../ike/constants.ts';
import { BoundedCache, contentKey } from './bounded-cache.ts';
import type { KeyType, SignatureOps, SignatureScheme, Signer, SignOptions } from './types.ts';

type HashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

interface SchemeInfo {
  family: 'rsa-pkcs1' | 'rsa-pss' | 'ecdsa' | 'ed25519';
  /** null for Ed25519, which signs the message itself (RFC 8420: "Identity" hash). */
  hash: HashName | null;
  /** RFC 7427 AlgorithmIdentifier DER we send. */
  algId: string;
}

const OID_SHA1 = '1.3.14.3.2.26';
const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
const OID_SHA384 = '2.16.840.1.101.3.4.2.2';
const OID_SHA512 = '2.16.840.1.101.3.4.2.3';
const OID_MGF1 = '1.2.840.113549.1.1.8';
const OID_RSASSA_PSS = '1.2.840.113549.1.1.10';
const OID_ED25519 = '1.3.101.112';

const HASH_BY_OID: Record<string, HashName> = {
  [OID_SHA1]: 'sha1',
  [OID_SHA256]: 'sha256',
  [OID_SHA384]: 'sha384',
  [OID_SHA512]: 'sha512',
};
const HASH_LEN: Record<HashName, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/**
 * RFC 7427 Appendix A encodings (A.1 PKCS#1 with NULL parameters, A.3 ECDSA without parameters) and RFC 8420 §2
 * for Ed25519. For RSASSA-PSS (A.4.3) the RFC text carries the DEFAULT trailerField, which DER forbids; its
 * errata and strongSwan send the DER form without it, as we do here (the RFC-text form is still accepted).
 */
export const SCHEMES: Record<SignatureScheme, SchemeInfo> = {
  'rsa-pkcs1-sha1': { family: 'rsa-pkcs1', hash: 'sha1', algId: '300d06092a864886f70d0101050500' },
  'rsa-pkcs1-sha256': { family: 'rsa-pkcs1', hash: 'sha256', algId: '300d06092a864886f70d01010b0500' },
  'rsa-pkcs1-sha384': { family: 'rsa-pkcs1', hash: 'sha384', algId: '300d06092a864886f70d01010c0500' },
  'rsa-pkcs1-sha512': { family: 'rsa-pkcs1', hash: 'sha512', algId: '300d06092a864886f70d01010d0500' },
  'rsa-pss-sha256': { family: 'rsa-pss', hash: 'sha256', algId: pssAlgId('01', '20') },
  'rsa-pss-sha384': { family: 'rsa-pss', hash: 'sha384', algId: pssAlgId('02', '30') },
  'rsa-pss-sha512': { family: 'rsa-pss', hash: 'sha512', algId: pssAlgId('03', '40') },
  'ecdsa-sha256': { family: 'ecdsa', hash: 'sha256', algId: '300a06082a8648ce3d040302' },
  'ecdsa-sha384': { family: 'ecdsa', hash: 'sha384', algId: '300a06082a8648ce3d040303' },
  'ecdsa-sha512': { family: 'ecdsa', hash: 'sha512', algId: '300a06082a8648ce3d040304' },
  ed25519: { family: 'ed25519', hash: null, algId: '300506032b6570' },
};

/** id-RSASSA-PSS with hashAlgorithm = sha2 (NULL params), MGF1 with the same hash, saltLength = hash length. */
function pssAlgId(sha2Suffix: string, saltHex: string): string {
  const hashAlg = `300d06096086480165030402${sha2Suffix}0500`;
  return `3041 06092a864886f70d01010a 3034 a00f${hashAlg} a11c301a06092a864886f70d010108${hashAlg} a203 0201${saltHex}`.replace(/ /g, '');
}

const PKCS1_OIDS: Record<string, SignatureScheme> = {
  '1.2.840.113549.1.1.5': 'rsa-pkcs1-sha1',
  '1.2.840.113549.1.1.11': 'rsa-pkcs1-sha256',
  '1.2.840.113549.1.1.12': 'rsa-pkcs1-sha384',
  '1.2.840.113549.1.1.13': 'rsa-pkcs1-sha512',
};
const ECDSA_OIDS: Record<string, SignatureScheme> = {
  '1.2.840.10045.4.3.2': 'ecdsa-sha256',
  '1.2.840.10045.4.3.3': 'ecdsa-sha384',
  '1.2.840.10045.4.3.4': 'ecdsa-sha512',
};
const PSS_BY_HASH: Partial<Record<HashName, SignatureScheme>> = {
  sha256: 'rsa-pss-sha256',
  sha384: 'rsa-pss-sha384',
  sha512: 'rsa-pss-sha512',
};

const CURVE_KEY_TYPE: Record<string, KeyType> = {
  'P-256': 'ecdsa-p256',
  prime256v1: 'ecdsa-p256',
  secp256r1: 'ecdsa-p256',
  'P-384': 'ecdsa-p384',
  secp384r1: 'ecdsa-p384',
  'P-521': 'ecdsa-p521',
  secp521r1: 'ecdsa-p521',
};

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

function toBytes(buf: Buffer | ArrayBuffer): Uint8Array {
  return buf instanceof ArrayBuffer ? new Uint8Array(buf.slice(0)) : new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

function keyTypeOfKey(key: nodeCrypto.KeyObject): KeyType | null {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'rsa';
    case 'ed25519':
      return 'ed25519';
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      return (curve && CURVE_KEY_TYPE[curve]) || null;
    }
    default:
      return null;
  }
}

function schemeFitsKey(scheme: SignatureScheme, keyType: KeyType): boolean {
  const family = SCHEMES[scheme].family;
  if (family === 'ed25519') return keyType === 'ed25519';
  if (family === 'ecdsa') return keyType.startsWith('ecdsa-');
  return keyType === 'rsa';
}

function signWith(key: nodeCrypto.KeyObject, scheme: SignatureScheme, data: Uint8Array, opts?: SignOptions): Uint8Array {
  const info = SCHEMES[scheme];
  const msg = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  switch (info.family) {
    case 'ed25519':
      return toBytes(nodeCrypto.sign(null, msg, key));
    case 'ecdsa':
      return toBytes(nodeCrypto.sign(info.hash, msg, { key, dsaEncoding: opts?.ecdsaFormat ?? 'der' }));
    case 'rsa-pkcs1':
      return toBytes(nodeCrypto.sign(info.hash, msg, { key, padding: nodeCrypto.constants.RSA_PKCS1_PADDING }));
    case 'rsa-pss':
      return toBytes(
        nodeCrypto.sign(info.hash, msg, {
          key,
          padding: nodeCrypto.constants.RSA_PKCS1_PSS_PADDING,
          saltLength: HASH_LEN[info.hash as HashName],
        }),
      );
  }
}

function importPrivateKey(der: Uint8Array): nodeCrypto.KeyObject {
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  // PKCS#8 is what we write; SEC1 and PKCS#1 are what older tools (and `pki --gen` without --outform) leave behind.
  for (const type of ['pkcs8', 'sec1', 'pkcs1'] as const) {
    try {
      return nodeCrypto.createPrivateKey({ key, format: 'der', type });
    } catch {
      // try the next container format
    }
  }
  throw new Error('private key is not a PKCS#8, SEC1 or PKCS#1 DER key');
}

/**
 * Parsed public keys by SPKI content: CA keys verify a certificate signature on every new peer, and parsing is
 * most of a small verification's cost. Bounded, so a stream of fresh end-entity keys only recycles the slots.
 */
const publicKeys = new BoundedCache<nodeCrypto.KeyObject | null>(256);

function importPublicKey(spkiDer: Uint8Array): nodeCrypto.KeyObject | null {
  const id = contentKey(spkiDer);
  const cached = publicKeys.get(id);
  if (cached !== undefined) return cached;
  let key: nodeCrypto.KeyObject | null;
  try {
    key = nodeCrypto.createPublicKey({ key: Buffer.from(spkiDer.buffer, spkiDer.byteOffset, spkiDer.byteLength), format: 'der', type: 'spki' });
  } catch {
    key = null;
  }
  publicKeys.set(id, key);
  return key;
}

/** Parses exactly one DER element; null if malformed or followed by trailing bytes. */
function parseExact(der: Uint8Array): asn1js.AsnType | null {
  // parseEmbedded: false: asn1js would otherwise try every OCTET/BIT STRING as nested DER (a quarter of the time);
  // pkijs reads those contents from the raw octets anyway.
  const parsed = asn1js.fromBER(der, { parseEmbedded: false });
  if (parsed.offset === -1 || parsed.offset !== der.byteLength) return null;
  return parsed.result;
}

function hashOfAlgId(alg: pkijs.AlgorithmIdentifier): HashName | null {
  const hash = HASH_BY_OID[alg.algorithmId];
  if (!hash) return null;
  const p = alg.algorithmParams as asn1js.AsnType | undefined;
  // RFC 4055 §2.1: parameters absent or NULL are both seen in the wild.
  if (p !== undefined && !(p instanceof asn1js.Null)) return null;
  return hash;
}

function pssSchemeOf(params: unknown): SignatureScheme | null {
  if (!(params instanceof asn1js.Sequence)) return null;
  const pss = new pkijs.RSASSAPSSParams({ schema: params });
  const hash = hashOfAlgId(pss.hashAlgorithm);
  if (!hash) return null;
  if (pss.maskGenAlgorithm.algorithmId !== OID_MGF1) return null;
  const mgfHash = hashOfAlgId(new pkijs.AlgorithmIdentifier({ schema: pss.maskGenAlgorithm.algorithmParams }));
  // node:crypto always uses the message hash for MGF1, so other combinations cannot be verified.
  if (mgfHash !== hash) return null;
  if (pss.trailerField !== 1) return null;
  if (!(pss.saltLength >= 0 && pss.saltLength <= 1024)) return null;
  return PSS_BY_HASH[hash] ?? null;
}

/** Known AlgorithmIdentifier encodings (hex) → scheme: every peer sends one of a handful, and pkijs parsing is slow. */
const schemesByAlgId = new BoundedCache<SignatureScheme>(64);

/** Maps an RFC 7427 AlgorithmIdentifier to a scheme; null when unknown or malformed. */
export function schemeOfAlgorithmIdentifier(algIdDer: Uint8Array): SignatureScheme | null {
  const id = Buffer.from(algIdDer.buffer, algIdDer.byteOffset, algIdDer.byteLength).toString('hex');
  const known = schemesByAlgId.get(id);
  if (known !== undefined) return known;
  try {
    const asn = parseExact(algIdDer);
    if (!asn) return null;
    const scheme = schemeOfAlgorithm(new pkijs.AlgorithmIdentifier({ schema: asn }));
    if (scheme) schemesByAlgId.set(id, scheme);
    return scheme;
  } catch {
    return null;
  }
}

/** The scheme of a parsed AlgorithmIdentifier (a certificate's signatureAlgorithm); null when unknown or malformed. */
export function schemeOfAlgorithm(alg: pkijs.AlgorithmIdentifier): SignatureScheme | null {
  try {
    const params = alg.algorithmParams as asn1js.AsnType | undefined;
    const oid = alg.algorithmId;
    const pkcs1 = PKCS1_OIDS[oid];
    if (pkcs1) return params === undefined || params instanceof asn1js.Null ? pkcs1 : null;
    const ecdsa = ECDSA_OIDS[oid];
    if (ecdsa) return params === undefined ? ecdsa : null;
    if (oid === OID_ED25519) return params === undefined ? 'ed25519' : null;
    if (oid === OID_RSASSA_PSS) return pssSchemeOf(params);
    return null;
  } catch {
    return null;
  }
}

function certificateOf(certDer: Uint8Array): pkijs.Certificate | null {
  try {
    const asn = parseExact(certDer);
    if (!asn) return null;
    return new pkijs.Certificate({ schema: asn });
  } catch {
    return null;
  }
}

/**
 * SPKIs by certificate content: the engine asks for the CA key hashes (CERTREQ) on every IKE_SA_INIT, and one
 * pkijs parse costs about a millisecond. Results are copied out so callers cannot alter the cached bytes.
 */
const spkiByCertificate = new BoundedCache<Uint8Array | null>(256);

/** SubjectPublicKeyInfo DER of a certificate; null when malformed. */
export function spkiOfCertificate(certDer: Uint8Array): Uint8Array | null {
  const id = contentKey(certDer);
  let spki = spkiByCertificate.get(id);
  if (spki === undefined) {
    spki = parseSpki(certDer);
    spkiByCertificate.set(id, spki);
  }
  return spki ? spki.slice() : null;
}

function parseSpki(certDer: Uint8Array): Uint8Array | null {
  const cert = certificateOf(certDer);
  if (!cert) return null;
  try {
    return new Uint8Array(cert.subjectPublicKeyInfo.toSchema().toBER(false));
  } catch {
    return null;
  }
}

/** The classic (pre-RFC 7427) auth method for a key type; null when there is none (Ed25519). */
export function classicAuthMethod(keyType: KeyType): number | null {
  switch (keyType) {
    case 'rsa':
      return AuthMethod.RSA_SIG;
    case 'ecdsa-p256':
      return AuthMethod.ECDSA_SHA256_P256;
    case 'ecdsa-p384':
      return AuthMethod.ECDSA_SHA384_P384;
    case 'ecdsa-p521':
      return AuthMethod.ECDSA_SHA512_P521;
    case 'ed25519':
      return null;
  }
}

/** The RFC 7427 SIGNATURE_HASH_ALGORITHMS value a scheme needs the peer to have announced. */
export function hashAlgorithmOf(scheme: SignatureScheme): number {
  const hash = SCHEMES[scheme].hash;
  switch (hash) {
    case null:
      return HashAlgorithm.IDENTITY;
    case 'sha1':
      return HashAlgorithm.SHA1;
    case 'sha256':
      return HashAlgorithm.SHA2_256;
    case 'sha384':
      return HashAlgorithm.SHA2_384;
    case 'sha512':
      return HashAlgorithm.SHA2_512;
  }
}

const PREFERRED_HASHES: Record<KeyType, number[]> = {
  rsa: [HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512],
  'ecdsa-p256': [HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512],
  'ecdsa-p384': [HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512, HashAlgorithm.SHA2_256],
  'ecdsa-p521': [HashAlgorithm.SHA2_512, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_256],
  ed25519: [HashAlgorithm.IDENTITY],
};

function schemeFor(keyType: KeyType, hashAlg: number): SignatureScheme {
  const suffix = hashAlg === HashAlgorithm.SHA2_512 ? 'sha512' : hashAlg === HashAlgorithm.SHA2_384 ? 'sha384' : 'sha256';
  if (keyType === 'ed25519') return 'ed25519';
  // strongSwan signs RSA with PKCS#1 v1.5 unless told otherwise, and every peer accepts it.
  return keyType === 'rsa' ? `rsa-pkcs1-${suffix}` : `ecdsa-${suffix}`;
}

const CLASSIC_SCHEME: Record<KeyType, SignatureScheme> = {
  rsa: 'rsa-pkcs1-sha1',
  'ecdsa-p256': 'ecdsa-sha256',
  'ecdsa-p384': 'ecdsa-sha384',
  'ecdsa-p521': 'ecdsa-sha512',
  ed25519: 'ed25519',
};

export function chooseScheme(keyType: KeyType, peerHashes: number[] | null): SignatureScheme {
  if (peerHashes === null) return CLASSIC_SCHEME[keyType];
  for (const h of PREFERRED_HASHES[keyType]) {
    if (peerHashes.includes(h)) return schemeFor(keyType, h);
  }
  if (keyType === 'rsa' && peerHashes.includes(HashAlgorithm.SHA1)) return 'rsa-pkcs1-sha1';
  // Nothing in common: sign with our preference; the peer will reject it with a clear AUTHENTICATION_FAILED.
  return schemeFor(keyType, PREFERRED_HASHES[keyType][0] as number);
}

export function encodeDigitalSignature(scheme: SignatureScheme, signature: Uint8Array): Uint8Array {
  const algId = hexToBytes(SCHEMES[scheme].algId);
  const out = new Uint8Array(1 + algId.length + signature.length);
  out[0] = algId.length;
  out.set(algId, 1);
  out.set(signature, 1 + algId.length);
  return out;
}

export function decodeDigitalSignature(authData: Uint8Array): { scheme: SignatureScheme; signature: Uint8Array } | null {
  const len = authData[0];
  if (len === undefined || len === 0 || authData.length <= 1 + len) return null;
  const scheme = schemeOfAlgorithmIdentifier(authData.subarray(1, 1 + len));
  if (!scheme) return null;
  return { scheme, signature: authData.slice(1 + len) };
}

export function verify(spkiDer: Uint8Array, scheme: SignatureScheme, data: Uint8Array, signature: Uint8Array, opts?: SignOptions): boolean {
  try {
    const info = SCHEMES[scheme];
    if (!info || signature.length === 0) return false;
    const key = importPublicKey(spkiDer);
    if (!key) return false;
    const keyType = keyTypeOfKey(key);
    if (!keyType || !schemeFitsKey(scheme, keyType)) return false;
    const msg = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const sig = Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength);
    switch (info.family) {
      case 'ed25519':
        return nodeCrypto.verify(null, msg, key, sig);
      case 'ecdsa':
        return nodeCrypto.verify(info.hash, msg, { key, dsaEncoding: opts?.ecdsaFormat ?? 'der' }, sig);
      case 'rsa-pkcs1':
        return nodeCrypto.verify(info.hash, msg, { key, padding: nodeCrypto.constants.RSA_PKCS1_PADDING }, sig);
      case 'rsa-pss':
        // The AlgorithmIdentifier may announce any salt length (RFC 7427 §A.4); the padding check recovers it.
        return nodeCrypto.verify(
          info.hash,
          msg,
          { key, padding: nodeCrypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: nodeCrypto.constants.RSA_PSS_SALTLEN_AUTO },
          sig,
        );
    }
  } catch {
    return false;
  }
}

export function createSigner(privateKeyDer: Uint8Array): Signer {
  const key = importPrivateKey(privateKeyDer);
  const keyType = keyTypeOfKey(key);
  if (!keyType) throw new Error(`unsupported private key type ${key.asymmetricKeyType ?? 'unknown'}`);
  return {
    keyType,
    sign(scheme: SignatureScheme, data: Uint8Array, opts?: SignOptions): Uint8Array {
      if (!SCHEMES[scheme] || !schemeFitsKey(scheme, keyType)) throw new Error(`cannot sign ${scheme} with a ${keyType} key`);
      return signWith(key, scheme, data, opts);
    },
  };
}

export function keyTypeOf(spkiDer: Uint8Array): KeyType | null {
  const key = importPublicKey(spkiDer);
  return key ? keyTypeOfKey(key) : null;
}

export function caKeyHash(certDer: Uint8Array): Uint8Array | null {
  const spki = spkiOfCertificate(certDer);
  if (!spki) return null;
  return toBytes(nodeCrypto.createHash('sha1').update(spki).digest());
}

export function createSignatureOps(): SignatureOps {
  return {
    createSigner,
    keyTypeOf,
    verify,
    chooseScheme,
    encodeDigitalSignature,
    decodeDigitalSignature,
    caKeyHash,
    spkiOf: spkiOfCertificate,
  };
}
