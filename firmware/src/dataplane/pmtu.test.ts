// The worker's path-MTU code in C, called through the addon: TCP MSS clamping (RFC 1624 checksum update) and ICMP too big (RFC 1191, RFC 4443 §3.2).
import { describe, expect, test } from 'vitest';
import { loadNativeAddon } from './native-addon.ts';

const addon = loadNativeAddon();
const EINVAL = -22;
const EPERM = -1;

/** Ones' complement sum of 16-bit words (RFC 1071), folded, not inverted. */
function sum16(b: Uint8Array, start = 0): number {
  let s = start;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}
const be16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;
const be32 = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const put16 = (b: Uint8Array, o: number, v: number) => b.set([v >> 8, v & 0xff], o);

/** Sum of the IPv4/IPv6 pseudo-header for an upper-layer packet of `len` octets and protocol `proto`. */
function pseudo(pkt: Uint8Array, proto: number, len: number): number {
  const v6 = pkt[0]! >> 4 === 6;
  const addrs = v6 ? pkt.subarray(8, 40) : pkt.subarray(12, 20);
  return sum16(addrs) + proto + len;
}

/** Full recomputation: a correct upper-layer checksum sums to 0xffff with the pseudo-header. */
function l4ChecksumOk(pkt: Uint8Array): boolean {
  const v6 = pkt[0]! >> 4 === 6;
  const off = v6 ? 40 : (pkt[0]! & 0x0f) * 4;
  const proto = v6 ? pkt[6]! : pkt[9]!;
  const l4 = pkt.subarray(off);
  const start = proto === 1 ? 0 : pseudo(pkt, proto, l4.length);
  return sum16(l4, start) === 0xffff;
}

function setL4Checksum(pkt: Uint8Array, at: number): void {
  const v6 = pkt[0]! >> 4 === 6;
  const off = v6 ? 40 : (pkt[0]! & 0x0f) * 4;
  const proto = v6 ? pkt[6]! : pkt[9]!;
  put16(pkt, off + at, 0);
  const l4 = pkt.subarray(off);
  put16(pkt, off + at, ~sum16(l4, proto === 1 ? 0 : pseudo(pkt, proto, l4.length)) & 0xffff);
}

function ipv4(proto: number, payload: Uint8Array, opts: { df?: boolean; fragOffset?: number; src?: number[]; dst?: number[] } = {}): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  const frag = (opts.df ?? true ? 0x4000 : 0) | (opts.fragOffset ?? 0);
  p.set([0x45, 0, (p.length >> 8) & 0xff, p.length & 0xff, 0x12, 0x34, frag >> 8, frag & 0xff, 64, proto, 0, 0]);
  p.set(opts.src ?? [198, 51, 100, 2], 12);
  p.set(opts.dst ?? [203, 0, 113, 5], 16);
  put16(p, 10, ~sum16(p.subarray(0, 20)) & 0xffff);
  p.set(payload, 20);
  return p;
}

function ipv6(nextHeader: number, payload: Uint8Array, src = '20010db8000000000000000000000002', dst = '20010db8000100000000000000000005'): Uint8Array {
  const p = new Uint8Array(40 + payload.length);
  p.set([0x60, 0, 0, 0, payload.length >> 8, payload.length & 0xff, nextHeader, 64]);
  p.set(Buffer.from(src, 'hex'), 8);
  p.set(Buffer.from(dst, 'hex'), 24);
  p.set(payload, 40);
  return p;
}

/** A TCP header with the given flags and options (padded to 4 octets with EOL). */
function tcp(flags: number, options: number[], data = 0): Uint8Array {
  const optLen = Math.ceil(options.length / 4) * 4;
  const t = new Uint8Array(20 + optLen + data);
  t.set([0xc3, 0x50, 0x14, 0x51, 1, 2, 3, 4, 0, 0, 0, 0, ((20 + optLen) / 4) << 4, flags, 0xfa, 0xf0]);
  t.set(options, 20);
  for (let i = 0; i < data; i++) t[20 + optLen + i] = (i * 7) & 0xff;
  return t;
}

const SYN = 0x02;
const ACK = 0x10;
const mssOpt = (v: number) => [2, 4, v >> 8, v & 0xff];
const LINUX_SYN_OPTS = [...mssOpt(1460), 4, 2, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 1, 3, 3, 7]; // MSS, SACK-perm, TS, NOP, WS

