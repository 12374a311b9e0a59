// Wires the sans-IO engine to sockets, timers, the data plane and listeners (ARCHITECTURE.md §1; RFC 7296 §2.4 timing).
/*
 * Flow: socket → engine.receive → route(Output); timer → engine.tick → route; effect results (certificate
 * validation) → engine.command(resume) → route; data-plane lifetimes → engine.command(dp.expire) → route.
 * route() starts the effects, sends datagrams, publishes events and re-arms the timer. Everything engine-facing
 * runs on the one JS thread, so the engine is never re-entered.
 * Startup order: crypto self-test (refuse on failure), data plane, sockets, engine, then start_action children.
 * With the userspace data plane the NAT-T sockets belong to its packet worker (ESP and IKE share them): the
 * socket layer only sees the IKE datagrams the worker hands up.
 */
import { renameSync, writeFileSync } from 'node:fs';
import type { ConnectionConfig, GatewayConfig } from '../config/types.ts';
import { createCryptoSuite } from '../crypto/suite.ts';
import { runSelfTest } from '../crypto/self-test.ts';
import { selectDataplane } from '../dataplane/select.ts';
import type { Dataplane, DataplaneEvent, SaCounters } from '../dataplane/types.ts';
import type { UserspaceDataplane } from '../dataplane/userspace.ts';
import { createEngine, type Engine, type EngineOptions } from '../ike/engine.ts';
import type { Command, EngineEvent, Output, ValidateChainRequest, ValidateChainResult } from '../ike/io.ts';
import { validateChain } from '../pki/chain.ts';
import { createSignatureOps } from '../pki/signature.ts';
import { createEffectRunner, type EffectRunnerStats } from './effect-runner.ts';
import { createEventBus, type EventBus } from './events.ts';
import { createLogger, type Logger, type LogLevel } from './logger.ts';
import { createWakeTimer } from './timers.ts';
import { kernelSourceFor, openUdp, type BoundSocket, type NattProvider, type UdpStats } from './udp.ts';

/** The part of the engine the runtime drives (a fake in tests). */
export type EngineLike = Pick<Engine, 'receive' | 'tick' | 'command' | 'listSas'> & Partial<Pick<Engine, 'stats'>>;

export interface GatewayOptions {
  /** Default: selectDataplane(config.dataplane). The gateway owns it from here on and closes it on stop. */
  dataplane?: Dataplane;
  logger?: Logger;
  /** Rewritten (atomically) with engine.listSas() whenever an SA comes or goes. */
  statusFile?: string;
  /** Stop gracefully on SIGTERM/SIGINT (the CLI turns this on; embedders and tests leave it off). */
  signals?: boolean;
  engineFactory?: (opts: EngineOptions) => EngineLike;
  validateChain?: (req: ValidateChainRequest) => Promise<ValidateChainResult>;
  now?: () => number;
  interfaceAddresses?: () => string[];
  sourceFor?: (remote: string) => Promise<string | null>;
  /** The boot self-test (default: runSelfTest on the suite the engine gets); injectable to test the refusal. */
  selfTest?: (suite: ReturnType<typeof createCryptoSuite>) => { ok: boolean; failures: string[] };
  /** On stop, wait this long for peers to answer our DELETEs before closing the sockets (default 1000 ms). */
  stopGraceMs?: number;
  /** Re-scan interface addresses for wildcard listen entries this often (default 15 s; 0 = never). */
  addressRefreshMs?: number;
  /** Rewrite the status file this often with fresh SA traffic counters (default 2 s; 0 = only on SA changes). */
  statusRefreshMs?: number;
  /**
   * With more than a few SAs (32), SA changes rewrite the status file at most this often (default 1000 ms): the
   * first change after a quiet spell at once, the rest of a burst together at the end of the interval, since each
   * write serialises every SA. Small tables are written on every change.
   */
  statusMinIntervalMs?: number;
}

export interface GatewayStats {
  udp: UdpStats;
  effects: EffectRunnerStats;
  engine?: unknown;
  /** The userspace data plane's packet worker (native counters), when it runs. */
  worker?: Record<string, number>;
}

