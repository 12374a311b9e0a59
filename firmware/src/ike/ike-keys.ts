// Turning IKE_SA_INIT (§2.14) and IKE rekey (§2.18) results into the SA's keys and SK transforms (RFC 7296).
import { TransformType, IntegId } from './constants.ts';
import { deriveIkeSaKeys, deriveRekeyedIkeSaKeys, type IkeSaKeys } from '../crypto/ikev2-keys.ts';
import type { EngineContext } from './context.ts';
import type { IkeSa } from './ike-sa.ts';
import { transformOf } from './conn-proposals.ts';

type DeriveParams = Parameters<typeof deriveIkeSaKeys>[1];

/** Derives SK_* from the negotiated proposal; false when the proposal lacks a transform we need. */
export function installIkeKeys(ctx: EngineContext, sa: IkeSa, sharedSecret: Uint8Array): boolean {
  return install(ctx, sa, sharedSecret, (p) => deriveIkeSaKeys(ctx.crypto, p));
}

/**
 * §2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) with the old SA's PRF; SK_* with the new SA's
 * proposal, nonces and SPIs. `sa` is the new SA (proposal, nonces, SPIs set), `old` the one being rekeyed.
 */
export function installRekeyedIkeKeys(ctx: EngineContext, sa: IkeSa, old: IkeSa, sharedSecret: Uint8Array): boolean {
  const oldSkD = old.keys?.skD;
  if (!oldSkD) return false;
  return install(ctx, sa, sharedSecret, (p) => deriveRekeyedIkeSaKeys(ctx.crypto, { ...p, oldPrfId: old.prfId, oldSkD }));
}

function install(ctx: EngineContext, sa: IkeSa, sharedSecret: Uint8Array, derive: (p: DeriveParams) => IkeSaKeys): boolean {
  const p = sa.proposal;
  if (!p) return false;
  const encr = transformOf(p, TransformType.ENCR);
  const prf = transformOf(p, TransformType.PRF);
  const integId = transformOf(p, TransformType.INTEG)?.id ?? IntegId.NONE;
  if (!encr || !prf) return false;
  const keys = derive({
    prfId: prf.id,
    encrId: encr.id,
    encrKeyBits: encr.keyLength,
    integId,
    nonceI: sa.nonceI,
    nonceR: sa.nonceR,
    sharedSecret,
    spiI: sa.spiI,
    spiR: sa.spiR,
  });
  setKeys(ctx, sa, keys, prf.id, encr, integId);
  return true;
}

function setKeys(ctx: EngineContext, sa: IkeSa, keys: IkeSaKeys, prfId: number, encr: { id: number; keyLength?: number }, integId: number): void {
  sa.keys = keys;
  sa.prfId = prfId;
  const skI = ctx.crypto.sk(encr.id, encr.keyLength, integId, keys.skEi, keys.skAi);
  const skR = ctx.crypto.sk(encr.id, encr.keyLength, integId, keys.skEr, keys.skAr);
  sa.skOut = sa.initiator ? skI : skR;
  sa.skIn = sa.initiator ? skR : skI;
}
