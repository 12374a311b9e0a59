// Typed surface of the addon's NETLINK_XFRM functions (native/src/op_xfrm_napi.c; linux/xfrm.h), loaded like the ESP addon.
import { loadNativeAddon, type NativeAddon } from './native-addon.ts';

/** Opaque handle: one NETLINK_XFRM socket (+ notification thread) in one network namespace. */
export type XfrmHandle = { readonly __xfrmHandle: unique symbol };

/** One SA as XFRM_MSG_NEWSA/UPDSA carries it. Names are the kernel's crypto API names. */
export interface XfrmSaSpec {
  src: string;
  dst: string;
  spi: number;
  reqid: number;
  mode?: 'tunnel' | 'transport';
  aead?: string; // XFRMA_ALG_AEAD, e.g. rfc4106(gcm(aes))
  icvBits?: number;
  crypt?: string; // XFRMA_ALG_CRYPT, e.g. cbc(aes)
  auth?: string; // XFRMA_ALG_AUTH_TRUNC, e.g. hmac(sha256)
  truncBits?: number;
  encKey: Uint8Array; // AEAD: key || salt
  authKey?: Uint8Array;
  esn: boolean;
  replayWindow: number; // at most 4096
  encapSport?: number; // XFRMA_ENCAP (UDP_ENCAP_ESPINUDP) when both are set
  encapDport?: number;
  softBytes?: number | bigint; // 0 / absent: no limit
  hardBytes?: number | bigint;
  softPackets?: number | bigint;
  hardPackets?: number | bigint;
  softAddSec?: number;
  hardAddSec?: number;
  offload?: 'none' | 'crypto' | 'packet'; // XFRMA_OFFLOAD_DEV; packet sets XFRM_OFFLOAD_PACKET
  offloadIfindex?: number; // 0: the kernel uses the device of the route
  inbound?: boolean; // XFRM_OFFLOAD_INBOUND
}

export interface XfrmSaId {
  dst: string;
  spi: number;
}

export interface XfrmSaMove extends XfrmSaId {
  newSrc: string;
  newDst: string;
  encapSport?: number;
  encapDport?: number;
}

/** One kernel SPD entry: selector as prefix + port/mask (ICMP: type in sport, code in dport). */
export interface XfrmPolicySpec {
  dir: 'in' | 'out' | 'fwd';
  src: string;
  srcPlen: number;
  dst: string;
  dstPlen: number;
  proto?: number;
  sport?: number;
  sportMask?: number;
  dport?: number;
  dportMask?: number;
  priority?: number;
  action?: 'allow' | 'block';
  tmplSrc?: string; // outer (tunnel) addresses; absent: no template
  tmplDst?: string;
  tmplSpi?: number;
  reqid?: number;
  tmplMode?: 'tunnel' | 'transport';
  offloadPacket?: boolean;
  offloadIfindex?: number;
}

export interface XfrmSelector {
  family: 4 | 6;
  src: string;
  srcPlen: number;
  dst: string;
  dstPlen: number;
  proto: number;
  sport: number;
  sportMask: number;
  dport: number;
  dportMask: number;
}

/** GETSA / ALLOCSPI answer; never contains keys. */
export interface XfrmSaState {
  family: 4 | 6;
  src: string;
  dst: string;
  spi: number;
  reqid: number;
  mode: 'tunnel' | 'transport' | 'other';
  flags: number;
  esn: boolean;
  replayWindow: number;
  oseq: number;
  seq: number;
  oseqHi: number;
  seqHi: number;
  lifetime: { softBytes: bigint; hardBytes: bigint; softPackets: bigint; hardPackets: bigint; softAddSec: bigint; hardAddSec: bigint };
  current: { bytes: bigint; packets: bigint; addTime: number; useTime: number };
  stats: { replayWindow: number; replay: number; integrityFailed: number };
  lastUsed: number;
  encap: { type: number; sport: number; dport: number } | null;
  offload: { ifindex: number; flags: number; packet: boolean; inbound: boolean } | null;
  aead: string;
  crypt: string;
  auth: string;
}

export type XfrmEvent =
  | { type: 'expire'; hard: boolean; spi: number; proto: number; family: 4 | 6; src: string; dst: string; reqid: number }
  | { type: 'acquire'; dir: 'in' | 'out' | 'fwd'; policyIndex: number; outerSrc: string; outerDst: string; reqid: number; proto: number; family: 4 | 6; sel: XfrmSelector }
  | { type: 'mapping'; spi: number; dst: string; reqid: number; oldSrc: string; oldSport: number; newSrc: string; newSport: number; proto: number; family: 4 | 6 };

export interface EthtoolFeature {
  present: boolean; // the kernel knows the feature name
  available: boolean; // changeable (ethtool -k shows "[fixed]" when not)
  requested: boolean;
  active: boolean;
  neverChanged: boolean;
}

