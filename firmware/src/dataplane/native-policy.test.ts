// Native tunnel-mode inbound policy (RFC 4301 §5.2, selectors per RFC 4301 §4.4.1.1 / RFC 7296 §3.13.1), checked after decryption.
import { afterEach, describe, expect, test } from 'vitest';
import { randomBytes } from 'node:crypto';
import { EncrId, IntegId } from '../ike/constants.ts';
import { createNodeEspPrimitives } from '../esp/node-primitives.ts';
import { encodeEsp, ivFromSeq, type EspSaKeys } from '../esp/packet.ts';
import { loadNativeAddon, type NativeSaParams } from './native-addon.ts';
import type { TsRange } from './types.ts';

const addon = loadNativeAddon();
const prims = createNodeEspPrimitives();
const EACCES = -13;
const EPROTONOSUPPORT = -93;
const EINVAL = -22;
const E2BIG = -7;

let nextSpi = 0x50000 + (randomBytes(2).readUInt16BE(0) << 8);
const added: number[] = [];
afterEach(() => {
  for (const spi of added.splice(0)) addon.saDel(spi, 'in');
});

const any4: TsRange = { startAddr: '0.0.0.0', endAddr: '255.255.255.255', ipProtocol: 0, startPort: 0, endPort: 65535 };

function inbound(localTs: TsRange[], remoteTs: TsRange[]): { send(inner: Uint8Array, nh?: number): ReturnType<typeof addon.decrypt>; spi: number } {
  const spi = nextSpi++;
  const keys: EspSaKeys = { spi, encrId: EncrId.AES_GCM_16, encrKeyBits: 128, encKey: new Uint8Array(randomBytes(20)), integId: IntegId.NONE, integKey: new Uint8Array(0), esn: false };
  const p: NativeSaParams = { spi, direction: 'in', encrId: keys.encrId, encrKeyBits: 128, encKey: keys.encKey, integId: IntegId.NONE, esn: false, replayWindow: 64, localTs, remoteTs };
  expect(addon.saAdd(p)).toBe(0);
  added.push(spi);
  let seq = 0n;
  return {
    spi,
    send(inner, nh) {
      seq++;
      const version = inner[0]! >> 4;
      return addon.decrypt(encodeEsp(keys, prims, { seq, iv: ivFromSeq(seq), payload: inner, nextHeader: nh ?? (version === 6 ? 41 : 4) }), true);
    },
  };
}

/** IPv4 header + 8 octets of L4 (ports or ICMP type/code); fragOffset in 8-octet units. */
function v4(src: string, dst: string, proto: number, l4: number[], fragOffset = 0): Uint8Array {
  const p = new Uint8Array(28);
  p.set([0x45, 0, 0, 28, 0, 0, (fragOffset >> 8) & 0x1f, fragOffset & 0xff, 64, proto]);
  p.set(src.split('.').map(Number), 12);
  p.set(dst.split('.').map(Number), 16);
  p.set(l4, 20);
  return p;
}

function v6(src: string, dst: string, nextHeader: number, l4: number[]): Uint8Array {
  const p = new Uint8Array(48);
  p.set([0x60, 0, 0, 0, 0, 8, nextHeader, 64]);
  const words = (a: string) => {
    const [head, tail] = a.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const all = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    return all.flatMap((w) => [parseInt(w, 16) >> 8, parseInt(w, 16) & 0xff]);
  };
  p.set(words(src), 8);
  p.set(words(dst), 24);
  p.set(l4, 40);
  return p;
}

const ok = (r: ReturnType<typeof addon.decrypt>) => typeof r === 'object';

