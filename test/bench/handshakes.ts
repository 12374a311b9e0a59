// Benchmark: IKEv2 handshakes (RFC 7296 IKE_SA_INIT + IKE_AUTH with CHILD_SA) per responder CPU-second, Outpost vs charon.
//
//   netns cl: handshake-driver.ts (Outpost's engine as initiator, one identity per SA)  ──▶  netns gw: responder
//
// Usage (root): node_modules/.bin/bun test/bench/handshakes.ts [--k 1000] [--warmup 100] [--window 64] [--runs 3]
//                                                             [--auth pubkey,psk] [--targets outpost,charon] [--rekey yes|no]
// IKE aes256gcm16-prfsha256-x25519, ESP aes256gcm16; `pubkey` = ECDSA P-256 certificates both ways (RFC 7427),
// `psk` = a pre-shared key. Per run and responder: a warm-up batch (JIT, caches: a gateway that has been up a
// while), then K measured setups. The responder's utime+stime (/proc/PID/stat, all threads) across the K gives
// CPU per setup; its RSS with the K SAs established, after a quiet spell (GC, allocator scavenging), minus its
// RSS before them gives memory per IKE SA; the driver gives p50/p99 setup latency (initiate → CHILD_SA up, incl.
// queueing behind the window). Wall-clock rates on 2 cores measure the initiator as much as the responder, so they
// are context only. Then (--rekey yes, the default) the driver rekeys every one of the warm-up + K CHILD_SAs once
// (CREATE_CHILD_SA with N(REKEY_SA), RFC 7296 §1.3.3, no PFS, then the DELETE of the old CHILD_SA): the
// responder's CPU across that round gives CPU per CHILD rekey, the driver the p50/p99 rekey latency (command →
// new CHILD_SA up). charon runs with dos_protection = no and a 1024×16 IKE SA table (shared/notes/strongswan-netns.md).
// Targets and auth modes are interleaved across runs and medians reported (runs vary ±20–30 % on this VM).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ADDR, canRunNetns, createTopology, type Topology } from '../support/netns.ts';
import { BUN_BIN, OutpostProcess, REPO_ROOT, outpostCliExists } from '../support/outpost-process.ts';
import { Charon, ensureStrongswan, procUsage } from '../support/strongswan.ts';
import { outpostYaml } from '../interop/gateway-under-test.ts';
import { issueBenchCert, makeBenchCa, type BenchCa, type BenchCert } from './bench-pki.ts';
import type { DriverJob, DriverResult, RekeyResult } from './handshake-driver.ts';

const IKE = 'aes256gcm16-prfsha256-x25519';
const ESP = 'aes256gcm16';
const GW_FQDN = 'gw.bench.example';
const CLIENT_NET = '203.0.113.0/24';
const PSK = 'bench pre-shared key, long enough for strongSwan';
/** Quiet time before reading the responder's RSS with the SAs up: Bun's idle GC and mimalloc's page purge. */
const SETTLE_MS = 3000;

type Target = 'outpost' | 'charon';
type Auth = 'pubkey' | 'psk';

