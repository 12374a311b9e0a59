// Owns the running gateway for the control plane: applies a new config (in-place reload or gateway swap), checks health, drains.
/*
 * The gateway keeps its config for life, and the engine has no reload entry point yet. So a config is applied by
 * one of two paths:
 *   reload   the engine implements ReloadableEngine and nothing needs new sockets or a new data plane: the
 *            wrapper's private reload command goes through Gateway.command(), SAs of unaffected connections stay;
 *   restart  otherwise: stop the gateway (DELETE to every peer), start a new one with the new config.
 * Callers that need the gateway wait for `ready()`, which holds while a restart is under way. Events of whichever
 * gateway runs are forwarded to one stream, so subscribers survive restarts. Signals stop the supervisor, not
 * just the current gateway, so a restart in progress cannot resurrect a stopped appliance.
 */
import type { GatewayConfig } from '../config/types.ts';
import { createEngine, type EngineOptions } from '../ike/engine.ts';
import type { EngineLike, Gateway } from '../runtime/gateway.ts';
import type { Logger } from '../runtime/logger.ts';
import { controlledEngineFactory, createDrainState, RELOAD_COMMAND, type ControlledEngine, type DrainState, type ReloadCommand } from './controlled-engine.ts';
import { ControlError } from './errors.ts';
import type { ApplyPlan } from './plan.ts';
import type { StreamEvent } from './protocol.ts';

export interface HealthCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface HealthReport {
  ok: boolean;
  checks: HealthCheck[];
}

export interface SupervisorOptions {
  config: GatewayConfig;
  /** Starts a gateway with the given engine factory (the CLI: startGateway with its logger and status file). */
  start(config: GatewayConfig, engineFactory: (o: EngineOptions) => EngineLike): Promise<Gateway>;
  /** The engine to wrap (default: the real one). */
  engineFactory?: (o: EngineOptions) => EngineLike;
  logger: Logger;
  /** Stop on SIGTERM/SIGINT. */
  signals?: boolean;
  /** More health checks after an apply (tests; later: "can reach the cloud", "peer X came back"). */
  extraHealthChecks?: (gw: Gateway, config: GatewayConfig) => Promise<HealthCheck[]>;
  now?: () => number;
}

export type ApplyMode = 'none' | 'reload' | 'restart';

export interface StreamBus {
  on(listener: (e: StreamEvent) => void): () => void;
  emit(e: StreamEvent): void;
  readonly listeners: number;
}

export function createStreamBus(onError: (err: unknown) => void = () => {}): StreamBus {
  const set = new Set<(e: StreamEvent) => void>();
  return {
    on(l) {
      set.add(l);
      return () => void set.delete(l);
    },
    emit(e) {
      for (const l of [...set]) {
        try {
          l(e);
        } catch (err) {
          onError(err);
        }
      }
    },
    get listeners() {
      return set.size;
    },
  };
}

/** Sockets bound for every listen entry (both ports), engine and data plane answering. */
export function basicHealth(gw: Gateway, config: GatewayConfig): HealthCheck[] {
  const checks: HealthCheck[] = [];
  const missing: string[] = [];
  for (const l of config.listen) {
    const wild = l.address === '0.0.0.0' || l.address === '::';
    for (const [natt, port] of [[false, l.port], [true, l.nattPort]] as const) {
      const found = gw.ports.some((p) => p.natt === natt && (port === 0 || p.port === port) && (wild ? p.family === (l.address === '::' ? 6 : 4) : p.address === l.address));
      // A wildcard on a machine without addresses of that family binds nothing, which is not a failure.
      if (!found && !wild) missing.push(`${l.address}:${port}${natt ? ' (nat-t)' : ''}`);
    }
  }
  checks.push({ name: 'sockets', ok: missing.length === 0, ...(missing.length ? { detail: `not bound: ${missing.join(', ')}` } : {}) });
  const probe = (name: string, fn: () => unknown): void => {
    try {
      fn();
      checks.push({ name, ok: true });
    } catch (err) {
      checks.push({ name, ok: false, detail: err instanceof Error ? err.message : String(err) });
    }
  };
  probe('engine', () => {
    gw.engine.listSas();
    gw.engine.stats?.();
  });
  probe('dataplane', () => gw.dataplane.features());
  return checks;
}

