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
    expect(make().features()).toEqual({ backend: 'userspace', offload: 'none', esn: true, udpEncap: true });
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

// ---- routes and the NAT-T transport, over a recording stand-in for the addon's TUN/worker calls ----

interface FakeCalls {
  tunRoute: string[];
  routeAdd: Array<{ prefix: string; prefixLen: number; spi: number; remoteAddr: string; remotePort: number; localAddr?: string; localPort?: number; plainEsp?: boolean }>;
  routeDel: string[];
  sendIke: Array<[string, number, string | undefined, number | undefined, number]>;
  workerStart: Array<Record<string, unknown>>;
  tunOpen: Array<[string, boolean | undefined, boolean | undefined]>;
  stopped: number;
  closedFds: number[];
}

/** The real addon (SA table) with the TUN and worker calls recorded instead of made. */
function fakeAddon(opts: { existingRoutes?: string[]; plainEspFamilies?: (4 | 6)[]; plainEspError?: number } = {}) {
  const calls: FakeCalls = { tunRoute: [], routeAdd: [], routeDel: [], sendIke: [], workerStart: [], tunOpen: [], stopped: 0, closedFds: [] };
  let onIke: ((msg: Uint8Array, addr: string, port: number, la: string, lp: number) => void) | undefined;
  const fakeHandle = {} as never;
  const a = Object.create(addon) as typeof addon;
  Object.assign(a, {
    tunOpen: (name: string, _ns?: string, nonblocking?: boolean, offload?: boolean) => (calls.tunOpen.push([name, nonblocking, offload]), { fd: 999, name, offload: offload === true }),
    tunSetup: () => 42,
    tunRoute: (ifindex: number, add: boolean, prefix: string, len: number) => {
      expect(ifindex).toBe(42);
      calls.tunRoute.push(`${add ? 'add' : 'del'} ${prefix}/${len}`);
      return add && opts.existingRoutes?.includes(`${prefix}/${len}`) ? -17 : 0;
    },
    closeFd: (fd: number) => (calls.closedFds.push(fd), 0),
    workerStart: (o: Record<string, unknown>) => {
      calls.workerStart.push(o);
      onIke = o.onIke as typeof onIke;
      return {
        handle: fakeHandle,
        port: 4500,
        sockets: (o.sockets as { addr: string; port: number }[]).map((x) => ({ addr: x.addr, port: x.port || 14500 })),
        plainEsp: { families: o.plainEsp ? (opts.plainEspFamilies ?? [4]) : [], error: opts.plainEspError ?? 0 },
      };
    },
    workerStop: () => (calls.stopped++, 0),
    workerRouteAdd: (_h: unknown, r: FakeCalls['routeAdd'][number]) => (calls.routeAdd.push(r), 0),
    workerRouteDel: (_h: unknown, prefix: string, len: number) => (calls.routeDel.push(`${prefix}/${len}`), 0),
    workerSendIke: (_h: unknown, msg: Uint8Array, addr: string, port: number, la?: string, lp?: number) => (calls.sendIke.push([addr, port, la, lp, msg.length]), 0),
    workerStats: () => ({ udpRx: 1n }),
  });
  return { addon: a, calls, deliver: (msg: Uint8Array, addr: string, port: number, la: string, lp: number) => onIke?.(msg, addr, port, la, lp) };
}

const range = (start: string, end: string) => ({ startAddr: start, endAddr: end, ipProtocol: 0, startPort: 0, endPort: 65535 });
const LAN = range('198.51.100.0', '198.51.100.255');

function outPolicy(childId: string, spi: number, remote = range('203.0.113.7', '203.0.113.7')): PolicyParams {
  return { childId, direction: 'out', localTs: LAN, remoteTs: remote, outerSrc: '192.0.2.1', outerDst: '192.0.2.2', spi };
}

function encapSa(direction: 'in' | 'out', spi: number, dstPort = 4500): SaParams {
  return { ...sa(direction, spi), src: direction === 'out' ? '192.0.2.1' : '192.0.2.2', dst: direction === 'out' ? '192.0.2.2' : '192.0.2.1', encap: direction === 'out' ? { srcPort: 4500, dstPort } : { srcPort: dstPort, dstPort: 4500 } };
}

