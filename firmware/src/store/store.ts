// The appliance store (ARCHITECTURE.md: store/ SQLite): opens the database and device key, migrates, enforces retention.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigVersions } from './config-versions.ts';
import { deriveDeviceKeys, loadOrCreateDeviceKey, type DeviceKeys } from './device-key.ts';
import { AuditLog, SaEventLog } from './event-logs.ts';
import { migrate, MIGRATIONS, type Migration } from './migrations.ts';
import { TelemetryOutbox } from './outbox.ts';
import { Settings } from './settings.ts';
import { openDatabase, type Database } from './sqlite.ts';

export interface RetentionLimits {
  auditMaxRows: number;
  auditMaxAgeDays: number;
  saEventsMaxRows: number;
  saEventsMaxAgeDays: number;
  outboxMaxRows: number;
  /** Config versions kept (the current and a pending one are always kept). */
  configVersionsMax: number;
}

export const DEFAULT_RETENTION: RetentionLimits = {
  auditMaxRows: 20_000,
  auditMaxAgeDays: 365,
  saEventsMaxRows: 100_000,
  saEventsMaxAgeDays: 30,
  outboxMaxRows: 5_000,
  configVersionsMax: 200,
};

/** Settings keys the store itself reads. */
export const SETTING = {
  /** Partial RetentionLimits overriding the defaults and StoreOptions. */
  retention: 'retention',
  /** 'pseudonymise' (default) or 'store': whether SA events keep peer identities and addresses in clear. */
  identities: 'privacy.identities',
} as const;

export interface StoreOptions {
  /** The SQLite file (`:memory:` for a throw-away store). */
  path: string;
  /** Default: `device.key` beside the database; for `:memory:` a throw-away key unless a path is given. */
  deviceKeyPath?: string;
  now?: () => number;
  retention?: Partial<RetentionLimits>;
  migrations?: readonly Migration[];
}

export interface RetentionReport {
  audit: number;
  saEvents: number;
  outbox: number;
  configVersions: number;
}

export interface Store {
  readonly db: Database;
  readonly keys: DeviceKeys;
  readonly configs: ConfigVersions;
  readonly audit: AuditLog;
  readonly saEvents: SaEventLog;
  readonly outbox: TelemetryOutbox;
  readonly settings: Settings;
  readonly schemaVersion: number;
  retention(): Promise<RetentionLimits>;
  /** Deletes what the limits no longer allow; returns how many rows went per table. */
  enforceRetention(): Promise<RetentionReport>;
  close(): Promise<void>;
}

const DAY_MS = 86_400_000;

function validLimits(v: unknown): Partial<RetentionLimits> {
  if (!v || typeof v !== 'object') return {};
  const out: Partial<RetentionLimits> = {};
  for (const k of Object.keys(DEFAULT_RETENTION) as (keyof RetentionLimits)[]) {
    const n = (v as Record<string, unknown>)[k];
    if (typeof n === 'number' && Number.isInteger(n) && n >= 1) out[k] = n;
  }
  return out;
}

export async function openStore(opts: StoreOptions): Promise<Store> {
  const now = opts.now ?? Date.now;
  const memory = opts.path === ':memory:';
  if (!memory) mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
  const keys: DeviceKeys =
    memory && !opts.deviceKeyPath
      ? { ...deriveDeviceKeys(new Uint8Array(randomBytes(32))), created: true }
      : loadOrCreateDeviceKey(opts.deviceKeyPath ?? join(dirname(opts.path), 'device.key'));
  const db = await openDatabase(opts.path);
  let schemaVersion: number;
  try {
    schemaVersion = (await migrate(db, opts.migrations ?? MIGRATIONS, now)).version;
  } catch (err) {
    await db.close();
    throw err;
  }
  const settings = new Settings(db, now);
  const base = { ...DEFAULT_RETENTION, ...opts.retention };
  const retention = async (): Promise<RetentionLimits> => ({ ...base, ...validLimits(await settings.get(SETTING.retention)) });
  const outbox = new TelemetryOutbox(db, now, (await retention()).outboxMaxRows);
  const store: Store = {
    db,
    keys,
    configs: new ConfigVersions(db, keys.secrets, now),
    audit: new AuditLog(db, now),
    saEvents: new SaEventLog(db, now),
    outbox,
    settings,
    schemaVersion,
    retention,
    async enforceRetention() {
      const l = await retention();
      outbox.setLimit(l.outboxMaxRows);
      return {
        audit: await store.audit.trim(l.auditMaxRows, l.auditMaxAgeDays * DAY_MS),
        saEvents: await store.saEvents.trim(l.saEventsMaxRows, l.saEventsMaxAgeDays * DAY_MS),
        outbox: await outbox.trim(),
        configVersions: await store.configs.prune(l.configVersionsMax),
      };
    },
    close: () => db.close(),
  };
  await store.enforceRetention();
  return store;
}
