// Loader and typed surface of the C data-plane addon in native/ (ARCHITECTURE.md §4-5); Bun loads .node files only via require.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { TsRange } from './types.ts';

/** Parameters of one SA direction as the addon takes them; numeric ids are IANA IKEv2 transform ids. */
export interface NativeSaParams {
  spi: number;
  direction: 'in' | 'out';
  encrId: number;
  encrKeyBits?: number;
  encKey: Uint8Array; // key || salt for AEAD
  integId: number;
  integKey?: Uint8Array;
  esn: boolean;
  replayWindow: number; // packets; 0 disables the replay check; at most 65536
  softBytes?: number | bigint;
  hardBytes?: number | bigint;
  softPackets?: number | bigint;
  hardPackets?: number | bigint;
  /** out: last sequence number sent; in: highest received. For restored SAs and tests; normally 0. */
  initialSeq?: number | bigint;
  /** Inbound tunnel policy (RFC 4301 §5.2): inner destination in localTs, inner source in remoteTs; at most 16 each. */
  localTs?: TsRange[];
  remoteTs?: TsRange[];
}

export interface NativeSaCounters {
  bytes: bigint;
  packets: bigint;
  lastUsedMs: number | null;
  seq: bigint;
  replayDrops: bigint;
  authDrops: bigint;
  malformedDrops: bigint;
  expiredDrops: bigint;
  policyDrops: bigint;
  softExpired: boolean;
  hardExpired: boolean;
}

export interface NativeDecrypted {
  spi: number;
  seq: bigint;
  nextHeader: number;
  inner: Uint8Array;
}

export interface NativeExpireEvent {
  kind: 'soft' | 'hard';
  direction: 'in' | 'out';
  spi: number;
}

/** The raw addon: failures are negative errno numbers (see errnoName), never exceptions. */
export interface NativeAddon {
  readonly opensslVersion: string;
  readonly abiVersion: number;
  saAdd(p: NativeSaParams): number;
  saDel(spi: number, direction: 'in' | 'out'): number;
  saQuery(spi: number, direction: 'in' | 'out'): NativeSaCounters | number;
  saExists(spi: number, direction: 'in' | 'out'): boolean;
  saCount(): number;
  saFlush(): number;
  /** ESP from the SPI onward; nextHeader defaults to 4/41 from the inner packet's version. */
  encrypt(spi: number, inner: Uint8Array, nextHeader?: number): Uint8Array | number;
  /** tunnel: also apply the inbound tunnel policy (Next Header 4/41 matching the inner version, selectors). */
  decrypt(esp: Uint8Array, tunnel?: boolean): NativeDecrypted | number;
  takeEvents(): NativeExpireEvent[];
  /** One listener at a time; null removes it. Never keeps the process alive. */
  onEvents(listener: ((events: NativeExpireEvent[]) => void) | null): number;
  globalStats(): { noSa: bigint; truncated: bigint };
  /**
   * Creates a TUN device. offload: every read and write carries a virtio-net header and the kernel may hand over
   * and take TCP super-packets (TSO/GRO; the worker segments and coalesces them); the result says whether it took.
   */
  tunOpen(name: string, netnsPath?: string, nonblocking?: boolean, offload?: boolean): { fd: number; name: string; offload: boolean } | number;
  closeFd(fd: number): number;
  errnoName(code: number): string;
  /** test/bench only: `count` packets of innerLen octets through out-SA then in-SA `spi`, timed inside C. */
  benchEsp(spi: number, innerLen: number, count: number): { encryptNs: number; decryptNs: number; packets: number } | number;
  /**
   * Starts the packet worker: a native thread owning UDP sockets (`sockets`, 1-8; or one from bindAddr + port;
   * "::" also takes IPv4 unless v6only; port 0 picks one) with IP_PKTINFO on, and borrowing tunFd (non-blocking).
   * IKE datagrams (non-ESP marker stripped) reach onIke with the local address they were sent to.
   * tunMtu: largest inner packet (MSS clamping base); pathMtu: outer path MTU (ICMP too big above it); 0 = off.
   * plainEsp: also open raw IP protocol 50 sockets (plain ESP, RFC 4303) for the families the UDP sockets serve;
   * when that fails (no CAP_NET_RAW) the worker still starts and plainEsp.error is the negative errno.
   * udpOffload (default true): UDP GSO (UDP_SEGMENT) for runs of equal-size ESP datagrams and UDP GRO on receive.
   * A TUN fd opened with offload is detected and read/written with virtio-net headers.
   */
  workerStart(opts: {
    tunFd: number;
    sockets?: { addr: string; port: number; v6only?: boolean }[];
    bindAddr?: string;
    port?: number;
    netnsPath?: string;
    onIke?: (msg: Uint8Array, addr: string, port: number, localAddr: string, localPort: number) => void;
    tunMtu?: number;
    pathMtu?: number;
    clampMss?: boolean;
    plainEsp?: boolean;
    udpOffload?: boolean;
  }): { handle: NativeWorkerHandle; port: number; sockets: { addr: string; port: number }[]; plainEsp: { families: (4 | 6)[]; error: number } } | number;
  workerStop(handle: NativeWorkerHandle): number;
  /**
   * Sends an IKE message from the worker's socket on localPort (bound to localAddr, or a wildcard one with
   * localAddr as the IP_PKTINFO source) with the non-ESP marker prepended (RFC 3948 §2.2).
   */
  workerSendIke(handle: NativeWorkerHandle, msg: Uint8Array, addr: string, port: number, localAddr?: string, localPort?: number): number;
  /**
   * Inner destination prefix -> outbound SA and the peer's UDP endpoint (sent from local*); replaces an equal prefix.
   * plainEsp: send IP protocol 50 from the raw ESP socket of the peer's family instead (ports unused;
   * -EPROTONOSUPPORT when the worker has none).
   */
  workerRouteAdd(
    handle: NativeWorkerHandle,
    route: { prefix: string; prefixLen: number; spi: number; remoteAddr: string; remotePort: number; localAddr?: string; localPort?: number; plainEsp?: boolean },
  ): number;
  workerRouteDel(handle: NativeWorkerHandle, prefix: string, prefixLen: number): number;
  workerConfigure(handle: NativeWorkerHandle, cfg: { tunMtu?: number; pathMtu?: number; clampMss?: boolean }): number;
  workerStats(handle: NativeWorkerHandle): NativeWorkerStats | number;
  /** Sets the MTU (when > 0) of interface `name` and brings it up; returns its ifindex. */
  tunSetup(name: string, mtu: number, netnsPath?: string): number;
  /** Adds/removes the main-table route prefix/len via interface ifindex (rtnetlink); -EEXIST when one is there. */
  tunRoute(ifindex: number, add: boolean, prefix: string, prefixLen: number, netnsPath?: string): number;
  /** The worker's MSS clamp on one packet, in place: 1 rewritten, 0 left alone (RFC 1624 checksum update). */
  tcpClampMss(packet: Uint8Array, mss: number): number;
  /** The ICMP "fragmentation needed" / ICMPv6 "packet too big" the worker writes back for `packet`. */
  icmpTooBig(packet: Uint8Array, mtu: number): Uint8Array | number;
  /** What the worker makes of one offloading TUN read (virtio-net header + packet): its TCP segments, checksums done. */
  tsoSegment(vnetPacket: Uint8Array): Uint8Array[] | number;
  /** The TUN writes (virtio-net header + packet) the worker makes of these decrypted packets, TCP runs coalesced. */
  groCoalesce(packets: Uint8Array[]): Uint8Array[];
}

