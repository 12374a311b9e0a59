// Tests for config address syntax: IPv4/IPv6 parsing, canonical CIDRs (RFC 5952 text), selector checks.
import { describe, expect, it } from 'vitest';
import { bigIntToIp, checkTrafficSelector, cidrRange, ipToBigInt, isDomainName, parseCidr } from './net.ts';

describe('ipToBigInt / bigIntToIp', () => {
  it.each([
    ['192.0.2.1', 4, 0xc0000201n, '192.0.2.1'],
    ['2001:db8::1', 6, 0x20010db8000000000000000000000001n, '2001:db8::1'],
    ['::', 6, 0n, '::'],
    ['::ffff:192.0.2.1', 6, 0xffffc0000201n, '::ffff:c000:201'],
    ['2001:DB8:0:0:1:0:0:1', 6, 0x20010db8000000000001000000000001n, '2001:db8::1:0:0:1'], // first of equal zero runs
    ['2001:db8:0:1:1:1:1:1', 6, 0x20010db8000000010001000100010001n, '2001:db8:0:1:1:1:1:1'], // a single 0 stays
  ] as const)('%s', (text, family, value, canonical) => {
    expect(ipToBigInt(text)).toEqual({ family, value });
    expect(bigIntToIp(family, value)).toBe(canonical);
  });

  it('rejects non-addresses and scoped IPv6', () => {
    for (const s of ['192.0.2.256', 'vpn.example', 'fe80::1%eth0', '1:2:3:4:5:6:7:8:9', '']) expect(ipToBigInt(s)).toBeNull();
  });
});

describe('parseCidr', () => {
  it('canonicalises and gives the range', () => {
    const r = parseCidr('2001:DB8::/32');
    expect(r.ok && r.value.text).toBe('2001:db8::/32');
    if (r.ok) expect(cidrRange(r.value)).toEqual({ first: 0x20010db8n << 96n, last: (0x20010db8n << 96n) + (1n << 96n) - 1n });
  });
  it('refuses host bits, bad prefixes, extra parts', () => {
    expect(parseCidr('2001:db8::1/64')).toEqual({ ok: false, error: '"2001:db8::1/64" has host bits set; did you mean 2001:db8::/64?' });
    expect(parseCidr('10.0.0.0/x').ok).toBe(false);
    expect(parseCidr('10.0.0.0/8/8').ok).toBe(false);
  });
});

describe('checkTrafficSelector', () => {
  it.each(['dynamic', '198.51.100.0/24', '198.51.100.7', '198.51.100.10-198.51.100.20', '0.0.0.0/0[udp/1000-2000]', '::/0/tcp/443', 'dynamic[tcp/22]'])('accepts %s', (s) =>
    expect(checkTrafficSelector(s)).toEqual({ ok: true, value: s }),
  );
  it.each([
    ['10.0.0.1/8', /host bits/],
    ['10.0.0.0/8/tcp/70000', /port/],
    ['10.0.0.0/8/bogus', /protocol/],
    ['example.com/24', /address|prefix/],
  ])('refuses %s', (s, why) => {
    const r = checkTrafficSelector(s);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(why);
  });
});

describe('isDomainName', () => {
  it('accepts host names and refuses garbage', () => {
    expect(['corp.example', 'a-b.example.', 'localdomain'].every(isDomainName)).toBe(true);
    expect(['-bad.example', 'a..b', 'sp ace.example', ''].some(isDomainName)).toBe(false);
  });
});
