// Tests for the PKI caches' bounded LRU map and content keys.
import { describe, expect, test } from 'vitest';
import { BoundedCache, contentKey } from './bounded-cache.ts';

describe('BoundedCache', () => {
  test('holds at most `capacity` entries and evicts the least recently used', () => {
    const c = new BoundedCache<number>(3);
    c.set('a', 1);
    c.set('b', 2);
    c.set('c', 3);
    expect(c.get('a')).toBe(1); // a is now the most recently used
    c.set('d', 4);
    expect(c.size).toBe(3);
    expect(c.get('b')).toBeUndefined();
    expect([c.get('a'), c.get('c'), c.get('d')]).toEqual([1, 3, 4]);
    c.set('c', 30); // overwriting refreshes too
    c.set('e', 5);
    expect(c.get('a')).toBeUndefined();
    expect(c.get('c')).toBe(30);
    c.delete('c');
    expect(c.get('c')).toBeUndefined();
    c.clear();
    expect(c.size).toBe(0);
  });

  test('null values are cached (a malformed input is not parsed twice)', () => {
    const c = new BoundedCache<string | null>(2);
    c.set('x', null);
    expect(c.get('x')).toBeNull();
  });
});

describe('contentKey', () => {
  const b = (s: string) => new TextEncoder().encode(s);
  test('is a function of the content only', () => {
    expect(contentKey(b('abc'), 7)).toBe(contentKey(new Uint8Array([0x61, 0x62, 0x63]), 7));
  });
  test('frames its parts: no two different part lists collide by concatenation or by type', () => {
    const keys = [
      contentKey(b('ab'), b('c')),
      contentKey(b('a'), b('bc')),
      contentKey(b('abc')),
      contentKey(b('abc'), b('')),
      contentKey(1, b('abc')),
      contentKey(b('\x00\x00\x00\x01abc')),
      contentKey(),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });
});
