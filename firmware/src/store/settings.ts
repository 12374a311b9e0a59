// Appliance settings: small JSON values by key (privacy choices, retention overrides, bookkeeping of config apply).
import type { Database, SqlRunner } from './sqlite.ts';

export class Settings {
  constructor(
    private readonly db: Database,
    private readonly now: () => number,
  ) {}

  async get<T>(key: string, tx: SqlRunner = this.db): Promise<T | undefined> {
    const r = await tx.get<{ value: string }>('SELECT value FROM settings WHERE key = ?', [key]);
    return r ? (JSON.parse(r.value) as T) : undefined;
  }

  async set(key: string, value: unknown, tx: SqlRunner = this.db): Promise<void> {
    await tx.run('INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at', [
      key,
      JSON.stringify(value),
      this.now(),
    ]);
  }

  async delete(key: string, tx: SqlRunner = this.db): Promise<void> {
    await tx.run('DELETE FROM settings WHERE key = ?', [key]);
  }

  async all(): Promise<Record<string, unknown>> {
    const rows = await this.db.all<{ key: string; value: string }>('SELECT key, value FROM settings ORDER BY key');
    return Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value) as unknown]));
  }
}
