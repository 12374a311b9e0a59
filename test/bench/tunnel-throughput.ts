// Benchmark: iperf3 TCP through the tunnel (RFC 4303 ESP in RFC 3948 UDP), Outpost gateway vs strongSwan gateway.
//
//   topology A: cl charon (kernel-libipsec) ══ESP-in-UDP══ gw outpost (userspace data plane) ── lan iperf3 -s
//   topology B: cl charon (kernel-libipsec) ══ESP-in-UDP══ gw charon  (kernel-libipsec)     ── lan iperf3 -s
//
// Usage (root): node_modules/.bin/bun test/bench/tunnel-throughput.ts [--rounds 5] [--seconds 5]
//                                                                     [--esp aes256gcm16,chacha20poly1305]
// Both topologies stay up for the whole run and the measurements are interleaved (A, B, A, B, …), so drift on
// this 2-core VM hits both alike; medians are compared (single runs vary ±30 %). The client is the same
// strongSwan build in both, so the ratio isolates the gateway. The gateway's utime+stime across each run gives
// CPU seconds per GB carried. Note: on 2 cores the client charon, the gateway and iperf3 share the CPUs; the
// numbers are "what this machine does", not the gateway's ceiling.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { ADDR, canRunNetns, createTopology, type Topology } from '../support/netns.ts';
import { OutpostProcess, outpostCliExists } from '../support/outpost-process.ts';
import { Charon, ensureStrongswan, procUsage } from '../support/strongswan.ts';
import { outpostYaml, swanctlFor, type GatewaySpec } from '../interop/gateway-under-test.ts';
import { iperf3, iperf3Available, mbit } from '../interop/tunnel-traffic.ts';

type Target = 'outpost' | 'strongswan';

const PSK = 'bench-tunnel-psk-9f0e3c21a4b7';
const IKE = 'aes256gcm16-prfsha256-x25519';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface Setup {
  target: Target;
  topo: Topology;
  client: Charon;
  gatewayPid: () => number;
  tail: () => string;
}

function spec(esps: string[]): GatewaySpec {
  return {
    pools: [{ name: 'rw', cidr: ADDR.vipNet }],
    cas: [],
    conns: [
      {
        name: 'rw',
        localId: 'gw.bench.example',
        localAuth: 'psk',
        remoteId: 'client.bench.example',
        remoteAuth: 'psk',
        psk: PSK,
        ikeProposals: [IKE],
        pools: ['rw'],
        children: [{ name: 'net', localTs: [ADDR.innerNet], remoteTs: ['dynamic'], espProposals: esps }],
      },
    ],
  };
}

async function setUp(target: Target, esps: string[]): Promise<Setup> {
  const topo = await createTopology(`bench-tunnel-${target}`);
  const quiet = { dmn: 0, mgr: 0, ike: 0, chd: 0, job: 0, cfg: 0, knl: 0, net: 0, asn: 0, enc: 0, lib: 0, esp: 0 };
  const client = await Charon.start(topo, 'cl', { name: 'client', debug: quiet });
  const children: Record<string, { remote_ts: string; esp_proposals: string }> = {};
  for (const esp of esps) children[esp] = { remote_ts: ADDR.innerNet, esp_proposals: esp };
  const connections: Record<string, unknown> = {};
  for (const esp of esps) {
    connections[`home-${esp}`] = {
      version: 2,
      remote_addrs: ADDR.gwOuter,
      vips: '0.0.0.0',
      proposals: IKE,
      local: { auth: 'psk', id: 'client.bench.example' },
      remote: { auth: 'psk', id: 'gw.bench.example' },
      children: { [esp]: children[esp] },
    };
  }
  await client.configure({
    connections: connections as never,
    secrets: { 'ike-bench': { id: 'client.bench.example', id_gw: 'gw.bench.example', secret: PSK } },
  });
  if (target === 'outpost') {
    const dir = join(topo.dir, 'outpost-files');
    mkdirSync(dir, { recursive: true });
    const yaml = outpostYaml(spec(esps), dir, { dataplane: { backend: 'userspace' }, log: { level: 'info', format: 'json' } });
    const gw = await OutpostProcess.start(topo, 'gw', { name: 'gateway', config: yaml });
    return { target, topo, client, gatewayPid: () => gw.pid!, tail: () => gw.tail() };
  }
  const gw = await Charon.start(topo, 'gw', { name: 'gateway', debug: quiet });
  const { conf, files } = swanctlFor(spec(esps), ADDR.gwOuter);
  await gw.configure(conf, files);
  return { target, topo, client, gatewayPid: () => gw.pid!, tail: () => gw.tail() };
}

