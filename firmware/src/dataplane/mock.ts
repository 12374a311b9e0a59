// In-memory data plane (ARCHITECTURE.md §4): SA and policy tables with kernel-like checks (RFC 4303 SPIs, RFC 4301 SPD), for tests.
import { isIP } from 'node:net';
import { EncrId, IntegId } from '../ike/constants.ts';
import type { Dataplane, DataplaneEvent, DataplaneFeatures, PolicyParams, SaCounters, SaParams, TsRange } from './types.ts';

export interface MockDataplaneOptions {
  /** Source for allocSpi (default Math.random); values in 1..255 are reserved (RFC 4303 §2.1) and skipped. */
  randomU32?: () => number;
  /** Clock for lastUsedMs in recordTraffic (default Date.now). */
  nowMs?: () => number;
  /** How many recent calls `calls` keeps (default 10,000). */
  maxCalls?: number;
}

export type MockOp = 'allocSpi' | 'addSa' | 'updateSa' | 'querySa' | 'delSa' | 'addPolicy' | 'delPolicy';

export interface MockCall {
  op: MockOp;
  spi?: number;
  direction?: 'in' | 'out' | 'fwd';
  childId?: string;
  ok: boolean;
  error?: string;
}

interface SaEntry {
  sa: SaParams;
  counters: SaCounters;
  softFired: boolean;
}

export interface MockDataplane extends Dataplane {
  /** Every call in order, failed ones included (no key material). */
  readonly calls: readonly MockCall[];
  listSas(): SaParams[];
  listPolicies(): PolicyParams[];
  getSa(spi: number, direction: 'in' | 'out'): SaParams | undefined;
  /** Pretend traffic flowed; fires soft/hard expire events when byte or packet limits are crossed. */
  recordTraffic(spi: number, direction: 'in' | 'out', bytes: number, packets?: number): void;
  /** Emit a data-plane event to the listeners, as a real backend would (expire, acquire, mapping). */
  emit(e: DataplaneEvent): void;
  /** Make the next call of `op` fail with `message` (to test error handling). */
  failNext(op: MockOp, message: string): void;
  readonly closed: boolean;
}

const AES_BITS = new Set([128, 192, 256]);

/** Expected encKey octets for an ENCR transform (salt included for AEAD/CTR, RFC 4106 §8.1, RFC 7634 §2); null = unsupported. */
function encKeyLen(encrId: number, bits: number | undefined): number | null {
  switch (encrId) {
    case EncrId.AES_GCM_8:
    case EncrId.AES_GCM_12:
    case EncrId.AES_GCM_16:
    case EncrId.AES_CTR:
      return bits !== undefined && AES_BITS.has(bits) ? bits / 8 + 4 : null;
    case EncrId.AES_CBC:
      return bits !== undefined && AES_BITS.has(bits) ? bits / 8 : null;
    case EncrId.CHACHA20_POLY1305:
      return 36;
    case EncrId.TRIPLE_DES:
      return 24;
    case EncrId.NULL:
      return 0;
    default:
      return null;
  }
}

const AEAD = new Set<number>([EncrId.AES_GCM_8, EncrId.AES_GCM_12, EncrId.AES_GCM_16, EncrId.CHACHA20_POLY1305]);

const INTEG_KEY_LEN: Record<number, number> = {
  [IntegId.NONE]: 0,
  [IntegId.HMAC_MD5_96]: 16,
  [IntegId.HMAC_SHA1_96]: 20,
  [IntegId.AES_XCBC_96]: 16,
  [IntegId.HMAC_SHA2_256_128]: 32,
  [IntegId.HMAC_SHA2_384_192]: 48,
  [IntegId.HMAC_SHA2_512_256]: 64,
};

function checkSpi(spi: number): string | null {
  if (!Number.isInteger(spi) || spi < 0 || spi > 0xffffffff) return `SPI ${spi} is not a 32-bit unsigned integer`;
  if (spi < 256) return `SPI ${spi} is reserved (RFC 4303 §2.1: 1..255 reserved, 0 local use)`;
  return null;
}

function checkTs(t: TsRange, where: string): string | null {
  const fs = isIP(t.startAddr);
  if (fs === 0 || isIP(t.endAddr) !== fs) return `${where}: bad address range ${t.startAddr}-${t.endAddr}`;
  if (t.startPort > t.endPort || t.endPort > 65535 || t.startPort < 0) return `${where}: bad port range ${t.startPort}-${t.endPort}`;
  if (t.ipProtocol < 0 || t.ipProtocol > 255) return `${where}: bad protocol ${t.ipProtocol}`;
  return null;
}

