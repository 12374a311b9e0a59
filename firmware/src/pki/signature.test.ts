// Tests for RFC 7427 AUTH encoding and node:crypto signatures (RFC 7427 Appendix A bytes, RFC 8420, RFC 4754).
import { execFileSync } from 'node:child_process';
import * as nodeCrypto from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, test } from 'vitest';
import { makeTestPki, TEST_KEY_TYPES, type TestKeyType } from '../../../test/support/certs.ts';
import { AuthMethod, HashAlgorithm } from '../ike/constants.ts';
import { pemEncode } from './pem.ts';
import { classicAuthMethod, createSignatureOps, hashAlgorithmOf, SCHEMES, schemeOfAlgorithmIdentifier } from './signature.ts';
import type { KeyType, SignatureScheme } from './types.ts';

const ops = createSignatureOps();
const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/[\s,]|0x/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const data = new TextEncoder().encode('IKE_SA_INIT bytes | Nr | prf(SK_pi, IDi)');

// RFC 7427 Appendix A (hex dumps), RFC 8420 §2, and the DER form of A.4.3 from the RFC 7427 errata as
// strongSwan's test_signature_params.c builds it.
const RFC7427 = {
  sha1WithRSAEncryption: '300d 0609 2a86 4886 f70d 0101 0505 00',
  sha256WithRSAEncryption: '300d 0609 2a86 4886 f70d 0101 0b05 00',
  sha384WithRSAEncryption: '300d 0609 2a86 4886 f70d 0101 0c05 00',
  sha512WithRSAEncryption: '300d 0609 2a86 4886 f70d 0101 0d05 00',
  ecdsaWithSha256: '300a 0608 2a86 48ce 3d04 0302',
  ecdsaWithSha384: '300a 0608 2a86 48ce 3d04 0303',
  ecdsaWithSha512: '300a 0608 2a86 48ce 3d04 0304',
  /** A.4.3 as printed in the RFC: carries the DEFAULT trailerField [3] INTEGER 1. */
  pssSha256RfcText:
    '3046 0609 2a86 4886 f70d 0101 0a30 39a0 0f30 0d06 0960 8648 0165 0304 0201 0500 a11c 301a 0609 2a86 4886 f70d 0101 0830 0d06 0960 8648 0165 0304 0201 0500 a203 0201 20a3 0302 0101',
  pssSha256Der:
    '3041 0609 2a86 4886 f70d 0101 0a30 34a0 0f30 0d06 0960 8648 0165 0304 0201 0500 a11c 301a 0609 2a86 4886 f70d 0101 0830 0d06 0960 8648 0165 0304 0201 0500 a203 0201 20',
  pssSha512Der:
    '3041 0609 2a86 4886 f70d 0101 0a30 34a0 0f30 0d06 0960 8648 0165 0304 0203 0500 a11c 301a 0609 2a86 4886 f70d 0101 0830 0d06 0960 8648 0165 0304 0203 0500 a203 0201 40',
  /** A.4.1: RSASSA-PSS with empty parameters, i.e. SHA-1 defaults, which we do not support. */
  pssDefaults: '300d 0609 2a86 4886 f70d 0101 0a30 00',
  ed25519: '3005 0603 2b65 70',
};

