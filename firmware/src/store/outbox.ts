// The telemetry outbox: messages waiting for the cloud link, bounded so an appliance offline for weeks cannot fill its disk.
import type { Database } from './sqlite.ts';

export interface OutboxMessage {
  id: number;
  at: number;
  topic: string;
  payload: unknown;
  attempts: number;
}

export class TelemetryOutbox {
  /** Messages dropped (oldest first) because the outbox was full, since start. */
  dropped = 0;

  constructor(
    private readonly db: Database,
    private readonly now: () => number,
    private maxRows: number,
  ) {}

  setLimit(maxRows: number): void {
    this.maxRows = maxRows;
  }

  /** Adds a message; when the outbox is full the oldest ones make room (newest telemetry is worth more). */
  async enqueue(topic: string, payload: unknown): Promise<number> {
    return this.db.transaction(async (tx) => {
      const r = await tx.run('INSERT INTO telemetry_outbox (at, topic, payload) VALUES (?, ?, ?)', [this.now(), topic, JSON.stringify(payload)]);
      const over = await tx.run('DELETE FROM telemetry_outbox WHERE id <= (SELECT id FROM telemetry_outbox ORDER BY id DESC LIMIT 1 OFFSET ?)', [this.maxRows]);
      this.dropped += over.changes;
      return r.lastId;
    });
  }

  /** The oldest `limit` messages, counting this as a delivery attempt. */
  async take(limit: number): Promise<OutboxMessage[]> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.all<{ id: number; at: number; topic: string; payload: string; attempts: number }>('SELECT * FROM telemetry_outbox ORDER BY id LIMIT ?', [limit]);
      if (rows.length > 0) await tx.run(`UPDATE telemetry_outbox SET attempts = attempts + 1 WHERE id IN (${rows.map(() => '?').join(',')})`, rows.map((r) => r.id));
      return rows.map((r) => ({ id: r.id, at: r.at, topic: r.topic, payload: JSON.parse(r.payload) as unknown, attempts: r.attempts + 1 }));
    });
  }

  /** Removes delivered messages. */
  async ack(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db.run(`DELETE FROM telemetry_outbox WHERE id IN (${ids.map(() => '?').join(',')})`, [...ids]);
  }

  async size(): Promise<number> {
    return (await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM telemetry_outbox'))?.n ?? 0;
  }

  async trim(): Promise<number> {
    const r = await this.db.run('DELETE FROM telemetry_outbox WHERE id <= (SELECT id FROM telemetry_outbox ORDER BY id DESC LIMIT 1 OFFSET ?)', [this.maxRows]);
    this.dropped += r.changes;
    return r.changes;
  }
}
