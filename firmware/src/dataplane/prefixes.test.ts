// Selector ranges as CIDR prefixes (RFC 4632) for the userspace backend's routes.
import { describe, expect, test } from 'vitest';
import { parsePrefix, prefixCovers, prefixKey, rangeToPrefixes } from './prefixes.ts';

const keys = (a: string, b: string) => rangeToPrefixes(a, b).map(prefixKey);

describe('rangeToPrefixes', () => {
  test('aligned ranges are one prefix', () => {
    expect(keys('203.0.113.7', '203.0.113.7')).toEqual(['203.0.113.7/32']);
    expect(keys('198.51.100.0', '198.51.100.255')).toEqual(['198.51.100.0/24']);
    expect(keys('0.0.0.0', '255.255.255.255')).toEqual(['0.0.0.0/0']);
    expect(keys('::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toEqual(['::/0']);
    expect(keys('2001:db8::', '2001:db8::ffff:ffff:ffff:ffff')).toEqual(['2001:db8::/64']);
  });

  test('unaligned ranges split into the fewest blocks, covering exactly the range', () => {
    expect(keys('10.0.0.1', '10.0.0.6')).toEqual(['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6/32']);
    expect(keys('10.0.0.0', '10.0.2.255')).toEqual(['10.0.0.0/23', '10.0.2.0/24']);
    expect(keys('2001:db8::1', '2001:db8::2')).toEqual(['2001:db8::1/128', '2001:db8::2/128']);
  });

  test('malformed ranges give nothing', () => {
    expect(keys('10.0.0.9', '10.0.0.1')).toEqual([]);
    expect(keys('10.0.0.1', '2001:db8::1')).toEqual([]);
    expect(keys('nope', '10.0.0.1')).toEqual([]);
  });
});

describe('prefixes', () => {
  test('parse and cover', () => {
    const pool = parsePrefix('203.0.113.0/24')!;
    expect(pool).toEqual({ family: 4, addr: '203.0.113.0', len: 24 });
    expect(parsePrefix('203.0.113.1/24')).toBeNull(); // host bits set
    expect(prefixCovers(pool, parsePrefix('203.0.113.128/25')!)).toBe(true);
    expect(prefixCovers(pool, parsePrefix('203.0.112.0/23')!)).toBe(false);
    expect(prefixCovers(pool, parsePrefix('2001:db8::/64')!)).toBe(false);
  });
});
