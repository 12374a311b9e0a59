// The per-device secret (32 random octets in a 0600 file, created at first start) and the keys derived from it (RFC 5869 HKDF).
import { hkdfSync, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export const DEVICE_KEY_LEN = 32;

export interface DeviceKeys {
  /** AES-256-GCM key for secrets at rest (secrets.ts). */
  readonly secrets: Uint8Array;
  /** HMAC-SHA256 key for pseudonyms of session ids and identities (pseudonym.ts). */
  readonly pseudonyms: Uint8Array;
  /** True when the key file was created by this call. */
  readonly created: boolean;
  /** Set when the file is readable by group or others (the caller should warn). */
  readonly warning?: string;
}

/** Separate keys per purpose, so a pseudonym never reveals anything about the encryption key and vice versa. */
export function deriveDeviceKeys(master: Uint8Array): Pick<DeviceKeys, 'secrets' | 'pseudonyms'> {
  const derive = (info: string) => new Uint8Array(hkdfSync('sha256', master, new Uint8Array(0), info, 32));
  return { secrets: derive('outpost secrets at rest v1'), pseudonyms: derive('outpost pseudonyms v1') };
}

function fsyncDir(path: string): void {
  const fd = openSync(dirname(path), 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the device key file, or creates it (0600) when absent. Creation writes a temporary file, fsyncs it and
 * hard-links it into place, so a crash or a concurrent start never leaves a short or second key behind.
 */
export function loadOrCreateDeviceKey(path: string, random: (n: number) => Uint8Array = (n) => new Uint8Array(randomBytes(n))): DeviceKeys {
  let created = false;
  let master: Uint8Array;
  try {
    master = new Uint8Array(readFileSync(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const tmp = `${path}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, random(DEVICE_KEY_LEN));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, path);
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      unlinkSync(tmp);
    }
    fsyncDir(path);
    master = new Uint8Array(readFileSync(path));
  }
  if (master.length !== DEVICE_KEY_LEN) throw new Error(`device key ${path} has ${master.length} octets, expected ${DEVICE_KEY_LEN}; refusing to use it`);
  const mode = statSync(path).mode & 0o777;
  const warning = (mode & 0o077) !== 0 ? `device key ${path} is readable by group or others (mode ${mode.toString(8)}); chmod 600 it` : undefined;
  return { ...deriveDeviceKeys(master), created, ...(warning ? { warning } : {}) };
}
