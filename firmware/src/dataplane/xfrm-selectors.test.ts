// Traffic-selector ranges (RFC 7296 §3.13.1) to XFRM prefix/mask selectors and back: exact covers, ICMP, priorities.
import { describe, expect, test } from 'vitest';
import type { PolicyParams, TsRange } from './types.ts';
import { kernelPolicyKey, policyPriority, policySelectors, portRangeToMasks, rangeToPrefixes, selectorToRanges } from './xfrm-selectors.ts';

const ANY: Pick<TsRange, 'ipProtocol' | 'startPort' | 'endPort'> = { ipProtocol: 0, startPort: 0, endPort: 65535 };
const ts = (startAddr: string, endAddr: string, over: Partial<TsRange> = {}): TsRange => ({ startAddr, endAddr, ...ANY, ...over });
const pol = (direction: PolicyParams['direction'], localTs: TsRange, remoteTs: TsRange): PolicyParams => ({ childId: 'c', direction, localTs, remoteTs, outerSrc: '192.0.2.1', outerDst: '192.0.2.2' });

describe('rangeToPrefixes', () => {
  test.each([
    ['192.0.2.0', '192.0.2.255', [['192.0.2.0', 24]]],
    ['192.0.2.7', '192.0.2.7', [['192.0.2.7', 32]]],
    ['0.0.0.0', '255.255.255.255', [['0.0.0.0', 0]]],
    ['192.0.2.0', '192.0.2.130', [['192.0.2.0', 25], ['192.0.2.128', 31], ['192.0.2.130', 32]]],
    ['192.0.2.1', '192.0.2.6', [['192.0.2.1', 32], ['192.0.2.2', 31], ['192.0.2.4', 31], ['192.0.2.6', 32]]],
    ['2001:db8::', '2001:db8::ffff:ffff:ffff:ffff', [['2001:db8::', 64]]],
    ['::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', [['::', 0]]],
  ] as const)('%s-%s', (s, e, want) => {
    expect(rangeToPrefixes(s, e)).toEqual({ ok: true, value: want.map(([addr, plen]) => ({ addr, plen })) });
  });

  test('refuses empty, mixed-family and malformed ranges', () => {
    expect(rangeToPrefixes('192.0.2.9', '192.0.2.1').ok).toBe(false);
    expect(rangeToPrefixes('192.0.2.1', '2001:db8::1').ok).toBe(false);
    expect(rangeToPrefixes('192.0.2.300', '192.0.2.1').ok).toBe(false);
  });
});

describe('portRangeToMasks', () => {
  /** Brute force: the blocks match exactly the ports of the range. */
  function covered(blocks: { port: number; mask: number }[]): [number, number] | 'gappy' {
    let lo = -1;
    let hi = -1;
    for (let p = 0; p < 65536; p++) {
      const hit = blocks.some((b) => (p & b.mask) === b.port);
      if (hit && lo < 0) lo = p;
      if (hit) {
        if (hi >= 0 && hi !== p - 1) return 'gappy';
        hi = p;
      }
    }
    return [lo, hi];
  }

  test('a single port is one exact match; the full range is mask 0', () => {
    expect(portRangeToMasks(443, 443)).toEqual([{ port: 443, mask: 0xffff }]);
    expect(portRangeToMasks(0, 65535)).toEqual([{ port: 0, mask: 0 }]);
    expect(portRangeToMasks(1024, 65535)).toEqual([
      { port: 1024, mask: 0xfc00 }, { port: 2048, mask: 0xf800 }, { port: 4096, mask: 0xf000 },
      { port: 8192, mask: 0xe000 }, { port: 16384, mask: 0xc000 }, { port: 32768, mask: 0x8000 },
    ]);
  });

  test.each([[10, 20], [1, 65534], [5000, 5000], [0, 1023], [49152, 65535], [7, 8]])('%i-%i is covered exactly', (s, e) => {
    expect(covered(portRangeToMasks(s, e))).toEqual([s, e]);
  });
});

