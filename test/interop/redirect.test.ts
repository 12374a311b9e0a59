// Acceptance: RFC 5685 redirect between two Outpost gateways, followed by Debian's strongSwan 5.9.
//
//   netns cl: charon ──eth0 192.0.2.2──▶ netns gw:  Outpost A 192.0.2.1 (max_sessions 1, redirect_to 203.0.113.1)
//                    └─eth1 203.0.113.2─▶ netns gw2: Outpost B 203.0.113.1
//
// At IKE_SA_INIT: the first client fills A; the second gets N(REDIRECT(203.0.113.1, Ni)) without A keeping state,
// and charon sets its SA up with B (sending REDIRECTED_FROM). Of an established SA: A sends INFORMATIONAL
// { N(REDIRECT) } (an engine command; test/interop/redirect-gateway.ts reads it on stdin), charon sets the SA and
// its CHILD_SA up with B and deletes the one with A. The data planes are mock: only IKE is under test here.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createTopology, type Spawned, type Topology } from '../support/netns.ts';
import { BUN_BIN, OutpostProcess, REPO_ROOT, outpostCliExists, toYaml, type YamlValue } from '../support/outpost-process.ts';
import { Charon } from '../support/strongswan.ts';
import { interopSkipReason } from './interop-support.ts';

const skip = interopSkipReason();

const PSK = 'interop-redirect-psk-4d8e2b6a1c';
const IKE = 'aes256gcm16-prfsha256-x25519';
const GW_B = '203.0.113.1';
const CL_B_SIDE = '203.0.113.2';
const DRIVER = join(REPO_ROOT, 'test', 'interop', 'redirect-gateway.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface LogLine {
  event: string;
  msg: string;
  raw: Record<string, unknown>;
}

/** Outpost A run through the driver: its JSON log, and a stdin for engine commands. */
class DriverGateway {
  readonly lines: LogLine[] = [];
  private constructor(readonly proc: Spawned) {}

