// Stateless IKE_SA_INIT cookies (RFC 7296 §2.6): Cookie = VersionIdOfSecret | SHA-256(Ni | IPi | SPIi | secret).
import type { CryptoSuite } from '../crypto/types.ts';
import { concatBytes, readU32, u32Bytes } from './bytes.ts';

/** How long one secret is used before a new one replaces it; the previous one is still accepted. */
export const COOKIE_SECRET_LIFETIME_MS = 120_000;
const VERSION_LEN = 4;
const SECRET_LEN = 32;

interface Secret {
  version: number;
  key: Uint8Array;
  createdMs: number;
}

export class CookieJar {
  private current: Secret;
  private previous: Secret | null = null;

  constructor(private readonly crypto: CryptoSuite, nowMs: number) {
    this.current = { version: readU32(crypto.randomBytes(4), 0), key: crypto.randomBytes(SECRET_LEN), createdMs: nowMs };
  }

  make(nonceI: Uint8Array, addrI: Uint8Array, spiI: Uint8Array, nowMs: number): Uint8Array {
    this.rotate(nowMs);
    return concatBytes(u32Bytes(this.current.version), this.digest(this.current, nonceI, addrI, spiI));
  }

  verify(cookie: Uint8Array, nonceI: Uint8Array, addrI: Uint8Array, spiI: Uint8Array, nowMs: number): boolean {
    this.rotate(nowMs);
    if (cookie.length !== VERSION_LEN + 32) return false;
    const version = readU32(cookie, 0);
    const secret = version === this.current.version ? this.current : version === this.previous?.version ? this.previous : null;
    if (!secret) return false;
    return this.crypto.equal(cookie.subarray(VERSION_LEN), this.digest(secret, nonceI, addrI, spiI));
  }

  private digest(s: Secret, nonceI: Uint8Array, addrI: Uint8Array, spiI: Uint8Array): Uint8Array {
    return this.crypto.hash('sha256', concatBytes(nonceI, addrI, spiI, s.key));
  }

  private rotate(nowMs: number): void {
    if (nowMs - this.current.createdMs < COOKIE_SECRET_LIFETIME_MS) return;
    this.previous = this.current;
    this.current = {
      version: (this.current.version + 1) >>> 0,
      key: this.crypto.randomBytes(SECRET_LEN),
      createdMs: nowMs,
    };
  }
}
