// Address, CIDR and traffic-selector syntax for config values (RFC 4291 §2.2 text form, RFC 4632 prefixes, RFC 7296 §3.13.1).
import { isIPv4, isIPv6 } from 'node:net';
import { parseTsSpec } from '../ike/ts.ts';

export type Family = 4 | 6;

export function ipFamily(s: string): Family | null {
  if (isIPv4(s)) return 4;
  if (isIPv6(s) && !s.includes('%')) return 6;
  return null;
}

/** The address as an unsigned integer (32 or 128 bit); null when not an IP literal. */
export function ipToBigInt(s: string): { family: Family; value: bigint } | null {
  const family = ipFamily(s);
  if (family === 4) {
    const parts = s.split('.').map(Number);
    return { family, value: parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n) };
  }
  if (family === 6) {
    let text = s;
    // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two hex groups.
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4) {
      const n = ipToBigInt(v4[1] as string);
      if (!n) return null;
      text = text.slice(0, -(v4[1] as string).length) + ((n.value >> 16n) & 0xffffn).toString(16) + ':' + (n.value & 0xffffn).toString(16);
    }
    const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
    const h = head === '' ? [] : head.split(':');
    const t = tail === undefined || tail === '' ? [] : tail.split(':');
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    if (groups.length !== 8) return null;
    return { family, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
  }
  return null;
}

export function bigIntToIp(family: Family, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => ((value >> s) & 0xffn).toString()).join('.');
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((value >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups (RFC 5952 §4.2).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

export interface Cidr {
  family: Family;
  network: bigint;
  prefix: number;
  /** Canonical text, e.g. `203.0.113.0/24`. */
  text: string;
}

export function cidrRange(c: Cidr): { first: bigint; last: bigint } {
  const bits = c.family === 4 ? 32 : 128;
  const size = 1n << BigInt(bits - c.prefix);
  return { first: c.network, last: c.network + size - 1n };
}

/** `net/prefix` (a bare address means a host prefix); host bits set is an error, since it usually hides a typo. */
export function parseCidr(s: string): { ok: true; value: Cidr } | { ok: false; error: string } {
  const [addr, prefixText, ...extra] = s.split('/');
  if (extra.length > 0 || addr === undefined) return { ok: false, error: `"${s}" is not a network/prefix` };
  const ip = ipToBigInt(addr);
  if (!ip) return { ok: false, error: `"${addr}" is not an IPv4 or IPv6 address` };
  const bits = ip.family === 4 ? 32 : 128;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
      return { ok: false, error: `prefix length "${prefixText}" must be 0..${bits}` };
    }
    prefix = Number(prefixText);
  }
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  const network = ip.value & ~hostMask;
  const text = `${bigIntToIp(ip.family, network)}/${prefix}`;
  if ((ip.value & hostMask) !== 0n) return { ok: false, error: `"${s}" has host bits set; did you mean ${text}?` };
  return { ok: true, value: { family: ip.family, network, prefix, text } };
}

/**
 * A traffic selector as written, checked with the engine's own parser (`dynamic`, `198.51.100.0/24`,
 * `10.0.0.1-10.0.0.9`, each optionally `/proto[/port]` or `[proto/port]`), plus a host-bits check the engine
 * does not make. The string is kept as written; the engine parses it again.
 */
export function checkTrafficSelector(s: string): { ok: true; value: string } | { ok: false; error: string } {
  const text = s.trim();
  const r = parseTsSpec(text);
  if (!r.ok) return r;
  const m = /^([0-9a-f.:]+)\/(\d{1,3})(?=$|\/|\[)/i.exec(text);
  if (m) {
    const cidr = parseCidr(`${m[1]}/${m[2]}`);
    if (!cidr.ok) return { ok: false, error: cidr.error };
  }
  return { ok: true, value: text };
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

export function isDomainName(s: string): boolean {
  const name = s.endsWith('.') ? s.slice(0, -1) : s;
  return name.length > 0 && name.length <= 253 && name.split('.').every((l) => LABEL.test(l));
}