describe('policySelectors', () => {
  test('out: local is the source; in/fwd: remote is the source', () => {
    const l = ts('198.51.100.0', '198.51.100.255');
    const r = ts('203.0.113.0', '203.0.113.255');
    const sel = { proto: 0, sport: 0, sportMask: 0, dport: 0, dportMask: 0 };
    expect(policySelectors(pol('out', l, r))).toEqual({ ok: true, value: [{ src: '198.51.100.0', srcPlen: 24, dst: '203.0.113.0', dstPlen: 24, ...sel }] });
    for (const d of ['in', 'fwd'] as const) {
      expect(policySelectors(pol(d, l, r))).toEqual({ ok: true, value: [{ src: '203.0.113.0', srcPlen: 24, dst: '198.51.100.0', dstPlen: 24, ...sel }] });
    }
  });

  test('TCP to port 443 from any port; one side without protocol takes the other side\'s', () => {
    const r = policySelectors(pol('out', ts('198.51.100.0', '198.51.100.255'), ts('203.0.113.9', '203.0.113.9', { ipProtocol: 6, startPort: 443, endPort: 443 })));
    expect(r).toEqual({ ok: true, value: [{ src: '198.51.100.0', srcPlen: 24, dst: '203.0.113.9', dstPlen: 32, proto: 6, sport: 0, sportMask: 0, dport: 443, dportMask: 0xffff }] });
  });

  test('a range that is not one prefix becomes the exact set of kernel entries (cross product)', () => {
    const r = policySelectors(pol('out', ts('192.0.2.0', '192.0.2.130'), ts('203.0.113.0', '203.0.113.255', { ipProtocol: 17, startPort: 10, endPort: 11 })));
    expect(r.ok && r.value.map((s) => `${s.src}/${s.srcPlen} ${s.dport}/${s.dportMask}`)).toEqual(['192.0.2.0/25 10/65534', '192.0.2.128/31 10/65534', '192.0.2.130/32 10/65534']);
  });

  test('ICMP: type in sport, code in dport (RFC 7296 §3.13.1 encoding: type high octet, code low)', () => {
    const echo = ts('203.0.113.0', '203.0.113.255', { ipProtocol: 1, startPort: 0x0800, endPort: 0x0800 });
    const r = policySelectors(pol('in', ts('198.51.100.0', '198.51.100.255', { ipProtocol: 1 }), echo));
    expect(r.ok && r.value[0]).toMatchObject({ proto: 1, sport: 8, sportMask: 0xffff, dport: 0, dportMask: 0xffff });
    const anyCode = policySelectors(pol('out', ts('198.51.100.0', '198.51.100.255', { ipProtocol: 58, startPort: 0x8000, endPort: 0x80ff }), ts('2001:db8::', '2001:db8::ffff', { ipProtocol: 58 })));
    expect(anyCode.ok).toBe(false); // families differ
    const v6 = policySelectors(pol('out', ts('2001:db8:1::', '2001:db8:1::ffff', { ipProtocol: 58, startPort: 0x8000, endPort: 0x80ff }), ts('2001:db8::', '2001:db8::ffff', { ipProtocol: 58 })));
    expect(v6.ok && v6.value[0]).toMatchObject({ proto: 58, sport: 128, sportMask: 0xffff, dport: 0, dportMask: 0 });
    const types = policySelectors(pol('out', ts('198.51.100.1', '198.51.100.1', { ipProtocol: 1, startPort: 0x0000, endPort: 0x03ff }), ts('203.0.113.1', '203.0.113.1', { ipProtocol: 1 })));
    expect(types.ok && types.value.map((s) => [s.sport, s.sportMask, s.dportMask])).toEqual([[0, 0xfffc, 0]]);
  });

  test.each([
    ['protocols that differ', pol('out', ts('198.51.100.0', '198.51.100.255', { ipProtocol: 6 }), ts('203.0.113.0', '203.0.113.255', { ipProtocol: 17 })), /match nothing/],
    ['ports without a protocol', pol('out', ts('198.51.100.0', '198.51.100.255', { startPort: 80, endPort: 80 }), ts('203.0.113.0', '203.0.113.255')), /need a protocol/],
    ['ICMP types with partial codes', pol('out', ts('198.51.100.0', '198.51.100.255', { ipProtocol: 1, startPort: 0x0801, endPort: 0x0a00 }), ts('203.0.113.0', '203.0.113.255', { ipProtocol: 1 })), /partial codes/],
    ['too many kernel entries', pol('out', ts('192.0.2.1', '192.0.2.254'), ts('203.0.113.1', '203.0.113.254')), /limit 64/],
  ])('refuses %s', (_, p, why) => {
    const r = policySelectors(p);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(why);
  });
});

