// Algorithm registry: strongSwan proposal keywords ↔ IANA IKEv2 transform ids (RFC 7296 §3.3.2, RFC 8247 for "legacy").
import { DhId, EncrId, EsnId, IntegId, PrfId, TransformType } from '../ike/constants.ts';

export type ProposalKind = 'ike' | 'esp';

export interface AlgorithmInfo {
  /** Canonical strongSwan keyword, used when printing proposals. */
  readonly name: string;
  readonly aliases: readonly string[];
  readonly type: number; // TransformType
  readonly id: number;
  /** Key Length attribute in bits, for ciphers that carry one (AES); absent for fixed-key ciphers. */
  readonly keyBits?: number;
  readonly aead: boolean;
  /** RFC 8247 "MUST NOT"/"SHOULD NOT" or below 112-bit strength: only negotiated when legacy is enabled. */
  readonly legacy: boolean;
  readonly kinds: readonly ProposalKind[];
}

const BOTH: readonly ProposalKind[] = ['ike', 'esp'];
const IKE: readonly ProposalKind[] = ['ike'];
const ESP: readonly ProposalKind[] = ['esp'];

function alg(
  name: string,
  type: number,
  id: number,
  extra: { aliases?: string[]; keyBits?: number; aead?: boolean; legacy?: boolean; kinds?: readonly ProposalKind[] } = {},
): AlgorithmInfo {
  return {
    name,
    aliases: extra.aliases ?? [],
    type,
    id,
    ...(extra.keyBits !== undefined ? { keyBits: extra.keyBits } : {}),
    aead: extra.aead ?? false,
    legacy: extra.legacy ?? false,
    kinds: extra.kinds ?? BOTH,
  };
}

const T = TransformType;

export const ALGORITHMS: readonly AlgorithmInfo[] = [
  // Encryption. strongSwan spells the 16-octet-ICV GCM both "gcm16" and "gcm128".
  alg('aes128gcm16', T.ENCR, EncrId.AES_GCM_16, { keyBits: 128, aead: true, aliases: ['aes128gcm128'] }),
  alg('aes192gcm16', T.ENCR, EncrId.AES_GCM_16, { keyBits: 192, aead: true, aliases: ['aes192gcm128'] }),
  alg('aes256gcm16', T.ENCR, EncrId.AES_GCM_16, { keyBits: 256, aead: true, aliases: ['aes256gcm128'] }),
  alg('chacha20poly1305', T.ENCR, EncrId.CHACHA20_POLY1305, { aead: true }),
  alg('aes128', T.ENCR, EncrId.AES_CBC, { keyBits: 128, aliases: ['aes128cbc'] }),
  alg('aes192', T.ENCR, EncrId.AES_CBC, { keyBits: 192, aliases: ['aes192cbc'] }),
  alg('aes256', T.ENCR, EncrId.AES_CBC, { keyBits: 256, aliases: ['aes256cbc'] }),
  alg('3des', T.ENCR, EncrId.TRIPLE_DES, { legacy: true }),
  alg('des', T.ENCR, EncrId.DES, { legacy: true }),

  // Integrity (truncated HMACs, RFC 4868 / RFC 2404 / RFC 2403).
  alg('sha256', T.INTEG, IntegId.HMAC_SHA2_256_128, { aliases: ['sha2_256'] }),
  alg('sha384', T.INTEG, IntegId.HMAC_SHA2_384_192, { aliases: ['sha2_384'] }),
  alg('sha512', T.INTEG, IntegId.HMAC_SHA2_512_256, { aliases: ['sha2_512'] }),
  alg('sha1', T.INTEG, IntegId.HMAC_SHA1_96, { legacy: true, aliases: ['sha'] }),
  alg('md5', T.INTEG, IntegId.HMAC_MD5_96, { legacy: true }),

  // PRFs exist only in IKE proposals.
  alg('prfsha256', T.PRF, PrfId.HMAC_SHA2_256, { kinds: IKE }),
  alg('prfsha384', T.PRF, PrfId.HMAC_SHA2_384, { kinds: IKE }),
  alg('prfsha512', T.PRF, PrfId.HMAC_SHA2_512, { kinds: IKE }),
  alg('prfsha1', T.PRF, PrfId.HMAC_SHA1, { legacy: true, kinds: IKE }),
  alg('prfmd5', T.PRF, PrfId.HMAC_MD5, { legacy: true, kinds: IKE }),

  // Key exchange. "modpnone" is strongSwan's explicit "no PFS" choice (ESP only; IKE always needs a KE).
  alg('modp2048', T.DH, DhId.MODP_2048),
  alg('modp3072', T.DH, DhId.MODP_3072),
  alg('modp4096', T.DH, DhId.MODP_4096),
  alg('modp1024', T.DH, DhId.MODP_1024, { legacy: true }),
  alg('modp1536', T.DH, DhId.MODP_1536, { legacy: true }),
  alg('ecp256', T.DH, DhId.ECP_256),
  alg('ecp384', T.DH, DhId.ECP_384),
  alg('ecp521', T.DH, DhId.ECP_521),
  alg('x25519', T.DH, DhId.CURVE25519, { aliases: ['curve25519'] }),
  alg('x448', T.DH, DhId.CURVE448, { aliases: ['curve448'] }),
  alg('modpnone', T.DH, DhId.NONE, { kinds: ESP, aliases: ['none'] }),

  alg('esn', T.ESN, EsnId.ESN, { kinds: ESP }),
  alg('noesn', T.ESN, EsnId.NO_ESN, { kinds: ESP }),
];

const byName = new Map<string, AlgorithmInfo>();
for (const a of ALGORITHMS) {
  byName.set(a.name, a);
  for (const alias of a.aliases) byName.set(alias, a);
}

/** Look up a proposal keyword (case-insensitive). */
export function algorithmByName(name: string): AlgorithmInfo | undefined {
  return byName.get(name.toLowerCase());
}

/** The registry entry for a wire transform; keyBits must match for ciphers that carry a Key Length. */
export function algorithmFor(type: number, id: number, keyBits?: number): AlgorithmInfo | undefined {
  return ALGORITHMS.find((a) => a.type === type && a.id === id && a.keyBits === keyBits);
}

/** AEAD ciphers protect integrity themselves, so proposals carrying them have no INTEG (RFC 5282 §8). */
export function isAeadEncr(encrId: number): boolean {
  return (
    encrId === EncrId.AES_GCM_8 ||
    encrId === EncrId.AES_GCM_12 ||
    encrId === EncrId.AES_GCM_16 ||
    encrId === EncrId.CHACHA20_POLY1305
  );
}

const PRF_FOR_INTEG: Readonly<Record<number, number>> = {
  [IntegId.HMAC_SHA2_256_128]: PrfId.HMAC_SHA2_256,
  [IntegId.HMAC_SHA2_384_192]: PrfId.HMAC_SHA2_384,
  [IntegId.HMAC_SHA2_512_256]: PrfId.HMAC_SHA2_512,
  [IntegId.HMAC_SHA1_96]: PrfId.HMAC_SHA1,
  [IntegId.HMAC_MD5_96]: PrfId.HMAC_MD5,
};

/** strongSwan derives the IKE PRF from the integrity algorithm when none is configured. */
export function prfForInteg(integId: number): number | undefined {
  return PRF_FOR_INTEG[integId];
}
