// IKEv2 key derivation: SKEYSEED and SK_* (RFC 7296 §2.14), IKE SA rekey (§2.18), Child SA KEYMAT (§2.17).
import type { CryptoSuite } from './types.ts';
import { concatBytes } from './bytes.ts';

export interface IkeSaKeys {
  skD: Uint8Array;
  skAi: Uint8Array; // empty for AEAD
  skAr: Uint8Array;
  skEi: Uint8Array; // incl. the 4-octet salt for AEAD
  skEr: Uint8Array;
  skPi: Uint8Array;
  skPr: Uint8Array;
}

export interface IkeSaKeyParams {
  prfId: number;
  encrId: number;
  encrKeyBits?: number; // absent for ciphers without a Key Length attribute (ChaCha20-Poly1305, 3DES)
  integId: number; // IntegId.NONE for AEAD
  nonceI: Uint8Array;
  nonceR: Uint8Array;
  sharedSecret: Uint8Array; // g^ir
  spiI: Uint8Array;
  spiR: Uint8Array;
}

export interface RekeyedIkeSaKeyParams extends IkeSaKeyParams {
  /** The old IKE SA's PRF: the rekey exchange belongs to the old SA, so SKEYSEED uses it (§2.18). */
  oldPrfId: number;
  oldSkD: Uint8Array;
}

/** SKEYSEED = prf(Ni | Nr, g^ir). The PRF key is the full nonces, since HMAC PRFs take any key length. */
export function deriveIkeSaKeys(suite: CryptoSuite, p: IkeSaKeyParams): IkeSaKeys {
  const skeyseed = suite.prf(p.prfId).compute(concatBytes(p.nonceI, p.nonceR), p.sharedSecret);
  return expandIkeSaKeys(suite, skeyseed, p);
}

/** SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr); the SK_* come from the new SA's PRF and SPIs. */
export function deriveRekeyedIkeSaKeys(suite: CryptoSuite, p: RekeyedIkeSaKeyParams): IkeSaKeys {
  const skeyseed = suite.prf(p.oldPrfId).compute(p.oldSkD, concatBytes(p.sharedSecret, p.nonceI, p.nonceR));
  return expandIkeSaKeys(suite, skeyseed, p);
}

/** {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr). */
function expandIkeSaKeys(suite: CryptoSuite, skeyseed: Uint8Array, p: IkeSaKeyParams): IkeSaKeys {
  const prf = suite.prf(p.prfId);
  const { encKeyLen, integKeyLen } = suite.keyLengths(p.encrId, p.encrKeyBits, p.integId);
  const prfKeyLen = prf.preferredKeyLen;
  const total = 3 * prfKeyLen + 2 * integKeyLen + 2 * encKeyLen;
  const stream = suite.prfPlus(p.prfId, skeyseed, concatBytes(p.nonceI, p.nonceR, p.spiI, p.spiR), total);
  let off = 0;
  const take = (n: number) => stream.slice(off, (off += n));
  return {
    skD: take(prfKeyLen),
    skAi: take(integKeyLen),
    skAr: take(integKeyLen),
    skEi: take(encKeyLen),
    skEr: take(encKeyLen),
    skPi: take(prfKeyLen),
    skPr: take(prfKeyLen),
  };
}

export interface ChildKeys {
  encI: Uint8Array; // initiator → responder
  integI: Uint8Array;
  encR: Uint8Array; // responder → initiator
  integR: Uint8Array;
}

export interface ChildKeyParams {
  prfId: number;
  skD: Uint8Array;
  nonceI: Uint8Array;
  nonceR: Uint8Array;
  /** g^ir (new) from a CREATE_CHILD_SA with PFS; absent for the IKE_AUTH Child SA and rekeys without PFS. */
  sharedSecret?: Uint8Array;
  encrId: number;
  encrKeyBits?: number;
  integId: number;
}

/** KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr), taken as encr-i, integ-i, encr-r, integ-r (§2.17). */
export function deriveChildKeys(suite: CryptoSuite, p: ChildKeyParams): ChildKeys {
  const { encKeyLen, integKeyLen } = suite.keyLengths(p.encrId, p.encrKeyBits, p.integId);
  const seed = p.sharedSecret ? concatBytes(p.sharedSecret, p.nonceI, p.nonceR) : concatBytes(p.nonceI, p.nonceR);
  const stream = suite.prfPlus(p.prfId, p.skD, seed, 2 * (encKeyLen + integKeyLen));
  let off = 0;
  const take = (n: number) => stream.slice(off, (off += n));
  return { encI: take(encKeyLen), integI: take(integKeyLen), encR: take(encKeyLen), integR: take(integKeyLen) };
}
