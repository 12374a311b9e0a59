// Tests for the control API's request checking: every field error names the field; nothing unknown slips through.
import { describe, expect, it } from 'vitest';
import { COMMAND_NAMES, parseRequest } from './protocol.ts';
import { array, int, object, oneOf, optional, string } from './schema.ts';

const bad = (v: unknown) => {
  const r = parseRequest(v);
  if (r.ok) throw new Error('expected an error');
  return { id: r.id, ...r.error };
};

describe('parseRequest', () => {
  it('accepts a request and fills defaults', () => {
    expect(parseRequest({ id: 7, command: 'list-sas' })).toEqual({ ok: true, request: { id: 7, command: 'list-sas', args: {}, actor: 'ctl' } });
    expect(parseRequest({ id: 'a', command: 'initiate', args: { conn: 'site', waitMs: 0 }, actor: 'alice@example' })).toEqual({
      ok: true,
      request: { id: 'a', command: 'initiate', args: { conn: 'site', waitMs: 0 }, actor: 'alice@example' },
    });
    expect(parseRequest({ command: 'subscribe', args: { types: ['ike.up', 'config.applied'] } })).toMatchObject({ ok: true, request: { id: null } });
  });

  it('names the field of every error and echoes the id when it can', () => {
    expect(bad([1, 2])).toMatchObject({ id: null, code: 'bad-request', field: 'request', message: 'request: must be a JSON object' });
    expect(bad({ id: 1 })).toMatchObject({ id: 1, field: 'command', message: 'command: is required' });
    expect(bad({ id: 1, command: 'list-sas', extra: 1 })).toMatchObject({ field: 'extra', message: 'extra: unknown field (expected id, command, args, actor)' });
    expect(bad({ id: { x: 1 }, command: 'stats' })).toMatchObject({ id: null, field: 'id' });
    expect(bad({ id: 2, command: 'frobnicate' })).toMatchObject({ id: 2, code: 'unknown-command', field: 'command' });
    expect(bad({ id: 2, command: 'frobnicate' }).message).toContain('list-sas, list-conns');
    expect(bad({ id: 3, command: 'toString' })).toMatchObject({ code: 'unknown-command' });
    expect(bad({ id: 3, command: 'initiate', args: {} })).toMatchObject({ field: 'args.conn', message: expect.stringMatching(/^args\.conn: is required \(a name/) });
    expect(bad({ command: 'initiate', args: { conn: 'x; rm -rf /' } })).toMatchObject({ field: 'args.conn', message: expect.stringMatching(/must be a name/) });
    expect(bad({ command: 'initiate', args: { conn: 'x', waitMs: -1 } })).toMatchObject({ field: 'args.waitMs', message: 'args.waitMs: must be an integer from 0 to 120000' });
    expect(bad({ command: 'initiate', args: { conn: 'x', wait: 1 } })).toMatchObject({ field: 'args.wait', message: expect.stringMatching(/unknown field \(expected conn, child, waitMs\)/) });
    expect(bad({ command: 'stats', args: { x: 1 } })).toMatchObject({ field: 'args.x', message: 'args.x: unknown field (this command takes no arguments)' });
    expect(bad({ command: 'stats', args: [] })).toMatchObject({ field: 'args', message: 'args: must be an object (got an array)' });
    expect(bad({ command: 'drain', args: { on: 'yes' } })).toMatchObject({ field: 'args.on', message: 'args.on: must be true or false' });
    expect(bad({ command: 'subscribe', args: { types: ['ike.up', 'nope'] } })).toMatchObject({ field: 'args.types[1]', message: expect.stringMatching(/must be one of "log", "ike.up"/) });
    expect(bad({ command: 'load-config', args: { yaml: 'x', source: 'mars' } })).toMatchObject({ field: 'args.source' });
    expect(bad({ command: 'load-config', args: { yaml: 'x'.repeat(600_000) } })).toMatchObject({ field: 'args.yaml', message: expect.stringMatching(/got 600000 characters/) });
    expect(bad({ command: 'stats', actor: 'evil\nname' })).toMatchObject({ field: 'actor' });
  });

  it('every command has a schema that accepts its minimal arguments', () => {
    const minimal: Record<string, unknown> = { initiate: { conn: 'a' }, rekey: { ikeId: 'a' }, 'load-config': { yaml: 'a' }, drain: { on: false } };
    for (const c of COMMAND_NAMES) expect(parseRequest({ command: c, args: minimal[c] ?? {} }).ok, c).toBe(true);
  });
});

describe('schema', () => {
  it('checks nested objects and lists with paths', () => {
    const s = object({ a: array(object({ b: int({ min: 1, max: 3 }), c: optional(oneOf(['x', 'y'])) })), d: optional(string({ max: 2 })) });
    expect(s.check({ a: [{ b: 1 }, { b: 2, c: 'y' }] }, 'args')).toEqual({ ok: true, value: { a: [{ b: 1 }, { b: 2, c: 'y' }] } });
    expect(s.check({ a: [{ b: 1 }, { b: 4 }] }, 'args')).toEqual({ ok: false, field: 'args.a[1].b', message: 'must be an integer from 1 to 3' });
    expect(s.check({ a: [], d: 'abc' }, 'args')).toEqual({ ok: false, field: 'args.d', message: 'must be a string of at most 2 characters (got 3 characters)' });
    expect(s.check({ a: 'no' }, 'args')).toEqual({ ok: false, field: 'args.a', message: 'must be a list (got a string)' });
    expect(s.check({ a: [{ b: 1.5 }] }, 'args')).toMatchObject({ ok: false, field: 'args.a[0].b' });
  });
});
