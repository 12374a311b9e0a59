// Benchmark: traffic through the tunnel (RFC 4303 ESP, RFC 3948 ESP-in-UDP) for three pairs, measured in one run against strongSwan.
//
//   (a) cl charon client ══ESP-in-UDP══ gw charon gateway      ── lan     both kernel-libipsec (the reference)
//   (b) cl charon client ══ESP-in-UDP══ gw Outpost gateway     ── lan     Outpost userspace data plane
//   (c) lanB ── gwB Outpost ══plain ESP══ gwA Outpost ── lanA             Outpost ↔ Outpost site-to-site
//   (cu) as (c) with encapsulation: true (ESP-in-UDP, UDP GSO/GRO)
//
// Usage (root): node_modules/.bin/bun test/bench/tunnel-throughput.ts [--rounds 5] [--seconds 5] [--udp-seconds 3]
//               [--esp aes256gcm16] [--modes a,b,c,cu]   (OUTPOST_USERSPACE_OFFLOAD=off: Outpost without TUN/UDP offloads)
//
// Every pair stays up for the whole run; each round measures every pair in turn (the order alternates), so drift
// on this 2-core VM hits all alike, and medians are compared. Per pair and round: an iperf3 TCP run (goodput),
// then an iperf3 UDP run with 64-octet payloads at full speed (small-packet rate: packets the tunnel delivered
// to the receiving host's interface per second, from its rx counter, and what iperf3 itself received, which
// is lower when the receiving iperf3 cannot keep up). During the TCP run the utime+stime of each IPsec process
// (/proc/PID/stat, all threads) gives CPU seconds per GB carried, and /proc/stat the whole machine's busy share:
// on 2 cores the senders, receivers, kernels and both IPsec ends share the CPUs, so these are "what this machine
// does", not a gateway's ceiling.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADDR, canRunNetns, createTopology, type Role, type Topology } from '../support/netns.ts';
import { OutpostProcess, outpostCliExists } from '../support/outpost-process.ts';
import { Charon, ensureStrongswan, procUsage } from '../support/strongswan.ts';
import { outpostYaml, swanctlFor, type GatewaySpec } from '../interop/gateway-under-test.ts';
import { createSiteTopology, SITE, startSitePair, type SitePair, type SiteTopology } from '../interop/tunnel-site-to-site.ts';
import { iperf3, iperf3Available, iperf3Udp, mbit } from '../interop/tunnel-traffic.ts';

type Mode = 'a' | 'b' | 'c' | 'cu';
const LABEL: Record<Mode, string> = {
  a: '(a) strongSwan gw ↔ strongSwan client',
  b: '(b) Outpost gw ↔ strongSwan client',
  c: '(c) Outpost ↔ Outpost, plain ESP',
  cu: "(c') Outpost ↔ Outpost, ESP-in-UDP",
};

const PSK = 'bench-tunnel-psk-9f0e3c21a4b7';
const IKE = 'aes256gcm16-prfsha256-x25519';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Busy and total jiffies of all CPUs (/proc/stat), for the machine's load during a run. */
function cpuTimes(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Packets the interface has received (its rx counter), read from inside the namespace. */
function rxPackets(ns: string, dev: string): number {
  const r = spawnSync('ip', ['-n', ns, '-j', '-s', 'link', 'show', 'dev', dev], { encoding: 'utf8' });
  const j = JSON.parse(r.stdout) as { stats64?: { rx?: { packets?: number } } }[];
  return j[0]?.stats64?.rx?.packets ?? NaN;
}

interface Setup {
  mode: Mode;
  topo: Topology;
  /** Where the traffic starts and where it goes. */
  sender: Role | string;
  receiver: Role | string;
  receiverAddr: string;
  /** The receiving host's namespace and interface (towards its gateway). */
  receiverNs: string;
  /** The IPsec processes, by name, whose CPU is counted. */
  procs: { name: string; pid: () => number }[];
  tail: () => string;
  close: () => Promise<void>;
}

function rwSpec(esp: string): GatewaySpec {
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
        children: [{ name: 'net', localTs: [ADDR.innerNet], remoteTs: ['dynamic'], espProposals: [esp] }],
      },
    ],
  };
}

const quiet = { dmn: 0, mgr: 0, ike: 0, chd: 0, job: 0, cfg: 0, knl: 0, net: 0, asn: 0, enc: 0, lib: 0, esp: 0 };

