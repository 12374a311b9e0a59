// Min-heap of (deadline, item) with lazy invalidation: the engine's timer queue over IKE SAs (RFC 7296 §2.4 timers).
// An entry is live only while `current(item)` still equals its deadline; superseded entries are dropped when they
// surface, so changing an item's deadline is one push and no search.

export class WakeQueue<T> {
  private at: number[] = [];
  private items: T[] = [];

  constructor(
    /** The deadline the item is currently filed under (NaN/undefined when not filed). */
    private readonly current: (item: T) => number | undefined,
    private readonly alive: (item: T) => boolean,
  ) {}

  get length(): number {
    return this.at.length;
  }

  push(atMs: number, item: T): void {
    const at = this.at;
    const items = this.items;
    let i = at.length;
    at.push(atMs);
    items.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (at[p]! <= atMs) break;
      at[i] = at[p]!;
      items[i] = items[p]!;
      i = p;
    }
    at[i] = atMs;
    items[i] = item;
  }

  /** The earliest live entry, dropping superseded ones on the way; undefined when empty. */
  peek(): { atMs: number; item: T } | undefined {
    while (this.at.length > 0) {
      const item = this.items[0]!;
      const atMs = this.at[0]!;
      if (this.alive(item) && this.current(item) === atMs) return { atMs, item };
      this.pop();
    }
    return undefined;
  }

  /** Removes the head entry. */
  pop(): void {
    const at = this.at;
    const items = this.items;
    const lastAt = at.pop()!;
    const lastItem = items.pop()!;
    const n = at.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && at[r]! < at[l]! ? r : l;
      if (at[c]! >= lastAt) break;
      at[i] = at[c]!;
      items[i] = items[c]!;
      i = c;
    }
    at[i] = lastAt;
    items[i] = lastItem;
  }

  /** Rebuild from live entries only, when superseded ones pile up (e.g. DPD deadlines moving with every message). */
  compact(): void {
    const entries: [number, T][] = [];
    for (let i = 0; i < this.at.length; i++) {
      const item = this.items[i]!;
      if (this.alive(item) && this.current(item) === this.at[i]) entries.push([this.at[i]!, item]);
    }
    this.at = [];
    this.items = [];
    const seen = new Set<T>();
    for (const [a, item] of entries) {
      if (seen.has(item)) continue;
      seen.add(item);
      this.push(a, item);
    }
  }
}
