// Tests for the engine wake-up timer, on a fake clock.
import { describe, expect, it } from 'vitest';
import { createWakeTimer } from './timers.ts';

function fakeClock() {
  let now = 1000;
  const timers: { at: number; fn: () => void; id: number }[] = [];
  let nextId = 1;
  return {
    now: () => now,
    setTimer: (fn: () => void, ms: number) => {
      const t = { at: now + ms, fn, id: nextId++ };
      timers.push(t);
      return t.id;
    },
    clearTimer: (id: unknown) => {
      const i = timers.findIndex((t) => t.id === id);
      if (i >= 0) timers.splice(i, 1);
    },
    /** Advance to `to`, firing due timers in order. */
    advance(to: number) {
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const t = timers[0];
        if (!t || t.at > to) break;
        timers.shift();
        now = t.at;
        t.fn();
      }
      now = to;
    },
    pending: () => timers.length,
  };
}

describe('createWakeTimer', () => {
  it('fires once at the armed time with the current time', () => {
    const clock = fakeClock();
    const wakes: number[] = [];
    const t = createWakeTimer({ onWake: (n) => wakes.push(n), ...clock });
    t.arm(1500);
    clock.advance(1499);
    expect(wakes).toEqual([]);
    clock.advance(2000);
    expect(wakes).toEqual([1500]);
    expect(t.armedAtMs).toBeUndefined();
  });

  it('keeps the earliest of several requests; a later one does not postpone it', () => {
    const clock = fakeClock();
    const wakes: number[] = [];
    const t = createWakeTimer({ onWake: (n) => wakes.push(n), ...clock });
    t.arm(3000);
    t.arm(2000);
    t.arm(5000);
    expect(t.armedAtMs).toBe(2000);
    expect(clock.pending()).toBe(1);
    clock.advance(10_000);
    expect(wakes).toEqual([2000]);
  });

  it('fires immediately for a time in the past, ignores undefined and non-finite times', () => {
    const clock = fakeClock();
    const wakes: number[] = [];
    const t = createWakeTimer({ onWake: (n) => wakes.push(n), ...clock });
    t.arm(undefined);
    t.arm(Infinity);
    expect(clock.pending()).toBe(0);
    t.arm(10);
    clock.advance(1000);
    expect(wakes).toEqual([1000]);
  });

  it('the wake handler can re-arm (the tick output carries the next deadline)', () => {
    const clock = fakeClock();
    const wakes: number[] = [];
    const t = createWakeTimer({ onWake: (n) => (wakes.push(n), wakes.length < 3 && t.arm(n + 100)), ...clock });
    t.arm(1100);
    clock.advance(5000);
    expect(wakes).toEqual([1100, 1200, 1300]);
  });

  it('splits waits longer than setTimeout allows', () => {
    const clock = fakeClock();
    const wakes: number[] = [];
    const t = createWakeTimer({ onWake: (n) => wakes.push(n), ...clock });
    const far = 1000 + 40 * 86_400_000; // 40 days
    t.arm(far);
    clock.advance(1000 + 0x7fffffff);
    expect(wakes).toEqual([]);
    clock.advance(far);
    expect(wakes).toEqual([far]);
  });

  it('stop cancels and disarms for good', () => {
    const clock = fakeClock();
    const wakes: number[] = [];
    const t = createWakeTimer({ onWake: (n) => wakes.push(n), ...clock });
    t.arm(1100);
    t.stop();
    t.arm(1200);
    clock.advance(5000);
    expect(wakes).toEqual([]);
    expect(clock.pending()).toBe(0);
  });
});
