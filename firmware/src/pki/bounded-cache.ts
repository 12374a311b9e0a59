// A size-bounded map with least-recently-used eviction and content keys, for the PKI caches (docs/benchmarks.md).
import { createHash } from 'node:crypto';

/** Map order is insertion order: a hit re-inserts, so the first key is always the least recently used. */
export class BoundedCache<V> {
  private readonly map = new Map<string, V>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.capacity) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.map.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }
}

/** A content key: SHA-256 over each part, length-framed so that no two different part lists collide by concatenation. */
export function contentKey(...parts: readonly (Uint8Array | number)[]): string {
  const h = createHash('sha256');
  const len = Buffer.alloc(4);
  for (const p of parts) {
    if (typeof p === 'number') {
      len.writeUInt32BE(p >>> 0);
      h.update(Uint8Array.of(0x6e)).update(len);
      continue;
    }
    len.writeUInt32BE(p.byteLength);
    h.update(Uint8Array.of(0x62)).update(len).update(p);
  }
  return h.digest('base64');
}
