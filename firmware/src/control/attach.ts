// Starts the gateway under the control plane: store + reconcile, supervisor, config applier, SA event recorder, control socket.
import { basename, dirname, resolve } from 'node:path';
import { loadConfigFile } from '../config/load-config.ts';
import { parseConfigText, type ConfigResult } from '../config/parse-config.ts';
import type { GatewayConfig } from '../config/types.ts';
import type { EngineOptions } from '../ike/engine.ts';
import type { EngineLike, Gateway, GatewayOptions } from '../runtime/gateway.ts';
import type { Logger } from '../runtime/logger.ts';
import type { ConfigVersion } from '../store/config-versions.ts';
import { openStore, type Store } from '../store/store.ts';
import { ConfigApplier, type ApplyStep } from './apply.ts';
import { createRequestHandler, type ControlContext } from './handlers.ts';
import { reconcileConfig, ReconcileError } from './reconcile.ts';
import { recordSaEvents, type SaRecorder } from './sa-recorder.ts';
import { startControlServer, type ControlServer } from './server.ts';
import { Supervisor, type HealthCheck } from './supervisor.ts';

export interface ControlPlaneOptions {
  /** The active config file (`outpost gateway --config`). */
  configPath: string;
  /** The SQLite store; without it config history, load-config and rollback are unavailable. */
  dbPath?: string;
  deviceKeyPath?: string;
  /** The control socket; without it no socket is opened. */
  socketPath?: string;
  /** A logger, or a function making one from the config in force at start (its log level and format). */
  logger: Logger | ((config: GatewayConfig) => Logger);
  /** Applied to every parsed config (the CLI's --log-level/--log-format). */
  overrides?: (config: GatewayConfig) => void;
  /** Passed to every gateway started (status file, grace period…). */
  gatewayOptions?: Omit<GatewayOptions, 'engineFactory' | 'signals' | 'logger'>;
  /** Default: the runtime's startGateway (imported lazily, like the CLI does). */
  startGateway?: (config: GatewayConfig, opts: GatewayOptions) => Promise<Gateway>;
  engineFactory?: (o: EngineOptions) => EngineLike;
  extraHealthChecks?: (gw: Gateway, config: GatewayConfig) => Promise<HealthCheck[]>;
  signals?: boolean;
  /** Crash injection for tests. */
  onApplyStep?: (step: ApplyStep, versionId: number) => void | Promise<void>;
  /** Enforce store retention this often (default 1 h; 0 = only at start and every 1000 SA events). */
  retentionIntervalMs?: number;
}

export interface ControlPlane {
  readonly supervisor: Supervisor;
  readonly store: Store | undefined;
  readonly applier: ConfigApplier | undefined;
  readonly server: ControlServer | undefined;
  /** The config version in force at start (with a store). */
  readonly bootVersion: ConfigVersion | undefined;
  /** Warnings of the config in force at start. */
  readonly warnings: string[];
  readonly stopped: Promise<void>;
  stop(): Promise<void>;
}

export { ReconcileError };

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const configPath = resolve(opts.configPath);
  const parse = (yaml: string): ConfigResult => {
    const r = parseConfigText(yaml, dirname(configPath), basename(configPath));
    if (r.ok) opts.overrides?.(r.config);
    return r;
  };

  let store: Store | undefined;
  let config: GatewayConfig;
  let warnings: string[];
  let bootVersion: ConfigVersion | undefined;
  // Said once the logger exists (it takes its level and format from the config in force).
  const early: { level: 'info' | 'warn'; msg: string; fields?: Record<string, unknown> }[] = [];
  if (opts.dbPath) {
    store = await openStore({ path: opts.dbPath, ...(opts.deviceKeyPath ? { deviceKeyPath: opts.deviceKeyPath } : {}) });
    if (store.keys.warning) early.push({ level: 'warn', msg: store.keys.warning });
    if (store.keys.created) early.push({ level: 'info', msg: 'created the device key', fields: { event: 'device-key.created' } });
    try {
      const r = await reconcileConfig({ store, configPath, parse });
      for (const n of r.notes) early.push({ level: 'info', msg: n, fields: { event: 'config.reconciled' } });
      config = r.config;
      warnings = r.warnings;
      bootVersion = r.version;
    } catch (err) {
      await store.close();
      throw err;
    }
  } else {
    const r = await loadConfigFile(configPath);
    if (!r.ok) throw new ReconcileError(`${opts.configPath} has ${r.errors.length} error${r.errors.length === 1 ? '' : 's'}, not starting`, r.errors);
    opts.overrides?.(r.config);
    config = r.config;
    warnings = r.warnings;
  }
  const logger = typeof opts.logger === 'function' ? opts.logger(config) : opts.logger;
  for (const e of early) logger.log(e.level, e.msg, e.fields);

  const start = opts.startGateway ?? (await import('../runtime/gateway.ts')).startGateway;
  let supervisor: Supervisor;
  try {
    supervisor = await Supervisor.start({
      config,
      logger,
      start: (cfg, engineFactory) => start(cfg, { ...opts.gatewayOptions, logger, engineFactory }),
      ...(opts.engineFactory ? { engineFactory: opts.engineFactory } : {}),
      ...(opts.extraHealthChecks ? { extraHealthChecks: opts.extraHealthChecks } : {}),
      signals: opts.signals ?? false,
    });
  } catch (err) {
    await store?.close();
    throw err;
  }

  let applier: ConfigApplier | undefined;
  let recorder: SaRecorder | undefined;
  let retentionTimer: ReturnType<typeof setInterval> | undefined;
  if (store) {
    const s = store;
    applier = new ConfigApplier({
      store: s,
      target: supervisor,
      configPath,
      parse,
      logger,
      onEvent: (e) => supervisor.events.emit(e),
      ...(opts.onApplyStep ? { onStep: opts.onApplyStep } : {}),
    });
    recorder = await recordSaEvents({ store: s, events: supervisor.events, lookup: (id) => supervisor.current()?.engine.listSas().find((sa) => sa.ikeId === id), logger });
    const every = opts.retentionIntervalMs ?? 3_600_000;
    if (every > 0) {
      retentionTimer = setInterval(() => void s.enforceRetention().catch((err: unknown) => logger.warn('retention failed', { error: String(err) })), every);
      (retentionTimer as { unref?: () => void }).unref?.();
    }
  }

  const ctx: ControlContext = { supervisor, logger, ...(applier ? { applier } : {}), ...(store ? { store } : {}) };
  let server: ControlServer | undefined;
  if (opts.socketPath) {
    try {
      server = await startControlServer({ path: opts.socketPath, handle: createRequestHandler(ctx), logger });
      ctx.serverStats = server.stats;
      logger.info(`control socket: ${opts.socketPath}`, { event: 'control.listening', path: opts.socketPath });
    } catch (err) {
      await supervisor.stop();
      await store?.close();
      throw err;
    }
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (retentionTimer) clearInterval(retentionTimer);
      await server?.close();
      applier?.close();
      await supervisor.stop();
      recorder?.stop();
      await recorder?.flush();
      await store?.close();
    })());
  // A signal stops the supervisor; `stopped` resolves once the rest has followed.
  return { supervisor, store, applier, server, bootVersion, warnings, stopped: supervisor.stopped.then(() => stop()), stop };
}
