// Profiler: the real gateway runtime as IKEv2 responder (RFC 7296) in this process, the load generator in a child.
//
//   node_modules/.bin/bun [--cpu-prof-md --cpu-prof-dir DIR] test/bench/gateway-profile.ts [--k 1000] [--auth pubkey|psk]
//                                                                  [--window 64] [--warmup 200] [--log info|warn] [--heap-types] [--status-file]
//
// startGateway() (sockets, effect runner, JSON logging to stderr, chain validation) listens on 127.0.0.1:500/4500;
// handshake-driver.ts runs as a child process on 127.0.0.2, so a CPU profile of this process holds the
// responder's work only. No network namespaces and no charon: a quick loop for profiling, not the benchmark of
// record (that is handshakes.ts). Run it as root (ports 500/4500), with stderr sent somewhere cheap (2>/dev/null
// is what a log pipe costs, roughly). Prints responder CPU per setup (process.cpuUsage across the burst),
// memory per established IKE SA (RSS and heap after a full GC, all SAs up), and the driver's latency percentiles.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { heapStats } from 'bun:jsc';
import { startGateway } from '../../firmware/src/runtime/gateway.ts';
import { createLogger } from '../../firmware/src/runtime/logger.ts';
import { BUN_BIN, REPO_ROOT } from '../support/outpost-process.ts';
import { arg, benchDriverJob, benchGatewayConfig, GW_FQDN } from './bench-gateway-config.ts';
import { issueBenchCert, makeBenchCa } from './bench-pki.ts';
import type { DriverResult } from './handshake-driver.ts';

const GW = '127.0.0.1';
const CL = '127.0.0.2';

/** CPU seconds per thread name (JSC runs JIT compilation and parts of GC on helper threads). */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, '');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

function gc(): void {
  Bun.gc(true);
  Bun.gc(true);
}

async function main(): Promise<void> {
  const k = Number(arg('k', '1000'));
  const auth = arg('auth', 'pubkey') as 'pubkey' | 'psk';
  const window = Number(arg('window', '64'));
  const logLevel = arg('log', 'info') as 'info' | 'warn';
  const warmup = Number(arg('warmup', '200'));
  const ca = makeBenchCa();
  const gwCert = issueBenchCert(ca, GW_FQDN);
  const n = warmup + k;
  const clients = auth === 'pubkey' ? Array.from({ length: n }, (_, i) => issueBenchCert(ca, `c${String(i).padStart(5, '0')}.bench.example`)) : [];
  const dir = mkdtempSync(join(tmpdir(), 'outpost-gwprof-'));
  const job = benchDriverJob({
    localAddr: CL,
    remoteAddr: GW,
    auth,
    caDer: ca.certDer,
    identities: Array.from({ length: n }, (_, i) => {
      const c = clients[i];
      return c
        ? { fqdn: c.fqdn, certDerHex: Buffer.from(c.certDer).toString('hex'), keyDerHex: Buffer.from(c.keyDer).toString('hex') }
        : { fqdn: `c${String(i).padStart(5, '0')}.bench.example`, certDerHex: '', keyDerHex: '' };
    }),
    window,
    timeoutMs: 120_000,
  });
  const jobPath = join(dir, 'job.json');
  writeFileSync(jobPath, JSON.stringify(job));

  const logger = createLogger({ level: logLevel, format: 'json' });
  const config = benchGatewayConfig({ addr: GW, auth, caDer: ca.certDer, gwCertDer: gwCert.certDer, gwKeyDer: gwCert.keyDer, logLevel });
  gc();
  const mem0 = process.memoryUsage();
  const statusFile = process.argv.includes('--status-file') ? join(dir, 'status.json') : undefined;
  const gw = await startGateway(config, { logger, stopGraceMs: 0, ...(statusFile ? { statusFile } : {}) });
  const driver = spawn(BUN_BIN, [join(REPO_ROOT, 'test', 'bench', 'handshake-driver.ts'), jobPath], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: driver.stdout! });
  const next = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      const on = (l: string) => {
        if (!l.startsWith(prefix)) return;
        lines.off('line', on);
        resolve(l.slice(prefix.length).trim());
      };
      lines.on('line', on);
      driver.once('exit', (code) => reject(new Error(`driver exited (${code}) before ${prefix}`)));
    });
  try {
    await next('READY');
    if (warmup > 0) {
      // Let the JIT see the code paths first: a gateway that has been up for a while runs optimised code.
      driver.stdin!.write(`GO ${warmup}\n`);
      await next('DONE');
    }
    await new Promise((r) => setTimeout(r, 200));
    gc();
    const memBefore = process.memoryUsage();
    const types0 = heapStats().objectTypeCounts;
    const threads0 = threadCpu();
    const cpu0 = process.cpuUsage();
    driver.stdin!.write(`GO ${k}\n`);
    const res = JSON.parse(await next('DONE')) as DriverResult;
    const cpu = process.cpuUsage(cpu0);
    const threads1 = threadCpu();
    await new Promise((r) => setTimeout(r, 300));
    gc();
    const memAfter = process.memoryUsage();
    const types1 = heapStats().objectTypeCounts;
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const st = gw.stats().engine as { established?: number } | undefined;
    process.stdout.write(
      `gateway-profile: K=${k} after ${warmup} warm-up, ${auth}, window=${window}, log=${logLevel}: ${res.established}/${k} up (gateway says ${st?.established}), ${res.failed} failed, ${res.retransmits} retransmits\n` +
        `  responder CPU ${(cpuMs / res.established).toFixed(3)} ms per setup (${((res.established * 1000) / cpuMs).toFixed(0)} setups per CPU-second; user ${(cpu.user / 1000 / res.established).toFixed(3)} ms, system ${(cpu.system / 1000 / res.established).toFixed(3)} ms)\n` +
        `  wall ${(res.wallMs / 1000).toFixed(2)} s (${((res.established * 1000) / res.wallMs).toFixed(0)}/s), latency p50 ${res.latencyP50Ms.toFixed(1)} ms, p99 ${res.latencyP99Ms.toFixed(1)} ms\n` +
        `  memory per established IKE SA after GC: RSS ${((memAfter.rss - memBefore.rss) / 1024 / res.established).toFixed(1)} KiB, JS heap ${((memAfter.heapUsed - memBefore.heapUsed) / 1024 / res.established).toFixed(1)} KiB (process baseline RSS ${(mem0.rss / 1048576).toFixed(0)} MiB)\n`,
    );
    const perThread = [...threads1.entries()]
      .map(([name, sec]) => [name, sec - (threads0.get(name) ?? 0)] as const)
      .filter(([, sec]) => sec > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([name, sec]) => `${name} ${((sec * 1000) / res.established).toFixed(2)}`)
      .join(', ');
    process.stdout.write(`  CPU ms per setup by thread: ${perThread}\n`);
    if (process.argv.includes('--heap-types')) {
      const grown = Object.entries(types1)
        .map(([t, n]) => [t, (n - (types0[t] ?? 0)) / res.established] as const)
        .filter(([, d]) => d >= 0.9)
        .sort((a, b) => b[1] - a[1])
        .map(([t, d]) => `${t} ${d.toFixed(1)}`)
        .join(', ');
      process.stdout.write(`  heap objects per established IKE SA: ${grown}\n`);
    }
    if (res.failed > 0) process.stdout.write(`  failures: ${JSON.stringify(res.failures)}\n`);
  } finally {
    driver.kill('SIGTERM');
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await main();
