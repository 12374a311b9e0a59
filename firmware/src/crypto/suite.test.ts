// CryptoSuite against published vectors (test/vectors/crypto) and cross-checked against @noble on random inputs.
import { describe, expect, it } from 'vitest';
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { md5, sha1 } from '@noble/hashes/legacy.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { DhId, EncrId, IntegId, PrfId } from '../ike/constants.ts';
import { createCryptoSuite } from './suite.ts';
import { ECP_ORDERS, modPow } from './key-exchange.ts';
import { MODP_PRIMES } from './modp-primes.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';
import hmacVectors from '../../../test/vectors/crypto/hmac.json';
import aeadVectors from '../../../test/vectors/crypto/aead.json';
import cbcVectors from '../../../test/vectors/crypto/aes-cbc.json';
import keVectors from '../../../test/vectors/crypto/key-exchange.json';

const hex = (s: string): Uint8Array => {
  const m = /^([0-9a-f]{2})\*(\d+)$/.exec(s);
  if (m) return new Uint8Array(Number(m[2])).fill(parseInt(m[1]!, 16));
  return new Uint8Array(Buffer.from(s, 'hex'));
};
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const cat = (...p: Uint8Array[]) => new Uint8Array(Buffer.concat(p));

const suite = createCryptoSuite({ randomBytes: seededRandom('suite.test') });
const rnd = seededRandom('suite.test inputs');

const PRF_BY_HASH = { md5: PrfId.HMAC_MD5, sha1: PrfId.HMAC_SHA1, sha256: PrfId.HMAC_SHA2_256, sha384: PrfId.HMAC_SHA2_384, sha512: PrfId.HMAC_SHA2_512 } as const;
const NOBLE_HASH = { md5, sha1, sha256, sha384, sha512 } as const;

describe('PRF (HMAC)', () => {
  for (const v of hmacVectors.cases) {
    it(`${v.name} ${v.hash}`, () => {
      const prf = suite.prf(PRF_BY_HASH[v.hash as keyof typeof PRF_BY_HASH]);
      expect(toHex(prf.compute(hex(v.key), hex(v.data)))).toBe(v.mac);
    });
  }

  it('reports output and preferred key lengths', () => {
    expect([PrfId.HMAC_SHA1, PrfId.HMAC_SHA2_256, PrfId.HMAC_SHA2_384, PrfId.HMAC_SHA2_512].map((id) => {
      const p = suite.prf(id);
      return [p.id, p.outLen, p.preferredKeyLen];
    })).toEqual([[2, 20, 20], [5, 32, 32], [6, 48, 48], [7, 64, 64]]);
  });

  it('matches @noble/hashes hmac on random keys and data', () => {
    for (const [name, id] of Object.entries(PRF_BY_HASH)) {
      for (const len of [0, 1, 63, 64, 65, 129, 300]) {
        const key = rnd(len);
        const data = rnd(len * 2 + 1);
        expect(toHex(suite.prf(id).compute(key, data))).toBe(toHex(hmac(NOBLE_HASH[name as keyof typeof NOBLE_HASH], key, data)));
      }
    }
  });

  it('throws on an unsupported PRF id', () => {
    expect(() => suite.prf(PrfId.AES128_XCBC)).toThrow();
  });
});

describe('prf+', () => {
  it('is T1 | T2 | ... with Tn = prf(K, Tn-1 | S | n), written out with @noble', () => {
    const key = rnd(32);
    const seed = rnd(40);
    const t1 = hmac(sha256, key, cat(seed, new Uint8Array([1])));
    const t2 = hmac(sha256, key, cat(t1, seed, new Uint8Array([2])));
    const t3 = hmac(sha256, key, cat(t2, seed, new Uint8Array([3])));
    expect(toHex(suite.prfPlus(PrfId.HMAC_SHA2_256, key, seed, 80))).toBe(toHex(cat(t1, t2, t3).subarray(0, 80)));
    expect(suite.prfPlus(PrfId.HMAC_SHA2_256, key, seed, 0)).toHaveLength(0);
  });

  it('allows 255 blocks and refuses more', () => {
    expect(suite.prfPlus(PrfId.HMAC_SHA2_256, rnd(32), rnd(8), 255 * 32)).toHaveLength(255 * 32);
    expect(() => suite.prfPlus(PrfId.HMAC_SHA2_256, rnd(32), rnd(8), 255 * 32 + 1)).toThrow(RangeError);
  });
});

