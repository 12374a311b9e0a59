// Every gateway config the appliance was given: text (sealed), hash, author, source, signature and what became of it.
import { createHash } from 'node:crypto';
import { openSecretText, sealSecret } from './secrets.ts';
import type { Database, SqlRunner } from './sqlite.ts';

export type ConfigSource = 'local' | 'cloud';
/** pending: being applied or awaiting confirmation; applied: committed; rolled_back: reverted or interrupted. */
export type ConfigStatus = 'applied' | 'rolled_back' | 'pending';

export interface ConfigVersionMeta {
  id: number;
  hash: string;
  author: string;
  source: ConfigSource;
  createdAt: number;
  status: ConfigStatus;
  signature: string | null;
  comment: string | null;
  appliedAt: number | null;
  confirmBy: number | null;
  reason: string | null;
  parentId: number | null;
}

export interface ConfigVersion extends ConfigVersionMeta {
  yaml: string;
}

export interface NewConfigVersion {
  yaml: string;
  author: string;
  source: ConfigSource;
  signature?: string;
  comment?: string;
  /** The version in force when this one was proposed (what a revert goes back to). */
  parentId?: number | null;
}

export const configHash = (yaml: string): string => createHash('sha256').update(yaml, 'utf8').digest('hex');

interface Raw {
  [k: string]: unknown;
  id: number;
  hash: string;
  author: string;
  source: ConfigSource;
  created_at: number;
  status: ConfigStatus;
  signature: string | null;
  comment: string | null;
  applied_at: number | null;
  confirm_by: number | null;
  reason: string | null;
  parent_id: number | null;
  yaml?: string;
}

const META_COLUMNS = 'id, hash, author, source, created_at, status, signature, comment, applied_at, confirm_by, reason, parent_id';

const meta = (r: Raw): ConfigVersionMeta => ({
  id: r.id,
  hash: r.hash,
  author: r.author,
  source: r.source,
  createdAt: r.created_at,
  status: r.status,
  signature: r.signature,
  comment: r.comment,
  appliedAt: r.applied_at,
  confirmBy: r.confirm_by,
  reason: r.reason,
  parentId: r.parent_id,
});

const CONTEXT = 'config_versions.yaml';

export class ConfigVersions {
  constructor(
    private readonly db: Database,
    private readonly secretsKey: Uint8Array,
    private readonly now: () => number,
  ) {}

  private full(r: Raw | undefined): ConfigVersion | undefined {
    if (!r) return undefined;
    const opened = openSecretText(this.secretsKey, r.yaml ?? '', `${CONTEXT}:${r.hash}`);
    if (!opened.ok) throw new Error(`config version ${r.id}: cannot open its stored text: ${opened.error}`);
    return { ...meta(r), yaml: opened.value };
  }

  /** Inserts a pending version; pass `tx` to make it part of a larger transaction. */
  async insertPending(v: NewConfigVersion, tx: SqlRunner = this.db): Promise<number> {
    const hash = configHash(v.yaml);
    const r = await tx.run(
      'INSERT INTO config_versions (hash, author, source, created_at, yaml, signature, status, comment, parent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [hash, v.author, v.source, this.now(), sealSecret(this.secretsKey, v.yaml, `${CONTEXT}:${hash}`), v.signature ?? null, 'pending', v.comment ?? null, v.parentId ?? null],
    );
    return r.lastId;
  }

  /** Inserts a version that is in force from the start (the first boot import, a hand-edited file). */
  async insertApplied(v: NewConfigVersion, tx: SqlRunner = this.db): Promise<number> {
    const id = await this.insertPending(v, tx);
    await this.markApplied(id, tx);
    return id;
  }

  async markApplied(id: number, tx: SqlRunner = this.db): Promise<void> {
    const r = await tx.run("UPDATE config_versions SET status = 'applied', applied_at = ?, confirm_by = NULL, reason = NULL WHERE id = ? AND status = 'pending'", [this.now(), id]);
    if (r.changes !== 1) throw new Error(`config version ${id} is not pending`);
  }

  async markRolledBack(id: number, reason: string, tx: SqlRunner = this.db): Promise<void> {
    await tx.run("UPDATE config_versions SET status = 'rolled_back', confirm_by = NULL, reason = ? WHERE id = ? AND status = 'pending'", [reason, id]);
  }

  async setConfirmBy(id: number, confirmBy: number | null, tx: SqlRunner = this.db): Promise<void> {
    await tx.run('UPDATE config_versions SET confirm_by = ? WHERE id = ?', [confirmBy, id]);
  }

  /** The config in force: the newest applied version. */
  async current(tx: SqlRunner = this.db): Promise<ConfigVersion | undefined> {
    return this.full(await tx.get<Raw>("SELECT * FROM config_versions WHERE status = 'applied' ORDER BY id DESC LIMIT 1"));
  }

  async get(id: number, tx: SqlRunner = this.db): Promise<ConfigVersion | undefined> {
    return this.full(await tx.get<Raw>('SELECT * FROM config_versions WHERE id = ?', [id]));
  }

  async meta(id: number): Promise<ConfigVersionMeta | undefined> {
    const r = await this.db.get<Raw>(`SELECT ${META_COLUMNS} FROM config_versions WHERE id = ?`, [id]);
    return r ? meta(r) : undefined;
  }

  async pending(tx: SqlRunner = this.db): Promise<ConfigVersionMeta[]> {
    return (await tx.all<Raw>(`SELECT ${META_COLUMNS} FROM config_versions WHERE status = 'pending' ORDER BY id`)).map(meta);
  }

  /** Newest first, without the text. */
  async list(limit = 50): Promise<ConfigVersionMeta[]> {
    return (await this.db.all<Raw>(`SELECT ${META_COLUMNS} FROM config_versions ORDER BY id DESC LIMIT ?`, [limit])).map(meta);
  }

  async count(): Promise<number> {
    return (await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM config_versions'))?.n ?? 0;
  }

  /** Keeps the newest `keep` versions, and always the current and any pending one. Returns how many went. */
  async prune(keep: number): Promise<number> {
    const r = await this.db.run(
      `DELETE FROM config_versions WHERE id NOT IN (SELECT id FROM config_versions ORDER BY id DESC LIMIT ?)
         AND status != 'pending'
         AND id != COALESCE((SELECT MAX(id) FROM config_versions WHERE status = 'applied'), -1)`,
      [keep],
    );
    return r.changes;
  }
}