describe('RFC 7427 AlgorithmIdentifier encodings', () => {
  test.each([
    ['rsa-pkcs1-sha1', RFC7427.sha1WithRSAEncryption],
    ['rsa-pkcs1-sha256', RFC7427.sha256WithRSAEncryption],
    ['rsa-pkcs1-sha384', RFC7427.sha384WithRSAEncryption],
    ['rsa-pkcs1-sha512', RFC7427.sha512WithRSAEncryption],
    ['ecdsa-sha256', RFC7427.ecdsaWithSha256],
    ['ecdsa-sha384', RFC7427.ecdsaWithSha384],
    ['ecdsa-sha512', RFC7427.ecdsaWithSha512],
    ['rsa-pss-sha256', RFC7427.pssSha256Der],
    ['rsa-pss-sha512', RFC7427.pssSha512Der],
    ['ed25519', RFC7427.ed25519],
  ] as [SignatureScheme, string][])('%s is sent as the RFC bytes and parsed back', (scheme, algIdHex) => {
    const algId = hex(algIdHex);
    const sig = new Uint8Array([1, 2, 3, 4]);
    const auth = ops.encodeDigitalSignature(scheme, sig);
    expect(auth[0]).toBe(algId.length);
    expect(toHex(auth.subarray(1, 1 + algId.length))).toBe(toHex(algId));
    expect(toHex(auth.subarray(1 + algId.length))).toBe('01020304');
    expect(ops.decodeDigitalSignature(auth)).toEqual({ scheme, signature: sig });
  });

  test('RSASSA-PSS SHA-384 follows the same layout (hash 2.16.840.1.101.3.4.2.2, salt 48)', () => {
    const der = SCHEMES['rsa-pss-sha384'].algId;
    expect(der).toBe(toHex(hex(RFC7427.pssSha256Der)).replaceAll('0304020105', '0304020205').replace(/020120$/, '020130'));
    expect(schemeOfAlgorithmIdentifier(hex(der))).toBe('rsa-pss-sha384');
  });

  test('the RFC 7427 A.4.3 text form with an explicit trailerField is accepted', () => {
    expect(schemeOfAlgorithmIdentifier(hex(RFC7427.pssSha256RfcText))).toBe('rsa-pss-sha256');
  });

  test('PKCS#1 identifiers without the NULL parameter are accepted (RFC 4055 §5)', () => {
    expect(schemeOfAlgorithmIdentifier(hex('300b 0609 2a86 4886 f70d 0101 0b'))).toBe('rsa-pkcs1-sha256');
  });

  test.each([
    ['RSASSA-PSS with SHA-1 defaults (A.4.1)', RFC7427.pssDefaults],
    ['ECDSA with a NULL parameter', '300c 0608 2a86 48ce 3d04 0302 0500'],
    ['Ed25519 with a NULL parameter', '3007 0603 2b65 7005 00'],
    ['unknown OID (ecdsa-with-SHA224)', '300a 0608 2a86 48ce 3d04 0301'],
    ['PSS whose MGF1 hash differs from the message hash', RFC7427.pssSha256Der.replace('0830 0d06 0960 8648 0165 0304 0201', '0830 0d06 0960 8648 0165 0304 0203')],
    ['PSS with trailerField 2', RFC7427.pssSha256RfcText.replace(/0101$/, '0102')],
    ['truncated SEQUENCE', '300d 0609 2a86 4886 f70d 0101 0b'],
    ['not a SEQUENCE', '0609 2a86 4886 f70d 0101 0b05 00'],
  ])('%s is rejected', (_name, algIdHex) => {
    const algId = hex(algIdHex);
    expect(schemeOfAlgorithmIdentifier(algId)).toBeNull();
    const auth = new Uint8Array([algId.length, ...algId, 9, 9, 9]);
    expect(ops.decodeDigitalSignature(auth)).toBeNull();
  });

  test('malformed AUTH data is null, never a throw', () => {
    const good = ops.encodeDigitalSignature('ecdsa-sha256', new Uint8Array([7, 7]));
    expect(ops.decodeDigitalSignature(new Uint8Array())).toBeNull();
    expect(ops.decodeDigitalSignature(new Uint8Array([0]))).toBeNull();
    expect(ops.decodeDigitalSignature(new Uint8Array([0, 1, 2]))).toBeNull();
    // Length octet pointing past the end, and an AlgorithmIdentifier with no signature after it.
    expect(ops.decodeDigitalSignature(new Uint8Array([200, ...good.subarray(1)]))).toBeNull();
    expect(ops.decodeDigitalSignature(good.subarray(0, 1 + (good[0] as number)))).toBeNull();
    // Length octet one short: the DER no longer parses exactly.
    expect(ops.decodeDigitalSignature(new Uint8Array([(good[0] as number) - 1, ...good.subarray(1)]))).toBeNull();
    for (let i = 0; i < 500; i++) {
      const junk = nodeCrypto.randomBytes(1 + (i % 40));
      expect(() => ops.decodeDigitalSignature(new Uint8Array(junk))).not.toThrow();
    }
  });
});

