// Packet capture on a test link (tcpdump into a pcap file) and a small pcap reader that classifies what the wire carried (RFC 3948, RFC 4303).
//
// Shared by the tunnel suites: they capture the link between the peers while traffic flows and assert that only
// IKE and ESP (in UDP, or plain IP protocol 50) crossed it, never the inner packets in clear. tcpdump runs inside
// the namespace as a process of the topology (stopped by PID); `-Z root` because the capture file lives in the
// topology's root-only temporary directory.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Role, Spawned, Topology } from '../support/netns.ts';

export function tcpdumpAvailable(): boolean {
  return spawnSync('tcpdump', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** What one captured frame was, as far as these tests care. */
export type WireKind = 'ike' | 'esp-in-udp' | 'nat-keepalive' | 'esp' | 'arp' | 'ipv6-nd' | 'other';

export interface WirePacket {
  kind: WireKind;
  /** IP protocol (IPv4) or next header (IPv6); undefined for non-IP frames. */
  proto?: number;
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  /** SPI of ESP (plain or in UDP). */
  spi?: number;
  /** The ESP packet from the SPI on, as far as the snap length kept it (for replaying it). */
  esp?: Uint8Array;
  /** One line for failure messages. */
  text: string;
}

const ip4 = (b: Uint8Array, o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
function ip6(b: Uint8Array, o: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((b[o + i]! << 8) | b[o + i + 1]!).toString(16));
  return parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}
const be16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;
const be32 = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

function classifyTransport(proto: number, b: Uint8Array, o: number, end: number, src: string, dst: string): WirePacket {
  const base = { proto, src, dst };
  if (proto === 50 && end - o >= 8) {
    const spi = be32(b, o);
    return { ...base, kind: 'esp', spi, esp: b.slice(o, end), text: `${src} > ${dst} ESP spi 0x${spi.toString(16)}` };
  }
  if (proto === 17 && end - o >= 8) {
    const sport = be16(b, o);
    const dport = be16(b, o + 2);
    const p = o + 8;
    const len = end - p;
    const udp = { ...base, sport, dport };
    const where = `${src}:${sport} > ${dst}:${dport}`;
    if (sport === 500 || dport === 500) return { ...udp, kind: 'ike', text: `${where} IKE` };
    if (sport === 4500 || dport === 4500) {
      if (len === 1 && b[p] === 0xff) return { ...udp, kind: 'nat-keepalive', text: `${where} NAT-keepalive` };
      if (len >= 4 && be32(b, p) === 0) return { ...udp, kind: 'ike', text: `${where} IKE (non-ESP marker)` };
      if (len >= 8) {
        const spi = be32(b, p);
        return { ...udp, kind: 'esp-in-udp', spi, esp: b.slice(p, end), text: `${where} ESP-in-UDP spi 0x${spi.toString(16)}` };
      }
    }
    return { ...udp, kind: 'other', text: `${where} UDP ${len} octets` };
  }
  return { ...base, kind: 'other', text: `${src} > ${dst} protocol ${proto}` };
}

/** Parses a pcap file (microsecond or nanosecond, either byte order) of Ethernet frames. */
export function readPcap(bytes: Uint8Array): WirePacket[] {
  if (bytes.length < 24) return [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0, true);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && dv.getUint32(0, false) !== 0xa1b2c3d4 && dv.getUint32(0, false) !== 0xa1b23c4d) throw new Error('not a pcap file');
  const linktype = dv.getUint32(20, le);
  if (linktype !== 1) throw new Error(`pcap link type ${linktype}, expected Ethernet (1)`);
  const out: WirePacket[] = [];
  for (let off = 24; off + 16 <= bytes.length; ) {
    const incl = dv.getUint32(off + 8, le);
    const start = off + 16;
    const end = Math.min(start + incl, bytes.length);
    off = start + incl;
    if (end - start < 14) continue;
    const ethertype = be16(bytes, start + 12);
    const ip = start + 14;
    if (ethertype === 0x0806) {
      out.push({ kind: 'arp', text: 'ARP' });
    } else if (ethertype === 0x0800 && end - ip >= 20) {
      const ihl = (bytes[ip]! & 0x0f) * 4;
      const ipEnd = Math.min(end, ip + be16(bytes, ip + 2)); // without Ethernet padding of short frames
      out.push(classifyTransport(bytes[ip + 9]!, bytes, ip + ihl, ipEnd, ip4(bytes, ip + 12), ip4(bytes, ip + 16)));
    } else if (ethertype === 0x86dd && end - ip >= 40) {
      const nh = bytes[ip + 6]!;
      const src = ip6(bytes, ip + 8);
      const dst = ip6(bytes, ip + 24);
      // ICMPv6 neighbour discovery / router solicitation / MLD (133-143) is link housekeeping, not traffic.
      const icmpType = nh === 58 && end - ip > 40 ? bytes[ip + 40]! : -1;
      if (nh === 58 && icmpType >= 130 && icmpType <= 143) out.push({ kind: 'ipv6-nd', proto: nh, src, dst, text: `${src} > ${dst} ICMPv6 type ${icmpType}` });
      else if (nh === 0) out.push({ kind: 'ipv6-nd', proto: nh, src, dst, text: `${src} > ${dst} hop-by-hop (MLD)` });
      else out.push(classifyTransport(nh, bytes, ip + 40, Math.min(end, ip + 40 + be16(bytes, ip + 4)), src, dst));
    } else {
      out.push({ kind: 'other', text: `ethertype 0x${ethertype.toString(16)}` });
    }
  }
  return out;
}

export interface Capture {
  /** Stops tcpdump (SIGTERM, it flushes) and returns every frame it saw. */
  stop(): Promise<WirePacket[]>;
}

/**
 * Starts tcpdump on `iface` in the namespace of `role`; resolves once it is listening. snaplen 256 by default
 * (headers are all most checks need; 0 keeps whole packets); filter is a pcap-filter(7) expression.
 */
export async function startCapture(
  topo: Topology,
  role: Role | string,
  iface: string,
  name = 'capture',
  opts: { snaplen?: number; filter?: string } = {},
): Promise<Capture> {
  const file = join(topo.dir, `${name}-${Date.now()}.pcap`);
  // --immediate-mode and -U: each packet leaves libpcap's ring and reaches the file as it comes, so stopping loses none.
  const argv = ['tcpdump', '-i', iface, '-nn', '--immediate-mode', '-U', '-s', String(opts.snaplen ?? 256), '-Z', 'root', '-w', file];
  if (opts.filter) argv.push(opts.filter);
  const proc: Spawned = topo.spawn(role, argv);
  let err = '';
  proc.child.stdout?.resume();
  proc.child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const deadline = Date.now() + 5000;
  while (!/listening on/.test(err)) {
    if (!proc.isRunning() || Date.now() > deadline) {
      await proc.stop(500);
      throw new Error(`tcpdump did not start on ${iface}:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 100)); // the last packets are still on their way through the stack
      await proc.stop(2000);
      return readPcap(new Uint8Array(readFileSync(file)));
    },
  };
}

/** Counts per kind, for messages and assertions. */
export function countKinds(pkts: WirePacket[]): Partial<Record<WireKind, number>> {
  const c: Partial<Record<WireKind, number>> = {};
  for (const p of pkts) c[p.kind] = (c[p.kind] ?? 0) + 1;
  return c;
}
