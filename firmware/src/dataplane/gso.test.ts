// The worker's TUN offload code in C (op_gso.c), called through the addon: TSO segmentation and TCP coalescing with virtio-net headers, every checksum recomputed here (RFC 1071, RFC 9293).
import { describe, expect, test } from 'vitest';
import { loadNativeAddon } from './native-addon.ts';

const addon = loadNativeAddon();

/** Ones' complement sum of 16-bit words (RFC 1071), folded, not inverted. */
function sum16(b: Uint8Array, start = 0): number {
  let s = start;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}
const be16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;
const be32 = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const le16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);
const put16 = (b: Uint8Array, o: number, v: number) => b.set([(v >> 8) & 0xff, v & 0xff], o);
const put32 = (b: Uint8Array, o: number, v: number) => b.set([(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff], o);

const ipHeaderLen = (p: Uint8Array) => (p[0]! >> 4 === 6 ? 40 : (p[0]! & 0x0f) * 4);
function pseudo(p: Uint8Array, l4len: number): number {
  const v6 = p[0]! >> 4 === 6;
  return sum16(v6 ? p.subarray(8, 40) : p.subarray(12, 20)) + 6 + l4len;
}
function tcpChecksumOk(p: Uint8Array): boolean {
  const l4 = p.subarray(ipHeaderLen(p));
  return sum16(l4, pseudo(p, l4.length)) === 0xffff;
}
function ipv4ChecksumOk(p: Uint8Array): boolean {
  return sum16(p.subarray(0, 20)) === 0xffff;
}
function setTcpChecksum(p: Uint8Array): void {
  const off = ipHeaderLen(p);
  put16(p, off + 16, 0);
  const l4 = p.subarray(off);
  put16(p, off + 16, ~sum16(l4, pseudo(p, l4.length)) & 0xffff);
}

interface TcpOpts {
  v6?: boolean;
  seq?: number;
  ack?: number;
  flags?: number;
  id?: number;
  df?: boolean;
  ttl?: number;
  window?: number;
  sport?: number;
  tsval?: number;
}

/** An IPv4 (no options) or IPv6 TCP packet with a timestamp option (12 octets), checksums correct. */
function tcp(payload: Uint8Array, o: TcpOpts = {}): Uint8Array {
  const iph = o.v6 ? 40 : 20;
  const th = 32;
  const p = new Uint8Array(iph + th + payload.length);
  if (o.v6) {
    p.set([0x60, 0, 0, 0]);
    put16(p, 4, th + payload.length);
    p[6] = 6;
    p[7] = o.ttl ?? 64;
    p.set(Buffer.from('20010db8000000000000000000000002', 'hex'), 8);
    p.set(Buffer.from('20010db8000100000000000000000005', 'hex'), 24);
  } else {
    p.set([0x45, 0]);
    put16(p, 2, p.length);
    put16(p, 4, o.id ?? 0x1000);
    put16(p, 6, o.df === false ? 0 : 0x4000);
    p[8] = o.ttl ?? 64;
    p[9] = 6;
    p.set([198, 51, 100, 2, 203, 0, 113, 5], 12);
    put16(p, 10, ~sum16(p.subarray(0, 20)) & 0xffff);
  }
  put16(p, iph, o.sport ?? 40000);
  put16(p, iph + 2, 5201);
  put32(p, iph + 4, o.seq ?? 1000);
  put32(p, iph + 8, o.ack ?? 77);
  p[iph + 12] = (th / 4) << 4;
  p[iph + 13] = o.flags ?? 0x10;
  put16(p, iph + 14, o.window ?? 501);
  p.set([1, 1, 8, 10], iph + 20);
  put32(p, iph + 24, o.tsval ?? 123456);
  put32(p, iph + 28, 654321);
  p.set(payload, iph + th);
  setTcpChecksum(p);
  return p;
}

/** What the kernel hands a TSO-enabled TUN reader: virtio-net header, one packet, TCP checksum left partial. */
function superPacket(payloadLen: number, mss: number, o: TcpOpts = {}): { read: Uint8Array; payload: Uint8Array } {
  const payload = new Uint8Array(payloadLen).map((_, i) => (i * 7 + 3) & 0xff);
  const p = tcp(payload, o);
  const iph = ipHeaderLen(p);
  // CHECKSUM_PARTIAL: the field holds the pseudo-header sum (not inverted) and the stack leaves the rest.
  put16(p, iph + 16, sum16(new Uint8Array(0), pseudo(p, p.length - iph)));
  const hdr = new Uint8Array(10);
  hdr[0] = 1; // NEEDS_CSUM
  hdr[1] = o.v6 ? 4 : 1; // TCPV6 / TCPV4
  hdr.set([(iph + 32) & 0xff, 0, mss & 0xff, mss >> 8, iph, 0, 16, 0], 2);
  const read = new Uint8Array(10 + p.length);
  read.set(hdr);
  read.set(p, 10);
  return { read, payload };
}

function segments(read: Uint8Array): Uint8Array[] {
  const r = addon.tsoSegment(read);
  if (typeof r === 'number') throw new Error(addon.errnoName(r));
  return r;
}

describe('TSO: a super-packet from the TUN device becomes MSS-sized segments', () => {
  for (const v6 of [false, true]) {
    test(`IPv${v6 ? 6 : 4}: lengths, ${v6 ? '' : 'IDs, IP checksums, '}sequence numbers, flags and TCP checksums per segment; payload intact`, () => {
      const { read, payload } = superPacket(10_000, 1388, { v6, flags: 0x10 | 0x08 | 0x80 | 0x01, seq: 0xffff_f000 }); // ACK PSH CWR FIN, seq wraps
      const segs = segments(read);
      expect(segs).toHaveLength(Math.ceil(10_000 / 1388));
      const iph = v6 ? 40 : 20;
      const got: number[] = [];
      segs.forEach((s, i) => {
        const last = i === segs.length - 1;
        const len = last ? 10_000 - 1388 * i : 1388;
        expect(s.length).toBe(iph + 32 + len);
        if (v6) expect(be16(s, 4)).toBe(32 + len);
        else {
          expect(be16(s, 2)).toBe(s.length);
          expect(be16(s, 4)).toBe(0x1000 + i);
          expect(ipv4ChecksumOk(s)).toBe(true);
        }
        expect(be32(s, iph + 4)).toBe((0xffff_f000 + 1388 * i) >>> 0);
        expect(s[iph + 13]! & 0x80, 'CWR on the first only').toBe(i === 0 ? 0x80 : 0);
        expect(s[iph + 13]! & 0x09, 'FIN and PSH on the last only').toBe(last ? 0x09 : 0);
        expect(s[iph + 13]! & 0x10).toBe(0x10);
        expect(tcpChecksumOk(s), `segment ${i}`).toBe(true);
        got.push(...s.subarray(iph + 32));
      });
      expect(Buffer.from(got).equals(Buffer.from(payload))).toBe(true);
    });
  }

  test('IPv6 with a destination options header: segmented behind it; a routing header is refused', () => {
    const payload = new Uint8Array(5000).map((_, i) => i & 0xff);
    const plain = tcp(payload, { v6: true });
    const p = new Uint8Array(plain.length + 8);
    p.set(plain.subarray(0, 40));
    p[6] = 60; // Destination Options
    put16(p, 4, be16(plain, 4) + 8);
    p.set([6, 0, 1, 4, 0, 0, 0, 0], 40); // next header TCP, 8 octets, PadN
    p.set(plain.subarray(40), 48);
    // The TCP length in the pseudo-header does not count extension headers: the partial sum stays as it was.
    put16(p, 48 + 16, sum16(new Uint8Array(0), pseudo(plain, plain.length - 40)));
    const read = new Uint8Array(10 + p.length);
    read.set([1, 4, 80, 0, 0x58, 0x05, 48, 0, 16, 0]); // NEEDS_CSUM, TCPV6, hdr_len 80, gso_size 1368, csum at 48+16
    read.set(p, 10);
    const segs = segments(read);
    expect(segs).toHaveLength(Math.ceil(5000 / 1368));
    for (const s of segs) {
      expect(s[6]).toBe(60);
      expect(be16(s, 4)).toBe(s.length - 40);
      // Check the TCP checksum over the upper layer only.
      const l4 = s.subarray(48);
      expect(sum16(l4, sum16(s.subarray(8, 40)) + 6 + l4.length)).toBe(0xffff);
    }
    const routing = read.slice();
    routing[10 + 6] = 43;
    expect(addon.tsoSegment(routing)).toBe(-93);
  });

  test('a partial checksum without GSO is finished (UDP here; 0 goes out as 0xffff)', () => {
    const udp = new Uint8Array(20 + 8 + 5);
    udp.set([0x45, 0, 0, udp.length, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 51, 100, 2, 203, 0, 113, 5]);
    put16(udp, 10, ~sum16(udp.subarray(0, 20)) & 0xffff);
    udp.set([0x13, 0x88, 0x13, 0x89, 0, 13, 0, 0, 1, 2, 3, 4, 5], 20);
    put16(udp, 26, sum16(new Uint8Array(0), sum16(udp.subarray(12, 20)) + 17 + 13));
    const read = new Uint8Array(10 + udp.length);
    read.set([1, 0, 0, 0, 0, 0, 20, 0, 6, 0]);
    read.set(udp, 10);
    const [out] = segments(read);
    const l4 = out!.subarray(20);
    expect(sum16(l4, sum16(out!.subarray(12, 20)) + 17 + l4.length)).toBe(0xffff);
    expect(be16(out!, 26)).not.toBe(0);
  });

  test('malformed or unsupported super-packets are refused', () => {
    const { read } = superPacket(3000, 1000);
    const noMss = read.slice();
    noMss[4] = noMss[5] = 0;
    expect(addon.tsoSegment(noMss)).toBe(-22); // EINVAL
    const udpGso = read.slice();
    udpGso[10 + 9] = 17;
    expect(addon.tsoSegment(udpGso)).toBe(-93); // EPROTONOSUPPORT
    expect(addon.tsoSegment(read.subarray(0, 40))).toBe(-22);
    const wrongType = read.slice();
    wrongType[1] = 4; // says TCPV6 for an IPv4 packet
    expect(addon.tsoSegment(wrongType)).toBe(-93);
  });
});

/** Parsed virtio-net header of a TUN write. */
function vnet(w: Uint8Array) {
  return { flags: w[0]!, gsoType: w[1]!, hdrLen: le16(w, 2), gsoSize: le16(w, 4), csumStart: le16(w, 6), csumOffset: le16(w, 8), pkt: w.subarray(10) };
}

/** A coalesced write made whole again: what the kernel's segmentation would produce from it. */
function resegment(write: Uint8Array): Uint8Array[] {
  const v = vnet(write);
  if (v.gsoType === 0) return [v.pkt];
  return segments(write);
}

describe('GRO: decrypted segments of one flow become one TUN write', () => {
  const run = (n: number, o: TcpOpts = {}, mss = 1388, lastLen = mss) =>
    Array.from({ length: n }, (_, i) =>
      tcp(new Uint8Array(i === n - 1 ? lastLen : mss).fill(i + 1), { ...o, seq: (o.seq ?? 1000) + i * mss, id: (o.id ?? 0x1000) + i, flags: i === n - 1 ? (o.flags ?? 0x10) : 0x10 }),
    );

  for (const v6 of [false, true]) {
    test(`IPv${v6 ? 6 : 4}: a run becomes one GSO write with a partial checksum; segmenting it gives the packets back`, () => {
      const pkts = run(20, { v6, flags: 0x18 }, 1388, 500); // the last carries PSH and less data
      const writes = addon.groCoalesce(pkts);
      expect(writes).toHaveLength(1);
      const v = vnet(writes[0]!);
      const iph = v6 ? 40 : 20;
      expect(v).toMatchObject({ flags: 1, gsoType: v6 ? 4 : 1, hdrLen: iph + 32, gsoSize: 1388, csumStart: iph, csumOffset: 16 });
      expect(v.pkt.length).toBe(iph + 32 + 19 * 1388 + 500);
      if (!v6) {
        expect(be16(v.pkt, 2)).toBe(v.pkt.length);
        expect(ipv4ChecksumOk(v.pkt)).toBe(true);
      } else expect(be16(v.pkt, 4)).toBe(v.pkt.length - 40);
      // Partial checksum = the pseudo-header sum over the new length.
      expect(be16(v.pkt, iph + 16)).toBe(sum16(new Uint8Array(0), pseudo(v.pkt, v.pkt.length - iph)));
      expect(v.pkt[iph + 13]).toBe(0x18);
      // The kernel will cut it where we joined it: the very same packets (PSH back on the last only).
      const again = segments(writes[0]!);
      expect(again.map((p) => Buffer.from(p).toString('hex'))).toEqual(pkts.map((p) => Buffer.from(p).toString('hex')));
    });
  }

  test('single packets and other protocols are written alone with an empty header, in order', () => {
    const udp = new Uint8Array(28);
    udp.set([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 198, 51, 100, 2, 203, 0, 113, 5]);
    const syn = tcp(new Uint8Array(0), { flags: 0x02 });
    const one = tcp(new Uint8Array(100), {});
    const writes = addon.groCoalesce([udp, syn, one]);
    expect(writes.map((w) => vnet(w).gsoType)).toEqual([0, 0, 0]);
    expect(writes.map((w) => Buffer.from(vnet(w).pkt).toString('hex'))).toEqual([udp, syn, one].map((p) => Buffer.from(p).toString('hex')));
    expect(writes.every((w) => vnet(w).flags === 0)).toBe(true);
  });

  test('whatever breaks a run splits it, and nothing is reordered within a flow', () => {
    const cases: Array<[string, Uint8Array[], number[]]> = [];
    const base = run(6);
    // a missing segment
    cases.push(['gap', [base[0]!, base[1]!, base[3]!, base[4]!], [2, 2]]);
    // a different TTL / window / ACK / timestamp
    for (const [what, o] of [
      ['ttl', { ttl: 63 }],
      ['window', { window: 999 }],
      ['ack', { ack: 78 }],
      ['timestamp', { tsval: 9 }],
    ] as const) {
      const odd = tcp(new Uint8Array(1388).fill(3), { seq: 1000 + 2 * 1388, id: 0x1002, ...o });
      cases.push([what, [base[0]!, base[1]!, odd, base[3]!], [2, 1, 1]]);
    }
    // a short segment ends the run; the next starts a new one
    const short = tcp(new Uint8Array(700).fill(2), { seq: 1000 + 1388, id: 0x1001 });
    const after = tcp(new Uint8Array(1388).fill(3), { seq: 1000 + 1388 + 700, id: 0x1002 });
    cases.push(['short', [base[0]!, short, after], [2, 1]]);
    // a bad checksum: written alone, in its place
    const bad = base[2]!.slice();
    bad[bad.length - 1]! ^= 1;
    cases.push(['checksum', [base[0]!, base[1]!, bad, base[3]!], [2, 1, 1]]);
    // IDs that do not count up on a packet that may be fragmented (no DF)
    const frag = run(3, { df: false });
    const wrongId = frag[2]!.slice();
    put16(wrongId, 4, 0x2000);
    put16(wrongId, 10, 0);
    put16(wrongId, 10, ~sum16(wrongId.subarray(0, 20)) & 0xffff);
    cases.push(['ip id', [frag[0]!, frag[1]!, wrongId], [2, 1]]);
    // FIN is never merged
    const fin = tcp(new Uint8Array(1388).fill(3), { seq: 1000 + 2 * 1388, id: 0x1002, flags: 0x11 });
    cases.push(['fin', [base[0]!, base[1]!, fin], [2, 1]]);

    for (const [what, pkts, sizes] of cases) {
      const writes = addon.groCoalesce(pkts);
      expect(writes.map((w) => resegment(w).length), what).toEqual(sizes);
      const flat = writes.flatMap(resegment).map((p) => Buffer.from(p).toString('hex'));
      expect(flat, what).toEqual(pkts.map((p) => Buffer.from(p).toString('hex')));
    }
  });

  test('interleaved flows are coalesced separately, each in its own order', () => {
    const a = run(8, { sport: 40000 });
    const b = run(8, { sport: 40001, seq: 5_000_000 });
    const mixed = a.flatMap((p, i) => [p, b[i]!]);
    const writes = addon.groCoalesce(mixed);
    expect(writes).toHaveLength(2);
    const flat = writes.map((w) => resegment(w).map((p) => Buffer.from(p).toString('hex')));
    expect(flat).toEqual([a.map((p) => Buffer.from(p).toString('hex')), b.map((p) => Buffer.from(p).toString('hex'))]);
  });

  test('at most 64 KiB per write', () => {
    const pkts = run(60);
    const writes = addon.groCoalesce(pkts);
    for (const w of writes) expect(vnet(w).pkt.length).toBeLessThanOrEqual(65535);
    expect(writes.length).toBeGreaterThan(1);
    expect(writes.flatMap(resegment)).toHaveLength(60);
  });
});
