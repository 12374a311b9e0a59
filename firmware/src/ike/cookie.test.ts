// Stateless cookies (RFC 7296 §2.6): bound to Ni, IPi, SPIi; secrets rotate and the previous one is accepted.
import { describe, expect, test } from 'vitest';
import { COOKIE_SECRET_LIFETIME_MS, CookieJar } from './cookie.ts';
import { createCryptoSuite } from '../crypto/suite.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';

describe('cookies', () => {
  const crypto = createCryptoSuite({ randomBytes: seededRandom('cookie') });
  const ni = new Uint8Array(32).fill(1);
  const ip = Uint8Array.of(192, 0, 2, 2);
  const spi = new Uint8Array(8).fill(7);

  test('valid for the same Ni, IPi and SPIi only', () => {
    const jar = new CookieJar(crypto, 0);
    const c = jar.make(ni, ip, spi, 0);
    expect(c.length).toBe(36);
    expect(jar.verify(c, ni, ip, spi, 10)).toBe(true);
    expect(jar.verify(c, new Uint8Array(32), ip, spi, 10)).toBe(false);
    expect(jar.verify(c, ni, Uint8Array.of(192, 0, 2, 3), spi, 10)).toBe(false);
    expect(jar.verify(c, ni, ip, new Uint8Array(8), 10)).toBe(false);
    expect(jar.verify(c.subarray(0, 35), ni, ip, spi, 10)).toBe(false);
  });

  test('a cookie from the previous secret is accepted, one from two secrets ago is not', () => {
    const jar = new CookieJar(crypto, 0);
    const c = jar.make(ni, ip, spi, 0);
    expect(jar.verify(c, ni, ip, spi, COOKIE_SECRET_LIFETIME_MS)).toBe(true);
    expect(jar.verify(c, ni, ip, spi, 2 * COOKIE_SECRET_LIFETIME_MS)).toBe(false);
    const fresh = jar.make(ni, ip, spi, 2 * COOKIE_SECRET_LIFETIME_MS);
    expect(fresh.subarray(0, 4)).not.toEqual(c.subarray(0, 4));
  });
});
