// Drives a private strongSwan 5.9 charon inside a test namespace (swanctl/vici, RFC 7296 peer for interop tests).
//
// Each instance gets its own strongswan.conf (explicit plugin list, kernel-libipsec before kernel-netlink, so
// ESP runs in userspace over TUN because this kernel has no ESP), its own vici socket, SWANCTL_DIR and a
// private /run (charon hard-codes /var/run/charon.pid). See /work/shared/notes/strongswan-netns.md.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Role, Spawned, Topology } from './netns.ts';

export const CHARON_BIN = '/usr/lib/ipsec/charon';
export const SWANCTL_BIN = '/usr/sbin/swanctl';

const CHARON_PLUGINS =
  'random nonce openssl pem pkcs1 pkcs8 x509 pubkey constraints aes sha1 sha2 md5 hmac gcm chapoly ' +
  'curve25519 kdf drbg gcrypt kernel-libipsec kernel-netlink socket-default vici eap-identity eap-mschapv2 eap-tls';
const SWANCTL_PLUGINS = 'pem pkcs1 pkcs8 x509 pubkey openssl random nonce sha1 sha2 aes curve25519';
const PKI_PLUGINS = 'pem pkcs1 pkcs8 x509 pubkey openssl random nonce sha1 sha2 aes curve25519 gmp';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Makes sure charon, swanctl and pki are installed (runs scripts/install-test-deps.sh when not, which needs root
 * and apt). Returns the reason when strongSwan is still unavailable, so suites can skip with it.
 */
export function ensureStrongswan(): { ok: true } | { ok: false; reason: string } {
  const missing = () =>
    [CHARON_BIN, SWANCTL_BIN, '/usr/bin/pki', '/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so', '/usr/bin/ping'].filter((f) => !existsSync(f));
  if (missing().length === 0) return { ok: true };
  const script = join(repoRoot, 'scripts', 'install-test-deps.sh');
  const r = spawnSync('bash', [script], { encoding: 'utf8', timeout: 600_000 });
  const still = missing();
  if (still.length === 0) return { ok: true };
  return {
    ok: false,
    reason: `strongSwan not installed (${still.join(', ')} missing); ${script} exited ${r.status}: ${(r.stderr || '').trim().slice(-400)}`,
  };
}

// ---------------------------------------------------------------------------------------------------------
// swanctl.conf / strongswan.conf writer

export type SwanValue = string | number | boolean | string[] | SwanSection | undefined;
export interface SwanSection {
  [key: string]: SwanValue;
}