describe('inbound selectors', () => {
  test('addresses: source in remoteTs, destination in localTs', () => {
    const sa = inbound([{ ...any4, startAddr: '198.51.100.0', endAddr: '198.51.100.255' }], [{ ...any4, startAddr: '203.0.113.5', endAddr: '203.0.113.9' }]);
    expect(ok(sa.send(v4('203.0.113.5', '198.51.100.7', 6, [0, 80, 1, 187])))).toBe(true);
    expect(ok(sa.send(v4('203.0.113.9', '198.51.100.255', 17, [0, 53, 0, 53])))).toBe(true);
    expect(sa.send(v4('203.0.113.10', '198.51.100.7', 6, [0, 80, 1, 187]))).toBe(EACCES); // spoofed source
    expect(sa.send(v4('203.0.113.5', '192.0.2.1', 6, [0, 80, 1, 187]))).toBe(EACCES); // not our side
    const q = addon.saQuery(sa.spi, 'in');
    expect(typeof q !== 'number' && [q.policyDrops, q.packets]).toEqual([2n, 2n]);
  });

  test('protocol and ports; ICMP type/code in the port fields', () => {
    const sa = inbound(
      [any4],
      [
        { ...any4, ipProtocol: 17, startPort: 53, endPort: 53 },
        { ...any4, ipProtocol: 1, startPort: 0x0800, endPort: 0x08ff }, // ICMP echo request, any code
      ],
    );
    expect(ok(sa.send(v4('192.0.2.9', '198.51.100.1', 17, [0, 53, 0x9c, 0x40])))).toBe(true);
    expect(sa.send(v4('192.0.2.9', '198.51.100.1', 17, [0, 54, 0x9c, 0x40]))).toBe(EACCES);
    expect(sa.send(v4('192.0.2.9', '198.51.100.1', 6, [0, 53, 0x9c, 0x40]))).toBe(EACCES);
    expect(ok(sa.send(v4('192.0.2.9', '198.51.100.1', 1, [8, 0, 0, 0])))).toBe(true);
    expect(sa.send(v4('192.0.2.9', '198.51.100.1', 1, [0, 0, 0, 0]))).toBe(EACCES); // echo reply
  });

  test('non-first fragments carry no ports: only full-range or OPAQUE selectors take them', () => {
    const udp53 = inbound([any4], [{ ...any4, ipProtocol: 17, startPort: 53, endPort: 53 }]);
    expect(udp53.send(v4('192.0.2.9', '198.51.100.1', 17, [0, 53, 0, 53], 185))).toBe(EACCES);
    const anyUdp = inbound([any4], [{ ...any4, ipProtocol: 17 }]);
    expect(ok(anyUdp.send(v4('192.0.2.9', '198.51.100.1', 17, [1, 2, 3, 4], 185)))).toBe(true);
    const opaque = inbound([any4], [{ ...any4, ipProtocol: 17, startPort: 65535, endPort: 0 }]);
    expect(ok(opaque.send(v4('192.0.2.9', '198.51.100.1', 17, [1, 2, 3, 4], 185)))).toBe(true);
    expect(opaque.send(v4('192.0.2.9', '198.51.100.1', 17, [0, 53, 0, 53]))).toBe(EACCES);
  });

  test('IPv6 selectors and packets', () => {
    const sa = inbound([{ startAddr: '2001:db8:1::', endAddr: '2001:db8:1::ffff', ipProtocol: 0, startPort: 0, endPort: 65535 }], [{ startAddr: '2001:db8:2::1', endAddr: '2001:db8:2::1', ipProtocol: 58, startPort: 0x8000, endPort: 0x80ff }]);
    expect(ok(sa.send(v6('2001:db8:2::1', '2001:db8:1::5', 58, [0x80, 0, 0, 0])))).toBe(true);
    expect(sa.send(v6('2001:db8:2::2', '2001:db8:1::5', 58, [0x80, 0, 0, 0]))).toBe(EACCES);
    expect(sa.send(v4('192.0.2.9', '198.51.100.1', 1, [8, 0, 0, 0]))).toBe(EACCES); // no IPv4 selector at all
  });

  test('Next Header must be IP and agree with the inner version; dummy packets pass empty', () => {
    const sa = inbound([any4], [any4]);
    const p = v4('192.0.2.9', '198.51.100.1', 17, [0, 53, 0, 53]);
    expect(sa.send(p, 41)).toBe(EPROTONOSUPPORT);
    expect(sa.send(p, 1)).toBe(EPROTONOSUPPORT);
    expect(sa.send(p.subarray(0, 12), 4)).toBe(EPROTONOSUPPORT); // truncated inner header
    const dummy = sa.send(new Uint8Array(0), 59);
    expect(typeof dummy === 'object' && dummy.inner.length).toBe(0);
  });

  test('an SA without selectors admits nothing through the tunnel path', () => {
    const sa = inbound([], []);
    expect(sa.send(v4('192.0.2.9', '198.51.100.1', 17, [0, 53, 0, 53]))).toBe(EACCES);
  });

  test('bad selectors are refused at add time', () => {
    const base: NativeSaParams = { spi: nextSpi++, direction: 'in', encrId: EncrId.AES_GCM_16, encrKeyBits: 128, encKey: new Uint8Array(20), integId: IntegId.NONE, esn: false, replayWindow: 64 };
    expect(addon.saAdd({ ...base, localTs: [{ ...any4, startAddr: '10.0.0.300' }] })).toBe(EINVAL);
    expect(addon.saAdd({ ...base, localTs: [{ ...any4, endAddr: '::1' }] })).toBe(EINVAL); // mixed families
    expect(addon.saAdd({ ...base, localTs: [{ ...any4, startAddr: '10.0.0.2', endAddr: '10.0.0.1' }] })).toBe(EINVAL);
    expect(addon.saAdd({ ...base, localTs: [{ ...any4, startPort: 80, endPort: 79 }] })).toBe(EINVAL);
    expect(addon.saAdd({ ...base, remoteTs: Array(17).fill(any4) })).toBe(E2BIG);
    expect(() => addon.saAdd({ ...base, remoteTs: 'any' as unknown as TsRange[] })).toThrow(TypeError);
    expect(addon.saExists(base.spi, 'in')).toBe(false);
  });
});
