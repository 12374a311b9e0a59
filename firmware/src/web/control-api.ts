// The web UI's view of the control API (docs/control-api.md): typed commands and the event stream, in process or over the socket.
import type { AuditEvent } from '../store/event-logs.ts';
import type { Store } from '../store/store.ts';
import type { ControlClient } from '../control/client.ts';
import { ControlError } from '../control/errors.ts';
import { createRequestHandler, type ControlContext } from '../control/handlers.ts';
import { parseRequest, type CommandArgs, type CommandName, type CommandResults, type StreamEvent } from '../control/protocol.ts';
import type { ControlSession } from '../control/server.ts';

export interface WebControlApi {
  /** `actor` is written to the audit log (`NAME@web`). Fails with a ControlError (code, message, field). */
  request<C extends CommandName>(command: C, args: CommandArgs<C>, actor: string): Promise<CommandResults[C]>;
  /** The control API's `subscribe`; returns the unsubscribe function. */
  subscribe(onEvent: (e: StreamEvent) => void): Promise<() => void>;
  /** Recent audit records, newest first (the store's audit log; the control API has no command for it yet). */
  audit(limit: number): Promise<AuditEvent[]>;
  /** Records what the web UI itself does (logins, lockouts, account changes). */
  recordAudit(e: { actor: string; action: string; target?: string | null; outcome: 'ok' | 'error'; detail?: Record<string, unknown> | null }): Promise<void>;
}

/** The same request handler the control socket serves, called in process (the gateway that runs the web UI). */
export function inProcessControlApi(ctx: Omit<ControlContext, 'subscribers'>): WebControlApi {
  const full: ControlContext = { ...ctx };
  const handle = createRequestHandler(full);
  let nextId = 1;
  const call = async (command: string, args: unknown, actor: string, session: ControlSession): Promise<unknown> => {
    // Checked like a socket request: unknown fields and bad types are refused the same way.
    const parsed = parseRequest({ id: nextId++, command, args, actor });
    if (!parsed.ok) throw new ControlError(parsed.error.code, parsed.error.message, parsed.error.field ? { field: parsed.error.field } : {});
    return handle(parsed.request, session);
  };
  const oneShot: ControlSession = { id: 0, send: () => false, onClose: () => {}, closed: false };
  return {
    request: (command, args, actor) => call(command, args, actor, oneShot) as Promise<never>,
    async subscribe(onEvent) {
      const closers: (() => void)[] = [];
      let closed = false;
      const session: ControlSession = {
        id: 0,
        send(message) {
          if (closed) return false;
          const ev = (message as { event?: StreamEvent }).event;
          if (ev) onEvent(ev);
          return true;
        },
        onClose(fn) {
          if (closed) fn();
          else closers.push(fn);
        },
        get closed() {
          return closed;
        },
      };
      await call('subscribe', {}, 'web', session);
      return () => {
        if (closed) return;
        closed = true;
        for (const fn of closers.splice(0)) fn();
      };
    },
    audit: async (limit) => (ctx.store ? ctx.store.audit.list(limit) : []),
    async recordAudit(e) {
      await ctx.store?.audit.record(e);
    },
  };
}

/** Over the control socket (a web UI in its own process); audit records then come from the store handle given. */
export function socketControlApi(connect: (actor: string) => Promise<ControlClient>, store?: Store): WebControlApi {
  return {
    async request(command, args, actor) {
      const c = await connect(actor);
      try {
        return await c.request(command, args);
      } finally {
        c.close();
      }
    },
    async subscribe(onEvent) {
      const c = await connect('web');
      await c.request('subscribe', {}, { onEvent });
      return () => c.close();
    },
    audit: async (limit) => (store ? store.audit.list(limit) : []),
    async recordAudit(e) {
      await store?.audit.record(e);
    },
  };
}
