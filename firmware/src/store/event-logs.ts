// Append-only audit and SA event logs with age/count retention (records hold pseudonyms, never SPIs or key material).
import type { Database } from './sqlite.ts';

export interface AuditEvent {
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  outcome: 'ok' | 'error';
  detail: Record<string, unknown> | null;
}

export interface SaEventRecord {
  id: number;
  at: number;
  type: string;
  session: string | null;
  conn: string | null;
  detail: Record<string, unknown> | null;
}

const parse = (s: unknown): Record<string, unknown> | null => (typeof s === 'string' ? (JSON.parse(s) as Record<string, unknown>) : null);

/** Deletes rows older than `maxAgeMs`, then the oldest beyond `maxRows`; returns how many went. */
async function trim(db: Database, table: string, maxRows: number, maxAgeMs: number, nowMs: number): Promise<number> {
  const aged = await db.run(`DELETE FROM ${table} WHERE at < ?`, [nowMs - maxAgeMs]);
  const over = await db.run(`DELETE FROM ${table} WHERE id <= (SELECT id FROM ${table} ORDER BY id DESC LIMIT 1 OFFSET ?)`, [maxRows]);
  return aged.changes + over.changes;
}

export class AuditLog {
  constructor(
    private readonly db: Database,
    private readonly now: () => number,
  ) {}

  async record(e: Omit<AuditEvent, 'id' | 'at' | 'target' | 'detail'> & { target?: string | null; detail?: Record<string, unknown> | null }): Promise<number> {
    const r = await this.db.run('INSERT INTO audit_events (at, actor, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)', [
      this.now(),
      e.actor,
      e.action,
      e.target ?? null,
      e.outcome,
      e.detail ? JSON.stringify(e.detail) : null,
    ]);
    return r.lastId;
  }

  async list(limit = 100): Promise<AuditEvent[]> {
    const rows = await this.db.all<Record<string, unknown>>('SELECT * FROM audit_events ORDER BY id DESC LIMIT ?', [limit]);
    return rows.map((r) => ({ ...(r as unknown as AuditEvent), detail: parse(r.detail) }));
  }

  trim(maxRows: number, maxAgeMs: number): Promise<number> {
    return trim(this.db, 'audit_events', maxRows, maxAgeMs, this.now());
  }
}

export class SaEventLog {
  constructor(
    private readonly db: Database,
    private readonly now: () => number,
  ) {}

  async record(e: { type: string; session?: string | null; conn?: string | null; detail?: Record<string, unknown> | null; at?: number }): Promise<number> {
    const r = await this.db.run('INSERT INTO sa_events (at, type, session, conn, detail) VALUES (?, ?, ?, ?, ?)', [
      e.at ?? this.now(),
      e.type,
      e.session ?? null,
      e.conn ?? null,
      e.detail ? JSON.stringify(e.detail) : null,
    ]);
    return r.lastId;
  }

  async list(opts: { limit?: number; session?: string } = {}): Promise<SaEventRecord[]> {
    const rows = opts.session
      ? await this.db.all<Record<string, unknown>>('SELECT * FROM sa_events WHERE session = ? ORDER BY id DESC LIMIT ?', [opts.session, opts.limit ?? 100])
      : await this.db.all<Record<string, unknown>>('SELECT * FROM sa_events ORDER BY id DESC LIMIT ?', [opts.limit ?? 100]);
    return rows.map((r) => ({ ...(r as unknown as SaEventRecord), detail: parse(r.detail) }));
  }

  trim(maxRows: number, maxAgeMs: number): Promise<number> {
    return trim(this.db, 'sa_events', maxRows, maxAgeMs, this.now());
  }
}