function quote(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Serialises a nested object in strongswan.conf/swanctl.conf syntax (arrays become comma lists). */
export function formatSwanConf(section: SwanSection, indent = ''): string {
  let out = '';
  for (const [key, value] of Object.entries(section)) {
    if (value === undefined) continue;
    if (typeof value === 'object' && !Array.isArray(value)) {
      out += `${indent}${key} {\n${formatSwanConf(value, indent + '  ')}${indent}}\n`;
    } else if (Array.isArray(value)) {
      out += `${indent}${key} = ${quote(value.join(','))}\n`;
    } else if (typeof value === 'boolean') {
      out += `${indent}${key} = ${value ? 'yes' : 'no'}\n`;
    } else {
      out += `${indent}${key} = ${quote(String(value))}\n`;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// swanctl --list-sas --raw parsing

export interface ChildSaInfo {
  name: string;
  uniqueId: string;
  state: string; // INSTALLED, REKEYING, ...
  mode: string;
  protocol: string;
  encap: boolean;
  spiIn: string; // hex as swanctl prints it
  spiOut: string;
  proposal: string; // e.g. AES_GCM_16_256 or AES_CBC_256/HMAC_SHA2_256_128/MODP_2048
  localTs: string[];
  remoteTs: string[];
  raw: Record<string, unknown>;
}

export interface IkeSaInfo {
  conn: string;
  uniqueId: string;
  state: string; // ESTABLISHED, CONNECTING, ...
  initiator: boolean;
  localHost: string;
  localPort: number;
  localId: string;
  remoteHost: string;
  remotePort: number;
  remoteId: string;
  natLocal: boolean;
  natRemote: boolean;
  proposal: string; // e.g. AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519
  localVips: string[];
  remoteVips: string[];
  children: ChildSaInfo[];
  raw: Record<string, unknown>;
}

type RawValue = string | string[] | RawSection;
interface RawSection {
  [k: string]: RawValue;
}

/** Parses vici's raw text rendering: `name {k=v list=[a b] sub {..}}`. */
export function parseViciRaw(text: string): RawSection {
  let i = 0;
  const skipWs = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const word = (): string => {
    const start = i;
    while (i < text.length && !/[\s{}[\]=]/.test(text[i]!)) i++;
    return text.slice(start, i);
  };
  const token = (): string => {
    const start = i;
    while (i < text.length && !/[\s{}[\]]/.test(text[i]!)) i++;
    return text.slice(start, i);
  };
  // vici prints values unquoted, so a DN identity ("C=US, O=Outpost Test, CN=x") contains spaces. A value ends
  // where the next token is a lowercase vici key (`remote-host=`), a section (`name {`) or a closing brace.
  const value = (): string => {
    let v = token();
    for (;;) {
      const save = i;
      skipWs();
      if (i >= text.length || text[i] === '}' || text[i] === ']' || text[i] === '{') {
        i = save;
        return v;
      }
      const next = token();
      const afterNext = i;
      skipWs();
      const opensSection = text[i] === '{';
      i = afterNext;
      if (/^[a-z][a-z0-9_-]*=/.test(next) || opensSection) {
        i = save;
        return v;
      }
      v += ` ${next}`;
    }
  };
  const section = (): RawSection => {
    const out: RawSection = {};
    for (;;) {
      skipWs();
      if (i >= text.length || text[i] === '}') {
        i++;
        return out;
      }
      const key = word();
      skipWs();
      if (text[i] === '{') {
        i++;
        out[key] = section();
      } else if (text[i] === '=') {
        i++;
        if (text[i] === '[') {
          i++;
          const list: string[] = [];
          for (;;) {
            skipWs();
            if (i >= text.length || text[i] === ']') {
              i++;
              break;
            }
            list.push(token());
          }
          out[key] = list;
        } else {
          out[key] = value();
        }
      } else if (key === '') {
        i++; // stray character: skip it rather than loop
      } else {
        out[key] = '';
      }
    }
  };
  return section();
}

function str(v: RawValue | undefined): string {
  return typeof v === 'string' ? v : '';
}
function list(v: RawValue | undefined): string[] {
  return Array.isArray(v) ? v : typeof v === 'string' && v !== '' ? [v] : [];
}

function algString(s: RawSection, withPrf: boolean): string {
  const parts: string[] = [];
  const encr = str(s['encr-alg']);
  if (encr) parts.push(s['encr-keysize'] ? `${encr}_${str(s['encr-keysize'])}` : encr);
  if (s['integ-alg']) parts.push(s['integ-keysize'] ? `${str(s['integ-alg'])}_${str(s['integ-keysize'])}` : str(s['integ-alg']));
  if (withPrf && s['prf-alg']) parts.push(str(s['prf-alg']));
  if (s['dh-group']) parts.push(str(s['dh-group']));
  return parts.join('/');
}

/** Converts `swanctl --list-sas --raw` output into objects. */
export function parseListSas(rawOutput: string): IkeSaInfo[] {
  const out: IkeSaInfo[] = [];
  for (const line of rawOutput.split('\n')) {
    const m = /^list-sa event \{(.*)\}\s*$/.exec(line.trim());
    if (!m) continue;
    const top = parseViciRaw(m[1]!);
    for (const [conn, v] of Object.entries(top)) {
      if (typeof v !== 'object' || Array.isArray(v)) continue;
      const children: ChildSaInfo[] = [];
      const cs = v['child-sas'];
      if (cs && typeof cs === 'object' && !Array.isArray(cs)) {
        for (const c of Object.values(cs)) {
          if (typeof c !== 'object' || Array.isArray(c)) continue;
          children.push({
            name: str(c.name),
            uniqueId: str(c.uniqueid),
            state: str(c.state),
            mode: str(c.mode),
            protocol: str(c.protocol),
            encap: str(c.encap) === 'yes',
            spiIn: str(c['spi-in']),
            spiOut: str(c['spi-out']),
            proposal: algString(c, false),
            localTs: list(c['local-ts']),
            remoteTs: list(c['remote-ts']),
            raw: c,
          });
        }
      }
      out.push({
        conn,
        uniqueId: str(v.uniqueid),
        state: str(v.state),
        initiator: str(v.initiator) === 'yes',
        localHost: str(v['local-host']),
        localPort: Number(str(v['local-port'])),
        localId: str(v['local-id']),
        remoteHost: str(v['remote-host']),
        remotePort: Number(str(v['remote-port'])),
        remoteId: str(v['remote-id']),
        natLocal: str(v['nat-local']) === 'yes',
        natRemote: str(v['nat-remote']) === 'yes',
        proposal: algString(v, true),
        localVips: list(v['local-vips']),
        remoteVips: list(v['remote-vips']),
        children,
        raw: v,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// charon instance

export interface CharonOptions {
  /** Instance name, used for its directory under the topology's temp dir. */
  name: string;
  /** Log levels per subsystem for the file log (default: ike 2, cfg 2, knl 1, net 1, enc 1, others 1). */
  debug?: Partial<Record<'dmn' | 'mgr' | 'ike' | 'chd' | 'job' | 'cfg' | 'knl' | 'net' | 'asn' | 'enc' | 'lib' | 'esp' | 'tls' | 'tnc' | 'imc' | 'imv' | 'pts' | 'app', number>>;
  /** Extra settings merged into the `charon { }` section. */
  charon?: SwanSection;
  startTimeoutMs?: number;
}

export interface SwanctlFiles {
  /** file name → PEM, placed in x509/ (own and peer certificates). */
  x509?: Record<string, string>;
  /** file name → PEM, placed in x509ca/. */
  x509ca?: Record<string, string>;
  /** file name → PEM private key (any type), placed in private/. */
  private?: Record<string, string>;
}

export interface SwanctlConfig {
  connections?: SwanSection;
  secrets?: SwanSection;
  pools?: SwanSection;
  authorities?: SwanSection;
}

export interface CommandResult {
  ok: boolean;
  code: number | null;
  output: string;
  timedOut: boolean;
}

const SWANCTL_SUBDIRS = ['x509', 'x509ca', 'x509aa', 'x509ocsp', 'x509crl', 'x509ac', 'pubkey', 'private', 'rsa', 'ecdsa', 'bliss', 'pkcs8', 'pkcs12', 'conf.d'];

export class Charon {
  readonly dir: string;
  readonly swanctlDir: string;
  readonly confPath: string;
  readonly viciUri: string;
  readonly logPath: string;
  readonly stdoutPath: string;
  private proc: Spawned | undefined;

  private constructor(
    readonly topo: Topology,
    readonly role: Role | string,
    readonly opts: CharonOptions,
  ) {
    this.dir = join(topo.dir, `charon-${opts.name}`);
    this.swanctlDir = join(this.dir, 'swanctl');
    this.confPath = join(this.dir, 'strongswan.conf');
    this.viciUri = `unix://${join(this.dir, 'charon.vici')}`;
    this.logPath = join(this.dir, 'charon.log');
    this.stdoutPath = join(this.dir, 'charon.stdout');
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts charon in the namespace `role` and waits until its vici socket answers. */
  static async start(topo: Topology, role: Role | string, opts: CharonOptions): Promise<Charon> {
    const c = new Charon(topo, role, opts);
    await c.launch();
    return c;
  }

  private async launch(): Promise<void> {
    const runDir = join(this.dir, 'run');
    for (const d of [this.dir, runDir, this.swanctlDir, ...SWANCTL_SUBDIRS.map((s) => join(this.swanctlDir, s))]) {
      mkdirSync(d, { recursive: true });
    }
    writeFileSync(join(this.swanctlDir, 'swanctl.conf'), '');
    const debug = { dmn: 1, mgr: 1, ike: 2, chd: 1, job: 1, cfg: 2, knl: 1, net: 1, asn: 1, enc: 1, lib: 1, esp: 1, ...this.opts.debug };
    const conf: SwanSection = {
      charon: {
        load: CHARON_PLUGINS,
        retransmit_timeout: '1.0',
        retransmit_tries: 3,
        install_routes: true,
        ...this.opts.charon,
        plugins: {
          vici: { socket: this.viciUri },
          openssl: { load_legacy: true },
          ...((this.opts.charon?.plugins as SwanSection | undefined) ?? {}),
        },
        filelog: {
          main: { path: this.logPath, time_format: '%T', ike_name: true, append: false, flush_line: true, default: 1, ...debug },
        },
        syslog: { daemon: { default: -1 } },
      },
      swanctl: { socket: this.viciUri, load: SWANCTL_PLUGINS },
      pki: { load: PKI_PLUGINS },
    };
    writeFileSync(this.confPath, formatSwanConf(conf));
    const out = openSync(this.stdoutPath, 'w');
    try {
      this.proc = this.topo.spawn(
        this.role,
        ['sh', '-c', 'mount --bind "$1" /run && exec env STRONGSWAN_CONF="$2" "$3"', 'sh', runDir, this.confPath, CHARON_BIN],
        { stdio: ['ignore', out, out] },
      );
    } finally {
      closeSync(out);
    }
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 10_000);
    for (;;) {
      if (!this.proc.isRunning()) {
        throw new Error(`charon ${this.opts.name} exited during start:\n${this.tail(40)}`);
      }
      if (existsSync(join(this.dir, 'charon.vici'))) {
        const r = await this.swanctl(['--stats'], 5);
        if (r.ok) return;
      }
      if (Date.now() > deadline) throw new Error(`charon ${this.opts.name} did not start in time:\n${this.tail(40)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Runs swanctl against this instance (from the host namespace: the vici socket is a file in our dir). */
  async swanctl(args: string[], timeoutSec = 20): Promise<CommandResult> {
    const [cmd, ...rest] = args;
    const argv = [cmd!, ...rest, '--uri', this.viciUri];
    return await runCommand(SWANCTL_BIN, argv, { STRONGSWAN_CONF: this.confPath, SWANCTL_DIR: this.swanctlDir }, timeoutSec * 1000);
  }

  /** Writes swanctl.conf and credential files (replacing the previous ones). */
  writeConfig(conf: SwanctlConfig, files: SwanctlFiles = {}): void {
    for (const [sub, entries] of [
      ['x509', files.x509],
      ['x509ca', files.x509ca],
      ['private', files.private],
    ] as const) {
      for (const [name, pem] of Object.entries(entries ?? {})) writeFileSync(join(this.swanctlDir, sub, name), pem, { mode: 0o600 });
    }
    const top: SwanSection = {};
    if (conf.connections) top.connections = conf.connections;
    if (conf.secrets) top.secrets = conf.secrets;
    if (conf.pools) top.pools = conf.pools;
    if (conf.authorities) top.authorities = conf.authorities;
    writeFileSync(join(this.swanctlDir, 'swanctl.conf'), formatSwanConf(top));
  }

  /** `swanctl --load-all`; throws with swanctl's output when anything fails to load. */
  async loadAll(): Promise<void> {
    const r = await this.swanctl(['--load-all', '--noprompt']);
    if (!r.ok || /failed|error/i.test(r.output)) throw new Error(`swanctl --load-all failed for ${this.opts.name}:\n${r.output}`);
  }

  async configure(conf: SwanctlConfig, files: SwanctlFiles = {}): Promise<void> {
    this.writeConfig(conf, files);
    await this.loadAll();
  }

  /** `swanctl --initiate --child NAME`; ok=false with the control log when establishment fails or times out. */
  async initiate(child: string, opts: { ike?: string; timeoutSec?: number; loglevel?: number } = {}): Promise<CommandResult> {
    const args = ['--initiate', '--child', child];
    if (opts.ike) args.push('--ike', opts.ike);
    args.push('--timeout', String(opts.timeoutSec ?? 15));
    if (opts.loglevel !== undefined) args.push('--loglevel', String(opts.loglevel));
    return await this.swanctl(args, (opts.timeoutSec ?? 15) + 5);
  }

  /** `swanctl --initiate --ike NAME` without a child (IKE SA only). */
  async initiateIke(ike: string, timeoutSec = 15): Promise<CommandResult> {
    return await this.swanctl(['--initiate', '--ike', ike, '--timeout', String(timeoutSec)], timeoutSec + 5);
  }

  /** Terminates by IKE connection name, or by IKE SA unique id when `ikeId` is given. */
  async terminate(opts: { ike?: string; ikeId?: string; timeoutSec?: number; force?: boolean }): Promise<CommandResult> {
    const args = ['--terminate'];
    if (opts.ike) args.push('--ike', opts.ike);
    if (opts.ikeId) args.push('--ike-id', opts.ikeId);
    if (opts.force) args.push('--force');
    args.push('--timeout', String(opts.timeoutSec ?? 5));
    return await this.swanctl(args, (opts.timeoutSec ?? 5) + 5);
  }

  /** Terminates every IKE SA this instance holds (one swanctl call per SA). */
  async terminateAll(): Promise<void> {
    for (const sa of await this.listSas()) await this.terminate({ ikeId: sa.uniqueId, timeoutSec: 3 });
  }

  async listSas(filter: { ike?: string } = {}): Promise<IkeSaInfo[]> {
    const args = ['--list-sas', '--raw'];
    if (filter.ike) args.push('--ike', filter.ike);
    const r = await this.swanctl(args);
    if (!r.ok) throw new Error(`swanctl --list-sas failed: ${r.output}`);
    return parseListSas(r.output);
  }

  /** Whole charon file log so far. */
  log(): string {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  /** Log length marker: pass to `logSince` to see what a single step logged. */
  logMark(): number {
    return this.log().length;
  }

  logSince(mark: number): string {
    return this.log().slice(mark);
  }

  /** The last `lines` lines of the file log, plus charon's stdout/stderr (for failure messages). */
  tail(lines = 60): string {
    const lg = this.log().split('\n').slice(-lines).join('\n');
    let so = '';
    try {
      so = readFileSync(this.stdoutPath, 'utf8').split('\n').slice(-10).join('\n');
    } catch {
      /* not started */
    }
    return `--- charon ${this.opts.name} log (last ${lines} lines) ---\n${lg}${so.trim() ? `\n--- stdout/stderr ---\n${so}` : ''}`;
  }

  /** Polls the log until `re` matches text logged after `sinceMark`. */
  async waitForLog(re: RegExp, timeoutMs = 10_000, sinceMark = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.logSince(sinceMark));
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} in charon ${this.opts.name} log\n${this.tail(40)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  isRunning(): boolean {
    return this.proc?.isRunning() ?? false;
  }

  /** /proc/PID/stat utime+stime in seconds and RSS in bytes. */
  usage(): { cpuSec: number; rssBytes: number } {
    if (!this.proc) throw new Error('charon not started');
    return procUsage(this.proc.pid);
  }

  async stop(): Promise<void> {
    await this.proc?.stop(3000);
  }
}

/** CPU seconds (utime+stime) and RSS of a process, from /proc/PID/stat. */
export function procUsage(pid: number): { cpuSec: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // comm may contain spaces and parentheses; fields resume after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const clk = 100; // sysconf(_SC_CLK_TCK) is 100 on every Linux this runs on
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rssPages = Number(fields[21]);
  return { cpuSec: (utime + stime) / clk, rssBytes: rssPages * 4096 };
}

/** Runs a host command with a timeout; never throws. */
export async function runCommand(bin: string, argv: string[], env: Record<string, string>, timeoutMs: number): Promise<CommandResult> {
  return await new Promise<CommandResult>((resolvePromise) => {
    const child = spawn(bin, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolvePromise({ ok: false, code: null, output: output + String(e), timedOut });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ ok: code === 0 && !timedOut, code, output, timedOut });
    });
  });
}
