// Typed event bus between the engine's output and its listeners: logs, status file, later store/telemetry/web UI (ARCHITECTURE.md §7).
import type { EngineEvent } from '../ike/io.ts';

export type EngineEventType = EngineEvent['type'];
export type EventOf<T extends EngineEventType> = Extract<EngineEvent, { type: T }>;
type AnyListener = (e: EngineEvent) => void;

export interface EventBus {
  /** Listen to one event type; returns the unsubscribe function. */
  on<T extends EngineEventType>(type: T, listener: (e: EventOf<T>) => void): () => void;
  /** Listen to every event. */
  onAny(listener: AnyListener): () => void;
  emit(e: EngineEvent): void;
  listenerCount(): number;
}

/**
 * Listeners run synchronously in subscription order; one that throws is reported to `onListenerError` and
 * the others still run, since a broken consumer (say, telemetry) must not stop the status file or the log.
 */
export function createEventBus(onListenerError: (err: unknown, e: EngineEvent) => void = () => {}): EventBus {
  const byType = new Map<EngineEventType, Set<AnyListener>>();
  const any = new Set<AnyListener>();
  const call = (l: AnyListener, e: EngineEvent): void => {
    try {
      l(e);
    } catch (err) {
      onListenerError(err, e);
    }
  };
  return {
    on(type, listener) {
      let set = byType.get(type);
      if (!set) byType.set(type, (set = new Set()));
      const l = listener as AnyListener;
      set.add(l);
      return () => void set.delete(l);
    },
    onAny(listener) {
      any.add(listener);
      return () => void any.delete(listener);
    },
    emit(e) {
      for (const l of [...(byType.get(e.type) ?? [])]) call(l, e);
      for (const l of [...any]) call(l, e);
    },
    listenerCount() {
      let n = any.size;
      for (const s of byType.values()) n += s.size;
      return n;
    },
  };
}
