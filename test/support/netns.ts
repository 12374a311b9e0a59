// Per-test-file network namespace topology (cl ─ gw ─ lan on RFC 5737 ranges) for interop tests with real peers.
//
//   netns cl ── veth ── netns gw ─────────────── veth ── netns lan
//   192.0.2.2           192.0.2.1 | 198.51.100.1          198.51.100.2
//                       ip_forward=1                      203.0.113.0/24 via 198.51.100.1 (virtual IPs)
//
// Namespace names carry a random suffix so parallel runs (two checkouts, CI next to a developer) never
// collide. The topology owns every process it starts and kills only those, by PID, before deleting the
// namespaces; a process 'exit' hook does the same synchronously if a test run dies half-way.
import { spawn as spawnChild, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Role = 'cl' | 'gw' | 'lan';

/** Addresses of the fixed topology (RFC 5737). `vipNet` is where gateways put client virtual IPs. */
export const ADDR = {
  cl: '192.0.2.2',
  gwOuter: '192.0.2.1',
  gwInner: '198.51.100.1',
  lan: '198.51.100.2',
  outerNet: '192.0.2.0/24',
  innerNet: '198.51.100.0/24',
  vipNet: '203.0.113.0/24',
} as const;

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface ExecOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
  input?: string;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Default: stdin ignored, stdout/stderr piped (the caller must consume them or pass 'ignore'/fds). */
  stdio?: StdioOptions;
}

export interface Spawned {
  pid: number;
  child: ChildProcess;
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface Topology {
  id: string;
  ns: Record<Role, string>;
  /** Private temporary directory for this topology (configs, logs, sockets). */
  dir: string;
  exec(role: Role | string, argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  spawn(role: Role | string, argv: string[], opts?: SpawnOptions): Spawned;
  /** Kills every process this topology started (by PID), deletes the namespaces and the temp dir. */
  destroy(): Promise<void>;
}

let probeResult: { ok: true } | { ok: false; reason: string } | undefined;

/** Whether this machine can run namespace tests: root, iproute2, and `ip netns add` works. Cached. */
export function canRunNetns(): { ok: true } | { ok: false; reason: string } {
  if (probeResult) return probeResult;
  probeResult = probe();
  return probeResult;
}

function probe(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { ok: false, reason: 'network namespace tests need root (uid 0)' };
  }
  const name = `op-probe-${randomBytes(4).toString('hex')}`;
  const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (add.error) return { ok: false, reason: `iproute2 'ip' not runnable: ${add.error.message}` };
  if (add.status !== 0) return { ok: false, reason: `'ip netns add' failed: ${add.stderr.trim()}` };
  const veth = spawnSync('ip', ['-n', name, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1'], { encoding: 'utf8' });
  spawnSync('ip', ['netns', 'del', name]);
  if (veth.status !== 0) return { ok: false, reason: `cannot create veth pairs: ${veth.stderr.trim()}` };
  return { ok: true };
}

/** The reason namespace suites must skip on this machine (also printed), or undefined when they can run. */
export function netnsSkipReason(): string | undefined {
  const p = canRunNetns();
  if (p.ok) return undefined;
  console.warn(`[interop] skipped: ${p.reason}`);
  return p.reason;
}

function ipSync(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${(r.stderr || r.error?.message || '').trim()}`);
}

const liveTopologies = new Set<TopologyImpl>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const t of liveTopologies) t.destroySync();
  });
  // 'exit' does not run when a signal ends the process (Ctrl-C, a runner killing a hung worker).
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(sig, () => {
      for (const t of liveTopologies) t.destroySync();
      process.exit(code);
    });
  }
}

class TopologyImpl implements Topology {
  readonly id: string;
  readonly ns: Record<Role, string>;
  readonly dir: string;
  private readonly procs = new Set<Spawned>();
  private destroyed = false;

  constructor(label: string) {
    this.id = randomBytes(4).toString('hex');
    this.ns = { cl: `op-${this.id}-cl`, gw: `op-${this.id}-gw`, lan: `op-${this.id}-lan` };
    this.dir = mkdtempSync(join(tmpdir(), `outpost-${label}-`));
  }

  build(): void {
    const { cl, gw, lan } = this.ns;
    for (const n of [cl, gw, lan]) ipSync(['netns', 'add', n]);
    // Created directly inside the namespaces so no interface name ever exists in (or collides in) the host.
    ipSync(['link', 'add', 'eth0', 'netns', cl, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', gw]);
    ipSync(['link', 'add', 'eth1', 'netns', gw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lan]);
    ipSync(['-n', cl, 'addr', 'add', `${ADDR.cl}/24`, 'dev', 'eth0']);
    ipSync(['-n', gw, 'addr', 'add', `${ADDR.gwOuter}/24`, 'dev', 'eth0']);
    ipSync(['-n', gw, 'addr', 'add', `${ADDR.gwInner}/24`, 'dev', 'eth1']);
    ipSync(['-n', lan, 'addr', 'add', `${ADDR.lan}/24`, 'dev', 'eth0']);
    for (const n of [cl, gw, lan]) {
      ipSync(['-n', n, 'link', 'set', 'lo', 'up']);
      ipSync(['-n', n, 'link', 'set', 'eth0', 'up']);
    }
    ipSync(['-n', gw, 'link', 'set', 'eth1', 'up']);
    ipSync(['-n', lan, 'route', 'add', ADDR.vipNet, 'via', ADDR.gwInner]);
    const fwd = spawnSync('ip', ['netns', 'exec', gw, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'], { encoding: 'utf8' });
    if (fwd.status !== 0) throw new Error(`enabling ip_forward in ${gw} failed: ${fwd.stderr.trim()}`);
  }

  /**
   * Waits until every veth is operationally up. The kernel's link watcher sets IFF_RUNNING up to a second after
   * both ends are up, and until then getifaddrs()-based listeners (libuv's networkInterfaces) skip the interface.
   */
  async waitLinksUp(timeoutMs = 5000): Promise<void> {
    const links: [string, string][] = [
      [this.ns.cl, 'eth0'],
      [this.ns.gw, 'eth0'],
      [this.ns.gw, 'eth1'],
      [this.ns.lan, 'eth0'],
    ];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const down = links.filter(([n, dev]) => {
        const r = spawnSync('ip', ['-n', n, '-o', 'link', 'show', 'dev', dev], { encoding: 'utf8' });
        return !/state UP/.test(r.stdout);
      });
      if (down.length === 0) return;
      if (Date.now() > deadline) throw new Error(`links still down after ${timeoutMs} ms: ${down.map(([n, d]) => `${n}/${d}`).join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private nsName(role: Role | string): string {
    return role === 'cl' || role === 'gw' || role === 'lan' ? this.ns[role] : role;
  }

  spawn(role: Role | string, argv: string[], opts: SpawnOptions = {}): Spawned {
    if (this.destroyed) throw new Error('topology already destroyed');
    // `ip netns exec` execs the command in place, so the PID we get is the command's own.
    const child = spawnChild('ip', ['netns', 'exec', this.nsName(role), ...argv], {
      cwd: opts.cwd,
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error(`spawn failed: ${argv.join(' ')}`);
    const pid = child.pid;
    let running = true;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('exit', (code, signal) => {
        running = false;
        resolve({ code, signal });
      });
      child.on('error', () => {
        running = false;
        resolve({ code: null, signal: null });
      });
    });
    const handle: Spawned = {
      pid,
      child,
      exited,
      isRunning: () => running,
      stop: async (graceMs = 3000) => {
        if (running) {
          try {
            process.kill(pid, 'SIGTERM');
          } catch {
            /* already gone */
          }
          const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs));
          if ((await Promise.race([exited.then(() => 'exited' as const), timer])) === 'timeout' && running) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              /* already gone */
            }
            await exited;
          }
        }
        this.procs.delete(handle);
      },
    };
    this.procs.add(handle);
    void exited.then(() => {
      // Keep exited processes out of the kill list so a recycled PID is never signalled.
      if (!running) this.procs.delete(handle);
    });
    return handle;
  }