const pki = makeTestPki();
const SCHEMES_FOR: Record<TestKeyType, SignatureScheme[]> = {
  rsa: ['rsa-pkcs1-sha1', 'rsa-pkcs1-sha256', 'rsa-pkcs1-sha384', 'rsa-pkcs1-sha512', 'rsa-pss-sha256', 'rsa-pss-sha384', 'rsa-pss-sha512'],
  'ecdsa-p256': ['ecdsa-sha256', 'ecdsa-sha384', 'ecdsa-sha512'],
  'ecdsa-p384': ['ecdsa-sha256', 'ecdsa-sha384', 'ecdsa-sha512'],
  ed25519: ['ed25519'],
};

describe('sign and verify', () => {
  for (const keyType of TEST_KEY_TYPES) {
    const cert = pki.gw[keyType];
    const other = pki.client[keyType];
    for (const scheme of SCHEMES_FOR[keyType]) {
      test(`${keyType} ${scheme}: round trip, wrong key, tampered data and signature`, () => {
        const signer = ops.createSigner(cert.keyDer);
        const spki = ops.spkiOf(cert.der);
        expect(spki).not.toBeNull();
        const sig = signer.sign(scheme, data);
        expect(ops.verify(spki as Uint8Array, scheme, data, sig)).toBe(true);
        expect(ops.verify(other.spkiDer, scheme, data, sig)).toBe(false);
        const tampered = data.slice();
        tampered[5] = (tampered[5] as number) ^ 1;
        expect(ops.verify(cert.spkiDer, scheme, tampered, sig)).toBe(false);
        const badSig = sig.slice();
        badSig[badSig.length - 3] = (badSig[badSig.length - 3] as number) ^ 0x40;
        expect(ops.verify(cert.spkiDer, scheme, data, badSig)).toBe(false);
        // Through the AUTH payload encoding as the engine uses it.
        const decoded = ops.decodeDigitalSignature(ops.encodeDigitalSignature(scheme, sig));
        expect(decoded?.scheme).toBe(scheme);
        expect(ops.verify(cert.spkiDer, decoded?.scheme as SignatureScheme, data, decoded?.signature as Uint8Array)).toBe(true);
      });
    }
  }

  test('a scheme that does not fit the key fails to verify and refuses to sign', () => {
    const rsa = ops.createSigner(pki.gw.rsa.keyDer);
    const sig = rsa.sign('rsa-pkcs1-sha256', data);
    expect(ops.verify(pki.gw['ecdsa-p256'].spkiDer, 'rsa-pkcs1-sha256', data, sig)).toBe(false);
    expect(ops.verify(pki.gw.rsa.spkiDer, 'ecdsa-sha256', data, sig)).toBe(false);
    expect(ops.verify(pki.gw.rsa.spkiDer, 'ed25519', data, sig)).toBe(false);
    expect(() => rsa.sign('ecdsa-sha256', data)).toThrow(/cannot sign ecdsa-sha256 with a rsa key/);
    expect(() => ops.createSigner(pki.gw.ed25519.keyDer).sign('rsa-pss-sha256', data)).toThrow();
  });

  test('PKCS#1 v1.5 and PSS signatures are not interchangeable', () => {
    const rsa = ops.createSigner(pki.gw.rsa.keyDer);
    expect(ops.verify(pki.gw.rsa.spkiDer, 'rsa-pss-sha256', data, rsa.sign('rsa-pkcs1-sha256', data))).toBe(false);
    expect(ops.verify(pki.gw.rsa.spkiDer, 'rsa-pkcs1-sha256', data, rsa.sign('rsa-pss-sha256', data))).toBe(false);
  });

  test('truncated or garbage SubjectPublicKeyInfo and empty signatures give false, not a throw', () => {
    const sig = ops.createSigner(pki.gw['ecdsa-p256'].keyDer).sign('ecdsa-sha256', data);
    const spki = pki.gw['ecdsa-p256'].spkiDer;
    for (const bad of [new Uint8Array(), spki.subarray(0, 20), spki.subarray(0, spki.length - 1), new Uint8Array(91).fill(0x30), new Uint8Array(nodeCrypto.randomBytes(91))]) {
      expect(ops.verify(bad, 'ecdsa-sha256', data, sig)).toBe(false);
      expect(ops.keyTypeOf(bad)).toBeNull();
    }
    expect(ops.verify(spki, 'ecdsa-sha256', data, new Uint8Array())).toBe(false);
    expect(ops.verify(spki, 'nonsense' as SignatureScheme, data, sig)).toBe(false);
  });

  test.each([
    ['ecdsa-p256', 'ecdsa-sha256', 64],
    ['ecdsa-p384', 'ecdsa-sha384', 96],
    ['ecdsa-p521', 'ecdsa-sha512', 132],
  ] as const)('RFC 4754 %s signatures are fixed-length r||s (%s, %i octets) and distinct from DER', (curve, scheme, len) => {
    const named = { 'ecdsa-p256': 'P-256', 'ecdsa-p384': 'P-384', 'ecdsa-p521': 'P-521' }[curve];
    const kp = nodeCrypto.generateKeyPairSync('ec', { namedCurve: named });
    const signer = ops.createSigner(new Uint8Array(kp.privateKey.export({ type: 'pkcs8', format: 'der' })));
    const spki = new Uint8Array(kp.publicKey.export({ type: 'spki', format: 'der' }));
    expect(signer.keyType).toBe(curve);
    expect(ops.keyTypeOf(spki)).toBe(curve);
    const raw = signer.sign(scheme, data, { ecdsaFormat: 'ieee-p1363' });
    expect(raw.length).toBe(len);
    expect(ops.verify(spki, scheme, data, raw, { ecdsaFormat: 'ieee-p1363' })).toBe(true);
    expect(ops.verify(spki, scheme, data, raw)).toBe(false);
    const der = signer.sign(scheme, data);
    expect(der[0]).toBe(0x30);
    expect(ops.verify(spki, scheme, data, der)).toBe(true);
    expect(ops.verify(spki, scheme, data, der, { ecdsaFormat: 'ieee-p1363' })).toBe(false);
  });

  test('Ed25519 signs the whole message (RFC 8420), deterministically, checked with @noble/curves', () => {
    const signer = ops.createSigner(pki.gw.ed25519.keyDer);
    const sig = signer.sign('ed25519', data);
    expect(sig.length).toBe(64);
    expect(toHex(signer.sign('ed25519', data))).toBe(toHex(sig));
    const rawPub = pki.gw.ed25519.spkiDer.subarray(-32);
    expect(ed25519.verify(sig, data, rawPub)).toBe(true);
    const digest = new Uint8Array(nodeCrypto.createHash('sha512').update(data).digest());
    expect(ed25519.verify(sig, digest, rawPub)).toBe(false);
  });
});

