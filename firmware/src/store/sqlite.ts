// Promise wrapper over the npm sqlite3 callback API: one connection, WAL, transactions that never interleave.
/*
 * sqlite3 runs statements of one connection in order, but a BEGIN issued by one caller would swallow the
 * statements of every other caller until its COMMIT. So all access goes through a FIFO lock: `transaction(fn)`
 * holds it from BEGIN to COMMIT/ROLLBACK and hands `fn` a handle that bypasses the lock; plain calls take the lock
 * for one statement. A statement that fails inside `fn` rolls the whole transaction back.
 */
import { closeSync, openSync } from 'node:fs';
import sqlite3 from 'sqlite3';

export type SqlValue = string | number | bigint | null | Uint8Array;
export type Row = Record<string, unknown>;

/** What statements run against: the database (locked per call) or an open transaction. */
export interface SqlRunner {
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number; lastId: number }>;
  get<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Several statements without parameters (schema changes). */
  exec(sql: string): Promise<void>;
}

export interface Database extends SqlRunner {
  readonly path: string;
  /** BEGIN IMMEDIATE … COMMIT around `fn`; ROLLBACK when it throws (the error is rethrown). */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Wait this long for a lock held by another process before SQLITE_BUSY (default 5 s). */
  busyTimeoutMs?: number;
}

const toParam = (v: SqlValue): unknown => (v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v);

function runner(raw: sqlite3.Database): SqlRunner {
  return {
    run: (sql, params = []) =>
      new Promise((resolve, reject) =>
        raw.run(sql, params.map(toParam), function (this: sqlite3.RunResult, err: Error | null) {
          if (err) reject(err);
          else resolve({ changes: this.changes, lastId: this.lastID });
        }),
      ),
    get: <T extends Row>(sql: string, params: readonly SqlValue[] = []) =>
      new Promise<T | undefined>((resolve, reject) => raw.get(sql, params.map(toParam), (err: Error | null, row: T | undefined) => (err ? reject(err) : resolve(row)))),
    all: <T extends Row>(sql: string, params: readonly SqlValue[] = []) =>
      new Promise<T[]>((resolve, reject) => raw.all(sql, params.map(toParam), (err: Error | null, rows: T[]) => (err ? reject(err) : resolve(rows)))),
    exec: (sql) => new Promise((resolve, reject) => raw.exec(sql, (err: Error | null) => (err ? reject(err) : resolve()))),
  };
}

/** A FIFO mutex: `lock(fn)` runs fn after every earlier holder has finished. */
function createLock(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>) => {
    const next = tail.then(fn, fn);
    tail = next.catch(() => {});
    return next;
  };
}

export async function openDatabase(path: string, opts: OpenOptions = {}): Promise<Database> {
  // SQLite creates the file 0644 and gives -wal/-shm the main file's mode: make it 0600 before SQLite does.
  if (path !== ':memory:' && !path.startsWith('file:')) closeSync(openSync(path, 'a', 0o600));
  const raw = await new Promise<sqlite3.Database>((resolve, reject) => {
    const db: sqlite3.Database = new sqlite3.Database(path, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE, (err) => (err ? reject(err) : resolve(db)));
  });
  raw.configure('busyTimeout', opts.busyTimeoutMs ?? 5000);
  const r = runner(raw);
  const lock = createLock();
  let closed = false;
  // WAL: readers never block the writer, and a commit is one append + fsync; FULL sync makes a commit survive power loss.
  if (path !== ':memory:') await r.get('PRAGMA journal_mode = WAL');
  await r.exec('PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;');
  const guard = <T>(fn: () => Promise<T>): Promise<T> => (closed ? Promise.reject(new Error('database is closed')) : lock(fn));
  return {
    path,
    run: (sql, params) => guard(() => r.run(sql, params)),
    get: <T extends Row>(sql: string, params?: readonly SqlValue[]) => guard(() => r.get<T>(sql, params)),
    all: <T extends Row>(sql: string, params?: readonly SqlValue[]) => guard(() => r.all<T>(sql, params)),
    exec: (sql) => guard(() => r.exec(sql)),
    transaction: (fn) =>
      guard(async () => {
        await r.exec('BEGIN IMMEDIATE');
        try {
          const value = await fn(r);
          await r.exec('COMMIT');
          return value;
        } catch (err) {
          await r.exec('ROLLBACK').catch(() => {});
          throw err;
        }
      }),
    close: () =>
      lock(async () => {
        if (closed) return;
        closed = true;
        await new Promise<void>((resolve, reject) => raw.close((err) => (err ? reject(err) : resolve())));
      }),
  };
}