/** (a) and (b): a strongSwan road warrior connects to a charon or Outpost gateway and stays connected. */
async function setUpRoadWarrior(mode: 'a' | 'b', esp: string): Promise<Setup> {
  const topo = await createTopology(`bench-tunnel-${mode}`);
  try {
    const client = await Charon.start(topo, 'cl', { name: 'client', debug: quiet });
    await client.configure({
      connections: {
        home: {
          version: 2,
          remote_addrs: ADDR.gwOuter,
          vips: '0.0.0.0',
          proposals: IKE,
          local: { auth: 'psk', id: 'client.bench.example' },
          remote: { auth: 'psk', id: 'gw.bench.example' },
          children: { net: { remote_ts: ADDR.innerNet, esp_proposals: esp } },
        },
      },
      secrets: { 'ike-bench': { id: 'client.bench.example', id_gw: 'gw.bench.example', secret: PSK } },
    });
    let gwPid: () => number;
    let tail: () => string;
    if (mode === 'b') {
      const dir = join(topo.dir, 'outpost-files');
      mkdirSync(dir, { recursive: true });
      const gw = await OutpostProcess.start(topo, 'gw', {
        name: 'gateway',
        config: outpostYaml(rwSpec(esp), dir, { dataplane: { backend: 'userspace' }, log: { level: 'info', format: 'json' } }),
      });
      gwPid = () => gw.pid!;
      tail = () => gw.tail();
    } else {
      const gw = await Charon.start(topo, 'gw', { name: 'gateway', debug: quiet });
      const { conf, files } = swanctlFor(rwSpec(esp), ADDR.gwOuter);
      await gw.configure(conf, files);
      gwPid = () => gw.pid!;
      tail = () => gw.tail();
    }
    const r = await client.initiate('net', { ike: 'home', timeoutSec: 10 });
    if (!r.ok) throw new Error(`${LABEL[mode]}: client could not connect:\n${r.output}\n${tail()}`);
    return {
      mode,
      topo,
      sender: 'cl',
      receiver: 'lan',
      receiverAddr: ADDR.lan,
      receiverNs: topo.ns.lan,
      procs: [
        { name: mode === 'b' ? 'Outpost gw' : 'charon gw', pid: gwPid },
        { name: 'charon client', pid: () => client.pid! },
      ],
      tail,
      close: () => topo.destroy(),
    };
  } catch (e) {
    await topo.destroy();
    throw e;
  }
}

/** (c) and (c'): two Outposts, B initiating to A, lanB → lanA. */
async function setUpSite(mode: 'c' | 'cu', esp: string): Promise<Setup> {
  const site: SiteTopology = await createSiteTopology(`bench-tunnel-${mode}`);
  let pair: SitePair;
  try {
    pair = await startSitePair(site, { auth: 'psk', encap: mode === 'cu', esp, ike: IKE, name: mode, logLevel: 'info' });
  } catch (e) {
    await site.destroy();
    throw e;
  }
  return {
    mode,
    topo: site.topo,
    sender: site.ns.lanB,
    receiver: 'lan',
    receiverAddr: SITE.lanA,
    receiverNs: site.ns.lanA,
    procs: [
      { name: 'Outpost A', pid: () => pair.a.pid! },
      { name: 'Outpost B', pid: () => pair.b.pid! },
    ],
    tail: () => pair.tail(),
    close: async () => {
      await pair.stop();
      await site.destroy();
    },
  };
}

interface Sample {
  bps: number;
  retransmits: number;
  /** CPU seconds per GB carried, per IPsec process. */
  cpuPerGB: number[];
  machineBusyPct: number;
  /** 64-octet UDP: delivered by the tunnel to the receiving host per second, and taken in by iperf3. */
  smallPps: number;
  smallAppPps: number;
  smallSentPps: number;
}

async function measure(s: Setup, seconds: number, udpSeconds: number): Promise<Sample> {
  const cpu0 = s.procs.map((p) => procUsage(p.pid()).cpuSec);
  const m0 = cpuTimes();
  const perf = await iperf3(s.topo, { serverRole: s.receiver, serverAddr: s.receiverAddr, clientRole: s.sender, seconds });
  const m1 = cpuTimes();
  const gb = perf.bytes / 1e9;
  const cpuPerGB = s.procs.map((p, i) => (procUsage(p.pid()).cpuSec - cpu0[i]!) / gb);
  const rx0 = rxPackets(s.receiverNs, 'eth0');
  const udp = await iperf3Udp(s.topo, { serverRole: s.receiver, serverAddr: s.receiverAddr, clientRole: s.sender, seconds: udpSeconds, size: 64 });
  const rx1 = rxPackets(s.receiverNs, 'eth0');
  return {
    bps: perf.bitsPerSecond,
    retransmits: perf.retransmits,
    cpuPerGB,
    machineBusyPct: (100 * (m1.busy - m0.busy)) / Math.max(1, m1.total - m0.total),
    smallPps: (rx1 - rx0) / udp.seconds,
    smallAppPps: udp.receivedPps,
    smallSentPps: udp.sentPps,
  };
}

