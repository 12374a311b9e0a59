// Virtual IP pools (RFC 7296 §2.19): ranges, identity-sticky leases, reuse order.
import { describe, expect, test } from 'vitest';
import { createPools } from './pool.ts';
import { formatIp } from './ip.ts';

function pool(cidr: string) {
  const { pools, errors } = createPools([{ name: 'p', cidr, dns: ['198.51.100.53', '2001:db8::53'], domains: [] }]);
  expect(errors).toEqual([]);
  return pools.get('p')!;
}

describe('address pools', () => {
  test('IPv4 skips network and broadcast; /32 has exactly one address', () => {
    const p = pool('203.0.113.0/30');
    expect(formatIp(p.acquire('a')!)).toBe('203.0.113.1');
    expect(formatIp(p.acquire('b')!)).toBe('203.0.113.2');
    expect(p.acquire('c')).toBeNull();
    const one = pool('203.0.113.9/32');
    expect(formatIp(one.acquire('a')!)).toBe('203.0.113.9');
    expect(one.acquire('b')).toBeNull();
    expect(p.dns.map(formatIp)).toEqual(['198.51.100.53']);
  });

  test('IPv6 pools hand out hosts after the subnet-router anycast address', () => {
    const p = pool('2001:db8:1::/120');
    expect(p.v6).toBe(true);
    expect(formatIp(p.acquire('a')!)).toBe('2001:db8:1::1');
    expect(p.dns.map(formatIp)).toEqual(['2001:db8::53']);
  });

  test('an identity keeps its address across release, and concurrent SAs of it share the address', () => {
    const p = pool('203.0.113.0/29');
    const a1 = formatIp(p.acquire('alice')!);
    const a2 = formatIp(p.acquire('alice')!);
    expect(a2).toBe(a1);
    p.release('alice');
    expect(p.online()).toEqual([{ owner: 'alice', addr: a1 }]);
    p.release('alice');
    expect(p.online()).toEqual([]);
    expect(formatIp(p.acquire('bob')!)).toBe('203.0.113.2');
    expect(formatIp(p.acquire('alice')!)).toBe(a1);
  });

  test('when no fresh address is left, the oldest offline lease is reclaimed, never an online one', () => {
    const p = pool('203.0.113.0/30');
    p.acquire('a');
    p.acquire('b');
    p.release('b');
    p.release('a');
    expect(formatIp(p.acquire('c')!)).toBe('203.0.113.2'); // b went offline first
    expect(formatIp(p.acquire('a')!)).toBe('203.0.113.1'); // a still remembered
    expect(p.acquire('b')).toBeNull();
  });

  test('a bad CIDR is reported', () => {
    expect(createPools([{ name: 'x', cidr: '10.0.0.0/99', dns: [], domains: [] }]).errors).toEqual(['pool x: bad cidr 10.0.0.0/99']);
  });
});
