// IKE identities (RFC 7296 §3.5 ID payload data): parse from config text, format for logs, match against patterns.
import { formatIp, parseIp } from './ip.ts';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { IdType } from './constants.ts';

export interface Identity {
  idType: number;
  data: Uint8Array;
}

export type ParsedIdentity = { ok: true; value: Identity } | { ok: false; error: string };

/** DN attribute names as strongSwan prints them (first name wins when formatting). */
const DN_ATTRS: [string[], string][] = [
  [['C'], '2.5.4.6'],
  [['ST', 'S'], '2.5.4.8'],
  [['L'], '2.5.4.7'],
  [['O'], '2.5.4.10'],
  [['OU'], '2.5.4.11'],
  [['CN'], '2.5.4.3'],
  [['SN'], '2.5.4.4'],
  [['serialNumber'], '2.5.4.5'],
  [['street'], '2.5.4.9'],
  [['T', 'title'], '2.5.4.12'],
  [['postalCode'], '2.5.4.17'],
  [['G', 'GN', 'givenName'], '2.5.4.42'],
  [['I', 'initials'], '2.5.4.43'],
  [['dnQualifier'], '2.5.4.46'],
  [['pseudonym'], '2.5.4.65'],
  [['E', 'emailAddress', 'Email'], '1.2.840.113549.1.9.1'],
  [['DC'], '0.9.2342.19200300.100.1.25'],
  [['UID'], '0.9.2342.19200300.100.1.1'],
];
const OID_BY_NAME = new Map<string, string>(DN_ATTRS.flatMap(([names, oid]) => names.map((n) => [n.toLowerCase(), oid] as [string, string])));
const NAME_BY_OID = new Map<string, string>(DN_ATTRS.map(([names, oid]) => [oid, names[0] as string]));
const OID_C = '2.5.4.6';
const IA5_OIDS = new Set(['1.2.840.113549.1.9.1', '0.9.2342.19200300.100.1.25']);

const PREFIXES: Record<string, number> = {
  fqdn: IdType.ID_FQDN,
  email: IdType.ID_RFC822_ADDR,
  rfc822: IdType.ID_RFC822_ADDR,
  userfqdn: IdType.ID_RFC822_ADDR,
  ipv4: IdType.ID_IPV4_ADDR,
  ipv6: IdType.ID_IPV6_ADDR,
  dn: IdType.ID_DER_ASN1_DN,
  asn1dn: IdType.ID_DER_ASN1_DN,
  keyid: IdType.ID_KEY_ID,
};

const TYPE_NAMES: Record<number, string> = {
  [IdType.ID_FQDN]: 'fqdn',
  [IdType.ID_RFC822_ADDR]: 'email',
  [IdType.ID_IPV4_ADDR]: 'ipv4',
  [IdType.ID_IPV6_ADDR]: 'ipv6',
  [IdType.ID_DER_ASN1_DN]: 'dn',
  [IdType.ID_DER_ASN1_GN]: 'gn',
  [IdType.ID_KEY_ID]: 'keyid',
};

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

function fail(error: string): ParsedIdentity {
  return { ok: false, error };
}

function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------- IP addresses ----------

/** A dotted quad for an identity: stricter than ip.ts in refusing leading zeros (octal-looking, ambiguous). */
export function parseIpv4(s: string): Uint8Array | null {
  if (s.includes(':') || /(^|\.)0\d/.test(s)) return null;
  return parseIp(s);
}

/** An IPv6 literal for an identity: no zone index (an identity names a host, not a link). */
export function parseIpv6(s: string): Uint8Array | null {
  if (!s.includes(':') || s.includes('%')) return null;
  const b = parseIp(s);
  return b && b.length === 16 ? b : null;
}

/** RFC 5952 text form. */
export function formatIpv6(b: Uint8Array): string {
  return formatIp(b);
}

// ---------- Distinguished names ----------

interface DnComponent {
  oid: string;
  value: string;
}

function isPrintableString(s: string): boolean {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s);
}