describe('selectorToRanges (kernel ACQUIRE selectors back to TS ranges)', () => {
  test('prefixes and port masks become ranges', () => {
    expect(selectorToRanges({ family: 4, src: '198.51.100.0', srcPlen: 24, dst: '203.0.113.5', dstPlen: 32, proto: 6, sport: 1024, sportMask: 0xfc00, dport: 443, dportMask: 0xffff })).toEqual({
      src: { startAddr: '198.51.100.0', endAddr: '198.51.100.255', ipProtocol: 6, startPort: 1024, endPort: 2047 },
      dst: { startAddr: '203.0.113.5', endAddr: '203.0.113.5', ipProtocol: 6, startPort: 443, endPort: 443 },
    });
  });

  test('ICMP echo request goes back to the RFC 7296 encoding on the source side', () => {
    expect(selectorToRanges({ family: 6, src: '2001:db8::1', srcPlen: 128, dst: '2001:db8::', dstPlen: 32, proto: 58, sport: 128, sportMask: 0xffff, dport: 0, dportMask: 0xffff })).toEqual({
      src: { startAddr: '2001:db8::1', endAddr: '2001:db8::1', ipProtocol: 58, startPort: 0x8000, endPort: 0x8000 },
      dst: { startAddr: '2001:db8::', endAddr: '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', ipProtocol: 58, startPort: 0, endPort: 65535 },
    });
  });

  test('round trip: policySelectors(selectorToRanges(s)) gives s back for aligned selectors', () => {
    const s = { family: 4 as const, src: '198.51.100.64', srcPlen: 26, dst: '203.0.113.0', dstPlen: 24, proto: 17, sport: 53, sportMask: 0xffff, dport: 0, dportMask: 0 };
    const r = selectorToRanges(s);
    const back = policySelectors(pol('out', r.src, r.dst));
    expect(back).toEqual({ ok: true, value: [{ src: s.src, srcPlen: 26, dst: s.dst, dstPlen: 24, proto: 17, sport: 53, sportMask: 0xffff, dport: 0, dportMask: 0 }] });
  });
});

describe('policyPriority and keys', () => {
  const base = { src: '0.0.0.0', dst: '0.0.0.0', proto: 0, sport: 0, sportMask: 0, dport: 0, dportMask: 0 };
  test('narrower selectors, then ports, then a protocol win (lower number)', () => {
    const wide = policyPriority({ ...base, srcPlen: 16, dstPlen: 16 }, 100_000);
    const narrow = policyPriority({ ...base, srcPlen: 24, dstPlen: 24 }, 100_000);
    const proto = policyPriority({ ...base, srcPlen: 24, dstPlen: 24, proto: 6 }, 100_000);
    const ports = policyPriority({ ...base, srcPlen: 24, dstPlen: 24, proto: 6, dport: 443, dportMask: 0xffff }, 100_000);
    expect(narrow).toBeLessThan(wide);
    expect(proto).toBeLessThan(narrow);
    expect(ports).toBeLessThan(proto);
  });

  test('the kernel key ignores nothing that makes the kernel entry distinct', () => {
    const s = { ...base, srcPlen: 24, dstPlen: 24 };
    expect(kernelPolicyKey('out', s)).not.toBe(kernelPolicyKey('in', s));
    expect(kernelPolicyKey('out', s)).not.toBe(kernelPolicyKey('out', { ...s, dport: 1, dportMask: 0xffff }));
    expect(kernelPolicyKey('out', s)).toBe(kernelPolicyKey('out', { ...s }));
  });
});
