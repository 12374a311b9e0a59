// Loads certificates, private keys and pre-shared keys named in a config (RFC 7296 §2.15 PSK, RFC 5958 PKCS#8, RFC 7468 PEM).
import { createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { HashAlgorithm } from '../ike/constants.ts';
import { pemDecode } from '../pki/pem.ts';
import type { SignatureOps, Signer } from '../pki/types.ts';

export type Loaded<T> = { ok: true; value: T; warnings: string[] } | { ok: false; error: string };

export function resolvePath(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

function readFile(path: string): { ok: true; bytes: Uint8Array } | { ok: false; error: string } {
  try {
    return { ok: true, bytes: new Uint8Array(readFileSync(path)) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : String((e as Error).message);
    return { ok: false, error: `cannot read ${path}: ${why}` };
  }
}

/** Secrets readable by group or others deserve a warning, not a refusal (containers often run as root with 0644). */
function permissionWarning(path: string, what: string): string[] {
  try {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) return [`${what} ${path} is readable by other users (mode ${mode.toString(8).padStart(4, '0')}); chmod 600 it`];
  } catch {
    // Already read successfully; a failing stat changes nothing.
  }
  return [];
}

function looksLikePem(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, Math.min(bytes.length, 4096)));
  return head.includes('-----BEGIN ');
}

/** All certificates in a PEM (in file order) or a single DER certificate. */
export function loadCertificates(path: string, sig: SignatureOps): Loaded<Uint8Array[]> {
  const file = readFile(path);
  if (!file.ok) return file;
  let ders: Uint8Array[];
  if (looksLikePem(file.bytes)) {
    let blocks: { label: string; der: Uint8Array }[];
    try {
      blocks = pemDecode(new TextDecoder().decode(file.bytes));
    } catch (e) {
      return { ok: false, error: `${path}: malformed PEM (${(e as Error).message})` };
    }
    ders = blocks.filter((b) => b.label === 'CERTIFICATE').map((b) => b.der);
    if (ders.length === 0) {
      const labels = blocks.map((b) => b.label).join(', ') || 'none';
      return { ok: false, error: `${path}: no CERTIFICATE block in PEM (found: ${labels})` };
    }
  } else {
    ders = [file.bytes];
  }
  for (const [i, der] of ders.entries()) {
    if (sig.spkiOf(der) === null) {
      return { ok: false, error: `${path}: certificate ${i + 1} is not a parseable X.509 certificate` };
    }
  }
  return { ok: true, value: ders, warnings: [] };
}

function toPkcs8(der: Uint8Array, type: 'pkcs1' | 'sec1'): Uint8Array {
  const key = createPrivateKey({ key: Buffer.from(der), format: 'der', type });
  return new Uint8Array(key.export({ format: 'der', type: 'pkcs8' }));
}

/** A PKCS#8 private key; PKCS#1 (`RSA PRIVATE KEY`) and SEC1 (`EC PRIVATE KEY`), as `pki --gen` writes, are converted. */
export function loadPrivateKey(path: string, sig: SignatureOps): Loaded<{ pkcs8: Uint8Array; signer: Signer }> {
  const file = readFile(path);
  if (!file.ok) return file;
  let pkcs8: Uint8Array;
  try {
    if (looksLikePem(file.bytes)) {
      const text = new TextDecoder().decode(file.bytes);
      if (text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
        return { ok: false, error: `${path}: encrypted private keys are not supported (decrypt with: openssl pkcs8 -in KEY -nocrypt -topk8)` };
      }
      const blocks = pemDecode(text);
      const block = blocks.find((b) => /PRIVATE KEY$/.test(b.label));
      if (!block) return { ok: false, error: `${path}: no PRIVATE KEY block in PEM` };
      if (block.label === 'RSA PRIVATE KEY') pkcs8 = toPkcs8(block.der, 'pkcs1');
      else if (block.label === 'EC PRIVATE KEY') pkcs8 = toPkcs8(block.der, 'sec1');
      else if (block.label === 'PRIVATE KEY') pkcs8 = block.der;
      else return { ok: false, error: `${path}: unsupported key type "${block.label}"` };
    } else {
      pkcs8 = file.bytes;
    }
  } catch (e) {
    return { ok: false, error: `${path}: malformed private key (${(e as Error).message})` };
  }
  let signer: Signer;
  try {
    signer = sig.createSigner(pkcs8);
  } catch (e) {
    return { ok: false, error: `${path}: unusable private key (${(e as Error).message})` };
  }
  return { ok: true, value: { pkcs8, signer }, warnings: permissionWarning(path, 'private key') };
}

const PROBE = new TextEncoder().encode('outpost config: does this key belong to this certificate?');

/** Null when the key signs what the certificate's public key verifies; else why not. */
export function keyMismatch(certDer: Uint8Array, signer: Signer, sig: SignatureOps): string | null {
  const spki = sig.spkiOf(certDer);
  if (!spki) return 'certificate is not parseable';
  const certType = sig.keyTypeOf(spki);
  if (certType !== signer.keyType) return `private key is ${signer.keyType} but the certificate's key is ${certType ?? 'unsupported'}`;
  try {
    const all = [HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512, HashAlgorithm.IDENTITY];
    const scheme = sig.chooseScheme(signer.keyType, all);
    if (!sig.verify(spki, scheme, PROBE, signer.sign(scheme, PROBE))) return "private key does not match the certificate's public key";
  } catch (e) {
    return `cannot sign with the private key (${(e as Error).message})`;
  }
  return null;
}

/**
 * A PSK as written: `0x` + hex, `0s` + base64 (strongSwan's prefixes), else the UTF-8 octets of the text.
 * Length policy: under DEFAULTS.pskMinOctets refused, under pskWarnOctets a warning (checked by the caller).
 */
export function decodePsk(text: string): { ok: true; value: Uint8Array } | { ok: false; error: string } {
  if (/^0x/i.test(text)) {
    const hex = text.slice(2).replace(/[\s:]/g, '');
    if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(hex)) {
      return { ok: false, error: 'hex PSK (0x…) must have an even number of hex digits' };
    }
    return { ok: true, value: Uint8Array.from(hex.match(/../g) as string[], (h) => parseInt(h, 16)) };
  }
  if (/^0s/.test(text)) {
    const b64 = text.slice(2).replace(/\s/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return { ok: false, error: 'base64 PSK (0s…) is malformed' };
    return { ok: true, value: new Uint8Array(Buffer.from(b64, 'base64')) };
  }
  return { ok: true, value: new TextEncoder().encode(text) };
}

/** A PSK file holds the secret in the same notation; one trailing newline is not part of it. */
export function loadPskFile(path: string): Loaded<Uint8Array> {
  const file = readFile(path);
  if (!file.ok) return file;
  const text = new TextDecoder().decode(file.bytes).replace(/\r?\n$/, '');
  const psk = decodePsk(text);
  if (!psk.ok) return { ok: false, error: `${path}: ${psk.error}` };
  return { ok: true, value: psk.value, warnings: permissionWarning(path, 'PSK file') };
}