export interface Gateway {
  engine: EngineLike;
  /** The sockets actually bound (wildcards expanded, port 0 resolved). */
  ports: BoundSocket[];
  events: EventBus;
  dataplane: Dataplane;
  /** Runs a control command through the engine and routes its output (the seam for the control API). */
  command(c: Command): Output;
  stats(): GatewayStats;
  stop(): Promise<void>;
  /** Resolves when the gateway has stopped, by stop() or a signal. */
  readonly stopped: Promise<void>;
}

export class SelfTestError extends Error {
  constructor(readonly failures: string[]) {
    super(`crypto self-test failed, refusing to start: ${failures.join('; ')}`);
    this.name = 'SelfTestError';
  }
}

const EVENT_LEVEL: Record<Exclude<EngineEvent['type'], 'log'>, LogLevel> = {
  'ike.up': 'info',
  'ike.down': 'info',
  'child.up': 'info',
  'child.down': 'info',
  'auth.failed': 'warn',
  'ike.failed': 'warn',
};

function eventMessage(e: Exclude<EngineEvent, { type: 'log' }>): string {
  switch (e.type) {
    case 'ike.up':
      return `IKE_SA ${e.conn} up: ${e.localId} ↔ ${e.remoteId} at ${e.remote.addr}:${e.remote.port}`;
    case 'ike.down':
      return `IKE_SA ${e.conn} down: ${e.reason}`;
    case 'child.up':
      return `CHILD_SA ${e.conn}/${e.child} up: ${e.localTs.join(',')} === ${e.remoteTs.join(',')}`;
    case 'child.down':
      return `CHILD_SA down: ${e.reason}`;
    case 'auth.failed':
      return `authentication failed${e.conn ? ` (${e.conn})` : ''} from ${e.remote.addr}: ${e.reason}`;
    case 'ike.failed':
      return `IKE_SA setup failed${e.conn ? ` (${e.conn})` : ''} with ${e.remote.addr}: ${e.reason}`;
  }
}

/** Engine events as log records: `event` carries the type so JSON consumers (interop tests) can filter on it. */
export function logEngineEvent(logger: Logger, e: EngineEvent): void {
  if (e.type === 'log') {
    logger.log(e.level, e.msg, { ...(e.ikeId !== undefined ? { ikeId: e.ikeId } : {}), ...e.fields });
    return;
  }
  const { type, ...rest } = e;
  logger.log(EVENT_LEVEL[type], eventMessage(e), { event: type, ...rest });
}

const isWildcard = (a: string): boolean => a === '0.0.0.0' || a === '::';
/** Datagrams that arrive between binding and engine creation (milliseconds); more than this is a flood. */
const MAX_EARLY_DATAGRAMS = 256;

/**
 * An initiator's local address must be the one the peer will see (it goes into NAT_DETECTION_SOURCE_IP), which a
 * wildcard listen address does not say: pin connections that initiate and name no local address to the kernel's
 * source address toward their peer, when a socket is bound there.
 */
async function pinInitiatorAddresses(
  config: GatewayConfig,
  bound: BoundSocket[],
  sourceFor: (remote: string) => Promise<string | null>,
  logger: Logger,
): Promise<GatewayConfig> {
  if (!config.listen.some((l) => isWildcard(l.address))) return config;
  const connections: ConnectionConfig[] = [];
  for (const c of config.connections) {
    const remote = c.remoteAddrs[0];
    if (remote === undefined || c.localAddrs.length > 0) {
      connections.push(c);
      continue;
    }
    const src = await sourceFor(remote);
    if (src && bound.some((b) => b.address === src)) {
      logger.debug('initiator source address', { conn: c.name, remote, local: src });
      connections.push({ ...c, localAddrs: [src] });
    } else {
      connections.push(c);
    }
  }
  return { ...config, connections };
}