describe('userspace data plane: routes and NAT-T transport', () => {
  test('pool routes go into the TUN at start; one someone else installed is left alone', async () => {
    const f = fakeAddon({ existingRoutes: ['10.9.0.0/16'] });
    const warnings: string[] = [];
    const dp = make({ addon: f.addon, tun: { name: 'op-t0' }, poolRoutes: ['203.0.113.0/24', '10.9.0.0/16', 'nonsense'], log: { debug() {}, info() {}, warn: (m) => warnings.push(m) } });
    expect(dp.tunName()).toBe('op-t0');
    expect(f.calls.tunRoute).toEqual(['add 203.0.113.0/24', 'add 10.9.0.0/16']);
    expect(dp.kernelRoutes()).toEqual(['203.0.113.0/24']);
    expect(warnings).toEqual([
      'data plane: cannot route pool 10.9.0.0/16 into op-t0: EEXIST (a route for it exists already; it is left as is)',
      'data plane: pool nonsense is not a prefix, not routed into op-t0',
    ]);
    await dp.close();
    expect(f.calls.closedFds).toEqual([999]);
  });

  test('policies recorded before the worker get their routes when it starts: SPI, peer endpoint and our source', async () => {
    const f = fakeAddon();
    const dp = make({ addon: f.addon, tun: {}, poolRoutes: ['203.0.113.0/24'] });
    const spi = nextSpi++;
    await dp.addSa(encapSa('out', spi, 34500));
    await dp.addPolicy(outPolicy('c1', spi));
    expect(f.calls.routeAdd).toEqual([]);
    const t = dp.openNattTransport({ sockets: [{ address: '0.0.0.0', port: 4500 }], onIke: () => {} });
    // Offloads by default: TSO/GRO on the TUN device (virtio-net header), GSO/GRO on the UDP sockets.
    expect(f.calls.tunOpen).toEqual([['outpost0', true, true]]);
    expect(f.calls.workerStart[0]).toMatchObject({ tunFd: 999, sockets: [{ addr: '0.0.0.0', port: 4500, v6only: false }], tunMtu: 1400, pathMtu: 1500, clampMss: true, udpOffload: true });
    expect(t.sockets).toEqual([{ address: '0.0.0.0', port: 4500, family: 4 }]);
    expect(f.calls.routeAdd).toEqual([{ prefix: '203.0.113.7', prefixLen: 32, spi, remoteAddr: '192.0.2.2', remotePort: 34500, localAddr: '192.0.2.1', localPort: 4500 }]);
    expect(dp.routes()).toEqual([{ prefix: '203.0.113.7/32', spi }]);
    // Inside the pool: no extra kernel route.
    expect(f.calls.tunRoute).toEqual(['add 203.0.113.0/24']);
    await dp.close();
    expect(f.calls.stopped).toBe(1);
  });

  test('make-before-break: the newest policy for a prefix wins, the older one takes over again when it goes', async () => {
    const f = fakeAddon();
    const dp = make({ addon: f.addon, tun: {} });
    dp.openNattTransport({ sockets: [{ address: '192.0.2.1', port: 4500 }], onIke: () => {} });
    const [old, neu] = [nextSpi++, nextSpi++];
    await dp.addSa(encapSa('out', old));
    await dp.addSa(encapSa('out', neu));
    const site = range('10.1.0.0', '10.1.1.255');
    await dp.addPolicy(outPolicy('c-old', old, site));
    await dp.addPolicy(outPolicy('c-new', neu, site));
    expect(f.calls.routeAdd.map((r) => [r.prefix, r.prefixLen, r.spi])).toEqual([
      ['10.1.0.0', 23, old],
      ['10.1.0.0', 23, neu],
    ]);
    // A site subnet outside every pool gets a kernel route, once for both policies.
    expect(f.calls.tunRoute).toEqual(['add 10.1.0.0/23']);
    await dp.delPolicy(outPolicy('c-old', old, site));
    expect(f.calls.routeAdd).toHaveLength(2); // the installed route already uses the new SA
    expect(f.calls.routeDel).toEqual([]);
    expect(dp.routes()).toEqual([{ prefix: '10.1.0.0/23', spi: neu }]);
    await dp.delPolicy(outPolicy('c-new', neu, site));
    expect(f.calls.routeDel).toEqual(['10.1.0.0/23']);
    expect(f.calls.tunRoute).toEqual(['add 10.1.0.0/23', 'del 10.1.0.0/23']);
    expect(dp.routes()).toEqual([]);

    // The other order: removing the newest hands the prefix back to the older SA.
    await dp.addPolicy(outPolicy('c-old', old, site));
    await dp.addPolicy(outPolicy('c-new', neu, site));
    await dp.delPolicy(outPolicy('c-new', neu, site));
    expect(f.calls.routeAdd.at(-1)).toMatchObject({ prefix: '10.1.0.0', spi: old });
  });

  test('a selector range becomes the fewest prefixes; in/fwd policies add no routes', async () => {
    const f = fakeAddon();
    const dp = make({ addon: f.addon, tun: {} });
    dp.openNattTransport({ sockets: [{ address: '192.0.2.1', port: 4500 }], onIke: () => {} });
    const spi = nextSpi++;
    await dp.addSa(encapSa('out', spi));
    await dp.addPolicy({ ...outPolicy('c1', spi, range('10.0.0.1', '10.0.0.6')) });
    await dp.addPolicy({ ...outPolicy('c1', spi), direction: 'in' });
    await dp.addPolicy({ ...outPolicy('c1', spi), direction: 'fwd' });
    expect(f.calls.routeAdd.map((r) => `${r.prefix}/${r.prefixLen}`)).toEqual(['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6/32']);
  });

  test('an outbound SA without UDP encapsulation is routed as plain ESP (IP protocol 50) from the raw socket', async () => {
    const f = fakeAddon();
    const dp = make({ addon: f.addon, tun: {} });
    dp.openNattTransport({ sockets: [{ address: '192.0.2.1', port: 4500 }], onIke: () => {} });
    expect(f.calls.workerStart[0]).toMatchObject({ plainEsp: true });
    const spi = nextSpi++;
    await dp.addSa({ ...sa('out', spi), src: '192.0.2.1', dst: '192.0.2.2' });
    await dp.addPolicy(outPolicy('c1', spi));
    expect(f.calls.routeAdd).toEqual([{ prefix: '203.0.113.7', prefixLen: 32, spi, remoteAddr: '192.0.2.2', remotePort: 0, localAddr: '192.0.2.1', localPort: 0, plainEsp: true }]);
    // NAT appears (MOBIKE, RFC 4555 §3.5): the same SA moves to ESP-in-UDP.
    await dp.updateSa(spi, 'out', { encap: { srcPort: 4500, dstPort: 4500 } });
    expect(f.calls.routeAdd.at(-1)).toEqual({ prefix: '203.0.113.7', prefixLen: 32, spi, remoteAddr: '192.0.2.2', remotePort: 4500, localAddr: '192.0.2.1', localPort: 4500 });
    await expect(dp.addPolicy(outPolicy('c2', nextSpi++))).rejects.toThrow(/no outbound SA/);
  });

  test('without a raw ESP socket (no CAP_NET_RAW) an unencapsulated SA is refused with the reason, nothing recorded', async () => {
    const f = fakeAddon({ plainEspFamilies: [], plainEspError: -1 });
    const warnings: string[] = [];
    const dp = make({ addon: f.addon, tun: {}, log: { debug() {}, info() {}, warn: (m) => warnings.push(m) } });
    dp.openNattTransport({ sockets: [{ address: '192.0.2.1', port: 4500 }], onIke: () => {} });
    expect(warnings).toEqual(['data plane: no raw ESP socket (EPERM: needs CAP_NET_RAW); peers without NAT need encapsulation: true']);
    const spi = nextSpi++;
    await dp.addSa({ ...sa('out', spi), src: '192.0.2.1', dst: '192.0.2.2' });
    const err = await dp.addPolicy(outPolicy('c1', spi)).catch((e: unknown) => e as Error & { code: string });
    expect(err).toMatchObject({ code: 'EOPNOTSUPP' });
    expect(err?.message).toMatch(/is plain ESP \(no NAT\), but the packet worker has no raw IPv4 ESP socket \(EPERM\); set encapsulation: true/);
    expect(dp.policies()).toEqual([]);
    expect(f.calls.routeAdd).toEqual([]);
  });

  test('a new peer endpoint (NAT remapping, MOBIKE) moves the routes of that SA', async () => {
    const f = fakeAddon();
    const dp = make({ addon: f.addon, tun: {} });
    dp.openNattTransport({ sockets: [{ address: '192.0.2.1', port: 4500 }], onIke: () => {} });
    const spi = nextSpi++;
    await dp.addSa(encapSa('out', spi));
    await dp.addPolicy(outPolicy('c1', spi));
    await dp.updateSa(spi, 'out', { dst: '192.0.2.77', encap: { srcPort: 4500, dstPort: 61000 } });
    expect(f.calls.routeAdd.at(-1)).toMatchObject({ prefix: '203.0.113.7', spi, remoteAddr: '192.0.2.77', remotePort: 61000 });
  });

  test('IKE through the transport: local address from the worker, sent from our address and port', async () => {
    const f = fakeAddon();
    const dp = make({ addon: f.addon, tun: {} });
    const got: unknown[] = [];
    const t = dp.openNattTransport({ sockets: [{ address: '0.0.0.0', port: 0 }], onIke: (d) => got.push(d) });
    expect(t.sockets).toEqual([{ address: '0.0.0.0', port: 14500, family: 4 }]);
    f.deliver(Uint8Array.of(1, 2, 3), '192.0.2.2', 4500, '192.0.2.1', 14500);
    expect(got).toEqual([{ local: { addr: '192.0.2.1', port: 14500 }, remote: { addr: '192.0.2.2', port: 4500 }, data: Uint8Array.of(1, 2, 3) }]);
    expect(t.send({ local: { addr: '192.0.2.1', port: 14500 }, remote: { addr: '192.0.2.2', port: 4500 }, data: new Uint8Array(7) })).toBe(true);
    expect(t.send({ local: { addr: '0.0.0.0', port: 14500 }, remote: { addr: '192.0.2.2', port: 4500 }, data: new Uint8Array(8) })).toBe(true);
    expect(f.calls.sendIke).toEqual([
      ['192.0.2.2', 4500, '192.0.2.1', 14500, 7],
      ['192.0.2.2', 4500, undefined, 14500, 8],
    ]);
    expect(() => dp.openNattTransport({ sockets: [{ address: '0.0.0.0', port: 4500 }], onIke: () => {} })).toThrow(/open already/);
    t.close();
    expect(f.calls.stopped).toBe(1);
    expect(t.send({ local: { addr: '192.0.2.1', port: 14500 }, remote: { addr: '192.0.2.2', port: 4500 }, data: new Uint8Array(7) })).toBe(false);
  });

  test('without a TUN device there is no transport', () => {
    expect(() => make().openNattTransport({ sockets: [{ address: '0.0.0.0', port: 4500 }], onIke: () => {} })).toThrow(/without a TUN device/);
  });

  test('inbound SAs carry their selectors into C (RFC 4301 §5.2 policy check)', async () => {
    const dp = make();
    const spi = nextSpi++;
    const key = new Uint8Array(randomBytes(20));
    await dp.addSa({ ...sa('in', spi), encKey: key, localTs: [LAN], remoteTs: [range('203.0.113.7', '203.0.113.7')] });
    expect(addon.saAdd({ spi, direction: 'out', encrId: EncrId.AES_GCM_16, encrKeyBits: 128, encKey: key, integId: IntegId.NONE, esn: true, replayWindow: 0 })).toBe(0);
    try {
      const inner = (src: number[]) => {
        const p = new Uint8Array(28);
        p.set([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, ...src, 198, 51, 100, 2]);
        return p;
      };
      const good = addon.encrypt(spi, inner([203, 0, 113, 7])) as Uint8Array;
      const bad = addon.encrypt(spi, inner([203, 0, 113, 8])) as Uint8Array;
      expect(addon.decrypt(good, true)).toMatchObject({ spi });
      expect(addon.decrypt(bad, true)).toBe(-13); // EACCES: outside the selectors
    } finally {
      addon.saDel(spi, 'out');
    }
  });
});