interface RunResult {
  target: Target;
  auth: Auth;
  k: number;
  established: number;
  failed: number;
  wallMs: number;
  cpuSec: number;
  rssDeltaBytes: number;
  retransmits: number;
  p50Ms: number;
  p99Ms: number;
  /** The CHILD rekey round, when run. */
  rekey?: { k: number; rekeyed: number; failed: number; cpuSec: number; wallMs: number; p50Ms: number; p99Ms: number; retransmits: number };
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

interface Responder {
  pid: number;
  stop(): Promise<void>;
  tail(): string;
}

async function startCharon(topo: Topology, auth: Auth, ca: BenchCa, gw: BenchCert, run: number): Promise<Responder> {
  const quiet = { dmn: 0, mgr: 0, ike: 0, chd: 0, job: 0, cfg: 0, knl: 0, net: 0, asn: 0, enc: 0, lib: 0, esp: 0 };
  const c = await Charon.start(topo, 'gw', {
    name: `bench-${run}`,
    debug: quiet,
    charon: { dos_protection: false, ikesa_table_size: 1024, ikesa_table_segments: 16, init_limit_half_open: 0 },
  });
  const pubkey = auth === 'pubkey';
  await c.configure(
    {
      connections: {
        bench: {
          version: 2,
          local_addrs: ADDR.gwOuter,
          proposals: IKE,
          local: pubkey ? { auth: 'pubkey', id: GW_FQDN, certs: 'gw.pem' } : { auth: 'psk', id: GW_FQDN },
          remote: pubkey ? { auth: 'pubkey', id: '%any', cacerts: 'ca.pem' } : { auth: 'psk', id: '%any' },
          children: { net: { local_ts: ADDR.innerNet, remote_ts: CLIENT_NET, esp_proposals: ESP } },
        },
      },
      ...(pubkey ? {} : { secrets: { 'ike-bench': { id: GW_FQDN, secret: PSK } } }),
    },
    pubkey ? { x509: { 'gw.pem': gw.certPem }, x509ca: { 'ca.pem': ca.certPem }, private: { 'gw.key': gw.keyPem } } : {},
  );
  return { pid: c.pid!, stop: () => c.stop(), tail: () => c.tail(30) };
}

async function startOutpost(topo: Topology, auth: Auth, ca: BenchCa, gw: BenchCert, run: number): Promise<Responder> {
  const dir = join(topo.dir, `outpost-bench-${run}`);
  mkdirSync(dir, { recursive: true });
  const pubkey = auth === 'pubkey';
  const config = outpostYaml(
    {
      pools: [],
      cas: pubkey ? [{ name: 'bench', cert: { certPem: ca.certPem } }] : [],
      conns: [
        {
          name: 'bench',
          localId: GW_FQDN,
          localAuth: auth,
          ...(pubkey ? { cert: { certPem: gw.certPem, key: { pem: gw.keyPem, pkcs8Pem: gw.keyPem } } } : { psk: PSK }),
          remoteId: '%any',
          remoteAuth: auth,
          cas: pubkey ? ['bench'] : [],
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
  return { pid: p.pid!, stop: () => p.stop(), tail: () => p.tail(30) };
}

async function runOnce(
  topo: Topology,
  target: Target,
  auth: Auth,
  ca: BenchCa,
  gw: BenchCert,
  clients: BenchCert[],
  opts: { k: number; warmup: number; window: number; rekey: boolean },
  run: number,
): Promise<RunResult> {
  const responder = target === 'charon' ? await startCharon(topo, auth, ca, gw, run) : await startOutpost(topo, auth, ca, gw, run);
  const job: DriverJob = {
    localAddr: ADDR.cl,
    remoteAddr: ADDR.gwOuter,
    ikeProposal: IKE,
    espProposal: ESP,
    localTs: [CLIENT_NET],
    remoteTs: [ADDR.innerNet],
    remoteId: `fqdn:${GW_FQDN}`,
    caDerHex: Buffer.from(ca.certDer).toString('hex'),
    auth,
    pskHex: Buffer.from(PSK).toString('hex'),
    identities: clients.map((c) => ({ fqdn: c.fqdn, certDerHex: Buffer.from(c.certDer).toString('hex'), keyDerHex: Buffer.from(c.keyDer).toString('hex') })),
    window: opts.window,
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
  const batch = async (n: number): Promise<DriverResult> => {
    driver.child.stdin!.write(`GO ${n}\n`);
    const res = JSON.parse(await nextLine('DONE', 180_000)) as DriverResult;
    if (res.failed > 0) console.error(`[${target}/${auth}] ${res.failed} setups failed: ${JSON.stringify(res.failures)}\n${driverErr.slice(-1000)}`);
    return res;
  };
  try {
    await nextLine('READY', 60_000);
    if (opts.warmup > 0) await batch(opts.warmup);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const before = procUsage(responder.pid);
    const res = await batch(opts.k);
    const cpuAfter = procUsage(responder.pid).cpuSec;
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const rssAfter = procUsage(responder.pid).rssBytes;
    let rekey: RunResult['rekey'];
    if (opts.rekey) {
      const cpu0 = procUsage(responder.pid).cpuSec;
      driver.child.stdin!.write('REKEY\n');
      const rr = JSON.parse(await nextLine('REKEYED', 180_000)) as RekeyResult;
      const cpu1 = procUsage(responder.pid).cpuSec;
      if (rr.failed > 0) console.error(`[${target}/${auth}] ${rr.failed} of ${rr.k} CHILD rekeys failed\n${driverErr.slice(-1000)}`);
      rekey = { k: rr.k, rekeyed: rr.rekeyed, failed: rr.failed, cpuSec: cpu1 - cpu0, wallMs: rr.wallMs, p50Ms: rr.latencyP50Ms, p99Ms: rr.latencyP99Ms, retransmits: rr.retransmits };
    }
    return {
      rekey,
      target,
      auth,
      k: res.k,
      established: res.established,
      failed: res.failed,
      wallMs: res.wallMs,
      cpuSec: cpuAfter - before.cpuSec,
      rssDeltaBytes: rssAfter - before.rssBytes,
      retransmits: res.retransmits,
      p50Ms: res.latencyP50Ms,
      p99Ms: res.latencyP99Ms,
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

function machine(): string {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  let charon = 'charon not installed';
  try {
    charon = `strongSwan ${execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'strongswan-charon'], { encoding: 'utf8' }).trim()}`;
  } catch {
    // not a Debian package
  }
  let kernel = '';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // not Linux
  }
  return `${cpus().length} × ${model}, Linux ${kernel}, Bun ${Bun.version}, ${charon}`;
}

async function main(): Promise<void> {
  const k = Number(arg('k', '1000'));
  const warmup = Number(arg('warmup', '100'));
  const window = Number(arg('window', '64'));
  const runs = Number(arg('runs', '3'));
  const rekey = arg('rekey', 'yes') !== 'no';
  const auths = arg('auth', 'pubkey,psk').split(',') as Auth[];
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
  console.log(`handshakes: ${new Date().toISOString()}; ${machine()}`);
  console.log(`  K=${k} measured after ${warmup} warm-up, window=${window}, runs=${runs}; ${IKE}, ESP ${ESP}; auth ${auths.join(', ')} (pubkey = ECDSA P-256 certificates)${rekey ? `; then every CHILD_SA (${warmup + k}) rekeyed once` : ''}`);
  const t0 = performance.now();
  const ca = makeBenchCa();
  const gw = issueBenchCert(ca, GW_FQDN);
  const clients = Array.from({ length: warmup + k }, (_, i) => issueBenchCert(ca, `c${String(i).padStart(5, '0')}.bench.example`));
  console.log(`  minted ${clients.length + 1} certificates in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const topo = await createTopology('bench');
  const results: RunResult[] = [];
  let n = 0;
  try {
    for (let r = 0; r < runs; r++) {
      // Alternate the order every run so neither responder always goes first (page cache, CPU frequency, noise).
      const order = auths.flatMap((a) => targets.map((t) => [t, a] as const));
      for (const [target, auth] of r % 2 === 0 ? order : [...order].reverse()) {
        try {
          const res = await runOnce(topo, target, auth, ca, gw, clients, { k, warmup, window, rekey }, n++);
          results.push(res);
          console.log(
            `  run ${r + 1} ${target}/${auth}: ${res.established}/${res.k} up, responder CPU ${res.cpuSec.toFixed(2)} s, RSS +${(res.rssDeltaBytes / 1048576).toFixed(1)} MiB, latency p50 ${res.p50Ms.toFixed(0)} ms p99 ${res.p99Ms.toFixed(0)} ms, ${(res.wallMs / 1000).toFixed(2)} s wall, ${res.retransmits} retransmits`,
          );
          if (res.rekey) {
            const x = res.rekey;
            console.log(
              `  run ${r + 1} ${target}/${auth} CHILD rekeys: ${x.rekeyed}/${x.k} done, responder CPU ${x.cpuSec.toFixed(2)} s, latency p50 ${x.p50Ms.toFixed(0)} ms p99 ${x.p99Ms.toFixed(0)} ms, ${(x.wallMs / 1000).toFixed(2)} s wall, ${x.retransmits} retransmits`,
            );
          }
        } catch (e) {
          console.log(`  run ${r + 1} ${target}/${auth}: FAILED: ${(e as Error).message.split('\n').slice(0, 12).join('\n    ')}`);
        }
      }
    }
  } finally {
    await topo.destroy();
  }

  for (const auth of auths) {
    const rows = targets
      .map((t) => {
        const rs = results.filter((x) => x.target === t && x.auth === auth && x.established > 0);
        if (rs.length === 0) return undefined;
        const cpuPerSetupMs = median(rs.map((x) => (x.cpuSec * 1000) / x.established));
        return {
          t,
          n: rs.length,
          established: median(rs.map((x) => x.established)),
          cpuPerSetupMs,
          perCpuSec: 1000 / cpuPerSetupMs,
          kbPerSa: median(rs.map((x) => x.rssDeltaBytes / 1024 / x.established)),
          p50: median(rs.map((x) => x.p50Ms)),
          p99: median(rs.map((x) => x.p99Ms)),
          wallRate: median(rs.map((x) => x.established / (x.wallMs / 1000))),
        };
      })
      .filter((x) => x !== undefined);
    console.log('');
    console.log(`${auth === 'pubkey' ? 'Certificates (ECDSA P-256)' : 'PSK'}, medians:`);
    console.log('| responder | runs | SAs up | CPU per setup | setups per responder CPU-s | memory per IKE SA | latency p50 / p99 | wall rate (initiator-bound) |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      console.log(
        `| ${r.t} | ${r.n} | ${r.established} | ${r.cpuPerSetupMs.toFixed(2)} ms | ${r.perCpuSec.toFixed(0)} /s | ${r.kbPerSa.toFixed(1)} KiB | ${r.p50.toFixed(0)} / ${r.p99.toFixed(0)} ms | ${r.wallRate.toFixed(0)} /s |`,
      );
    }
    const o = rows.find((r) => r.t === 'outpost');
    const c = rows.find((r) => r.t === 'charon');
    if (o && c) {
      console.log(`Outpost/charon (${auth}): setups per CPU-second ${(o.perCpuSec / c.perCpuSec).toFixed(2)}× (goal ≥ 1.5×), memory per IKE SA ${(o.kbPerSa / c.kbPerSa).toFixed(2)}×`);
    }
    if (!rekey) continue;
    const rk = targets
      .map((t) => {
        const rs = results.filter((x) => x.target === t && x.auth === auth && x.rekey && x.rekey.rekeyed > 0);
        if (rs.length === 0) return undefined;
        const cpuPerRekeyMs = median(rs.map((x) => (x.rekey!.cpuSec * 1000) / x.rekey!.rekeyed));
        return {
          t,
          n: rs.length,
          rekeyed: median(rs.map((x) => x.rekey!.rekeyed)),
          k: median(rs.map((x) => x.rekey!.k)),
          cpuPerRekeyMs,
          perCpuSec: 1000 / cpuPerRekeyMs,
          p50: median(rs.map((x) => x.rekey!.p50Ms)),
          p99: median(rs.map((x) => x.rekey!.p99Ms)),
          wallRate: median(rs.map((x) => x.rekey!.rekeyed / (x.rekey!.wallMs / 1000))),
        };
      })
      .filter((x) => x !== undefined);
    console.log('');
    console.log(`CHILD_SA rekeys on those IKE SAs (${auth}; CREATE_CHILD_SA without PFS + DELETE of the old CHILD_SA), medians:`);
    console.log('| responder | runs | rekeyed / CHILD_SAs | CPU per rekey | rekeys per responder CPU-s | rekey latency p50 / p99 | wall rate (initiator-bound) |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of rk) {
      console.log(`| ${r.t} | ${r.n} | ${r.rekeyed} / ${r.k} | ${r.cpuPerRekeyMs.toFixed(3)} ms | ${r.perCpuSec.toFixed(0)} /s | ${r.p50.toFixed(0)} / ${r.p99.toFixed(0)} ms | ${r.wallRate.toFixed(0)} /s |`);
    }
    const ro = rk.find((r) => r.t === 'outpost');
    const rc = rk.find((r) => r.t === 'charon');
    if (ro && rc) console.log(`Outpost/charon (${auth}): CHILD rekeys per CPU-second ${(ro.perCpuSec / rc.perCpuSec).toFixed(2)}×`);
  }
}

if (import.meta.main) await main();
