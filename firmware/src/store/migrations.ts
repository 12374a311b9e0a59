// Versioned schema migrations for the appliance store: each runs once, in its own transaction, recorded in schema_migrations.
import type { Database, SqlRunner } from './sqlite.ts';

export interface Migration {
  version: number;
  name: string;
  up(tx: SqlRunner): Promise<void>;
}

/** Append only: a released migration is never edited, a change is a new version. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    async up(tx) {
      await tx.exec(`
        CREATE TABLE config_versions (
          id          INTEGER PRIMARY KEY AUTOINCREMENT,
          hash        TEXT    NOT NULL,            -- SHA-256 (hex) of the YAML text
          author      TEXT    NOT NULL,
          source      TEXT    NOT NULL CHECK (source IN ('local', 'cloud')),
          created_at  INTEGER NOT NULL,            -- ms since the epoch
          yaml        TEXT    NOT NULL,            -- sealed with the device key (it holds PSKs)
          signature   TEXT,
          status      TEXT    NOT NULL CHECK (status IN ('applied', 'rolled_back', 'pending')),
          comment     TEXT,
          applied_at  INTEGER,
          confirm_by  INTEGER,                     -- commit-confirm deadline while pending
          reason      TEXT,                        -- why it was rolled back
          parent_id   INTEGER REFERENCES config_versions(id) ON DELETE SET NULL
        );
        CREATE INDEX config_versions_status ON config_versions (status, id);

        CREATE TABLE audit_events (
          id      INTEGER PRIMARY KEY AUTOINCREMENT,
          at      INTEGER NOT NULL,
          actor   TEXT    NOT NULL,
          action  TEXT    NOT NULL,
          target  TEXT,
          outcome TEXT    NOT NULL CHECK (outcome IN ('ok', 'error')),
          detail  TEXT                             -- JSON
        );
        CREATE INDEX audit_events_at ON audit_events (at);

        CREATE TABLE sa_events (
          id      INTEGER PRIMARY KEY AUTOINCREMENT,
          at      INTEGER NOT NULL,
          type    TEXT    NOT NULL,
          session TEXT,                            -- HMAC pseudonym of the IKE SPIs, never the SPIs
          conn    TEXT,
          detail  TEXT                             -- JSON, identities pseudonymised unless configured otherwise
        );
        CREATE INDEX sa_events_at ON sa_events (at);
        CREATE INDEX sa_events_session ON sa_events (session);

        CREATE TABLE telemetry_outbox (
          id       INTEGER PRIMARY KEY AUTOINCREMENT,
          at       INTEGER NOT NULL,
          topic    TEXT    NOT NULL,
          payload  TEXT    NOT NULL,               -- JSON
          attempts INTEGER NOT NULL DEFAULT 0
        );

        CREATE TABLE settings (
          key        TEXT PRIMARY KEY,
          value      TEXT    NOT NULL,             -- JSON
          updated_at INTEGER NOT NULL
        );
      `);
    },
  },
];

export interface MigrationResult {
  /** Versions applied by this call, in order. */
  applied: number[];
  /** The schema version after this call. */
  version: number;
}

/**
 * Brings the schema up to the newest migration. Safe to call at every start and from several processes: each
 * migration runs under BEGIN IMMEDIATE and re-checks whether it is still needed.
 */
export async function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS, now: () => number = Date.now): Promise<MigrationResult> {
  for (let i = 1; i < migrations.length; i++) {
    if ((migrations[i] as Migration).version <= (migrations[i - 1] as Migration).version) throw new Error('migrations must have increasing versions');
  }
  await db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied: number[] = [];
  for (const m of migrations) {
    const done = await db.transaction(async (tx) => {
      if (await tx.get('SELECT 1 FROM schema_migrations WHERE version = ?', [m.version])) return false;
      await m.up(tx);
      await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, now()]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  const top = await db.get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
  const version = top?.v ?? 0;
  const newest = migrations.at(-1)?.version ?? 0;
  if (version > newest) throw new Error(`database schema version ${version} is newer than this firmware knows (${newest}); refusing to use it`);
  return { applied, version };
}
