// Secret hiding with the shared secret: User-Password (RFC 2865 §5.2) and the salted MS-MPPE key
// encryption (RFC 2548 §2.4.2, §2.4.3), both MD5 stream constructions keyed by the Request Authenticator.
import type { Decoded } from '../ike/codec/types.ts';
import { MicrosoftAttr, VendorId } from './constants.ts';
import { getVendorAttr } from './attributes.ts';
import type { RadiusPacket } from './packet.ts';
import { concat, xorInto } from './bytes.ts';
import { md5 } from './md5.ts';

/** b(1) = MD5(S + seed), b(i) = MD5(S + c(i-1)): the chaining both constructions share. */
function md5Chain(secret: Uint8Array, seed: Uint8Array, input: Uint8Array, decrypt: boolean): Uint8Array {
  const out = new Uint8Array(input.length);
  let prev = seed;
  for (let off = 0; off < input.length; off += 16) {
    const block = input.slice(off, off + 16);
    const b = md5(secret, prev);
    const c = block.slice();
    xorInto(c, b);
    out.set(c, off);
    prev = decrypt ? block : c;
  }
  return out;
}

/** §5.2: at most 128 octets, zero-padded to a multiple of 16 (an empty password becomes one zero block). */
export function hideUserPassword(password: Uint8Array, secret: Uint8Array, requestAuthenticator: Uint8Array): Decoded<Uint8Array> {
  if (password.length > 128) return { ok: false, error: 'User-Password longer than 128 octets' };
  const padded = new Uint8Array(Math.max(16, Math.ceil(password.length / 16) * 16));
  padded.set(password);
  return { ok: true, value: md5Chain(secret, requestAuthenticator, padded, false) };
}

/** The server's view (and our tests'): trailing zero padding removed. */
export function unhideUserPassword(hidden: Uint8Array, secret: Uint8Array, requestAuthenticator: Uint8Array): Decoded<Uint8Array> {
  if (hidden.length < 16 || hidden.length > 128 || hidden.length % 16 !== 0) return { ok: false, error: `hidden User-Password of ${hidden.length} octets` };
  const plain = md5Chain(secret, requestAuthenticator, hidden, true);
  let end = plain.length;
  while (end > 0 && plain[end - 1] === 0) end--;
  return { ok: true, value: plain.slice(0, end) };
}

/**
 * RFC 2548 §2.4.2: value = Salt (2 octets, high bit set, unique per key in a packet) || encrypted(len || key || pad),
 * with b(1) = MD5(S + R + A) where R is the Access-Request's Request Authenticator and A the salt.
 */
export function encryptMppeKey(key: Uint8Array, secret: Uint8Array, requestAuthenticator: Uint8Array, salt: Uint8Array): Decoded<Uint8Array> {
  if (salt.length !== 2) return { ok: false, error: 'MPPE salt must be 2 octets' };
  if (key.length > 240) return { ok: false, error: 'MPPE key too long' };
  const s = Uint8Array.of((salt[0] ?? 0) | 0x80, salt[1] ?? 0);
  const plain = new Uint8Array(Math.ceil((key.length + 1) / 16) * 16);
  plain[0] = key.length;
  plain.set(key, 1);
  return { ok: true, value: concat(s, md5Chain(secret, concat(requestAuthenticator, s), plain, false)) };
}

export function decryptMppeKey(value: Uint8Array, secret: Uint8Array, requestAuthenticator: Uint8Array): Decoded<Uint8Array> {
  if (value.length < 2 + 16 || (value.length - 2) % 16 !== 0) return { ok: false, error: `MPPE key attribute of ${value.length} octets` };
  const salt = value.slice(0, 2);
  const plain = md5Chain(secret, concat(requestAuthenticator, salt), value.slice(2), true);
  const keyLen = plain[0] ?? 0;
  if (keyLen === 0 || keyLen > plain.length - 1) return { ok: false, error: `MPPE key length ${keyLen} does not fit (wrong secret?)` };
  return { ok: true, value: plain.slice(1, 1 + keyLen) };
}

/**
 * The EAP MSK an Access-Accept delivers (RFC 3748 §7.10 via RFC 2548): MS-MPPE-Recv-Key || MS-MPPE-Send-Key, as
 * strongSwan's eap-radius and hostapd assemble it. undefined when the Accept carries no keys.
 */
export function mskFromMppeKeys(accept: RadiusPacket, secret: Uint8Array, requestAuthenticator: Uint8Array): Decoded<Uint8Array> | undefined {
  const recv = getVendorAttr(accept, VendorId.MICROSOFT, MicrosoftAttr.MS_MPPE_RECV_KEY);
  const send = getVendorAttr(accept, VendorId.MICROSOFT, MicrosoftAttr.MS_MPPE_SEND_KEY);
  if (!recv && !send) return undefined;
  if (!recv || !send) return { ok: false, error: `Access-Accept carries only MS-MPPE-${recv ? 'Recv' : 'Send'}-Key` };
  const r = decryptMppeKey(recv, secret, requestAuthenticator);
  if (!r.ok) return { ok: false, error: `MS-MPPE-Recv-Key: ${r.error}` };
  const s = decryptMppeKey(send, secret, requestAuthenticator);
  if (!s.ok) return { ok: false, error: `MS-MPPE-Send-Key: ${s.error}` };
  return { ok: true, value: concat(r.value, s.value) };
}
