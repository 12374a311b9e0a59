// Tests for the control plane in one process: real gateways on loopback, the control socket and its commands, restart and reload apply.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { makeTestPki } from '../../../test/support/certs.ts';
import type { GatewayConfig } from '../config/types.ts';
import { createMockDataplane } from '../dataplane/mock.ts';
import type { EngineOptions } from '../ike/engine.ts';
import type { Command, EngineEvent, IkeSaInfo, Output } from '../ike/io.ts';
import { startGateway, type EngineLike } from '../runtime/gateway.ts';
import { createLogger } from '../runtime/logger.ts';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from './attach.ts';
import { describeCertificate } from './cert-info.ts';
import { ControlClient, ControlRequestError } from './client.ts';
import type { StreamEvent } from './protocol.ts';

const base = mkdtempSync(join(tmpdir(), 'outpost-ctlplane-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const planes: ControlPlane[] = [];
const clients: ControlClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const p of planes.splice(0)) await p.stop();
});
let n = 0;

const conn = (name: string, extra = '') =>
  `  - name: ${name}\n    local: { id: gw.example, auth: psk }\n    remote: { auth: psk }\n    psk: "a shared secret of decent length"\n${extra}    children: [{ name: net, local_ts: [198.51.100.0/24] }]\n`;
const config = (port: number, ...conns: string[]) => `listen: [{ address: 127.0.0.1, port: ${port}, natt_port: ${port + 1} }]
log: { level: debug, format: json }
dataplane: { backend: mock }
connections:
${conns.join('')}`;

async function start(yaml: (port: number) => string, extra: Partial<ControlPlaneOptions> = {}) {
  const dir = join(base, `t${n}`);
  const port = 15600 + 4 * n++;
  mkdirSync(dir);
  const configPath = join(dir, 'gateway.yaml');
  writeFileSync(configPath, yaml(port));
  const lines: string[] = [];
  const plane = await startControlPlane({
    configPath,
    dbPath: join(dir, 'store.db'),
    socketPath: join(dir, 'run', 'control.sock'),
    logger: createLogger({ level: 'debug', format: 'json', write: (l) => lines.push(l), strict: true }),
    gatewayOptions: { stopGraceMs: 200 },
    startGateway: (cfg, opts) => startGateway(cfg, { ...opts, dataplane: createMockDataplane() }),
    retentionIntervalMs: 0,
    ...extra,
  });
  planes.push(plane);
  const client = await ControlClient.connect(plane.server!.path, { actor: 'tester' });
  clients.push(client);
  return { plane, client, port, dir, lines, yaml: yaml(port) };
}

const fails = async (p: Promise<unknown>) => {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  if (!(e instanceof ControlRequestError)) throw new Error(`expected a request error, got ${String(e)}`);
  return e.body;
};

