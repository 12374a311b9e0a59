// The userspace data-plane backend (ARCHITECTURE.md §4): SAs live in the native addon's table (ESP per RFC 4303 in C).
//
// Ownership: the C table holds keys, counters and byte/packet lifetimes; this file adds what the C side does not
// know: time lifetimes (timers), the engine's childId for events, SPI reservation, endpoints and the policy list.
// Key material passes straight through to C and is never kept here. The addon's table is process-wide, so run
// one userspace data plane per process.
//
// Not yet here (next step of the data-plane issue): driving the addon's packet worker (workerStart: UDP 4500 +
// TUN, routes, IKE demux). Until this backend wires policies and endpoints into worker routes, they are only
// recorded, no packet is carried, and udpEncap reads false.
import type { DataplaneEvent, Dataplane, DataplaneFeatures, PolicyParams, SaCounters, SaParams } from './types.ts';
import { loadNativeAddon, unwrapNative, type NativeAddon, type NativeExpireEvent } from './native-addon.ts';

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface UserspaceDataplaneOptions {
  addon?: NativeAddon;
  /** Randomness for SPIs; defaults to crypto.getRandomValues. */
  randomBytes?: (n: number) => Uint8Array;
  timers?: Timers;
}

/** What the backend remembers about an SA: everything but the keys. */
export type SaRecord = Omit<SaParams, 'encKey' | 'integKey'>;

export interface UserspaceDataplane extends Dataplane {
  /** The recorded SA (without keys), for status views. */
  saRecord(spi: number, direction: 'in' | 'out'): SaRecord | undefined;
  policies(): readonly PolicyParams[];
}

const MAX_RESERVED_SPIS = 4096;
const SPI_MIN = 256; // RFC 4303 §2.1: 1-255 reserved, 0 local

const defaultTimers: Timers = {
  set(fn, ms) {
    const t = setTimeout(fn, ms);
    (t as { unref?: () => void }).unref?.(); // lifetimes must not keep the process alive
    return t;
  },
  clear(h) {
    clearTimeout(h as ReturnType<typeof setTimeout>);
  },
};

interface Entry {
  record: SaRecord;
  timers: unknown[];
}

const key = (spi: number, dir: 'in' | 'out') => `${dir}:${spi >>> 0}`;

function lifetimeProblem(l: SaParams['lifetime']): string | null {
  if (l.hardSec > 0 && l.softSec > l.hardSec) return `soft lifetime ${l.softSec}s exceeds hard lifetime ${l.hardSec}s`;
  if (l.softBytes !== undefined && l.hardBytes !== undefined && l.softBytes > l.hardBytes) return 'soft byte limit exceeds hard byte limit';
  if (l.softPackets !== undefined && l.hardPackets !== undefined && l.softPackets > l.hardPackets) return 'soft packet limit exceeds hard packet limit';
  return null;
}