/** Splits "C=CH, O=Outpost, CN=gw" into components; `\` escapes the next character. */
function splitDn(text: string): DnComponent[] | string {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '\\') {
      const next = text[i + 1];
      if (next === undefined) return 'DN ends with a lone backslash';
      cur += `\\${next}`;
      i++;
    } else if (ch === ',') {
      parts.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  parts.push(cur);
  const out: DnComponent[] = [];
  for (const raw of parts) {
    const part = raw.trim();
    if (part === '') return 'DN has an empty component';
    const eq = findUnescaped(part, '=');
    if (eq <= 0) return `DN component "${part}" is not TYPE=value`;
    const type = part.slice(0, eq).trim();
    const value = unescape(part.slice(eq + 1).trim());
    const oid = OID_BY_NAME.get(type.toLowerCase()) ?? (/^\d+(\.\d+)+$/.test(type) ? type : undefined);
    if (!oid) return `unknown DN attribute type "${type}"`;
    if (value === '') return `DN attribute ${type} has an empty value`;
    out.push({ oid, value });
  }
  return out;
}

function findUnescaped(s: string, ch: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === ch) return i;
  }
  return -1;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

function encodeDn(components: DnComponent[]): Uint8Array {
  // One SET per attribute: pkijs would put them all in a single multi-valued RDN.
  const rdns = components.map(({ oid, value }) => {
    let v: pkijs.AttributeValueType;
    if (oid === OID_C && isPrintableString(value)) v = new asn1js.PrintableString({ value });
    else if (IA5_OIDS.has(oid) && /^[\x20-\x7e]*$/.test(value)) v = new asn1js.IA5String({ value });
    else if (isPrintableString(value)) v = new asn1js.PrintableString({ value });
    else v = new asn1js.Utf8String({ value });
    return new asn1js.Set({ value: [new pkijs.AttributeTypeAndValue({ type: oid, value: v }).toSchema()] });
  });
  return new Uint8Array(new asn1js.Sequence({ value: rdns }).toBER(false));
}

function attributeValueText(value: unknown): string | null {
  const block = (value as { valueBlock?: { value?: unknown } } | undefined)?.valueBlock;
  if (block && typeof block.value === 'string') return block.value;
  return null;
}

/** Decodes a DER Name into components; null when malformed. */
export function decodeDn(der: Uint8Array): DnComponent[] | null {
  try {
    const ab = der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer;
    const parsed = asn1js.fromBER(ab);
    if (parsed.offset === -1 || parsed.offset !== der.byteLength) return null;
    const rdn = new pkijs.RelativeDistinguishedNames({ schema: parsed.result });
    const out: DnComponent[] = [];
    for (const tv of rdn.typesAndValues) {
      let text = attributeValueText(tv.value);
      if (text === null) {
        const raw = new Uint8Array((tv.value as asn1js.AsnType).toBER(false));
        text = `#${toHex(raw)}`;
      }
      out.push({ oid: tv.type, value: text });
    }
    return out;
  } catch {
    return null;
  }
}

function escapeDnValue(v: string): string {
  return v.replace(/([\\,])/g, '\\$1');
}

/** strongSwan's DN text form: "C=CH, O=Outpost, CN=gw.example"; null when `der` is not a Name. */
export function formatDn(der: Uint8Array): string | null {
  const comps = decodeDn(der);
  if (!comps) return null;
  return comps.map((c) => `${NAME_BY_OID.get(c.oid) ?? c.oid}=${escapeDnValue(c.value)}`).join(', ');
}

function normalizeDnValue(v: string): string {
  return v.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** Equal when DER-identical, or when types match and values match ignoring case and whitespace runs. */
export function dnEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (bytesEqual(a, b)) return true;
  const ca = decodeDn(a);
  const cb = decodeDn(b);
  if (!ca || !cb || ca.length !== cb.length) return false;
  return ca.every((c, i) => c.oid === cb[i]?.oid && normalizeDnValue(c.value) === normalizeDnValue(cb[i]?.value ?? ''));
}

// ---------- identities ----------