describe('config through the control socket', () => {
  it('load-config adds a connection in place (no restart) and subscribers see it applied', async () => {
    const t = await start((p) => config(p, conn('a')));
    const sub = await ControlClient.connect(t.plane.server!.path);
    clients.push(sub);
    const events: StreamEvent[] = [];
    expect(await sub.request('subscribe', {}, { onEvent: (e) => events.push(e) })).toMatchObject({ subscribed: expect.arrayContaining(['ike.up', 'config.applied', 'drain']) });
    const before = t.plane.supervisor.current();
    const r = await t.client.request('load-config', { yaml: config(t.port, conn('a'), conn('b')), comment: 'add b' });
    expect(r).toEqual({ version: 2, unchanged: false, mode: 'reload', changes: ['connection b: added'], warnings: [] });
    expect(t.plane.supervisor.current()).toBe(before);
    expect((await t.client.request('list-conns', {})).conns.map((c) => c.name)).toEqual(['a', 'b']);
    await t.client.request('drain', { on: true });
    expect(events.map((e) => e.type)).toEqual(['config.applied', 'drain']);
    const hist = await t.client.request('history', {});
    expect(hist.versions.map((v) => [v.id, v.status, v.current, v.author, v.comment])).toEqual([
      [2, 'applied', true, 'tester', 'add b'],
      [1, 'applied', false, 'file', 'imported from gateway.yaml at first start'],
    ]);
    const stats = await t.client.request('stats', {});
    expect(stats).toMatchObject({ configVersion: 2, draining: true, redirectTo: null, sas: { ike: 0, child: 0 }, control: { clients: 2, subscribers: 1 } });
    expect((stats.gateway as { udp?: unknown }).udp).toBeDefined();
  });

  it('a failing health check puts the old gateway config back', async () => {
    let failing = false;
    const t = await start((p) => config(p, conn('a')), { extraHealthChecks: async () => [{ name: 'uplink', ok: !failing, detail: 'no route to the cloud' }] });
    failing = true;
    const err = await fails(t.client.request('load-config', { yaml: config(t.port, conn('b')) }));
    expect(err).toEqual({ code: 'failed', message: 'config version 2 was not applied: health check failed (uplink: no route to the cloud); the previous config is back in force' });
    expect((await t.client.request('list-conns', {})).conns.map((c) => c.name)).toEqual(['a']);
    expect((await t.client.request('get-config', {})).version).toMatchObject({ id: 1, current: true });
    expect((await t.client.request('history', {})).versions[0]).toMatchObject({ id: 2, status: 'rolled_back', reason: 'health check failed (uplink: no route to the cloud)' });
  });

  it('when neither the new nor the old config starts, the API says so and a working config brings the gateway back', async () => {
    let broken = false;
    const t = await start((p) => config(p, conn('a')), {
      startGateway: async (cfg, opts) => {
        if (broken) throw new Error('address already in use');
        return startGateway(cfg, { ...opts, dataplane: createMockDataplane() });
      },
    });
    broken = true;
    expect(await fails(t.client.request('load-config', { yaml: config(t.port + 2, conn('a')) }))).toMatchObject({ code: 'failed', message: expect.stringMatching(/not applied: address already in use/) });
    expect(t.lines.some((l) => l.includes('"event":"config.revert-failed"'))).toBe(true);
    expect(await fails(t.client.request('list-sas', {}))).toMatchObject({ code: 'unavailable', message: expect.stringMatching(/the gateway is not running/) });
    broken = false;
    expect(await t.client.request('load-config', { yaml: config(t.port, conn('c')) })).toMatchObject({ version: 3, mode: 'restart' });
    expect((await t.client.request('list-conns', {})).conns.map((c) => c.name)).toEqual(['c']);
  });

  it('invalid configs are refused with every error; get-config hides PSKs unless asked', async () => {
    const t = await start((p) => config(p, conn('a')));
    const err = await fails(t.client.request('load-config', { yaml: 'connections:\n  - name: x\n' }));
    expect(err.code).toBe('invalid-config');
    expect(err.details?.length).toBeGreaterThan(0);
    expect(err.details?.[0]).toMatch(/^gateway\.yaml:2: connections\[0\]/);
    const shown = await t.client.request('get-config', {});
    expect(shown.redacted).toBe(true);
    expect(shown.yaml).not.toContain('decent length');
    expect(shown.yaml).toContain('psk: "[redacted]"');
    expect((await t.client.request('get-config', { showSecrets: true })).yaml).toBe(t.yaml);
    expect(await fails(t.client.request('get-config', { id: 42 }))).toMatchObject({ code: 'not-found', field: 'args.id' });
    expect(await fails(t.client.request('confirm', {}))).toMatchObject({ code: 'conflict' });
    expect(t.lines.join('\n')).not.toContain('decent length');
  });

  it('commands about SAs check their arguments against what exists', async () => {
    const t = await start((p) => config(p, conn('a')));
    expect(await fails(t.client.request('initiate', { conn: 'nope' }))).toMatchObject({ code: 'not-found', field: 'args.conn', message: 'no connection "nope"' });
    expect(await fails(t.client.request('initiate', { conn: 'a', child: 'x' }))).toMatchObject({ code: 'not-found', field: 'args.child' });
    expect(await fails(t.client.request('initiate', { conn: 'a' }))).toMatchObject({ code: 'failed', message: 'connection "a" has no remote_addrs: it can only respond' });
    expect(await fails(t.client.request('terminate', {}))).toMatchObject({ code: 'bad-request', field: 'args.ikeId' });
    expect(await fails(t.client.request('terminate', { conn: 'a' }))).toMatchObject({ code: 'not-found', message: 'connection "a" has no IKE SA' });
    expect(await fails(t.client.request('terminate', { conn: 'a', childId: 'c' }))).toMatchObject({ code: 'bad-request', field: 'args.childId' });
    expect(await fails(t.client.request('rekey', { ikeId: 'feed' }))).toMatchObject({ code: 'not-found', field: 'args.ikeId' });
    expect(await fails(t.client.request('drain', { on: true, redirectTo: 'bad..name' }))).toMatchObject({ code: 'bad-request', field: 'args.redirectTo' });
    expect(await fails(t.client.request('drain', { on: false, redirectTo: 'gw2.example' }))).toMatchObject({ field: 'args.redirectTo' });
    const audit = await t.plane.store!.audit.list();
    expect(audit.filter((a) => a.action === 'initiate').map((a) => [a.actor, a.outcome])).toEqual([
      ['tester', 'error'],
      ['tester', 'error'],
      ['tester', 'error'],
    ]);
  });
});

