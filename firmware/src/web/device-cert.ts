// The web UI's TLS certificate (RFC 5280): the device certificate if installed, else a self-signed ECDSA P-256 one made at first start.
import * as nodeCrypto from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { pemEncode } from '../pki/pem.ts';

export interface WebTls {
  cert: string;
  key: string;
  /** True when this call generated them. */
  created: boolean;
}

const u8 = (b: Buffer | ArrayBuffer): Uint8Array => new Uint8Array(b instanceof ArrayBuffer ? b : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
const ab = (b: Uint8Array): ArrayBuffer => b.slice().buffer as ArrayBuffer;

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

function ext(extnID: string, critical: boolean, value: asn1js.AsnType): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

function ipBytes(ip: string): Uint8Array {
  return new Uint8Array(ip.split('.').map((x) => Number(x)));
}

/** A self-signed server certificate: CN=NAME, SAN DNS names and IPv4 addresses, serverAuth, valid `days` days. */
export function makeSelfSignedCert(opts: { commonName: string; dnsNames: string[]; ipv4: string[]; days?: number; nowMs?: number }): { certPem: string; keyPem: string } {
  const { privateKey, publicKey } = nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = opts.nowMs ?? Date.now();
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = u8(nodeCrypto.randomBytes(16));
  serial[0] = (serial[0] as number) & 0x7f; // positive INTEGER
  cert.serialNumber = new asn1js.Integer({ valueHex: ab(serial) });
  const name = new pkijs.RelativeDistinguishedNames({
    typesAndValues: [
      new pkijs.AttributeTypeAndValue({ type: OID.organization, value: new asn1js.Utf8String({ value: 'Outpost' }) }),
      new pkijs.AttributeTypeAndValue({ type: OID.commonName, value: new asn1js.Utf8String({ value: opts.commonName }) }),
    ],
  });
  cert.issuer = name;
  cert.subject = name;
  // Backdated a little: a device whose clock lags must still accept its own certificate.
  cert.notBefore = new pkijs.Time({ type: 0, value: new Date(Math.floor((now - 3_600_000) / 1000) * 1000) });
  cert.notAfter = new pkijs.Time({ type: 1, value: new Date(Math.floor((now + (opts.days ?? 825) * 86_400_000) / 1000) * 1000) });
  cert.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(ab(u8(publicKey.export({ type: 'spki', format: 'der' }))));
  const altNames = [
    ...opts.dnsNames.map((value) => new pkijs.GeneralName({ type: 2, value })),
    ...opts.ipv4.map((ip) => new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: ab(ipBytes(ip)) }) })),
  ];
  // digitalSignature only (bit 0): ECDHE-ECDSA needs nothing else.
  const ku = new asn1js.BitString({ valueHex: new Uint8Array([0x80]).buffer, unusedBits: 7 });
  cert.extensions = [
    ext(OID.basicConstraints, true, new pkijs.BasicConstraints({ cA: false }).toSchema()),
    ext(OID.keyUsage, true, ku),
    ext(OID.extKeyUsage, false, new pkijs.ExtKeyUsage({ keyPurposes: [OID.serverAuth] }).toSchema()),
    ext(OID.subjectAltName, false, new pkijs.AltName({ altNames }).toSchema()),
  ];
  const algId = new pkijs.AlgorithmIdentifier({ algorithmId: OID.ecdsaWithSha256 });
  cert.signature = algId;
  cert.signatureAlgorithm = algId;
  const tbs = Buffer.from(cert.encodeTBS().toBER(false));
  cert.signatureValue = new asn1js.BitString({ valueHex: ab(u8(nodeCrypto.sign('sha256', tbs, privateKey))) });
  const der = new Uint8Array(cert.toSchema(true).toBER(false));
  return { certPem: pemEncode('CERTIFICATE', der), keyPem: pemEncode('PRIVATE KEY', u8(privateKey.export({ type: 'pkcs8', format: 'der' }))) };
}

/**
 * `DIR/web-cert.pem` + `DIR/web-key.pem`: loaded when present (an installed device certificate goes there),
 * otherwise generated. The key is written 0600 under a tight umask, then renamed into place, so it never exists
 * readable by others nor half-written.
 */
export function loadOrCreateWebTls(dir: string, opts: { commonName?: string; nowMs?: number } = {}): WebTls {
  const certPath = join(dir, 'web-cert.pem');
  const keyPath = join(dir, 'web-key.pem');
  if (existsSync(certPath) && existsSync(keyPath)) return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8'), created: false };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const host = opts.commonName ?? hostname();
  const made = makeSelfSignedCert({ commonName: host, dnsNames: [...new Set([host, 'localhost'])], ipv4: ['127.0.0.1'], ...(opts.nowMs !== undefined ? { nowMs: opts.nowMs } : {}) });
  const oldMask = process.umask(0o177);
  try {
    writeFileSync(`${keyPath}.tmp`, made.keyPem, { mode: 0o600 });
    chmodSync(`${keyPath}.tmp`, 0o600);
    renameSync(`${keyPath}.tmp`, keyPath);
    writeFileSync(`${certPath}.tmp`, made.certPem, { mode: 0o644 });
    renameSync(`${certPath}.tmp`, certPath);
  } finally {
    process.umask(oldMask);
  }
  return { cert: made.certPem, key: made.keyPem, created: true };
}
