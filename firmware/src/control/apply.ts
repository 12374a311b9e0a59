// Config apply: validate → store (pending) → apply to the running gateway → health check → commit, or revert (VyOS-style commit-confirm).
/*
 * Where the truth lives: the store's newest `applied` version is the config in force; the active config file is
 * its copy for people and for a start without the store. A commit is one SQLite transaction (pending → applied),
 * then an atomic replace of the file. A crash at any step therefore leaves, after restart (reconcile.ts):
 *   before the commit  → the old version (the pending row is marked rolled back, the file was never touched);
 *   after the commit   → the new version (a file still holding the old text is rewritten from the store).
 * With a confirm timeout the new config runs but is not committed until `confirm`; a timeout or a restart
 * before it puts the old one back. One change at a time: operations queue on a lock.
 */
import type { ConfigResult } from '../config/parse-config.ts';
import type { GatewayConfig } from '../config/types.ts';
import type { Logger } from '../runtime/logger.ts';
import { configHash, type ConfigSource, type ConfigVersion } from '../store/config-versions.ts';
import type { Store } from '../store/store.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { ControlError } from './errors.ts';
import { planApply, type ApplyPlan } from './plan.ts';
import type { ApplySummary, ControlEvent } from './protocol.ts';
import type { ApplyMode, HealthReport } from './supervisor.ts';

/** The running gateway as config apply sees it (the Supervisor; a fake in tests). */
export interface ApplyTarget {
  readonly config: GatewayConfig;
  apply(config: GatewayConfig, plan: ApplyPlan): Promise<ApplyMode>;
  health(): Promise<HealthReport>;
}

export type ApplyStep = 'stored' | 'engine-applied' | 'healthy' | 'committed' | 'file-written';

/** Settings key: hash of the text this code last wrote to the active config file (tells a stale file from a hand edit). */
export const FILE_HASH_SETTING = 'config.file_hash';

export interface ApplierOptions {
  store: Store;
  target: ApplyTarget;
  /** The active config file, replaced atomically at every commit. */
  configPath: string;
  /** Validates config text (parseConfigText against the config file's directory, plus CLI overrides). */
  parse(yaml: string): ConfigResult;
  logger: Logger;
  now?: () => number;
  onEvent?: (e: ControlEvent) => void;
  /** Crash injection for tests: called as each step completes. */
  onStep?: (step: ApplyStep, versionId: number) => void | Promise<void>;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (h: unknown) => void;
}

export interface LoadRequest {
  yaml: string;
  author: string;
  source?: ConfigSource;
  signature?: string;
  comment?: string;
  /** Commit-confirm: revert unless confirmed within this long. */
  confirmTimeoutMs?: number;
}