export class Supervisor {
  readonly events: StreamBus;
  readonly drain: DrainState = createDrainState();
  readonly startedAt: number;
  readonly stopped: Promise<void>;
  private gw: Gateway | undefined;
  private engine: ControlledEngine | undefined;
  private cfg: GatewayConfig;
  private busy: Promise<unknown> = Promise.resolve();
  private swapping: Promise<void> | undefined;
  private stopping = false;
  private resolveStopped!: () => void;
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    this.opts.logger.info(`received ${sig}, stopping`);
    void this.stop();
  };

  private constructor(private readonly opts: SupervisorOptions) {
    this.cfg = opts.config;
    this.startedAt = (opts.now ?? Date.now)();
    this.events = createStreamBus((err) => opts.logger.error('event subscriber failed', { error: err instanceof Error ? err.message : String(err) }));
    this.stopped = new Promise((r) => (this.resolveStopped = r));
  }

  static async start(opts: SupervisorOptions): Promise<Supervisor> {
    const s = new Supervisor(opts);
    s.gw = await s.launch(opts.config);
    if (opts.signals) {
      process.on('SIGTERM', s.onSignal);
      process.on('SIGINT', s.onSignal);
    }
    return s;
  }

  /** The config in force. */
  get config(): GatewayConfig {
    return this.cfg;
  }

  /** Whether the running engine can take a config without a restart. */
  get canReload(): boolean {
    return this.engine?.canReload ?? false;
  }

  /** The running gateway, after any restart in progress. Throws once stopped. */
  async ready(): Promise<Gateway> {
    while (this.swapping) await this.swapping;
    if (this.stopping) throw new ControlError('unavailable', 'the gateway is stopping');
    if (!this.gw) throw new ControlError('unavailable', 'the gateway is not running (a config change could not be started, nor the previous config restored): load a working config');
    return this.gw;
  }

  /** The running gateway now, or undefined during a restart or after stop. */
  current(): Gateway | undefined {
    return this.swapping || this.stopping ? undefined : this.gw;
  }

  setDrain(on: boolean, redirectTo: string | null): void {
    this.drain.draining = on;
    this.drain.redirectTo = on ? redirectTo : null;
    this.events.emit({ type: 'drain', draining: on, redirectTo: this.drain.redirectTo });
    this.opts.logger.info(on ? `draining: new IKE SAs are ${redirectTo ? `redirected to ${redirectTo}` : 'refused'}` : 'draining off', { event: 'drain', draining: on });
  }

  /**
   * Puts `config` in force. Throws when it could not be started; the caller then applies the previous config
   * again (the gateway is down in between when a restart failed).
   */
  apply(config: GatewayConfig, plan: ApplyPlan): Promise<ApplyMode> {
    const run = async (): Promise<ApplyMode> => {
      if (this.stopping) throw new Error('the gateway is stopping');
      if (plan.changes.length === 0 && this.gw) {
        this.cfg = config;
        return 'none';
      }
      if (this.canReload && plan.restartReasons.length === 0 && this.gw) {
        const cmd: ReloadCommand = { type: RELOAD_COMMAND, config };
        // The gateway routes whatever the engine returns (DELETEs, new initiations) like any command's output.
        this.gw.command(cmd as unknown as Parameters<Gateway['command']>[0]);
        this.cfg = config;
        return 'reload';
      }
      await this.restart(config);
      return 'restart';
    };
    const p = this.busy.then(run, run);
    this.busy = p.catch(() => {});
    return p;
  }

  async health(): Promise<HealthReport> {
    const gw = await this.ready();
    const checks = basicHealth(gw, this.cfg);
    if (this.opts.extraHealthChecks) {
      try {
        checks.push(...(await this.opts.extraHealthChecks(gw, this.cfg)));
      } catch (err) {
        checks.push({ name: 'extra', ok: false, detail: err instanceof Error ? err.message : String(err) });
      }
    }
    return { ok: checks.every((c) => c.ok), checks };
  }

  async stop(): Promise<void> {
    if (this.stopping) return this.stopped;
    this.stopping = true;
    if (this.opts.signals) {
      process.off('SIGTERM', this.onSignal);
      process.off('SIGINT', this.onSignal);
    }
    while (this.swapping) await this.swapping.catch(() => {});
    await this.gw?.stop();
    this.resolveStopped();
    return this.stopped;
  }

  private async restart(config: GatewayConfig): Promise<void> {
    let done!: () => void;
    this.swapping = new Promise<void>((r) => (done = r));
    try {
      this.opts.logger.info('restarting the gateway with the new config', { event: 'config.restart' });
      await this.gw?.stop();
      this.gw = undefined;
      this.engine = undefined;
      this.gw = await this.launch(config);
      this.cfg = config;
    } finally {
      this.swapping = undefined;
      done();
    }
  }

  private async launch(config: GatewayConfig): Promise<Gateway> {
    const factory = controlledEngineFactory(this.opts.engineFactory ?? createEngine, this.drain, (e) => (this.engine = e));
    const gw = await this.opts.start(config, factory);
    gw.events.onAny((e) => this.events.emit(e));
    return gw;
  }
}