const kpps = (pps: number) => `${(pps / 1000).toFixed(1)} kpps`;

async function main(): Promise<void> {
  const netns = canRunNetns();
  if (!netns.ok) return console.log(`tunnel-throughput: skipped: ${netns.reason}`);
  const sw = ensureStrongswan();
  if (!sw.ok) return console.log(`tunnel-throughput: skipped: ${sw.reason}`);
  if (!iperf3Available()) return console.log('tunnel-throughput: skipped: iperf3 is not installed (scripts/install-test-deps.sh)');
  if (!outpostCliExists()) throw new Error('firmware/bin/outpost.ts is missing');

  const rounds = Number(arg('rounds', '5'));
  const seconds = Number(arg('seconds', '5'));
  const udpSeconds = Number(arg('udp-seconds', '3'));
  const esp = arg('esp', 'aes256gcm16');
  const modes = arg('modes', 'a,b,c,cu').split(',') as Mode[];
  const offload = process.env.OUTPOST_USERSPACE_OFFLOAD !== 'off';
  const setups: Setup[] = [];
  try {
    for (const m of modes) setups.push(m === 'a' || m === 'b' ? await setUpRoadWarrior(m, esp) : await setUpSite(m, esp));
    console.log(
      `tunnel throughput, ESP ${esp}, IKE ${IKE}: iperf3 TCP ${seconds} s, then UDP 64-octet payloads ${udpSeconds} s, per pair and round; ` +
        `${rounds} interleaved rounds; Outpost offloads ${offload ? 'on' : 'off (OUTPOST_USERSPACE_OFFLOAD=off)'}`,
    );
    const samples = new Map<Mode, Sample[]>(modes.map((m) => [m, []]));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? setups : [...setups].reverse();
      for (const s of order) {
        const x = await measure(s, seconds, udpSeconds);
        samples.get(s.mode)!.push(x);
        console.log(
          `  round ${round + 1} ${LABEL[s.mode].padEnd(40)} ${mbit(x.bps).padStart(15)} (${String(x.retransmits).padStart(5)} retr)  ` +
            `${kpps(x.smallPps).padStart(11)} small (${kpps(x.smallSentPps)} sent, ${kpps(x.smallAppPps)} to iperf3)  CPU ${s.procs.map((p, i) => `${p.name} ${x.cpuPerGB[i]!.toFixed(2)}`).join(', ')} s/GB  machine ${x.machineBusyPct.toFixed(0)} % busy`,
        );
      }
    }
    const med = (m: Mode, f: (x: Sample) => number) => median(samples.get(m)!.map(f));
    console.log('\nmedians:');
    console.log('| pair | TCP goodput | 64 B UDP: sent / delivered by the tunnel / taken by iperf3 | CPU s/GB per IPsec process | machine busy |');
    console.log('|---|---|---|---|---|');
    for (const s of setups) {
      const m = s.mode;
      console.log(
        `| ${LABEL[m]} | ${mbit(med(m, (x) => x.bps))} | ${kpps(med(m, (x) => x.smallSentPps))} / ${kpps(med(m, (x) => x.smallPps))} / ${kpps(med(m, (x) => x.smallAppPps))} | ` +
          `${s.procs.map((p, i) => `${p.name} ${med(m, (x) => x.cpuPerGB[i]!).toFixed(2)}`).join(', ')} | ${med(m, (x) => x.machineBusyPct).toFixed(0)} % |`,
      );
    }
    const ratio = (m: Mode, f: (x: Sample) => number) => (modes.includes(m) && modes.includes('a') ? med(m, f) / med('a', f) : NaN);
    const bps = (x: Sample) => x.bps;
    const pps = (x: Sample) => x.smallPps;
    if (modes.includes('a')) {
      console.log('\nratios against (a):');
      for (const m of modes.filter((x) => x !== 'a')) {
        const goal = m === 'b' ? 1 : 3;
        const r = ratio(m, bps);
        console.log(`  ${LABEL[m]}: TCP ${r.toFixed(2)}× (goal ≥ ${goal}×: ${r >= goal ? 'met' : 'NOT met'}), small packets ${ratio(m, pps).toFixed(2)}×`);
      }
    }
  } finally {
    for (const s of setups) await s.close().catch(() => {});
  }
}

await main();