interface Sample {
  bps: number;
  cpuSecPerGB: number;
  retransmits: number;
}

async function measure(s: Setup, esp: string, seconds: number): Promise<Sample> {
  const r = await s.client.initiate(esp, { ike: `home-${esp}`, timeoutSec: 10 });
  if (!r.ok) throw new Error(`${s.target}: client could not connect:\n${r.output}\n${s.tail()}`);
  try {
    const cpu0 = procUsage(s.gatewayPid()).cpuSec;
    const perf = await iperf3(s.topo, { serverRole: 'lan', serverAddr: ADDR.lan, clientRole: 'cl', seconds });
    const cpu = procUsage(s.gatewayPid()).cpuSec - cpu0;
    return { bps: perf.bitsPerSecond, cpuSecPerGB: cpu / (perf.bytes / 1e9), retransmits: perf.retransmits };
  } finally {
    await s.client.terminateAll();
  }
}

async function main(): Promise<void> {
  const netns = canRunNetns();
  if (!netns.ok) return console.log(`tunnel-throughput: skipped: ${netns.reason}`);
  const sw = ensureStrongswan();
  if (!sw.ok) return console.log(`tunnel-throughput: skipped: ${sw.reason}`);
  if (!iperf3Available()) return console.log('tunnel-throughput: skipped: iperf3 is not installed (scripts/install-test-deps.sh)');
  if (!outpostCliExists()) throw new Error('firmware/bin/outpost.ts is missing');

  const rounds = Number(arg('rounds', '5'));
  const seconds = Number(arg('seconds', '5'));
  const esps = arg('esp', 'aes256gcm16,chacha20poly1305').split(',');
  const setups: Setup[] = [];
  try {
    for (const t of ['outpost', 'strongswan'] as const) setups.push(await setUp(t, esps));
    console.log(`tunnel throughput: iperf3 TCP ${seconds} s, client VIP → LAN host, strongSwan 5.9 kernel-libipsec client; ${rounds} interleaved rounds`);
    const summary: string[] = [];
    for (const esp of esps) {
      const samples: Record<Target, Sample[]> = { outpost: [], strongswan: [] };
      for (let round = 0; round < rounds; round++) {
        // Alternate which goes first, so neither always runs on a warmer machine.
        const order = round % 2 === 0 ? setups : [...setups].reverse();
        for (const s of order) {
          const x = await measure(s, esp, seconds);
          samples[s.target].push(x);
          console.log(`  ${esp} round ${round + 1} ${s.target.padEnd(10)} ${mbit(x.bps).padStart(14)}  gateway CPU ${x.cpuSecPerGB.toFixed(2)} s/GB  ${x.retransmits} retransmits`);
        }
      }
      const med = (t: Target) => median(samples[t].map((x) => x.bps));
      const cpu = (t: Target) => median(samples[t].map((x) => x.cpuSecPerGB));
      const ratio = med('outpost') / med('strongswan');
      summary.push(
        `ESP ${esp}: outpost median ${mbit(med('outpost'))} (CPU ${cpu('outpost').toFixed(2)} s/GB), strongswan gateway median ${mbit(med('strongswan'))} (CPU ${cpu('strongswan').toFixed(2)} s/GB); ratio outpost/strongswan ${ratio.toFixed(2)}`,
      );
    }
    console.log(summary.join('\n'));
  } finally {
    for (const s of setups) await s.topo.destroy();
  }
}

await main();
