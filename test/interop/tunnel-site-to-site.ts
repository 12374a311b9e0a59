// Outpost ↔ Outpost site-to-site: a four-namespace topology and a pair of gateways (RFC 7296 initiator + responder, RFC 4303 ESP).
//
//   netns lan (lanA)      netns gw (gwA)                  netns cl (gwB)                   netns lanb (lanB)
//   198.51.100.2 ── eth1 198.51.100.1 | 192.0.2.1 eth0 ── eth0 192.0.2.2 | 203.0.113.1 eth1 ── 203.0.113.2
//                        outpost A (responder)                outpost B (start_action: start)
//                        198.51.100.0/24 === 203.0.113.0/24 through TUN outpost0 on each side
//
// The cl ─ gw ─ lan topology of test/support/netns.ts plus one namespace behind cl. No NAT anywhere, so the
// gateways agree on plain ESP (IP protocol 50) unless `encapsulation: true` forces ESP-in-UDP (RFC 3948).
// Shared by test/interop/site-to-site.test.ts, test/interop/esp-abuse.test.ts and test/bench/tunnel-throughput.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADDR, createTopology, type Topology } from '../support/netns.ts';
import { OutpostProcess, type YamlValue } from '../support/outpost-process.ts';
import { SwanPki } from '../support/strongswan-pki.ts';
import { outpostYaml, type GatewaySpec, type GwConn } from './gateway-under-test.ts';

export const SITE = {
  lanA: ADDR.lan,
  gwAInner: ADDR.gwInner,
  gwAOuter: ADDR.gwOuter,
  gwBOuter: ADDR.cl,
  gwBInner: '203.0.113.1',
  lanB: '203.0.113.2',
  netA: ADDR.innerNet,
  netB: '203.0.113.0/24',
} as const;