/** A fake engine that can reload: records its configs and what it was asked. */
class ReloadableFake implements EngineLike {
  static instances: ReloadableFake[] = [];
  reloads: GatewayConfig[] = [];
  constructor(readonly opts: EngineOptions) {
    ReloadableFake.instances.push(this);
  }
  receive(): Output {
    return { send: [], effects: [], events: [] };
  }
  tick(): Output {
    return { send: [], effects: [], events: [] };
  }
  command(_c: Command): Output {
    return { send: [], effects: [], events: [] };
  }
  listSas(): IkeSaInfo[] {
    return [];
  }
  reload(config: GatewayConfig): Output {
    this.reloads.push(config);
    const e: EngineEvent = { type: 'log', level: 'info', msg: `reloaded: ${config.connections.map((c) => c.name).join(',')}` };
    return { send: [], effects: [], events: [e] };
  }
}

describe('in-place reload', () => {
  it('is used when the engine can reload and nothing needs new sockets; a listen change still restarts', async () => {
    ReloadableFake.instances = [];
    const t = await start((p) => config(p, conn('a')), { engineFactory: (o) => new ReloadableFake(o) });
    const gw = t.plane.supervisor.current();
    const r = await t.client.request('load-config', { yaml: config(t.port, conn('a'), conn('b')) });
    expect(r.mode).toBe('reload');
    expect(t.plane.supervisor.current()).toBe(gw);
    expect(ReloadableFake.instances).toHaveLength(1);
    expect(ReloadableFake.instances[0]?.reloads.map((c) => c.connections.map((x) => x.name))).toEqual([['a', 'b']]);
    // The engine's output was routed (its log line reached the logger).
    expect(t.lines.some((l) => l.includes('reloaded: a,b'))).toBe(true);
    const moved = await t.client.request('load-config', { yaml: config(t.port + 2, conn('a'), conn('b')) });
    expect(moved.mode).toBe('restart');
    expect(ReloadableFake.instances).toHaveLength(2);
    expect(t.plane.supervisor.current()?.ports.map((p) => p.port).sort()).toEqual([t.port + 2, t.port + 3]);
  });
});

describe('list-certs', () => {
  it('describes a certificate by subject, issuer and validity', () => {
    const pki = makeTestPki();
    const now = Date.now();
    const c = describeCertificate('ca:root', pki.ca.der, now);
    expect(c).toMatchObject({ use: 'ca:root', subject: pki.ca.subject, issuer: pki.ca.subject });
    expect(c.daysLeft).toBeGreaterThan(0);
    expect(new Date(c.notAfter).getTime()).toBeGreaterThan(now);
    expect(describeCertificate('conn:x', pki.gwExpired.der, now).daysLeft).toBeLessThan(0);
    expect(describeCertificate('conn:y', Uint8Array.from([1, 2, 3]), now).subject).toBe('(unparsable certificate)');
  });
});