describe('keyLengths', () => {
  it.each([
    [EncrId.AES_GCM_16, 128, IntegId.NONE, 20, 0],
    [EncrId.AES_GCM_16, 256, IntegId.NONE, 36, 0],
    [EncrId.CHACHA20_POLY1305, undefined, IntegId.NONE, 36, 0],
    [EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_256_128, 16, 32],
    [EncrId.AES_CBC, 256, IntegId.HMAC_SHA2_384_192, 32, 48],
    [EncrId.AES_CBC, 256, IntegId.HMAC_SHA2_512_256, 32, 64],
    [EncrId.AES_CBC, 256, IntegId.HMAC_SHA1_96, 32, 20],
    [EncrId.TRIPLE_DES, undefined, IntegId.HMAC_MD5_96, 24, 16],
  ])('encr %i/%s integ %i -> %i + %i', (encr, bits, integ, encLen, integLen) => {
    expect(suite.keyLengths(encr, bits, integ)).toEqual({ encKeyLen: encLen, integKeyLen: integLen });
  });

  it('throws for AES without a valid key length', () => {
    expect(() => suite.keyLengths(EncrId.AES_GCM_16, undefined, IntegId.NONE)).toThrow();
    expect(() => suite.keyLengths(EncrId.AES_CBC, 100, IntegId.HMAC_SHA2_256_128)).toThrow();
  });
});