export interface SiteTopology {
  topo: Topology;
  /** Namespace names by site role. */
  ns: { lanA: string; gwA: string; gwB: string; lanB: string };
  destroy(): Promise<void>;
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${(r.stderr || r.error?.message || '').trim()}`);
}

const extraNamespaces = new Set<string>();
let hookInstalled = false;

/** Builds lanA ─ gwA ─ gwB ─ lanB; `destroy()` stops every process and removes all four namespaces. */
export async function createSiteTopology(label = 'site'): Promise<SiteTopology> {
  const topo = await createTopology(label);
  const lanB = `op-${topo.id}-lanb`;
  if (!hookInstalled) {
    hookInstalled = true;
    process.on('exit', () => {
      for (const n of extraNamespaces) spawnSync('ip', ['netns', 'del', n]);
    });
  }
  try {
    ip(['netns', 'add', lanB]);
    extraNamespaces.add(lanB);
    ip(['link', 'add', 'eth1', 'netns', topo.ns.cl, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lanB]);
    ip(['-n', topo.ns.cl, 'addr', 'add', `${SITE.gwBInner}/24`, 'dev', 'eth1']);
    ip(['-n', lanB, 'addr', 'add', `${SITE.lanB}/24`, 'dev', 'eth0']);
    for (const [n, dev] of [
      [topo.ns.cl, 'eth1'],
      [lanB, 'eth0'],
      [lanB, 'lo'],
    ] as const) {
      ip(['-n', n, 'link', 'set', dev, 'up']);
    }
    ip(['-n', lanB, 'route', 'add', SITE.netA, 'via', SITE.gwBInner]);
    const fwd = spawnSync('ip', ['netns', 'exec', topo.ns.cl, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'], { encoding: 'utf8' });
    if (fwd.status !== 0) throw new Error(`ip_forward in ${topo.ns.cl}: ${fwd.stderr}`);
    const deadline = Date.now() + 5000;
    for (const [n, dev] of [
      [topo.ns.cl, 'eth1'],
      [lanB, 'eth0'],
    ] as const) {
      while (!/state UP/.test(spawnSync('ip', ['-n', n, '-o', 'link', 'show', 'dev', dev], { encoding: 'utf8' }).stdout)) {
        if (Date.now() > deadline) throw new Error(`${n}/${dev} did not come up`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } catch (e) {
    await topo.destroy();
    spawnSync('ip', ['netns', 'del', lanB]);
    extraNamespaces.delete(lanB);
    throw e;
  }
  return {
    topo,
    ns: { lanA: topo.ns.lan, gwA: topo.ns.gw, gwB: topo.ns.cl, lanB },
    async destroy() {
      await topo.destroy();
      spawnSync('ip', ['netns', 'del', lanB]);
      extraNamespaces.delete(lanB);
    },
  };
}

export interface SitePairOptions {
  auth: 'psk' | 'cert';
  /** Force UDP encapsulation (both ends) although there is no NAT. */
  encap: boolean;
  esp: string;
  ike?: string;
  /** Log level of both gateways (debug by default; benchmarks use info). */
  logLevel?: 'debug' | 'info';
  /** Label for the instance directories (one pair per case in a topology). */
  name: string;
  /** Certificates for auth 'cert' (one PKI per topology is enough). */
  pki?: SitePki;
}

export interface SitePki {
  ca: { certPem: string };
  a: { certPem: string; key: { pem: string; pkcs8Pem: string } };
  b: { certPem: string; key: { pem: string; pkcs8Pem: string } };
}

/** An ECDSA P-256 CA and one certificate per gateway, made with strongSwan's pki tool. */
export function makeSitePki(dir: string): SitePki {
  const pki = new SwanPki(dir);
  const ca = pki.makeCa('Site-to-site CA', 'ecdsa256');
  return {
    ca,
    a: pki.issue(ca, 'gw-a.example', 'ecdsa256', { flags: ['serverAuth', 'clientAuth'] }),
    b: pki.issue(ca, 'gw-b.example', 'ecdsa256', { flags: ['serverAuth', 'clientAuth'] }),
  };
}

export interface SitePair {
  a: OutpostProcess;
  b: OutpostProcess;
  /** Status files (`--status-file`), rewritten every 2 s with SA and worker counters. */
  statusA: string;
  statusB: string;
  stop(): Promise<void>;
  tail(): string;
}

const SITE_PSK = 'site-to-site-psk-7b3e91c0d4a2';

function siteSpec(side: 'a' | 'b', o: SitePairOptions): GatewaySpec {
  const me = side === 'a' ? 'gw-a.example' : 'gw-b.example';
  const peer = side === 'a' ? 'gw-b.example' : 'gw-a.example';
  const cert = o.auth === 'cert' ? (side === 'a' ? o.pki?.a : o.pki?.b) : undefined;
  if (o.auth === 'cert' && !cert) throw new Error('site pair with certificates needs a SitePki');
  const conn: GwConn = {
    name: 'site',
    localId: me,
    localAuth: o.auth === 'psk' ? 'psk' : 'pubkey',
    ...(cert ? { cert } : {}),
    remoteId: peer,
    remoteAuth: o.auth === 'psk' ? 'psk' : 'pubkey',
    ...(o.auth === 'cert' ? { cas: ['site'] } : { psk: SITE_PSK }),
    ikeProposals: [o.ike ?? 'aes256gcm16-prfsha256-x25519'],
    // Only B initiates; A answers whoever presents gw-b.example.
    ...(side === 'b' ? { remoteAddrs: [SITE.gwAOuter] } : {}),
    children: [
      {
        name: 'lans',
        localTs: [side === 'a' ? SITE.netA : SITE.netB],
        remoteTs: [side === 'a' ? SITE.netB : SITE.netA],
        espProposals: [o.esp],
        ...(side === 'b' ? { startAction: 'start' as const } : {}),
      },
    ],
  };
  return { pools: [], cas: o.auth === 'cert' && o.pki ? [{ name: 'site', cert: o.pki.ca }] : [], conns: [conn] };
}

function siteYaml(side: 'a' | 'b', o: SitePairOptions, dir: string): YamlValue {
  const doc = outpostYaml(siteSpec(side, o), dir, {
    dataplane: { backend: 'userspace' },
    log: { level: o.logLevel ?? 'debug', format: 'json' },
  }) as { connections: Record<string, YamlValue>[] } & Record<string, YamlValue>;
  if (o.encap) for (const c of doc.connections) c.encapsulation = true;
  return doc;
}

/** Starts A (responder, in gw) then B (initiator, in cl) and waits until both have the CHILD_SA up. */
export async function startSitePair(site: SiteTopology, o: SitePairOptions): Promise<SitePair> {
  const started: OutpostProcess[] = [];
  const start = async (side: 'a' | 'b') => {
    const dir = join(site.topo.dir, `site-${o.name}-${side}`);
    mkdirSync(dir, { recursive: true });
    const status = join(dir, 'status.json');
    const proc = await OutpostProcess.start(site.topo, side === 'a' ? 'gw' : 'cl', {
      name: `${o.name}-${side}`,
      config: siteYaml(side, o, dir),
      args: ['--status-file', status],
    });
    started.push(proc);
    return { proc, status };
  };
  try {
    const a = await start('a');
    const b = await start('b');
    await Promise.all([a.proc.waitFor('child.up', 15_000, 'CHILD_SA up on A'), b.proc.waitFor('child.up', 15_000, 'CHILD_SA up on B')]);
    return {
      a: a.proc,
      b: b.proc,
      statusA: a.status,
      statusB: b.status,
      stop: async () => {
        await b.proc.stop();
        await a.proc.stop();
      },
      tail: () => `${a.proc.tail(20)}\n${b.proc.tail(20)}`,
    };
  } catch (e) {
    for (const p of started) await p.stop();
    throw e;
  }
}

/** The status file as the gateway writes it (only the parts the tunnel tests read). */
export interface GatewayStatus {
  dataplane: { backend: string; worker?: Record<string, number> };
  sas: { children: { spiIn: number; spiOut: number; encap?: boolean; traffic?: { in: { bytes: number; packets: number } | null; out: { bytes: number; packets: number } | null } }[] }[];
}

export function readStatus(path: string): GatewayStatus | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as GatewayStatus;
  } catch {
    return null; // mid-rename: the next read sees the whole file
  }
}

/** Polls a status file (rewritten every 2 s) until `pred` holds; returns that status. */
export async function waitStatus(path: string, pred: (s: GatewayStatus) => boolean, what: string, timeoutMs = 8000): Promise<GatewayStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: GatewayStatus | null = null;
  for (;;) {
    last = readStatus(path);
    if (last && pred(last)) return last;
    if (Date.now() > deadline) throw new Error(`status ${path} never showed ${what}; last: ${JSON.stringify(last?.dataplane)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