function parseKeyId(s: string): Uint8Array | null {
  const hex = s.replace(/^0x/i, '').replace(/:/g, '');
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9A-Fa-f]+$/.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function parseTyped(idType: number, value: string, allowWildcard: boolean): ParsedIdentity {
  switch (idType) {
    case IdType.ID_FQDN:
    case IdType.ID_RFC822_ADDR: {
      const what = idType === IdType.ID_FQDN ? 'FQDN' : 'email address';
      if (value === '') return fail(`empty ${what}`);
      if (value.length > 255) return fail(`${what} longer than 255 characters`);
      if (!/^[\x21-\x7e]+$/.test(value)) return fail(`${what} "${value}" contains spaces or non-ASCII characters`);
      if (!allowWildcard && value.includes('*')) return fail(`"${value}": wildcards are only allowed in remote identity patterns`);
      if (idType === IdType.ID_RFC822_ADDR && !value.includes('@')) return fail(`email address "${value}" has no "@"`);
      return { ok: true, value: { idType, data: utf8.encode(value) } };
    }
    case IdType.ID_IPV4_ADDR: {
      const ip = parseIpv4(value);
      return ip ? { ok: true, value: { idType, data: ip } } : fail(`"${value}" is not an IPv4 address`);
    }
    case IdType.ID_IPV6_ADDR: {
      const ip = parseIpv6(value);
      return ip ? { ok: true, value: { idType, data: ip } } : fail(`"${value}" is not an IPv6 address`);
    }
    case IdType.ID_DER_ASN1_DN: {
      if (value.trim() === '') return { ok: true, value: { idType, data: new Uint8Array([0x30, 0x00]) } };
      const comps = splitDn(value);
      if (typeof comps === 'string') return fail(comps);
      if (!allowWildcard && comps.some((c) => c.value === '*')) return fail(`"${value}": wildcards are only allowed in remote identity patterns`);
      return { ok: true, value: { idType, data: encodeDn(comps) } };
    }
    case IdType.ID_KEY_ID: {
      const k = parseKeyId(value);
      return k ? { ok: true, value: { idType, data: k } } : fail(`key id "${value}" is not hex`);
    }
    default:
      return fail(`unsupported identity type ${idType}`);
  }
}

function inferType(value: string): number {
  if (parseIpv4(value)) return IdType.ID_IPV4_ADDR;
  if (value.includes(':') && parseIpv6(value)) return IdType.ID_IPV6_ADDR;
  if (value.includes('=')) return IdType.ID_DER_ASN1_DN;
  if (value.includes('@')) return IdType.ID_RFC822_ADDR;
  return IdType.ID_FQDN;
}

function parseSpec(spec: string, allowWildcard: boolean): ParsedIdentity {
  const s = spec.trim();
  if (s === '') return fail('empty identity');
  if (s.startsWith('%')) return fail(`"${s}" is a pattern, not an identity`);
  const m = /^([a-z0-9]+):(.*)$/i.exec(s);
  const prefixed = m ? PREFIXES[(m[1] as string).toLowerCase()] : undefined;
  if (m && prefixed !== undefined) return parseTyped(prefixed, (m[2] as string).trim(), allowWildcard);
  // strongSwan's forms: "@fqdn" forces FQDN, "@@user@host" forces RFC 822, "@#hex" a key id.
  if (s.startsWith('@#')) return parseTyped(IdType.ID_KEY_ID, s.slice(2), allowWildcard);
  if (s.startsWith('@@')) return parseTyped(IdType.ID_RFC822_ADDR, s.slice(2), allowWildcard);
  if (s.startsWith('@')) return parseTyped(IdType.ID_FQDN, s.slice(1), allowWildcard);
  return parseTyped(inferType(s), s, allowWildcard);
}

/**
 * Parses "fqdn:", "email:"/"rfc822:", "ipv4:", "ipv6:", "dn:", "keyid:" (hex) specs, or a bare value whose type
 * is inferred: an IP literal, a DN when it holds "=", an email when it holds "@", else an FQDN.
 */
export function parseIdentity(spec: string): ParsedIdentity {
  return parseSpec(spec, false);
}

export function identityTypeName(idType: number): string {
  return TYPE_NAMES[idType] ?? `type${idType}`;
}

function formatValue(id: Identity): string {
  switch (id.idType) {
    case IdType.ID_FQDN:
    case IdType.ID_RFC822_ADDR:
      return utf8Decoder.decode(id.data);
    case IdType.ID_IPV4_ADDR:
      return id.data.length === 4 ? Array.from(id.data).join('.') : `#${toHex(id.data)}`;
    case IdType.ID_IPV6_ADDR:
      return id.data.length === 16 ? formatIpv6(id.data) : `#${toHex(id.data)}`;
    case IdType.ID_DER_ASN1_DN:
      return formatDn(id.data) ?? `#${toHex(id.data)}`;
    default:
      return toHex(id.data);
  }
}

