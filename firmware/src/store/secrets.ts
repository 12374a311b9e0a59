// Secrets at rest: AES-256-GCM (NIST SP 800-38D) under the device key, bound to where the value is stored.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const PREFIX = 'v1.';
const NONCE_LEN = 12;
const TAG_LEN = 16;

/**
 * Seals `plaintext` as `v1.<base64url(nonce ‖ ciphertext ‖ tag)>`. `context` (say "config_versions.yaml") is
 * authenticated, so a sealed value copied into another column or row kind fails to open.
 */
export function sealSecret(key: Uint8Array, plaintext: Uint8Array | string, context: string): string {
  const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  const nonce = randomBytes(NONCE_LEN);
  const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LEN });
  c.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([nonce, c.update(data), c.final(), c.getAuthTag()]);
  return PREFIX + body.toString('base64url');
}

export type Opened = { ok: true; value: Uint8Array } | { ok: false; error: string };

/** Never throws: a wrong key, a wrong context or a modified value all come back as an error. */
export function openSecret(key: Uint8Array, sealed: string, context: string): Opened {
  if (!sealed.startsWith(PREFIX)) return { ok: false, error: 'not a sealed value (unknown format)' };
  const body = Buffer.from(sealed.slice(PREFIX.length), 'base64url');
  if (body.length < NONCE_LEN + TAG_LEN) return { ok: false, error: 'sealed value too short' };
  try {
    const d = createDecipheriv('aes-256-gcm', key, body.subarray(0, NONCE_LEN), { authTagLength: TAG_LEN });
    d.setAAD(Buffer.from(context, 'utf8'));
    d.setAuthTag(body.subarray(body.length - TAG_LEN));
    const out = Buffer.concat([d.update(body.subarray(NONCE_LEN, body.length - TAG_LEN)), d.final()]);
    return { ok: true, value: new Uint8Array(out) };
  } catch {
    return { ok: false, error: 'authentication failed (wrong device key, wrong context or modified value)' };
  }
}

export function openSecretText(key: Uint8Array, sealed: string, context: string): { ok: true; value: string } | { ok: false; error: string } {
  const r = openSecret(key, sealed, context);
  return r.ok ? { ok: true, value: Buffer.from(r.value).toString('utf8') } : r;
}