/** Port 0 in a listen entry (tests) means "any": tell the engine the port the kernel actually chose. */
function resolvedListen(config: GatewayConfig, bound: BoundSocket[]): GatewayConfig {
  if (!config.listen.some((l) => l.port === 0 || l.nattPort === 0)) return config;
  const pick = (address: string, natt: boolean): number | undefined =>
    bound.find((b) => b.natt === natt && (b.address === address || (isWildcard(address) && b.family === (address.includes(':') ? 6 : 4))))?.port;
  return {
    ...config,
    listen: config.listen.map((l) => ({
      ...l,
      port: l.port === 0 ? (pick(l.address, false) ?? 0) : l.port,
      nattPort: l.nattPort === 0 ? (pick(l.address, true) ?? 0) : l.nattPort,
    })),
  };
}

/** Status tables up to this many SAs are cheap to write on every change; larger ones are coalesced. */
const STATUS_IMMEDIATE_MAX_SAS = 32;

function writeStatus(path: string, body: unknown, logger: Logger): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(body)}\n`, { mode: 0o644 });
    renameSync(tmp, path);
  } catch (err) {
    logger.warn('cannot write status file', { path, error: err instanceof Error ? err.message : String(err) });
  }
}

/** The userspace backend owns the NAT-T sockets (ESP and IKE share them, RFC 3948); other backends do not. */
function nattOwner(dp: Dataplane): UserspaceDataplane | undefined {
  return typeof (dp as Partial<UserspaceDataplane>).openNattTransport === 'function' ? (dp as UserspaceDataplane) : undefined;
}

/** A data-plane event as the engine command it stands for (RFC 4301 §4.4.2.1 lifetimes, acquires); null if none. */
export function dataplaneCommand(e: DataplaneEvent): Command | null {
  switch (e.type) {
    case 'expire':
      return { type: 'dp.expire', spi: e.spi, direction: e.direction, kind: e.kind };
    case 'acquire':
      return { type: 'dp.acquire', localTs: e.localTs, remoteTs: e.remoteTs };
    case 'mapping':
      return null; // the engine learns NAT mappings from IKE itself (RFC 7296 §2.23)
  }
}

const bigintsToNumbers = (o: object): Record<string, number> =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : (v as number)]));

export async function startGateway(config: GatewayConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const logger = opts.logger ?? createLogger({ level: config.log.level, format: config.log.format });
  const now = opts.now ?? Date.now;

  const crypto = createCryptoSuite();
  const selfTest = (opts.selfTest ?? runSelfTest)(crypto);
  if (!selfTest.ok) {
    logger.error('crypto self-test failed', { failures: selfTest.failures });
    throw new SelfTestError(selfTest.failures);
  }
  logger.debug('crypto self-test passed');
  const sig = createSignatureOps();
  const dataplane = opts.dataplane ?? selectDataplane(config.dataplane, logger, { pools: config.pools.map((p) => p.cidr) });
  const userspace = nattOwner(dataplane);
  const natt: NattProvider | undefined = userspace
    ? { open: (sockets, onDatagram) => userspace.openNattTransport({ sockets, onIke: onDatagram }) }
    : undefined;

  const empty: Output = { send: [], effects: [], events: [] };
  /** The engine promises never to throw; if it does anyway, log it and keep serving the other SAs. */
  const guard = (what: string, fn: () => Output): Output => {
    try {
      return fn();
    } catch (err) {
      logger.error(`engine ${what} threw`, { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      return empty;
    }
  };

  // The engine exists only after the sockets are bound, but sockets may deliver before that: hold those few.
  let engine: EngineLike | undefined;
  const early: Parameters<EngineLike['receive']>[0][] = [];
  let stopping = false;
  const bus = createEventBus((err, e) => logger.error('event listener failed', { event: e.type, error: err instanceof Error ? err.message : String(err) }));
  bus.onAny((e) => logEngineEvent(logger, e));

  const udp = await openUdp({
    listen: config.listen,
    logger,
    onDatagram: (d) => {
      if (stopping) return;
      if (!engine) {
        if (early.length < MAX_EARLY_DATAGRAMS) early.push(d);
        return;
      }
      const e = engine;
      route(guard('receive', () => e.receive(d, now())));
    },
    ...(opts.interfaceAddresses ? { interfaceAddresses: opts.interfaceAddresses } : {}),
    ...(opts.sourceFor ? { sourceFor: opts.sourceFor } : {}),
    ...(natt ? { natt } : {}),
  }).catch(async (err: unknown) => {
    await dataplane.close().catch(() => {});
    throw err;
  });
  const ports = udp.bound();

  const sourceFor = opts.sourceFor ?? kernelSourceFor;
  const engineConfig = await pinInitiatorAddresses(resolvedListen(config, ports), ports, sourceFor, logger);
  const factory = opts.engineFactory ?? createEngine;
  try {
    engine = factory({ config: engineConfig, crypto, sig, nowMs: now() });
  } catch (err) {
    await udp.close();
    await dataplane.close().catch(() => {});
    throw err;
  }
  const eng = engine;

  const timer = createWakeTimer({ now, onWake: (t) => !stopping && route(guard('tick', () => eng.tick(t))) });
  const effects = createEffectRunner({
    dataplane,
    logger,
    validateChain: opts.validateChain ?? validateChain,
    resume: (ref, result) => {
      if (!stopping) route(guard('resume', () => eng.command({ type: 'resume', ref, result }, now())));
    },
  });

  const statusFile = opts.statusFile;
  // Traffic counters come from the data plane asynchronously; the status shows the last ones read.
  const traffic = new Map<string, SaCounters>();
  const withTraffic = (sas: ReturnType<EngineLike['listSas']>) =>
    sas.map((sa) => ({
      ...sa,
      children: sa.children.map((c) => {
        const tin = traffic.get(`in:${c.spiIn >>> 0}`);
        const tout = traffic.get(`out:${c.spiOut >>> 0}`);
        return { ...c, ...(tin || tout ? { traffic: { in: tin ?? null, out: tout ?? null } } : {}) };
      }),
    }));
  const statusMinIntervalMs = opts.statusMinIntervalMs ?? 1000;
  let statusWrittenAt = -Infinity;
  let statusSaCount = 0;
  let statusPending: ReturnType<typeof setTimeout> | undefined;
  const status = (running: boolean): void => {
    if (!statusFile) return;
    if (statusPending) clearTimeout(statusPending);
    statusPending = undefined;
    statusWrittenAt = Date.now();
    const worker = userspace?.workerStats();
    const sas = running ? withTraffic(eng.listSas()) : [];
    statusSaCount = sas.length;
    writeStatus(
      statusFile,
      {
        updatedAt: new Date(now()).toISOString(),
        pid: process.pid,
        running,
        dataplane: { backend: dataplane.features().backend, ...(userspace ? { tun: userspace.tunName(), routes: userspace.routes().length } : {}), ...(worker ? { worker: bigintsToNumbers(worker) } : {}) },
        sas,
      },
      logger,
    );
  };
  /** An SA changed: write now, or with the rest of the burst once the interval since the last write has passed. */
  const statusChanged = (): void => {
    if (!statusFile || stopping || statusPending) return;
    const wait = statusWrittenAt + statusMinIntervalMs - Date.now();
    if (wait <= 0 || statusSaCount <= STATUS_IMMEDIATE_MAX_SAS) return status(true);
    statusPending = setTimeout(() => {
      statusPending = undefined;
      if (!stopping) status(true);
    }, wait);
    (statusPending as { unref?: () => void }).unref?.();
  };
  let refreshing = false;
  const refreshTraffic = async (): Promise<void> => {
    if (refreshing || stopping) return;
    refreshing = true;
    try {
      const seen = new Set<string>();
      for (const sa of eng.listSas()) {
        for (const c of sa.children) {
          for (const [dir, spi] of [['in', c.spiIn], ['out', c.spiOut]] as const) {
            const k = `${dir}:${spi >>> 0}`;
            seen.add(k);
            const q = await dataplane.querySa(spi, dir).catch(() => null);
            if (q) traffic.set(k, q);
          }
        }
      }
      for (const k of [...traffic.keys()]) if (!seen.has(k)) traffic.delete(k);
      if (!stopping) status(true);
    } finally {
      refreshing = false;
    }
  };

  // Datagrams whose output also changed the data plane wait until those changes are applied: a CREATE_CHILD_SA
  // response must not reach the peer before the new inbound SA can take its packets. Later datagrams queue behind
  // them so the wire order stays the engine's order.
  let sendQueue: Promise<void> | null = null;
  function route(out: Output): void {
    const applied = out.effects.length > 0 ? effects.run(out.effects) : null;
    const dpChanged = applied !== null && out.effects.some((e) => e.type.startsWith('dp.'));
    if (out.send.length > 0) {
      if (!dpChanged && sendQueue === null) {
        for (const d of out.send) udp.send(d);
      } else {
        const after = dpChanged ? Promise.all([sendQueue, applied]) : sendQueue;
        const q: Promise<void> = Promise.resolve(after).then(() => {
          if (!stopping) for (const d of out.send) udp.send(d);
          if (sendQueue === q) sendQueue = null;
        });
        sendQueue = q;
      }
    }
    let changed = false;
    for (const e of out.events) {
      bus.emit(e);
      if (e.type !== 'log') changed = true;
    }
    if (changed) statusChanged();
    timer.arm(out.wakeAtMs);
  }

  dataplane.onEvent((e) => {
    logger.info(`data plane event: ${e.type}`, { ...e });
    // Lifetimes run out in the data plane; the engine rekeys (soft) or deletes (hard) the CHILD_SA.
    const c = dataplaneCommand(e);
    if (c && !stopping) route(guard(c.type, () => eng.command(c, now())));
  });

  const statusRefreshMs = opts.statusRefreshMs ?? 2000;
  const statusTimer = statusFile && statusRefreshMs > 0 ? setInterval(() => void refreshTraffic(), statusRefreshMs) : undefined;
  (statusTimer as { unref?: () => void } | undefined)?.unref?.();

  const refreshMs = opts.addressRefreshMs ?? 15_000;
  const refreshTimer =
    refreshMs > 0 && config.listen.some((l) => isWildcard(l.address))
      ? setInterval(() => void udp.refresh().catch((err: unknown) => logger.warn('address refresh failed', { error: String(err) })), refreshMs)
      : undefined;

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  const onSignal = (sig: NodeJS.Signals): void => {
    logger.info(`received ${sig}, stopping`);
    void gateway.stop();
  };
  if (opts.signals) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }

  let stopPromise: Promise<void> | undefined;
  const gateway: Gateway = {
    engine: eng,
    ports,
    events: bus,
    dataplane,
    stopped,
    command(c) {
      const out = guard(c.type, () => eng.command(c, now()));
      if (!stopping) route(out);
      return out;
    },
    stats: () => {
      const worker = userspace?.workerStats();
      return { udp: udp.stats(), effects: effects.stats(), ...(eng.stats ? { engine: eng.stats() } : {}), ...(worker ? { worker: bigintsToNumbers(worker) } : {}) };
    },
    stop() {
      stopPromise ??= (async () => {
        // Tell peers we are going (DELETE for every IKE SA) while the sockets are still open.
        for (const sa of eng.listSas()) {
          if (sa.state === 'deleting') continue;
          route(guard('terminate', () => eng.command({ type: 'terminate', ikeId: sa.ikeId }, now())));
        }
        // Keep serving until the peers confirmed (the SA list empties) or the grace period ends.
        const graceEnd = Date.now() + (opts.stopGraceMs ?? 1000);
        while (eng.listSas().length > 0 && Date.now() < graceEnd) await new Promise((r) => setTimeout(r, 20));
        stopping = true;
        timer.stop();
        if (refreshTimer) clearInterval(refreshTimer);
        if (statusTimer) clearInterval(statusTimer);
        if (statusPending) clearTimeout(statusPending);
        statusPending = undefined;
        if (opts.signals) {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
        }
        effects.close();
        await effects.idle();
        await udp.close();
        await dataplane.close().catch((err: unknown) => logger.warn('data plane close failed', { error: String(err) }));
        status(false);
        logger.info('gateway stopped', { event: 'stopped' });
        resolveStopped();
      })();
      return stopPromise;
    },
  };

  status(true);
  for (const d of early.splice(0)) route(guard('receive', () => eng.receive(d, now())));

  // start_action: start — bring those children up now, one IKE_SA each.
  for (const c of config.connections) {
    for (const child of c.children) {
      if (child.startAction === 'start') gateway.command({ type: 'initiate', conn: c.name, child: child.name });
    }
  }
  return gateway;
}