/** Why the SA would be refused by a kernel-like backend, or null. */
function checkSa(sa: SaParams): string | null {
  const spiErr = checkSpi(sa.spi);
  if (spiErr) return spiErr;
  if (sa.direction !== 'in' && sa.direction !== 'out') return `bad direction ${String(sa.direction)}`;
  const fs = isIP(sa.src);
  if (fs === 0 || isIP(sa.dst) !== fs) return `outer addresses ${sa.src} → ${sa.dst} are not two addresses of one family`;
  const encLen = encKeyLen(sa.encrId, sa.encrKeyBits);
  if (encLen === null) return `unsupported encryption ${sa.encrId}${sa.encrKeyBits ? `/${sa.encrKeyBits}` : ''}`;
  if (sa.encKey.length !== encLen) return `encryption key is ${sa.encKey.length} octets, expected ${encLen}`;
  if (AEAD.has(sa.encrId) && sa.integId !== IntegId.NONE) return 'AEAD encryption with a separate integrity algorithm';
  if (!AEAD.has(sa.encrId) && sa.integId === IntegId.NONE) return 'non-AEAD encryption without integrity';
  const integLen = INTEG_KEY_LEN[sa.integId];
  if (integLen === undefined) return `unsupported integrity ${sa.integId}`;
  if (sa.integKey.length !== integLen) return `integrity key is ${sa.integKey.length} octets, expected ${integLen}`;
  if (sa.encap && (sa.encap.srcPort < 1 || sa.encap.srcPort > 65535 || sa.encap.dstPort < 1 || sa.encap.dstPort > 65535)) {
    return `bad UDP encapsulation ports ${sa.encap.srcPort} → ${sa.encap.dstPort}`;
  }
  if (!Number.isInteger(sa.replayWindow) || sa.replayWindow < 0) return `bad replay window ${sa.replayWindow}`;
  const l = sa.lifetime;
  if (l.hardSec > 0 && l.softSec > l.hardSec) return `soft lifetime ${l.softSec}s exceeds hard lifetime ${l.hardSec}s`;
  if (l.softBytes !== undefined && l.hardBytes !== undefined && l.softBytes > l.hardBytes) return 'soft byte limit exceeds hard byte limit';
  for (const [i, t] of sa.localTs.entries()) {
    const e = checkTs(t, `localTs[${i}]`);
    if (e) return e;
  }
  for (const [i, t] of sa.remoteTs.entries()) {
    const e = checkTs(t, `remoteTs[${i}]`);
    if (e) return e;
  }
  return null;
}

function tsKey(t: TsRange): string {
  return `${t.startAddr}-${t.endAddr}/${t.ipProtocol}/${t.startPort}-${t.endPort}`;
}

/** Policies are keyed by child, direction and selectors: two CHILD_SAs may share selectors during make-before-break. */
function policyKey(p: PolicyParams): string {
  return `${p.childId}|${p.direction}|${tsKey(p.localTs)}|${tsKey(p.remoteTs)}`;
}

const saKey = (spi: number, direction: string): string => `${direction}:${spi >>> 0}`;