describe('signatures made by OpenSSL verify here', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-sig-'));
  const msgPath = join(dir, 'msg');
  writeFileSync(msgPath, data);
  const run = (keyType: TestKeyType, args: string[]): Uint8Array => {
    const keyPath = join(dir, `${keyType}.key`);
    writeFileSync(keyPath, pemEncode('PRIVATE KEY', pki.gw[keyType].keyDer));
    const sigPath = join(dir, `${keyType}.sig`);
    execFileSync('openssl', [...args, '-inkey', keyPath, '-in', msgPath, '-out', sigPath], { stdio: 'pipe' });
    return new Uint8Array(readFileSync(sigPath));
  };
  test('RSA PKCS#1 v1.5 SHA-384, RSA-PSS SHA-256 salt 32, ECDSA P-384 SHA-384, Ed25519', () => {
    try {
      const pkcs1 = run('rsa', ['pkeyutl', '-sign', '-rawin', '-digest', 'sha384']);
      expect(ops.verify(pki.gw.rsa.spkiDer, 'rsa-pkcs1-sha384', data, pkcs1)).toBe(true);
      const pss = run('rsa', ['pkeyutl', '-sign', '-rawin', '-digest', 'sha256', '-pkeyopt', 'rsa_padding_mode:pss', '-pkeyopt', 'rsa_pss_saltlen:32']);
      expect(ops.verify(pki.gw.rsa.spkiDer, 'rsa-pss-sha256', data, pss)).toBe(true);
      const ec = run('ecdsa-p384', ['pkeyutl', '-sign', '-rawin', '-digest', 'sha384']);
      expect(ops.verify(pki.gw['ecdsa-p384'].spkiDer, 'ecdsa-sha384', data, ec)).toBe(true);
      const ed = run('ed25519', ['pkeyutl', '-sign', '-rawin']);
      expect(ops.verify(pki.gw.ed25519.spkiDer, 'ed25519', data, ed)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('keys', () => {
  test('keyTypeOf and createSigner recognise every supported key type', () => {
    for (const t of TEST_KEY_TYPES) {
      expect(ops.keyTypeOf(pki.gw[t].spkiDer)).toBe(t);
      expect(ops.createSigner(pki.gw[t].keyDer).keyType).toBe(t);
    }
  });

  test('createSigner also takes SEC1 EC and PKCS#1 RSA keys', () => {
    const ec = nodeCrypto.createPrivateKey({ key: Buffer.from(pki.gw['ecdsa-p256'].keyDer), format: 'der', type: 'pkcs8' });
    const sec1 = new Uint8Array(ec.export({ type: 'sec1', format: 'der' }));
    const s1 = ops.createSigner(sec1);
    expect(s1.keyType).toBe('ecdsa-p256');
    expect(ops.verify(pki.gw['ecdsa-p256'].spkiDer, 'ecdsa-sha256', data, s1.sign('ecdsa-sha256', data))).toBe(true);
    const rsa = nodeCrypto.createPrivateKey({ key: Buffer.from(pki.gw.rsa.keyDer), format: 'der', type: 'pkcs8' });
    const pkcs1 = new Uint8Array(rsa.export({ type: 'pkcs1', format: 'der' }));
    const s2 = ops.createSigner(pkcs1);
    expect(s2.keyType).toBe('rsa');
    expect(ops.verify(pki.gw.rsa.spkiDer, 'rsa-pss-sha512', data, s2.sign('rsa-pss-sha512', data))).toBe(true);
  });

  test('createSigner throws a clear error on garbage or unsupported keys', () => {
    expect(() => ops.createSigner(new Uint8Array([1, 2, 3]))).toThrow(/not a PKCS#8, SEC1 or PKCS#1/);
    const x25519 = nodeCrypto.generateKeyPairSync('x25519');
    expect(() => ops.createSigner(new Uint8Array(x25519.privateKey.export({ type: 'pkcs8', format: 'der' })))).toThrow(/unsupported private key type x25519/);
    expect(ops.keyTypeOf(new Uint8Array(x25519.publicKey.export({ type: 'spki', format: 'der' })))).toBeNull();
  });

  test('spkiOf returns the certificate key and caKeyHash is SHA-1 over it (RFC 7296 §3.7)', () => {
    for (const c of [pki.ca, pki.gw.rsa, pki.gw.ed25519]) {
      expect(toHex(ops.spkiOf(c.der) as Uint8Array)).toBe(toHex(c.spkiDer));
      expect(toHex(ops.caKeyHash(c.der) as Uint8Array)).toBe(nodeCrypto.createHash('sha1').update(c.spkiDer).digest('hex'));
    }
    for (const bad of [new Uint8Array(), pki.ca.der.subarray(0, 100), new Uint8Array([...pki.ca.der, 0]), new Uint8Array(nodeCrypto.randomBytes(300))]) {
      expect(ops.spkiOf(bad)).toBeNull();
      expect(ops.caKeyHash(bad)).toBeNull();
    }
  });

  test('remembered SPKIs and CA hashes are handed out as copies, and keyed by content', () => {
    const a = ops.spkiOf(pki.ca.der) as Uint8Array;
    a.fill(0);
    const h = ops.caKeyHash(pki.ca.der) as Uint8Array;
    h.fill(0);
    expect(toHex(ops.spkiOf(pki.ca.der) as Uint8Array)).toBe(toHex(pki.ca.spkiDer));
    expect(toHex(ops.caKeyHash(pki.ca.der) as Uint8Array)).toBe(nodeCrypto.createHash('sha1').update(pki.ca.spkiDer).digest('hex'));
    // The same bytes in another buffer hit the same entry; a one-bit change is another certificate.
    expect(toHex(ops.spkiOf(pki.ca.der.slice()) as Uint8Array)).toBe(toHex(pki.ca.spkiDer));
    expect(toHex(ops.spkiOf(pki.gw.rsa.der.slice()) as Uint8Array)).toBe(toHex(pki.gw.rsa.spkiDer));
  });

  test('a remembered public key is never used for another SPKI', () => {
    const signer = ops.createSigner(pki.gw['ecdsa-p256'].keyDer);
    const msg = new TextEncoder().encode('signed octets');
    const sig = signer.sign('ecdsa-sha256', msg);
    expect(ops.verify(pki.gw['ecdsa-p256'].spkiDer, 'ecdsa-sha256', msg, sig)).toBe(true);
    expect(ops.verify(pki.client['ecdsa-p256'].spkiDer, 'ecdsa-sha256', msg, sig)).toBe(false);
    expect(ops.verify(pki.gw['ecdsa-p256'].spkiDer, 'ecdsa-sha256', msg, sig)).toBe(true);
  });
});

describe('chooseScheme', () => {
  const all = [HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512, HashAlgorithm.IDENTITY];
  test.each([
    ['rsa', all, 'rsa-pkcs1-sha256'],
    ['rsa', [HashAlgorithm.SHA2_512], 'rsa-pkcs1-sha512'],
    ['rsa', [HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512], 'rsa-pkcs1-sha384'],
    ['rsa', [HashAlgorithm.SHA1], 'rsa-pkcs1-sha1'],
    ['rsa', null, 'rsa-pkcs1-sha1'],
    ['ecdsa-p256', all, 'ecdsa-sha256'],
    ['ecdsa-p384', all, 'ecdsa-sha384'],
    ['ecdsa-p521', all, 'ecdsa-sha512'],
    ['ecdsa-p384', [HashAlgorithm.SHA2_256], 'ecdsa-sha256'],
    ['ecdsa-p256', null, 'ecdsa-sha256'],
    ['ecdsa-p384', null, 'ecdsa-sha384'],
    ['ecdsa-p521', null, 'ecdsa-sha512'],
    ['ed25519', all, 'ed25519'],
    ['ed25519', [HashAlgorithm.SHA2_256], 'ed25519'],
  ] as [KeyType, number[] | null, SignatureScheme][])('%s with peer hashes %j → %s', (keyType, hashes, expected) => {
    expect(ops.chooseScheme(keyType, hashes)).toBe(expected);
  });

  test('classic auth methods and the hash each scheme needs announced', () => {
    expect(classicAuthMethod('rsa')).toBe(AuthMethod.RSA_SIG);
    expect(classicAuthMethod('ecdsa-p256')).toBe(AuthMethod.ECDSA_SHA256_P256);
    expect(classicAuthMethod('ecdsa-p384')).toBe(AuthMethod.ECDSA_SHA384_P384);
    expect(classicAuthMethod('ecdsa-p521')).toBe(AuthMethod.ECDSA_SHA512_P521);
    expect(classicAuthMethod('ed25519')).toBeNull();
    expect(hashAlgorithmOf('ed25519')).toBe(HashAlgorithm.IDENTITY);
    expect(hashAlgorithmOf('rsa-pss-sha384')).toBe(HashAlgorithm.SHA2_384);
    expect(hashAlgorithmOf('ecdsa-sha512')).toBe(HashAlgorithm.SHA2_512);
  });
});