interface PendingConfirm {
  id: number;
  yaml: string;
  previous: GatewayConfig;
  confirmBy: number;
  timeoutMs: number;
  timer: unknown;
  mode: ApplyMode;
}

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export class ConfigApplier {
  private lock: Promise<unknown> = Promise.resolve();
  private awaiting: PendingConfirm | undefined;
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly o: ApplierOptions) {
    this.now = o.now ?? Date.now;
  }

  /** The version awaiting confirmation, if any. */
  get pendingConfirm(): { id: number; confirmBy: number } | null {
    return this.awaiting ? { id: this.awaiting.id, confirmBy: this.awaiting.confirmBy } : null;
  }

  load(req: LoadRequest): Promise<ApplySummary> {
    return this.serial(() => this.loadLocked(req));
  }

  confirm(id: number | undefined, actor: string): Promise<{ version: number }> {
    return this.serial(async () => {
      const p = this.awaiting;
      if (!p) throw new ControlError('conflict', 'no config change awaits confirmation');
      if (id !== undefined && id !== p.id) throw new ControlError('not-found', `version ${id} does not await confirmation (version ${p.id} does)`, { field: 'args.id' });
      (this.o.clearTimer ?? clearTimeout)(p.timer as ReturnType<typeof setTimeout>);
      this.awaiting = undefined;
      await this.commit(p.id, p.yaml, p.mode);
      await this.audit(actor, 'confirm', `version ${p.id}`, 'ok');
      return { version: p.id };
    });
  }

  /** Applies an earlier version's text again, as a new version (history stays linear and auditable). */
  async rollback(req: { id?: number; author: string; comment?: string; confirmTimeoutMs?: number }): Promise<ApplySummary> {
    const configs = this.o.store.configs;
    const current = await configs.current();
    if (!current) throw new ControlError('unavailable', 'the store holds no applied config');
    let target: ConfigVersion | undefined;
    if (req.id !== undefined) {
      target = await configs.get(req.id);
      if (!target) throw new ControlError('not-found', `no config version ${req.id}`, { field: 'args.id' });
    } else {
      const before = (await configs.list(1000)).find((v) => v.status === 'applied' && v.id < current.id && v.hash !== current.hash);
      if (!before) throw new ControlError('not-found', 'no earlier applied version to roll back to');
      target = await configs.get(before.id);
    }
    return this.load({
      yaml: (target as ConfigVersion).yaml,
      author: req.author,
      source: 'local',
      comment: req.comment ?? `rollback to version ${(target as ConfigVersion).id}`,
      ...(req.confirmTimeoutMs !== undefined ? { confirmTimeoutMs: req.confirmTimeoutMs } : {}),
    });
  }

  /** Stops the confirm timer (the change stays uncommitted: a restart reverts it, like VyOS). */
  close(): void {
    this.closed = true;
    if (this.awaiting) (this.o.clearTimer ?? clearTimeout)(this.awaiting.timer as ReturnType<typeof setTimeout>);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.lock.then(fn, fn);
    this.lock = p.catch(() => {});
    return p;
  }

  private async loadLocked(req: LoadRequest): Promise<ApplySummary> {
    const { store, target, logger } = this.o;
    if (this.closed) throw new ControlError('unavailable', 'the control plane is shutting down');
    if (this.awaiting) {
      throw new ControlError('conflict', `version ${this.awaiting.id} awaits confirmation until ${new Date(this.awaiting.confirmBy).toISOString()}: confirm it or let it revert first`);
    }
    const parsed = this.o.parse(req.yaml);
    if (!parsed.ok) {
      await this.audit(req.author, 'load-config', null, 'error', { errors: parsed.errors.length });
      throw new ControlError('invalid-config', `the config has ${parsed.errors.length} error${parsed.errors.length === 1 ? '' : 's'}`, { details: parsed.errors });
    }
    const current = await store.configs.current();
    const hash = configHash(req.yaml);
    if (current && current.hash === hash) return { version: current.id, unchanged: true, mode: 'none', changes: [], warnings: parsed.warnings };
    const previous = target.config;
    const plan = planApply(previous, parsed.config);
    const id = await store.configs.insertPending({
      yaml: req.yaml,
      author: req.author,
      source: req.source ?? 'local',
      ...(req.signature !== undefined ? { signature: req.signature } : {}),
      ...(req.comment !== undefined ? { comment: req.comment } : {}),
      parentId: current?.id ?? null,
    });
    await this.step('stored', id);
    let mode: ApplyMode;
    try {
      mode = await target.apply(parsed.config, plan);
      await this.step('engine-applied', id);
      const health = await target.health();
      if (!health.ok) {
        const failed = health.checks.filter((c) => !c.ok).map((c) => `${c.name}${c.detail ? `: ${c.detail}` : ''}`);
        throw new Error(`health check failed (${failed.join('; ')})`);
      }
      await this.step('healthy', id);
    } catch (err) {
      const reason = errText(err);
      logger.warn(`config version ${id} failed, reverting: ${reason}`, { event: 'config.reverted', version: id });
      await this.revert(id, previous, parsed.config, reason);
      await this.audit(req.author, 'load-config', `version ${id}`, 'error', { reason });
      throw new ControlError('failed', `config version ${id} was not applied: ${reason}; the previous config is back in force`);
    }
    const summary: ApplySummary = { version: id, unchanged: false, mode, changes: plan.changes, warnings: parsed.warnings };
    if (req.confirmTimeoutMs !== undefined) {
      const confirmBy = this.now() + req.confirmTimeoutMs;
      await store.configs.setConfirmBy(id, confirmBy);
      const timer = (this.o.setTimer ?? setTimeout)(() => void this.serial(() => this.confirmExpired(id)), req.confirmTimeoutMs);
      this.awaiting = { id, yaml: req.yaml, previous, confirmBy, timeoutMs: req.confirmTimeoutMs, timer, mode };
      this.o.onEvent?.({ type: 'config.pending', version: id, confirmBy });
      await this.audit(req.author, 'load-config', `version ${id}`, 'ok', { mode, confirmBy, changes: plan.changes.length });
      logger.info(`config version ${id} applied (${mode}); it reverts unless confirmed by ${new Date(confirmBy).toISOString()}`, { event: 'config.pending', version: id });
      return { ...summary, confirmBy };
    }
    await this.commit(id, req.yaml, mode);
    await this.audit(req.author, 'load-config', `version ${id}`, 'ok', { mode, changes: plan.changes.length });
    return summary;
  }

  private async confirmExpired(id: number): Promise<void> {
    const p = this.awaiting;
    if (!p || p.id !== id) return;
    this.awaiting = undefined;
    const reason = `not confirmed within ${p.timeoutMs / 1000} s`;
    this.o.logger.warn(`config version ${id} ${reason}, reverting`, { event: 'config.reverted', version: id });
    await this.revert(id, p.previous, this.o.target.config, reason);
    await this.audit('system', 'confirm-timeout', `version ${id}`, 'ok', { reason });
  }

  /** Puts `previous` back in force and marks the version rolled back; a revert that fails leaves the gateway down, loudly. */
  private async revert(id: number, previous: GatewayConfig, failed: GatewayConfig, reason: string): Promise<void> {
    try {
      await this.o.target.apply(previous, planApply(failed, previous));
    } catch (err) {
      this.o.logger.error(`could not restore the previous config after version ${id} failed: ${errText(err)}; the gateway is not running`, { event: 'config.revert-failed', version: id });
    }
    await this.o.store.configs.markRolledBack(id, reason);
    this.o.onEvent?.({ type: 'config.reverted', version: id, reason });
  }

  private async commit(id: number, yaml: string, mode: ApplyMode): Promise<void> {
    const { store, configPath, logger } = this.o;
    await store.db.transaction((tx) => store.configs.markApplied(id, tx));
    await this.step('committed', id);
    const hash = configHash(yaml);
    try {
      writeFileAtomic(configPath, yaml);
      await store.settings.set(FILE_HASH_SETTING, hash);
      await this.step('file-written', id);
    } catch (err) {
      // The store is the truth and the next start rewrites the file from it; the gateway runs the new config.
      logger.error(`config version ${id} committed, but ${configPath} could not be replaced: ${errText(err)}`);
    }
    logger.info(`config version ${id} applied (${mode})`, { event: 'config.applied', version: id });
    this.o.onEvent?.({ type: 'config.applied', version: id, hash, mode });
  }

  private async step(step: ApplyStep, id: number): Promise<void> {
    await this.o.onStep?.(step, id);
  }

  private async audit(actor: string, action: string, target: string | null, outcome: 'ok' | 'error', detail?: Record<string, unknown>): Promise<void> {
    await this.o.store.audit.record({ actor, action, target, outcome, ...(detail ? { detail } : {}) }).catch((err: unknown) => this.o.logger.warn('audit record failed', { error: errText(err) }));
  }
}