export function createMockDataplane(opts: MockDataplaneOptions = {}): MockDataplane {
  const random = opts.randomU32 ?? (() => Math.floor(Math.random() * 0x1_0000_0000));
  const now = opts.nowMs ?? Date.now;
  const sas = new Map<string, SaEntry>();
  const allocated = new Set<number>();
  const policies = new Map<string, PolicyParams>();
  const listeners: ((e: DataplaneEvent) => void)[] = [];
  const calls: MockCall[] = [];
  const MAX_CALLS = opts.maxCalls ?? 10_000;
  const failures = new Map<MockOp, string>();
  let closed = false;

  /** Records the call; throws (→ rejected promise) with `error` when set. */
  const finish = (call: Omit<MockCall, 'ok' | 'error'>, error: string | null): void => {
    const injected = failures.get(call.op);
    if (injected !== undefined) failures.delete(call.op);
    const why = closed ? 'data plane is closed' : (injected ?? error);
    calls.push(why ? { ...call, ok: false, error: why } : { ...call, ok: true });
    // Tests read the recent history; a long-running mock gateway must not grow without bound.
    if (calls.length > MAX_CALLS) calls.splice(0, calls.length - MAX_CALLS);
    if (why) throw new Error(`mock data plane: ${call.op}: ${why}`);
  };

  const emit = (e: DataplaneEvent): void => {
    for (const l of listeners) l(e);
  };

  const dp: MockDataplane = {
    calls,
    get closed() {
      return closed;
    },

    features(): DataplaneFeatures {
      return { backend: 'mock', offload: 'none', esn: true, udpEncap: true };
    },

    async allocSpi() {
      finish({ op: 'allocSpi' }, null);
      for (;;) {
        const spi = random() >>> 0;
        if (spi < 256 || allocated.has(spi) || sas.has(saKey(spi, 'in'))) continue;
        allocated.add(spi);
        return spi;
      }
    },

    async addSa(sa) {
      const dup = sas.has(saKey(sa.spi, sa.direction)) ? `duplicate SPI 0x${(sa.spi >>> 0).toString(16).padStart(8, '0')} (${sa.direction})` : null;
      finish({ op: 'addSa', spi: sa.spi, direction: sa.direction, childId: sa.childId }, checkSa(sa) ?? dup);
      // Copy so later mutation by the caller cannot change what was "installed".
      const copy: SaParams = {
        ...sa,
        encKey: sa.encKey.slice(),
        integKey: sa.integKey.slice(),
        lifetime: { ...sa.lifetime },
        localTs: sa.localTs.map((t) => ({ ...t })),
        remoteTs: sa.remoteTs.map((t) => ({ ...t })),
        ...(sa.encap ? { encap: { ...sa.encap } } : {}),
      };
      sas.set(saKey(sa.spi, sa.direction), { sa: copy, counters: { bytes: 0, packets: 0, lastUsedMs: null }, softFired: false });
      if (sa.direction === 'in') allocated.delete(sa.spi >>> 0);
    },

    async updateSa(spi, direction, change) {
      const entry = sas.get(saKey(spi, direction));
      let error: string | null = entry ? null : `no SA with SPI 0x${(spi >>> 0).toString(16)} (${direction})`;
      if (!error && entry) {
        const src = change.src ?? entry.sa.src;
        const dst = change.dst ?? entry.sa.dst;
        if (isIP(src) === 0 || isIP(src) !== isIP(dst)) error = `outer addresses ${src} → ${dst} are not two addresses of one family`;
      }
      finish({ op: 'updateSa', spi, direction, childId: entry?.sa.childId }, error);
      if (!entry) return;
      if (change.src !== undefined) entry.sa.src = change.src;
      if (change.dst !== undefined) entry.sa.dst = change.dst;
      if ('encap' in change) {
        if (change.encap) entry.sa.encap = { ...change.encap };
        else delete entry.sa.encap;
      }
    },

    async querySa(spi, direction) {
      finish({ op: 'querySa', spi, direction }, null);
      const entry = sas.get(saKey(spi, direction));
      return entry ? { ...entry.counters } : null;
    },

    async delSa(spi, direction) {
      const entry = sas.get(saKey(spi, direction));
      finish({ op: 'delSa', spi, direction, childId: entry?.sa.childId }, entry ? null : `no SA with SPI 0x${(spi >>> 0).toString(16)} (${direction})`);
      sas.delete(saKey(spi, direction));
    },

    async addPolicy(p) {
      const err =
        (p.direction !== 'in' && p.direction !== 'out' && p.direction !== 'fwd' ? `bad direction ${String(p.direction)}` : null) ??
        checkTs(p.localTs, 'localTs') ??
        checkTs(p.remoteTs, 'remoteTs') ??
        (isIP(p.localTs.startAddr) !== isIP(p.remoteTs.startAddr) ? 'selectors of different address families' : null) ??
        (policies.has(policyKey(p)) ? `duplicate ${p.direction} policy ${tsKey(p.localTs)} === ${tsKey(p.remoteTs)}` : null);
      finish({ op: 'addPolicy', direction: p.direction, childId: p.childId, spi: p.spi }, err);
      policies.set(policyKey(p), { ...p, localTs: { ...p.localTs }, remoteTs: { ...p.remoteTs } });
    },

    async delPolicy(p) {
      const key = policyKey(p);
      finish({ op: 'delPolicy', direction: p.direction, childId: p.childId, spi: p.spi }, policies.has(key) ? null : `no ${p.direction} policy ${tsKey(p.localTs)} === ${tsKey(p.remoteTs)}`);
      policies.delete(key);
    },

    onEvent(listener) {
      listeners.push(listener);
    },

    async close() {
      closed = true;
      sas.clear();
      policies.clear();
      listeners.length = 0;
    },

    listSas: () => [...sas.values()].map((e) => e.sa),
    listPolicies: () => [...policies.values()],
    getSa: (spi, direction) => sas.get(saKey(spi, direction))?.sa,

    recordTraffic(spi, direction, bytes, packets = 1) {
      const entry = sas.get(saKey(spi, direction));
      if (!entry) throw new Error(`mock data plane: recordTraffic: no SA with SPI 0x${(spi >>> 0).toString(16)} (${direction})`);
      entry.counters.bytes += bytes;
      entry.counters.packets += packets;
      entry.counters.lastUsedMs = now();
      const l = entry.sa.lifetime;
      const c = entry.counters;
      const base = { spi: entry.sa.spi, direction, childId: entry.sa.childId } as const;
      if ((l.hardBytes !== undefined && c.bytes >= l.hardBytes) || (l.hardPackets !== undefined && c.packets >= l.hardPackets)) {
        sas.delete(saKey(spi, direction));
        emit({ type: 'expire', kind: 'hard', ...base });
      } else if (!entry.softFired && ((l.softBytes !== undefined && c.bytes >= l.softBytes) || (l.softPackets !== undefined && c.packets >= l.softPackets))) {
        entry.softFired = true;
        emit({ type: 'expire', kind: 'soft', ...base });
      }
    },

    emit,

    failNext(op, message) {
      failures.set(op, message);
    },
  };
  return dp;
}
