// What each control command does, against the supervisor (SAs, drain, events), the config applier and the store.
import type { ConnectionConfig } from '../config/types.ts';
import type { Command, IkeSaInfo } from '../ike/io.ts';
import { isSecretFieldName, type Logger } from '../runtime/logger.ts';
import type { ConfigVersionMeta } from '../store/config-versions.ts';
import type { Store } from '../store/store.ts';
import type { ConfigApplier } from './apply.ts';
import { listCertificates } from './cert-info.ts';
import { redirectTargetProblem } from './controlled-engine.ts';
import { ControlError } from './errors.ts';
import { EVENT_TYPES, type CommandArgs, type CommandName, type CommandResults, type ConfigMeta, type ConnInfo, type ParsedRequest, type StreamEvent } from './protocol.ts';
import { redactConfigText } from './redact-config.ts';
import type { ControlServerStats, ControlSession } from './server.ts';
import type { Supervisor } from './supervisor.ts';

export interface ControlContext {
  supervisor: Supervisor;
  /** Absent when the gateway runs without a store: config commands then answer `unavailable`. */
  applier?: ConfigApplier;
  store?: Store;
  logger: Logger;
  now?: () => number;
  serverStats?: () => ControlServerStats;
  /** Open `subscribe` streams (maintained here). */
  subscribers?: number;
}

const DEFAULT_INITIATE_WAIT_MS = 10_000;
const DEFAULT_TERMINATE_WAIT_MS = 5_000;

type Handler<C extends CommandName> = (args: CommandArgs<C>, ctx: ControlContext, req: { id: ParsedRequest['id']; actor: string; session: ControlSession }) => Promise<CommandResults[C]>;

const notFound = (field: string, message: string) => new ControlError('not-found', message, { field });

function needStore(ctx: ControlContext): { applier: ConfigApplier; store: Store } {
  if (!ctx.applier || !ctx.store) throw new ControlError('unavailable', 'this gateway runs without a store (start it with --db PATH)');
  return { applier: ctx.applier, store: ctx.store };
}

function connInfo(c: ConnectionConfig, sas: IkeSaInfo[]): ConnInfo {
  return {
    name: c.name,
    remoteAddrs: c.remoteAddrs,
    localAddrs: c.localAddrs,
    localId: c.local.id,
    localAuth: c.local.auth,
    remoteId: c.remote.id,
    remoteAuth: c.remote.auth,
    pools: c.pools,
    ikeProposals: c.ikeProposals,
    children: c.children.map((ch) => ({ name: ch.name, localTs: ch.localTs, remoteTs: ch.remoteTs, espProposals: ch.espProposals, startAction: ch.startAction })),
    ikeSas: sas.filter((s) => s.conn === c.name).length,
  };
}

/** Log events carry free-form fields: drop any whose name marks it secret, and byte arrays, before they leave the process. */
export function publicEvent(e: StreamEvent): StreamEvent {
  if (e.type !== 'log' || !e.fields) return e;
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e.fields)) {
    if (isSecretFieldName(k)) continue;
    fields[k] = v instanceof Uint8Array ? `<${v.length} octets>` : v;
  }
  return { ...e, fields };
}

/**
 * Subscribes to the event stream, runs `start`, and resolves with the first event `decide` settles on (or
 * `timeout` after `ms`). Subscribing first matters: events in the command's own output are emitted during it.
 */
