// Benchmark: IKEv2 handshakes (RFC 7296 IKE_SA_INIT + IKE_AUTH with CHILD_SA) per responder CPU-second, Outpost vs charon.
//
//   netns cl: handshake-driver.ts (Outpost's engine as initiator, K identities)  ──▶  netns gw: responder
//
// Usage (root): node_modules/.bin/bun test/bench/handshakes.ts [--k 1000] [--window 64] [--runs 1]
//                                                             [--targets outpost,charon]
// Certificate auth (ECDSA P-256, RFC 7427), IKE aes256gcm16-prfsha256-x25519, ESP aes256gcm16. The responder's
// utime+stime from /proc/PID/stat across the burst gives CPU per setup; RSS after/before gives memory per
// established IKE SA. Wall-clock rates on 2 cores would measure the initiator, so they are shown only for
// context. charon runs with dos_protection = no and a 1024×16 IKE SA table (shared/notes/strongswan-netns.md).
// With --runs N the targets are interleaved and medians reported (runs vary ±20–30 % on this VM).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ADDR, canRunNetns, createTopology, type Topology } from '../support/netns.ts';
import { BUN_BIN, OutpostProcess, REPO_ROOT, outpostCliExists } from '../support/outpost-process.ts';
import { Charon, ensureStrongswan, procUsage } from '../support/strongswan.ts';
import { outpostYaml } from '../interop/gateway-under-test.ts';
import { issueBenchCert, makeBenchCa, type BenchCa, type BenchCert } from './bench-pki.ts';
import type { DriverJob, DriverResult } from './handshake-driver.ts';

const IKE = 'aes256gcm16-prfsha256-x25519';
const ESP = 'aes256gcm16';
const GW_FQDN = 'gw.bench.example';
const CLIENT_NET = '203.0.113.0/24';

type Target = 'outpost' | 'charon';

