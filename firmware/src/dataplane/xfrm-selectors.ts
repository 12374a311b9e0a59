// IKEv2 traffic-selector ranges (RFC 7296 §3.13.1) to XFRM prefix/port-mask selectors (RFC 4301 §4.4.1.1) and back.
//
// The kernel SPD matches an address prefix and a port under a mask, not arbitrary ranges. A range is split
// into the exact set of aligned blocks that covers it (never more traffic than negotiated), and one policy
// pair is installed per combination. ICMP carries type and code in the ports (type in the high octet); the
// kernel wants the type in sport and the code in dport.
import { bigIntToIp, formatIp, ipToBigInt, parseIp } from '../ike/ip.ts';
import type { PolicyParams, TsRange } from './types.ts';
import type { XfrmPolicySpec, XfrmSelector } from './xfrm-native.ts';

const ICMP = 1;
const ICMPV6 = 58;

/** More kernel entries than this for one PolicyParams is a configuration mistake, not something to install. */
export const MAX_SELECTORS_PER_POLICY = 64;

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

export interface Prefix {
  addr: string;
  plen: number;
}

export interface PortBlock {
  port: number;
  mask: number;
}

/** The selector part of a kernel policy, without direction-independent extras. */
export type KernelSelector = Pick<XfrmPolicySpec, 'src' | 'srcPlen' | 'dst' | 'dstPlen' | 'proto' | 'sport' | 'sportMask' | 'dport' | 'dportMask'>;

/** Aligned blocks covering exactly [start, end] of a `bits`-wide space, largest first (RFC 4632 §3.1 style). */
function blocks(start: bigint, end: bigint, bits: number): { base: bigint; plen: number }[] {
  const out: { base: bigint; plen: number }[] = [];
  let cur = start;
  while (cur <= end) {
    let size = 0;
    // Grow while the block stays aligned at cur and inside the range.
    while (size < bits && (cur & ((1n << BigInt(size + 1)) - 1n)) === 0n && cur + (1n << BigInt(size + 1)) - 1n <= end) size++;
    out.push({ base: cur, plen: bits - size });
    cur += 1n << BigInt(size);
  }
  return out;
}

/** The exact set of prefixes covering startAddr..endAddr. */
export function rangeToPrefixes(startAddr: string, endAddr: string): Result<Prefix[]> {
  const s = parseIp(startAddr);
  const e = parseIp(endAddr);
  if (!s || !e || s.length !== e.length) return { ok: false, error: `bad address range ${startAddr}-${endAddr}` };
  const a = ipToBigInt(s);
  const b = ipToBigInt(e);
  if (a > b) return { ok: false, error: `address range ${startAddr}-${endAddr} is empty` };
  const len = s.length as 4 | 16;
  return { ok: true, value: blocks(a, b, len * 8).map((x) => ({ addr: formatIp(bigIntToIp(x.base, len)), plen: x.plen })) };
}

/** The exact set of (port, mask) pairs covering start..end; the full range is one pair with mask 0. */
export function portRangeToMasks(start: number, end: number): PortBlock[] {
  if (start === 0 && end === 65535) return [{ port: 0, mask: 0 }];
  return blocks(BigInt(start), BigInt(end), 16).map((x) => ({ port: Number(x.base), mask: (0xffff << (16 - x.plen)) & 0xffff }));
}

function isFull(t: TsRange): boolean {
  return t.startPort === 0 && t.endPort === 65535;
}

/** ICMP type/code range (RFC 7296 §3.13.1 encoding) -> (type block, code block) pairs for sport / dport. */
function icmpBlocks(t: TsRange): Result<{ s: PortBlock; d: PortBlock }[]> {
  if (isFull(t)) return { ok: true, value: [{ s: { port: 0, mask: 0 }, d: { port: 0, mask: 0 } }] };
  const t0 = t.startPort >> 8;
  const t1 = t.endPort >> 8;
  const c0 = t.startPort & 0xff;
  const c1 = t.endPort & 0xff;
  const asMask = (b: { base: bigint; plen: number }): PortBlock => ({ port: Number(b.base), mask: b.plen === 0 ? 0 : (0xffff << (8 - b.plen)) & 0xffff });
  if (t0 === t1) {
    const codes = c0 === 0 && c1 === 255 ? [{ port: 0, mask: 0 }] : blocks(BigInt(c0), BigInt(c1), 8).map(asMask);
    return { ok: true, value: codes.map((d) => ({ s: { port: t0, mask: 0xffff }, d })) };
  }
  if (c0 !== 0 || c1 !== 255) return { ok: false, error: `ICMP selector ${t.startPort}-${t.endPort} spans several types with partial codes; XFRM cannot express it exactly` };
  return { ok: true, value: blocks(BigInt(t0), BigInt(t1), 8).map((b) => ({ s: asMask(b), d: { port: 0, mask: 0 } })) };
}

