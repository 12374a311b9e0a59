// Test PKI (RFC 5280 certificates built with pkijs, keys from node:crypto): CA, gateway/client certs and broken variants.
import * as nodeCrypto from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { parseIdentity } from '../../firmware/src/ike/identity.ts';
import { pemEncode } from '../../firmware/src/pki/pem.ts';

export type TestKeyType = 'rsa' | 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519';
export const TEST_KEY_TYPES: readonly TestKeyType[] = ['rsa', 'ecdsa-p256', 'ecdsa-p384', 'ed25519'];

/** File-name suffix per key type: gw-rsa.pem, gw-ecdsa.pem (P-256), gw-ecdsa384.pem, gw-ed25519.pem. */
export const KEY_FILE_SUFFIX: Record<TestKeyType, string> = {
  rsa: 'rsa',
  'ecdsa-p256': 'ecdsa',
  'ecdsa-p384': 'ecdsa384',
  ed25519: 'ed25519',
};

export interface TestCert {
  der: Uint8Array;
  /** PKCS#8 DER private key. */
  keyDer: Uint8Array;
  spkiDer: Uint8Array;
  keyType: TestKeyType;
  /** Subject as strongSwan prints it. */
  subject: string;
}

export interface TestPkiOptions {
  /** Time the certificates are valid around (default: now). */
  nowMs?: number;
  caKeyType?: TestKeyType;
  gatewayFqdn?: string;
  gatewayIp?: string;
  clientFqdn?: string;
  clientEmail?: string;
}

export interface TestPki {
  ca: TestCert;
  /** A second root that nothing trusts. */
  otherCa: TestCert;
  /** Issued by `ca`; issues `gwViaIntermediate`. */
  intermediate: TestCert;
  gw: Record<TestKeyType, TestCert>;
  client: Record<TestKeyType, TestCert>;
  gwExpired: TestCert;
  gwNotYetValid: TestCert;
  /** SAN wrong.outpost.test only. */
  gwWrongSan: TestCert;
  /** Issued by `otherCa`. */
  gwUntrusted: TestCert;
  gwViaIntermediate: TestCert;
  /** EKU codeSigning only. */
  gwBadEku: TestCert;
  /** keyUsage keyEncipherment only (no digitalSignature). */
  gwNoDigitalSignature: TestCert;
  options: Required<TestPkiOptions>;
  /** Writes every certificate (`<name>.pem`) and key (`<name>.key`, PKCS#8 "PRIVATE KEY"); returns name → path. */
  writePem(dir: string): Record<string, string>;
}

const DAY_MS = 86_400_000;
const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  ipsecIke: '1.3.6.1.5.5.7.3.17',
} as const;

interface KeyPair {
  keyType: TestKeyType;
  privateKey: nodeCrypto.KeyObject;
  keyDer: Uint8Array;
  spkiDer: Uint8Array;
}

