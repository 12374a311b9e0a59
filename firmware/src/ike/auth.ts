// AUTH payload computation and verification (RFC 7296 §2.15, RFC 7427 digital signatures, RFC 4754 ECDSA).
import { AuthMethod } from './constants.ts';
import type { ConnectionConfig } from '../config/types.ts';
import type { AuthPayload } from './codec/types.ts';
import type { KeyType, SignatureScheme } from '../pki/types.ts';
import type { EngineContext } from './context.ts';
import type { IkeSa } from './ike-sa.ts';
import type { Identity } from './identity.ts';
import { PayloadType } from './constants.ts';
import { concatBytes, utf8 } from './bytes.ts';

const KEY_PAD = utf8('Key Pad for IKEv2');

/** RFC 4754 methods and the scheme and key type each implies. */
const CLASSIC_ECDSA: Record<number, { scheme: SignatureScheme; keyType: KeyType }> = {
  [AuthMethod.ECDSA_SHA256_P256]: { scheme: 'ecdsa-sha256', keyType: 'ecdsa-p256' },
  [AuthMethod.ECDSA_SHA384_P384]: { scheme: 'ecdsa-sha384', keyType: 'ecdsa-p384' },
  [AuthMethod.ECDSA_SHA512_P521]: { scheme: 'ecdsa-sha512', keyType: 'ecdsa-p521' },
};

export function idBody(id: Identity): Uint8Array {
  return concatBytes(Uint8Array.of(id.idType, 0, 0, 0), id.data);
}

/**
 * §2.15: InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, IDi');
 *        ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, IDr').
 */
export function signedOctets(ctx: EngineContext, sa: IkeSa, ofInitiator: boolean, id: Identity): Uint8Array {
  const keys = sa.keys;
  if (!keys) throw new Error('AUTH before keys');
  const prf = ctx.crypto.prf(sa.prfId);
  return concatBytes(
    ofInitiator ? sa.initRequest : sa.initResponse,
    ofInitiator ? sa.nonceR : sa.nonceI,
    prf.compute(ofInitiator ? keys.skPi : keys.skPr, idBody(id)),
  );
}

/** AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>). */
export function pskAuth(ctx: EngineContext, sa: IkeSa, psk: Uint8Array, octets: Uint8Array): Uint8Array {
  const prf = ctx.crypto.prf(sa.prfId);
  return prf.compute(prf.compute(psk, KEY_PAD), octets);
}

export type Result<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Our AUTH payload for `conn.local`; the method follows what the peer announced (RFC 7427 §4). */
export function buildAuth(ctx: EngineContext, sa: IkeSa, conn: ConnectionConfig, octets: Uint8Array): Result<AuthPayload> {
  if (conn.local.auth === 'psk') {
    if (!conn.psk) return { ok: false, reason: `connection ${conn.name} has no PSK` };
    return { ok: true, value: { type: PayloadType.AUTH, method: AuthMethod.SHARED_KEY_MIC, data: pskAuth(ctx, sa, conn.psk, octets) } };
  }
  const signer = ctx.signer(conn);
  if (typeof signer === 'string') return { ok: false, reason: signer };
  try {
    if (sa.peerSigHashes !== null || signer.keyType === 'ed25519') {
      const scheme = ctx.sig.chooseScheme(signer.keyType, sa.peerSigHashes ?? []);
      const data = ctx.sig.encodeDigitalSignature(scheme, signer.sign(scheme, octets));
      return { ok: true, value: { type: PayloadType.AUTH, method: AuthMethod.DIGITAL_SIGNATURE, data } };
    }
    if (signer.keyType === 'rsa') {
      if (!conn.legacy) return { ok: false, reason: 'peer did not announce RFC 7427 signature hashes and RSA with SHA-1 needs legacy' };
      return { ok: true, value: { type: PayloadType.AUTH, method: AuthMethod.RSA_SIG, data: signer.sign('rsa-pkcs1-sha1', octets) } };
    }
    const method = Number(Object.keys(CLASSIC_ECDSA).find((m) => CLASSIC_ECDSA[Number(m)]?.keyType === signer.keyType));
    const classic = CLASSIC_ECDSA[method];
    if (!classic) return { ok: false, reason: `no signature method for a ${signer.keyType} key` };
    const data = signer.sign(classic.scheme, octets, { ecdsaFormat: 'ieee-p1363' });
    return { ok: true, value: { type: PayloadType.AUTH, method, data } };
  } catch (e) {
    return { ok: false, reason: `signing failed: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** Shared-key AUTH check; constant-time compare. */
export function verifyPsk(ctx: EngineContext, sa: IkeSa, conn: ConnectionConfig, auth: AuthPayload, octets: Uint8Array): Result<true> {
  if (!conn.psk) return { ok: false, reason: `connection ${conn.name} has no PSK` };
  if (!ctx.crypto.equal(auth.data, pskAuth(ctx, sa, conn.psk, octets))) return { ok: false, reason: 'PSK mismatch' };
  return { ok: true, value: true };
}

/** Is this signature method acceptable at all, before we spend a chain validation on it? */
export function signatureMethodAllowed(method: number, legacy: boolean): string | null {
  if (method === AuthMethod.DIGITAL_SIGNATURE || CLASSIC_ECDSA[method]) return null;
  if (method === AuthMethod.RSA_SIG) return legacy ? null : 'RSA with SHA-1 (auth method 1) needs legacy';
  return `auth method ${method} is not supported`;
}

/** Signature AUTH check against the SubjectPublicKeyInfo of the validated end-entity certificate. */
export function verifySignature(ctx: EngineContext, legacy: boolean, spki: Uint8Array, auth: AuthPayload, octets: Uint8Array): Result<true> {
  const sig = ctx.sig;
  if (auth.method === AuthMethod.DIGITAL_SIGNATURE) {
    const d = sig.decodeDigitalSignature(auth.data);
    if (!d) return { ok: false, reason: 'unknown or malformed RFC 7427 signature algorithm' };
    if (d.scheme === 'rsa-pkcs1-sha1' && !legacy) return { ok: false, reason: 'RSA with SHA-1 signature needs legacy' };
    return sig.verify(spki, d.scheme, octets, d.signature) ? { ok: true, value: true } : { ok: false, reason: `${d.scheme} signature invalid` };
  }
  const classic = CLASSIC_ECDSA[auth.method];
  if (classic) {
    if (sig.keyTypeOf(spki) !== classic.keyType) return { ok: false, reason: `auth method ${auth.method} does not fit the certificate key` };
    const ok = sig.verify(spki, classic.scheme, octets, auth.data, { ecdsaFormat: 'ieee-p1363' });
    return ok ? { ok: true, value: true } : { ok: false, reason: `${classic.scheme} signature invalid` };
  }
  if (auth.method === AuthMethod.RSA_SIG && legacy) {
    return sig.verify(spki, 'rsa-pkcs1-sha1', octets, auth.data) ? { ok: true, value: true } : { ok: false, reason: 'RSA signature invalid' };
  }
  return { ok: false, reason: signatureMethodAllowed(auth.method, legacy) ?? `auth method ${auth.method} not accepted` };
}
