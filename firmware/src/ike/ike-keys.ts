// Turning IKE_SA_INIT results into the SA's keys and SK transforms (RFC 7296 §2.14).
import { TransformType, IntegId } from './constants.ts';
import { deriveIkeSaKeys } from '../crypto/ikev2-keys.ts';
import type { EngineContext } from './context.ts';
import type { IkeSa } from './ike-sa.ts';
import { transformOf } from './conn-proposals.ts';

/** Derives SK_* from the negotiated proposal; false when the proposal lacks a transform we need. */
export function installIkeKeys(ctx: EngineContext, sa: IkeSa, sharedSecret: Uint8Array): boolean {
  const p = sa.proposal;
  if (!p) return false;
  const encr = transformOf(p, TransformType.ENCR);
  const prf = transformOf(p, TransformType.PRF);
  const integId = transformOf(p, TransformType.INTEG)?.id ?? IntegId.NONE;
  if (!encr || !prf) return false;
  const keys = deriveIkeSaKeys(ctx.crypto, {
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
  sa.keys = keys;
  sa.prfId = prf.id;
  const skI = ctx.crypto.sk(encr.id, encr.keyLength, integId, keys.skEi, keys.skAi);
  const skR = ctx.crypto.sk(encr.id, encr.keyLength, integId, keys.skEr, keys.skAr);
  sa.skOut = sa.initiator ? skI : skR;
  sa.skIn = sa.initiator ? skR : skI;
  return true;
}
