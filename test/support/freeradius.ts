// Runs a private FreeRADIUS 3.2 (Debian `freeradius`) per test as the RFC 2865/2866/3579 server: its own minimal
// raddb in a temp dir, loopback high ports, no privilege drop, stopped by PID. Plus `radclient` for RFC 5176.
//
// The raddb is written from scratch rather than copied from /etc/freeradius: Debian's default enables modules
// (eap with TLS certificates that are not generated without the ssl-cert package, unix, sql…) that would make
// a test depend on the host's state. What is enabled: files (users), pap, mschap, eap {md5, mschapv2}, detail,
// attr_filter for Access-Reject.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FREERADIUS_BIN = '/usr/sbin/freeradius';
export const RADCLIENT_BIN = '/usr/bin/radclient';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Installs FreeRADIUS via scripts/install-test-deps.sh when missing; the reason when it still is not there. */
export function ensureFreeRadius(): { ok: true } | { ok: false; reason: string } {
  const missing = () => [FREERADIUS_BIN, RADCLIENT_BIN, '/usr/lib/freeradius/rlm_eap_mschapv2.so', '/usr/share/freeradius/dictionary'].filter((f) => !existsSync(f));
  if (missing().length === 0) return { ok: true };
  const script = join(repoRoot, 'scripts', 'install-test-deps.sh');
  const r = spawnSync('bash', [script], { encoding: 'utf8', timeout: 600_000 });
  const still = missing();
  if (still.length === 0) return { ok: true };
  return { ok: false, reason: `FreeRADIUS not installed (${still.join(', ')} missing); ${script} exited ${r.status}: ${(r.stderr || '').trim().slice(-400)}` };
}