/**
 * Text form for logs and config, shaped like strongSwan's ("gw.example", "C=CH, O=Outpost, CN=gw", "192.0.2.1").
 * A type prefix is added where the bare text would parse back as another type, so that parse(format(id)) = id.
 */
export function formatIdentity(id: Identity): string {
  const text = formatValue(id);
  switch (id.idType) {
    case IdType.ID_FQDN:
    case IdType.ID_RFC822_ADDR:
    case IdType.ID_DER_ASN1_DN: {
      const back = parseIdentity(text);
      if (back.ok && back.value.idType === id.idType) return text;
      return `${identityTypeName(id.idType)}:${text}`;
    }
    case IdType.ID_IPV4_ADDR:
    case IdType.ID_IPV6_ADDR:
      return text;
    default:
      return `${identityTypeName(id.idType)}:${text}`;
  }
}

/** "fqdn:gw.example", "dn:C=CH, CN=gw": the type always spelled out, for error messages. */
export function describeIdentity(id: Identity): string {
  return `${identityTypeName(id.idType)}:${formatValue(id)}`;
}

/**
 * Canonical key for an identity, equal for identities that `identityMatches` treats as the same peer: FQDN and
 * email lower-cased, DNs with values trimmed, whitespace runs collapsed and lower-cased (as `dnEquals`). Used
 * where state is keyed by identity (pool leases), so "Alice@X" and "alice@x" get the same lease.
 */
export function identityKey(id: Identity): string {
  switch (id.idType) {
    case IdType.ID_FQDN:
    case IdType.ID_RFC822_ADDR:
      return `${identityTypeName(id.idType)}:${lower(id.data)}`;
    case IdType.ID_DER_ASN1_DN: {
      const comps = decodeDn(id.data);
      if (!comps) return `${identityTypeName(id.idType)}:#${toHex(id.data)}`;
      return `${identityTypeName(id.idType)}:${comps.map((c) => `${NAME_BY_OID.get(c.oid) ?? c.oid}=${escapeDnValue(normalizeDnValue(c.value))}`).join(', ')}`;
    }
    default:
      return describeIdentity(id);
  }
}

function lower(b: Uint8Array): string {
  return utf8Decoder.decode(b).toLowerCase();
}

/** Parsed identity patterns by text: a connection's remote id is matched on every IKE_AUTH. Bounded; read only. */
const patternCache = new Map<string, ParsedIdentity>();
const PATTERN_CACHE_MAX = 1024;

function cachedPattern(s: string): ParsedIdentity {
  let p = patternCache.get(s);
  if (!p) {
    p = parseSpec(s, true);
    if (patternCache.size >= PATTERN_CACHE_MAX) patternCache.clear();
    patternCache.set(s, p);
  }
  return p;
}

function dnMatchesPattern(pattern: Uint8Array, der: Uint8Array): boolean {
  const p = decodeDn(pattern);
  const d = decodeDn(der);
  if (!p || !d || p.length !== d.length) return false;
  return p.every((c, i) => c.oid === d[i]?.oid && (c.value === '*' || normalizeDnValue(c.value) === normalizeDnValue(d[i]?.value ?? '')));
}

/**
 * Whether a peer's identity satisfies a configured pattern: "%any" matches everything; "*.example.com" any FQDN
 * below example.com; "*@example.com" any email there; a DN whose RDN values may be "*"; otherwise equality
 * (FQDN and email ignore case, DNs compare normalized).
 */
export function identityMatches(spec: string, id: Identity): boolean {
  const s = spec.trim();
  if (s === '%any' || s === '%any6') return true;
  const parsed = cachedPattern(s);
  if (!parsed.ok) return false;
  const want = parsed.value;
  if (want.idType !== id.idType) return false;
  switch (want.idType) {
    case IdType.ID_FQDN:
    case IdType.ID_RFC822_ADDR: {
      const pattern = lower(want.data);
      const value = lower(id.data);
      if (pattern.startsWith('*')) {
        const suffix = pattern.slice(1);
        return !suffix.includes('*') && value.length > suffix.length && value.endsWith(suffix);
      }
      return pattern === value;
    }
    case IdType.ID_DER_ASN1_DN:
      return dnMatchesPattern(want.data, id.data) || dnEquals(want.data, id.data);
    default:
      return bytesEqual(want.data, id.data);
  }
}
