// Tests for `outpost ctl` against a real `outpost gateway --db --control-socket` process and a PSK peer gateway on loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/parse-config.ts';
import { createMockDataplane } from '../dataplane/mock.ts';
import type { IkeSaInfo } from '../ike/io.ts';
import { startGateway, type Gateway } from '../runtime/gateway.ts';
import { createLogger } from '../runtime/logger.ts';
import { sessionPseudonym } from '../store/pseudonym.ts';
import { openStore } from '../store/store.ts';

const ROOT = resolve(__dirname, '..', '..', '..');
const BUN = join(ROOT, 'node_modules', '.bin', 'bun');
const CLI = join(ROOT, 'firmware', 'bin', 'outpost.ts');
const dir = mkdtempSync(join(tmpdir(), 'outpost-ctl-'));
const SOCK = join(dir, 'run', 'control.sock');
const DB = join(dir, 'outpost.db');
const G_PORT = 15740;
const PSK = 'psk: "a shared secret of decent length"';

/** Runs `outpost ctl` without blocking: the peer gateway lives in this process and must keep answering meanwhile. */
function ctl(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(BUN, [CLI, 'ctl', ...args], { cwd: ROOT, env: { ...process.env, OUTPOST_CONTROL_SOCKET: SOCK, USER: 'alice' } });
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}
const ok = async (...args: string[]) => {
  const r = await ctl(...args);
  if (r.code !== 0) throw new Error(`outpost ctl ${args.join(' ')} exited ${r.code}:\n${r.out}${r.err}`);
  return r.out;
};
const json = async <T>(...args: string[]): Promise<T> => JSON.parse(await ok(...args, '--json')) as T;

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

let peer: Gateway;
const peerLines: string[] = [];
let gw: ChildProcess;
let gwErr = '';
let gwExit: Promise<number | null>;
const gwConfig = (peerPort: number) => `listen: [{ address: 127.0.0.1, port: ${G_PORT}, natt_port: ${G_PORT + 1} }]
log: { level: debug, format: json }
dataplane: { backend: mock }
retransmit: { timeout: 500ms, tries: 3 }
connections:
  - name: to-peer
    remote_addrs: [127.0.0.1]
    remote_port: ${peerPort}
    vips: [0.0.0.0]
    mobike: false # MOBIKE floats IKE to the NAT-T port, which a peer on a non-standard port does not have
    local: { id: client.example, auth: psk }
    remote: { id: gw.example, auth: psk }
    ${PSK}
    children: [{ name: net, remote_ts: [198.51.100.0/24] }]
  - name: from-peer
    local: { id: branch.example, auth: psk }
    remote: { id: peer.example, auth: psk }
    ${PSK}
    children: [{ name: lan, local_ts: [192.0.2.0/24], remote_ts: [dynamic] }]
`;

beforeAll(async () => {
  // The peer: a responder for G's "to-peer", and an initiator towards G's "from-peer" (for drain).
  const peerYaml = `retransmit: { timeout: 500ms, tries: 6 }
pools: [{ name: rw, cidr: 203.0.113.0/24 }]
connections:
  - name: rw
    local: { id: gw.example, auth: psk }
    remote: { id: client.example, auth: psk }
    ${PSK}
    pools: [rw]
    children: [{ name: net, local_ts: [198.51.100.0/24] }]
  - name: to-g
    remote_addrs: [127.0.0.1]
    remote_port: ${G_PORT}
    mobike: false
    local: { id: peer.example, auth: psk }
    remote: { id: branch.example, auth: psk }
    ${PSK}
    children: [{ name: lan, remote_ts: [192.0.2.0/24] }]
`;
  const p = parseConfigText(peerYaml, dir, 'peer.yaml');
  if (!p.ok) throw new Error(p.errors.join('\n'));
  peer = await startGateway(
    { ...p.config, listen: [{ address: '127.0.0.1', port: 0, nattPort: 0 }] },
    { logger: createLogger({ level: 'debug', format: 'json', write: (l) => peerLines.push(l) }), dataplane: createMockDataplane(), stopGraceMs: 200 },
  );
  const peerPort = peer.ports.find((x) => !x.natt)!.port;
  writeFileSync(join(dir, 'gateway.yaml'), gwConfig(peerPort));
  gw = spawn(BUN, [CLI, 'gateway', '--config', join(dir, 'gateway.yaml'), '--db', DB, '--control-socket', SOCK, '--log-format', 'json'], { cwd: ROOT });
  gw.stderr!.setEncoding('utf8').on('data', (d: string) => (gwErr += d));
  gwExit = new Promise((r) => gw.on('exit', (code) => r(code)));
  await until(() => /"event":"ready"/.test(gwErr), 20_000, `the gateway to start:\n${gwErr}`);
}, 60_000);

