// The kernel data-plane backend (ARCHITECTURE.md §4): ESP SAs and SPD entries in Linux XFRM over NETLINK_XFRM (RFC 4301 §4.4).
//
// Ownership: the kernel holds keys, counters, replay state and every lifetime (it sends the soft/hard expire
// notifications itself); keys pass through to C once and are never kept here. This file keeps what the kernel
// does not know: the engine's childId per SA (for events), the reqids tying SAs to policy templates, the SPIs it
// reserved, and which CHILD_SAs use each kernel policy. Two CHILD_SAs with equal selectors (make-before-break
// rekeying) share one kernel entry: the newest user's template is installed (UPDPOLICY), the entry goes when its
// last user does.
//
// Reqids follow strongSwan: CHILD_SAs between the same peers with the same selectors (a CHILD_SA and its rekeyed
// successor) share one, and in/fwd templates carry no SPI, because the kernel's inbound check (xfrm_state_ok)
// compares both with the SA a packet arrived on: packets still on the old inbound SA during a rekey must pass.
// Out templates name the SPI, so UPDPOLICY moves outbound traffic to the new SA at the moment the engine says.
//
// NIC offload: `crypto` and `packet` are demands (an SA the kernel would install in software fails with
// EOPNOTSUPP); `auto` tries packet, then crypto, then none per SA, never failing for want of offload, records
// the mode each SA got, and stops trying a mode the device has shown it lacks.
import { formatIp, parseIp } from '../ike/ip.ts';
import type { Dataplane, DataplaneEvent, DataplaneFeatures, PolicyParams, SaCounters, SaParams } from './types.ts';
import { describeEspFeatures, type EspOffloadCapability } from './ethtool.ts';
import { xfrmAlgorithms } from './xfrm-algorithms.ts';
import { loadXfrmNative, xfrmError, type XfrmEvent, type XfrmHandle, type XfrmNative, type XfrmPolicySpec, type XfrmSaSpec } from './xfrm-native.ts';
import { kernelPolicyKey, policyPriority, policySelectors, selectorToRanges } from './xfrm-selectors.ts';

export type OffloadSetting = 'none' | 'crypto' | 'packet' | 'auto';
export type OffloadMode = 'none' | 'crypto' | 'packet';

export interface XfrmDataplaneOptions {
  native?: XfrmNative;
  /** Operate on another network namespace's XFRM tables (tests); default: this process's. */
  netnsPath?: string;
  offload?: OffloadSetting;
  /** Device for XFRMA_OFFLOAD_DEV; default: the kernel uses the device the route to the peer goes through. */
  offloadDev?: string;
  /** First reqid handed out; reqids tie SAs to policy templates. */
  reqidBase?: number;
  /** SPD priority base (lower wins); see policyPriority. */
  priorityBase?: number;
  log?: { info(msg: string, fields?: Record<string, unknown>): void };
}

export interface OffloadDegrade {
  spi: number;
  direction: 'in' | 'out';
  from: 'packet' | 'crypto';
  code: string;
  message: string;
}

export interface XfrmOffloadStatus {
  requested: OffloadSetting;
  /** The mode the most recently installed SA got ('none' before any). */
  current: OffloadMode;
  /** Installed SAs per mode actually in use. */
  counts: Record<OffloadMode, number>;
  /** Modes `auto` no longer tries: the device refused them. */
  unsupported: ('packet' | 'crypto')[];
  lastDegrade: OffloadDegrade | null;
  /** ethtool view of offloadDev, when one was configured. */
  device: EspOffloadCapability | null;
}

/** What the backend remembers about an SA: everything but the keys, plus the kernel's reqid and the offload used. */
export type XfrmSaRecord = Omit<SaParams, 'encKey' | 'integKey'> & { reqid: number; offload: OffloadMode };