function u8(buf: Buffer | ArrayBuffer): Uint8Array {
  return buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

function ab(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function generateKey(keyType: TestKeyType): KeyPair {
  const kp =
    keyType === 'rsa'
      ? nodeCrypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
      : keyType === 'ed25519'
        ? nodeCrypto.generateKeyPairSync('ed25519')
        : nodeCrypto.generateKeyPairSync('ec', { namedCurve: keyType === 'ecdsa-p256' ? 'P-256' : 'P-384' });
  return {
    keyType,
    privateKey: kp.privateKey,
    keyDer: u8(kp.privateKey.export({ type: 'pkcs8', format: 'der' })),
    spkiDer: u8(kp.publicKey.export({ type: 'spki', format: 'der' })),
  };
}

/** Signature AlgorithmIdentifier and node:crypto digest for a CA key. */
function signatureAlgorithm(keyType: TestKeyType): { algId: pkijs.AlgorithmIdentifier; digest: string | null } {
  switch (keyType) {
    case 'rsa':
      return { algId: new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.113549.1.1.11', algorithmParams: new asn1js.Null() }), digest: 'sha256' };
    case 'ecdsa-p256':
      return { algId: new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.10045.4.3.2' }), digest: 'sha256' };
    case 'ecdsa-p384':
      return { algId: new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.10045.4.3.3' }), digest: 'sha384' };
    case 'ed25519':
      return { algId: new pkijs.AlgorithmIdentifier({ algorithmId: '1.3.101.112' }), digest: null };
  }
}

function dnDer(text: string): Uint8Array {
  const id = parseIdentity(`dn:${text}`);
  if (!id.ok) throw new Error(`bad test DN ${text}: ${id.error}`);
  return id.value.data;
}

function subjectKeyId(spkiDer: Uint8Array): Uint8Array {
  // RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING contents.
  const spki = pkijs.PublicKeyInfo.fromBER(ab(spkiDer));
  return u8(nodeCrypto.createHash('sha1').update(spki.subjectPublicKey.valueBlock.valueHexView).digest());
}

function ext(extnID: string, critical: boolean, value: asn1js.AsnType): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

function bitString(bits: number[]): asn1js.BitString {
  // DER: drop trailing zero bytes and count the unused low bits of the last one.
  let mask = 0;
  for (const b of bits) mask |= 1 << (15 - b);
  const bytes = mask & 0xff ? [mask >> 8, mask & 0xff] : [mask >> 8];
  const last = bytes[bytes.length - 1] as number;
  let unused = 0;
  while (unused < 8 && (last & (1 << unused)) === 0) unused++;
  return new asn1js.BitString({ valueHex: new Uint8Array(bytes).buffer, unusedBits: unused });
}

interface CertSpec {
  subject: string;
  key: KeyPair;
  issuer: { subject: string; key: KeyPair } | 'self';
  notBeforeMs: number;
  notAfterMs: number;
  ca?: boolean;
  dns?: string[];
  ips?: Uint8Array[];
  emails?: string[];
  eku?: string[];
  keyUsageBits?: number[];
}

let serialCounter = 1;

function issue(spec: CertSpec): TestCert {
  const issuer = spec.issuer === 'self' ? { subject: spec.subject, key: spec.key } : spec.issuer;
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = new Uint8Array(9);
  serial.set(u8(nodeCrypto.randomBytes(8)), 1);
  serial[0] = serialCounter++ & 0x7f;
  cert.serialNumber = new asn1js.Integer({ valueHex: serial.buffer });
  cert.issuer = pkijs.RelativeDistinguishedNames.fromBER(ab(dnDer(issuer.subject)));
  cert.subject = pkijs.RelativeDistinguishedNames.fromBER(ab(dnDer(spec.subject)));
  cert.notBefore = new pkijs.Time({ type: 0, value: new Date(Math.floor(spec.notBeforeMs / 1000) * 1000) });
  cert.notAfter = new pkijs.Time({ type: 0, value: new Date(Math.floor(spec.notAfterMs / 1000) * 1000) });
  cert.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(ab(spec.key.spkiDer));

  const extensions: pkijs.Extension[] = [];
  extensions.push(ext(OID.basicConstraints, true, new pkijs.BasicConstraints({ cA: spec.ca === true }).toSchema()));
  const kuBits = spec.keyUsageBits ?? (spec.ca ? [5, 6] : [0]);
  extensions.push(ext(OID.keyUsage, true, bitString(kuBits)));
  extensions.push(ext(OID.subjectKeyId, false, new asn1js.OctetString({ valueHex: ab(subjectKeyId(spec.key.spkiDer)) })));
  if (spec.issuer !== 'self') {
    const aki = new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: ab(subjectKeyId(issuer.key.spkiDer)) }) });
    extensions.push(ext(OID.authorityKeyId, false, aki.toSchema()));
  }
  const altNames: pkijs.GeneralName[] = [
    ...(spec.dns ?? []).map((value) => new pkijs.GeneralName({ type: 2, value })),
    ...(spec.ips ?? []).map((ip) => new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: ab(ip) }) })),
    ...(spec.emails ?? []).map((value) => new pkijs.GeneralName({ type: 1, value })),
  ];
  if (altNames.length > 0) extensions.push(ext(OID.subjectAltName, false, new pkijs.AltName({ altNames }).toSchema()));
  if (spec.eku) extensions.push(ext(OID.extKeyUsage, false, new pkijs.ExtKeyUsage({ keyPurposes: spec.eku }).toSchema()));
  cert.extensions = extensions;

  const { algId, digest } = signatureAlgorithm(issuer.key.keyType);
  cert.signature = algId;
  cert.signatureAlgorithm = algId;
  const tbs = Buffer.from(cert.encodeTBS().toBER(false));
  const sig = nodeCrypto.sign(digest, tbs, issuer.key.privateKey);
  cert.signatureValue = new asn1js.BitString({ valueHex: ab(u8(sig)) });
  const der = new Uint8Array(cert.toSchema(true).toBER(false));
  return { der, keyDer: spec.key.keyDer, spkiDer: spec.key.spkiDer, keyType: spec.key.keyType, subject: spec.subject };
}

