// Traffic selectors (RFC 7296 §2.9, §3.13.1): config strings, narrowing by intersection, subset checks.
import { TsType } from './constants.ts';
import type { TrafficSelector } from './codec/types.ts';
import type { TsRange } from '../dataplane/types.ts';
import { bigIntToIp, formatIp, ipToBigInt, parseCidr, parseIp } from './ip.ts';
import { sameBytes } from './bytes.ts';

/** A config selector: a concrete range, or `dynamic` (filled in per SA with a virtual or outer address). */
export type TsSpec =
  | { dynamic: false; ts: TrafficSelector }
  | { dynamic: true; ipProtocol: number; startPort: number; endPort: number };

const PROTOCOLS: Record<string, number> = { any: 0, icmp: 1, tcp: 6, udp: 17, 'ipv6-icmp': 58, icmpv6: 58, sctp: 132 };

function parseProto(s: string): number | null {
  if (/^\d{1,3}$/.test(s)) {
    const v = Number(s);
    return v <= 255 ? v : null;
  }
  return PROTOCOLS[s.toLowerCase()] ?? null;
}

function parsePorts(s: string): [number, number] | null {
  if (s === '' || s === 'any' || s === '%any') return [0, 65535];
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s);
  if (!m) return null;
  const a = Number(m[1]);
  const b = m[2] !== undefined ? Number(m[2]) : a;
  if (a > 65535 || b > 65535 || a > b) return null;
  return [a, b];
}

/**
 * Parse `198.51.100.0/24`, `10.0.0.1`, `10.0.0.1-10.0.0.9`, `::/0`, `dynamic`, each optionally followed by
 * `/proto[/port]` or strongSwan's `[proto/port]` (ports `443` or `1024-2047`).
 */
export function parseTsSpec(spec: string): { ok: true; value: TsSpec } | { ok: false; error: string } {
  let text = spec.trim();
  let protoPart: string | undefined;
  let portPart: string | undefined;
  const bracket = /^(.*)\[([^\]/]*)(?:\/([^\]]*))?\]$/.exec(text);
  if (bracket) {
    text = bracket[1] ?? '';
    protoPart = bracket[2];
    portPart = bracket[3];
  } else {
    const parts = text.split('/');
    // addr[/prefix][/proto[/port]]: the prefix is numeric, a protocol name is not (a numeric proto needs a prefix).
    const base = parts[1] !== undefined && /^\d+$/.test(parts[1]) ? 2 : 1;
    text = parts.slice(0, base).join('/');
    protoPart = parts[base];
    portPart = parts[base + 1];
    if (parts.length > base + 2) return { ok: false, error: `traffic selector ${spec}: too many '/' parts` };
  }
  const ipProtocol = protoPart === undefined || protoPart === '' ? 0 : parseProto(protoPart);
  if (ipProtocol === null) return { ok: false, error: `traffic selector ${spec}: unknown protocol ${protoPart}` };
  const ports = parsePorts(portPart ?? '');
  if (!ports) return { ok: false, error: `traffic selector ${spec}: bad port ${portPart}` };
  const [startPort, endPort] = ports;
  if (text === 'dynamic') return { ok: true, value: { dynamic: true, ipProtocol, startPort, endPort } };
  let start: Uint8Array | null;
  let end: Uint8Array | null;
  const dash = text.indexOf('-');
  if (dash >= 0) {
    start = parseIp(text.slice(0, dash));
    end = parseIp(text.slice(dash + 1));
    if (!start || !end || start.length !== end.length || compare(start, end) > 0) {
      return { ok: false, error: `traffic selector ${spec}: bad address range` };
    }
  } else {
    const cidr = parseCidr(text);
    if (!cidr) return { ok: false, error: `traffic selector ${spec}: bad address or prefix` };
    start = cidr.start;
    end = cidr.end;
  }
  const tsType = start.length === 4 ? TsType.TS_IPV4_ADDR_RANGE : TsType.TS_IPV6_ADDR_RANGE;
  return { ok: true, value: { dynamic: false, ts: { tsType, ipProtocol, startPort, endPort, startAddr: start, endAddr: end } } };
}

/** Parsed config specs by text: the same few strings are resolved for every CHILD_SA. Bounded; entries are never handed out. */
const tsSpecCache = new Map<string, ReturnType<typeof parseTsSpec>>();
const TS_SPEC_CACHE_MAX = 1024;

function cachedTsSpec(spec: string): ReturnType<typeof parseTsSpec> {
  let p = tsSpecCache.get(spec);
  if (!p) {
    p = parseTsSpec(spec);
    if (tsSpecCache.size >= TS_SPEC_CACHE_MAX) tsSpecCache.clear();
    tsSpecCache.set(spec, p);
  }
  return p;
}

/** Config strings → concrete selectors; `dynamic` becomes one host selector per given address. Bad specs are skipped (config validation reports them). */
export function resolveTs(specs: readonly string[], dynamicAddrs: readonly Uint8Array[]): TrafficSelector[] {
  const out: TrafficSelector[] = [];
  for (const s of specs) {
    const p = cachedTsSpec(s);
    if (!p.ok) continue;
    if (!p.value.dynamic) out.push({ ...p.value.ts, startAddr: p.value.ts.startAddr.slice(), endAddr: p.value.ts.endAddr.slice() });
    else for (const a of dynamicAddrs) out.push({ ...hostTs(a), ipProtocol: p.value.ipProtocol, startPort: p.value.startPort, endPort: p.value.endPort });
  }
  return out;
}