export interface XfrmDataplane extends Dataplane {
  offloadStatus(): XfrmOffloadStatus;
  saRecord(spi: number, direction: 'in' | 'out'): XfrmSaRecord | undefined;
  policies(): PolicyParams[];
  /** Kernel SPD entries this backend installed (one PolicyParams may need several). */
  kernelPolicyCount(): number;
  eventStats(): { received: number; overruns: number; malformed: number; queueDrops: number; unmatched: number };
}

const MAX_RESERVED_SPIS = 4096;
/** Errors after which `auto` tries the next offload mode: the device or driver refused, not the SA itself. */
const DEGRADABLE = new Set(['EOPNOTSUPP', 'ENOTSUP', 'EINVAL', 'ENODEV', 'ENXIO', 'EBUSY', 'ENOSPC', 'ENOTSUPP', 'EUNKNOWN']);
/** Errors meaning the device lacks the mode altogether: `auto` stops trying it. */
const CAPABILITY = new Set(['EOPNOTSUPP', 'ENOTSUP', 'ENODEV', 'ENXIO', 'ENOTSUPP']);

const saKey = (spi: number, dir: string) => `${dir}:${spi >>> 0}`;
const hex = (spi: number) => `0x${(spi >>> 0).toString(16).padStart(8, '0')}`;

function codeError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

function family(addr: string): 4 | 6 | 0 {
  const b = parseIp(addr);
  return b ? (b.length === 4 ? 4 : 6) : 0;
}

/** Canonical text, so kernel notifications (inet_ntop) match what the engine passed in. */
function canonical(addr: string): string {
  const b = parseIp(addr);
  return b ? formatIp(b) : addr;
}

/** Why the kernel would say something vague, in words the operator can act on. */
function hint(code: string): string {
  if (code === 'EPROTONOSUPPORT') return ' — the kernel has no ESP (CONFIG_INET_ESP / CONFIG_INET6_ESP); use dataplane.backend: userspace';
  if (code === 'ENOSYS') return ' — the kernel lacks this algorithm';
  if (code === 'EPERM' || code === 'EACCES') return ' — needs CAP_NET_ADMIN';
  return '';
}

function lifetimeProblem(l: SaParams['lifetime']): string | null {
  if (l.hardSec > 0 && l.softSec > l.hardSec) return `soft lifetime ${l.softSec}s exceeds hard lifetime ${l.hardSec}s`;
  if (l.softBytes !== undefined && l.hardBytes !== undefined && l.softBytes > l.hardBytes) return 'soft byte limit exceeds hard byte limit';
  if (l.softPackets !== undefined && l.hardPackets !== undefined && l.softPackets > l.hardPackets) return 'soft packet limit exceeds hard packet limit';
  return null;
}

function policyKey(p: PolicyParams): string {
  const ts = (t: PolicyParams['localTs']) => `${canonical(t.startAddr)}-${canonical(t.endAddr)}/${t.ipProtocol}/${t.startPort}-${t.endPort}`;
  return `${p.childId}|${p.direction}|${ts(p.localTs)}|${ts(p.remoteTs)}`;
}

interface SaEntry {
  record: XfrmSaRecord;
}

interface PolicyUser {
  userKey: string;
  spec: XfrmPolicySpec;
}

interface KernelSlot {
  users: PolicyUser[]; // install order; the last one's template is in the kernel
}