function tcpPacket(v: 4 | 6, flags: number, options: number[], data = 0): Uint8Array {
  const p = v === 4 ? ipv4(6, tcp(flags, options, data)) : ipv6(6, tcp(flags, options, data));
  setL4Checksum(p, 16);
  return p;
}

function mssOf(pkt: Uint8Array): number | null {
  const off = pkt[0]! >> 4 === 6 ? 40 : 20;
  const doff = (pkt[off + 12]! >> 4) * 4;
  for (let i = off + 20; i < off + doff; ) {
    const k = pkt[i]!;
    if (k === 0) break;
    if (k === 1) {
      i++;
      continue;
    }
    if (k === 2) return be16(pkt, i + 2);
    i += pkt[i + 1]!;
  }
  return null;
}

describe('TCP MSS clamping', () => {
  test.each([4, 6] as const)('IPv%i SYN: MSS lowered, checksum still right, nothing else touched', (v) => {
    const pkt = tcpPacket(v, SYN, LINUX_SYN_OPTS, 0);
    expect(l4ChecksumOk(pkt)).toBe(true);
    const before = pkt.slice();
    expect(addon.tcpClampMss(pkt, 1360)).toBe(1);
    expect(mssOf(pkt)).toBe(1360);
    expect(l4ChecksumOk(pkt)).toBe(true);
    const changed = [...pkt.keys()].filter((i) => pkt[i] !== before[i]);
    const off = v === 6 ? 40 : 20;
    // only the MSS value and the TCP checksum
    expect(changed.every((i) => (i >= off + 22 && i <= off + 23) || (i >= off + 16 && i <= off + 17))).toBe(true);
  });

  test('SYN-ACK with the MSS at an odd offset (after one NOP) keeps a valid checksum', () => {
    const pkt = tcpPacket(4, SYN | ACK, [1, ...mssOpt(1460), 1, 1, 1]);
    expect(addon.tcpClampMss(pkt, 1200)).toBe(1);
    expect(mssOf(pkt)).toBe(1200);
    expect(l4ChecksumOk(pkt)).toBe(true);
  });

  test('random layouts and values agree with a full recomputation', () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    for (let i = 0; i < 300; i++) {
      const nops = Array.from({ length: rnd(4) }, () => 1);
      const orig = 600 + rnd(65000 - 600);
      const clamp = 536 + rnd(1500);
      const pkt = tcpPacket(rnd(2) ? 4 : 6, SYN | (rnd(2) ? ACK : 0), [...nops, ...mssOpt(orig), 4, 2], rnd(40));
      const rc = addon.tcpClampMss(pkt, clamp);
      expect(rc).toBe(orig > clamp ? 1 : 0);
      expect(mssOf(pkt)).toBe(Math.min(orig, clamp));
      expect(l4ChecksumOk(pkt)).toBe(true);
    }
  });

  test('left alone: small MSS, no MSS option, no SYN, not TCP, later fragments', () => {
    const small = tcpPacket(4, SYN, mssOpt(1200));
    expect(addon.tcpClampMss(small, 1360)).toBe(0);
    expect(mssOf(small)).toBe(1200);
    expect(addon.tcpClampMss(tcpPacket(4, SYN, [4, 2, 1, 1]), 1360)).toBe(0);
    const ack = tcpPacket(4, ACK, mssOpt(1460), 100);
    expect(addon.tcpClampMss(ack, 1360)).toBe(0);
    expect(mssOf(ack)).toBe(1460);
    expect(addon.tcpClampMss(ipv4(17, new Uint8Array(30)), 1360)).toBe(0);
    const frag = ipv4(6, tcp(SYN, mssOpt(1460)), { fragOffset: 100 });
    expect(addon.tcpClampMss(frag, 1360)).toBe(0);
    expect(mssOf(frag)).toBe(1460);
  });

  test('truncated headers are reported, not read past', () => {
    const pkt = tcpPacket(4, SYN, LINUX_SYN_OPTS);
    expect(addon.tcpClampMss(pkt.subarray(0, 30), 1360)).toBe(EINVAL); // TCP header cut
    expect(addon.tcpClampMss(pkt.subarray(0, 44), 1360)).toBe(EINVAL); // options cut (data offset says 40)
    expect(addon.tcpClampMss(pkt.subarray(0, 10), 1360)).toBe(EINVAL);
    // A malformed option length ends the scan without a rewrite.
    expect(addon.tcpClampMss(tcpPacket(4, SYN, [8, 40, 0, 0, ...mssOpt(1460)]), 1360)).toBe(0);
  });
});

