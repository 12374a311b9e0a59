// Tests for the typed engine event bus.
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../ike/io.ts';
import { createEventBus } from './events.ts';

const up: EngineEvent = { type: 'ike.down', ikeId: 'a', conn: 'rw', reason: 'deleted' };
const log: EngineEvent = { type: 'log', level: 'info', msg: 'hello' };

describe('createEventBus', () => {
  it('delivers by type and to any-listeners, in subscription order', () => {
    const bus = createEventBus();
    const seen: string[] = [];
    bus.on('ike.down', (e) => seen.push(`down:${e.reason}`));
    bus.on('log', (e) => seen.push(`log:${e.msg}`));
    bus.onAny((e) => seen.push(`any:${e.type}`));
    bus.emit(up);
    bus.emit(log);
    expect(seen).toEqual(['down:deleted', 'any:ike.down', 'log:hello', 'any:log']);
  });

  it('unsubscribes', () => {
    const bus = createEventBus();
    let n = 0;
    const off = bus.on('ike.down', () => n++);
    const offAny = bus.onAny(() => n++);
    expect(bus.listenerCount()).toBe(2);
    off();
    offAny();
    bus.emit(up);
    expect(n).toBe(0);
    expect(bus.listenerCount()).toBe(0);
  });

  it('a throwing listener is reported and does not stop the others', () => {
    const errors: string[] = [];
    const bus = createEventBus((err, e) => errors.push(`${e.type}: ${(err as Error).message}`));
    let reached = false;
    bus.on('ike.down', () => {
      throw new Error('broken consumer');
    });
    bus.onAny(() => (reached = true));
    bus.emit(up);
    expect(reached).toBe(true);
    expect(errors).toEqual(['ike.down: broken consumer']);
  });
});