export function createXfrmDataplane(opts: XfrmDataplaneOptions = {}): XfrmDataplane {
  const native = opts.native ?? loadXfrmNative();
  const requested: OffloadSetting = opts.offload ?? 'none';
  const priorityBase = opts.priorityBase ?? 100_000;
  const listeners: Array<(e: DataplaneEvent) => void> = [];
  const entries = new Map<string, SaEntry>();
  const byDst = new Map<string, string>(); // `${dst}|${spi}` -> saKey: how kernel notifications name SAs
  const hardExpired = new Set<string>();
  const reserved = new Set<number>(); // SPIs held by larval SAs from ALLOCSPI
  const reqids = new Map<string, { reqid: number; users: number }>(); // lineage key -> reqid
  const childReqid = new Map<string, { key: string; users: number }>(); // childId -> its lineage
  const userPolicies = new Map<string, { params: PolicyParams; kernelKeys: string[] }>();
  const slots = new Map<string, KernelSlot>();
  const unsupported = new Set<'packet' | 'crypto'>();
  const counts: Record<OffloadMode, number> = { none: 0, crypto: 0, packet: 0 };
  let current: OffloadMode = 'none';
  let lastDegrade: OffloadDegrade | null = null;
  let nextReqid = opts.reqidBase ?? 1;
  let unmatched = 0;
  let closed = false;

  const emit = (e: DataplaneEvent) => {
    for (const l of listeners) l(e);
  };

  const onKernelEvent = (e: XfrmEvent) => {
    if (closed) return;
    if (e.type === 'expire') {
      const spi = e.spi >>> 0;
      if ((e.dst === '0.0.0.0' || e.dst === '::') && reserved.delete(spi)) return; // an unused reservation timed out
      const k = byDst.get(`${e.dst}|${spi}`);
      const entry = k ? entries.get(k) : undefined;
      if (!k || !entry) {
        unmatched++;
        return;
      }
      const { record } = entry;
      if (e.hard) {
        // The kernel has already removed it; the engine's later delSa is expected, not an error.
        dropEntry(k);
        hardExpired.add(k);
      }
      emit({ type: 'expire', kind: e.hard ? 'hard' : 'soft', spi, direction: record.direction, childId: record.childId });
    } else if (e.type === 'acquire') {
      const r = selectorToRanges(e.sel);
      // Acquires come from outbound policies: the packet's source is on our side.
      emit({ type: 'acquire', localTs: r.src, remoteTs: r.dst });
    } else {
      emit({ type: 'mapping', spi: e.spi >>> 0, newRemote: { addr: e.newSrc, port: e.newSport } });
    }
  };

  const opened = native.xfrmOpen({ ...(opts.netnsPath ? { netnsPath: opts.netnsPath } : {}), onEvent: onKernelEvent });
  if (typeof opened === 'number') throw xfrmError(native, opened, `xfrm: opening NETLINK_XFRM${opts.netnsPath ? ` in ${opts.netnsPath}` : ''}`);
  const h: XfrmHandle = opened;

  let offloadIfindex = 0;
  let device: EspOffloadCapability | null = null;
  if (opts.offloadDev) {
    const idx = native.xfrmIfindex(h, opts.offloadDev);
    if (idx < 0) {
      if (requested === 'crypto' || requested === 'packet') {
        native.xfrmClose(h);
        throw xfrmError(native, idx, `xfrm: offload device ${opts.offloadDev}`);
      }
      opts.log?.info(`xfrm: offload device ${opts.offloadDev} not found (${native.errnoName(idx)}); the kernel picks the routed device`);
    } else {
      offloadIfindex = idx;
      const raw = native.xfrmEthtoolEsp(h, opts.offloadDev);
      if (typeof raw !== 'number') device = describeEspFeatures(opts.offloadDev, raw);
    }
  }

  const fail = (rc: number, what: string): never => {
    const err = xfrmError(native, rc, what, native.xfrmLastError(h));
    err.message += hint(err.code);
    throw err;
  };

  const assertOpen = () => {
    if (closed) throw codeError('ESHUTDOWN', 'xfrm data plane is closed');
  };

  /** The reqid of a CHILD_SA: its own if known, else the one of its lineage (same peers and selectors). */
  const takeReqid = (childId: string, lineage?: string): number => {
    let c = childReqid.get(childId);
    if (!c) {
      c = { key: lineage ?? `child:${childId}`, users: 0 };
      childReqid.set(childId, c);
    }
    c.users++;
    let r = reqids.get(c.key);
    if (!r) {
      r = { reqid: nextReqid++, users: 0 };
      if (nextReqid > 0xffffffff) nextReqid = opts.reqidBase ?? 1;
      reqids.set(c.key, r);
    }
    r.users++;
    return r.reqid;
  };

  const releaseReqid = (childId: string) => {
    const c = childReqid.get(childId);
    if (!c) return;
    if (--c.users <= 0) childReqid.delete(childId);
    const r = reqids.get(c.key);
    if (r && --r.users <= 0) reqids.delete(c.key);
  };

  const dropEntry = (k: string) => {
    const e = entries.get(k);
    if (!e) return;
    entries.delete(k);
    byDst.delete(`${canonical(e.record.dst)}|${e.record.spi >>> 0}`);
    counts[e.record.offload]--;
    releaseReqid(e.record.childId);
  };

  const offloadFor = (childId: string, dir: 'in' | 'out'): OffloadMode => {
    for (const e of entries.values()) if (e.record.childId === childId && e.record.direction === dir) return e.record.offload;
    return 'none';
  };

  /** Installs one SA in `mode`; returns the mode the kernel really used, or the errno. */
  const installSa = (spec: XfrmSaSpec, mode: OffloadMode): { rc: number; text: string; used: OffloadMode } => {
    const rc = native.xfrmAddSa(h, { ...spec, offload: mode, offloadIfindex: mode === 'none' ? 0 : offloadIfindex }, false);
    const text = rc < 0 ? native.xfrmLastError(h) : '';
    if (rc < 0 || mode === 'none') return { rc, text, used: 'none' };
    // Crypto offload on a device without xdo_dev_state_add silently stays in software: ask what we got.
    const st = native.xfrmGetSa(h, { dst: spec.dst, spi: spec.spi });
    const used: OffloadMode = typeof st === 'number' || !st.offload ? 'none' : st.offload.packet ? 'packet' : 'crypto';
    return { rc: 0, text: '', used };
  };

  const slotSpec = (k: string): XfrmPolicySpec | undefined => slots.get(k)?.users.at(-1)?.spec;

  return {
    features(): DataplaneFeatures {
      return { backend: 'xfrm', offload: current, esn: true, udpEncap: true };
    },

    async allocSpi() {
      assertOpen();
      for (let attempt = 0; attempt < 16; attempt++) {
        // No addresses in this interface: the reservation lives at 0.0.0.0, unique among this kernel's larval SAs.
        const rc = native.xfrmAllocSpi(h, { src: '0.0.0.0', dst: '0.0.0.0', min: 256, max: 0xffffffff });
        if (rc < 0) fail(rc, 'allocSpi');
        const spi = rc >>> 0;
        if (reserved.has(spi) || entries.has(saKey(spi, 'in'))) continue;
        if (reserved.size >= MAX_RESERVED_SPIS) {
          const oldest = reserved.values().next().value as number;
          reserved.delete(oldest);
          native.xfrmDelSa(h, { dst: '0.0.0.0', spi: oldest });
        }
        reserved.add(spi);
        return spi;
      }
      throw codeError('EAGAIN', 'allocSpi: no free SPI after 16 kernel allocations');
    },

    async addSa(sa) {
      assertOpen();
      const k = saKey(sa.spi, sa.direction);
      const what = `addSa(spi ${hex(sa.spi)}, ${sa.direction})`;
      if (entries.has(k)) throw codeError('EEXIST', `${what}: duplicate SPI`);
      const bad = lifetimeProblem(sa.lifetime);
      if (bad) throw codeError('EINVAL', `${what}: ${bad}`);
      const fam = family(sa.src);
      if (fam === 0 || fam !== family(sa.dst)) throw codeError('EINVAL', `${what}: outer addresses ${sa.src} → ${sa.dst} are not two addresses of one family`);
      const alg = xfrmAlgorithms(sa.encrId, sa.encrKeyBits, sa.integId, sa.encKey.length, sa.integKey.length);
      if (!alg.ok) throw codeError('EINVAL', `${what}: ${alg.error}`);
      const l = sa.lifetime;
      const [local, peer] = sa.direction === 'out' ? [sa.src, sa.dst] : [sa.dst, sa.src];
      const tsKey = (t: SaParams['localTs']) => t.map((r) => `${canonical(r.startAddr)}-${canonical(r.endAddr)}/${r.ipProtocol}/${r.startPort}-${r.endPort}`).sort().join(',');
      const reqid = takeReqid(sa.childId, `${canonical(local)}|${canonical(peer)}|${tsKey(sa.localTs)}|${tsKey(sa.remoteTs)}`);
      const spec: XfrmSaSpec = {
        src: sa.src,
        dst: sa.dst,
        spi: sa.spi >>> 0,
        reqid,
        mode: 'tunnel',
        ...alg.value,
        encKey: sa.encKey,
        authKey: sa.integKey,
        esn: sa.esn,
        replayWindow: sa.direction === 'in' ? sa.replayWindow : 0,
        ...(sa.encap ? { encapSport: sa.encap.srcPort, encapDport: sa.encap.dstPort } : {}),
        softBytes: l.softBytes,
        hardBytes: l.hardBytes,
        softPackets: l.softPackets,
        hardPackets: l.hardPackets,
        softAddSec: l.softSec,
        hardAddSec: l.hardSec,
        inbound: sa.direction === 'in',
      };
      const modes: OffloadMode[] = requested === 'auto' ? (['packet', 'crypto', 'none'] as const).filter((m) => m === 'none' || !unsupported.has(m)) : [requested];
      let used: OffloadMode | null = null;
      for (const mode of modes) {
        const r = installSa(spec, mode);
        if (r.rc === 0) {
          if (r.used !== mode && requested !== 'auto') {
            native.xfrmDelSa(h, { dst: sa.dst, spi: sa.spi >>> 0 });
            releaseReqid(sa.childId);
            throw codeError('EOPNOTSUPP', `${what}: offload ${mode} requested but the kernel installed the SA in software (the device has no ESP offload)`);
          }
          if (r.used !== mode && mode !== 'none') {
            unsupported.add(mode);
            lastDegrade = { spi: sa.spi >>> 0, direction: sa.direction, from: mode, code: 'EOPNOTSUPP', message: 'kernel fell back to software' };
          }
          used = r.used;
          break;
        }
        const code = native.errnoName(r.rc);
        if (requested === 'auto' && mode !== 'none' && DEGRADABLE.has(code)) {
          lastDegrade = { spi: sa.spi >>> 0, direction: sa.direction, from: mode, code, message: r.text };
          if (CAPABILITY.has(code)) unsupported.add(mode);
          opts.log?.info(`xfrm: ${what}: ${mode} offload refused (${code}${r.text ? `: ${r.text}` : ''}), trying the next mode`);
          continue;
        }
        releaseReqid(sa.childId);
        const err = xfrmError(native, r.rc, what, r.text);
        err.message += hint(err.code);
        throw err;
      }
      if (used === null) {
        releaseReqid(sa.childId);
        throw codeError('EIO', `${what}: no offload mode left to try`);
      }
      if (sa.direction === 'in' && reserved.delete(sa.spi >>> 0)) native.xfrmDelSa(h, { dst: '0.0.0.0', spi: sa.spi >>> 0 });
      hardExpired.delete(k);
      const { encKey: _e, integKey: _i, ...rest } = sa;
      entries.set(k, { record: { ...structuredClone(rest), reqid, offload: used } });
      byDst.set(`${canonical(sa.dst)}|${sa.spi >>> 0}`, k);
      counts[used]++;
      current = used;
    },

    async updateSa(spi, direction, change) {
      assertOpen();
      const k = saKey(spi, direction);
      const e = entries.get(k);
      const what = `updateSa(spi ${hex(spi)}, ${direction})`;
      if (!e) throw codeError('ENOENT', `${what}: no such SA`);
      const src = change.src ?? e.record.src;
      const dst = change.dst ?? e.record.dst;
      const encap = 'encap' in change ? change.encap : e.record.encap;
      const fam = family(src);
      if (fam === 0 || fam !== family(dst)) throw codeError('EINVAL', `${what}: outer addresses ${src} → ${dst} are not two addresses of one family`);
      const rc = native.xfrmMoveSa(h, { dst: e.record.dst, spi: spi >>> 0, newSrc: src, newDst: dst, ...(encap ? { encapSport: encap.srcPort, encapDport: encap.dstPort } : {}) });
      if (rc < 0) fail(rc, what);
      byDst.delete(`${canonical(e.record.dst)}|${spi >>> 0}`);
      e.record = { ...e.record, src, dst };
      if (encap) e.record.encap = { ...encap };
      else delete e.record.encap;
      byDst.set(`${canonical(dst)}|${spi >>> 0}`, k);
    },

    async querySa(spi, direction): Promise<SaCounters | null> {
      assertOpen();
      const e = entries.get(saKey(spi, direction));
      if (!e) return null;
      const st = native.xfrmGetSa(h, { dst: e.record.dst, spi: spi >>> 0 });
      if (typeof st === 'number') {
        if (st === -3 /* ESRCH */ || st === -2 /* ENOENT */) return null;
        return fail(st, `querySa(spi ${hex(spi)}, ${direction})`);
      }
      return { bytes: Number(st.current.bytes), packets: Number(st.current.packets), lastUsedMs: st.current.useTime ? st.current.useTime * 1000 : null };
    },

    async delSa(spi, direction) {
      assertOpen();
      const k = saKey(spi, direction);
      const e = entries.get(k);
      if (!e) {
        if (hardExpired.delete(k)) return;
        throw codeError('ENOENT', `delSa(spi ${hex(spi)}, ${direction}): no such SA`);
      }
      const rc = native.xfrmDelSa(h, { dst: e.record.dst, spi: spi >>> 0 });
      dropEntry(k);
      // ESRCH: the kernel removed it first (a hard expiry whose notification is still on its way).
      if (rc < 0 && rc !== -3) fail(rc, `delSa(spi ${hex(spi)}, ${direction})`);
    },

    async addPolicy(p) {
      assertOpen();
      const what = `addPolicy(${p.childId}, ${p.direction})`;
      if (p.direction !== 'in' && p.direction !== 'out' && p.direction !== 'fwd') throw codeError('EINVAL', `${what}: bad direction`);
      const sels = policySelectors(p);
      if (!sels.ok) throw codeError('EINVAL', `${what}: ${sels.error}`);
      const tf = family(p.outerSrc);
      if (tf === 0 || tf !== family(p.outerDst)) throw codeError('EINVAL', `${what}: outer addresses ${p.outerSrc} → ${p.outerDst} are not two addresses of one family`);
      const uk = policyKey(p);
      if (userPolicies.has(uk)) throw codeError('EEXIST', `${what}: duplicate`);
      const reqid = takeReqid(p.childId);
      // Packet offload needs the policy offloaded too (same device as the SA); forwarding policies cannot be.
      const offloadPacket = p.direction !== 'fwd' && offloadFor(p.childId, p.direction) === 'packet';
      const done: { k: string }[] = [];
      for (const sel of sels.value) {
        const k = kernelPolicyKey(p.direction, sel);
        const slot = slots.get(k);
        let spec: XfrmPolicySpec = {
          dir: p.direction,
          ...sel,
          priority: policyPriority(sel, priorityBase),
          tmplSrc: p.outerSrc,
          tmplDst: p.outerDst,
          tmplSpi: p.direction === 'out' ? (p.spi ?? 0) : 0,
          reqid,
          tmplMode: 'tunnel',
          ...(offloadPacket ? { offloadPacket: true, offloadIfindex } : {}),
        };
        let rc = native.xfrmAddPolicy(h, spec, slot !== undefined);
        if (rc < 0 && offloadPacket && DEGRADABLE.has(native.errnoName(rc))) {
          spec = { ...spec, offloadPacket: false, offloadIfindex: 0 };
          rc = native.xfrmAddPolicy(h, spec, slot !== undefined);
        }
        if (rc < 0) {
          const err = xfrmError(native, rc, what, native.xfrmLastError(h));
          // Undo this call's entries so a failed install leaves the SPD as it was.
          for (const d of done.reverse()) {
            const s = slots.get(d.k);
            const mine = s?.users.pop();
            if (s && s.users.length > 0) native.xfrmAddPolicy(h, s.users.at(-1)!.spec, true);
            else {
              slots.delete(d.k);
              if (mine) native.xfrmDelPolicy(h, mine.spec);
            }
          }
          releaseReqid(p.childId);
          throw err;
        }
        if (slot) slot.users.push({ userKey: uk, spec });
        else slots.set(k, { users: [{ userKey: uk, spec }] });
        done.push({ k });
      }
      userPolicies.set(uk, { params: structuredClone(p), kernelKeys: done.map((d) => d.k) });
    },

    async delPolicy(p) {
      assertOpen();
      const what = `delPolicy(${p.childId}, ${p.direction})`;
      const uk = policyKey(p);
      const entry = userPolicies.get(uk);
      if (!entry) throw codeError('ENOENT', `${what}: no such policy`);
      userPolicies.delete(uk);
      let firstError: Error | null = null;
      for (const k of entry.kernelKeys) {
        const slot = slots.get(k);
        if (!slot) continue;
        const i = slot.users.findIndex((u) => u.userKey === uk);
        const [gone] = i >= 0 ? slot.users.splice(i, 1) : [];
        let rc = 0;
        if (slot.users.length > 0) {
          // Another CHILD_SA still uses these selectors: put its template back if ours was the installed one.
          if (i === slot.users.length) rc = native.xfrmAddPolicy(h, slot.users.at(-1)!.spec, true);
        } else {
          slots.delete(k);
          if (gone) rc = native.xfrmDelPolicy(h, gone.spec);
          if (rc === -2) rc = 0; // already gone from the kernel
        }
        if (rc < 0 && !firstError) firstError = xfrmError(native, rc, what, native.xfrmLastError(h));
      }
      releaseReqid(p.childId);
      if (firstError) throw firstError;
    },

    onEvent(listener) {
      listeners.push(listener);
    },

    async close() {
      if (closed) return;
      for (const [k, e] of [...entries]) {
        native.xfrmDelSa(h, { dst: e.record.dst, spi: e.record.spi >>> 0 });
        dropEntry(k);
      }
      for (const slot of slots.values()) {
        const spec = slot.users.at(-1)?.spec;
        if (spec) native.xfrmDelPolicy(h, spec);
      }
      for (const spi of reserved) native.xfrmDelSa(h, { dst: '0.0.0.0', spi });
      closed = true;
      native.xfrmClose(h);
      slots.clear();
      userPolicies.clear();
      reserved.clear();
      hardExpired.clear();
      reqids.clear();
      childReqid.clear();
      listeners.length = 0;
    },

    offloadStatus(): XfrmOffloadStatus {
      return { requested, current, counts: { ...counts }, unsupported: [...unsupported], lastDegrade, device };
    },

    saRecord(spi, direction) {
      const e = entries.get(saKey(spi, direction));
      return e ? structuredClone(e.record) : undefined;
    },

    policies() {
      return [...userPolicies.values()].map((u) => structuredClone(u.params));
    },

    kernelPolicyCount() {
      return slots.size;
    },

    eventStats() {
      const s = closed ? -1 : native.xfrmEventStats(h);
      const base = typeof s === 'number' ? { received: 0, overruns: 0, malformed: 0, queueDrops: 0 } : s;
      return { ...base, unmatched };
    },
  };
}
