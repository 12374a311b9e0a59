// At start: decide which config is in force from the store and the active config file, finishing or undoing an interrupted apply.
/*
 *   pending versions                → rolled back (an apply or an unconfirmed change the process did not finish)
 *   store empty                     → the file is imported as version 1
 *   file = newest applied version   → that version
 *   file missing, or = the text this code last wrote (a crash between commit and rename) → rewritten from the store
 *   anything else (edited by hand)  → imported as a new version when valid; when invalid the stored version runs
 */
import { readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ConfigResult } from '../config/parse-config.ts';
import type { GatewayConfig } from '../config/types.ts';
import { configHash, type ConfigVersion } from '../store/config-versions.ts';
import type { Store } from '../store/store.ts';
import { FILE_HASH_SETTING } from './apply.ts';
import { writeFileAtomic } from './atomic-file.ts';

export interface ReconcileResult {
  config: GatewayConfig;
  version: ConfigVersion;
  warnings: string[];
  /** What reconciliation did, one line each, for the log. */
  notes: string[];
}

export class ReconcileError extends Error {
  constructor(
    message: string,
    readonly errors: string[] = [],
  ) {
    super(message);
    this.name = 'ReconcileError';
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** A crash while the file was being replaced leaves its temporary copy (atomic-file.ts): remove it. */
function removeStrayTemporaries(configPath: string, notes: string[]): void {
  const prefix = `.${basename(configPath)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(configPath));
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix) || !n.endsWith('.tmp')) continue;
    try {
      unlinkSync(join(dirname(configPath), n));
      notes.push(`removed ${n} left by an interrupted config write`);
    } catch {
      // not ours to remove after all
    }
  }
}

export async function reconcileConfig(opts: { store: Store; configPath: string; parse(yaml: string): ConfigResult }): Promise<ReconcileResult> {
  const { store, configPath, parse } = opts;
  const file = basename(configPath);
  const notes: string[] = [];
  for (const p of await store.configs.pending()) {
    const reason = p.confirmBy !== null ? 'not confirmed before the gateway restarted' : 'interrupted: the gateway stopped before it was committed';
    await store.configs.markRolledBack(p.id, reason);
    notes.push(`config version ${p.id} rolled back (${reason})`);
  }
  removeStrayTemporaries(configPath, notes);
  const text = readText(configPath);
  const current = await store.configs.current();

  const use = (yaml: string, what: string): ConfigResult & { ok: true } => {
    const r = parse(yaml);
    if (!r.ok) throw new ReconcileError(`${what} has ${r.errors.length} error${r.errors.length === 1 ? '' : 's'}, not starting`, r.errors);
    return r;
  };
  const importFile = async (yaml: string, comment: string, parentId: number | null): Promise<ReconcileResult> => {
    const r = use(yaml, file);
    const id = await store.configs.insertApplied({ yaml, author: 'file', source: 'local', comment, parentId });
    await store.settings.set(FILE_HASH_SETTING, configHash(yaml));
    notes.push(`${file} imported as config version ${id}`);
    return { config: r.config, version: (await store.configs.get(id)) as ConfigVersion, warnings: r.warnings, notes };
  };

  if (!current) {
    if (text === null) throw new ReconcileError(`${configPath}: no such file, and the store holds no config`);
    return importFile(text, `imported from ${file} at first start`, null);
  }
  const fileHash = text === null ? null : configHash(text);
  if (fileHash === current.hash) {
    const r = use(current.yaml, `config version ${current.id}`);
    return { config: r.config, version: current, warnings: r.warnings, notes };
  }
  const lastWritten = await store.settings.get<string>(FILE_HASH_SETTING);
  if (text === null || fileHash === lastWritten) {
    const r = use(current.yaml, `config version ${current.id}`);
    writeFileAtomic(configPath, current.yaml);
    await store.settings.set(FILE_HASH_SETTING, current.hash);
    notes.push(`${file} ${text === null ? 'was missing' : 'was stale'}: rewritten from config version ${current.id}`);
    return { config: r.config, version: current, warnings: r.warnings, notes };
  }
  const edited = parse(text);
  if (edited.ok) return importFile(text, `${file} edited by hand: imported at start`, current.id);
  const r = use(current.yaml, `config version ${current.id}`);
  const warnings = [
    ...r.warnings,
    `${file} was edited by hand but has ${edited.errors.length} error${edited.errors.length === 1 ? '' : 's'} (${edited.errors.join('; ')}); running config version ${current.id} from the store instead`,
  ];
  return { config: r.config, version: current, warnings, notes };
}
