// The control socket: a unix socket (0600) speaking newline-delimited JSON requests and responses (docs/control-api.md).
/*
 * Per connection, lines are answered one at a time in arrival order. Bad input never closes the server: a line
 * that is not JSON, not a request, or longer than maxRequestBytes gets an error response (an over-long line is
 * skipped up to its newline, so the connection stays usable). A subscriber that stops reading is disconnected
 * once maxBufferedBytes of output are waiting, so it cannot make the gateway buffer without bound.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../runtime/logger.ts';
import { ControlError } from './errors.ts';
import { MAX_REQUEST_BYTES, parseRequest, type ErrorBody, type ParsedRequest, type RequestId } from './protocol.ts';

export interface ControlSession {
  readonly id: number;
  /** Writes one JSON line; false when the client went away (or was dropped for not reading). */
  send(message: unknown): boolean;
  onClose(fn: () => void): void;
  readonly closed: boolean;
}

export type RequestHandler = (req: ParsedRequest, session: ControlSession) => Promise<unknown>;

export interface ControlServerOptions {
  path: string;
  handle: RequestHandler;
  logger: Logger;
  maxRequestBytes?: number;
  maxBufferedBytes?: number;
}

export interface ControlServerStats {
  clients: number;
  requests: number;
  errors: number;
}

export interface ControlServer {
  readonly path: string;
  stats(): ControlServerStats;
  close(): Promise<void>;
}

/** Is something listening on `path`? (A socket file left by a crashed process is not.) */
function inUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ path });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

async function prepareSocketPath(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  if (await inUse(path)) throw new Error(`${path} is in use by another running gateway`);
  unlinkSync(path);
}

export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const maxRequest = opts.maxRequestBytes ?? MAX_REQUEST_BYTES;
  const maxBuffered = opts.maxBufferedBytes ?? 4 * 1024 * 1024;
  const { logger } = opts;
  const counters = { requests: 0, errors: 0 };
  const sockets = new Set<Socket>();
  let nextId = 1;

  await prepareSocketPath(opts.path);

  const serve = (socket: Socket): void => {
    sockets.add(socket);
    const closers: (() => void)[] = [];
    let closed = false;
    const session: ControlSession = {
      id: nextId++,
      send(message) {
        if (closed || socket.destroyed) return false;
        if (socket.writableLength > maxBuffered) {
          logger.warn('control client is not reading its output; disconnecting it', { session: session.id });
          socket.destroy();
          return false;
        }
        socket.write(`${JSON.stringify(message)}\n`);
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
    const finish = (): void => {
      if (closed) return;
      closed = true;
      sockets.delete(socket);
      for (const fn of closers.splice(0)) {
        try {
          fn();
        } catch {
          // a subscriber's cleanup must not take the server down
        }
      }
    };
    socket.on('close', finish);
    socket.on('error', () => socket.destroy());

    const fail = (id: RequestId, error: ErrorBody): void => {
      counters.errors++;
      session.send({ id, ok: false, error });
    };
    const answer = async (line: string): Promise<void> => {
      counters.requests++;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch (err) {
        fail(null, { code: 'bad-json', message: `not JSON: ${err instanceof Error ? err.message : String(err)}` });
        return;
      }
      const parsed = parseRequest(json);
      if (!parsed.ok) {
        fail(parsed.id, parsed.error);
        return;
      }
      const req = parsed.request;
      try {
        const result = await opts.handle(req, session);
        session.send({ id: req.id, ok: true, result });
      } catch (err) {
        if (err instanceof ControlError) fail(req.id, err.toBody());
        else {
          logger.error(`control command ${req.command} failed`, { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
          fail(req.id, { code: 'internal', message: err instanceof Error ? err.message : String(err) });
        }
      }
    };

    let queue: Promise<void> = Promise.resolve();
    let pending: Buffer[] = [];
    let pendingLen = 0;
    let skipping = false;
    socket.on('data', (chunk: Buffer) => {
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
        const piece = chunk.subarray(start, nl);
        start = nl + 1;
        if (skipping) {
          skipping = false;
          continue;
        }
        if (pendingLen + piece.length > maxRequest) {
          pending = [];
          pendingLen = 0;
          queue = queue.then(() => fail(null, { code: 'too-large', message: `request longer than ${maxRequest} bytes` }));
          continue;
        }
        const line = Buffer.concat([...pending, piece]).toString('utf8').trim();
        pending = [];
        pendingLen = 0;
        if (line.length > 0) queue = queue.then(() => answer(line));
      }
      const rest = chunk.subarray(start);
      if (skipping || rest.length === 0) return;
      if (pendingLen + rest.length > maxRequest) {
        // Answer now and drop the rest of the line as it arrives, rather than buffering it.
        pending = [];
        pendingLen = 0;
        skipping = true;
        queue = queue.then(() => fail(null, { code: 'too-large', message: `request longer than ${maxRequest} bytes` }));
        return;
      }
      pending.push(Buffer.from(rest));
      pendingLen += rest.length;
    });
  };

  const server: Server = createServer(serve);
  // The socket file must never exist with looser permissions, not even between listen() and chmod().
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  chmodSync(opts.path, 0o600);
  server.on('error', (err) => logger.error('control socket error', { error: err.message }));

  let closing: Promise<void> | undefined;
  return {
    path: opts.path,
    stats: () => ({ clients: sockets.size, ...counters }),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }).then(() => {
        try {
          unlinkSync(opts.path);
        } catch {
          // already gone
        }
      });
      return closing;
    },
  };
}