export function hostTs(addr: Uint8Array): TrafficSelector {
  return {
    tsType: addr.length === 4 ? TsType.TS_IPV4_ADDR_RANGE : TsType.TS_IPV6_ADDR_RANGE,
    ipProtocol: 0,
    startPort: 0,
    endPort: 65535,
    startAddr: addr,
    endAddr: addr,
  };
}

/** 0.0.0.0/0 or ::/0, all protocols and ports. */
export function anyTs(v6: boolean): TrafficSelector {
  const n = v6 ? 16 : 4;
  return {
    tsType: v6 ? TsType.TS_IPV6_ADDR_RANGE : TsType.TS_IPV4_ADDR_RANGE,
    ipProtocol: 0,
    startPort: 0,
    endPort: 65535,
    startAddr: new Uint8Array(n),
    endAddr: new Uint8Array(n).fill(0xff),
  };
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function isIpTs(t: TrafficSelector): boolean {
  const n = t.tsType === TsType.TS_IPV4_ADDR_RANGE ? 4 : t.tsType === TsType.TS_IPV6_ADDR_RANGE ? 16 : 0;
  return n > 0 && t.startAddr.length === n && t.endAddr.length === n;
}

/** The common part of two selectors, or null (different families, protocols, disjoint ranges or ports). */
export function intersectTs(a: TrafficSelector, b: TrafficSelector): TrafficSelector | null {
  if (!isIpTs(a) || !isIpTs(b) || a.tsType !== b.tsType) return null;
  if (a.ipProtocol !== 0 && b.ipProtocol !== 0 && a.ipProtocol !== b.ipProtocol) return null;
  const startAddr = compare(a.startAddr, b.startAddr) >= 0 ? a.startAddr : b.startAddr;
  const endAddr = compare(a.endAddr, b.endAddr) <= 0 ? a.endAddr : b.endAddr;
  if (compare(startAddr, endAddr) > 0) return null;
  const startPort = Math.max(a.startPort, b.startPort);
  const endPort = Math.min(a.endPort, b.endPort);
  if (startPort > endPort) return null;
  return { tsType: a.tsType, ipProtocol: a.ipProtocol || b.ipProtocol, startPort, endPort, startAddr, endAddr };
}

/** §2.9 narrowing: every non-empty intersection of what the peer proposed with what we allow, without duplicates. */
export function narrowTs(proposed: readonly TrafficSelector[], allowed: readonly TrafficSelector[]): TrafficSelector[] {
  const out: TrafficSelector[] = [];
  for (const p of proposed) {
    for (const a of allowed) {
      const x = intersectTs(p, a);
      if (x && !out.some((o) => sameTs(o, x))) out.push(x);
    }
  }
  return out;
}

export function sameTs(a: TrafficSelector, b: TrafficSelector): boolean {
  return (
    a.tsType === b.tsType &&
    a.ipProtocol === b.ipProtocol &&
    a.startPort === b.startPort &&
    a.endPort === b.endPort &&
    sameBytes(a.startAddr, b.startAddr) &&
    sameBytes(a.endAddr, b.endAddr)
  );
}

/** True when `inner` lies completely inside `outer`. */
export function tsWithin(inner: TrafficSelector, outer: TrafficSelector): boolean {
  if (!isIpTs(inner) || !isIpTs(outer) || inner.tsType !== outer.tsType) return false;
  if (outer.ipProtocol !== 0 && inner.ipProtocol !== outer.ipProtocol) return false;
  return (
    compare(inner.startAddr, outer.startAddr) >= 0 &&
    compare(inner.endAddr, outer.endAddr) <= 0 &&
    compare(inner.startAddr, inner.endAddr) <= 0 &&
    inner.startPort >= outer.startPort &&
    inner.endPort <= outer.endPort &&
    inner.startPort <= inner.endPort
  );
}

/** Initiator check of a responder's answer: every returned selector must be a subset of one we proposed. */
export function allWithin(returned: readonly TrafficSelector[], proposed: readonly TrafficSelector[]): boolean {
  return returned.length > 0 && returned.every((r) => proposed.some((p) => tsWithin(r, p)));
}

function prefixOf(t: TrafficSelector): number | null {
  const bits = t.startAddr.length * 8;
  const s = ipToBigInt(t.startAddr);
  const e = ipToBigInt(t.endAddr);
  const size = e - s + 1n;
  if (size <= 0n || (size & (size - 1n)) !== 0n || (s & (size - 1n)) !== 0n) return null;
  return bits - (size.toString(2).length - 1);
}

/** `198.51.100.0/24`, `10.0.0.1-10.0.0.9`, with `[tcp/443]` when narrowed below all protocols/ports. */
export function tsToString(t: TrafficSelector): string {
  if (!isIpTs(t)) return `ts-type-${t.tsType}`;
  const prefix = prefixOf(t);
  let s = prefix !== null ? `${formatIp(t.startAddr)}/${prefix}` : `${formatIp(t.startAddr)}-${formatIp(t.endAddr)}`;
  const allPorts = t.startPort === 0 && t.endPort === 65535;
  if (t.ipProtocol !== 0 || !allPorts) {
    const ports = allPorts ? '' : t.startPort === t.endPort ? `/${t.startPort}` : `/${t.startPort}-${t.endPort}`;
    s += `[${t.ipProtocol}${ports}]`;
  }
  return s;
}

export function tsToRange(t: TrafficSelector): TsRange {
  return {
    startAddr: formatIp(t.startAddr),
    endAddr: formatIp(t.endAddr),
    ipProtocol: t.ipProtocol,
    startPort: t.startPort,
    endPort: t.endPort,
  };
}

/** Helper for tests and pools: the n-th address after `base`. */
export function offsetAddr(base: Uint8Array, n: bigint): Uint8Array {
  return bigIntToIp(ipToBigInt(base) + n, base.length as 4 | 16);
}