interface RunResult {
  target: Target;
  k: number;
  established: number;
  failed: number;
  failures: Record<string, number>;
  wallMs: number;
  cpuSec: number;
  rssDeltaBytes: number;
  retransmits: number;
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

interface Responder {
  pid: number;
  stop(): Promise<void>;
  describe(): string;
  tail(): string;
}

async function startCharon(topo: Topology, ca: BenchCa, gw: BenchCert, run: number): Promise<Responder> {
  const quiet = { dmn: 0, mgr: 0, ike: 0, chd: 0, job: 0, cfg: 0, knl: 0, net: 0, asn: 0, enc: 0, lib: 0, esp: 0 };
  const c = await Charon.start(topo, 'gw', {
    name: `bench-${run}`,
    debug: quiet,
    charon: { dos_protection: false, ikesa_table_size: 1024, ikesa_table_segments: 16, init_limit_half_open: 0 },
  });
  await c.configure(
    {
      connections: {
        bench: {
          version: 2,
          local_addrs: ADDR.gwOuter,
          proposals: IKE,
          local: { auth: 'pubkey', id: GW_FQDN, certs: 'gw.pem' },
          remote: { auth: 'pubkey', id: '%any', cacerts: 'ca.pem' },
          children: { net: { local_ts: ADDR.innerNet, remote_ts: CLIENT_NET, esp_proposals: ESP } },
        },
      },
    },
    { x509: { 'gw.pem': gw.certPem }, x509ca: { 'ca.pem': ca.certPem }, private: { 'gw.key': gw.keyPem } },
  );
  return {
    pid: c.pid!,
    stop: () => c.stop(),
    describe: () => 'charon 5.9.8 (kernel-libipsec)',
    tail: () => c.tail(30),
  };
}

async function startOutpost(topo: Topology, ca: BenchCa, gw: BenchCert, run: number): Promise<Responder> {
  const dir = join(topo.dir, `outpost-bench-${run}`);
  mkdirSync(dir, { recursive: true });
  const config = outpostYaml(
    {
      pools: [],
      cas: [{ name: 'bench', cert: { certPem: ca.certPem } }],
      conns: [
        {
          name: 'bench',
          localId: GW_FQDN,
          localAuth: 'pubkey',
          cert: { certPem: gw.certPem, key: { pem: gw.keyPem, pkcs8Pem: gw.keyPem } },
          remoteId: '%any',
          remoteAuth: 'pubkey',
          cas: ['bench'],
          ikeProposals: [IKE],
          children: [{ name: 'net', localTs: [ADDR.innerNet], remoteTs: [CLIENT_NET], espProposals: [ESP] }],
        },
      ],
    },
    dir,
    // info, not warn: the ready line is info; charon likewise logs one audit line per SA at level 0.
    { log: { level: 'info', format: 'json' }, cookie_threshold: 1_000_000, half_open_per_source: 1_000_000 },
  );
  const p = await OutpostProcess.start(topo, 'gw', { name: `bench-${run}`, config });
  return { pid: p.pid!, stop: () => p.stop(), describe: () => 'outpost gateway (Bun)', tail: () => p.tail(30) };
}

async function runOnce(topo: Topology, target: Target, ca: BenchCa, gw: BenchCert, clients: BenchCert[], window: number, run: number): Promise<RunResult> {
  const responder = target === 'charon' ? await startCharon(topo, ca, gw, run) : await startOutpost(topo, ca, gw, run);
  const job: DriverJob = {
    localAddr: ADDR.cl,
    remoteAddr: ADDR.gwOuter,
    ikeProposal: IKE,
    espProposal: ESP,
    localTs: [CLIENT_NET],
    remoteTs: [ADDR.innerNet],
    remoteId: `fqdn:${GW_FQDN}`,
    caDerHex: Buffer.from(ca.certDer).toString('hex'),
    identities: clients.map((c) => ({ fqdn: c.fqdn, certDerHex: Buffer.from(c.certDer).toString('hex'), keyDerHex: Buffer.from(c.keyDer).toString('hex') })),
    window,
    timeoutMs: 120_000,
  };
  const jobPath = join(topo.dir, `job-${run}.json`);
  writeFileSync(jobPath, JSON.stringify(job));
  const driver = topo.spawn('cl', [BUN_BIN, join(REPO_ROOT, 'test', 'bench', 'handshake-driver.ts'), jobPath], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let driverErr = '';
  driver.child.stderr?.setEncoding('utf8').on('data', (d: string) => (driverErr = (driverErr + d).slice(-4000)));
  const lines = createInterface({ input: driver.child.stdout! });
  const nextLine = (prefix: string, timeoutMs: number) =>
    new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`driver: no ${prefix} within ${timeoutMs} ms\n${driverErr}\n${responder.tail()}`)), timeoutMs);
      const on = (l: string) => {
        if (!l.startsWith(prefix)) return;
        clearTimeout(t);
        lines.off('line', on);
        resolve(l.slice(prefix.length).trim());
      };
      lines.on('line', on);
      void driver.exited.then(({ code }) => {
        clearTimeout(t);
        reject(new Error(`driver exited (${code}) before ${prefix}\n${driverErr}`));
      });
    });
  try {
    await nextLine('READY', 60_000);
    await new Promise((r) => setTimeout(r, 300));
    const before = procUsage(responder.pid);
    driver.child.stdin!.write('GO\n');
    const res = JSON.parse(await nextLine('DONE', 180_000)) as DriverResult;
    const cpuAfter = procUsage(responder.pid).cpuSec;
    await new Promise((r) => setTimeout(r, 500));
    const rssAfter = procUsage(responder.pid).rssBytes;
    if (res.failed > 0) console.error(`[${target}] ${res.failed} setups failed: ${JSON.stringify(res.failures)}\n${driverErr.slice(-1000)}`);
    return {
      target,
      k: res.k,
      established: res.established,
      failed: res.failed,
      failures: res.failures,
      wallMs: res.wallMs,
      cpuSec: cpuAfter - before.cpuSec,
      rssDeltaBytes: rssAfter - before.rssBytes,
      retransmits: res.retransmits,
    };
  } finally {
    await driver.stop(2000);
    await responder.stop();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const k = Number(arg('k', '1000'));
  const window = Number(arg('window', '64'));
  const runs = Number(arg('runs', '1'));
  let targets = arg('targets', 'outpost,charon').split(',') as Target[];
  const probe = canRunNetns();
  if (!probe.ok) {
    console.log(`handshakes: skipped (${probe.reason})`);
    return;
  }
  const sw = ensureStrongswan();
  if (!sw.ok) targets = targets.filter((t) => t !== 'charon');
  if (!outpostCliExists()) {
    console.log('handshakes: outpost target skipped (firmware/bin/outpost.ts missing)');
    targets = targets.filter((t) => t !== 'outpost');
  }
  console.log(`handshakes: K=${k} window=${window} runs=${runs}; ${IKE}, ESP ${ESP}, ECDSA P-256 certificates`);
  const t0 = performance.now();
  const ca = makeBenchCa();
  const gw = issueBenchCert(ca, GW_FQDN);
  const clients = Array.from({ length: k }, (_, i) => issueBenchCert(ca, `c${String(i).padStart(5, '0')}.bench.example`));
  console.log(`  minted ${k + 1} certificates in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const topo = await createTopology('bench');
  const results: RunResult[] = [];
  try {
    for (let r = 0; r < runs; r++) {
      for (const target of r % 2 === 0 ? targets : [...targets].reverse()) {
        try {
          const res = await runOnce(topo, target, ca, gw, clients, window, results.length);
          results.push(res);
          console.log(
            `  run ${r + 1} ${target}: ${res.established}/${res.k} up, ${(res.wallMs / 1000).toFixed(2)} s wall, responder CPU ${res.cpuSec.toFixed(2)} s, RSS +${(res.rssDeltaBytes / 1048576).toFixed(1)} MiB, ${res.retransmits} retransmits`,
          );
        } catch (e) {
          console.log(`  run ${r + 1} ${target}: FAILED: ${(e as Error).message.split('\n').slice(0, 12).join('\n    ')}`);
        }
      }
    }
  } finally {
    await topo.destroy();
  }

  const rows = targets
    .map((t) => {
      const rs = results.filter((x) => x.target === t && x.established > 0);
      if (rs.length === 0) return undefined;
      const cpuPerSetupMs = median(rs.map((x) => (x.cpuSec * 1000) / x.established));
      const kbPerSa = median(rs.map((x) => x.rssDeltaBytes / 1024 / x.established));
      const wallRate = median(rs.map((x) => x.established / (x.wallMs / 1000)));
      return { t, n: rs.length, established: median(rs.map((x) => x.established)), cpuPerSetupMs, perCpuSec: 1000 / cpuPerSetupMs, kbPerSa, wallRate };
    })
    .filter((x) => x !== undefined);
  console.log('');
  console.log('| responder | runs | SAs up | CPU per setup | setups per responder CPU-s | memory per IKE SA | wall rate (initiator-bound) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.t} | ${r.n} | ${r.established} | ${r.cpuPerSetupMs.toFixed(2)} ms | ${r.perCpuSec.toFixed(0)} /s | ${r.kbPerSa.toFixed(1)} KiB | ${r.wallRate.toFixed(0)} /s |`,
    );
  }
  const o = rows.find((r) => r.t === 'outpost');
  const c = rows.find((r) => r.t === 'charon');
  if (o && c) {
    console.log('');
    console.log(`Outpost/charon: setups per CPU-second ${(o.perCpuSec / c.perCpuSec).toFixed(2)}×, memory per IKE SA ${(o.kbPerSa / c.kbPerSa).toFixed(2)}×`);
  }
}

if (import.meta.main) await main();