export interface EthtoolEsp {
  ifindex: number;
  espHwOffload: EthtoolFeature;
  espTxCsumHwOffload: EthtoolFeature;
}

export interface XfrmProbeReport {
  openRc: number;
  openWhat: string;
  steps: { what: string; rc: number; message: string }[];
}

/** The XFRM functions of the addon. Failures are negative errno numbers; xfrmLastError gives the kernel's text. */
export interface XfrmNative {
  errnoName(code: number): string;
  xfrmOpen(opts: { netnsPath?: string; onEvent?: (e: XfrmEvent) => void }): XfrmHandle | number;
  xfrmClose(h: XfrmHandle): number;
  xfrmLastError(h: XfrmHandle): string;
  /** update: XFRM_MSG_UPDSA (replaces an existing or larval SA) instead of NEWSA. */
  xfrmAddSa(h: XfrmHandle, sa: XfrmSaSpec, update?: boolean): number;
  xfrmDelSa(h: XfrmHandle, id: XfrmSaId): number;
  xfrmGetSa(h: XfrmHandle, id: XfrmSaId): XfrmSaState | number;
  /** A random SPI in [min, max] (default 256..2^32-1) reserved by a larval SA (dropped after net.core.xfrm_acq_expires). */
  xfrmAllocSpi(h: XfrmHandle, a: { src: string; dst: string; reqid?: number; min?: number; max?: number }): number;
  /** Re-creates the SA at new addresses / encapsulation from the kernel's own copy (keys never cross into JS). */
  xfrmMoveSa(h: XfrmHandle, m: XfrmSaMove): number;
  /** update: XFRM_MSG_UPDPOLICY (add or replace the entry with this selector and direction). */
  xfrmAddPolicy(h: XfrmHandle, p: XfrmPolicySpec, update?: boolean): number;
  xfrmDelPolicy(h: XfrmHandle, p: XfrmPolicySpec): number;
  xfrmIfindex(h: XfrmHandle, ifname: string): number;
  xfrmEthtoolEsp(h: XfrmHandle, ifname: string): EthtoolEsp | number;
  xfrmEventStats(h: XfrmHandle): { received: number; overruns: number; malformed: number; queueDrops: number } | number;
  /** null / absent: in a private namespace of a helper thread; '': the caller's (reserved SPIs 1-3 on loopback). */
  xfrmProbe(netnsPath?: string | null): XfrmProbeReport;
  /** Test exports: the exact bytes a call would send, and the decoders. */
  xfrmBuild(kind: 'newsa' | 'updsa', p: XfrmSaSpec, seq?: number): Uint8Array | number;
  xfrmBuild(kind: 'delsa' | 'getsa', p: XfrmSaId, seq?: number): Uint8Array | number;
  xfrmBuild(kind: 'allocspi', p: { src: string; dst: string; reqid?: number; min?: number; max?: number }, seq?: number): Uint8Array | number;
  xfrmBuild(kind: 'newpolicy' | 'updpolicy' | 'delpolicy', p: XfrmPolicySpec, seq?: number): Uint8Array | number;
  xfrmBuild(kind: 'movesa' | 'updmovesa', p: Omit<XfrmSaMove, 'dst' | 'spi'> & { dump: Uint8Array }, seq?: number): Uint8Array | number;
  xfrmParse(bytes: Uint8Array, seq?: number):
    | { kind: 'ack'; error: number; message: string }
    | ({ kind: 'sa' } & XfrmSaState)
    | ({ kind: 'event' } & XfrmEvent)
    | number;
  xfrmLayout(): { sizes: Record<string, number>; offsets: Record<string, number>; constants: Record<string, number> };
}

export class XfrmUnavailableError extends Error {
  constructor(why: string) {
    super(why);
    this.name = 'XfrmUnavailableError';
  }
}

/** The addon with its XFRM functions; throws NativeAddonMissingError / XfrmUnavailableError with the fix. */
export function loadXfrmNative(addon: NativeAddon = loadNativeAddon()): XfrmNative {
  const x = addon as unknown as Partial<XfrmNative>;
  if (typeof x.xfrmOpen !== 'function' || typeof x.xfrmProbe !== 'function') {
    throw new XfrmUnavailableError('native addon has no XFRM functions (built before op_xfrm*.c): rebuild it with `make native`');
  }
  return x as XfrmNative;
}

/** An Error carrying the errno name as code and the kernel's extended-ack text, for a failed XFRM call. */
export function xfrmError(native: Pick<XfrmNative, 'errnoName'>, rc: number, what: string, kernelText = ''): Error & { code: string; errno: number; kernelMessage: string } {
  const code = native.errnoName(rc);
  const err = new Error(`${what}: ${code}${kernelText ? ` (${kernelText})` : ''}`) as Error & { code: string; errno: number; kernelMessage: string };
  err.code = code;
  err.errno = rc;
  err.kernelMessage = kernelText;
  return err;
}