/** Opaque handle of a running worker. Keep it referenced: a collected handle stops its worker. */
export type NativeWorkerHandle = { readonly __nativeWorker: unique symbol };

export interface NativeWorkerStats {
  udpRx: bigint;
  ikeRx: bigint;
  ikeTx: bigint;
  keepaliveRx: bigint;
  espRx: bigint;
  espDrops: bigint;
  runtDrops: bigint;
  tunRx: bigint;
  noRoute: bigint;
  espTx: bigint;
  encryptDrops: bigint;
  txErrors: bigint;
  mssClamped: bigint;
  tooBig: bigint;
  /** Plain ESP packets read from the raw sockets. */
  rawRx: bigint;
  /** Inbound ESP drops by reason (their sum is espDrops). */
  dropNoSa: bigint;
  dropTruncated: bigint;
  dropReplay: bigint;
  dropAuth: bigint;
  dropMalformed: bigint;
  dropPolicy: bigint;
  dropExpired: bigint;
  /** TCP super-packets read from the TUN device (GSO; their segments count in tunRx). */
  gsoRx: bigint;
  /** TUN writes carrying several coalesced segments (all count in espRx). */
  groTx: bigint;
  /** Sends carrying several datagrams with UDP GSO (all count in espTx). */
  udpGsoTx: bigint;
  /** Reads holding several datagrams with UDP GRO (all count in udpRx). */
  udpGroRx: bigint;
  ikeQueueDrops: bigint;
  routes: number;
}

const ABI_VERSION = 4;

export class NativeAddonMissingError extends Error {
  constructor(readonly path: string) {
    super(`native data-plane addon not built: ${path} is missing. Build it with \`make native\` (runs \`cd native && npx node-gyp rebuild\`; needs libssl-dev).`);
    this.name = 'NativeAddonMissingError';
  }
}

/** Where the addon lives: $OUTPOST_NATIVE_ADDON (packaged builds) or native/build/Release in the checkout. */
export function nativeAddonPath(): string {
  const override = process.env['OUTPOST_NATIVE_ADDON'];
  if (override) return override;
  return fileURLToPath(new URL('../../../native/build/Release/outpost_native.node', import.meta.url));
}

let cached: NativeAddon | undefined;

/** Loads the addon once; throws NativeAddonMissingError with the build command when it is absent. */
export function loadNativeAddon(): NativeAddon {
  if (cached) return cached;
  const path = nativeAddonPath();
  if (!existsSync(path)) throw new NativeAddonMissingError(path);
  const addon = createRequire(import.meta.url)(path) as NativeAddon;
  if (addon.abiVersion !== ABI_VERSION) throw new Error(`native addon ${path} has ABI ${addon.abiVersion}, expected ${ABI_VERSION}: rebuild it`);
  cached = addon;
  return addon;
}

/** True when the addon can be loaded; for callers that pick a backend. */
export function nativeAddonAvailable(): boolean {
  return existsSync(nativeAddonPath());
}

/** Turns a negative errno result into an Error with code "ENOENT" etc.; returns other values unchanged. */
export function unwrapNative<T>(addon: NativeAddon, result: T | number, what: string): T {
  if (typeof result === 'number' && result < 0) {
    const code = addon.errnoName(result);
    const err = new Error(`${what}: ${code}`) as Error & { code: string; errno: number };
    err.code = code;
    err.errno = result;
    throw err;
  }
  return result as T;
}