/** The kernel selectors for one policy: source = local for `out`, remote for `in`/`fwd`. */
export function policySelectors(p: PolicyParams, max = MAX_SELECTORS_PER_POLICY): Result<KernelSelector[]> {
  const [src, dst] = p.direction === 'out' ? [p.localTs, p.remoteTs] : [p.remoteTs, p.localTs];
  const sp = rangeToPrefixes(src.startAddr, src.endAddr);
  if (!sp.ok) return sp;
  const dp = rangeToPrefixes(dst.startAddr, dst.endAddr);
  if (!dp.ok) return dp;
  if (parseIp(src.startAddr)?.length !== parseIp(dst.startAddr)?.length) return { ok: false, error: 'selectors of different address families' };
  if (src.ipProtocol && dst.ipProtocol && src.ipProtocol !== dst.ipProtocol) {
    return { ok: false, error: `selectors for protocols ${src.ipProtocol} and ${dst.ipProtocol} match nothing` };
  }
  const proto = src.ipProtocol || dst.ipProtocol;
  let ports: { s: PortBlock; d: PortBlock }[];
  if (proto === ICMP || proto === ICMPV6) {
    // Type and code live in one selector; take the constrained side (the source when both are).
    const r = icmpBlocks(!isFull(src) || isFull(dst) ? src : dst);
    if (!r.ok) return r;
    ports = r.value;
  } else if (proto === 0) {
    if (!isFull(src) || !isFull(dst)) return { ok: false, error: 'port ranges need a protocol (RFC 7296 §3.13.1)' };
    ports = [{ s: { port: 0, mask: 0 }, d: { port: 0, mask: 0 } }];
  } else {
    ports = [];
    for (const s of portRangeToMasks(src.startPort, src.endPort)) for (const d of portRangeToMasks(dst.startPort, dst.endPort)) ports.push({ s, d });
  }
  const total = sp.value.length * dp.value.length * ports.length;
  if (total > max) return { ok: false, error: `selectors need ${total} kernel policies (limit ${max}); use CIDR-aligned ranges` };
  const out: KernelSelector[] = [];
  for (const a of sp.value) {
    for (const b of dp.value) {
      for (const pp of ports) {
        out.push({ src: a.addr, srcPlen: a.plen, dst: b.addr, dstPlen: b.plen, proto, sport: pp.s.port, sportMask: pp.s.mask, dport: pp.d.port, dportMask: pp.d.mask });
      }
    }
  }
  return { ok: true, value: out };
}

/**
 * SPD priority (lower wins): narrower selectors first, then those with ports, then with a protocol, in the
 * spirit of strongSwan's kernel_netlink so overlapping CHILD_SAs resolve to the most specific one.
 */
export function policyPriority(sel: KernelSelector, base: number): number {
  const ports = (sel.sportMask ?? 0) !== 0 || (sel.dportMask ?? 0) !== 0;
  return ((base - sel.srcPlen - sel.dstPlen) << 2) + (ports ? 0 : 2) + (sel.proto ? 0 : 1);
}

/** A stable key of the kernel SPD entry (direction + selector), which the kernel keeps unique. */
export function kernelPolicyKey(dir: string, s: KernelSelector): string {
  return `${dir}|${s.src}/${s.srcPlen}|${s.dst}/${s.dstPlen}|${s.proto ?? 0}|${s.sport ?? 0}/${s.sportMask ?? 0}|${s.dport ?? 0}/${s.dportMask ?? 0}`;
}

function prefixRange(addr: string, plen: number): { startAddr: string; endAddr: string } {
  const b = parseIp(addr);
  if (!b) return { startAddr: addr, endAddr: addr };
  const bits = BigInt(b.length * 8);
  const hostMask = (1n << (bits - BigInt(plen))) - 1n;
  const v = ipToBigInt(b) & ~hostMask;
  const len = b.length as 4 | 16;
  return { startAddr: formatIp(bigIntToIp(v, len)), endAddr: formatIp(bigIntToIp(v | hostMask, len)) };
}

function maskRange(port: number, mask: number): { startPort: number; endPort: number } {
  return { startPort: port & mask, endPort: (port | ~mask) & 0xffff };
}

/** A kernel selector (e.g. from ACQUIRE) as the two ranges it covers: source side and destination side. */
export function selectorToRanges(sel: XfrmSelector): { src: TsRange; dst: TsRange } {
  const any = { startPort: 0, endPort: 65535 };
  let sPorts = maskRange(sel.sport, sel.sportMask);
  let dPorts = maskRange(sel.dport, sel.dportMask);
  if (sel.proto === ICMP || sel.proto === ICMPV6) {
    // Back to the RFC 7296 encoding on the source side: type in the high octet, code in the low one.
    const tm = sel.sportMask & 0xff;
    const cm = sel.dportMask & 0xff;
    sPorts = { startPort: ((sel.sport & tm) << 8) | (sel.dport & cm), endPort: (((sel.sport | ~tm) & 0xff) << 8) | ((sel.dport | ~cm) & 0xff) };
    dPorts = any;
  }
  return {
    src: { ...prefixRange(sel.src, sel.srcPlen), ipProtocol: sel.proto, ...sPorts },
    dst: { ...prefixRange(sel.dst, sel.dstPlen), ipProtocol: sel.proto, ...dPorts },
  };
}
