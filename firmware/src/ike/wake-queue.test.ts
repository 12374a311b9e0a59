// The engine's timer queue: min-heap order, lazy invalidation of superseded deadlines, compaction.
import { describe, expect, test } from 'vitest';
import { WakeQueue } from './wake-queue.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';

interface Item { at: number; alive: boolean; name: string }

function queue(): WakeQueue<Item> {
  return new WakeQueue<Item>((i) => i.at, (i) => i.alive);
}

function file(q: WakeQueue<Item>, item: Item, at: number): void {
  item.at = at;
  q.push(at, item);
}

describe('WakeQueue', () => {
  test('peek returns the earliest live deadline; pop moves to the next', () => {
    const q = queue();
    const items = [30, 10, 20, 10, 5].map((at, i) => ({ at, alive: true, name: `i${i}` }));
    for (const it of items) q.push(it.at, it);
    const order: string[] = [];
    for (let top = q.peek(); top; top = q.peek()) {
      order.push(`${top.item.name}@${top.atMs}`);
      q.pop();
    }
    expect(order.slice(0, 1)).toEqual(['i4@5']);
    expect(order.map((o) => Number(o.split('@')[1]))).toEqual([5, 10, 10, 20, 30]);
  });

  test('a moved deadline supersedes the old entry; dead items are skipped', () => {
    const q = queue();
    const a = { at: NaN, alive: true, name: 'a' };
    const b = { at: NaN, alive: true, name: 'b' };
    file(q, a, 10);
    file(q, b, 20);
    file(q, a, 30); // a moved later: its entry at 10 is stale
    expect(q.peek()).toEqual({ atMs: 20, item: b });
    b.alive = false;
    expect(q.peek()).toEqual({ atMs: 30, item: a });
    a.at = 40; // not refiled: nothing live remains
    expect(q.peek()).toBeUndefined();
    expect(q.length).toBe(0);
  });

  test('compact keeps exactly the live entries, once each', () => {
    const q = queue();
    const items = Array.from({ length: 50 }, (_, i) => ({ at: NaN, alive: true, name: `i${i}` }));
    for (let round = 0; round < 5; round++) for (const [i, it] of items.entries()) file(q, it, 1000 - i * 7 + round);
    items[3]!.alive = false;
    expect(q.length).toBe(250);
    q.compact();
    expect(q.length).toBe(49);
    const seen: number[] = [];
    for (let top = q.peek(); top; top = q.peek()) {
      seen.push(top.atMs);
      q.pop();
    }
    expect(seen).toEqual([...seen].sort((x, y) => x - y));
    expect(seen).toHaveLength(49);
  });

  test('agrees with a sort over random pushes', () => {
    const rnd = seededRandom('wake');
    const q = queue();
    const ats: number[] = [];
    for (let i = 0; i < 500; i++) {
      const at = rnd(2)[0]! * 256 + rnd(1)[0]!;
      ats.push(at);
      q.push(at, { at, alive: true, name: String(i) });
    }
    const out: number[] = [];
    for (let top = q.peek(); top; top = q.peek()) {
      out.push(top.atMs);
      q.pop();
    }
    expect(out).toEqual(ats.sort((x, y) => x - y));
  });
});