describe('SK transforms', () => {
  describe('AEAD known answers', () => {
    for (const v of aeadVectors.cases) {
      it(v.name, () => {
        const encrId = v.encr === 'aes-gcm' ? EncrId.AES_GCM_16 : EncrId.CHACHA20_POLY1305;
        const bits = v.encr === 'aes-gcm' ? hex(v.key).length * 8 : undefined;
        const sk = suite.sk(encrId, bits, IntegId.NONE, cat(hex(v.key), hex(v.salt)), new Uint8Array(0));
        expect([sk.ivLen, sk.icvLen, sk.blockLen]).toEqual([8, 16, 1]);
        const sealed = sk.seal(hex(v.aad), hex(v.iv), hex(v.plaintext));
        expect(toHex(sealed)).toBe(v.ciphertext + v.tag);
        expect(toHex(sk.open(hex(v.aad), hex(v.iv), sealed)!)).toBe(v.plaintext);
      });
    }
  });

  it('AES-CBC known answers (RFC 3602) through seal, with the HMAC written out with @noble', () => {
    for (const v of cbcVectors.cases) {
      const integKey = rnd(32);
      const aad = rnd(32);
      const sk = suite.sk(EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_256_128, hex(v.key), integKey);
      expect([sk.ivLen, sk.icvLen, sk.blockLen]).toEqual([16, 16, 16]);
      const sealed = sk.seal(aad, hex(v.iv), hex(v.plaintext));
      const ct = sealed.subarray(0, sealed.length - 16);
      expect(toHex(ct)).toBe(v.ciphertext);
      const icv = hmac(sha256, integKey, cat(aad, hex(v.iv), ct)).subarray(0, 16);
      expect(toHex(sealed.subarray(sealed.length - 16))).toBe(toHex(icv));
      expect(toHex(sk.open(aad, hex(v.iv), sealed)!)).toBe(v.plaintext);
    }
  });

  it('AES-GCM matches @noble/ciphers gcm on random inputs', () => {
    for (const bits of [128, 256]) {
      for (const len of [1, 15, 16, 17, 100, 1500]) {
        const key = rnd(bits / 8);
        const salt = rnd(4);
        const iv = rnd(8);
        const aad = rnd(32);
        const pt = rnd(len);
        const sk = suite.sk(EncrId.AES_GCM_16, bits, IntegId.NONE, cat(key, salt), new Uint8Array(0));
        expect(toHex(sk.seal(aad, iv, pt))).toBe(toHex(gcm(key, cat(salt, iv), aad).encrypt(pt)));
      }
    }
  });

  it('ChaCha20-Poly1305 uses salt || IV as the nonce (RFC 7634 §2)', () => {
    const key = rnd(32);
    const salt = rnd(4);
    const iv = rnd(8);
    const aad = rnd(28);
    const pt = rnd(77);
    const sk = suite.sk(EncrId.CHACHA20_POLY1305, undefined, IntegId.NONE, cat(key, salt), new Uint8Array(0));
    expect(toHex(sk.seal(aad, iv, pt))).toBe(toHex(chacha20poly1305(key, cat(salt, iv), aad).encrypt(pt)));
  });

  const configs = [
    { name: 'aes128gcm16', encr: EncrId.AES_GCM_16, bits: 128, integ: IntegId.NONE },
    { name: 'aes256gcm16', encr: EncrId.AES_GCM_16, bits: 256, integ: IntegId.NONE },
    { name: 'chacha20poly1305', encr: EncrId.CHACHA20_POLY1305, bits: undefined, integ: IntegId.NONE },
    { name: 'aes128-sha256', encr: EncrId.AES_CBC, bits: 128, integ: IntegId.HMAC_SHA2_256_128 },
    { name: 'aes256-sha384', encr: EncrId.AES_CBC, bits: 256, integ: IntegId.HMAC_SHA2_384_192 },
    { name: 'aes256-sha512', encr: EncrId.AES_CBC, bits: 256, integ: IntegId.HMAC_SHA2_512_256 },
    { name: 'aes256-sha1', encr: EncrId.AES_CBC, bits: 256, integ: IntegId.HMAC_SHA1_96 },
    { name: '3des-md5', encr: EncrId.TRIPLE_DES, bits: undefined, integ: IntegId.HMAC_MD5_96 },
  ];
  for (const c of configs) {
    it(`${c.name}: round trip; any tampering, truncation or wrong key gives null`, () => {
      const lens = suite.keyLengths(c.encr, c.bits, c.integ);
      const encKey = rnd(lens.encKeyLen);
      const integKey = rnd(lens.integKeyLen);
      const sk = suite.sk(c.encr, c.bits, c.integ, encKey, integKey);
      const aad = rnd(32);
      const iv = rnd(sk.ivLen);
      const pt = rnd(sk.blockLen * 5);
      const sealed = sk.seal(aad, iv, pt);
      expect(sealed.length).toBe(pt.length + sk.icvLen);
      expect(sk.open(aad, iv, sealed)).toEqual(pt);
      for (const pos of [0, sealed.length - sk.icvLen - 1, sealed.length - 1]) {
        const bad = sealed.slice();
        bad[pos]! ^= 0x01;
        expect(sk.open(aad, iv, bad)).toBeNull();
      }
      const badAad = aad.slice();
      badAad[3]! ^= 0x80;
      expect(sk.open(badAad, iv, sealed)).toBeNull();
      const badIv = iv.slice();
      badIv[0]! ^= 0x01;
      expect(sk.open(aad, badIv, sealed)).toBeNull();
      expect(sk.open(aad, iv.subarray(1), sealed)).toBeNull();
      expect(sk.open(aad, iv, sealed.subarray(0, sealed.length - 1))).toBeNull();
      expect(sk.open(aad, iv, sealed.subarray(0, sk.icvLen - 1))).toBeNull();
      expect(sk.open(aad, iv, new Uint8Array(0))).toBeNull();
      const other = suite.sk(c.encr, c.bits, c.integ, c.integ === IntegId.NONE ? rnd(lens.encKeyLen) : encKey, rnd(lens.integKeyLen));
      expect(other.open(aad, iv, sealed)).toBeNull();
    });
  }

  it('CBC refuses to seal unpadded plaintext and rejects wrong key lengths at construction', () => {
    const sk = suite.sk(EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_256_128, rnd(16), rnd(32));
    expect(() => sk.seal(rnd(28), rnd(16), rnd(15))).toThrow();
    expect(() => suite.sk(EncrId.AES_CBC, 128, IntegId.HMAC_SHA2_256_128, rnd(32), rnd(32))).toThrow();
    expect(() => suite.sk(EncrId.AES_GCM_16, 256, IntegId.NONE, rnd(32), new Uint8Array(0))).toThrow();
    expect(() => suite.sk(EncrId.AES_GCM_16, 256, IntegId.HMAC_SHA2_256_128, rnd(36), rnd(32))).toThrow();
  });
});

