// Native SA table (RFC 4301 §4.4.2): add/del/query errors, counters, byte and packet lifetimes and their expire events.
import { afterEach, describe, expect, test } from 'vitest';
import { randomBytes } from 'node:crypto';
import { EncrId, IntegId } from '../ike/constants.ts';
import { loadNativeAddon, type NativeExpireEvent, type NativeSaCounters, type NativeSaParams } from './native-addon.ts';

const addon = loadNativeAddon();
const EEXIST = -17;
const ENOENT = -2;
const EINVAL = -22;
const EOPNOTSUPP = -95;
const EKEYEXPIRED = -127;

let nextSpi = 0x30000 + (randomBytes(2).readUInt16BE(0) << 8);
const added: Array<[number, 'in' | 'out']> = [];
afterEach(() => {
  for (const [spi, dir] of added.splice(0)) addon.saDel(spi, dir);
  addon.onEvents(null);
  addon.takeEvents();
});

function gcm(spi: number, direction: 'in' | 'out', extra: Partial<NativeSaParams> = {}): NativeSaParams {
  return { spi, direction, encrId: EncrId.AES_GCM_16, encrKeyBits: 256, encKey: new Uint8Array(36).fill(7), integId: IntegId.NONE, esn: false, replayWindow: 64, ...extra };
}

function add(p: NativeSaParams): number {
  const rc = addon.saAdd(p);
  if (rc === 0) added.push([p.spi, p.direction]);
  return rc;
}

function query(spi: number, dir: 'in' | 'out'): NativeSaCounters {
  const q = addon.saQuery(spi, dir);
  if (typeof q === 'number') throw new Error(addon.errnoName(q));
  return q;
}

const ipv4 = (len: number) => Uint8Array.from({ length: len }, (_, i) => (i === 0 ? 0x45 : i & 0xff));

describe('add, delete, query', () => {
  test('one SA per (SPI, direction); both directions may share an SPI', () => {
    const spi = nextSpi++;
    const n = addon.saCount();
    expect(add(gcm(spi, 'in'))).toBe(0);
    expect(add(gcm(spi, 'in'))).toBe(EEXIST);
    expect(add(gcm(spi, 'out'))).toBe(0);
    expect(addon.saCount()).toBe(n + 2);
    expect(addon.saExists(spi, 'in') && addon.saExists(spi, 'out')).toBe(true);
    expect(addon.saDel(spi, 'in')).toBe(0);
    expect(addon.saDel(spi, 'in')).toBe(ENOENT);
    expect(addon.saQuery(spi, 'in')).toBe(ENOENT);
    expect(addon.saExists(spi, 'out')).toBe(true);
  });

  test('invalid parameters are refused with -errno', () => {
    const spi = nextSpi++;
    expect(add(gcm(255, 'in'))).toBe(EINVAL); // reserved SPI range (RFC 4303 §2.1)
    expect(add(gcm(spi, 'in', { encKey: new Uint8Array(32) }))).toBe(EINVAL); // salt missing
    expect(add(gcm(spi, 'in', { encrKeyBits: 512 }))).toBe(EINVAL);
    expect(add(gcm(spi, 'in', { integId: IntegId.HMAC_SHA2_256_128, integKey: new Uint8Array(32) }))).toBe(EINVAL);
    expect(add(gcm(spi, 'in', { encrId: EncrId.TRIPLE_DES }))).toBe(EOPNOTSUPP);
    expect(add(gcm(spi, 'in', { encrId: EncrId.AES_CBC, encrKeyBits: 128, encKey: new Uint8Array(16) }))).toBe(EINVAL); // CBC needs integrity
    expect(add(gcm(spi, 'in', { encrId: EncrId.AES_CBC, encrKeyBits: 128, encKey: new Uint8Array(16), integId: IntegId.HMAC_SHA2_256_128, integKey: new Uint8Array(20) }))).toBe(EINVAL);
    expect(add(gcm(spi, 'in', { encrId: EncrId.AES_CBC, encrKeyBits: 128, encKey: new Uint8Array(16), integId: IntegId.HMAC_SHA1_96, integKey: new Uint8Array(20) }))).toBe(EOPNOTSUPP);
    expect(add(gcm(spi, 'in', { replayWindow: 65537 }))).toBe(EINVAL);
    expect(add(gcm(spi, 'out', { initialSeq: 1n << 32n }))).toBe(EINVAL); // beyond a 32-bit counter
    expect(add(gcm(spi, 'in', { encrId: EncrId.CHACHA20_POLY1305, encrKeyBits: 128 }))).toBe(EINVAL);
    expect(addon.saExists(spi, 'in')).toBe(false);
  });

  test('wrong argument types throw TypeError', () => {
    expect(() => addon.saAdd({ ...gcm(nextSpi++, 'in'), direction: 'both' as 'in' })).toThrow(TypeError);
    expect(() => addon.saAdd({ ...gcm(nextSpi++, 'in'), encKey: 'key' as unknown as Uint8Array })).toThrow(TypeError);
    expect(() => addon.saAdd({ ...gcm(nextSpi++, 'in'), spi: -1 })).toThrow(TypeError);
    expect(() => addon.encrypt(1.5, new Uint8Array(1))).toThrow(TypeError);
    expect(() => addon.decrypt([1, 2, 3] as unknown as Uint8Array)).toThrow(TypeError);
  });

  test('thousands of SAs: the table grows and every one stays reachable', () => {
    const base = nextSpi;
    nextSpi += 5000;
    const n = addon.saCount();
    for (let i = 0; i < 5000; i++) expect(add(gcm(base + i, i % 2 ? 'in' : 'out'))).toBe(0);
    expect(addon.saCount()).toBe(n + 5000);
    for (let i = 0; i < 5000; i++) expect(addon.saExists(base + i, i % 2 ? 'in' : 'out')).toBe(true);
    for (let i = 0; i < 5000; i++) expect(addon.saExists(base + i, i % 2 ? 'out' : 'in')).toBe(false);
  });
});

