// Address ranges of traffic selectors (RFC 7296 §3.13.1) as the fewest covering CIDR prefixes (RFC 4632), for routes.
import { bigIntToIp, ipToBigInt, parseCidr, type Family } from '../config/net.ts';

export interface Prefix {
  family: Family;
  /** Network address, canonical text. */
  addr: string;
  len: number;
}

export const prefixKey = (p: Prefix): string => `${p.addr}/${p.len}`;

/** The smallest set of prefixes covering exactly start..end; empty when the range is malformed. */
export function rangeToPrefixes(startAddr: string, endAddr: string): Prefix[] {
  const a = ipToBigInt(startAddr);
  const b = ipToBigInt(endAddr);
  if (!a || !b || a.family !== b.family || a.value > b.value) return [];
  const bits = a.family === 4 ? 32 : 128;
  const out: Prefix[] = [];
  let cur = a.value;
  while (cur <= b.value) {
    // The largest aligned block starting at cur that does not run past the end.
    let size = 0;
    while (size < bits && (cur & ((1n << BigInt(size + 1)) - 1n)) === 0n && cur + (1n << BigInt(size + 1)) - 1n <= b.value) size++;
    out.push({ family: a.family, addr: bigIntToIp(a.family, cur), len: bits - size });
    cur += 1n << BigInt(size);
  }
  return out;
}

/** Parses `net/len`; null when it is not one. */
export function parsePrefix(text: string): Prefix | null {
  const c = parseCidr(text);
  return c.ok ? { family: c.value.family, addr: bigIntToIp(c.value.family, c.value.network), len: c.value.prefix } : null;
}

/** Whether `outer` contains all of `inner`. */
export function prefixCovers(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || outer.len > inner.len) return false;
  const bits = outer.family === 4 ? 32 : 128;
  const o = ipToBigInt(outer.addr);
  const i = ipToBigInt(inner.addr);
  if (!o || !i) return false;
  const shift = BigInt(bits - outer.len);
  return o.value >> shift === i.value >> shift;
}
