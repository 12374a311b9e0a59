// One gateway description, two implementations to run it: Outpost (the product) or charon (the reference peer).
//
// The interop suites describe the gateway's connections once (`GatewaySpec`) and start it either as an
// `outpost gateway` process or, with OUTPOST_INTEROP_GATEWAY=strongswan, as a charon with the equivalent
// swanctl.conf. Running the suites against charon proves their expectations are what a correct IKEv2
// implementation does, so a failure against Outpost is Outpost's. RFC 7296 throughout.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Role, Topology } from '../support/netns.ts';
import { OutpostProcess, type YamlValue } from '../support/outpost-process.ts';
import { Charon, type SwanSection, type SwanctlFiles } from '../support/strongswan.ts';

export type GatewayKind = 'outpost' | 'strongswan';

/** Which implementation plays the gateway (default Outpost). */
export function gatewayKind(): GatewayKind {
  return process.env.OUTPOST_INTEROP_GATEWAY === 'strongswan' ? 'strongswan' : 'outpost';
}

export interface GwChild {
  name: string;
  localTs: string[];
  /** `dynamic` = the peer's virtual IP (or its address when it has none). */
  remoteTs: string[];
  espProposals: string[];
  startAction?: 'none' | 'start';
}

/** A certificate with its key (strongswan-pki's SwanCert fits): `key.pem` for charon, `key.pkcs8Pem` for Outpost. */
export interface CertWithKey {
  certPem: string;
  key: { pem: string; pkcs8Pem: string };
}

export interface GwConn {
  name: string;
  localId: string;
  localAuth: 'psk' | 'pubkey';
  cert?: CertWithKey;
  remoteId: string; // '%any' allowed
  remoteAuth: 'psk' | 'pubkey';
  /** Names from GatewaySpec.cas the peer's certificate must chain to. */
  cas?: string[];
  psk?: string;
  ikeProposals: string[];
  pools?: string[];
  remoteAddrs?: string[];
  children: GwChild[];
}

export interface GatewaySpec {
  pools: { name: string; cidr: string }[];
  cas: { name: string; cert: { certPem: string } }[];
  conns: GwConn[];
}

/** What the suites ask of the gateway, whichever implementation it is. */
export interface GatewayUnderTest {
  kind: GatewayKind;
  /** Opaque position in the gateway's log; later waits look only after it. */
  mark(): number;
  /** The gateway's "IKE SA up" record for this peer identity. */
  waitIkeUp(mark: number, remoteId: string, timeoutMs?: number): Promise<string>;
  /** The gateway's "CHILD SA up" record, containing `needle` (e.g. the virtual IP) when given. */
  waitChildUp(mark: number, needle?: string, timeoutMs?: number): Promise<string>;
  waitIkeDown(mark: number, timeoutMs?: number): Promise<string>;
  /** A single log record explaining a failed setup, matching `why` (Outpost: auth.failed/ike.failed events). */
  waitFailure(mark: number, why: RegExp, timeoutMs?: number): Promise<string>;
  /** Everything the gateway logged after `mark` (for diagnostics). */
  logSince(mark: number): string;
  tail(): string;
  isRunning(): boolean;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------
// Outpost

/** The YAML document for `outpost gateway --config` (format: docs/config.md), writing PEM files into `dir`. */
export function outpostYaml(spec: GatewaySpec, dir: string, extra: Record<string, YamlValue> = {}): YamlValue {
  const pem = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  return {
    listen: [{ address: '0.0.0.0', port: 500, natt_port: 4500 }],
    log: { level: 'debug', format: 'json' },
    dataplane: { backend: 'mock' },
    pools: spec.pools.map((p) => ({ name: p.name, cidr: p.cidr })),
    cas: spec.cas.map((c) => ({ name: c.name, cert: pem(`ca-${c.name}.pem`, c.cert.certPem) })),
    connections: spec.conns.map((c) => ({
      name: c.name,
      remote_addrs: c.remoteAddrs,
      ike_proposals: c.ikeProposals,
      local: {
        id: c.localId,
        auth: c.localAuth,
        cert: c.cert ? pem(`${c.name}.cert.pem`, c.cert.certPem) : undefined,
        key: c.cert ? pem(`${c.name}.key.pem`, c.cert.key.pkcs8Pem) : undefined,
      },
      remote: { id: c.remoteId, auth: c.remoteAuth, cas: c.cas },
      psk: c.psk,
      pools: c.pools,
      children: c.children.map((ch) => ({
        name: ch.name,
        local_ts: ch.localTs,
        remote_ts: ch.remoteTs,
        esp_proposals: ch.espProposals,
        start_action: ch.startAction,
      })),
    })),
    ...extra,
  };
}

class OutpostGateway implements GatewayUnderTest {
  readonly kind = 'outpost' as const;
  constructor(readonly proc: OutpostProcess) {}

  mark(): number {
    return this.proc.mark();
  }

  private async wait(mark: number, pred: (text: string, event: string) => boolean, what: string, timeoutMs: number): Promise<string> {
    const l = await this.proc.waitFor((x) => pred(x.text, x.event), timeoutMs, what, mark);
    return l.text;
  }

  waitIkeUp(mark: number, remoteId: string, timeoutMs = 10_000): Promise<string> {
    return this.wait(mark, (t, e) => e === 'ike.up' && t.includes(remoteId), `ike.up for ${remoteId}`, timeoutMs);
  }

  waitChildUp(mark: number, needle?: string, timeoutMs = 10_000): Promise<string> {
    return this.wait(mark, (t, e) => e === 'child.up' && (needle === undefined || t.includes(needle)), `child.up ${needle ?? ''}`, timeoutMs);
  }