/** A free loopback UDP port (bind to 0, read, close; another process could take it meanwhile, rarely). */
export async function freeUdpPort(address = '127.0.0.1'): Promise<number> {
  const s = createSocket(address.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface FreeRadiusClient {
  name: string;
  ipaddr: string;
  secret: string;
}

export interface FreeRadiusOptions {
  /** Shown in the temp dir name. */
  name?: string;
  /** The NAS clients allowed to talk to it (default: 127.0.0.1 with `secret`). */
  clients?: FreeRadiusClient[];
  secret?: string;
  /** Content of the `users` file (rlm_files), e.g. `alice Cleartext-Password := "pw"\n\tFramed-IP-Address = 203.0.113.7`. */
  users: string;
  address?: string; // 127.0.0.1
  authPort?: number; // a free port
  acctPort?: number; // a free port
  /** Run with -X (full debug to the log) instead of -f -l stdout. */
  debug?: boolean;
}

export interface FreeRadius {
  dir: string;
  pid: number;
  address: string;
  authPort: number;
  acctPort: number;
  detailFile: string;
  /** Everything FreeRADIUS wrote to stdout/stderr so far. */
  log(): string;
  /** Polls the log until `re` matches (log lines may follow the answer by a moment). */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<string>;
  /** The accounting detail file (empty string before the first record). */
  detail(): string;
  /** Polls the detail file until `pred` holds (FreeRADIUS writes it after answering). */
  waitForDetail(pred: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

function radiusdConf(dir: string, o: Required<Pick<FreeRadiusOptions, 'address' | 'authPort' | 'acctPort'>> & { clients: FreeRadiusClient[] }): string {
  const clients = o.clients
    .map((c) => `client ${c.name} {\n  ipaddr = ${c.ipaddr}\n  secret = "${c.secret.replace(/"/g, '\\"')}"\n  require_message_authenticator = no\n}\n`)
    .join('');
  return `# Written by test/support/freeradius.ts: a private FreeRADIUS for one test.
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = ${dir}
sbindir = /usr/sbin
logdir = ${dir}/log
raddbdir = ${dir}
radacctdir = ${dir}/radacct
name = freeradius
confdir = ${dir}
modconfdir = ${dir}
certdir = ${dir}
cadir = ${dir}
run_dir = ${dir}/run
db_dir = ${dir}
libdir = /usr/lib/freeradius
pidfile = ${dir}/run/radiusd.pid
max_request_time = 30
cleanup_delay = 1
max_requests = 4096
hostname_lookups = no
log {
  destination = stdout
  colourise = no
  auth = yes
  auth_badpass = no
  auth_goodpass = no
}
security {
  allow_core_dumps = no
  max_attributes = 200
  reject_delay = 0
  status_server = yes
}
thread pool {
  start_servers = 1
  max_servers = 4
  min_spare_servers = 1
  max_spare_servers = 2
  max_requests_per_server = 0
}
${clients}
modules {
  pap {
  }
  mschap {
  }
  files {
    filename = ${dir}/users
    acctusersfile = ${dir}/acct_users
  }
  detail {
    filename = ${dir}/radacct/detail
    permissions = 0600
    header = "%t"
  }
  attr_filter attr_filter.access_reject {
    key = "%{User-Name}"
    filename = ${dir}/access_reject
  }
  eap {
    default_eap_type = mschapv2
    timer_expire = 60
    ignore_unknown_eap_types = no
    max_sessions = 1024
    md5 {
    }
    mschapv2 {
      send_error = yes
    }
  }
}
server default {
  listen {
    type = auth
    ipaddr = ${o.address}
    port = ${o.authPort}
  }
  listen {
    type = acct
    ipaddr = ${o.address}
    port = ${o.acctPort}
  }
  authorize {
    eap {
      ok = return
    }
    files
    pap
    mschap
  }
  authenticate {
    Auth-Type PAP {
      pap
    }
    Auth-Type MS-CHAP {
      mschap
    }
    eap
  }
  preacct {
  }
  accounting {
    detail
  }
  post-auth {
    Post-Auth-Type REJECT {
      attr_filter.access_reject
      eap
    }
  }
}
`;
}

// What an Access-Reject may carry (the stock mods-config/attr_filter/access_reject).
const ACCESS_REJECT_FILTER = `DEFAULT
\tEAP-Message =* ANY,
\tState =* ANY,
\tMessage-Authenticator =* ANY,
\tError-Cause =* ANY,
\tReply-Message =* ANY,
\tMS-CHAP-Error =* ANY,
\tProxy-State =* ANY
`;

export async function startFreeRadius(opts: FreeRadiusOptions): Promise<FreeRadius> {
  const address = opts.address ?? '127.0.0.1';
  const authPort = opts.authPort ?? (await freeUdpPort(address));
  let acctPort = opts.acctPort ?? (await freeUdpPort(address));
  while (acctPort === authPort) acctPort = await freeUdpPort(address);
  const dir = mkdtempSync(`/tmp/outpost-freeradius-${opts.name ?? 'test'}-`);
  for (const d of ['log', 'run', 'radacct']) mkdirSync(join(dir, d));
  const clients = opts.clients ?? [{ name: 'loopback', ipaddr: address, secret: opts.secret ?? 'testing123' }];
  writeFileSync(join(dir, 'radiusd.conf'), radiusdConf(dir, { address, authPort, acctPort, clients }));
  writeFileSync(join(dir, 'users'), opts.users.endsWith('\n') ? opts.users : `${opts.users}\n`);
  writeFileSync(join(dir, 'acct_users'), '');
  writeFileSync(join(dir, 'access_reject'), ACCESS_REJECT_FILTER);

  const args = opts.debug ? ['-X', '-d', dir] : ['-f', '-l', 'stdout', '-d', dir];
  const child: ChildProcess = spawn(FREERADIUS_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  let exited: number | null | undefined;
  const exitP = new Promise<void>((r) => child.once('exit', (code) => ((exited = code), r())));

  const deadline = Date.now() + 15_000;
  while (!out.includes('Ready to process requests')) {
    if (exited !== undefined) throw new Error(`freeradius exited (${exited}) before it was ready:\n${out.slice(-3000)}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`freeradius not ready after 15 s:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = child.pid ?? -1;
  const detailFile = join(dir, 'radacct', 'detail');
  const detail = () => (existsSync(detailFile) ? readFileSync(detailFile, 'utf8') : '');
  return {
    dir,
    pid,
    address,
    authPort,
    acctPort,
    detailFile,
    log: () => out,
    detail,
    async waitForLog(re, timeoutMs = 5000) {
      const end = Date.now() + timeoutMs;
      while (!re.test(out)) {
        if (Date.now() > end) throw new Error(`no log line matching ${re} in ${timeoutMs} ms:\n${out.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return out;
    },
    async waitForDetail(pred, timeoutMs = 5000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const t = detail();
        if (pred(t)) return t;
        if (Date.now() > end) throw new Error(`detail file did not reach the expected state in ${timeoutMs} ms:\n${t}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (exited === undefined) {
        process.kill(pid, 'SIGTERM');
        const t = setTimeout(() => exited === undefined && process.kill(pid, 'SIGKILL'), 3000);
        await exitP;
        clearTimeout(t);
      }
      if (process.env.OUTPOST_TEST_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `radclient` as a Dynamic Authorization Client (RFC 5176): sends `attrs` (FreeRADIUS `Attr = value` pairs) as a
 * Disconnect-Request or CoA-Request and returns its output and exit status (0 = ACK received).
 */
export function radclient(kind: 'disconnect' | 'coa' | 'auth' | 'acct', target: string, secret: string, attrs: string[], opts: { retries?: number; timeoutSec?: number } = {}) {
  return new Promise<{ status: number | null; out: string }>((resolveP) => {
    const child = spawn(RADCLIENT_BIN, ['-x', '-r', String(opts.retries ?? 1), '-t', String(opts.timeoutSec ?? 2), target, kind, secret], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.once('exit', (status) => resolveP({ status, out }));
    child.stdin.end(`${attrs.join('\n')}\n`);
  });
}