  async exec(role: Role | string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const p = this.spawn(role, argv, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    p.child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (opts.input !== undefined) p.child.stdin?.end(opts.input);
    let timedOut = false;
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      timedOut = true;
      void p.stop(500);
    }, timeoutMs);
    const { code, signal } = await p.exited;
    clearTimeout(timer);
    // 'exit' can precede the last 'data' events of the pipes.
    await new Promise((r) => setImmediate(r));
    return { code, signal, stdout, stderr, timedOut };
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    await Promise.all([...this.procs].map((p) => p.stop(3000)));
    this.destroyed = true;
    liveTopologies.delete(this);
    this.deleteNamespaces();
    if (process.env.OUTPOST_TEST_KEEP !== '1') rmSync(this.dir, { recursive: true, force: true });
  }

  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const p of this.procs) {
      if (!p.isRunning()) continue;
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    this.deleteNamespaces();
    if (process.env.OUTPOST_TEST_KEEP !== '1') rmSync(this.dir, { recursive: true, force: true });
  }

  private deleteNamespaces(): void {
    for (const n of Object.values(this.ns)) spawnSync('ip', ['netns', 'del', n]);
  }
}

/** Creates a fresh cl ─ gw ─ lan topology; call `destroy()` in afterAll. */
export async function createTopology(label = 'interop'): Promise<Topology> {
  const t = new TopologyImpl(label.replace(/[^a-z0-9-]/gi, '-'));
  installExitHook();
  liveTopologies.add(t);
  try {
    t.build();
    await t.waitLinksUp();
  } catch (e) {
    await t.destroy();
    throw e;
  }
  return t;
}