afterAll(async () => {
  if (gw && gw.exitCode === null) gw.kill('SIGKILL');
  await peer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('outpost ctl without a gateway', () => {
  it('--help for ctl and for every command; usage errors exit 2', async () => {
    const top = await ctl('--help');
    expect(top.code).toBe(0);
    expect(top.out).toMatch(/^Usage: outpost ctl <command>/);
    const verbs = ['list-sas', 'list-conns', 'list-certs', 'initiate', 'terminate', 'rekey', 'load-config', 'confirm', 'get-config', 'history', 'rollback', 'stats', 'drain', 'subscribe'];
    const helps = await Promise.all(verbs.map((c) => ctl(c, '--help')));
    verbs.forEach((c, i) => {
      expect(top.out).toMatch(new RegExp(`^  ${c} +\\S`, 'm'));
      const h = helps[i]!;
      expect([h.code, h.out.split('\n')[0]?.startsWith(`Usage: outpost ctl ${c}`)]).toEqual([0, true]);
      expect(h.out).toMatch(/--socket PATH/);
    });
    expect((await ctl()).code).toBe(2);
    expect((await ctl('frob')).err).toMatch(/^outpost ctl: unknown command "frob"/);
    const cases = [
      [['initiate'], 'missing argument'],
      [['list-sas', 'extra'], 'unexpected argument "extra"'],
      [['drain', 'maybe'], 'expected "on" or "off" (got "maybe")'],
      [['terminate'], 'give an IKE SA handle or --conn NAME (not both)'],
      [['initiate', 'x', '--timeout', '5s', '--no-wait'], '--timeout and --no-wait exclude each other'],
      [['load-config', 'f', '--confirm-timeout', '2s'], '--confirm-timeout must be a duration from 10s to 1d (e.g. 5m)'],
      [['subscribe', '--types', 'ike.up,bogus'], 'unknown event type "bogus"'],
      [['history', '--limit', 'lots'], '--limit must be an integer from 1 to 1000'],
      [['stats', '--bogus'], 'unknown option --bogus'],
    ] as const;
    const results = await Promise.all(cases.map(([args]) => ctl(...args)));
    cases.forEach(([args, msg], i) => {
      expect(results[i]!.code, args.join(' ')).toBe(2);
      expect(results[i]!.err).toContain(`outpost ctl ${args[0]}: ${msg}`);
    });
  });

  it('a missing socket is a clear error, exit 1', async () => {
    const r = await ctl('list-sas', '--socket', join(dir, 'nope.sock'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot connect to .*nope\.sock: no such socket \(is the gateway running with --control-socket\?\)/);
    const j = await ctl('stats', '--socket', join(dir, 'nope.sock'), '--json');
    expect(JSON.parse(j.out)).toMatchObject({ error: { code: 'unavailable' } });
  });
});

describe('outpost ctl against a running gateway', () => {
  it('lists connections and certificates, and no SAs yet', async () => {
    const out = await ok('list-conns');
    expect(out.split('\n')[0]).toMatch(/^CONN +REMOTE ADDRS +LOCAL ID +AUTH +REMOTE ID +POOLS +CHILDREN +IKE SAS$/);
    expect(out).toMatch(/^to-peer +127\.0\.0\.1 +client\.example +psk +gw\.example +- +net +0$/m);
    expect(out).toMatch(/^from-peer +any \(responder\) +branch\.example/m);
    expect((await ok('list-sas')).trim()).toBe('no IKE SAs');
    expect((await ok('list-certs')).trim()).toBe('no certificates');
  });

  it('initiates, lists, rekeys and terminates an SA, with events streamed to a subscriber and pseudonymised in the store', async () => {
    const sub = spawn(BUN, [CLI, 'ctl', 'subscribe', '--types', 'ike.up,child.up,ike.down', '--count', '4', '--json', '--socket', SOCK], { cwd: ROOT });
    let subOut = '';
    sub.stdout.setEncoding('utf8').on('data', (d: string) => (subOut += d));
    const subExit = new Promise<number | null>((r) => sub.on('exit', (c) => r(c)));
    await until(async () => (await json<{ control: { subscribers: number } }>('stats')).control.subscribers === 1, 10_000, 'the subscriber');

    const up = await ctl('initiate', 'to-peer');
    expect([up.code, up.err]).toEqual([0, '']);
    expect(up.out.trim()).toMatch(/^IKE SA \S+ up$/);
    const sas = (await json<{ sas: IkeSaInfo[] }>('list-sas')).sas;
    expect(sas).toHaveLength(1);
    const sa = sas[0]!;
    expect(sa).toMatchObject({ conn: 'to-peer', state: 'established', initiator: true, remoteId: 'fqdn:gw.example', virtualIps: ['203.0.113.1'] });
    const table = await ok('list-sas');
    expect(table).toMatch(new RegExp(`^${sa.ikeId} +to-peer +established +127\\.0\\.0\\.1:${G_PORT} +127\\.0\\.0\\.1:\\d+ +fqdn:gw\\.example +203\\.0\\.113\\.1 +\\d+s$`, 'm'));
    expect(table).toMatch(new RegExp(`^  ${sa.ikeId} child ${sa.children[0]!.childId} net installed aes256gcm16 in [0-9a-f]{8} out [0-9a-f]{8}: 203\\.0\\.113\\.1/32 === 198\\.51\\.100\\.0/24$`, 'm'));
    expect((await json<{ sas: IkeSaInfo[] }>('list-sas', '--conn', 'from-peer')).sas).toEqual([]);

    const oldSpi = sa.children[0]!.spiIn;
    expect((await ok('rekey', sa.ikeId, '--child', sa.children[0]!.childId)).trim()).toBe(`rekeying IKE SA ${sa.ikeId}`);
    await until(async () => (await json<{ sas: IkeSaInfo[] }>('list-sas')).sas[0]?.children.some((c) => c.spiIn !== oldSpi && c.state !== 'rekeyed') ?? false, 10_000, 'the rekeyed CHILD_SA');
    expect((await ctl('rekey', 'nosuch')).err).toMatch(/^outpost ctl rekey: no IKE SA nosuch$/m);

    const down = await ctl('terminate', sa.ikeId);
    expect([down.code, down.out.trim()]).toEqual([0, `terminated: ${sa.ikeId}`]);
    expect((await ok('list-sas')).trim()).toBe('no IKE SAs');

    expect(await subExit).toBe(0);
    const events = subOut.trim().split('\n').map((l) => JSON.parse(l) as { type: string; ikeId: string });
    // The rekey brought up a new CHILD_SA (child.up); its predecessor's child.down was not subscribed to.
    expect(events.map((e) => e.type)).toEqual(['ike.up', 'child.up', 'child.up', 'ike.down']);
    expect(events.every((e) => e.ikeId === sa.ikeId)).toBe(true);

    // The store (read while the gateway runs: WAL) holds the session under its pseudonym, never SPIs or identities.
    const store = await openStore({ path: DB });
    try {
      const recs = await store.saEvents.list();
      const session = sessionPseudonym(store.keys.pseudonyms, sa.spiI);
      expect(recs.map((r) => r.type)).toEqual(expect.arrayContaining(['ike.up', 'child.up', 'ike.down']));
      expect(recs.filter((r) => r.type === 'ike.up')[0]).toMatchObject({ session, conn: 'to-peer' });
      const raw = JSON.stringify(recs);
      expect(raw).not.toContain(sa.spiI);
      expect(raw).not.toContain('gw.example');
      expect(raw).not.toContain('127.0.0.1');
      const audit = await store.audit.list();
      expect(audit.filter((a) => a.action === 'terminate')[0]).toMatchObject({ actor: 'alice', outcome: 'ok' });
    } finally {
      await store.close();
    }
  }, 60_000);

  it('drain refuses new IKE SAs from peers until switched off', async () => {
    expect((await ok('drain', 'on')).trim()).toBe('draining: new IKE SAs are refused');
    peer.command({ type: 'initiate', conn: 'to-g', child: 'lan' });
    await until(async () => (await json<{ drain: { refused: number } }>('stats')).drain.refused >= 1, 10_000, 'a refused IKE_SA_INIT');
    expect((await json<{ sas: IkeSaInfo[] }>('list-sas')).sas).toEqual([]);
    expect(await ok('stats')).toMatch(/^draining +yes, refused [1-9]\d*, redirected 0$/m);
    expect((await ok('drain', 'off')).trim()).toBe('not draining');
    // The peer's next retransmission gets through.
    await until(async () => (await json<{ sas: IkeSaInfo[] }>('list-sas', '--conn', 'from-peer')).sas.some((s) => s.state === 'established'), 10_000, 'the peer to connect');
    expect((await ctl('terminate', '--conn', 'from-peer')).code).toBe(0);
  }, 30_000);

  it('loads, lists, shows, rolls back and confirms configs', async () => {
    const file = join(dir, 'next.yaml');
    writeFileSync(file, readFileSync(join(dir, 'gateway.yaml'), 'utf8').replace('name: from-peer', 'name: from-branch'));
    const loaded = await ctl('load-config', file, '--comment', 'rename the branch');
    expect(loaded.code).toBe(0);
    expect(loaded.out).toMatch(/^config version 2 applied \(reloaded in place\)\n  connection from-branch: added\n  connection from-peer: removed\n$/);
    expect(readFileSync(join(dir, 'gateway.yaml'), 'utf8')).toBe(readFileSync(file, 'utf8'));
    expect(await ok('list-conns')).toMatch(/^from-branch /m);
    expect(await ok('history')).toMatch(/^2 \* +applied +\S+ +alice +local +[0-9a-f]{12} +rename the branch$/m);
    expect(await ok('get-config')).toContain('psk: "[redacted]"');

    writeFileSync(join(dir, 'bad.yaml'), 'connections: 7\n');
    const bad = await ctl('load-config', join(dir, 'bad.yaml'));
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^outpost ctl load-config: the config has 1 error\nerror: gateway\.yaml:1: connections: /);
    const badJson = await ctl('load-config', join(dir, 'bad.yaml'), '--json');
    expect(badJson.code).toBe(1);
    expect(JSON.parse(badJson.out)).toMatchObject({ error: { code: 'invalid-config', details: [expect.stringMatching(/connections/)] } });

    const back = await ctl('rollback', '--confirm-timeout', '1m');
    expect(back.code).toBe(0);
    expect(back.out).toMatch(/^config version 3 applied \(rollback\)/);
    expect(back.out).toMatch(/it reverts at \S+ unless confirmed: outpost ctl confirm 3/);
    expect(await ok('history', '--limit', '1')).toMatch(/^3 +pending \(confirm by \S+\) .* rollback to version 1$/m);
    expect((await ok('confirm', '3')).trim()).toBe('config version 3 confirmed');
    expect(await ok('list-conns')).toMatch(/^from-peer /m);
    expect((await json<{ version: { id: number; current: boolean } }>('get-config')).version).toMatchObject({ id: 3, current: true });
  }, 30_000);

  it('stops on SIGTERM, removing its socket', async () => {
    gw.kill('SIGTERM');
    expect(await gwExit).toBe(0);
    expect(existsSync(SOCK)).toBe(false);
    expect(gwErr).toMatch(/"event":"stopped"/);
    expect(gwErr).not.toContain('decent length');
  });
});