  static async start(topo: Topology, configPath: string): Promise<DriverGateway> {
    const proc = topo.spawn('gw', [BUN_BIN, DRIVER, configPath], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    const g = new DriverGateway(proc);
    let buf = '';
    proc.child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const t = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!t.startsWith('{')) continue;
        try {
          const raw = JSON.parse(t) as Record<string, unknown>;
          g.lines.push({ event: String(raw.event ?? ''), msg: String(raw.msg ?? ''), raw });
        } catch {
          /* not JSON */
        }
      }
    });
    proc.child.stdout?.resume();
    await g.waitFor((l) => l.event === 'ready', 15_000, 'ready');
    return g;
  }

  mark(): number {
    return this.lines.length;
  }

  send(c: Record<string, unknown>): void {
    this.proc.child.stdin?.write(`${JSON.stringify(c)}\n`);
  }

  async waitFor(pred: (l: LogLine) => boolean, timeoutMs: number, what: string, from = 0): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.slice(from).find(pred);
      if (hit) return hit;
      if (!this.proc.isRunning()) throw new Error(`gateway A exited while waiting for ${what}\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`gateway A: timed out waiting for ${what}\n${this.tail()}`);
      await sleep(50);
    }
  }

  since(mark: number): LogLine[] {
    return this.lines.slice(mark);
  }

  tail(): string {
    return this.lines.slice(-30).map((l) => JSON.stringify(l.raw)).join('\n');
  }
}

function gatewayYaml(extra: Record<string, YamlValue>): YamlValue {
  return {
    listen: [{ address: '0.0.0.0', port: 500, natt_port: 4500 }],
    log: { level: 'debug', format: 'json' },
    dataplane: { backend: 'mock' },
    connections: [
      {
        name: 'fleet',
        ike_proposals: [IKE],
        local: { id: 'gw-fleet.example', auth: 'psk' },
        remote: { id: '%any', auth: 'psk' },
        psk: PSK,
        children: [{ name: 'net', local_ts: [ADDR.innerNet], remote_ts: ['dynamic'], esp_proposals: ['aes256gcm16'] }],
      },
    ],
    ...extra,
  };
}

describe.skipIf(skip !== undefined)('redirect (RFC 5685): strongSwan follows Outpost A to Outpost B', () => {
  let topo: Topology;
  let gw2 = '';
  let client: Charon;
  let a: DriverGateway;
  let b: OutpostProcess;

  const ip = (args: string[]) => {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  };
  const dropGw2 = () => {
    if (gw2) spawnSync('ip', ['netns', 'del', gw2]);
  };

  beforeAll(async () => {
    if (!outpostCliExists()) throw new Error('firmware/bin/outpost.ts does not exist yet');
    topo = await createTopology('redirect');
    // A second gateway namespace, reachable from the client over its own link.
    gw2 = `${topo.ns.gw}2`;
    process.once('exit', dropGw2);
    ip(['netns', 'add', gw2]);
    ip(['link', 'add', 'eth1', 'netns', topo.ns.cl, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', gw2]);
    ip(['-n', topo.ns.cl, 'addr', 'add', `${CL_B_SIDE}/24`, 'dev', 'eth1']);
    ip(['-n', gw2, 'addr', 'add', `${GW_B}/24`, 'dev', 'eth0']);
    for (const [ns, dev] of [[topo.ns.cl, 'eth1'], [gw2, 'eth0'], [gw2, 'lo']] as const) ip(['-n', ns, 'link', 'set', dev, 'up']);
    for (let i = 0; i < 100; i++) {
      const up = [[topo.ns.cl, 'eth1'], [gw2, 'eth0']].every(([ns, dev]) => /state UP/.test(spawnSync('ip', ['-n', ns!, '-o', 'link', 'show', 'dev', dev!], { encoding: 'utf8' }).stdout));
      if (up) break;
      await sleep(50);
    }

    const dir = join(topo.dir, 'gw-a');
    mkdirSync(dir, { recursive: true });
    const configA = join(dir, 'gateway.yaml');
    writeFileSync(configA, toYaml(gatewayYaml({ max_sessions: 1, redirect_to: [GW_B] })));
    a = await DriverGateway.start(topo, configA);
    b = await OutpostProcess.start(topo, gw2, { name: 'gateway-b', config: gatewayYaml({}) });

    client = await Charon.start(topo, 'cl', { name: 'client' });
    const conn = (id: string, child: string) => ({
      version: 2,
      remote_addrs: ADDR.gwOuter,
      proposals: IKE,
      local: { auth: 'psk', id },
      remote: { auth: 'psk', id: 'gw-fleet.example' },
      children: { [child]: { remote_ts: ADDR.innerNet, esp_proposals: 'aes256gcm16' } },
    });
    await client.configure({
      connections: { first: conn('client-1.example', 'first-net'), second: conn('client-2.example', 'second-net') },
      secrets: {
        'ike-1': { id: 'client-1.example', id_gw: 'gw-fleet.example', secret: PSK },
        'ike-2': { id: 'client-2.example', id_gw: 'gw-fleet.example', secret: PSK },
      },
    });
  }, 60_000);

  afterAll(async () => {
    await topo?.destroy();
    dropGw2();
    process.off('exit', dropGw2);
  });

  it('A serves its one session; the next client is redirected at IKE_SA_INIT and comes up with B', async () => {
    const r1 = await client.initiate('first-net', { ike: 'first', timeoutSec: 10 });
    expect(r1.ok, r1.output).toBe(true);
    const aMark = a.mark();
    const bMark = b.mark();
    const clMark = client.logMark();
    const r2 = await client.initiate('second-net', { ike: 'second', timeoutSec: 15 });
    expect(r2.ok, `${r2.output}\n${a.tail()}\n${b.tail()}`).toBe(true);
    const second = (await client.listSas({ ike: 'second' }))[0]!;
    expect(second).toMatchObject({ state: 'ESTABLISHED', remoteHost: GW_B });
    expect(second.children[0]?.state).toBe('INSTALLED');
    expect(a.since(aMark).some((l) => l.msg.includes(`redirecting ${ADDR.cl} to ${GW_B} at IKE_SA_INIT (1 sessions reached)`))).toBe(true);
    // A kept nothing for it: no SA came up or failed there.
    expect(a.since(aMark).filter((l) => l.event === 'ike.up' || l.event === 'ike.failed')).toEqual([]);
    await b.waitFor((l) => l.event === 'ike.up' && String(l.raw.remoteId).includes('client-2.example'), 5000, 'ike.up at B', bMark);
    expect(b.since(bMark).some((l) => (l.msg ?? '').includes(`${CL_B_SIDE} was redirected here from ${ADDR.gwOuter}`))).toBe(true);
    const log = client.logSince(clMark);
    expect(log).toMatch(/<second\|\d+> redirected to 203\.0\.113\.1/);
    expect(log).toMatch(/generating IKE_SA_INIT request 0 \[ [^\]]*N\(REDIR_FROM\)/);
  }, 60_000);

  it('A redirects an established SA: strongSwan moves it and its CHILD_SA to B and deletes it at A', async () => {
    const before = (await client.listSas({ ike: 'first' }))[0]!;
    expect(before.remoteHost).toBe(ADDR.gwOuter);
    const aMark = a.mark();
    const bMark = b.mark();
    a.send({ type: 'redirect-all', to: GW_B });
    await a.waitFor((l) => l.event === 'command.done', 5000, 'the redirect command', aMark);
    await b.waitFor((l) => l.event === 'ike.up' && String(l.raw.remoteId).includes('client-1.example'), 20_000, 'ike.up of the redirected SA at B', bMark);
    const down = await a.waitFor((l) => l.event === 'ike.down', 20_000, 'ike.down at A', aMark);
    expect(String(down.raw.reason)).toMatch(/deleted by peer|redirected/);
    expect(a.since(aMark).some((l) => l.msg.includes(`redirecting the peer at ${ADDR.cl} to ${GW_B}`))).toBe(true);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const sas = await client.listSas({ ike: 'first' });
      const moved = sas.find((s) => s.state === 'ESTABLISHED' && s.remoteHost === GW_B);
      if (moved && moved.children.some((c) => c.state === 'INSTALLED') && !sas.some((s) => s.remoteHost === ADDR.gwOuter)) break;
      if (Date.now() > deadline) throw new Error(`the client did not move: ${JSON.stringify(sas.map((s) => [s.remoteHost, s.state]))}\n${client.tail(40)}`);
      await sleep(200);
    }
    expect(b.since(bMark).some((l) => (l.msg ?? '').includes(`was redirected here from ${ADDR.gwOuter}`))).toBe(true);
  }, 60_000);
});
