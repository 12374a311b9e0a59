// Mass-produces ECDSA P-256 certificates (RFC 5280, pkijs + node:crypto) for benchmark identities.
//
// The handshake benchmark needs K distinct identities, each with its own certificate: a responder keeps one
// IKE SA per identity (INITIAL_CONTACT would tear down a previous SA of the same identity). Spawning
// strongSwan's `pki` three times per identity is too slow for thousands, so they are minted in-process.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

export interface BenchCert {
  fqdn: string;
  certDer: Uint8Array;
  certPem: string;
  /** PKCS#8 DER and PEM of the private key. */
  keyDer: Uint8Array;
  keyPem: string;
}

export interface BenchCa extends BenchCert {
  privateKey: KeyObject;
  spkiDer: Uint8Array;
  subject: string;
}

const ECDSA_SHA256 = '1.2.840.10045.4.3.2';

/** Validity period; default from a day ago to 30 days ahead. UTCTime keeps whole seconds. */
export interface Validity {
  notBeforeMs?: number;
  notAfterMs?: number;
}

const secondsOf = (ms: number) => Math.floor(ms / 1000) * 1000;

function ab(u: Uint8Array): ArrayBuffer {
  return u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
}

function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function name(cn: string): pkijs.RelativeDistinguishedNames {
  // One RDN per attribute (pkijs would put both into a single multi-valued RDN).
  const rdn = (type: string, value: string) =>
    new asn1js.Set({ value: [new pkijs.AttributeTypeAndValue({ type, value: new asn1js.Utf8String({ value }) }).toSchema()] });
  const der = new asn1js.Sequence({ value: [rdn('2.5.4.10', 'Outpost Bench'), rdn('2.5.4.3', cn)] }).toBER(false);
  return pkijs.RelativeDistinguishedNames.fromBER(der);
}

function keyId(spkiDer: Uint8Array): ArrayBuffer {
  const spki = pkijs.PublicKeyInfo.fromBER(ab(spkiDer));
  return ab(new Uint8Array(createHash('sha1').update(spki.subjectPublicKey.valueBlock.valueHexView).digest()));
}

function ext(extnID: string, critical: boolean, value: asn1js.AsnType): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

function mint(
  cn: string,
  issuer: { cn: string; key: KeyObject; spkiDer: Uint8Array } | 'self',
  opts: { ca?: boolean; fqdn?: string; eku?: string[] } & Validity,
): { certDer: Uint8Array; key: KeyObject; spkiDer: Uint8Array; keyDer: Uint8Array } {
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spkiDer = new Uint8Array(kp.publicKey.export({ type: 'spki', format: 'der' }));
  const keyDer = new Uint8Array(kp.privateKey.export({ type: 'pkcs8', format: 'der' }));
  const iss = issuer === 'self' ? { cn, key: kp.privateKey, spkiDer } : issuer;
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = new Uint8Array(randomBytes(9));
  serial[0] = serial[0]! & 0x7f;
  cert.serialNumber = new asn1js.Integer({ valueHex: ab(serial) });
  cert.issuer = name(iss.cn);
  cert.subject = name(cn);
  const now = Date.now();
  cert.notBefore = new pkijs.Time({ type: 0, value: new Date(secondsOf(opts.notBeforeMs ?? now - 86_400_000)) });
  cert.notAfter = new pkijs.Time({ type: 0, value: new Date(secondsOf(opts.notAfterMs ?? now + 30 * 86_400_000)) });
  cert.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(ab(spkiDer));
  const exts = [
    ext('2.5.29.19', true, new pkijs.BasicConstraints({ cA: opts.ca === true }).toSchema()),
    // keyUsage: keyCertSign|cRLSign for the CA, digitalSignature otherwise.
    ext('2.5.29.15', true, new asn1js.BitString({ valueHex: ab(new Uint8Array([opts.ca ? 0x06 : 0x80])), unusedBits: opts.ca ? 1 : 7 })),
    ext('2.5.29.14', false, new asn1js.OctetString({ valueHex: keyId(spkiDer) })),
  ];
  if (issuer !== 'self') {
    exts.push(ext('2.5.29.35', false, new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: keyId(iss.spkiDer) }) }).toSchema()));
  }
  if (opts.fqdn) exts.push(ext('2.5.29.17', false, new pkijs.AltName({ altNames: [new pkijs.GeneralName({ type: 2, value: opts.fqdn })] }).toSchema()));
  if (opts.eku) exts.push(ext('2.5.29.37', false, new pkijs.ExtKeyUsage({ keyPurposes: opts.eku }).toSchema()));
  cert.extensions = exts;
  const alg = new pkijs.AlgorithmIdentifier({ algorithmId: ECDSA_SHA256 });
  cert.signature = alg;
  cert.signatureAlgorithm = alg;
  const tbs = Buffer.from(cert.encodeTBS().toBER(false));
  cert.signatureValue = new asn1js.BitString({ valueHex: ab(new Uint8Array(sign('sha256', tbs, iss.key))) });
  return { certDer: new Uint8Array(cert.toSchema(true).toBER(false)), key: kp.privateKey, spkiDer, keyDer };
}

export function makeBenchCa(cn = 'Outpost Bench CA', validity: Validity = {}): BenchCa {
  const m = mint(cn, 'self', { ca: true, ...validity });
  return {
    fqdn: cn,
    subject: `O=Outpost Bench, CN=${cn}`,
    certDer: m.certDer,
    certPem: pem('CERTIFICATE', m.certDer),
    keyDer: m.keyDer,
    keyPem: pem('PRIVATE KEY', m.keyDer),
    privateKey: m.key,
    spkiDer: m.spkiDer,
  };
}

/** An end-entity certificate for `fqdn` (SAN dNSName, EKU server+client auth) issued by `ca`. */
export function issueBenchCert(ca: BenchCa, fqdn: string, validity: Validity = {}): BenchCert {
  const m = mint(fqdn, { cn: ca.fqdn, key: ca.privateKey, spkiDer: ca.spkiDer }, { fqdn, eku: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], ...validity });
  return { fqdn, certDer: m.certDer, certPem: pem('CERTIFICATE', m.certDer), keyDer: m.keyDer, keyPem: pem('PRIVATE KEY', m.keyDer) };
}