describe('ICMP too big', () => {
  const udp = (n: number) => {
    const u = new Uint8Array(n);
    u.set([0x30, 0x39, 0x13, 0x89, (n >> 8) & 0xff, n & 0xff]);
    return u;
  };

  test('IPv4: Fragmentation Needed from the original destination, next-hop MTU, 576 octets at most', () => {
    const pkt = ipv4(17, udp(1380));
    const r = addon.icmpTooBig(pkt, 1338);
    if (typeof r === 'number') throw new Error(`icmpTooBig: ${r}`);
    expect(r.length).toBe(576);
    expect(r[0]).toBe(0x45);
    expect(be16(r, 2)).toBe(576);
    expect(r[9]).toBe(1);
    expect(sum16(r.subarray(0, 20))).toBe(0xffff);
    expect([...r.subarray(12, 16)]).toEqual([203, 0, 113, 5]);
    expect([...r.subarray(16, 20)]).toEqual([198, 51, 100, 2]);
    expect([r[20], r[21]]).toEqual([3, 4]);
    expect(be16(r, 24)).toBe(0);
    expect(be16(r, 26)).toBe(1338);
    expect(l4ChecksumOk(r)).toBe(true);
    expect([...r.subarray(28)]).toEqual([...pkt.subarray(0, 548)]);
  });

  test('IPv4: a short packet is quoted whole; an echo request draws the error', () => {
    const echo = new Uint8Array(64);
    echo[0] = 8;
    const pkt = ipv4(1, echo);
    const r = addon.icmpTooBig(pkt, 1000);
    if (typeof r === 'number') throw new Error(`icmpTooBig: ${r}`);
    expect(r.length).toBe(28 + pkt.length);
    expect([...r.subarray(28)]).toEqual([...pkt]);
    expect(l4ChecksumOk(r)).toBe(true);
  });

  test('IPv6: Packet Too Big, pseudo-header checksum, MTU at least 1280, 1280 octets at most', () => {
    const pkt = ipv6(17, udp(1400));
    const r = addon.icmpTooBig(pkt, 1300);
    if (typeof r === 'number') throw new Error(`icmpTooBig: ${r}`);
    expect(r.length).toBe(1280);
    expect(r[0]! >> 4).toBe(6);
    expect(be16(r, 4)).toBe(1240);
    expect(r[6]).toBe(58);
    expect(Buffer.from(r.subarray(8, 24)).toString('hex')).toBe('20010db8000100000000000000000005');
    expect(Buffer.from(r.subarray(24, 40)).toString('hex')).toBe('20010db8000000000000000000000002');
    expect([r[40], r[41]]).toEqual([2, 0]);
    expect(be32(r, 44)).toBe(1300);
    expect(l4ChecksumOk(r)).toBe(true);
    expect([...r.subarray(48)]).toEqual([...pkt.subarray(0, 1232)]);
    const low = addon.icmpTooBig(pkt, 1100);
    expect(typeof low !== 'number' && be32(low, 44)).toBe(1280);
  });

  test('no error about errors, later fragments, multicast or unspecified sources (RFC 1122, RFC 4443 §2.4)', () => {
    const unreach = new Uint8Array(36);
    unreach[0] = 3;
    expect(addon.icmpTooBig(ipv4(1, unreach), 1000)).toBe(EPERM);
    expect(addon.icmpTooBig(ipv4(17, udp(100), { fragOffset: 10 }), 1000)).toBe(EPERM);
    expect(addon.icmpTooBig(ipv4(17, udp(100), { src: [224, 0, 0, 5] }), 1000)).toBe(EPERM);
    expect(addon.icmpTooBig(ipv4(17, udp(100), { src: [0, 0, 0, 0] }), 1000)).toBe(EPERM);
    expect(addon.icmpTooBig(ipv4(17, udp(100), { dst: [255, 255, 255, 255] }), 1000)).toBe(EPERM);
    const ptb = new Uint8Array(48);
    ptb[0] = 2;
    expect(addon.icmpTooBig(ipv6(58, ptb), 1280)).toBe(EPERM);
    expect(addon.icmpTooBig(ipv6(17, udp(100), 'ff020000000000000000000000000001'), 1280)).toBe(EPERM);
    expect(addon.icmpTooBig(ipv6(17, udp(100), '00000000000000000000000000000000'), 1280)).toBe(EPERM);
    expect(addon.icmpTooBig(new Uint8Array([0x45, 0, 0]), 1000)).toBe(EINVAL);
    expect(addon.icmpTooBig(new Uint8Array(30).fill(0x60), 1280)).toBe(EINVAL);
  });
});