const ALL_GROUPS = [
  DhId.MODP_1024,
  DhId.MODP_2048,
  DhId.MODP_3072,
  DhId.MODP_4096,
  DhId.ECP_256,
  DhId.ECP_384,
  DhId.ECP_521,
  DhId.CURVE25519,
  DhId.CURVE448,
];
const PUBLIC_LEN: Record<number, number> = { 2: 128, 14: 256, 15: 384, 16: 512, 19: 64, 20: 96, 21: 132, 31: 32, 32: 56 };

describe('key exchange', () => {
  for (const group of ALL_GROUPS) {
    it(`group ${group}: two parties agree; malformed peer values give null`, () => {
      expect(suite.supportsGroup(group)).toBe(true);
      const a = suite.keyExchange(group);
      const b = suite.keyExchange(group);
      expect(a.group).toBe(group);
      expect(a.publicKey).toHaveLength(PUBLIC_LEN[group]!);
      const sa = a.computeSecret(b.publicKey);
      const sb = b.computeSecret(a.publicKey);
      expect(sa).not.toBeNull();
      expect(toHex(sa!)).toBe(toHex(sb!));
      expect(toHex(a.publicKey)).not.toBe(toHex(b.publicKey));
      expect(a.computeSecret(b.publicKey.subarray(1))).toBeNull();
      expect(a.computeSecret(cat(b.publicKey, new Uint8Array([0])))).toBeNull();
      expect(a.computeSecret(new Uint8Array(0))).toBeNull();
      expect(a.computeSecret(new Uint8Array(PUBLIC_LEN[group]!))).toBeNull(); // all zero
    });
  }

  it('MODP secrets and public values are left-padded to the group length', () => {
    // With a seeded stream, some exchanges give values with a leading zero octet; 1/256 per value.
    const s = createCryptoSuite({ randomBytes: seededRandom('modp padding') });
    let sawShortPublic = false;
    for (let i = 0; i < 600 && !sawShortPublic; i++) {
      const a = s.keyExchange(DhId.MODP_1024);
      if (a.publicKey[0] === 0) sawShortPublic = true;
      expect(a.publicKey).toHaveLength(128);
    }
    expect(sawShortPublic).toBe(true);
  });

  it('MODP computes 2^x mod p and y^x mod p (checked with a plain BigInt square-and-multiply)', () => {
    const priv = hex('0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef');
    const s = createCryptoSuite({ randomBytes: () => priv.slice() });
    const p = BigInt('0x' + MODP_PRIMES[DhId.MODP_2048]!);
    const pow = (b: bigint, e: bigint) => {
      let r = 1n;
      for (; e > 0n; e >>= 1n, b = (b * b) % p) if (e & 1n) r = (r * b) % p;
      return r;
    };
    const x = BigInt('0x' + toHex(priv));
    const ke = s.keyExchange(DhId.MODP_2048);
    expect(BigInt('0x' + toHex(ke.publicKey))).toBe(pow(2n, x));
    const y = pow(2n, 12345678901234567890n);
    const yBytes = hex(y.toString(16).padStart(512, '0'));
    expect(BigInt('0x' + toHex(ke.computeSecret(yBytes)!))).toBe(pow(y, x));
  });

  it('the embedded MODP primes are safe primes of the right size with the RFC 3526 fixed high and low 64 bits', () => {
    const ones64 = (1n << 64n) - 1n;
    for (const [group, bits] of [[DhId.MODP_1024, 1024n], [DhId.MODP_1536, 1536n], [DhId.MODP_2048, 2048n], [DhId.MODP_3072, 3072n], [DhId.MODP_4096, 4096n]] as const) {
      const p = BigInt('0x' + MODP_PRIMES[group]!);
      expect(p >> (bits - 64n)).toBe(ones64);
      expect(p & ones64).toBe(ones64);
      // Fermat tests on p and q = (p-1)/2: a single wrong digit makes these fail.
      const q = (p - 1n) / 2n;
      expect(modPow(2n, p - 1n, p)).toBe(1n);
      expect(modPow(3n, q - 1n, q)).toBe(1n);
      // 2 generates the subgroup of order q (a quadratic residue, since p = 7 mod 8).
      expect(modPow(2n, q, p)).toBe(1n);
    }
  });

  it('MODP rejects 0, 1, p-1 and p and above', () => {
    const p = BigInt('0x' + MODP_PRIMES[DhId.MODP_2048]!);
    const enc = (v: bigint) => hex(v.toString(16).padStart(512, '0'));
    const ke = suite.keyExchange(DhId.MODP_2048);
    for (const v of [0n, 1n, p - 1n, p, p + 1n, (1n << 2048n) - 1n]) expect(ke.computeSecret(enc(v))).toBeNull();
    expect(ke.computeSecret(enc(2n))).not.toBeNull();
    expect(ke.computeSecret(enc(p - 2n))).not.toBeNull();
  });

  it('ECP rejects points not on the curve, and the order constants match @noble/curves', () => {
    for (const [group, curve] of [[DhId.ECP_256, p256], [DhId.ECP_384, p384], [DhId.ECP_521, p521]] as const) {
      expect(ECP_ORDERS[group]).toBe(curve.Point.CURVE().n);
      const a = suite.keyExchange(group);
      const b = suite.keyExchange(group);
      const bad = b.publicKey.slice();
      bad[bad.length - 1]! ^= 1;
      expect(a.computeSecret(bad)).toBeNull();
    }
  });

  it('ECP and X25519 agree with @noble on the shared secret', () => {
    for (const [group, curve] of [[DhId.ECP_256, p256], [DhId.ECP_384, p384], [DhId.ECP_521, p521]] as const) {
      const ours = suite.keyExchange(group);
      const theirPriv = curve.utils.randomSecretKey();
      const theirPub = curve.getPublicKey(theirPriv, false).subarray(1);
      const expected = curve.getSharedSecret(theirPriv, cat(new Uint8Array([4]), ours.publicKey)).subarray(1);
      expect(toHex(ours.computeSecret(theirPub)!)).toBe(toHex(expected));
    }
    for (let i = 0; i < 5; i++) {
      const ours = suite.keyExchange(DhId.CURVE25519);
      const theirPriv = rnd(32);
      expect(toHex(ours.computeSecret(x25519.getPublicKey(theirPriv))!)).toBe(
        toHex(x25519.getSharedSecret(theirPriv, ours.publicKey)),
      );
    }
  });

  it('X25519/X448 reject low-order points (all-zero shared secret, RFC 7748 §6)', () => {
    const x25519Order8 = hex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800');
    expect(suite.keyExchange(DhId.CURVE25519).computeSecret(x25519Order8)).toBeNull();
    const one25519 = new Uint8Array(32);
    one25519[0] = 1;
    expect(suite.keyExchange(DhId.CURVE25519).computeSecret(one25519)).toBeNull();
    const one448 = new Uint8Array(56);
    one448[0] = 1;
    expect(suite.keyExchange(DhId.CURVE448).computeSecret(one448)).toBeNull();
  });

  for (const v of keVectors.cases) {
    it(`known answer ${v.name}`, () => {
      const i = createCryptoSuite({ randomBytes: () => hex(v.privI) }).keyExchange(v.group);
      const r = createCryptoSuite({ randomBytes: () => hex(v.privR) }).keyExchange(v.group);
      expect(toHex(i.publicKey)).toBe(v.pubI);
      expect(toHex(r.publicKey)).toBe(v.pubR);
      expect(toHex(i.computeSecret(hex(v.pubR))!)).toBe(v.shared);
      expect(toHex(r.computeSecret(hex(v.pubI))!)).toBe(v.shared);
    });
  }

  it('a seeded suite is fully deterministic', () => {
    for (const group of [DhId.MODP_2048, DhId.ECP_256, DhId.ECP_521, DhId.CURVE25519, DhId.CURVE448]) {
      const a = createCryptoSuite({ randomBytes: seededRandom(7) }).keyExchange(group);
      const b = createCryptoSuite({ randomBytes: seededRandom(7) }).keyExchange(group);
      const c = createCryptoSuite({ randomBytes: seededRandom(8) }).keyExchange(group);
      expect(toHex(a.publicKey)).toBe(toHex(b.publicKey));
      expect(toHex(a.publicKey)).not.toBe(toHex(c.publicKey));
    }
  });

  it('unsupported groups are reported and refused', () => {
    expect(suite.supportsGroup(DhId.NONE)).toBe(false);
    expect(suite.supportsGroup(99)).toBe(false);
    expect(() => suite.keyExchange(99)).toThrow();
  });
});