async function runAndWait<T>(ctx: ControlContext, ms: number, start: () => void, decide: (e: StreamEvent) => T | undefined, timeout: () => T): Promise<T> {
  const seen: StreamEvent[] = [];
  let wake: (() => void) | undefined;
  const off = ctx.supervisor.events.on((e) => {
    seen.push(e);
    wake?.();
  });
  try {
    start();
    const end = Date.now() + ms;
    for (;;) {
      while (seen.length > 0) {
        const r = decide(seen.shift() as StreamEvent);
        if (r !== undefined) return r;
      }
      const left = end - Date.now();
      if (left <= 0) return timeout();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    off();
  }
}

function findSa(sas: IkeSaInfo[], ikeId: string, childId?: string): IkeSaInfo {
  const sa = sas.find((s) => s.ikeId === ikeId);
  if (!sa) throw notFound('args.ikeId', `no IKE SA ${ikeId}`);
  if (childId !== undefined && !sa.children.some((c) => c.childId === childId)) throw notFound('args.childId', `IKE SA ${ikeId} has no CHILD_SA ${childId}`);
  return sa;
}

async function versionMeta(store: Store, v: ConfigVersionMeta): Promise<ConfigMeta> {
  const current = await store.configs.current();
  return { ...v, current: current?.id === v.id };
}

const handlers: { [C in CommandName]: Handler<C> } = {
  async 'list-sas'(args, ctx) {
    const gw = await ctx.supervisor.ready();
    const sas = gw.engine.listSas();
    return { sas: args.conn ? sas.filter((s) => s.conn === args.conn) : sas };
  },

  async 'list-conns'(_args, ctx) {
    const gw = await ctx.supervisor.ready();
    const sas = gw.engine.listSas();
    return { conns: ctx.supervisor.config.connections.map((c) => connInfo(c, sas)) };
  },

  async 'list-certs'(_args, ctx) {
    return { certs: listCertificates(ctx.supervisor.config, (ctx.now ?? Date.now)()) };
  },

  async initiate(args, ctx) {
    const conn = ctx.supervisor.config.connections.find((c) => c.name === args.conn);
    if (!conn) throw notFound('args.conn', `no connection "${args.conn}"`);
    if (args.child !== undefined && !conn.children.some((c) => c.name === args.child)) throw notFound('args.child', `connection "${args.conn}" has no child "${args.child}"`);
    if (conn.remoteAddrs.length === 0) throw new ControlError('failed', `connection "${args.conn}" has no remote_addrs: it can only respond`, { field: 'args.conn' });
    const gw = await ctx.supervisor.ready();
    const before = new Set(gw.engine.listSas().map((s) => s.ikeId));
    let ikeId: string | null = null;
    const cmd: Command = { type: 'initiate', conn: args.conn, ...(args.child !== undefined ? { child: args.child } : {}) };
    const ours = (e: { ikeId?: string }) => ikeId !== null && e.ikeId === ikeId;
    type R = CommandResults['initiate'];
    const wait = args.waitMs ?? DEFAULT_INITIATE_WAIT_MS;
    const result = await runAndWait<R>(
      ctx,
      wait,
      () => {
        gw.command(cmd);
        ikeId = gw.engine.listSas().find((s) => !before.has(s.ikeId) && s.conn === args.conn)?.ikeId ?? null;
      },
      (e) => {
        if (wait === 0) return undefined;
        if (e.type === 'child.up' && e.conn === args.conn && (ikeId === null || e.ikeId === ikeId) && (args.child === undefined || e.child === args.child)) return { ikeId: e.ikeId, state: 'up' };
        if ((e.type === 'ike.failed' || e.type === 'auth.failed') && (ours(e) || (ikeId === null && e.conn === args.conn))) return { ikeId: e.ikeId, state: 'failed', reason: e.reason };
        if (e.type === 'ike.down' && ours(e)) return { ikeId: e.ikeId, state: 'failed', reason: e.reason };
        return undefined;
      },
      () => ({ ikeId, state: 'started' }),
    );
    if (result.state === 'failed') throw new ControlError('failed', `initiate ${args.conn} failed: ${result.reason ?? 'unknown reason'}`);
    if (result.state === 'started' && wait > 0) throw new ControlError('failed', `${args.conn} is not up after ${wait} ms (the attempt continues${ikeId ? ` as IKE SA ${ikeId}` : ''})`);
    return result;
  },

  async terminate(args, ctx) {
    if ((args.ikeId === undefined) === (args.conn === undefined)) throw new ControlError('bad-request', 'args: give exactly one of ikeId and conn', { field: args.ikeId === undefined ? 'args.ikeId' : 'args.conn' });
    if (args.childId !== undefined && args.ikeId === undefined) throw new ControlError('bad-request', 'args.childId: needs args.ikeId', { field: 'args.childId' });
    const gw = await ctx.supervisor.ready();
    const sas = gw.engine.listSas();
    let targets: IkeSaInfo[];
    if (args.ikeId !== undefined) targets = [findSa(sas, args.ikeId, args.childId)];
    else {
      targets = sas.filter((s) => s.conn === args.conn);
      if (targets.length === 0) throw notFound('args.conn', `connection "${args.conn}" has no IKE SA`);
    }
    const waiting = new Set(targets.map((t) => (args.childId !== undefined ? args.childId : t.ikeId)));
    const wait = args.waitMs ?? DEFAULT_TERMINATE_WAIT_MS;
    const terminated = [...waiting];
    return runAndWait<CommandResults['terminate']>(
      ctx,
      wait,
      () => {
        for (const t of targets) gw.command({ type: 'terminate', ikeId: t.ikeId, ...(args.childId !== undefined ? { childId: args.childId } : {}) });
      },
      (e: StreamEvent) => {
        if (wait === 0) return undefined;
        if (args.childId !== undefined ? e.type === 'child.down' && waiting.delete(e.childId) : e.type === 'ike.down' && waiting.delete(e.ikeId)) {
          if (waiting.size === 0) return { terminated, state: 'down' };
        }
        return undefined;
      },
      () => ({ terminated, state: waiting.size === 0 ? 'down' : 'started' }),
    );
  },

  async rekey(args, ctx) {
    const gw = await ctx.supervisor.ready();
    const sa = findSa(gw.engine.listSas(), args.ikeId, args.childId);
    if (sa.state !== 'established') throw new ControlError('failed', `IKE SA ${args.ikeId} is ${sa.state}, not established`);
    if (args.reauth && args.childId !== undefined) throw new ControlError('bad-request', 'args.reauth: reauthentication is for a whole IKE SA, not a CHILD_SA', { field: 'args.reauth' });
    gw.command(args.reauth ? { type: 'reauth', ikeId: args.ikeId } : { type: 'rekey', ikeId: args.ikeId, ...(args.childId !== undefined ? { childId: args.childId } : {}) });
    return { ikeId: args.ikeId, started: true };
  },

  async 'load-config'(args, ctx, req) {
    const { applier } = needStore(ctx);
    return applier.load({
      yaml: args.yaml,
      author: req.actor,
      ...(args.source !== undefined ? { source: args.source } : {}),
      ...(args.signature !== undefined ? { signature: args.signature } : {}),
      ...(args.comment !== undefined ? { comment: args.comment } : {}),
      ...(args.confirmTimeoutSec !== undefined ? { confirmTimeoutMs: args.confirmTimeoutSec * 1000 } : {}),
    });
  },

  async confirm(args, ctx, req) {
    return needStore(ctx).applier.confirm(args.id, req.actor);
  },

  async 'get-config'(args, ctx) {
    const { store } = needStore(ctx);
    const v = args.id !== undefined ? await store.configs.get(args.id) : await store.configs.current();
    if (!v) throw notFound('args.id', args.id !== undefined ? `no config version ${args.id}` : 'the store holds no applied config');
    const { yaml, ...meta } = v;
    const shown = args.showSecrets ? { text: yaml, redacted: false } : redactConfigText(yaml);
    return { version: await versionMeta(store, meta), yaml: shown.text, redacted: shown.redacted };
  },

  async history(args, ctx) {
    const { store } = needStore(ctx);
    const current = await store.configs.current();
    const versions = await store.configs.list(args.limit ?? 50);
    return { versions: versions.map((v) => ({ ...v, current: v.id === current?.id })) };
  },

  async rollback(args, ctx, req) {
    return needStore(ctx).applier.rollback({
      author: req.actor,
      ...(args.id !== undefined ? { id: args.id } : {}),
      ...(args.comment !== undefined ? { comment: args.comment } : {}),
      ...(args.confirmTimeoutSec !== undefined ? { confirmTimeoutMs: args.confirmTimeoutSec * 1000 } : {}),
    });
  },

  async stats(_args, ctx) {
    const sup = ctx.supervisor;
    const gw = await sup.ready();
    const sas = gw.engine.listSas();
    const engine = (gw.engine.stats?.() ?? {}) as { halfOpen?: number };
    const now = (ctx.now ?? Date.now)();
    return {
      uptimeSec: Math.round((now - sup.startedAt) / 1000),
      configVersion: ctx.store ? ((await ctx.store.configs.current())?.id ?? null) : null,
      draining: sup.drain.draining,
      redirectTo: sup.drain.redirectTo,
      sas: { ike: sas.length, child: sas.reduce((n, s) => n + s.children.length, 0), halfOpen: engine.halfOpen ?? sas.filter((s) => s.state === 'connecting').length },
      drain: { refused: sup.drain.refused, redirected: sup.drain.redirected },
      gateway: gw.stats() as unknown as Record<string, unknown>,
      control: { clients: 0, requests: 0, errors: 0, ...ctx.serverStats?.(), subscribers: ctx.subscribers ?? 0 },
      store: ctx.store ? { path: ctx.store.db.path, outbox: await ctx.store.outbox.size() } : null,
    };
  },

  async drain(args, ctx, req) {
    if (args.redirectTo !== undefined) {
      if (!args.on) throw new ControlError('bad-request', 'args.redirectTo: only with on: true', { field: 'args.redirectTo' });
      const problem = redirectTargetProblem(args.redirectTo);
      if (problem) throw new ControlError('bad-request', `args.redirectTo: ${problem}`, { field: 'args.redirectTo' });
    }
    ctx.supervisor.setDrain(args.on, args.redirectTo ?? null);
    await ctx.store?.audit.record({ actor: req.actor, action: 'drain', target: null, outcome: 'ok', detail: { on: args.on, redirectTo: args.redirectTo ?? null } });
    return { draining: ctx.supervisor.drain.draining, redirectTo: ctx.supervisor.drain.redirectTo };
  },

  async subscribe(args, ctx, req) {
    // Engine log lines are many and chatty: only on request.
    const types = new Set<string>(args.types ?? EVENT_TYPES.filter((t) => t !== 'log'));
    const unsubscribe = ctx.supervisor.events.on((e) => {
      if (!types.has(e.type)) return;
      if (!req.session.send({ id: req.id, event: publicEvent(e) })) off();
    });
    let subscribed = true;
    const off = (): void => {
      if (!subscribed) return;
      subscribed = false;
      unsubscribe();
      ctx.subscribers = (ctx.subscribers ?? 1) - 1;
    };
    ctx.subscribers = (ctx.subscribers ?? 0) + 1;
    req.session.onClose(off);
    return { subscribed: [...types] };
  },
};

/** Audited: every command that changes something (config commands audit themselves, with the version). */
const AUDITED = new Set<CommandName>(['initiate', 'terminate', 'rekey']);

export function createRequestHandler(ctx: ControlContext): (req: ParsedRequest, session: ControlSession) => Promise<unknown> {
  return async (req, session) => {
    const h = handlers[req.command] as Handler<CommandName>;
    if (!AUDITED.has(req.command) || !ctx.store) return h(req.args as never, ctx, { id: req.id, actor: req.actor, session });
    const target = JSON.stringify(req.args);
    try {
      const r = await h(req.args as never, ctx, { id: req.id, actor: req.actor, session });
      await ctx.store.audit.record({ actor: req.actor, action: req.command, target, outcome: 'ok' });
      return r;
    } catch (err) {
      await ctx.store.audit.record({ actor: req.actor, action: req.command, target, outcome: 'error', detail: { error: err instanceof Error ? err.message : String(err) } });
      throw err;
    }
  };
}
