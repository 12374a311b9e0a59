// Tests for start-up reconciliation, and crash injection: a gateway killed at each step of config apply restarts with the old or the new config, never a mix.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/parse-config.ts';
import { createMockDataplane } from '../dataplane/mock.ts';
import { startGateway } from '../runtime/gateway.ts';
import { createLogger } from '../runtime/logger.ts';
import { configHash } from '../store/config-versions.ts';
import { openStore, type Store } from '../store/store.ts';
import { FILE_HASH_SETTING } from './apply.ts';
import { startControlPlane, type ControlPlane } from './attach.ts';
import { reconcileConfig, ReconcileError } from './reconcile.ts';

const ROOT = resolve(__dirname, '..', '..', '..');
const BUN = join(ROOT, 'node_modules', '.bin', 'bun');
const base = mkdtempSync(join(tmpdir(), 'outpost-reconcile-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const stores: Store[] = [];
const planes: ControlPlane[] = [];
afterEach(async () => {
  for (const p of planes.splice(0)) await p.stop();
  for (const s of stores.splice(0)) await s.close();
});
let n = 0;

// Fixed loopback ports (the file format has no "any port"), distinct per test.
const PORT_BASE = 15500;
let port = PORT_BASE;
const yamlWith = (...names: string[]) => `listen: [{ address: 127.0.0.1, port: ${port}, natt_port: ${port + 1} }]
dataplane: { backend: mock }
connections:
${names.map((c) => `  - name: ${c}\n    local: { id: gw.example, auth: psk }\n    remote: { auth: psk }\n    psk: "a shared secret of decent length"\n    children: [{ name: net, local_ts: [198.51.100.0/24] }]\n`).join('')}`;
let OLD = '';
let NEW = '';

function fresh(text: string | null | 'old' = 'old') {
  port = PORT_BASE + 2 * n;
  OLD = yamlWith('old');
  NEW = yamlWith('new');
  if (text === 'old') text = OLD;
  const dir = join(base, `t${n++}`);
  mkdirSync(dir);
  const configPath = join(dir, 'gateway.yaml');
  if (text !== null) writeFileSync(configPath, text);
  return { dir, configPath, dbPath: join(dir, 'store.db'), parse: (y: string) => parseConfigText(y, dirname(configPath), basename(configPath)) };
}

async function open(dbPath: string) {
  const s = await openStore({ path: dbPath });
  stores.push(s);
  return s;
}

describe('reconcileConfig', () => {
  it('imports the file at first start, then recognises it', async () => {
    const f = fresh();
    const store = await open(f.dbPath);
    const r = await reconcileConfig({ store, configPath: f.configPath, parse: f.parse });
    expect(r.version).toMatchObject({ id: 1, author: 'file', status: 'applied', comment: 'imported from gateway.yaml at first start' });
    expect(r.config.connections.map((c) => c.name)).toEqual(['old']);
    expect(r.notes).toEqual(['gateway.yaml imported as config version 1']);
    const again = await reconcileConfig({ store, configPath: f.configPath, parse: f.parse });
    expect([again.version.id, again.notes]).toEqual([1, []]);
    expect(await store.configs.count()).toBe(1);
  });

  it('refuses to start with neither a file nor a stored config, or an invalid first file', async () => {
    const none = fresh(null);
    await expect(reconcileConfig({ store: await open(none.dbPath), configPath: none.configPath, parse: none.parse })).rejects.toThrow(/no such file, and the store holds no config/);
    const bad = fresh('log: { level: loud }\n');
    const err = await reconcileConfig({ store: await open(bad.dbPath), configPath: bad.configPath, parse: bad.parse }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReconcileError);
    expect((err as ReconcileError).errors).toEqual([expect.stringMatching(/^gateway\.yaml:1: log\.level/)]);
  });

  it('rewrites a stale or missing file from the store', async () => {
    const f = fresh();
    const store = await open(f.dbPath);
    await reconcileConfig({ store, configPath: f.configPath, parse: f.parse });
    // As if a commit of NEW happened and the process died before the file was replaced.
    await store.configs.insertApplied({ yaml: NEW, author: 'x', source: 'local' });
    const r = await reconcileConfig({ store, configPath: f.configPath, parse: f.parse });
    expect(r.notes).toEqual(['gateway.yaml was stale: rewritten from config version 2']);
    expect(readFileSync(f.configPath, 'utf8')).toBe(NEW);
    rmSync(f.configPath);
    writeFileSync(join(f.dir, '.gateway.yaml.123.abcd.tmp'), 'half written');
    const m = await reconcileConfig({ store, configPath: f.configPath, parse: f.parse });
    expect(m.notes).toEqual(['removed .gateway.yaml.123.abcd.tmp left by an interrupted config write', 'gateway.yaml was missing: rewritten from config version 2']);
    expect(readFileSync(f.configPath, 'utf8')).toBe(NEW);
    expect(readdirSync(f.dir).filter((x) => x.endsWith('.tmp'))).toEqual([]);
  });

  it('imports a valid hand edit as a new version; runs the stored one when the edit is invalid', async () => {
    const f = fresh();
    const store = await open(f.dbPath);
    await reconcileConfig({ store, configPath: f.configPath, parse: f.parse });
    writeFileSync(f.configPath, NEW);
    const r = await reconcileConfig({ store, configPath: f.configPath, parse: f.parse });
    expect(r.version).toMatchObject({ id: 2, author: 'file', parentId: 1, comment: 'gateway.yaml edited by hand: imported at start' });
    expect(await store.settings.get(FILE_HASH_SETTING)).toBe(configHash(NEW));
    writeFileSync(f.configPath, `${NEW}bogus: 1\n`);
    const bad = await reconcileConfig({ store, configPath: f.configPath, parse: f.parse });
    expect(bad.version.id).toBe(2);
    expect(bad.config.connections.map((c) => c.name)).toEqual(['new']);
    expect(bad.warnings.at(-1)).toMatch(/^gateway\.yaml was edited by hand but has 1 error \(gateway\.yaml:\d+: bogus: unknown key.*running config version 2 from the store instead$/);
    expect(readFileSync(f.configPath, 'utf8')).toBe(`${NEW}bogus: 1\n`);
  });

  it('rolls back versions left pending, saying why', async () => {
    const f = fresh();
    const store = await open(f.dbPath);
    await reconcileConfig({ store, configPath: f.configPath, parse: f.parse });
    const a = await store.configs.insertPending({ yaml: NEW, author: 'x', source: 'local' });
    const b = await store.configs.insertPending({ yaml: yamlWith('b'), author: 'x', source: 'local' });
    await store.configs.setConfirmBy(b, Date.now() + 1000);
    const r = await reconcileConfig({ store, configPath: f.configPath, parse: f.parse });
    expect(r.version.id).toBe(1);
    expect(await store.configs.meta(a)).toMatchObject({ status: 'rolled_back', reason: 'interrupted: the gateway stopped before it was committed' });
    expect(await store.configs.meta(b)).toMatchObject({ status: 'rolled_back', reason: 'not confirmed before the gateway restarted' });
  });
});

describe('crash injection during config apply', () => {
  /** Kills a gateway process at `step` while it applies NEW over OLD, then starts the control plane again here. */
  async function crashAndRestart(step: string, confirm?: 'hold') {
    const f = fresh();
    writeFileSync(join(f.dir, 'new.yaml'), NEW);
    const r = spawnSync(BUN, [join(__dirname, 'testing', 'apply-crash-child.ts'), f.configPath, f.dbPath, join(f.dir, 'new.yaml'), step, ...(confirm ? [confirm] : [])], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (r.signal !== 'SIGKILL') throw new Error(`the child did not die at ${step}: status ${r.status}\n${r.stderr}`);
    const lines: string[] = [];
    const plane = await startControlPlane({
      configPath: f.configPath,
      dbPath: f.dbPath,
      logger: createLogger({ level: 'info', format: 'json', write: (l) => lines.push(l) }),
      gatewayOptions: { stopGraceMs: 0 },
      startGateway: (config, opts) => startGateway(config, { ...opts, dataplane: createMockDataplane() }),
    });
    planes.push(plane);
    const store = plane.store as Store;
    const current = (await store.configs.current())!;
    return {
      running: plane.supervisor.config.connections.map((c) => c.name),
      listening: (await plane.supervisor.ready()).ports.length,
      current,
      file: readFileSync(f.configPath, 'utf8'),
      history: (await store.configs.list()).map((v) => `${v.id}:${v.status}${v.reason ? `:${v.reason}` : ''}`),
      notes: lines.map((l) => JSON.parse(l) as { event?: string; msg: string }).filter((l) => l.event === 'config.reconciled').map((l) => l.msg),
      tmpFiles: readdirSync(f.dir).filter((x) => x.endsWith('.tmp')),
    };
  }

  it.each([
    ['stored', 'old'],
    ['engine-applied', 'old'],
    ['healthy', 'old'],
    ['committed', 'new'],
    ['file-written', 'new'],
  ] as const)('killed after step "%s": the %s config is fully in force after restart', async (step, expected) => {
    const r = await crashAndRestart(step);
    const yaml = expected === 'old' ? OLD : NEW;
    expect(r.running).toEqual([expected]);
    expect(r.current.yaml).toBe(yaml);
    expect(r.current.hash).toBe(configHash(yaml));
    expect(r.file).toBe(yaml);
    expect(r.tmpFiles).toEqual([]);
    if (expected === 'old') {
      expect(r.history).toEqual(['2:rolled_back:interrupted: the gateway stopped before it was committed', '1:applied']);
      expect(r.notes).toEqual(['config version 2 rolled back (interrupted: the gateway stopped before it was committed)']);
    } else {
      expect(r.history).toEqual(['2:applied', '1:applied']);
      expect(r.notes).toEqual(step === 'committed' ? ['gateway.yaml was stale: rewritten from config version 2'] : []);
    }
  });

  it('an unconfirmed commit-confirm change is gone after a restart', async () => {
    const r = await crashAndRestart('never', 'hold');
    expect(r.running).toEqual(['old']);
    expect(r.file).toBe(OLD);
    expect(r.history).toEqual(['2:rolled_back:not confirmed before the gateway restarted', '1:applied']);
  });
});