describe('hash, equal, randomBytes', () => {
  it('hash matches @noble', () => {
    const data = rnd(200);
    expect(toHex(suite.hash('sha1', data))).toBe(toHex(sha1(data)));
    expect(toHex(suite.hash('sha256', data))).toBe(toHex(sha256(data)));
    expect(toHex(suite.hash('sha384', data))).toBe(toHex(sha384(data)));
    expect(toHex(suite.hash('sha512', data))).toBe(toHex(sha512(data)));
  });

  it('equal compares content and length', () => {
    const a = rnd(32);
    expect(suite.equal(a, a.slice())).toBe(true);
    const b = a.slice();
    b[31]! ^= 1;
    expect(suite.equal(a, b)).toBe(false);
    expect(suite.equal(a, a.subarray(0, 31))).toBe(false);
    expect(suite.equal(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });

  it('returns plain Uint8Arrays, not Buffers', () => {
    expect(Object.getPrototypeOf(suite.hash('sha256', rnd(3)))).toBe(Uint8Array.prototype);
    expect(Object.getPrototypeOf(suite.prf(PrfId.HMAC_SHA2_256).compute(rnd(3), rnd(3)))).toBe(Uint8Array.prototype);
    expect(Object.getPrototypeOf(suite.keyExchange(DhId.CURVE25519).publicKey)).toBe(Uint8Array.prototype);
    expect(Object.getPrototypeOf(createCryptoSuite().randomBytes(4))).toBe(Uint8Array.prototype);
  });

  it('default randomness is not constant', () => {
    const s = createCryptoSuite();
    expect(toHex(s.randomBytes(16))).not.toBe(toHex(s.randomBytes(16)));
    expect(s.randomBytes(0)).toHaveLength(0);
  });
});

describe('broken randomness', () => {
  it('an all-zero generator makes ECP key generation fail loudly instead of looping', () => {
    const s = createCryptoSuite({ randomBytes: (n) => new Uint8Array(n) });
    expect(() => s.keyExchange(DhId.ECP_256)).toThrow(/invalid EC private keys/);
    expect(() => s.keyExchange(DhId.MODP_2048)).toThrow(/invalid MODP exponents/);
  });
});
