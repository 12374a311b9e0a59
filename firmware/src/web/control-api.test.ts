// Tests for the web UI's in-process control API: requests are checked like socket requests, subscriptions follow the event bus.
import { describe, expect, it } from 'vitest';
import { ControlError } from '../control/errors.ts';
import { createStreamBus } from '../control/supervisor.ts';
import type { StreamEvent } from '../control/protocol.ts';
import { createLogger } from '../runtime/logger.ts';
import { openStore } from '../store/store.ts';
import { inProcessControlApi } from './control-api.ts';

const SA = { ikeId: '1', conn: 'rw', state: 'established', children: [] };

function fakeSupervisor() {
  const events = createStreamBus();
  return { events, supervisor: { events, ready: async () => ({ engine: { listSas: () => [SA] } }), config: { connections: [] } } as never };
}

const logger = createLogger({ level: 'error', format: 'json', write: () => {} });

describe('inProcessControlApi', () => {
  it('answers commands through the control handlers', async () => {
    const { supervisor } = fakeSupervisor();
    const api = inProcessControlApi({ supervisor, logger });
    expect((await api.request('list-sas', {}, 'admin@web')).sas).toEqual([SA]);
    expect((await api.request('list-sas', { conn: 'other' }, 'admin@web')).sas).toEqual([]);
  });

  it('refuses what the control socket refuses: bad actors, unknown fields, and store commands without a store', async () => {
    const { supervisor } = fakeSupervisor();
    const api = inProcessControlApi({ supervisor, logger });
    await expect(api.request('list-sas', {}, 'web:admin')).rejects.toMatchObject({ code: 'bad-request', extra: { field: 'actor' } });
    await expect(api.request('list-sas', { bogus: 1 } as never, 'admin@web')).rejects.toBeInstanceOf(ControlError);
    await expect(api.request('history', {}, 'admin@web')).rejects.toMatchObject({ code: 'unavailable' });
    expect(await api.audit(10)).toEqual([]);
  });

  it('streams events until unsubscribed, and records web audit events in the store', async () => {
    const { supervisor, events } = fakeSupervisor();
    const store = await openStore({ path: ':memory:' });
    try {
      const api = inProcessControlApi({ supervisor, logger, store });
      const got: StreamEvent[] = [];
      const off = await api.subscribe((e) => got.push(e));
      expect(events.listeners).toBe(1);
      events.emit({ type: 'drain', draining: true, redirectTo: null });
      off();
      events.emit({ type: 'drain', draining: false, redirectTo: null });
      expect(got).toEqual([{ type: 'drain', draining: true, redirectTo: null }]);
      expect(events.listeners).toBe(0);
      await api.recordAudit({ actor: 'admin@web', action: 'web.login', target: '127.0.0.1', outcome: 'ok' });
      expect((await api.audit(10))[0]).toMatchObject({ actor: 'admin@web', action: 'web.login', outcome: 'ok' });
    } finally {
      await store.close();
    }
  });
});
