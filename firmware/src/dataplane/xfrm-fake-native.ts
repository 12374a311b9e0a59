// Test double of the addon's XFRM functions: an in-memory SAD/SPD with the kernel's answers (linux/xfrm.h semantics), for tests.
//
// It models what the backend relies on, as measured on real kernels: SAs keyed by (dst, SPI); NEWSA on an
// existing key is EEXIST; UPDSA needs one; NEWPOLICY on an existing (direction, selector) is EEXIST while
// UPDPOLICY adds or replaces; crypto offload on a device without ESP offload silently stays in software
// (GETSA then has no XFRMA_OFFLOAD_DEV); packet offload there is EINVAL. Not a kernel: no packets, no timers.
import type { EthtoolEsp, XfrmEvent, XfrmHandle, XfrmNative, XfrmPolicySpec, XfrmSaSpec, XfrmSaState } from './xfrm-native.ts';
import { kernelPolicyKey } from './xfrm-selectors.ts';

const ERRNO: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 6: 'ENXIO', 16: 'EBUSY', 17: 'EEXIST', 19: 'ENODEV', 22: 'EINVAL', 28: 'ENOSPC',
  38: 'ENOSYS', 42: 'ENOMSG', 74: 'EBADMSG', 93: 'EPROTONOSUPPORT', 95: 'EOPNOTSUPP', 97: 'EAFNOSUPPORT', 108: 'ESHUTDOWN', 114: 'EALREADY',
};

export const errnoName = (code: number): string => ERRNO[Math.abs(code)] ?? 'EUNKNOWN';

export interface FakeKernelOptions {
  /** What NEWSA answers regardless of offload (e.g. -93: no ESP). */
  newsaError?: { rc: number; text: string };
  /** Device behaviour: 'ok' offloads, 'silent' (crypto only) stays in software, a number is the errno. */
  packet?: 'ok' | number;
  crypto?: 'ok' | 'silent' | number;
  ifaces?: Record<string, number>;
  /** SPIs ALLOCSPI hands out, in order (then counting up from 0x10000). */
  spis?: number[];
}

export interface FakeKernel extends XfrmNative {
  sas: Map<string, XfrmSaSpec & { offloadUsed: 'none' | 'crypto' | 'packet'; bytes: bigint; packets: bigint }>;
  policies: Map<string, XfrmPolicySpec>;
  calls: string[];
  /** Delivers a notification as the events thread would. */
  notify(e: XfrmEvent): void;
  open: boolean;
}

