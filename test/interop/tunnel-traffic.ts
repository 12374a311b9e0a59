// Traffic through a tunnel between test namespaces: ping summaries, iperf3 TCP runs and small-packet UDP rates (RFC 4303 ESP carries them).
//
// Shared by test/interop/tunnel.test.ts and test/bench/tunnel-throughput.ts. Every process runs inside a
// namespace of the topology and is started and stopped by the topology (by PID).
import { spawnSync } from 'node:child_process';
import type { Role, Topology } from '../support/netns.ts';

export interface PingSummary {
  transmitted: number;
  received: number;
  lossPct: number;
  rttAvgMs: number | null;
  output: string;
  code: number | null;
}

/** `ping -n -c COUNT -i INTERVAL` from a namespace, parsed. */
export async function ping(topo: Topology, from: Role | string, to: string, opts: { count?: number; intervalSec?: number; size?: number; timeoutMs?: number } = {}): Promise<PingSummary> {
  const count = opts.count ?? 20;
  const args = ['ping', '-n', '-q', '-c', String(count), '-i', String(opts.intervalSec ?? 0.1), '-W', '2', '-s', String(opts.size ?? 56), to];
  const r = await topo.exec(from, args, { timeoutMs: opts.timeoutMs ?? 10_000 + count * 1000 });
  const m = /(\d+) packets transmitted, (\d+) received(?:, \+\d+ errors)?, ([\d.]+)% packet loss/.exec(r.stdout);
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(r.stdout);
  return {
    transmitted: m ? Number(m[1]) : 0,
    received: m ? Number(m[2]) : 0,
    lossPct: m ? Number(m[3]) : 100,
    rttAvgMs: rtt ? Number(rtt[1]) : null,
    output: `${r.stdout}${r.stderr}`,
    code: r.code,
  };
}

export function iperf3Available(): boolean {
  return spawnSync('iperf3', ['--version'], { encoding: 'utf8' }).status === 0;
}

/**
 * A one-off iperf3 server (`-1`) in `role` bound to addr:port: waits until it listens, runs `client` (given the
 * server's output so far, for error messages, and the port), and always stops the server.
 */
async function withIperf3Server<T>(
  topo: Topology,
  role: Role | string,
  addr: string,
  port: number,
  client: (serverOut: () => string, port: number) => Promise<T>,
): Promise<T> {
  const server = topo.spawn(role, ['iperf3', '-s', '-1', '--forceflush', '-B', addr, '-p', String(port)]);
  let serverOut = '';
  server.child.stdout?.setEncoding('utf8').on('data', (d: string) => (serverOut += d));
  server.child.stderr?.setEncoding('utf8').on('data', (d: string) => (serverOut += d));
  try {
    const deadline = Date.now() + 5000;
    while (!/Server listening/.test(serverOut)) {
      if (!server.isRunning() || Date.now() > deadline) throw new Error(`iperf3 server did not start:\n${serverOut}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return await client(() => serverOut, port);
  } finally {
    await server.stop(1000);
  }
}

/** The iperf3 client's `-J` report; throws with both sides' output when it is not JSON. */
function iperf3Json<T>(r: { code: number | null; stdout: string; stderr: string }, serverOut: string): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`iperf3 client output is not JSON (code ${r.code}):\n${r.stdout}${r.stderr}\n--- server ---\n${serverOut}`);
  }
}

export interface IperfResult {
  /** Receiver-side goodput, bits per second. */
  bitsPerSecond: number;
  retransmits: number;
  seconds: number;
  bytes: number;
}

/**
 * One iperf3 TCP run: server (one-off, `-1`) in `serverRole` bound to `serverAddr`, client in `clientRole`.
 * Resolves with the receiver's numbers; throws with both outputs when the run fails.
 */
export async function iperf3(
  topo: Topology,
  opts: { serverRole: Role | string; serverAddr: string; clientRole: Role | string; seconds?: number; port?: number; reverse?: boolean; clientBind?: string },
): Promise<IperfResult> {
  return withIperf3Server(topo, opts.serverRole, opts.serverAddr, opts.port ?? 5201, async (serverOut, port) => {
    const seconds = opts.seconds ?? 3;
    const args = ['iperf3', '-c', opts.serverAddr, '-p', String(port), '-t', String(seconds), '-J'];
    if (opts.reverse) args.push('-R');
    if (opts.clientBind) args.push('-B', opts.clientBind);
    const r = await topo.exec(opts.clientRole, args, { timeoutMs: (seconds + 15) * 1000 });
    const json = iperf3Json<{ error?: string; end?: { sum_received?: { bits_per_second: number; seconds: number; bytes: number }; sum_sent?: { retransmits?: number } } }>(r, serverOut());
    const recv = json.end?.sum_received;
    if (json.error || !recv) throw new Error(`iperf3 failed: ${json.error ?? 'no result'}\n--- server ---\n${serverOut()}`);
    return { bitsPerSecond: recv.bits_per_second, seconds: recv.seconds, bytes: recv.bytes, retransmits: json.end?.sum_sent?.retransmits ?? 0 };
  });
}

export interface IperfUdpResult {
  /** Datagrams the receiver got per second (sent minus lost). */
  receivedPps: number;
  sentPps: number;
  lostPct: number;
  seconds: number;
}

/**
 * One iperf3 UDP run of `size`-octet payloads at the given rate (0 = as fast as the sender can), for the
 * small-packet rate through a tunnel: what arrived, per second.
 */
export async function iperf3Udp(
  topo: Topology,
  opts: { serverRole: Role | string; serverAddr: string; clientRole: Role | string; seconds?: number; size?: number; bitrate?: string; port?: number },
): Promise<IperfUdpResult> {
  return withIperf3Server(topo, opts.serverRole, opts.serverAddr, opts.port ?? 5202, async (serverOut, port) => {
    const seconds = opts.seconds ?? 3;
    const args = ['iperf3', '-c', opts.serverAddr, '-p', String(port), '-u', '-b', opts.bitrate ?? '0', '-l', String(opts.size ?? 64), '-t', String(seconds), '-J'];
    const r = await topo.exec(opts.clientRole, args, { timeoutMs: (seconds + 15) * 1000 });
    type Sum = { packets: number; lost_packets: number; seconds: number; lost_percent: number };
    const json = iperf3Json<{ error?: string; end?: { sum_received?: Sum; sum_sent?: Sum } }>(r, serverOut());
    const recv = json.end?.sum_received;
    const sent = json.end?.sum_sent;
    if (json.error || !recv || !sent) throw new Error(`iperf3 UDP failed: ${json.error ?? 'no result'}\n--- server ---\n${serverOut()}`);
    return {
      receivedPps: (recv.packets - recv.lost_packets) / recv.seconds,
      sentPps: sent.packets / sent.seconds,
      lostPct: recv.lost_percent,
      seconds: recv.seconds,
    };
  });
}

export const mbit = (bps: number): string => `${(bps / 1e6).toFixed(1)} Mbit/s`;
