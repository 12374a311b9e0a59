// Traffic selector parsing and narrowing (RFC 7296 §2.9).
import { describe, expect, test } from 'vitest';
import { allWithin, anyTs, hostTs, intersectTs, narrowTs, parseTsSpec, resolveTs, tsToString } from './ts.ts';
import { parseIp } from './ip.ts';

const ts = (s: string) => {
  const p = parseTsSpec(s);
  if (!p.ok || p.value.dynamic) throw new Error(s);
  return p.value.ts;
};

describe('traffic selectors', () => {
  test('config strings', () => {
    expect(tsToString(ts('198.51.100.0/24'))).toBe('198.51.100.0/24');
    expect(tsToString(ts('0.0.0.0/0'))).toBe('0.0.0.0/0');
    expect(tsToString(ts('::/0'))).toBe('::/0');
    expect(tsToString(ts('10.0.0.1'))).toBe('10.0.0.1/32');
    expect(tsToString(ts('10.0.0.1-10.0.0.9'))).toBe('10.0.0.1-10.0.0.9');
    expect(tsToString(ts('10.0.0.0/8/tcp/443'))).toBe('10.0.0.0/8[6/443]');
    expect(tsToString(ts('10.0.0.0/8[udp/1000-2000]'))).toBe('10.0.0.0/8[17/1000-2000]');
    expect(parseTsSpec('dynamic')).toEqual({ ok: true, value: { dynamic: true, ipProtocol: 0, startPort: 0, endPort: 65535 } });
    for (const bad of ['10.0.0.0/40', '10.0.0.9-10.0.0.1', 'x/24', '10.0.0.0/8/bogus', '10.0.0.0/8/tcp/70000']) expect(parseTsSpec(bad).ok).toBe(false);
  });

  test('dynamic resolves to the given addresses', () => {
    const out = resolveTs(['dynamic', '198.51.100.0/24'], [parseIp('203.0.113.7')!]);
    expect(out.map(tsToString)).toEqual(['203.0.113.7/32', '198.51.100.0/24']);
    expect(resolveTs(['dynamic'], [])).toEqual([]);
  });

  test('narrowing intersects ranges, protocols and ports, per family', () => {
    expect(narrowTs([anyTs(false)], [ts('198.51.100.0/24')]).map(tsToString)).toEqual(['198.51.100.0/24']);
    expect(narrowTs([ts('198.51.100.128/25')], [ts('198.51.100.0/24')]).map(tsToString)).toEqual(['198.51.100.128/25']);
    expect(narrowTs([anyTs(false), anyTs(true)], [ts('2001:db8::/64')]).map(tsToString)).toEqual(['2001:db8::/64']);
    expect(narrowTs([ts('10.0.0.0/8')], [ts('198.51.100.0/24')])).toEqual([]);
    expect(tsToString(intersectTs(ts('10.0.0.0/8/tcp'), ts('10.1.0.0/16/0/80'))!)).toBe('10.1.0.0/16[6/80]');
    expect(intersectTs(ts('10.0.0.0/8/tcp'), ts('10.0.0.0/8/udp'))).toBeNull();
    expect(intersectTs(ts('10.0.0.0/8/tcp/80'), ts('10.0.0.0/8/tcp/443'))).toBeNull();
  });

  test('the initiator accepts only subsets of what it proposed', () => {
    const proposed = [anyTs(false)];
    expect(allWithin([hostTs(parseIp('203.0.113.1')!)], proposed)).toBe(true);
    expect(allWithin([ts('2001:db8::/64')], proposed)).toBe(false);
    expect(allWithin([], proposed)).toBe(false);
    expect(allWithin([ts('10.0.0.0/8')], [ts('10.0.0.0/8/tcp')])).toBe(false);
    expect(allWithin([ts('10.0.0.0/8/tcp/80')], [ts('10.0.0.0/8')])).toBe(true);
  });
});