export function createFakeKernel(opts: FakeKernelOptions = {}): FakeKernel {
  const sas: FakeKernel['sas'] = new Map();
  const policies = new Map<string, XfrmPolicySpec>();
  const calls: string[] = [];
  const spis = [...(opts.spis ?? [])];
  let nextSpi = 0x10000;
  let lastError = '';
  let listener: ((e: XfrmEvent) => void) | undefined;
  const handle = {} as XfrmHandle;
  const saKey = (dst: string, spi: number) => `${dst}|${spi >>> 0}`;

  const fake: FakeKernel = {
    sas,
    policies,
    calls,
    open: false,
    notify(e) {
      listener?.(e);
    },
    errnoName,
    xfrmOpen(o) {
      fake.open = true;
      listener = o.onEvent;
      return handle;
    },
    xfrmClose() {
      if (!fake.open) return -114;
      fake.open = false;
      return 0;
    },
    xfrmLastError: () => lastError,
    xfrmAddSa(_h, sa, update) {
      calls.push(`${update ? 'updsa' : 'newsa'} ${sa.dst} ${(sa.spi >>> 0).toString(16)} ${sa.offload ?? 'none'}`);
      lastError = '';
      if (opts.newsaError) {
        lastError = opts.newsaError.text;
        return opts.newsaError.rc;
      }
      const k = saKey(sa.dst, sa.spi);
      if (!update && sas.has(k)) return -17;
      let used: 'none' | 'crypto' | 'packet' = 'none';
      if (sa.offload === 'packet') {
        const p = opts.packet ?? -22;
        if (p !== 'ok') {
          lastError = 'Device failed to offload this state';
          return p;
        }
        used = 'packet';
      } else if (sa.offload === 'crypto') {
        const c = opts.crypto ?? 'silent';
        if (typeof c === 'number') {
          lastError = 'Device failed to offload this state';
          return c;
        }
        used = c === 'ok' ? 'crypto' : 'none';
      }
      sas.set(k, { ...sa, encKey: sa.encKey.slice(), offloadUsed: used, bytes: 0n, packets: 0n });
      return 0;
    },
    xfrmDelSa(_h, id) {
      calls.push(`delsa ${id.dst} ${(id.spi >>> 0).toString(16)}`);
      return sas.delete(saKey(id.dst, id.spi)) ? 0 : -3;
    },
    xfrmGetSa(_h, id): XfrmSaState | number {
      const s = sas.get(saKey(id.dst, id.spi));
      if (!s) return -3;
      return {
        family: s.dst.includes(':') ? 6 : 4, src: s.src, dst: s.dst, spi: s.spi >>> 0, reqid: s.reqid, mode: 'tunnel', flags: 0, esn: s.esn,
        replayWindow: s.replayWindow, oseq: 0, seq: 0, oseqHi: 0, seqHi: 0,
        lifetime: { softBytes: 0n, hardBytes: 0n, softPackets: 0n, hardPackets: 0n, softAddSec: BigInt(s.softAddSec ?? 0), hardAddSec: BigInt(s.hardAddSec ?? 0) },
        current: { bytes: s.bytes, packets: s.packets, addTime: 1, useTime: s.packets > 0n ? 1_700_000_000 : 0 },
        stats: { replayWindow: 0, replay: 0, integrityFailed: 0 }, lastUsed: 0,
        encap: s.encapSport ? { type: 2, sport: s.encapSport, dport: s.encapDport ?? 0 } : null,
        offload: s.offloadUsed === 'none' ? null : { ifindex: s.offloadIfindex ?? 0, flags: s.offloadUsed === 'packet' ? 4 : 0, packet: s.offloadUsed === 'packet', inbound: !!s.inbound },
        aead: s.aead ?? '', crypt: s.crypt ?? '', auth: s.auth ?? '',
      };
    },
    xfrmAllocSpi(_h, a) {
      const spi = spis.shift() ?? nextSpi++;
      calls.push(`allocspi ${a.dst} ${spi.toString(16)}`);
      sas.set(saKey(a.dst, spi), { src: a.src, dst: a.dst, spi, reqid: a.reqid ?? 0, encKey: new Uint8Array(0), esn: false, replayWindow: 0, offloadUsed: 'none', bytes: 0n, packets: 0n });
      return spi;
    },
    xfrmMoveSa(_h, m) {
      calls.push(`movesa ${m.dst} ${(m.spi >>> 0).toString(16)} -> ${m.newSrc} ${m.newDst} ${m.encapSport ?? 0}`);
      const k = saKey(m.dst, m.spi);
      const s = sas.get(k);
      if (!s) return -3;
      sas.delete(k);
      const moved = { ...s, src: m.newSrc, dst: m.newDst };
      if (m.encapSport) Object.assign(moved, { encapSport: m.encapSport, encapDport: m.encapDport });
      else {
        delete moved.encapSport;
        delete moved.encapDport;
      }
      sas.set(saKey(m.newDst, m.spi), moved);
      return 0;
    },
    xfrmAddPolicy(_h, p, update) {
      const k = kernelPolicyKey(p.dir, p);
      calls.push(`${update ? 'updpolicy' : 'newpolicy'} ${k} reqid ${p.reqid ?? 0}${p.offloadPacket ? ' packet' : ''}`);
      if (p.offloadPacket && opts.packet !== 'ok') return -22;
      if (!update && policies.has(k)) return -17;
      policies.set(k, { ...p });
      return 0;
    },
    xfrmDelPolicy(_h, p) {
      const k = kernelPolicyKey(p.dir, p);
      calls.push(`delpolicy ${k}`);
      return policies.delete(k) ? 0 : -2;
    },
    xfrmIfindex(_h, name) {
      return opts.ifaces?.[name] ?? -19;
    },
    xfrmEthtoolEsp(_h, name): EthtoolEsp | number {
      const idx = opts.ifaces?.[name];
      if (idx === undefined) return -19;
      const f = { present: true, available: false, requested: opts.crypto === 'ok', active: opts.crypto === 'ok', neverChanged: false };
      return { ifindex: idx, espHwOffload: f, espTxCsumHwOffload: f };
    },
    xfrmEventStats: () => ({ received: 0, overruns: 0, malformed: 0, queueDrops: 0 }),
    xfrmProbe: () => ({ openRc: 0, openWhat: '', steps: [] }),
    xfrmBuild: () => -95,
    xfrmParse: () => -95,
    xfrmLayout: () => ({ sizes: {}, offsets: {}, constants: {} }),
  };
  return fake;
}
