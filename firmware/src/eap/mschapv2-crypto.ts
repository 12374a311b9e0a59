// MS-CHAPv2 computations (RFC 2759 §8) and its key derivation (RFC 3079 §3.4), plus the EAP MSK built from them.
import { sha1 } from '@noble/hashes/legacy.js';
import { concat, toHex } from '../radius/bytes.ts';
import type { MschapPrimitives } from './mschap-primitives.ts';

const ascii = (s: string) => new TextEncoder().encode(s);

// RFC 2759 §8.7 Magic1/Magic2 (authenticator response).
const AUTH_MAGIC1 = ascii('Magic server to client signing constant');
const AUTH_MAGIC2 = ascii('Pad to make it do more than one iteration');
// RFC 3079 §3.4 Magic1..3 (keys).
const KEY_MAGIC1 = ascii('This is the MPPE Master Key');
const KEY_MAGIC2 = ascii('On the client side, this is the send key; on the server side, it is the receive key.');
const KEY_MAGIC3 = ascii('On the client side, this is the receive key; on the server side, it is the send key.');
const SHS_PAD1 = new Uint8Array(40);
const SHS_PAD2 = new Uint8Array(40).fill(0xf2);

/** RFC 2759 §8.3: MD4 over the password in UTF-16LE ("Unicode"). */
export function ntPasswordHash(p: MschapPrimitives, password: string): Uint8Array {
  const u = new Uint8Array(password.length * 2);
  for (let i = 0; i < password.length; i++) {
    const c = password.charCodeAt(i);
    u[i * 2] = c & 0xff;
    u[i * 2 + 1] = c >>> 8;
  }
  return p.md4(u);
}

/** RFC 2759 §8.2: only the user name without a `DOMAIN\` prefix enters the challenge hash. */
export function stripDomain(userName: string): string {
  const i = userName.lastIndexOf('\\');
  return i >= 0 ? userName.slice(i + 1) : userName;
}

/** RFC 2759 §8.2 ChallengeHash. */
export function challengeHash(peerChallenge: Uint8Array, authChallenge: Uint8Array, userName: string): Uint8Array {
  return sha1(concat(peerChallenge, authChallenge, ascii(stripDomain(userName)))).slice(0, 8);
}

/** RFC 2759 §8.5 ChallengeResponse: three DES blocks under the zero-padded 21-octet password hash. */
export function challengeResponse(p: MschapPrimitives, challenge: Uint8Array, passwordHash: Uint8Array): Uint8Array {
  const z = new Uint8Array(21);
  z.set(passwordHash);
  return concat(p.desEncrypt(z.slice(0, 7), challenge), p.desEncrypt(z.slice(7, 14), challenge), p.desEncrypt(z.slice(14, 21), challenge));
}

/** RFC 2759 §8.1 GenerateNTResponse. */
export function generateNtResponse(p: MschapPrimitives, authChallenge: Uint8Array, peerChallenge: Uint8Array, userName: string, passwordHash: Uint8Array): Uint8Array {
  return challengeResponse(p, challengeHash(peerChallenge, authChallenge, userName), passwordHash);
}

/** RFC 2759 §8.7 GenerateAuthenticatorResponse: the 42-character `S=` + 40 upper-case hex digits. */
export function generateAuthenticatorResponse(
  p: MschapPrimitives,
  passwordHash: Uint8Array,
  ntResponse: Uint8Array,
  peerChallenge: Uint8Array,
  authChallenge: Uint8Array,
  userName: string,
): string {
  const hashHash = p.md4(passwordHash);
  const digest1 = sha1(concat(hashHash, ntResponse, AUTH_MAGIC1));
  const digest2 = sha1(concat(digest1, challengeHash(peerChallenge, authChallenge, userName), AUTH_MAGIC2));
  return 'S=' + toHex(digest2).toUpperCase();
}

/** RFC 3079 §3.4 GetMasterKey. */
export function masterKey(passwordHashHash: Uint8Array, ntResponse: Uint8Array): Uint8Array {
  return sha1(concat(passwordHashHash, ntResponse, KEY_MAGIC1)).slice(0, 16);
}

/** RFC 3079 §3.4 GetAsymmetricStartKey, 128-bit session keys. */
export function asymmetricStartKey(master: Uint8Array, isSend: boolean, isServer: boolean): Uint8Array {
  const magic = isSend === isServer ? KEY_MAGIC3 : KEY_MAGIC2;
  return sha1(concat(master, SHS_PAD1, magic, SHS_PAD2)).slice(0, 16);
}

/**
 * The EAP-MSCHAPv2 MSK, the same on both ends: the server's receive key || the server's send key (= the values of
 * MS-MPPE-Recv-Key || MS-MPPE-Send-Key a RADIUS server returns), zero-padded to the 64 octets RFC 3748 §7.10 asks
 * for, exactly as strongSwan's eap-mschapv2 builds it (HMAC pads a shorter key with zeros anyway).
 */
export function mschapV2Msk(p: MschapPrimitives, passwordHash: Uint8Array, ntResponse: Uint8Array): Uint8Array {
  const master = masterKey(p.md4(passwordHash), ntResponse);
  return concat(asymmetricStartKey(master, false, true), asymmetricStartKey(master, true, true), new Uint8Array(32));
}
