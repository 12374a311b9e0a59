// ESP transform parameters: AES-GCM (RFC 4106 §8.1), ChaCha20-Poly1305 (RFC 7634 §2), AES-CBC (RFC 3602) + HMAC-SHA2 (RFC 4868 §2).
import { EncrId, IntegId } from '../ike/constants.ts';
import type { EspAead, EspHash } from './primitives.ts';

export type EspSuite =
  | { kind: 'aead'; aead: EspAead; keyLen: number; saltLen: 4; ivLen: 8; icvLen: number; blockLen: 4 }
  | { kind: 'cbc-hmac'; keyLen: number; hash: EspHash; integKeyLen: number; ivLen: 16; icvLen: number; blockLen: 16 };

const HMACS: Readonly<Record<number, { hash: EspHash; integKeyLen: number; icvLen: number }>> = {
  [IntegId.HMAC_SHA2_256_128]: { hash: 'sha256', integKeyLen: 32, icvLen: 16 },
  [IntegId.HMAC_SHA2_384_192]: { hash: 'sha384', integKeyLen: 48, icvLen: 24 },
  [IntegId.HMAC_SHA2_512_256]: { hash: 'sha512', integKeyLen: 64, icvLen: 32 },
};

const GCM_ICV: Readonly<Record<number, number>> = {
  [EncrId.AES_GCM_8]: 8,
  [EncrId.AES_GCM_12]: 12,
  [EncrId.AES_GCM_16]: 16,
};

/** The suite for a negotiated transform set, or an error naming what is unsupported. */
export function espSuite(encrId: number, encrKeyBits: number | undefined, integId: number): { ok: true; value: EspSuite } | { ok: false; error: string } {
  const gcmIcv = GCM_ICV[encrId];
  if (gcmIcv !== undefined || encrId === EncrId.CHACHA20_POLY1305) {
    if (integId !== IntegId.NONE) return { ok: false, error: 'AEAD transforms take no integrity transform' };
    if (encrId === EncrId.CHACHA20_POLY1305) {
      if (encrKeyBits !== undefined && encrKeyBits !== 256) return { ok: false, error: `ChaCha20-Poly1305 key length ${encrKeyBits}` };
      return { ok: true, value: { kind: 'aead', aead: 'chacha20-poly1305', keyLen: 32, saltLen: 4, ivLen: 8, icvLen: 16, blockLen: 4 } };
    }
    if (encrKeyBits !== 128 && encrKeyBits !== 192 && encrKeyBits !== 256) return { ok: false, error: `AES-GCM key length ${encrKeyBits}` };
    return { ok: true, value: { kind: 'aead', aead: 'aes-gcm', keyLen: encrKeyBits / 8, saltLen: 4, ivLen: 8, icvLen: gcmIcv ?? 16, blockLen: 4 } };
  }
  if (encrId === EncrId.AES_CBC) {
    if (encrKeyBits !== 128 && encrKeyBits !== 192 && encrKeyBits !== 256) return { ok: false, error: `AES-CBC key length ${encrKeyBits}` };
    const mac = HMACS[integId];
    if (!mac) return { ok: false, error: `integrity transform ${integId} unsupported with AES-CBC` };
    return { ok: true, value: { kind: 'cbc-hmac', keyLen: encrKeyBits / 8, ivLen: 16, blockLen: 16, ...mac } };
  }
  return { ok: false, error: `encryption transform ${encrId} unsupported` };
}
