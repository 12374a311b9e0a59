// A client for the control socket (outpost ctl, tests, later the web UI and the cloud agent): typed requests, event streams.
import { createConnection, type Socket } from 'node:net';
import type { CommandArgs, CommandName, CommandResults, ErrorBody, StreamEvent } from './protocol.ts';

export class ControlRequestError extends Error {
  constructor(readonly body: ErrorBody) {
    super(body.message);
    this.name = 'ControlRequestError';
  }
}

interface Waiter {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export class ControlClient {
  private nextId = 1;
  private readonly waiters = new Map<number, Waiter>();
  private readonly streams = new Map<number, (e: StreamEvent) => void>();
  private buf = '';
  private closedErr: Error | undefined;
  private readonly closeListeners: ((err?: Error) => void)[] = [];

  private constructor(
    private readonly socket: Socket,
    private readonly actor: string | undefined,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.onData(d));
    const end = (err?: Error) => this.onClosed(err ?? new Error('the control socket closed the connection'));
    socket.on('error', end);
    socket.on('close', () => end());
  }

  static connect(path: string, opts: { timeoutMs?: number; actor?: string } = {}): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`timed out connecting to ${path}`));
      }, opts.timeoutMs ?? 5000);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new ControlClient(socket, opts.actor));
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** `timeoutMs`: give up waiting for the answer (the gateway may still carry the command out). */
  request<C extends CommandName>(command: C, args: CommandArgs<C>, opts: { onEvent?: (e: StreamEvent) => void; timeoutMs?: number } = {}): Promise<CommandResults[C]> {
    if (this.closedErr) return Promise.reject(this.closedErr);
    const id = this.nextId++;
    if (opts.onEvent) this.streams.set(id, opts.onEvent);
    return new Promise<CommandResults[C]>((resolve, reject) => {
      const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
        this.waiters.delete(id);
        reject(new Error(`no answer to ${command} within ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
      const done = <T>(fn: (v: T) => void) => (v: T) => {
        if (timer) clearTimeout(timer);
        fn(v);
      };
      this.waiters.set(id, { resolve: done(resolve as (v: unknown) => void), reject: done(reject) });
      this.socket.write(`${JSON.stringify({ id, command, args, ...(this.actor ? { actor: this.actor } : {}) })}\n`);
    });
  }

  /** Resolves when the server closes the connection (or it fails). */
  onClose(fn: (err?: Error) => void): void {
    if (this.closedErr) fn(this.closedErr);
    else this.closeListeners.push(fn);
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }

  private onData(d: string): void {
    this.buf += d;
    for (let nl = this.buf.indexOf('\n'); nl !== -1; nl = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (!line.trim()) continue;
      let msg: { id?: unknown; ok?: boolean; result?: unknown; error?: ErrorBody; event?: StreamEvent };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        continue;
      }
      const id = typeof msg.id === 'number' ? msg.id : -1;
      if (msg.event !== undefined) {
        this.streams.get(id)?.(msg.event);
        continue;
      }
      const w = this.waiters.get(id);
      if (!w) continue;
      this.waiters.delete(id);
      if (msg.ok) w.resolve(msg.result);
      else {
        this.streams.delete(id);
        w.reject(new ControlRequestError(msg.error ?? { code: 'internal', message: 'malformed response' }));
      }
    }
  }

  private onClosed(err: Error): void {
    if (this.closedErr) return;
    this.closedErr = err;
    for (const w of this.waiters.values()) w.reject(err);
    this.waiters.clear();
    for (const fn of this.closeListeners.splice(0)) fn(err);
  }
}