function samePolicy(a: PolicyParams, b: PolicyParams): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function createUserspaceDataplane(opts: UserspaceDataplaneOptions = {}): UserspaceDataplane {
  const addon = opts.addon ?? loadNativeAddon();
  const random = opts.randomBytes ?? ((n: number) => crypto.getRandomValues(new Uint8Array(n)));
  const timers = opts.timers ?? defaultTimers;
  const entries = new Map<string, Entry>();
  const reserved = new Set<number>();
  const hardExpired = new Set<string>(); // removed by a hard expiry: the engine's later delSa is not an error
  const policies: PolicyParams[] = [];
  const listeners: Array<(e: DataplaneEvent) => void> = [];
  let closed = false;

  const emit = (e: DataplaneEvent) => {
    for (const l of listeners) l(e);
  };

  const dropEntry = (spi: number, dir: 'in' | 'out') => {
    const e = entries.get(key(spi, dir));
    if (!e) return undefined;
    for (const t of e.timers) timers.clear(t);
    entries.delete(key(spi, dir));
    return e;
  };

  const expire = (spi: number, dir: 'in' | 'out', kind: 'soft' | 'hard') => {
    const e = entries.get(key(spi, dir));
    if (!e) return;
    if (kind === 'hard') {
      // Like the kernel: a hard expiry removes the SA, then tells the engine.
      dropEntry(spi, dir);
      addon.saDel(spi, dir);
      hardExpired.add(key(spi, dir));
    }
    emit({ type: 'expire', kind, spi, direction: dir, childId: e.record.childId });
  };

  addon.onEvents((evs: NativeExpireEvent[]) => {
    for (const ev of evs) expire(ev.spi, ev.direction, ev.kind);
  });

  const assertOpen = () => {
    if (closed) throw new Error('userspace data plane is closed');
  };

  return {
    features(): DataplaneFeatures {
      return { backend: 'userspace', offload: 'none', esn: true, udpEncap: false };
    },

    async allocSpi() {
      assertOpen();
      for (let attempt = 0; attempt < 64; attempt++) {
        const b = random(4);
        const spi = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
        if (spi < SPI_MIN || reserved.has(spi) || addon.saExists(spi, 'in')) continue;
        if (reserved.size >= MAX_RESERVED_SPIS) reserved.delete(reserved.values().next().value as number);
        reserved.add(spi);
        return spi;
      }
      throw new Error('allocSpi: no free SPI after 64 random draws');
    },

    async addSa(sa) {
      assertOpen();
      const l = sa.lifetime;
      const bad = lifetimeProblem(l);
      if (bad) throw Object.assign(new Error(`addSa(spi 0x${(sa.spi >>> 0).toString(16)}, ${sa.direction}): ${bad}`), { code: 'EINVAL' });
      const rc = addon.saAdd({
        spi: sa.spi,
        direction: sa.direction,
        encrId: sa.encrId,
        encrKeyBits: sa.encrKeyBits,
        encKey: sa.encKey,
        integId: sa.integId,
        integKey: sa.integKey,
        esn: sa.esn,
        replayWindow: sa.direction === 'in' ? sa.replayWindow : 0,
        softBytes: l.softBytes,
        hardBytes: l.hardBytes,
        softPackets: l.softPackets,
        hardPackets: l.hardPackets,
      });
      unwrapNative(addon, rc, `addSa(spi 0x${(sa.spi >>> 0).toString(16)}, ${sa.direction})`);
      if (sa.direction === 'in') reserved.delete(sa.spi >>> 0);
      hardExpired.delete(key(sa.spi, sa.direction));
      const { encKey: _e, integKey: _i, ...record } = sa;
      const entry: Entry = { record, timers: [] };
      if (l.softSec > 0) entry.timers.push(timers.set(() => expire(sa.spi, sa.direction, 'soft'), l.softSec * 1000));
      if (l.hardSec > 0) entry.timers.push(timers.set(() => expire(sa.spi, sa.direction, 'hard'), l.hardSec * 1000));
      entries.set(key(sa.spi, sa.direction), entry);
    },

    async updateSa(spi, direction, change) {
      assertOpen();
      const e = entries.get(key(spi, direction));
      if (!e) unwrapNative(addon, -2, `updateSa(spi 0x${(spi >>> 0).toString(16)}, ${direction})`);
      else e.record = { ...e.record, ...change };
    },

    async querySa(spi, direction): Promise<SaCounters | null> {
      const q = addon.saQuery(spi, direction);
      if (typeof q === 'number') return null;
      return { bytes: Number(q.bytes), packets: Number(q.packets), lastUsedMs: q.lastUsedMs };
    },

    async delSa(spi, direction) {
      dropEntry(spi, direction);
      const rc = addon.saDel(spi, direction);
      // After a hard expiry removed it, the engine's own delete is expected, not an error.
      if (rc === 0 || hardExpired.delete(key(spi, direction))) return;
      unwrapNative(addon, rc, `delSa(spi 0x${(spi >>> 0).toString(16)}, ${direction})`);
    },

    async addPolicy(p: PolicyParams) {
      assertOpen();
      if (policies.some((q) => samePolicy(q, p))) throw Object.assign(new Error(`addPolicy(${p.childId}, ${p.direction}): duplicate`), { code: 'EEXIST' });
      policies.push(structuredClone(p));
    },

    async delPolicy(p: PolicyParams) {
      const i = policies.findIndex((q) => samePolicy(q, p));
      if (i < 0) throw Object.assign(new Error(`delPolicy(${p.childId}, ${p.direction}): no such policy`), { code: 'ENOENT' });
      policies.splice(i, 1);
    },

    onEvent(listener) {
      listeners.push(listener);
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const k of [...entries.keys()]) {
        const [dir, spi] = k.split(':') as ['in' | 'out', string];
        dropEntry(Number(spi), dir);
        addon.saDel(Number(spi), dir);
      }
      addon.onEvents(null);
      listeners.length = 0;
      policies.length = 0;
      reserved.clear();
      hardExpired.clear();
    },

    saRecord(spi, direction) {
      const e = entries.get(key(spi, direction));
      return e ? structuredClone(e.record) : undefined;
    },

    policies() {
      return policies.map((p) => structuredClone(p));
    },
  };
}
