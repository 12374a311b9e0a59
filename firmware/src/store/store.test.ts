// Tests for the appliance store: migrations, transactions and crash safety, secrets at rest, pseudonyms, retention.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configHash } from './config-versions.ts';
import { loadOrCreateDeviceKey } from './device-key.ts';
import { migrate, MIGRATIONS, type Migration } from './migrations.ts';
import { pseudonym, sessionPseudonym } from './pseudonym.ts';
import { openSecret, sealSecret } from './secrets.ts';
import { openDatabase } from './sqlite.ts';
import { openStore, SETTING } from './store.ts';

const ROOT = resolve(__dirname, '..', '..', '..');
const BUN = join(ROOT, 'node_modules', '.bin', 'bun');
const base = mkdtempSync(join(tmpdir(), 'outpost-store-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const d = join(base, `t${n++}`);
  mkdirSync(d);
  return d;
};

describe('migrations', () => {
  it('create the schema once; running them again changes nothing', async () => {
    const d = fresh();
    const s1 = await openStore({ path: join(d, 'a.db') });
    expect(s1.schemaVersion).toBe(1);
    await s1.close();
    const db = await openDatabase(join(d, 'a.db'));
    expect(await migrate(db)).toEqual({ applied: [], version: 1 });
    expect(await db.all('SELECT version, name FROM schema_migrations')).toEqual([{ version: 1, name: 'initial schema' }]);
    const tables = (await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")).map((t) => t.name);
    expect(tables).toEqual(['audit_events', 'config_versions', 'sa_events', 'schema_migrations', 'settings', 'telemetry_outbox']);
    expect((await db.get<{ journal_mode: string }>('PRAGMA journal_mode'))?.journal_mode).toBe('wal');
    // Audit and SA events are nobody else's business: the file and its WAL are 0600 from the start.
    await db.run('INSERT INTO settings VALUES (?, ?, 0)', ['k', '1']);
    for (const f of ['a.db', 'a.db-wal']) expect(statSync(join(d, f)).mode & 0o777).toBe(0o600);
    await db.close();
  });

  it('apply a new version exactly once, in order', async () => {
    const d = fresh();
    (await openStore({ path: join(d, 'a.db') })).close();
    const v2: Migration = { version: 2, name: 'add column', up: (tx) => tx.exec('ALTER TABLE settings ADD COLUMN note TEXT') };
    const db = await openDatabase(join(d, 'a.db'));
    expect(await migrate(db, [...MIGRATIONS, v2])).toEqual({ applied: [2], version: 2 });
    expect(await migrate(db, [...MIGRATIONS, v2])).toEqual({ applied: [], version: 2 });
    await db.close();
  });

  it('a failing migration leaves no trace and reports the error; a newer schema is refused', async () => {
    const d = fresh();
    const bad: Migration = {
      version: 2,
      name: 'half done',
      up: async (tx) => {
        await tx.exec('CREATE TABLE half (x)');
        await tx.exec('THIS IS NOT SQL');
      },
    };
    const db = await openDatabase(join(d, 'a.db'));
    await expect(migrate(db, [...MIGRATIONS, bad])).rejects.toThrow(/syntax error/);
    expect(await db.get("SELECT 1 FROM sqlite_master WHERE name = 'half'")).toBeUndefined();
    expect(await db.all('SELECT version FROM schema_migrations')).toEqual([{ version: 1 }]);
    await db.run('INSERT INTO schema_migrations VALUES (9, ?, 0)', ['from the future']);
    await db.close();
    await expect(openStore({ path: join(d, 'a.db') })).rejects.toThrow(/schema version 9 is newer than this firmware knows \(1\)/);
  });

  it('refuse migrations out of order', async () => {
    const db = await openDatabase(':memory:');
    const m = (version: number): Migration => ({ version, name: 'x', up: async () => {} });
    await expect(migrate(db, [m(2), m(1)])).rejects.toThrow(/increasing versions/);
    await db.close();
  });
});

describe('transactions', () => {
  it('roll back every statement of a transaction that throws, and keep others from interleaving', async () => {
    const db = await openDatabase(join(fresh(), 'a.db'));
    await db.exec('CREATE TABLE t (v INTEGER)');
    await expect(
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO t VALUES (1)');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    // A plain statement issued while a transaction runs waits for it instead of landing inside it.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const tx = db.transaction(async (t) => {
      await t.run('INSERT INTO t VALUES (2)');
      await gate;
      throw new Error('abort');
    });
    const plain = db.run('INSERT INTO t VALUES (3)');
    release();
    await expect(tx).rejects.toThrow('abort');
    await plain;
    expect(await db.all('SELECT v FROM t')).toEqual([{ v: 3 }]);
    await db.close();
    await expect(db.get('SELECT 1')).rejects.toThrow(/closed/);
  });

  it.each([
    ['before-commit', 'version: old\n', 1],
    ['after-commit', 'version: new\n', 2],
  ] as const)('a process killed %s leaves the database consistent', async (mode, yaml, rows) => {
    const d = fresh();
    const dbPath = join(d, 'a.db');
    const r = spawnSync(BUN, [join(__dirname, 'testing', 'crash-writer.ts'), dbPath, mode], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    expect(r.signal).toBe('SIGKILL');
    const s = await openStore({ path: dbPath });
    const current = await s.configs.current();
    expect(current?.yaml).toBe(yaml);
    expect(current?.hash).toBe(configHash(yaml));
    expect(await s.configs.count()).toBe(rows);
    expect(await s.configs.pending()).toEqual([]);
    await s.close();
  });
});

describe('config versions', () => {
  it('store the text sealed: the database file never holds a PSK in clear', async () => {
    const d = fresh();
    const s = await openStore({ path: join(d, 'a.db') });
    const yaml = 'connections:\n  - psk: "correct horse battery staple"\n';
    const id = await s.configs.insertPending({ yaml, author: 'alice', source: 'local', comment: 'first' });
    expect((await s.configs.pending()).map((p) => p.id)).toEqual([id]);
    expect(await s.configs.current()).toBeUndefined();
    await s.configs.markApplied(id);
    await expect(s.configs.markApplied(id)).rejects.toThrow(/not pending/);
    expect(await s.configs.current()).toMatchObject({ id, yaml, hash: configHash(yaml), author: 'alice', source: 'local', status: 'applied', comment: 'first' });
    await s.close();
    const raw = Buffer.concat(readdirSync(d).map((f) => readFileSync(join(d, f)))).toString('latin1');
    expect(raw).not.toContain('horse battery');
    expect(raw).toContain(configHash(yaml));
  });

  it('the text does not open with another device key', async () => {
    const d = fresh();
    const s = await openStore({ path: join(d, 'a.db') });
    await s.configs.insertApplied({ yaml: 'x: 1\n', author: 'a', source: 'local' });
    await s.close();
    rmSync(join(d, 'device.key'));
    const s2 = await openStore({ path: join(d, 'a.db') });
    await expect(s2.configs.current()).rejects.toThrow(/cannot open its stored text: authentication failed/);
    await s2.close();
  });

  it('rolled back and pending versions are not current; prune keeps the current and pending ones', async () => {
    const s = await openStore({ path: join(fresh(), 'a.db') });
    const a = await s.configs.insertApplied({ yaml: 'a: 1\n', author: 'x', source: 'local' });
    const b = await s.configs.insertPending({ yaml: 'b: 1\n', author: 'x', source: 'cloud', parentId: a, signature: 'sig' });
    await s.configs.markRolledBack(b, 'health check failed');
    const rolled: number[] = [];
    for (let i = 0; i < 5; i++) rolled.push(await s.configs.insertPending({ yaml: `p${i}: 1\n`, author: 'x', source: 'local' }));
    for (const id of rolled) await s.configs.markRolledBack(id, 'r');
    const p = await s.configs.insertPending({ yaml: 'p: 1\n', author: 'x', source: 'local' });
    expect((await s.configs.current())?.id).toBe(a);
    expect(await s.configs.meta(b)).toMatchObject({ status: 'rolled_back', reason: 'health check failed', parentId: a, signature: 'sig', source: 'cloud' });
    // Newest two (p, the last rolled back one) plus the current one stay.
    expect(await s.configs.prune(2)).toBe(5);
    expect((await s.configs.list()).map((v) => v.id)).toEqual([p, rolled[4], a]);
    expect(await s.configs.prune(1)).toBe(1);
    expect((await s.configs.list()).map((v) => v.id)).toEqual([p, a]);
    await s.close();
  });
});

describe('retention', () => {
  it('bounds the audit and SA event logs by count and age, and the outbox by count', async () => {
    let now = 1_000_000_000_000;
    const s = await openStore({ path: join(fresh(), 'a.db'), now: () => now, retention: { auditMaxRows: 3, saEventsMaxAgeDays: 1, outboxMaxRows: 2 } });
    for (let i = 0; i < 5; i++) await s.audit.record({ actor: 'ctl', action: `a${i}`, outcome: 'ok' });
    await s.saEvents.record({ type: 'ike.up', session: 'old' });
    now += 2 * 86_400_000;
    await s.saEvents.record({ type: 'ike.up', session: 'new' });
    for (let i = 0; i < 4; i++) await s.outbox.enqueue('t', { i });
    expect(await s.outbox.size()).toBe(2);
    expect(s.outbox.dropped).toBe(2);
    expect(await s.enforceRetention()).toEqual({ audit: 2, saEvents: 1, outbox: 0, configVersions: 0 });
    expect((await s.audit.list()).map((e) => e.action)).toEqual(['a4', 'a3', 'a2']);
    expect((await s.saEvents.list()).map((e) => e.session)).toEqual(['new']);
    // Limits can be tightened at run time through the settings table.
    await s.settings.set(SETTING.retention, { auditMaxRows: 1, outboxMaxRows: 1, bogus: 5, saEventsMaxRows: -1 });
    expect(await s.enforceRetention()).toEqual({ audit: 2, saEvents: 0, outbox: 1, configVersions: 0 });
    expect((await s.retention()).saEventsMaxRows).toBe(100_000);
    const taken = await s.outbox.take(10);
    expect(taken).toEqual([{ id: 4, at: now, topic: 't', payload: { i: 3 }, attempts: 1 }]);
    await s.outbox.ack([4]);
    expect(await s.outbox.size()).toBe(0);
    await s.close();
  });
});

describe('opening', () => {
  it('creates missing directories (0700); an in-memory store gets a throw-away key and writes no file', async () => {
    const d = join(fresh(), 'var', 'lib', 'outpost');
    const s = await openStore({ path: join(d, 'outpost.db') });
    expect(statSync(d).mode & 0o777).toBe(0o700);
    expect(readdirSync(d).sort()).toEqual(expect.arrayContaining(['device.key', 'outpost.db']));
    await s.close();
    const cwd = readdirSync('.');
    const m = await openStore({ path: ':memory:' });
    await m.configs.insertApplied({ yaml: 'x: 1\n', author: 'a', source: 'local' });
    expect((await m.configs.current())?.yaml).toBe('x: 1\n');
    await m.close();
    expect(readdirSync('.')).toEqual(cwd);
  });
});

describe('device key and secrets', () => {
  it('the key file is created 0600 once, then reused', () => {
    const p = join(fresh(), 'device.key');
    const k1 = loadOrCreateDeviceKey(p);
    expect(k1.created).toBe(true);
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(readFileSync(p).length).toBe(32);
    const k2 = loadOrCreateDeviceKey(p);
    expect(k2.created).toBe(false);
    expect(k2.secrets).toEqual(k1.secrets);
    expect(k1.secrets).not.toEqual(k1.pseudonyms);
    expect(k2.warning).toBeUndefined();
    chmodSync(p, 0o644);
    expect(loadOrCreateDeviceKey(p).warning).toMatch(/readable by group or others \(mode 644\)/);
    writeFileSync(p, new Uint8Array(31));
    expect(() => loadOrCreateDeviceKey(p)).toThrow(/has 31 octets, expected 32/);
  });

  it('sealed values open only with the same key and context, and unmodified', () => {
    const key = new Uint8Array(32).fill(7);
    const sealed = sealSecret(key, 'hunter2', 'users.password');
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    expect(sealSecret(key, 'hunter2', 'users.password')).not.toBe(sealed); // fresh nonce
    const ok = openSecret(key, sealed, 'users.password');
    expect(ok.ok && Buffer.from(ok.value).toString()).toBe('hunter2');
    expect(openSecret(key, sealed, 'users.psk')).toEqual({ ok: false, error: expect.stringMatching(/authentication failed/) });
    expect(openSecret(new Uint8Array(32), sealed, 'users.password').ok).toBe(false);
    const body = Buffer.from(sealed.slice(3), 'base64url');
    body[14]! ^= 1;
    expect(openSecret(key, `v1.${body.toString('base64url')}`, 'users.password').ok).toBe(false);
    expect(openSecret(key, 'plain', 'c')).toEqual({ ok: false, error: 'not a sealed value (unknown format)' });
    expect(openSecret(key, 'v1.AAAA', 'c')).toEqual({ ok: false, error: 'sealed value too short' });
  });

  it('pseudonyms are stable per key and input, and differ across keys and kinds', () => {
    const k1 = new Uint8Array(32).fill(1);
    const k2 = new Uint8Array(32).fill(2);
    expect(sessionPseudonym(k1, 'AABBCCDDEEFF0011')).toBe(sessionPseudonym(k1, 'aabbccddeeff0011'));
    expect(sessionPseudonym(k1, 'aabbccddeeff0011')).toMatch(/^[0-9a-f]{16}$/);
    expect(sessionPseudonym(k2, 'aabbccddeeff0011')).not.toBe(sessionPseudonym(k1, 'aabbccddeeff0011'));
    expect(pseudonym(k1, 'id', 'x')).not.toBe(pseudonym(k1, 'addr', 'x'));
  });
});
