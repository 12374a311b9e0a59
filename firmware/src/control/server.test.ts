// Tests for the control socket: permissions, stale sockets, framing, bad input (never a crash), ordering, slow subscribers.
import { spawnSync } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { lstatSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../runtime/logger.ts';
import { ControlClient, ControlRequestError } from './client.ts';
import { ControlError } from './errors.ts';
import { startControlServer, type ControlServer, type ControlSession, type RequestHandler } from './server.ts';

const BUN = join(resolve(__dirname, '..', '..', '..'), 'node_modules', '.bin', 'bun');
const dir = mkdtempSync(join(tmpdir(), 'outpost-ctlsrv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const servers: ControlServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await s.close();
});
let n = 0;
const logLines: string[] = [];
const logger = createLogger({ level: 'debug', format: 'json', write: (l) => logLines.push(l) });

const sessions: ControlSession[] = [];
const handler: RequestHandler = async (req, session) => {
  switch (req.command) {
    case 'list-conns':
      return { conns: [] };
    case 'history':
      await Bun.sleep(req.args.limit ?? 0); // answers must still come back in request order
      return { limit: req.args.limit };
    case 'rekey':
      throw new ControlError('not-found', `no IKE SA ${req.args.ikeId}`, { field: 'args.ikeId' });
    case 'terminate':
      throw new Error('boom');
    case 'subscribe':
      sessions.push(session);
      return { subscribed: [] };
    default:
      return {};
  }
};

async function start(extra: Partial<Parameters<typeof startControlServer>[0]> = {}) {
  const path = join(dir, `s${n++}`, 'control.sock');
  const server = await startControlServer({ path, handle: handler, logger, ...extra });
  servers.push(server);
  return server;
}

/** A raw line-oriented connection, to send what a well-behaved client never would. */
async function raw(path: string) {
  const s = createConnection({ path });
  sockets.push(s);
  await new Promise((r) => s.once('connect', r));
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  s.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i !== -1; i = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
    }
  });
  const next = async (count: number) => {
    const end = Date.now() + 3000;
    while (lines.length < count) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${count} lines, have ${JSON.stringify(lines)}`);
      await Bun.sleep(5);
    }
    return lines.slice(0, count);
  };
  return { s, lines, next };
}

describe('control socket', () => {
  it('is created 0600 in a directory it makes, and removed on close', async () => {
    const server = await start();
    expect(statSync(server.path).mode & 0o777).toBe(0o600);
    expect(lstatSync(server.path).isSocket()).toBe(true);
    await server.close();
    expect(() => lstatSync(server.path)).toThrow(/ENOENT/);
  });

  it('replaces a stale socket, but refuses one in use and a path that is not a socket', async () => {
    // A socket file nobody listens on, as a killed gateway leaves it.
    const path = join(dir, 'stale.sock');
    const script = `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
    expect(spawnSync(BUN, ['-e', script], { timeout: 10_000 }).signal).toBe('SIGKILL');
    expect(lstatSync(path).isSocket()).toBe(true);
    const server = await startControlServer({ path, handle: handler, logger });
    servers.push(server);
    const client = await ControlClient.connect(path);
    expect(await client.request('list-conns', {})).toEqual({ conns: [] });
    client.close();
    await expect(startControlServer({ path, handle: handler, logger })).rejects.toThrow(/in use by another running gateway/);
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'not a socket');
    await expect(startControlServer({ path: file, handle: handler, logger })).rejects.toThrow(/exists and is not a socket/);
  });

  it('answers malformed JSON, unknown commands, bad fields and handler failures with errors, and keeps serving', async () => {
    const server = await start();
    const c = await raw(server.path);
    c.s.write('{"id": 1, "command": \n');
    c.s.write('"just a string"\n');
    c.s.write('{"id": 2, "command": "frobnicate"}\n');
    c.s.write('{"id": 3, "command": "initiate", "args": {"conn": 5}}\n');
    c.s.write('{"id": 4, "command": "rekey", "args": {"ikeId": "abc"}}\n');
    c.s.write('{"id": 5, "command": "terminate", "args": {"ikeId": "abc"}}\n');
    c.s.write('\n   \n{"id": 6, "command": "list-conns"}\n');
    const [a, b, d, e, f, g, h] = await c.next(7);
    expect(a).toMatchObject({ id: null, ok: false, error: { code: 'bad-json' } });
    expect(b).toMatchObject({ id: null, ok: false, error: { code: 'bad-request', field: 'request' } });
    expect(d).toMatchObject({ id: 2, ok: false, error: { code: 'unknown-command', field: 'command' } });
    expect(e).toMatchObject({ id: 3, ok: false, error: { code: 'bad-request', field: 'args.conn' } });
    expect(f).toEqual({ id: 4, ok: false, error: { code: 'not-found', message: 'no IKE SA abc', field: 'args.ikeId' } });
    expect(g).toEqual({ id: 5, ok: false, error: { code: 'internal', message: 'boom' } });
    expect(h).toEqual({ id: 6, ok: true, result: { conns: [] } });
    expect(server.stats()).toMatchObject({ clients: 1, requests: 7, errors: 6 });
    expect(logLines.some((l) => l.includes('control command terminate failed'))).toBe(true);
  });

  it('refuses an oversized request (in one chunk or many) without buffering it, and the connection stays usable', async () => {
    const server = await start({ maxRequestBytes: 1000 });
    const c = await raw(server.path);
    c.s.write(`{"id": 1, "command": "list-conns", "args": {"x": "${'a'.repeat(5000)}"}}\n{"id": 2, "command": "list-conns"}\n`);
    await c.next(2);
    // Now without a newline for a while: the error comes before the line ends.
    for (let i = 0; i < 10; i++) c.s.write('b'.repeat(400));
    await c.next(3);
    c.s.write('still the same line"}\n{"id": 3, "command": "list-conns"}\n');
    const lines = await c.next(4);
    expect(lines.map((l) => [l.id, l.ok, (l.error as { code?: string } | undefined)?.code])).toEqual([
      [null, false, 'too-large'],
      [2, true, undefined],
      [null, false, 'too-large'],
      [3, true, undefined],
    ]);
  });

  it('answers pipelined requests in order, however long each takes', async () => {
    const server = await start();
    const c = await raw(server.path);
    c.s.write(['{"id":1,"command":"history","args":{"limit":40}}', '{"id":2,"command":"history","args":{"limit":1}}', '{"id":3,"command":"list-conns"}', ''].join('\n'));
    expect((await c.next(3)).map((l) => l.id)).toEqual([1, 2, 3]);
  });

  it('serves the typed client, whose errors carry the body', async () => {
    const server = await start();
    const client = await ControlClient.connect(server.path, { actor: 'tester' });
    expect(await client.request('list-conns', {})).toEqual({ conns: [] });
    const err = await client.request('rekey', { ikeId: 'zz' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControlRequestError);
    expect((err as ControlRequestError).body).toEqual({ code: 'not-found', message: 'no IKE SA zz', field: 'args.ikeId' });
    client.close();
    await expect(ControlClient.connect(join(dir, 'nothing-here.sock'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('disconnects a subscriber that stops reading instead of buffering without bound', async () => {
    const server = await start({ maxBufferedBytes: 64 * 1024 });
    const c = await raw(server.path);
    c.s.write('{"id":9,"command":"subscribe"}\n');
    await c.next(1);
    c.s.pause();
    const session = sessions.at(-1) as ControlSession;
    const event = { type: 'log', level: 'info', msg: 'x'.repeat(1000) };
    let sent = 0;
    while (session.send({ id: 9, event }) && sent < 100_000) sent++;
    expect(sent).toBeLessThan(100_000);
    await Bun.sleep(20);
    expect(session.closed).toBe(true);
    expect(logLines.some((l) => l.includes('not reading its output'))).toBe(true);
    // The server itself carries on.
    const d = await raw(server.path);
    d.s.write('{"id":1,"command":"list-conns"}\n');
    expect((await d.next(1))[0]).toMatchObject({ id: 1, ok: true });
  });
});
