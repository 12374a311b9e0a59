// Address text ↔ octets (RFC 4291 §2.2, RFC 5952) and CIDR blocks.
import { describe, expect, test } from 'vitest';
import { formatIp, parseCidr, parseIp } from './ip.ts';

describe('ip', () => {
  test('IPv4 and IPv6 parse and format canonically', () => {
    expect(Array.from(parseIp('192.0.2.1')!)).toEqual([192, 0, 2, 1]);
    expect(formatIp(parseIp('2001:DB8:0:0:0:0:0:1')!)).toBe('2001:db8::1');
    expect(formatIp(parseIp('::')!)).toBe('::');
    expect(formatIp(parseIp('::ffff:192.0.2.1')!)).toBe('::ffff:c000:201');
    expect(formatIp(parseIp('2001:db8:0:1:0:0:0:1')!)).toBe('2001:db8:0:1::1');
    expect(formatIp(parseIp('2001:0:0:1:0:0:0:1')!)).toBe('2001:0:0:1::1');
    expect(formatIp(parseIp('2001:0:0:1:1:0:0:1')!)).toBe('2001::1:1:0:0:1');
  });

  test('malformed addresses are null', () => {
    for (const bad of ['', '1.2.3', '1.2.3.256', '1.2.3.4.5', 'a.b.c.d', '1::2::3', '12345::', ':::', '1:2:3:4:5:6:7:8:9', 'gw.example']) {
      expect(parseIp(bad)).toBeNull();
    }
  });

  test('CIDR blocks give first and last address', () => {
    const v4 = parseCidr('198.51.100.77/24')!;
    expect(formatIp(v4.start)).toBe('198.51.100.0');
    expect(formatIp(v4.end)).toBe('198.51.100.255');
    const v6 = parseCidr('2001:db8::/126')!;
    expect(formatIp(v6.end)).toBe('2001:db8::3');
    expect(parseCidr('10.0.0.0/33')).toBeNull();
    expect(formatIp(parseCidr('10.1.2.3')!.end)).toBe('10.1.2.3');
  });
});