  waitIkeDown(mark: number, timeoutMs = 10_000): Promise<string> {
    return this.wait(mark, (_t, e) => e === 'ike.down', 'ike.down', timeoutMs);
  }

  waitFailure(mark: number, why: RegExp, timeoutMs = 10_000): Promise<string> {
    return this.wait(mark, (t, e) => (e === 'auth.failed' || e === 'ike.failed') && why.test(t), `auth.failed/ike.failed matching ${why}`, timeoutMs);
  }

  logSince(mark: number): string {
    return this.proc
      .since(mark)
      .map((l) => l.text)
      .join('\n');
  }

  tail(): string {
    return this.proc.tail();
  }

  isRunning(): boolean {
    return this.proc.isRunning();
  }

  stop(): Promise<void> {
    return this.proc.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------
// charon as the reference gateway

/** The swanctl.conf equivalent of a GatewaySpec. */
export function swanctlFor(spec: GatewaySpec, localAddr?: string): { conf: { connections: SwanSection; secrets: SwanSection; pools: SwanSection }; files: SwanctlFiles } {
  const files: Required<SwanctlFiles> = { x509: {}, x509ca: {}, private: {} };
  for (const ca of spec.cas) files.x509ca[`${ca.name}.pem`] = ca.cert.certPem;
  const connections: SwanSection = {};
  const secrets: SwanSection = {};
  const pools: SwanSection = {};
  for (const p of spec.pools) pools[p.name] = { addrs: p.cidr };
  for (const c of spec.conns) {
    if (c.cert) {
      files.x509[`${c.name}.pem`] = c.cert.certPem;
      files.private[`${c.name}.key`] = c.cert.key.pem;
    }
    if (c.psk !== undefined) {
      // Keyed by both identities so two connections with a common local id can hold different secrets.
      secrets[`ike-${c.name}`] = { id: c.localId, id_peer: c.remoteId === '%any' ? undefined : c.remoteId, secret: c.psk };
    }
    const children: SwanSection = {};
    for (const ch of c.children) {
      children[ch.name] = {
        local_ts: ch.localTs,
        remote_ts: ch.remoteTs,
        esp_proposals: ch.espProposals,
        start_action: ch.startAction === 'start' ? 'start' : undefined,
      };
    }
    connections[c.name] = {
      version: 2,
      local_addrs: localAddr,
      remote_addrs: c.remoteAddrs,
      proposals: c.ikeProposals,
      pools: c.pools,
      local: { auth: c.localAuth, id: c.localId, certs: c.cert ? `${c.name}.pem` : undefined },
      remote: {
        auth: c.remoteAuth,
        id: c.remoteId,
        cacerts: c.cas && c.cas.length ? c.cas.map((n) => `${n}.pem`) : undefined,
      },
      children,
    };
  }
  return { conf: { connections, secrets, pools }, files };
}

class CharonGateway implements GatewayUnderTest {
  readonly kind = 'strongswan' as const;
  constructor(readonly charon: Charon) {}

  mark(): number {
    return this.charon.logMark();
  }

  private async wait(mark: number, re: RegExp, timeoutMs: number): Promise<string> {
    return (await this.charon.waitForLog(re, timeoutMs, mark))[0];
  }

  waitIkeUp(mark: number, remoteId: string, timeoutMs = 10_000): Promise<string> {
    return this.wait(mark, new RegExp(`IKE_SA \\S+ established between .*\\[${escapeRe(remoteId)}\\]`), timeoutMs);
  }

  waitChildUp(mark: number, needle?: string, timeoutMs = 10_000): Promise<string> {
    return this.wait(mark, new RegExp(`CHILD_SA \\S+ established .*${needle ? escapeRe(needle) : ''}`), timeoutMs);
  }

  waitIkeDown(mark: number, timeoutMs = 10_000): Promise<string> {
    return this.wait(mark, /IKE_SA \S+ state change: \w+ => (DELETING|DESTROYING)/, timeoutMs);
  }

  waitFailure(mark: number, why: RegExp, timeoutMs = 10_000): Promise<string> {
    return this.wait(mark, new RegExp(`^.*(${why.source}).*$`, why.flags.includes('m') ? why.flags : `${why.flags}m`), timeoutMs);
  }

  logSince(mark: number): string {
    return this.charon.logSince(mark);
  }

  tail(): string {
    return this.charon.tail();
  }

  isRunning(): boolean {
    return this.charon.isRunning();
  }

  stop(): Promise<void> {
    return this.charon.stop();
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Starts the gateway described by `spec` in namespace `role`, as Outpost or (reference mode) as charon. */
export async function startGateway(
  topo: Topology,
  role: Role,
  spec: GatewaySpec,
  opts: { kind?: GatewayKind; localAddr?: string; name?: string; outpostExtra?: Record<string, YamlValue> } = {},
): Promise<GatewayUnderTest> {
  const kind = opts.kind ?? gatewayKind();
  if (kind === 'strongswan') {
    const charon = await Charon.start(topo, role, { name: opts.name ?? 'gateway' });
    const { conf, files } = swanctlFor(spec, opts.localAddr);
    await charon.configure(conf, files);
    return new CharonGateway(charon);
  }
  const dir = join(topo.dir, `outpost-files-${opts.name ?? 'gateway'}`);
  mkdirSync(dir, { recursive: true });
  const proc = await OutpostProcess.start(topo, role, { name: opts.name ?? 'gateway', config: outpostYaml(spec, dir, opts.outpostExtra) });
  return new OutpostGateway(proc);
}
