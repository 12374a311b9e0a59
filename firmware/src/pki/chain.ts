// Certificate path validation for IKE peers (RFC 5280 §6 via pkijs, RFC 7296 §3.5 identity binding, RFC 4945 §5).
/*
 * Cost (docs/benchmarks.md): on Bun a pkijs parse costs about a millisecond per certificate (asn1js builds
 * thousands of small objects), ten times the signature checks. So each certificate is parsed at most once:
 * - CA certificates (trust anchors and peer-supplied intermediates) are parsed once and kept, keyed by content,
 *   with their SPKI; their keys are kept by signature.ts, so an issuer check is one node:crypto verify.
 * - A successful validation is remembered, keyed by SHA-256 over everything it depends on (end entity,
 *   intermediates, anchors, identity), until the earliest notAfter of its path or CHAIN_CACHE_TTL_MS, whichever
 *   comes first; a hit re-checks the validity window at the request's nowMs. Failures are never remembered.
 * - The end entity is parsed once per validation; its extensions (SAN, key usage, EKU) are parsed lazily by pkijs
 *   and shared with pkijs' path engine, which keeps the RFC 5280 checks (CA flags, name constraints, policies).
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { IdType } from '../ike/constants.ts';
import { describeIdentity, dnEquals, formatDn, formatIpv6 } from '../ike/identity.ts';
import type { ValidateChainRequest, ValidateChainResult } from '../ike/io.ts';
import { BoundedCache, contentKey } from './bounded-cache.ts';
import { schemeOfAlgorithm, verify as verifySignature } from './signature.ts';

const OID_KEY_USAGE = '2.5.29.15';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_EXT_KEY_USAGE = '2.5.29.37';
/** serverAuth, clientAuth, ipsecIKE (RFC 4945 §5.1.3.12), anyExtendedKeyUsage, Microsoft's "IP security IKE intermediate". */
const IKE_EKUS = new Set(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2', '1.3.6.1.5.5.7.3.17', '2.5.29.37.0', '1.3.6.1.5.5.8.2.2']);

const GN_RFC822 = 1;
const GN_DNS = 2;
const GN_IP = 7;

/**
 * How long a successful validation may be reused at most. Bounds how late a configuration change outside the
 * request (a CA's revocation once CRLs exist) takes effect; clearChainCache() makes it immediate.
 */
export const CHAIN_CACHE_TTL_MS = 10 * 60_000;
/** Validations remembered (about 0.3–1 KiB each). */
export const CHAIN_CACHE_ENTRIES = 4096;
/** Parsed CA certificates kept (about 30 KiB each). */
const CA_CACHE_ENTRIES = 64;

interface CachedValidation {
  spkiDer: Uint8Array;
  subject: string;
  /** The path's latest notBefore and earliest notAfter (ms). */
  validFromMs: number;
  validToMs: number;
  storedAtMs: number;
}

const validations = new BoundedCache<CachedValidation>(CHAIN_CACHE_ENTRIES);
const caCertificates = new BoundedCache<pkijs.Certificate | null>(CA_CACHE_ENTRIES);
/** Derived facts of a parsed certificate, computed once per object. */
const spkiOfCert = new WeakMap<pkijs.Certificate, Uint8Array>();

const counters = { hits: 0, misses: 0, stale: 0 };

/** Forget remembered validations and parsed CA certificates (configuration reload, tests). */
export function clearChainCache(): void {
  validations.clear();
  caCertificates.clear();
}

export interface ChainCacheStats {
  /** Validations remembered now. */
  entries: number;
  /** Requests answered from memory. */
  hits: number;
  /** Requests validated in full: nothing remembered, or `stale`. */
  misses: number;
  /** Remembered but outside its window at the request's time (expired since, too old, clock moved back). */
  stale: number;
}

export function chainCacheStats(): ChainCacheStats {
  return { entries: validations.size, ...counters };
}

function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function parseCertificate(der: Uint8Array): pkijs.Certificate | null {
  try {
    // parseEmbedded: false: asn1js would otherwise try every OCTET/BIT STRING as nested DER (a quarter of the
    // parse); pkijs reads extension values and keys from the raw octets anyway.
    const parsed = asn1js.fromBER(der, { parseEmbedded: false });
    if (parsed.offset === -1 || parsed.offset !== der.byteLength) return null;
    return new pkijs.Certificate({ schema: parsed.result });
  } catch {
    return null;
  }
}

function parseCaCertificate(der: Uint8Array): pkijs.Certificate | null {
  const id = contentKey(der);
  const cached = caCertificates.get(id);
  if (cached !== undefined) return cached;
  const cert = parseCertificate(der);
  caCertificates.set(id, cert);
  return cert;
}

/** The DER of a Name as it was received (pkijs keeps it), so it is neither re-encoded nor re-parsed. */
function nameDer(name: pkijs.RelativeDistinguishedNames): Uint8Array {
  if (name.valueBeforeDecode.byteLength > 0) return new Uint8Array(name.valueBeforeDecode);
  return new Uint8Array(name.toSchema().toBER(false));
}

function nameOf(cert: pkijs.Certificate): string {
  try {
    return formatDn(nameDer(cert.subject)) ?? '(unprintable subject)';
  } catch {
    return '(unprintable subject)';
  }
}

function issuerName(cert: pkijs.Certificate): string {
  try {
    return formatDn(nameDer(cert.issuer)) ?? '(unprintable issuer)';
  } catch {
    return '(unprintable issuer)';
  }
}

function extension(cert: pkijs.Certificate, oid: string): pkijs.Extension | undefined {
  return cert.extensions?.find((e) => e.extnID === oid);
}

function spkiDerOf(cert: pkijs.Certificate): Uint8Array {
  let spki = spkiOfCert.get(cert);
  if (!spki) {
    spki = new Uint8Array(cert.subjectPublicKeyInfo.toSchema().toBER(false));
    spkiOfCert.set(cert, spki);
  }
  return spki;
}

/** Checks `cert`'s signature with `issuer`'s key over node:crypto (pkijs' WebCrypto path lacks Ed25519). */
function signedBy(cert: pkijs.Certificate, issuer: pkijs.Certificate): boolean {
  try {
    const scheme = schemeOfAlgorithm(cert.signatureAlgorithm);
    // SHA-1 certificate signatures are collision-forgeable (SHAttered, 2017): refuse them.
    if (!scheme || scheme === 'rsa-pkcs1-sha1') return false;
    return verifySignature(spkiDerOf(issuer), scheme, cert.tbsView, cert.signatureValue.valueBlock.valueHexView);
  } catch {
    return false;
  }
}

function validityProblem(cert: pkijs.Certificate, now: Date, what: string): string | null {
  const notBefore = cert.notBefore.value;
  const notAfter = cert.notAfter.value;
  if (now > notAfter) return `${what}expired ${isoSeconds(notAfter)}`;
  if (now < notBefore) return `${what}not valid before ${isoSeconds(notBefore)}`;
  return null;
}

function subjectAltNames(cert: pkijs.Certificate): pkijs.GeneralName[] {
  const ext = extension(cert, OID_SUBJECT_ALT_NAME);
  const parsed = ext?.parsedValue as pkijs.AltName | undefined;
  return parsed?.altNames ?? [];
}

function ipText(data: Uint8Array): string | null {
  if (data.length === 4) return Array.from(data).join('.');
  if (data.length === 16) return formatIpv6(data);
  return null;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Why the certificate does not carry `identity`, or null when it does. */
function identityProblem(cert: pkijs.Certificate, identity: ValidateChainRequest['identity']): string | null {
  const wanted = describeIdentity(identity);
  if (identity.idType === IdType.ID_DER_ASN1_DN) {
    if (dnEquals(nameDer(cert.subject), identity.data)) return null;
    return `identity ${wanted} does not match certificate subject ${nameOf(cert)}`;
  }
  if (identity.idType === IdType.ID_KEY_ID) return `identity ${wanted} is a key id, which no certificate can carry`;
  const sans = subjectAltNames(cert);
  const text = new TextDecoder().decode(identity.data);
  switch (identity.idType) {
    case IdType.ID_FQDN:
      if (sans.some((g) => g.type === GN_DNS && typeof g.value === 'string' && g.value.toLowerCase() === text.toLowerCase())) return null;
      return `identity ${wanted} not in certificate SAN`;
    case IdType.ID_RFC822_ADDR:
      if (sans.some((g) => g.type === GN_RFC822 && typeof g.value === 'string' && g.value.toLowerCase() === text.toLowerCase())) return null;
      return `identity ${wanted} not in certificate SAN`;
    case IdType.ID_IPV4_ADDR:
    case IdType.ID_IPV6_ADDR: {
      const ip = ipText(identity.data);
      for (const g of sans) {
        if (g.type === GN_IP && g.value instanceof asn1js.OctetString && bytesEqual(g.value.valueBlock.valueHexView, identity.data)) return null;
        // Windows clients need the address as a dNSName SAN too (error 13801), and some CAs only put it there.
        if (g.type === GN_DNS && ip !== null && typeof g.value === 'string' && g.value.toLowerCase() === ip) return null;
      }
      return `identity ${wanted} not in certificate SAN`;
    }
    default:
      return `identity ${wanted} cannot be bound to a certificate`;
  }
}

function keyUsageProblem(cert: pkijs.Certificate): string | null {
  const ku = extension(cert, OID_KEY_USAGE)?.parsedValue;
  if (ku instanceof asn1js.BitString) {
    const first = ku.valueBlock.valueHexView[0] ?? 0;
    if ((first & 0x80) === 0) return 'certificate key usage lacks digitalSignature';
  }
  const eku = extension(cert, OID_EXT_KEY_USAGE)?.parsedValue as pkijs.ExtKeyUsage | undefined;
  // An EKU is not required (strongSwan does not require one), but when present it must allow IKE.
  if (eku && Array.isArray(eku.keyPurposes) && !eku.keyPurposes.some((p) => IKE_EKUS.has(p))) {
    return `certificate extended key usage (${eku.keyPurposes.join(', ')}) allows neither serverAuth, clientAuth nor ipsecIKE`;
  }
  return null;
}

function cacheKeyOf(req: ValidateChainRequest): string {
  return contentKey(
    req.endEntityDer,
    req.intermediatesDer.length,
    ...req.intermediatesDer,
    req.trustAnchorsDer.length,
    ...req.trustAnchorsDer,
    req.identity.idType,
    req.identity.data,
  );
}

/**
 * Validates end entity + intermediates up to one of the trust anchors at `nowMs`, checks the end entity may sign
 * IKE AUTH and carries the peer's identity. Never throws: every failure is a one-line reason.
 */
export async function validateChain(req: ValidateChainRequest): Promise<ValidateChainResult> {
  try {
    const key = cacheKeyOf(req);
    const hit = validations.get(key);
    if (hit) {
      const now = req.nowMs;
      if (now >= hit.validFromMs && now <= hit.validToMs && now >= hit.storedAtMs && now - hit.storedAtMs < CHAIN_CACHE_TTL_MS) {
        counters.hits++;
        return { ok: true, spkiDer: hit.spkiDer.slice(), subject: hit.subject };
      }
      // Outside the window (expired since, clock moved back, too old): validate afresh, for the precise reason.
      counters.stale++;
      validations.delete(key);
    }
    counters.misses++;
    const r = await validate(req);
    if (!r.ok) return r;
    validations.set(key, { spkiDer: r.spkiDer.slice(), subject: r.subject, validFromMs: r.validFromMs, validToMs: r.validToMs, storedAtMs: req.nowMs });
    return { ok: true, spkiDer: r.spkiDer, subject: r.subject };
  } catch (e) {
    return { ok: false, reason: `certificate validation failed: ${e instanceof Error ? e.message : String(e)}` };
  }
}

type Validated = { ok: true; spkiDer: Uint8Array; subject: string; validFromMs: number; validToMs: number } | { ok: false; reason: string };

async function validate(req: ValidateChainRequest): Promise<Validated> {
  const now = new Date(req.nowMs);
  const ee = parseCertificate(req.endEntityDer);
  if (!ee) return { ok: false, reason: 'malformed end-entity certificate' };
  const intermediates: pkijs.Certificate[] = [];
  for (const der of req.intermediatesDer) {
    const c = parseCaCertificate(der);
    if (!c) return { ok: false, reason: 'malformed intermediate certificate' };
    intermediates.push(c);
  }
  const anchors = req.trustAnchorsDer.map(parseCaCertificate).filter((c): c is pkijs.Certificate => c !== null);
  if (anchors.length === 0) return { ok: false, reason: 'no trusted CA configured' };

  const eeValidity = validityProblem(ee, now, 'certificate ');
  if (eeValidity) return { ok: false, reason: eeValidity };
  const idProblem = identityProblem(ee, req.identity);
  if (idProblem) return { ok: false, reason: idProblem };
  const usage = keyUsageProblem(ee);
  if (usage) return { ok: false, reason: usage };

  let badSignatureFrom: string | null = null;
  const findIssuer = async (cert: pkijs.Certificate, engine: pkijs.CertificateChainValidationEngine): Promise<pkijs.Certificate[]> => {
    if (cert.subject.isEqual(cert.issuer) && signedBy(cert, cert)) return [cert];
    const found: pkijs.Certificate[] = [];
    for (const candidate of [...engine.trustedCerts, ...engine.certs]) {
      if (candidate === cert || !cert.issuer.isEqual(candidate.subject)) continue;
      if (signedBy(cert, candidate)) found.push(candidate);
      else badSignatureFrom ??= nameOf(candidate);
    }
    return found;
  };

  // pkijs keeps the RFC 5280 §6.1 processing: path building through findIssuer, validity of every certificate
  // on the path, CA flags and key usage of issuers, name constraints and certificate policies.
  const engine = new pkijs.CertificateChainValidationEngine({
    trustedCerts: anchors,
    // pkijs takes the last entry of `certs` as the leaf.
    certs: [...intermediates, ee],
    checkDate: now,
    findIssuer,
  });
  const result = await engine.verify();
  if (!result.result) {
    if (badSignatureFrom !== null) return { ok: false, reason: `signature invalid: certificate not signed by ${badSignatureFrom}` };
    if (result.resultCode === 8) {
      for (const c of [...intermediates, ...anchors]) {
        const p = validityProblem(c, now, `CA certificate "${nameOf(c)}" `);
        if (p) return { ok: false, reason: p };
      }
    }
    if (result.resultCode === 14) return { ok: false, reason: 'an issuing certificate is not a CA (basicConstraints)' };
    if (result.resultCode === 97 || result.resultCode === 60 || /certificate path/i.test(result.resultMessage ?? '')) {
      return { ok: false, reason: `no trusted CA for "${nameOf(ee)}" (issuer "${issuerName(ee)}")` };
    }
    return { ok: false, reason: `certificate chain invalid: ${result.resultMessage || `code ${result.resultCode}`}` };
  }
  // The window in which this result holds: every certificate on the path must be within its validity.
  const path = result.certificatePath && result.certificatePath.length > 0 ? result.certificatePath : [ee, ...intermediates, ...anchors];
  let validFromMs = -Infinity;
  let validToMs = Infinity;
  for (const c of path) {
    validFromMs = Math.max(validFromMs, c.notBefore.value.getTime());
    validToMs = Math.min(validToMs, c.notAfter.value.getTime());
  }
  return { ok: true, spkiDer: spkiDerOf(ee).slice(), subject: nameOf(ee), validFromMs, validToMs };
}