function ipv4Bytes(ip: string): Uint8Array {
  const id = parseIdentity(`ipv4:${ip}`);
  if (!id.ok) throw new Error(id.error);
  return id.value.data;
}

function build(options: Required<TestPkiOptions>): TestPki {
  const now = options.nowMs;
  const valid = { notBeforeMs: now - DAY_MS, notAfterMs: now + 365 * DAY_MS };
  const caKey = generateKey(options.caKeyType);
  const caSubject = 'C=CH, O=Outpost Test, CN=Outpost Test Root CA';
  const ca = issue({ subject: caSubject, key: caKey, issuer: 'self', ca: true, notBeforeMs: now - DAY_MS, notAfterMs: now + 3650 * DAY_MS });
  const otherKey = generateKey('ecdsa-p256');
  const otherSubject = 'C=CH, O=Elsewhere, CN=Untrusted Root CA';
  const otherCa = issue({ subject: otherSubject, key: otherKey, issuer: 'self', ca: true, notBeforeMs: now - DAY_MS, notAfterMs: now + 3650 * DAY_MS });
  const interKey = generateKey('ecdsa-p256');
  const interSubject = 'C=CH, O=Outpost Test, CN=Outpost Test Intermediate CA';
  const intermediate = issue({ subject: interSubject, key: interKey, issuer: { subject: caSubject, key: caKey }, ca: true, ...valid });

  const gwSubject = `C=CH, O=Outpost Test, CN=${options.gatewayFqdn}`;
  const clientSubject = `C=CH, O=Outpost Test, CN=${options.clientFqdn}`;
  const gwSan = { dns: [options.gatewayFqdn, options.gatewayIp], ips: [ipv4Bytes(options.gatewayIp)] };
  const gwEku = [OID.serverAuth, OID.ipsecIke];
  const byCa = { subject: caSubject, key: caKey };

  const keys = {} as Record<TestKeyType, { gw: KeyPair; client: KeyPair }>;
  for (const t of TEST_KEY_TYPES) keys[t] = { gw: generateKey(t), client: generateKey(t) };
  const gw = {} as Record<TestKeyType, TestCert>;
  const client = {} as Record<TestKeyType, TestCert>;
  for (const t of TEST_KEY_TYPES) {
    gw[t] = issue({ subject: gwSubject, key: keys[t].gw, issuer: byCa, ...valid, ...gwSan, eku: gwEku });
    client[t] = issue({
      subject: clientSubject,
      key: keys[t].client,
      issuer: byCa,
      ...valid,
      dns: [options.clientFqdn],
      emails: [options.clientEmail],
      eku: [OID.clientAuth],
    });
  }
  const gwKey = keys['ecdsa-p256'].gw;
  const variant = (extra: Partial<CertSpec>): TestCert => issue({ subject: gwSubject, key: gwKey, issuer: byCa, ...valid, ...gwSan, eku: gwEku, ...extra });
  const gwExpired = variant({ notBeforeMs: now - 30 * DAY_MS, notAfterMs: now - DAY_MS });
  const gwNotYetValid = variant({ notBeforeMs: now + DAY_MS, notAfterMs: now + 30 * DAY_MS });
  const gwWrongSan = variant({ subject: 'C=CH, O=Outpost Test, CN=wrong.outpost.test', dns: ['wrong.outpost.test'], ips: [] });
  const gwUntrusted = variant({ issuer: { subject: otherSubject, key: otherKey } });
  const gwViaIntermediate = variant({ issuer: { subject: interSubject, key: interKey } });
  const gwBadEku = variant({ eku: [OID.codeSigning] });
  const gwNoDigitalSignature = variant({ keyUsageBits: [2] });

  const files: [string, TestCert, boolean][] = [
    ['ca', ca, true],
    ['ca-other', otherCa, true],
    ['ca-intermediate', intermediate, true],
    ...TEST_KEY_TYPES.flatMap((t): [string, TestCert, boolean][] => [
      [`gw-${KEY_FILE_SUFFIX[t]}`, gw[t], true],
      [`client-${KEY_FILE_SUFFIX[t]}`, client[t], true],
    ]),
    ['gw-expired', gwExpired, true],
    ['gw-notyet', gwNotYetValid, true],
    ['gw-wrongsan', gwWrongSan, true],
    ['gw-untrusted', gwUntrusted, true],
    ['gw-intermediate', gwViaIntermediate, true],
    ['gw-badeku', gwBadEku, true],
    ['gw-nodigsig', gwNoDigitalSignature, true],
  ];

  return {
    ca,
    otherCa,
    intermediate,
    gw,
    client,
    gwExpired,
    gwNotYetValid,
    gwWrongSan,
    gwUntrusted,
    gwViaIntermediate,
    gwBadEku,
    gwNoDigitalSignature,
    options,
    writePem(dir: string): Record<string, string> {
      mkdirSync(dir, { recursive: true });
      const out: Record<string, string> = {};
      for (const [name, cert, withKey] of files) {
        const certPath = join(dir, `${name}.pem`);
        writeFileSync(certPath, pemEncode('CERTIFICATE', cert.der));
        out[`${name}.pem`] = certPath;
        if (withKey) {
          const keyPath = join(dir, `${name}.key`);
          writeFileSync(keyPath, pemEncode('PRIVATE KEY', cert.keyDer), { mode: 0o600 });
          out[`${name}.key`] = keyPath;
        }
      }
      return out;
    },
  };
}

const cache = new Map<string, TestPki>();

/** Builds (once per process and option set) a test PKI; RSA key generation dominates (~100 ms per key). */
export function makeTestPki(opts: TestPkiOptions = {}): TestPki {
  const options: Required<TestPkiOptions> = {
    nowMs: opts.nowMs ?? Date.now(),
    caKeyType: opts.caKeyType ?? 'ecdsa-p256',
    gatewayFqdn: opts.gatewayFqdn ?? 'gw.outpost.test',
    gatewayIp: opts.gatewayIp ?? '192.0.2.1',
    clientFqdn: opts.clientFqdn ?? 'client.outpost.test',
    clientEmail: opts.clientEmail ?? 'client@outpost.test',
  };
  // Without an explicit time, reuse whatever was built first so callers share one PKI per process.
  const key = JSON.stringify({ ...options, nowMs: opts.nowMs ?? 'now' });
  let pki = cache.get(key);
  if (!pki) {
    pki = build(options);
    cache.set(key, pki);
  }
  return pki;
}
