// The userspace Dataplane backend over the native SA table: SPI allocation, SA lifecycle, lifetimes as events (RFC 4301 §4.4.2.1).
import { afterEach, describe, expect, test } from 'vitest';
import { randomBytes } from 'node:crypto';
import { EncrId, IntegId } from '../ike/constants.ts';
import { loadNativeAddon } from './native-addon.ts';
import type { DataplaneEvent, PolicyParams, SaParams } from './types.ts';
import { createUserspaceDataplane, type Timers, type UserspaceDataplane } from './userspace.ts';

const addon = loadNativeAddon();
let nextSpi = 0x40000 + (randomBytes(2).readUInt16BE(0) << 8);
const open: UserspaceDataplane[] = [];

afterEach(async () => {
  for (const dp of open.splice(0)) await dp.close();
  addon.takeEvents();
});

/** Timers the test fires by hand. */
function manualTimers(): Timers & { fire(ms: number): void; pending(): number[] } {
  const list: Array<{ fn: () => void; ms: number; live: boolean }> = [];
  return {
    set(fn, ms) {
      const t = { fn, ms, live: true };
      list.push(t);
      return t;
    },
    clear(h) {
      (h as { live: boolean }).live = false;
    },
    fire(ms) {
      for (const t of list) if (t.live && t.ms === ms) (t.live = false), t.fn();
    },
    pending() {
      return list.filter((t) => t.live).map((t) => t.ms);
    },
  };
}

function make(opts: Parameters<typeof createUserspaceDataplane>[0] = {}): UserspaceDataplane {
  const dp = createUserspaceDataplane(opts);
  open.push(dp);
  return dp;
}

function sa(direction: 'in' | 'out', spi: number, lifetime: Partial<SaParams['lifetime']> = {}): SaParams {
  return {
    childId: `child-${spi}`,
    direction,
    spi,
    src: '192.0.2.1',
    dst: '192.0.2.2',
    encrId: EncrId.AES_GCM_16,
    encrKeyBits: 128,
    encKey: new Uint8Array(randomBytes(20)),
    integId: IntegId.NONE,
    integKey: new Uint8Array(0),
    esn: true,
    replayWindow: 128,
    lifetime: { softSec: 0, hardSec: 0, ...lifetime },
    localTs: [],
    remoteTs: [],
  };
}

