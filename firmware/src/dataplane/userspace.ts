// The userspace data-plane backend (ARCHITECTURE.md §4): ESP (RFC 4303), plain or in UDP (RFC 3948), by the native worker over a TUN device.
//
// Ownership: the C table holds keys, counters and byte/packet lifetimes; the C worker owns the NAT-T sockets and
// the raw IP protocol 50 sockets (plain ESP, used when no NAT was detected and encapsulation is not forced) and
// carries every packet (JS never sees one). This file adds what the C side does not know: time lifetimes
// (timers), the engine's childId for events, SPI reservation, endpoints, the policy list, and from the
// policies the two kinds of routes:
//   - worker routes: inner destination prefix -> outbound SPI + the peer's UDP endpoint (op_route.c). Several
//     policies may claim one prefix (make-before-break rekeying, RFC 7296 §2.8); the newest claim wins and an
//     older one takes over again when the newer goes.
//   - kernel routes: prefix dev <tun>, so the kernel hands that traffic to the worker. Virtual-IP pools get one
//     each at start; remote selectors outside them (site-to-site subnets) get one while a policy needs it.
// Key material passes straight through to C and is never kept here. The addon's SA table is process-wide, so
// run one userspace data plane per process.
import type { DataplaneEvent, Dataplane, DataplaneFeatures, Endpoint, PolicyParams, SaCounters, SaParams } from './types.ts';
import { loadNativeAddon, unwrapNative, type NativeAddon, type NativeExpireEvent, type NativeWorkerHandle, type NativeWorkerStats } from './native-addon.ts';
import { parsePrefix, prefixCovers, prefixKey, rangeToPrefixes, type Prefix } from './prefixes.ts';

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** The few log calls the backend makes (the runtime's Logger fits). */
export interface DataplaneLog {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export const DEFAULT_TUN_NAME = 'outpost0';
/** Leaves room for IPv4/IPv6 + UDP + ESP on a 1500-octet path (like strongSwan's libipsec TUN). */
export const DEFAULT_TUN_MTU = 1400;
export const DEFAULT_PATH_MTU = 1500;

export interface TunOptions {
  name?: string;
  mtu?: number;
  /** Create the device inside this network namespace (tests); default: the process's own. */
  netnsPath?: string;
  /**
   * Checksum and TCP segmentation offload on the device (virtio-net header, default on): the kernel hands over and
   * takes TCP super-packets, which the worker segments before ESP and coalesces after it.
   */
  offload?: boolean;
}

export interface UserspaceDataplaneOptions {
  addon?: NativeAddon;
  /** Randomness for SPIs; defaults to crypto.getRandomValues. */
  randomBytes?: (n: number) => Uint8Array;
  timers?: Timers;
  /** Create the TUN device now (and carry packets once a NAT-T transport is opened); without it, SAs only. */
  tun?: TunOptions;
  /** Prefixes (virtual-IP pools, `net/len`) routed into the TUN device from the start. */
  poolRoutes?: string[];
  /** MTU of the outer path; bigger DF packets get ICMP too big (default 1500; 0 = off). */
  pathMtu?: number;
  /** Lower the MSS of TCP SYNs through the tunnel to fit (default on). */
  clampMss?: boolean;
  /** Open raw ESP sockets with the worker, so SAs without UDP encapsulation carry plain ESP (default on). */
  plainEsp?: boolean;
  /** UDP GSO/GRO on the NAT-T sockets: runs of equal-size ESP datagrams in one send, several per read (default on). */
  udpOffload?: boolean;
  log?: DataplaneLog;
}

/** An IKE datagram on a NAT-T port, non-ESP marker removed (structurally the engine's Datagram). */
export interface NattDatagram {
  local: Endpoint;
  remote: Endpoint;
  data: Uint8Array;
}

/** The NAT-T sockets as the C worker holds them: ESP stays in C, IKE comes up here and goes out through send. */
export interface NattTransport {
  /** What was bound (port 0 resolved); a wildcard address stays a wildcard. */
  readonly sockets: readonly { address: string; port: number; family: 4 | 6 }[];
  /** Families with a raw ESP socket (plain ESP); empty when it could not be opened. */
  readonly plainEspFamilies: readonly (4 | 6)[];
  /** Sends IKE with the non-ESP marker from the socket on d.local.port, source d.local.addr. */
  send(d: NattDatagram): boolean;
  stats(): NativeWorkerStats | null;
  close(): void;
}

/** What the backend remembers about an SA: everything but the keys. */
export type SaRecord = Omit<SaParams, 'encKey' | 'integKey'>;

export interface UserspaceDataplane extends Dataplane {
  /** The recorded SA (without keys), for status views. */
  saRecord(spi: number, direction: 'in' | 'out'): SaRecord | undefined;
  policies(): readonly PolicyParams[];
  /** The TUN device's name, when there is one. */
  tunName(): string | null;
  /**
   * Starts the packet worker on the NAT-T sockets (ESP-in-UDP and IKE share them, RFC 3948); IKE arriving there
   * goes to onIke. Needs the TUN device. One transport at a time.
   */
  openNattTransport(opts: { sockets: readonly { address: string; port: number }[]; onIke: (d: NattDatagram) => void }): NattTransport;
  /** Worker routes currently installed: prefix -> outbound SPI (for status and tests). */
  routes(): { prefix: string; spi: number }[];
  /** Kernel routes into the TUN device this backend installed. */
  kernelRoutes(): string[];
  workerStats(): NativeWorkerStats | null;
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

const quietLog: DataplaneLog = { debug() {}, info() {}, warn() {} };

interface Entry {
  record: SaRecord;
  timers: unknown[];
}

/** One policy's claim on a worker route. */
interface Claim {
  policy: string;
  spi: number;
}

interface RouteSlot {
  prefix: Prefix;
  claims: Claim[]; // newest last: it is the one installed
  installedSpi: number | null;
}

const key = (spi: number, dir: 'in' | 'out') => `${dir}:${spi >>> 0}`;
const hex = (spi: number) => `0x${(spi >>> 0).toString(16).padStart(8, '0')}`;
const isWildcard = (a: string) => a === '0.0.0.0' || a === '::';

function lifetimeProblem(l: SaParams['lifetime']): string | null {
  if (l.hardSec > 0 && l.softSec > l.hardSec) return `soft lifetime ${l.softSec}s exceeds hard lifetime ${l.hardSec}s`;
  if (l.softBytes !== undefined && l.hardBytes !== undefined && l.softBytes > l.hardBytes) return 'soft byte limit exceeds hard byte limit';
  if (l.softPackets !== undefined && l.hardPackets !== undefined && l.softPackets > l.hardPackets) return 'soft packet limit exceeds hard packet limit';
  return null;
}

const policyId = (p: PolicyParams): string => JSON.stringify(p);

function codeError(message: string, code: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

export function createUserspaceDataplane(opts: UserspaceDataplaneOptions = {}): UserspaceDataplane {
  const addon = opts.addon ?? loadNativeAddon();
  const random = opts.randomBytes ?? ((n: number) => crypto.getRandomValues(new Uint8Array(n)));
  const timers = opts.timers ?? defaultTimers;
  const log = opts.log ?? quietLog;
  const entries = new Map<string, Entry>();
  const reserved = new Set<number>();
  const hardExpired = new Set<string>(); // removed by a hard expiry: the engine's later delSa is not an error
  const policies: PolicyParams[] = [];
  const listeners: Array<(e: DataplaneEvent) => void> = [];
  const slots = new Map<string, RouteSlot>();
  const kernel = new Map<string, { prefix: Prefix; refs: number; ours: boolean }>();
  const poolPrefixes: Prefix[] = [];
  let closed = false;

  // ---- the TUN device ----
  let tun: { fd: number; name: string; ifindex: number; netnsPath?: string; offload: boolean } | null = null;
  if (opts.tun) {
    const name = opts.tun.name ?? DEFAULT_TUN_NAME;
    const mtu = opts.tun.mtu ?? DEFAULT_TUN_MTU;
    const opened = addon.tunOpen(name, opts.tun.netnsPath, true, opts.tun.offload ?? true);
    const t = unwrapNative(addon, opened, `cannot create TUN device ${name} (/dev/net/tun; needs CAP_NET_ADMIN)`);
    const ifindex = addon.tunSetup(t.name, mtu, opts.tun.netnsPath);
    if (ifindex < 0) {
      addon.closeFd(t.fd);
      unwrapNative(addon, ifindex, `cannot set MTU ${mtu} and bring up TUN device ${t.name}`);
    }
    tun = { fd: t.fd, name: t.name, ifindex, offload: t.offload === true, ...(opts.tun.netnsPath ? { netnsPath: opts.tun.netnsPath } : {}) };
  }

  const kernelRoute = (p: Prefix, add: boolean): number => (tun ? addon.tunRoute(tun.ifindex, add, p.addr, p.len, tun.netnsPath) : 0);

  if (tun) {
    for (const text of opts.poolRoutes ?? []) {
      const p = parsePrefix(text);
      if (!p) {
        log.warn(`data plane: pool ${text} is not a prefix, not routed into ${tun.name}`);
        continue;
      }
      const rc = kernelRoute(p, true);
      if (rc === 0) {
        poolPrefixes.push(p);
        kernel.set(prefixKey(p), { prefix: p, refs: 1, ours: true });
      } else {
        log.warn(`data plane: cannot route pool ${prefixKey(p)} into ${tun.name}: ${addon.errnoName(rc)}${rc === -17 ? ' (a route for it exists already; it is left as is)' : ''}`);
      }
    }
  }

  // ---- the worker ----
  let worker: { handle: NativeWorkerHandle; transport: NattTransport; plainEspError: string | null } | null = null;

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

  /** The peer endpoint and our source for an outbound SA, or why it cannot be routed. */
  const outboundPath = (
    spi: number,
  ): { remoteAddr: string; remotePort: number; localAddr: string; localPort: number; plainEsp?: true } | string => {
    const rec = entries.get(key(spi, 'out'))?.record;
    if (!rec) return `no outbound SA ${hex(spi)}`;
    if (!rec.encap) {
      const family = rec.dst.includes(':') ? 6 : 4;
      if (worker && !worker.transport.plainEspFamilies.includes(family)) {
        return `outbound SA ${hex(spi)} to ${rec.dst} is plain ESP (no NAT), but the packet worker has no raw IPv${family} ESP socket${worker.plainEspError ? ` (${worker.plainEspError})` : ''}; set encapsulation: true on the connection`;
      }
      return { remoteAddr: rec.dst, remotePort: 0, localAddr: rec.src, localPort: 0, plainEsp: true };
    }
    return { remoteAddr: rec.dst, remotePort: rec.encap.dstPort, localAddr: rec.src, localPort: rec.encap.srcPort };
  };

  /** Makes the worker's route for one prefix match its newest claim (force: re-install anyway); throws on failure. */
  const syncSlot = (slot: RouteSlot, force = false): void => {
    if (!worker) return;
    const top = slot.claims[slot.claims.length - 1];
    const what = `route ${prefixKey(slot.prefix)}`;
    if (!top) {
      if (slot.installedSpi !== null) {
        const rc = addon.workerRouteDel(worker.handle, slot.prefix.addr, slot.prefix.len);
        slot.installedSpi = null;
        if (rc !== 0 && rc !== -2) unwrapNative(addon, rc, `delete ${what}`);
      }
      return;
    }
    if (!force && slot.installedSpi === top.spi) return;
    const path = outboundPath(top.spi);
    if (typeof path === 'string') throw codeError(`${what}: ${path}`, 'EOPNOTSUPP');
    const rc = addon.workerRouteAdd(worker.handle, { prefix: slot.prefix.addr, prefixLen: slot.prefix.len, spi: top.spi, ...path });
    unwrapNative(addon, rc, `${what} via SA ${hex(top.spi)} to ${path.remoteAddr}:${path.remotePort}`);
    slot.installedSpi = top.spi;
  };

  const kernelRef = (p: Prefix, delta: 1 | -1): void => {
    if (!tun) return;
    // Inside a pool route already: nothing to add.
    if (poolPrefixes.some((pool) => prefixCovers(pool, p))) return;
    const k = prefixKey(p);
    const cur = kernel.get(k);
    if (delta === 1) {
      if (cur) {
        cur.refs++;
        return;
      }
      const rc = kernelRoute(p, true);
      if (rc !== 0) log.warn(`data plane: cannot route ${k} into ${tun.name}: ${addon.errnoName(rc)}${rc === -17 ? ' (a route for it exists already; it is left as is)' : ''}`);
      kernel.set(k, { prefix: p, refs: 1, ours: rc === 0 });
      return;
    }
    if (!cur) return;
    if (--cur.refs > 0) return;
    kernel.delete(k);
    if (cur.ours) {
      const rc = kernelRoute(p, false);
      if (rc !== 0) log.warn(`data plane: cannot remove route ${k} from ${tun.name}: ${addon.errnoName(rc)}`);
    }
  };

  const prefixesOf = (p: PolicyParams): Prefix[] => rangeToPrefixes(p.remoteTs.startAddr, p.remoteTs.endAddr);

  const claim = (p: PolicyParams): void => {
    const spi = p.spi ?? 0;
    for (const prefix of prefixesOf(p)) {
      const k = prefixKey(prefix);
      let slot = slots.get(k);
      if (!slot) slots.set(k, (slot = { prefix, claims: [], installedSpi: null }));
      slot.claims.push({ policy: policyId(p), spi });
      kernelRef(prefix, 1);
      syncSlot(slot);
    }
  };

  const unclaim = (p: PolicyParams): void => {
    const id = policyId(p);
    let failure: unknown;
    for (const prefix of prefixesOf(p)) {
      const k = prefixKey(prefix);
      const slot = slots.get(k);
      if (!slot) continue;
      const i = slot.claims.findIndex((c) => c.policy === id);
      if (i < 0) continue;
      slot.claims.splice(i, 1);
      try {
        syncSlot(slot);
      } catch (err) {
        failure ??= err;
      }
      if (slot.claims.length === 0) slots.delete(k);
      kernelRef(prefix, -1);
    }
    if (failure) throw failure;
  };

  const stopWorker = () => {
    if (!worker) return;
    addon.workerStop(worker.handle);
    worker = null;
    for (const slot of slots.values()) slot.installedSpi = null;
  };

  const dp: UserspaceDataplane = {
    features(): DataplaneFeatures {
      return { backend: 'userspace', offload: 'none', esn: true, udpEncap: true };
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
      if (bad) throw codeError(`addSa(spi ${hex(sa.spi)}, ${sa.direction}): ${bad}`, 'EINVAL');
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
        // RFC 4301 §5.2: what a decrypted packet may carry (inner destination local, inner source remote).
        ...(sa.direction === 'in' ? { localTs: sa.localTs, remoteTs: sa.remoteTs } : {}),
      });
      unwrapNative(addon, rc, `addSa(spi ${hex(sa.spi)}, ${sa.direction})`);
      if (sa.direction === 'in') reserved.delete(sa.spi >>> 0);
      hardExpired.delete(key(sa.spi, sa.direction));
      const { encKey: _e, integKey: _i, ...record } = sa;
      const entry: Entry = { record: structuredClone(record), timers: [] };
      if (l.softSec > 0) entry.timers.push(timers.set(() => expire(sa.spi, sa.direction, 'soft'), l.softSec * 1000));
      if (l.hardSec > 0) entry.timers.push(timers.set(() => expire(sa.spi, sa.direction, 'hard'), l.hardSec * 1000));
      entries.set(key(sa.spi, sa.direction), entry);
    },

    async updateSa(spi, direction, change) {
      assertOpen();
      const e = entries.get(key(spi, direction));
      if (!e) unwrapNative(addon, -2, `updateSa(spi ${hex(spi)}, ${direction})`);
      else e.record = { ...e.record, ...structuredClone(change) };
      // A new peer endpoint (MOBIKE, NAT remapping): routes sending with this SA follow it.
      if (direction === 'out') for (const slot of slots.values()) if (slot.installedSpi !== null && slot.installedSpi >>> 0 === spi >>> 0) syncSlot(slot, true);
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
      unwrapNative(addon, rc, `delSa(spi ${hex(spi)}, ${direction})`);
    },

    async addPolicy(p: PolicyParams) {
      assertOpen();
      if (policies.some((q) => policyId(q) === policyId(p))) throw codeError(`addPolicy(${p.childId}, ${p.direction}): duplicate`, 'EEXIST');
      if (p.direction === 'out' && worker) {
        // Refuse before recording, so a policy that cannot carry traffic is visible as a failed effect.
        const path = p.spi === undefined ? 'no SPI in the outbound policy' : outboundPath(p.spi);
        if (typeof path === 'string') throw codeError(`addPolicy(${p.childId}, out): ${path}`, 'EOPNOTSUPP');
      }
      const copy = structuredClone(p);
      policies.push(copy);
      if (p.direction === 'out') {
        try {
          claim(copy);
        } catch (err) {
          policies.splice(policies.indexOf(copy), 1);
          try {
            unclaim(copy);
          } catch {
            // the first failure is the one to report
          }
          throw err;
        }
      }
    },

    async delPolicy(p: PolicyParams) {
      const i = policies.findIndex((q) => policyId(q) === policyId(p));
      if (i < 0) throw codeError(`delPolicy(${p.childId}, ${p.direction}): no such policy`, 'ENOENT');
      const [gone] = policies.splice(i, 1);
      if (gone && gone.direction === 'out') unclaim(gone);
    },

    onEvent(listener) {
      listeners.push(listener);
    },

    async close() {
      if (closed) return;
      closed = true;
      stopWorker();
      for (const k of [...entries.keys()]) {
        const [dir, spi] = k.split(':') as ['in' | 'out', string];
        dropEntry(Number(spi), dir);
        addon.saDel(Number(spi), dir);
      }
      addon.onEvents(null);
      // The device goes with its last fd, and every route through it with the device.
      if (tun) addon.closeFd(tun.fd);
      tun = null;
      listeners.length = 0;
      policies.length = 0;
      slots.clear();
      kernel.clear();
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

    tunName: () => tun?.name ?? null,

    openNattTransport({ sockets, onIke }) {
      assertOpen();
      if (!tun) throw codeError('openNattTransport: the userspace data plane was created without a TUN device', 'ENODEV');
      if (worker) throw codeError('openNattTransport: a NAT-T transport is open already', 'EBUSY');
      const started = addon.workerStart({
        tunFd: tun.fd,
        sockets: sockets.map((s) => ({ addr: s.address, port: s.port, v6only: s.address.includes(':') })),
        ...(tun.netnsPath ? { netnsPath: tun.netnsPath } : {}),
        tunMtu: opts.tun?.mtu ?? DEFAULT_TUN_MTU,
        pathMtu: opts.pathMtu ?? DEFAULT_PATH_MTU,
        clampMss: opts.clampMss ?? true,
        plainEsp: opts.plainEsp ?? true,
        udpOffload: opts.udpOffload ?? true,
        onIke: (msg, addr, port, localAddr, localPort) => {
          try {
            onIke({ local: { addr: localAddr, port: localPort }, remote: { addr, port }, data: msg });
          } catch (err) {
            log.warn('data plane: IKE handler failed', { error: err instanceof Error ? err.message : String(err) });
          }
        },
      });
      const w = unwrapNative(addon, started, `cannot open NAT-T sockets ${sockets.map((s) => `${s.address.includes(':') ? `[${s.address}]` : s.address}:${s.port}`).join(', ')}`);
      const bound = w.sockets.map((s, i) => ({ address: sockets[i]?.address ?? s.addr, port: s.port, family: (s.addr.includes(':') ? 6 : 4) as 4 | 6 }));
      const plainEspError = w.plainEsp.error < 0 ? addon.errnoName(w.plainEsp.error) : null;
      if ((opts.plainEsp ?? true) && plainEspError) {
        log.warn(`data plane: no raw ESP socket (${plainEspError}${plainEspError === 'EPERM' ? ': needs CAP_NET_RAW' : ''}); peers without NAT need encapsulation: true`);
      }
      let open = true;
      const transport: NattTransport = {
        sockets: bound,
        plainEspFamilies: [...w.plainEsp.families],
        send(d) {
          if (!open || !worker) return false;
          const local = isWildcard(d.local.addr) ? undefined : d.local.addr;
          return addon.workerSendIke(w.handle, d.data, d.remote.addr, d.remote.port, local, d.local.port) === 0;
        },
        stats() {
          const s = open ? addon.workerStats(w.handle) : -108;
          return typeof s === 'number' ? null : s;
        },
        close() {
          if (!open) return;
          open = false;
          if (worker?.handle === w.handle) stopWorker();
        },
      };
      worker = { handle: w.handle, transport, plainEspError };
      // Policies recorded before the worker existed get their routes now.
      for (const slot of slots.values()) {
        try {
          syncSlot(slot, true);
        } catch (err) {
          log.warn(`data plane: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      log.debug('data plane: packet worker started', {
        tun: tun.name,
        tunOffload: tun.offload,
        udpOffload: opts.udpOffload ?? true,
        sockets: bound.map((b) => `${b.address}:${b.port}`),
        plainEsp: transport.plainEspFamilies.map((f) => `IPv${f}`),
      });
      return transport;
    },

    routes() {
      return [...slots.values()].filter((s) => s.installedSpi !== null).map((s) => ({ prefix: prefixKey(s.prefix), spi: s.installedSpi! }));
    },

    kernelRoutes() {
      return [...kernel.values()].filter((k) => k.ours).map((k) => prefixKey(k.prefix));
    },

    workerStats() {
      return worker?.transport.stats() ?? null;
    },
  };
  return dp;
}
