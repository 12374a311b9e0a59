// The engine's single wake-up timer: armed at Output.wakeAtMs, fires engine.tick (ARCHITECTURE.md §1: time is injected).

/** setTimeout's limit (2^31-1 ms ≈ 24.8 days); longer waits re-arm on the way. */
const MAX_DELAY_MS = 0x7fffffff;

export interface WakeTimer {
  /** Ensure a wake-up no later than `atMs` (absolute, same clock as `now`); an earlier pending one is kept. */
  arm(atMs: number | undefined): void;
  /** The pending wake-up time, if any. */
  readonly armedAtMs: number | undefined;
  stop(): void;
}

export interface WakeTimerOptions {
  onWake: (nowMs: number) => void;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

/**
 * An early extra tick is harmless (the engine just reports its next deadline) while a missed one stalls
 * retransmissions, so the timer keeps the earliest requested time and lets the tick's own Output re-arm it.
 */
export function createWakeTimer(opts: WakeTimerOptions): WakeTimer {
  const now = opts.now ?? Date.now;
  const setTimer = opts.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms));
  const clearTimer = opts.clearTimer ?? ((h: unknown) => clearTimeout(h as ReturnType<typeof setTimeout>));
  let handle: unknown;
  let armedAt: number | undefined;
  let stopped = false;

  const schedule = (atMs: number): void => {
    if (handle !== undefined) clearTimer(handle);
    armedAt = atMs;
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, atMs - now()));
    handle = setTimer(fire, delay);
  };

  const fire = (): void => {
    handle = undefined;
    const at = armedAt;
    if (at === undefined || stopped) return;
    const t = now();
    if (t < at) {
      // Woke early (long delay split by MAX_DELAY_MS, or clock granularity): wait for the rest.
      schedule(at);
      return;
    }
    armedAt = undefined;
    opts.onWake(t);
  };

  return {
    arm(atMs) {
      if (stopped || atMs === undefined || !Number.isFinite(atMs)) return;
      if (armedAt !== undefined && armedAt <= atMs) return;
      schedule(atMs);
    },
    get armedAtMs() {
      return armedAt;
    },
    stop() {
      stopped = true;
      if (handle !== undefined) clearTimer(handle);
      handle = undefined;
      armedAt = undefined;
    },
  };
}
