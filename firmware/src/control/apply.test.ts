// Tests for config apply: validate → store → apply → health → commit, reverts on failure, commit-confirm, rollback.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/parse-config.ts';
import type { GatewayConfig } from '../config/types.ts';
import { createLogger } from '../runtime/logger.ts';
import { configHash } from '../store/config-versions.ts';
import { openStore, type Store } from '../store/store.ts';
import { ConfigApplier, FILE_HASH_SETTING, type ApplyTarget } from './apply.ts';
import { ControlError } from './errors.ts';
import type { ApplyPlan } from './plan.ts';
import type { ControlEvent } from './protocol.ts';
import type { ApplyMode, HealthReport } from './supervisor.ts';

const base = mkdtempSync(join(tmpdir(), 'outpost-apply-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});
let n = 0;

const yamlWith = (...names: string[]) => `dataplane: { backend: mock }
connections:
${names
  .map(
    (c) => `  - name: ${c}
    local: { id: gw.example, auth: psk }
    remote: { auth: psk }
    psk: "a shared secret of decent length"
    children: [{ name: net, local_ts: [198.51.100.0/24] }]
`,
  )
  .join('')}`;

class FakeTarget implements ApplyTarget {
  applied: string[][] = [];
  healthy = true;
  failWith: string | null = null;
  constructor(public config: GatewayConfig) {}
  async apply(c: GatewayConfig, plan: ApplyPlan): Promise<ApplyMode> {
    if (this.failWith && c.connections.some((x) => x.name === this.failWith)) throw new Error(`cannot bind for ${this.failWith}`);
    this.applied.push(c.connections.map((x) => x.name));
    this.config = c;
    return plan.changes.length ? 'restart' : 'none';
  }
  async health(): Promise<HealthReport> {
    return { ok: this.healthy, checks: [{ name: 'sockets', ok: true }, { name: 'peer', ok: this.healthy, ...(this.healthy ? {} : { detail: 'branch-1 unreachable' }) }] };
  }
}

async function setup(initial = yamlWith('a')) {
  const dir = join(base, `t${n++}`);
  mkdirSync(dir);
  const configPath = join(dir, 'gateway.yaml');
  writeFileSync(configPath, initial);
  const store = await openStore({ path: join(dir, 'store.db') });
  stores.push(store);
  const parse = (y: string) => parseConfigText(y, dirname(configPath), basename(configPath));
  const first = parse(initial);
  if (!first.ok) throw new Error(first.errors.join('\n'));
  await store.configs.insertApplied({ yaml: initial, author: 'file', source: 'local' });
  await store.settings.set(FILE_HASH_SETTING, configHash(initial));
  const target = new FakeTarget(first.config);
  const events: ControlEvent[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const lines: string[] = [];
  const applier = new ConfigApplier({
    store,
    target,
    configPath,
    parse,
    logger: createLogger({ level: 'debug', format: 'json', write: (l) => lines.push(l), strict: true }),
    onEvent: (e) => events.push(e),
    setTimer: (fn, ms) => timers.push({ fn, ms }),
    clearTimer: () => {},
  });
  return { dir, configPath, store, target, applier, events, timers, lines, initial };
}

const failure = async (p: Promise<unknown>): Promise<ControlError> => {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  if (!(e instanceof ControlError)) throw new Error(`expected a ControlError, got ${String(e)}`);
  return e;
};

describe('load', () => {
  it('stores, applies, checks, commits and replaces the active file', async () => {
    const t = await setup();
    const next = yamlWith('a', 'b');
    const r = await t.applier.load({ yaml: next, author: 'alice', comment: 'add b' });
    expect(r).toEqual({ version: 2, unchanged: false, mode: 'restart', changes: ['connection b: added'], warnings: [] });
    expect(t.target.applied).toEqual([['a', 'b']]);
    expect(await t.store.configs.current()).toMatchObject({ id: 2, yaml: next, author: 'alice', comment: 'add b', status: 'applied', parentId: 1, source: 'local' });
    expect(readFileSync(t.configPath, 'utf8')).toBe(next);
    expect(await t.store.settings.get(FILE_HASH_SETTING)).toBe(configHash(next));
    expect(t.events).toEqual([{ type: 'config.applied', version: 2, hash: configHash(next), mode: 'restart' }]);
    expect((await t.store.audit.list())[0]).toMatchObject({ actor: 'alice', action: 'load-config', target: 'version 2', outcome: 'ok' });
    expect(t.lines.join('\n')).not.toContain('decent length');
  });

  it('refuses an invalid config with every error, storing nothing and touching nothing', async () => {
    const t = await setup();
    const e = await failure(t.applier.load({ yaml: 'log: { level: loud }\nconnections: 5\n', author: 'bob' }));
    expect(e.code).toBe('invalid-config');
    expect(e.message).toBe('the config has 2 errors');
    expect(e.extra.details).toEqual([expect.stringMatching(/^gateway\.yaml:1: log\.level: must be one of/), expect.stringMatching(/^gateway\.yaml:2: connections: /)]);
    expect(await t.store.configs.count()).toBe(1);
    expect(t.target.applied).toEqual([]);
    expect(readFileSync(t.configPath, 'utf8')).toBe(t.initial);
    expect((await t.store.audit.list())[0]).toMatchObject({ actor: 'bob', action: 'load-config', outcome: 'error' });
  });

  it('does nothing for the text already in force', async () => {
    const t = await setup();
    expect(await t.applier.load({ yaml: t.initial, author: 'x' })).toEqual({ version: 1, unchanged: true, mode: 'none', changes: [], warnings: [] });
    expect(await t.store.configs.count()).toBe(1);
  });

  it('reverts when the health check fails: previous config back, version rolled back, file untouched', async () => {
    const t = await setup();
    t.target.healthy = false;
    const e = await failure(t.applier.load({ yaml: yamlWith('a', 'b'), author: 'x' }));
    expect(e.code).toBe('failed');
    expect(e.message).toBe('config version 2 was not applied: health check failed (peer: branch-1 unreachable); the previous config is back in force');
    expect(t.target.applied).toEqual([['a', 'b'], ['a']]);
    expect(t.target.config.connections.map((c) => c.name)).toEqual(['a']);
    expect(await t.store.configs.meta(2)).toMatchObject({ status: 'rolled_back', reason: 'health check failed (peer: branch-1 unreachable)' });
    expect((await t.store.configs.current())?.id).toBe(1);
    expect(readFileSync(t.configPath, 'utf8')).toBe(t.initial);
    expect(t.events).toEqual([{ type: 'config.reverted', version: 2, reason: 'health check failed (peer: branch-1 unreachable)' }]);
  });

  it('reverts when the gateway cannot take the config', async () => {
    const t = await setup();
    t.target.failWith = 'b';
    const e = await failure(t.applier.load({ yaml: yamlWith('a', 'b'), author: 'x' }));
    expect(e.message).toMatch(/not applied: cannot bind for b;/);
    expect(t.target.applied).toEqual([['a']]);
    expect(await t.store.configs.meta(2)).toMatchObject({ status: 'rolled_back', reason: 'cannot bind for b' });
    // The next change goes through.
    t.target.failWith = null;
    expect((await t.applier.load({ yaml: yamlWith('c'), author: 'x' })).version).toBe(3);
  });

  it('runs changes one at a time', async () => {
    const t = await setup();
    const [a, b] = await Promise.all([t.applier.load({ yaml: yamlWith('b'), author: 'x' }), t.applier.load({ yaml: yamlWith('c'), author: 'y' })]);
    expect([a.version, b.version]).toEqual([2, 3]);
    expect(b.changes).toEqual(['connection c: added', 'connection b: removed']);
    expect(readFileSync(t.configPath, 'utf8')).toBe(yamlWith('c'));
  });
});

describe('commit-confirm', () => {
  it('runs the new config uncommitted until confirmed; other changes wait', async () => {
    const t = await setup();
    const r = await t.applier.load({ yaml: yamlWith('b'), author: 'alice', confirmTimeoutMs: 30_000 });
    expect(r.confirmBy).toBeGreaterThan(Date.now());
    expect(t.timers.map((x) => x.ms)).toEqual([30_000]);
    expect(t.target.config.connections.map((c) => c.name)).toEqual(['b']);
    expect(await t.store.configs.meta(2)).toMatchObject({ status: 'pending', confirmBy: r.confirmBy });
    expect((await t.store.configs.current())?.id).toBe(1);
    expect(readFileSync(t.configPath, 'utf8')).toBe(t.initial);
    expect(t.applier.pendingConfirm).toEqual({ id: 2, confirmBy: r.confirmBy });
    expect((await failure(t.applier.load({ yaml: yamlWith('c'), author: 'x' }))).message).toMatch(/^version 2 awaits confirmation until/);
    expect((await failure(t.applier.confirm(7, 'alice'))).extra.field).toBe('args.id');
    expect(await t.applier.confirm(undefined, 'alice')).toEqual({ version: 2 });
    expect(await t.store.configs.current()).toMatchObject({ id: 2, confirmBy: null, status: 'applied' });
    expect(readFileSync(t.configPath, 'utf8')).toBe(yamlWith('b'));
    expect(t.events.map((e) => e.type)).toEqual(['config.pending', 'config.applied']);
    expect((await failure(t.applier.confirm(undefined, 'alice'))).code).toBe('conflict');
    // The timer firing after the confirm changes nothing.
    t.timers[0]?.fn();
    await Bun.sleep(10);
    expect((await t.store.configs.current())?.id).toBe(2);
  });

  it('reverts when the confirmation does not come', async () => {
    const t = await setup();
    await t.applier.load({ yaml: yamlWith('b'), author: 'alice', confirmTimeoutMs: 30_000 });
    t.timers[0]?.fn();
    const end = Date.now() + 2000;
    while (t.events.length < 2 && Date.now() < end) await Bun.sleep(5);
    expect(t.events.at(-1)).toEqual({ type: 'config.reverted', version: 2, reason: 'not confirmed within 30 s' });
    expect(t.target.config.connections.map((c) => c.name)).toEqual(['a']);
    expect(await t.store.configs.meta(2)).toMatchObject({ status: 'rolled_back', confirmBy: null, reason: 'not confirmed within 30 s' });
    expect(readFileSync(t.configPath, 'utf8')).toBe(t.initial);
    expect(t.applier.pendingConfirm).toBeNull();
    expect((await t.store.audit.list())[0]).toMatchObject({ actor: 'system', action: 'confirm-timeout' });
  });
});

describe('rollback', () => {
  it('applies the previous version again as a new version, or a named one', async () => {
    const t = await setup();
    await t.applier.load({ yaml: yamlWith('b'), author: 'x' });
    await t.applier.load({ yaml: yamlWith('c'), author: 'x' });
    const r = await t.applier.rollback({ author: 'carol' });
    expect(r).toMatchObject({ version: 4, changes: ['connection b: added', 'connection c: removed'] });
    expect(await t.store.configs.current()).toMatchObject({ id: 4, yaml: yamlWith('b'), author: 'carol', comment: 'rollback to version 2' });
    expect((await t.applier.rollback({ author: 'carol', id: 1, comment: 'back to the start' })).version).toBe(5);
    expect(readFileSync(t.configPath, 'utf8')).toBe(t.initial);
    expect((await failure(t.applier.rollback({ author: 'x', id: 99 }))).extra.field).toBe('args.id');
  });

  it('says so when there is nothing to go back to', async () => {
    const t = await setup();
    expect((await failure(t.applier.rollback({ author: 'x' }))).message).toBe('no earlier applied version to roll back to');
  });
});