describe('counters', () => {
  test('bytes count inner octets, packets count packets, last use is wall-clock ms', () => {
    const spi = nextSpi++;
    add(gcm(spi, 'out'));
    add(gcm(spi, 'in'));
    expect(query(spi, 'out')).toMatchObject({ bytes: 0n, packets: 0n, lastUsedMs: null, seq: 0n });
    const t0 = Date.now();
    let total = 0n;
    for (const len of [20, 100, 1400]) {
      const esp = addon.encrypt(spi, ipv4(len));
      if (typeof esp === 'number') throw new Error(addon.errnoName(esp));
      expect(typeof addon.decrypt(esp)).toBe('object');
      total += BigInt(len);
    }
    const t1 = Date.now();
    for (const dir of ['in', 'out'] as const) {
      const q = query(spi, dir);
      expect([q.bytes, q.packets, q.seq]).toEqual([total, 3n, 3n]);
      expect(q.lastUsedMs).toBeGreaterThanOrEqual(t0 - 1);
      expect(q.lastUsedMs).toBeLessThanOrEqual(t1 + 1);
    }
  });
});

describe('lifetimes', () => {
  test('packet limits: soft once, then hard, then the SA drops everything', () => {
    const spi = nextSpi++;
    add(gcm(spi, 'out', { softPackets: 3, hardPackets: 5 }));
    const events: NativeExpireEvent[] = [];
    for (let i = 1; i <= 5; i++) {
      expect(addon.encrypt(spi, ipv4(40))).toBeInstanceOf(Uint8Array);
      events.push(...addon.takeEvents());
      if (i === 2) expect(events).toEqual([]);
      if (i === 3 || i === 4) expect(events).toEqual([{ kind: 'soft', direction: 'out', spi }]);
    }
    expect(events).toEqual([
      { kind: 'soft', direction: 'out', spi },
      { kind: 'hard', direction: 'out', spi },
    ]);
    expect(addon.encrypt(spi, ipv4(40))).toBe(EKEYEXPIRED);
    expect(query(spi, 'out')).toMatchObject({ packets: 5n, softExpired: true, hardExpired: true, expiredDrops: 1n });
  });

  test('byte limits on the inbound side; a packet crossing both limits raises only hard', () => {
    const spi = nextSpi++;
    add(gcm(spi, 'out'));
    add(gcm(spi, 'in', { softBytes: 1000, hardBytes: 1500 }));
    const send = (len: number) => {
      const esp = addon.encrypt(spi, ipv4(len));
      if (typeof esp === 'number') throw new Error(addon.errnoName(esp));
      return addon.decrypt(esp);
    };
    send(999);
    expect(addon.takeEvents()).toEqual([]);
    send(1);
    expect(addon.takeEvents()).toEqual([{ kind: 'soft', direction: 'in', spi }]);
    send(499);
    expect(addon.takeEvents()).toEqual([]);
    send(1);
    expect(addon.takeEvents()).toEqual([{ kind: 'hard', direction: 'in', spi }]);
    expect(send(1)).toBe(EKEYEXPIRED);

    const spi2 = nextSpi++;
    add(gcm(spi2, 'out', { softBytes: 100, hardBytes: 200 }));
    addon.encrypt(spi2, ipv4(300));
    expect(addon.takeEvents()).toEqual([{ kind: 'hard', direction: 'out', spi: spi2 }]);
  });

  test('onEvents delivers asynchronously on the JS thread, and null stops delivery', async () => {
    const spi = nextSpi++;
    add(gcm(spi, 'out', { softPackets: 1, hardPackets: 2 }));
    const got: NativeExpireEvent[] = [];
    const arrived = new Promise<void>((resolve) => {
      addon.onEvents((evs) => {
        got.push(...evs);
        if (got.length >= 2) resolve();
      });
    });
    addon.encrypt(spi, ipv4(40));
    addon.encrypt(spi, ipv4(40));
    await arrived;
    expect(got).toEqual([
      { kind: 'soft', direction: 'out', spi },
      { kind: 'hard', direction: 'out', spi },
    ]);

    addon.onEvents(null);
    const spi2 = nextSpi++;
    add(gcm(spi2, 'out', { softPackets: 1 }));
    addon.encrypt(spi2, ipv4(40));
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toHaveLength(2);
    expect(addon.takeEvents()).toEqual([{ kind: 'soft', direction: 'out', spi: spi2 }]);
  });

  test('a listener added late receives what was queued before', async () => {
    const spi = nextSpi++;
    add(gcm(spi, 'out', { softPackets: 1 }));
    addon.encrypt(spi, ipv4(40));
    const evs = await new Promise<NativeExpireEvent[]>((resolve) => addon.onEvents(resolve));
    expect(evs).toEqual([{ kind: 'soft', direction: 'out', spi }]);
  });
});