describe('userspace data plane', () => {
  test('features name the backend', () => {
    expect(make().features()).toEqual({ backend: 'userspace', offload: 'none', esn: true, udpEncap: false });
  });

  test('allocSpi skips reserved values, SPIs in use and earlier reservations', async () => {
    const used = nextSpi++;
    const draws = [0, 200, used, used, 0x12345678, 0x12345678, 0x23456789];
    const dp = make({
      randomBytes: () => {
        const v = draws.shift()!;
        return Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
      },
    });
    await dp.addSa(sa('in', used));
    expect(await dp.allocSpi()).toBe(0x12345678);
    expect(await dp.allocSpi()).toBe(0x23456789); // 0x12345678 is reserved until used
  });

  test('add, query, update, delete; keys are not retained', async () => {
    const dp = make();
    const spi = nextSpi++;
    const params = sa('out', spi);
    await dp.addSa(params);
    expect(await dp.querySa(spi, 'out')).toEqual({ bytes: 0, packets: 0, lastUsedMs: null });
    const esp = addon.encrypt(spi, Uint8Array.of(0x45, 0, 0, 5, 9));
    expect(esp).toBeInstanceOf(Uint8Array);
    expect(await dp.querySa(spi, 'out')).toMatchObject({ bytes: 5, packets: 1 });
    const rec = dp.saRecord(spi, 'out')!;
    expect(rec.childId).toBe(params.childId);
    expect('encKey' in rec || 'integKey' in rec).toBe(false);
    await dp.updateSa(spi, 'out', { dst: '198.51.100.7', encap: { srcPort: 4500, dstPort: 40001 } });
    expect(dp.saRecord(spi, 'out')).toMatchObject({ dst: '198.51.100.7', encap: { srcPort: 4500, dstPort: 40001 } });
    await dp.delSa(spi, 'out');
    expect(await dp.querySa(spi, 'out')).toBeNull();
    expect(addon.saExists(spi, 'out')).toBe(false);
    await expect(dp.delSa(spi, 'out')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('failures reject with the errno name', async () => {
    const dp = make();
    const spi = nextSpi++;
    await expect(dp.addSa({ ...sa('in', spi), encKey: new Uint8Array(3) })).rejects.toMatchObject({ code: 'EINVAL' });
    await dp.addSa(sa('in', spi));
    await expect(dp.addSa(sa('in', spi))).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(dp.updateSa(nextSpi++, 'in', { dst: '192.0.2.9' })).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(dp.addSa(sa('out', nextSpi++, { softSec: 20, hardSec: 10 }))).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(dp.addSa(sa('out', nextSpi++, { softPackets: 20, hardPackets: 10 }))).rejects.toMatchObject({ code: 'EINVAL' });
  });

  test('time lifetimes: soft is an event, hard is an event and removes the SA', async () => {
    const timers = manualTimers();
    const dp = make({ timers });
    const events: DataplaneEvent[] = [];
    dp.onEvent((e) => events.push(e));
    const spi = nextSpi++;
    await dp.addSa(sa('in', spi, { softSec: 3000, hardSec: 3600 }));
    expect(timers.pending().sort()).toEqual([3_000_000, 3_600_000]);
    timers.fire(3_000_000);
    expect(events).toEqual([{ type: 'expire', kind: 'soft', spi, direction: 'in', childId: `child-${spi}` }]);
    expect(addon.saExists(spi, 'in')).toBe(true);
    timers.fire(3_600_000);
    expect(events[1]).toEqual({ type: 'expire', kind: 'hard', spi, direction: 'in', childId: `child-${spi}` });
    expect(addon.saExists(spi, 'in')).toBe(false);
    await dp.delSa(spi, 'in'); // the engine's delete after a hard expiry is fine, once
    await expect(dp.delSa(spi, 'in')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('deleting an SA cancels its timers', async () => {
    const timers = manualTimers();
    const dp = make({ timers });
    const spi = nextSpi++;
    await dp.addSa(sa('out', spi, { softSec: 10, hardSec: 20 }));
    await dp.delSa(spi, 'out');
    expect(timers.pending()).toEqual([]);
  });

  test('packet and byte lifetimes from C arrive as events with the childId; hard removes the SA', async () => {
    const dp = make();
    const got: DataplaneEvent[] = [];
    const two = new Promise<void>((resolve) =>
      dp.onEvent((e) => {
        got.push(e);
        if (got.length === 2) resolve();
      }),
    );
    const spi = nextSpi++;
    await dp.addSa(sa('out', spi, { softPackets: 2, hardBytes: 100 }));
    for (let i = 0; i < 3; i++) addon.encrypt(spi, new Uint8Array(40).fill(0x45));
    await two;
    expect(got).toEqual([
      { type: 'expire', kind: 'soft', spi, direction: 'out', childId: `child-${spi}` },
      { type: 'expire', kind: 'hard', spi, direction: 'out', childId: `child-${spi}` },
    ]);
    expect(addon.saExists(spi, 'out')).toBe(false);
    expect(dp.saRecord(spi, 'out')).toBeUndefined();
  });

  test('policies are recorded once and removed; duplicates and unknowns are errors', async () => {
    const dp = make();
    const ts = { startAddr: '10.0.0.0', endAddr: '10.0.0.255', ipProtocol: 0, startPort: 0, endPort: 65535 };
    const p: PolicyParams = { childId: 'c1', direction: 'out', localTs: ts, remoteTs: { ...ts, startAddr: '203.0.113.0', endAddr: '203.0.113.255' }, outerSrc: '192.0.2.1', outerDst: '192.0.2.2', spi: 0x1234 };
    await dp.addPolicy(p);
    await expect(dp.addPolicy({ ...p })).rejects.toMatchObject({ code: 'EEXIST' });
    expect(dp.policies()).toEqual([p]);
    await dp.delPolicy(p);
    expect(dp.policies()).toEqual([]);
    await expect(dp.delPolicy(p)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('close removes every SA it added and refuses further work', async () => {
    const dp = createUserspaceDataplane();
    const a = nextSpi++;
    const b = nextSpi++;
    await dp.addSa(sa('in', a));
    await dp.addSa(sa('out', b));
    await dp.close();
    expect(addon.saExists(a, 'in') || addon.saExists(b, 'out')).toBe(false);
    await expect(dp.addSa(sa('in', nextSpi++))).rejects.toThrow('closed');
  });
});
