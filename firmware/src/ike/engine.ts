// The sans-IO IKEv2 engine (RFC 7296): datagrams, ticks and commands in; datagrams, effects and events out.
/*
 * Entry points: receive(datagram), tick(), command(). Each runs to completion and returns an Output; none throws
 * (a bug is counted, logged, and the datagram dropped). Routing: IKE_SA_INIT requests go through the stateless
 * gate (cookies §2.6, half-open limits, connection candidates by address) and create a responder SA; everything
 * else finds its SA by our SPI and is handed to that SA's task manager. Unknown SPIs are dropped and counted,
 * answered with INVALID_IKE_SPI (rate-limited) when they are requests (§2.21.4).
 * Timers (tick): retransmits, half-open and connect timeouts, NAT keepalives, DPD, lifetimes (lifecycle.ts).
 * When a peer stops answering, the connection's DPD action decides: clear, restart, or hold until traffic.
 */
import { ExchangeType, HeaderFlag, Notify, NOTIFY_ERROR_MAX, PayloadType } from './constants.ts';
import type { ConnectionConfig, GatewayConfig } from '../config/types.ts';
import type { CryptoSuite } from '../crypto/types.ts';
import type { SignatureOps, Signer } from '../pki/types.ts';
import type { Endpoint } from '../dataplane/types.ts';
import type { Command, Datagram, Effect, EngineEvent, IkeSaInfo, Output } from './io.ts';
import type { IkeMessage } from './codec/types.ts';
import { decodeMessage } from './codec/index.ts';
import { OutputBuilder, type EngineContext, type LogLevel } from './context.ts';
import { IkeSa } from './ike-sa.ts';
import { TaskManager } from './task-manager.ts';
import { SaTable } from './sa-table.ts';
import { WakeQueue } from './wake-queue.ts';
import { CookieJar } from './cookie.ts';
import { notifyReply, RateLimit } from './stateless.ts';
import { createPools, type AddressPool } from './pool.ts';
import { hardDeadline, hexSpi, removeChild, softDeadline } from './child-install.ts';
import { lifecycleDue, runLifecycle } from './lifecycle.ts';
import { resolveTs, tsToRange } from './ts.ts';
import type { TsRange } from '../dataplane/types.ts';
import { describeIdentity } from './identity.ts';
import { addrInList, parseIp } from './ip.ts';
import { hex, isZero, readU32, sameBytes, u32Bytes } from './bytes.ts';
import { toIkeSaInfo } from './sa-info.ts';
import { encodeRedirectData, gatewayText, MAX_REDIRECTS, parseGateway, pickGateway, type RedirectGateway } from './redirect.ts';
import { HEADER_LEN } from './codec/index.ts';

/** A responder SA must authenticate within this time (strongSwan's half_open_timeout). */
export const HALF_OPEN_TIMEOUT_MS = 30_000;
/** An initiator SA paused on the runtime (e.g. a validation that never answers) gives up this long after it started. */
export const CONNECT_TIMEOUT_MS = 120_000;
/** RFC 3948 §4: NAT keepalives every 20 s when we are behind a NAT. */
export const NAT_KEEPALIVE_MS = 20_000;
/** A replaced IKE SA its peer should delete (or a rekey collision's spare SA) is removed by us after this long. */
export const REKEYED_IKE_TIMEOUT_MS = 60_000;
const INVALID_SPI_REPLIES_PER_SEC = 10;

const LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface EngineOptions {
  config: GatewayConfig;
  crypto: CryptoSuite;
  sig: SignatureOps;
  nowMs: number;
  /** Source of local handles for IKE/CHILD SAs (pseudonymous, never SPIs); default: random hex. */
  idSource?: () => string;
  /**
   * When ESP last arrived on an inbound SPI (ms, the engine's clock), if the data plane knows: DPD only probes a
   * peer silent on IKE and ESP for dpdDelaySec. Absent: IKE traffic alone counts.
   */
  espLastInboundMs?: (spiIn: number) => number | null | undefined;
  /** Test-only: after every call, check the timer queue's wake time against a scan of every SA (throws on a mismatch). */
  verifyWake?: boolean;
}

export interface EngineStats {
  received: number;
  sent: number;
  drops: Record<string, number>;
  counters: Record<string, number>;
  halfOpen: number;
  established: number;
  ikeSas: number;
  childSas: number;
  internalErrors: number;
}

export interface Engine {
  receive(d: Datagram, nowMs: number): Output;
  tick(nowMs: number): Output;
  command(c: Command, nowMs: number): Output;
  /**
   * Replace the configuration in place: SAs of connections that did not change stay (and keep their pool leases);
   * those of removed or changed connections are deleted; `start` children of new or changed connections come up.
   * Named apart from the control plane's `ReloadableEngine.reload` on purpose: that name switches the supervisor
   * from restarting the gateway to reloading in place, which its tests do not expect yet.
   */
  reload(config: GatewayConfig, nowMs: number): Output;
  listSas(): IkeSaInfo[];
  stats(): EngineStats;
}

export function createEngine(opts: EngineOptions): Engine {
  return new IkeEngine(opts);
}

class IkeEngine implements Engine, EngineContext {
  config: GatewayConfig;
  readonly crypto: CryptoSuite;
  readonly sig: SignatureOps;
  pools: ReadonlyMap<string, AddressPool>;
  nowMs: number;
  out = new OutputBuilder();

  private readonly table = new SaTable();
  private readonly cookies: CookieJar;
  private readonly invalidSpiLimit: RateLimit;
  private readonly inboundSpis = new Set<number>();
  private readonly signers = new WeakMap<ConnectionConfig, Signer | string>();
  private readonly idSource: () => string;
  private readonly espLastInboundMs: EngineOptions['espLastInboundMs'];
  /** Connections cleared by DPD action `hold`, with the children to bring back on matching traffic. */
  private readonly held: { conn: ConnectionConfig; children: string[] }[] = [];
  private minLevel: number;
  private refCounter = 0;
  private received = 0;
  private sent = 0;
  private internalErrors = 0;
  private readonly drops: Record<string, number> = {};
  private readonly counters: Record<string, number> = {};
  /** The wake time of the last full run: the stateless path changes no SA, so it hands this back unchanged. */
  private lastWake: number | undefined;
  /** RFC 5685: the gateway-level redirect targets, and each connection's. */
  private redirectTargets: RedirectGateway[];
  private readonly connRedirects = new Map<ConnectionConfig, RedirectGateway[]>();
  /** Per-SA deadlines (sa.wakeAtMs) in a min-heap; only SAs a call touched are recomputed. */
  private readonly wakes = new WakeQueue<IkeSa>(
    (sa) => sa.wakeAtMs,
    (sa) => !sa.destroyed,
  );
  private readonly verifyWake: boolean;

  constructor(opts: EngineOptions) {
    this.config = opts.config;
    this.crypto = opts.crypto;
    this.sig = opts.sig;
    this.nowMs = opts.nowMs;
    this.cookies = new CookieJar(opts.crypto, opts.nowMs);
    this.invalidSpiLimit = new RateLimit(INVALID_SPI_REPLIES_PER_SEC, opts.nowMs);
    this.idSource = opts.idSource ?? (() => hex(this.crypto.randomBytes(4)));
    this.espLastInboundMs = opts.espLastInboundMs;
    this.verifyWake = opts.verifyWake ?? false;
    this.minLevel = LEVELS[opts.config.log?.level ?? 'info'] ?? 1;
    const { pools, errors } = createPools(opts.config.pools);
    this.pools = pools;
    for (const e of errors) this.log('error', e);
    this.redirectTargets = this.gateways(opts.config.redirectTo ?? [], 'redirect_to');
    for (const c of opts.config.connections) {
      const list = this.gateways(c.redirectTo ?? [], `connection ${c.name} redirect_to`);
      if (list.length > 0) this.connRedirects.set(c, list);
    }
  }

  private gateways(list: readonly string[], where: string): RedirectGateway[] {
    const out: RedirectGateway[] = [];
    for (const t of list) {
      const g = parseGateway(t);
      if (g) out.push(g);
      else this.log('error', `${where}: "${t}" is neither an IP address nor a DNS name, ignored`);
    }
    return out;
  }

  // ---- entry points ----

  receive(d: Datagram, nowMs: number): Output {
    try {
      const fast = this.statelessCookie(d, nowMs);
      if (fast) return fast;
    } catch (e) {
      this.internalErrors++;
      this.drop('internal-error');
    }
    return this.run(nowMs, () => this.onDatagram(d));
  }

  tick(nowMs: number): Output {
    return this.run(nowMs, () => this.onTick());
  }

  command(c: Command, nowMs: number): Output {
    return this.run(nowMs, () => this.onCommand(c));
  }

  reload(config: GatewayConfig, nowMs: number): Output {
    return this.run(nowMs, () => this.onReload(config));
  }

  private onReload(config: GatewayConfig): void {
    const old = this.config;
    const casSame = deepEqual(old.cas, config.cas);
    const oldPools = new Map(old.pools.map((p) => [p.name, p]));
    const poolSame = (name: string) => {
      const a = oldPools.get(name);
      const b = config.pools.find((p) => p.name === name);
      return a !== undefined && b !== undefined && deepEqual(a, b);
    };
    // Old connection → its successor, for connections whose settings (and the CAs and pools they use) are unchanged.
    const kept = new Map<ConnectionConfig, ConnectionConfig>();
    for (const c of config.connections) {
      const prev = old.connections.find((o) => o.name === c.name);
      if (!prev || !deepEqual(prev, c)) continue;
      if (c.remote.auth === 'pubkey' && !casSame) continue;
      if (!c.pools.every(poolSame)) continue;
      kept.set(prev, c);
    }
    // Pools: unchanged ones keep their leases; new and changed ones start empty.
    const { pools: fresh, errors } = createPools(config.pools);
    for (const e of errors) this.log('error', e);
    const pools = new Map<string, AddressPool>();
    for (const [name, p] of fresh) pools.set(name, poolSame(name) ? (this.pools.get(name) ?? p) : p);
    this.config = config;
    this.minLevel = LEVELS[config.log?.level ?? 'info'] ?? 1;
    this.redirectTargets = this.gateways(config.redirectTo ?? [], 'redirect_to');
    this.connRedirects.clear();
    for (const c of config.connections) {
      const list = this.gateways(c.redirectTo ?? [], `connection ${c.name} redirect_to`);
      if (list.length > 0) this.connRedirects.set(c, list);
    }
    const held = this.held.splice(0);
    for (const h of held) {
      const c = kept.get(h.conn);
      if (c) this.held.push({ conn: c, children: h.children });
    }
    for (const sa of [...this.table.values()]) {
      if (sa.destroyed) continue;
      this.table.touched.add(sa);
      const candidates = sa.candidates.map((c) => kept.get(c)).filter((c): c is ConnectionConfig => c !== undefined);
      const conn = kept.get(sa.conn) ?? (!sa.connFinal && !sa.initiator ? candidates[0] : undefined);
      if (!conn) {
        this.log('info', `connection ${sa.conn.name} removed or changed by a reload: deleting IKE_SA ${sa.id}`, sa);
        if (sa.established) sa.tm.initiate({ op: 'delete-ike', reason: 'configuration reloaded' });
        else if (sa.state === 'connecting') this.destroySa(sa, 'configuration reloaded');
        continue;
      }
      sa.conn = conn;
      sa.candidates = candidates.length > 0 ? candidates : [conn];
      for (const child of sa.children) child.config = conn.children.find((x) => x.name === child.config.name) ?? child.config;
    }
    // Leases live on in pools kept; the rest of the old pools go with the SAs holding them (released into nothing).
    for (const [name, p] of this.pools) if (!pools.has(name)) pools.set(name, p);
    this.pools = pools;
    const keptNew = new Set(kept.values());
    for (const c of config.connections) {
      if (keptNew.has(c)) continue;
      for (const child of c.children) if (child.startAction === 'start') this.initiate(c.name, child.name);
    }
  }

  listSas(): IkeSaInfo[] {
    // A rekey collision's spare IKE SA is not listed: it never took over and is about to go.
    return this.table.all().filter((sa) => !sa.destroyed && !(sa.fromRekey && !sa.upAnnounced)).map(toIkeSaInfo);
  }

  stats(): EngineStats {
    const sas = this.table.all().filter((s) => !s.destroyed);
    return {
      received: this.received,
      sent: this.sent,
      drops: { ...this.drops },
      counters: { ...this.counters },
      halfOpen: this.table.halfOpenCount,
      established: sas.filter((s) => s.established).length,
      ikeSas: sas.length,
      childSas: sas.reduce((n, s) => n + s.children.length, 0),
      internalErrors: this.internalErrors,
    };
  }

  private run(nowMs: number, fn: () => void): Output {
    this.nowMs = nowMs;
    const out = (this.out = new OutputBuilder());
    try {
      fn();
    } catch (e) {
      this.internalErrors++;
      this.drop('internal-error');
      this.log('error', `internal error, datagram dropped: ${e instanceof Error ? `${e.message} ${e.stack?.split('\n')[1]?.trim() ?? ''}` : String(e)}`);
    }
    try {
      const wake = this.nextWake();
      this.lastWake = wake;
      if (wake !== undefined) out.wakeAtMs = wake;
    } catch {
      this.internalErrors++;
    }
    if (this.verifyWake) {
      const scanned = this.scanWake();
      if (scanned !== this.lastWake) throw new Error(`wake queue says ${this.lastWake}, a scan of all SAs says ${scanned}`);
    }
    this.sent += out.send.length;
    return { send: out.send, effects: out.effects, events: out.events, ...(out.wakeAtMs !== undefined ? { wakeAtMs: out.wakeAtMs } : {}) };
  }

  // ---- datagrams ----

  /**
   * The flood path (§2.6): at or above the cookie threshold, an IKE_SA_INIT request without a valid cookie is
   * answered from its raw octets. Only the header and the payload chain are walked (no decoding, no copies), no
   * state is kept, and the reply is 72 octets built in place; anything unusual (a cookie that verifies, a
   * retransmission of a known SA, malformed input) takes the normal path, which drops or serves it.
   */
  private statelessCookie(d: Datagram, nowMs: number): Output | null {
    if (this.table.halfOpenCount < this.config.cookieThreshold) return null;
    const b = d.data;
    if (b.length < HEADER_LEN || b[18] !== ExchangeType.IKE_SA_INIT) return null;
    const flags = b[19]!;
    if ((flags & HeaderFlag.RESPONSE) !== 0 || (flags & HeaderFlag.INITIATOR) === 0 || b[17]! >> 4 !== 2) return null;
    if (readU32(b, 20) !== 0 || readU32(b, 24) !== b.length) return null;
    for (let i = 8; i < 16; i++) if (b[i] !== 0) return null;
    let nonce: Uint8Array | null = null;
    let cookie: Uint8Array | null = null;
    let next = b[16]!;
    let off = HEADER_LEN;
    for (let n = 0; next !== PayloadType.NONE; n++) {
      if (n >= 32 || off + 4 > b.length) return null;
      const len = (b[off + 2]! << 8) | b[off + 3]!;
      if (len < 4 || off + len > b.length) return null;
      if (next === PayloadType.NONCE) nonce = b.subarray(off + 4, off + len);
      else if (next === PayloadType.NOTIFY && len >= 8 && ((b[off + 6]! << 8) | b[off + 7]!) === Notify.COOKIE) {
        const spiSize = b[off + 5]!;
        if (8 + spiSize <= len) cookie = b.subarray(off + 8 + spiSize, off + len);
      }
      next = b[off]!;
      off += len;
    }
    if (!nonce || nonce.length < 16 || nonce.length > 256) return null;
    const spiI = b.subarray(0, 8);
    // A retransmission for one of our half-open SAs gets its cached answer on the full path.
    if (this.table.halfOpenFrom(d.remote.addr) > 0 && this.table.findInit(spiI, d.remote)) return null;
    const addr = parseIp(d.remote.addr) ?? new Uint8Array(0);
    if (cookie && this.cookies.verify(cookie, nonce, addr, spiI, nowMs)) return null;
    this.nowMs = nowMs;
    this.received++;
    if (cookie) this.drop('bad-cookie');
    const value = this.cookies.make(nonce, addr, spiI, nowMs);
    // HDR(SPIi, 0, N, 2.0, IKE_SA_INIT, R, 0) + N(COOKIE) with a zero-length SPI (§2.6, §3.10).
    const reply = new Uint8Array(HEADER_LEN + 8 + value.length);
    reply.set(spiI, 0);
    reply[16] = PayloadType.NOTIFY;
    reply[17] = 0x20;
    reply[18] = ExchangeType.IKE_SA_INIT;
    reply[19] = HeaderFlag.RESPONSE;
    reply.set(u32Bytes(reply.length), 24);
    reply[HEADER_LEN + 2] = 0;
    reply[HEADER_LEN + 3] = 8 + value.length;
    reply[HEADER_LEN + 6] = Notify.COOKIE >> 8;
    reply[HEADER_LEN + 7] = Notify.COOKIE & 0xff;
    reply.set(value, HEADER_LEN + 8);
    this.count('cookie-sent');
    this.sent++;
    return { send: [{ local: { ...d.local }, remote: { ...d.remote }, data: reply }], effects: [], events: [], ...(this.lastWake !== undefined ? { wakeAtMs: this.lastWake } : {}) };
  }

  private onDatagram(d: Datagram): void {
    this.received++;
    if (d.data.length === 1 && d.data[0] === 0xff) {
      this.count('nat-keepalive-received');
      return;
    }
    const dec = decodeMessage(d.data);
    if (!dec.ok) {
      this.drop('malformed');
      return;
    }
    const msg = dec.value;
    const h = msg.header;
    const isResponse = (h.flags & HeaderFlag.RESPONSE) !== 0;
    const fromInitiator = (h.flags & HeaderFlag.INITIATOR) !== 0;
    if (h.exchange === ExchangeType.IKE_SA_INIT && !isResponse) {
      this.onInitRequest(d, msg);
      return;
    }
    const sa = this.table.bySpiHex(hex(fromInitiator ? h.spiR : h.spiI));
    if (!sa || sa.destroyed) {
      this.onUnknownSpi(d, msg);
      return;
    }
    // The sender's role must be the opposite of ours, and its SPI the one we know (none yet before IKE_SA_INIT completes).
    if (fromInitiator === sa.initiator) {
      this.drop('role-mismatch');
      return;
    }
    const peerSpi = fromInitiator ? h.spiI : h.spiR;
    const spiUnknownYet = sa.initiator && h.exchange === ExchangeType.IKE_SA_INIT && isResponse;
    if (!spiUnknownYet && !sameBytes(peerSpi, sa.peerSpi)) {
      this.drop('spi-mismatch');
      return;
    }
    sa.tm.receive(d, msg);
  }

  private onInitRequest(d: Datagram, msg: IkeMessage): void {
    const h = msg.header;
    if (!isZero(h.spiR) || h.messageId !== 0 || (h.flags & HeaderFlag.INITIATOR) === 0 || isZero(h.spiI)) {
      this.drop('malformed-ike-sa-init');
      return;
    }
    const existing = this.table.findInit(h.spiI, d.remote);
    if (existing && !existing.destroyed) {
      if (sameBytes(existing.initRequest, d.data) && existing.tm.resendInitResponse(d)) this.count('ike-sa-init-retransmit-answered');
      else this.drop('ike-sa-init-duplicate');
      return;
    }
    const nonce = msg.payloads.find((p) => p.type === PayloadType.NONCE);
    if (!nonce || !('data' in nonce)) {
      this.drop('malformed-ike-sa-init');
      return;
    }
    if (this.table.halfOpenCount >= this.config.cookieThreshold && !this.cookieValid(d, msg, nonce.data)) {
      const addr = parseIp(d.remote.addr) ?? new Uint8Array(0);
      this.out.send.push(notifyReply(d, h, Notify.COOKIE, this.cookies.make(nonce.data, addr, h.spiI, this.nowMs)));
      this.count('cookie-sent');
      return;
    }
    const candidates = this.connectionsFor(d.local.addr, d.remote.addr);
    const first = candidates[0];
    if (!first) {
      this.log('info', `no connection for ${d.local.addr} <- ${d.remote.addr}, sending NO_PROPOSAL_CHOSEN`);
      this.out.send.push(notifyReply(d, h, Notify.NO_PROPOSAL_CHOSEN));
      this.drop('no-connection');
      return;
    }
    if (this.redirectAtInit(d, msg, nonce.data, candidates)) return;
    if (this.table.halfOpenFrom(d.remote.addr) >= this.config.halfOpenPerSource) {
      this.drop('half-open-per-source');
      return;
    }
    const sa = new IkeSa(this.newId(), false, h.spiI.slice(), { ...d.local }, { ...d.remote }, first, candidates, this.nowMs);
    sa.spiR = this.newIkeSpi();
    sa.tm = new TaskManager(sa, this);
    this.table.add(sa);
    sa.tm.handleInitRequest(d, msg);
    if (!sa.destroyed) this.log('info', `IKE_SA_INIT from ${d.remote.addr}:${d.remote.port} accepted (${sa.proposalText})`, sa);
  }

  /**
   * RFC 5685 §4.2: send the client elsewhere, statelessly (zero SPIr, its Ni echoed in the data): when every matching
   * connection redirects, when the gateway redirects everyone, or when it is full (`maxSessions`). A client that does
   * not support redirects is served, or refused when the gateway is full. One already redirected (REDIRECTED_FROM)
   * is not sent on again: two full gateways must not bounce a client between them.
   */
  private redirectAtInit(d: Datagram, msg: IkeMessage, nonceI: Uint8Array, candidates: ConnectionConfig[]): boolean {
    const max = this.config.maxSessions ?? 0;
    const full = max > 0 && this.sessionCount() >= max;
    const connTargets = candidates.every((c) => this.connRedirects.has(c)) ? (this.connRedirects.get(candidates[0]!) ?? []) : [];
    const targets = connTargets.length > 0 ? connTargets : full || max === 0 ? this.redirectTargets : [];
    if (!full && targets.length === 0) return false;
    const notifies = msg.payloads.filter((p) => p.type === PayloadType.NOTIFY) as { notifyType: number }[];
    const supported = notifies.some((n) => n.notifyType === Notify.REDIRECT_SUPPORTED);
    const alreadyRedirected = notifies.some((n) => n.notifyType === Notify.REDIRECTED_FROM);
    const to = supported && !alreadyRedirected ? pickGateway(targets, d.remote.addr) : undefined;
    if (to) {
      this.out.send.push(notifyReply(d, msg.header, Notify.REDIRECT, encodeRedirectData(to, nonceI)));
      this.count('redirect-sent');
      this.log('info', `redirecting ${d.remote.addr} to ${gatewayText(to)} at IKE_SA_INIT${full ? ` (${max} sessions reached)` : ''}`);
      return true;
    }
    if (!full) return false;
    this.drop('session-limit');
    this.log('info', `refusing IKE_SA_INIT from ${d.remote.addr}: ${max} sessions reached${targets.length > 0 ? (alreadyRedirected ? ' and it was redirected here already' : ', and it does not support redirects') : ''}`);
    return true;
  }

  /** IKE SAs that count against maxSessions: each peer once (a rekey's old SA and a collision's spare do not count). */
  private sessionCount(): number {
    let n = 0;
    for (const sa of this.table.values()) if (!sa.destroyed && sa.state !== 'rekeyed' && !(sa.fromRekey && !sa.upAnnounced)) n++;
    return n;
  }

  private cookieValid(d: Datagram, msg: IkeMessage, nonce: Uint8Array): boolean {
    const n = msg.payloads.find((p) => p.type === PayloadType.NOTIFY && 'notifyType' in p && p.notifyType === Notify.COOKIE);
    if (!n || !('notifyType' in n)) return false;
    const addr = parseIp(d.remote.addr) ?? new Uint8Array(0);
    const ok = this.cookies.verify(n.data, nonce, addr, msg.header.spiI, this.nowMs);
    if (!ok) this.drop('bad-cookie');
    return ok;
  }

  /** §2.21.4: answer a request for an unknown SA with INVALID_IKE_SPI (rate-limited); never answer a response. */
  private onUnknownSpi(d: Datagram, msg: IkeMessage): void {
    this.drop('unknown-spi');
    const h = msg.header;
    if ((h.flags & HeaderFlag.RESPONSE) !== 0 || h.exchange === ExchangeType.IKE_SA_INIT) return;
    if (!this.invalidSpiLimit.take(this.nowMs)) return;
    this.out.send.push(notifyReply(d, h, Notify.INVALID_IKE_SPI));
  }

  /** Connections whose local addresses (empty = any) and remote addresses (empty = any, CIDR allowed) fit. */
  private connectionsFor(localAddr: string, remoteAddr: string): ConnectionConfig[] {
    return this.config.connections.filter((c) => addrInList(c.localAddrs, localAddr) && addrInList(c.remoteAddrs, remoteAddr));
  }

  // ---- timers ----

  private onTick(): void {
    const now = this.nowMs;
    this.refileTouched();
    // Only SAs with a deadline due; in table order, as a full scan would visit them.
    const due: IkeSa[] = [];
    for (;;) {
      const top = this.wakes.peek();
      if (!top || top.atMs > now) break;
      this.wakes.pop();
      top.item.wakeAtMs = NaN;
      due.push(top.item);
    }
    due.sort((x, y) => x.tableSeq - y.tableSeq);
    for (const sa of due) {
      this.table.touched.add(sa);
      if (sa.destroyed) continue;
      sa.tm.tick(now);
      if (sa.destroyed) continue;
      runLifecycle(this, sa, now, (s) => this.reauth(s));
      if (sa.destroyed) continue;
      if (!sa.authenticated) {
        if (!sa.initiator && now - sa.createdMs >= HALF_OPEN_TIMEOUT_MS) {
          this.destroySa(sa, 'half-open timeout');
          this.drop('half-open-timeout');
        } else if (sa.initiator && sa.tm.nextDeadline() === undefined && now - sa.createdMs >= CONNECT_TIMEOUT_MS) {
          this.destroySa(sa, 'connect timeout');
        }
        continue;
      }
      if (!sa.established) continue;
      if (this.keepaliveDue(sa) <= now) {
        this.out.send.push({ local: { ...sa.local }, remote: { ...sa.remote }, data: Uint8Array.of(0xff) });
        sa.lastOutboundMs = now;
        this.count('nat-keepalive-sent');
      }
      if (this.dpdDue(sa) <= now) {
        this.log('debug', `no traffic from ${sa.remote.addr} for ${sa.conn.dpdDelaySec} s, checking liveness`, sa);
        const timeoutSec = sa.conn.dpdTimeoutSec ?? 0;
        sa.tm.initiate({ op: 'liveness', ...(timeoutSec > 0 ? { timeoutMs: timeoutSec * 1000 } : {}) });
      }
    }
  }

  private keepaliveDue(sa: IkeSa): number {
    return sa.established && sa.natLocal ? sa.lastOutboundMs + NAT_KEEPALIVE_MS : Infinity;
  }

  private dpdDue(sa: IkeSa): number {
    if (!sa.established || sa.conn.dpdDelaySec <= 0 || !sa.tm.idle || (sa.fromRekey && !sa.upAnnounced)) return Infinity;
    return this.lastActivity(sa) + sa.conn.dpdDelaySec * 1000;
  }

  /** The last sign of life from the peer: an authenticated IKE message, or ESP on one of its SAs (hook). */
  private lastActivity(sa: IkeSa): number {
    let last = sa.lastInboundMs;
    const hook = this.espLastInboundMs;
    if (hook) {
      for (const c of sa.children) {
        if (!c.inInstalled) continue;
        const t = hook(c.spiIn);
        if (typeof t === 'number' && t > last) last = t;
      }
    }
    return last;
  }

  /** The earliest time anything is due on this SA (Infinity: nothing). */
  private saWake(sa: IkeSa): number {
    if (sa.destroyed) return Infinity;
    const tmNext = sa.tm.nextDeadline();
    let next = Math.min(tmNext ?? Infinity, lifecycleDue(sa));
    if (!sa.authenticated) {
      // An initiator's retransmissions bound its setup time; the connect timeout only covers a paused exchange.
      if (!sa.initiator) next = Math.min(next, sa.createdMs + HALF_OPEN_TIMEOUT_MS);
      else if (tmNext === undefined) next = Math.min(next, sa.createdMs + CONNECT_TIMEOUT_MS);
    }
    return Math.min(next, this.keepaliveDue(sa), this.dpdDue(sa));
  }

  /** Recompute the deadlines of the SAs this call touched, and of the SAs linked to them (rekey, reauth). */
  private refileTouched(): void {
    const touched = this.table.touched;
    for (const sa of touched) {
      if (sa.successor) touched.add(sa.successor);
      if (sa.reauthOf) touched.add(sa.reauthOf);
      if (sa.passiveRekey) touched.add(sa.passiveRekey.newSa);
      const d = this.saWake(sa);
      if (d === sa.wakeAtMs) continue;
      sa.wakeAtMs = d;
      if (d !== Infinity) this.wakes.push(d, sa);
    }
    touched.clear();
  }

  private nextWake(): number | undefined {
    this.refileTouched();
    if (this.wakes.length > 2 * this.table.size + 64) this.wakes.compact();
    // A deadline can only have moved later untouched (ESP traffic postponing DPD): check the head and refile it.
    for (;;) {
      const top = this.wakes.peek();
      if (!top) return undefined;
      const d = this.saWake(top.item);
      if (d === top.atMs) return d;
      this.wakes.pop();
      top.item.wakeAtMs = d;
      if (d !== Infinity) this.wakes.push(d, top.item);
    }
  }

  /** The wake time by a scan of every SA: what the queue must agree with (`verifyWake`). */
  private scanWake(): number | undefined {
    let next = Infinity;
    for (const sa of this.table.values()) next = Math.min(next, this.saWake(sa));
    return next === Infinity ? undefined : next;
  }

  // ---- commands ----

  private onCommand(c: Command): void {
    switch (c.type) {
      case 'initiate':
        this.initiate(c.conn, c.child);
        return;
      case 'terminate': {
        const sa = this.table.get(c.ikeId);
        if (!sa || sa.destroyed) {
          this.log('info', `terminate: no IKE_SA ${c.ikeId}`);
          return;
        }
        if (c.childId !== undefined) {
          if (sa.established) sa.tm.initiate({ op: 'delete-child', childId: c.childId });
          return;
        }
        if (sa.established) sa.tm.initiate({ op: 'delete-ike' });
        else if (sa.state === 'connecting') this.destroySa(sa, 'terminated');
        return;
      }
      case 'resume': {
        const sa = this.table.takeRef(c.ref);
        if (!sa || sa.destroyed || !sa.tm.resume(c.ref, c.result)) this.drop('unknown-resume-ref');
        return;
      }
      case 'rekey': {
        const sa = this.liveSa(c.ikeId, 'rekey');
        if (!sa) return;
        if (c.childId === undefined) {
          if (sa.rekeyQueued) return this.log('info', `rekey: IKE_SA ${sa.id} is being rekeyed already`, sa);
          sa.rekeyQueued = true;
          sa.tm.initiate({ op: 'rekey-ike' });
          return;
        }
        const child = sa.children.find((x) => x.id === c.childId && x.announced);
        if (!child || child.state !== 'installed' || child.rekeyQueued) {
          this.log('info', `rekey: no CHILD_SA ${c.childId} ready for a rekey on IKE_SA ${sa.id}`, sa);
          return;
        }
        child.rekeyQueued = true;
        sa.tm.initiate({ op: 'rekey-child', childId: child.id });
        return;
      }
      case 'reauth': {
        const sa = this.liveSa(c.ikeId, 'reauth');
        if (!sa) return;
        if (!sa.canInitiate) return this.log('warn', `reauth: connection ${sa.conn.name} has no remote address to initiate to`, sa);
        this.reauth(sa);
        return;
      }
      case 'create-child': {
        const sa = this.liveSa(c.ikeId, 'create-child');
        if (sa) sa.tm.initiate({ op: 'create-child', child: c.child });
        return;
      }
      case 'dp.expire':
        this.onExpire(c.spi, c.direction, c.kind);
        return;
      case 'dp.acquire':
        this.onAcquire(c.localTs, c.remoteTs);
        return;
      case 'update-addresses': {
        const sa = this.liveSa(c.ikeId, 'update-addresses');
        if (!sa) return;
        const local: Endpoint = { addr: c.local.addr, port: c.local.port ?? sa.local.port };
        if (local.addr === sa.local.addr && local.port === sa.local.port) return;
        if (!sa.mobike) {
          this.log('warn', `our address for IKE_SA ${sa.id} changed to ${local.addr}, but MOBIKE is not enabled for it: the peer cannot follow`, sa);
          return;
        }
        this.log('info', `our address moved from ${sa.local.addr}:${sa.local.port} to ${local.addr}:${local.port}: updating the peer (MOBIKE)`, sa);
        const from = sa.local;
        sa.local = local;
        sa.tm.initiate({ op: 'mobike', kind: 'update', from });
        return;
      }
      case 'redirect': {
        const sa = this.liveSa(c.ikeId, 'redirect');
        if (!sa) return;
        const to = parseGateway(c.to);
        if (!to) return this.log('error', `redirect: "${c.to}" is neither an IP address nor a DNS name`, sa);
        if (!sa.peerRedirect) return this.log('warn', `redirect: the peer of IKE_SA ${sa.id} did not announce REDIRECT_SUPPORTED`, sa);
        sa.tm.initiate({ op: 'redirect', to });
        return;
      }
    }
  }

  /** An established IKE SA by id, or a log line saying why the command does nothing. */
  private liveSa(ikeId: string, what: string): IkeSa | null {
    const sa = this.table.get(ikeId);
    if (sa && sa.established) return sa;
    this.log('info', `${what}: no established IKE_SA ${ikeId}`);
    return null;
  }

  /** The data plane's lifetime ran out (RFC 4301 §4.4.2.1 soft/hard): soft → rekey, hard → delete (and tell the peer). */
  private onExpire(spi: number, direction: 'in' | 'out', kind: 'soft' | 'hard'): void {
    for (const sa of this.table.values()) {
      if (sa.destroyed || !sa.authenticated) continue;
      const child = sa.children.find((c) => (direction === 'in' ? c.spiIn === spi && c.inInstalled : c.spiOut === spi && c.outInstalled));
      if (!child) continue;
      if (kind === 'soft') {
        if (child.state !== 'installed' || child.rekeyQueued || !sa.established) return;
        this.log('info', `CHILD_SA ${child.config.name}: soft lifetime reached in the data plane (${direction} ${hexSpi(spi)}), rekeying`, sa);
        child.rekeyQueued = true;
        child.rekeyAtMs = Infinity;
        sa.tm.initiate({ op: 'rekey-child', childId: child.id });
        return;
      }
      if (child.state === 'deleting') return;
      this.log('info', `CHILD_SA ${child.config.name}: hard lifetime reached in the data plane (${direction} ${hexSpi(spi)}), deleting`, sa);
      child.expireAtMs = Infinity;
      sa.tm.initiate({ op: 'delete-child', childId: child.id, reason: child.state === 'rekeyed' ? 'rekeyed' : 'hard lifetime expired' });
      return;
    }
    this.drop('expire-unknown-spi');
  }

  /** Traffic for a held connection (DPD action hold): bring it back. */
  private onAcquire(localTs: TsRange, remoteTs: TsRange): void {
    const i = this.held.findIndex((h) => h.conn.children.some((ch) => h.children.includes(ch.name) && childCovers(h.conn, ch.localTs, ch.remoteTs, localTs, remoteTs)));
    if (i < 0) {
      this.drop('acquire-unmatched');
      return;
    }
    const [h] = this.held.splice(i, 1);
    if (!h) return;
    this.log('info', `traffic for held connection ${h.conn.name}: re-initiating`);
    this.startSa(h.conn, h.children);
  }

  private initiate(connName: string, child: string | undefined): void {
    const conn = this.config.connections.find((c) => c.name === connName);
    const remoteAddr = conn?.remoteAddrs.find((a) => parseIp(a) !== null);
    if (!conn || !remoteAddr) {
      const why = conn ? `connection ${connName} has no remote address to initiate to` : `no connection named ${connName}`;
      this.log('error', `initiate: ${why}`);
      this.event({ type: 'ike.failed', ikeId: '', conn: connName, remote: { addr: remoteAddr ?? '', port: 0 }, reason: why });
      return;
    }
    this.startSa(conn, child !== undefined ? [child] : [], null, remoteAddr);
  }

  /**
   * A new IKE SA of ours: IKE_SA_INIT, IKE_AUTH with the first child, then CREATE_CHILD_SA for the others (a
   * restart or reauthentication brings back every CHILD_SA the old SA had); with `reauthOf`, finally the DELETE
   * of the SA it replaces (make-before-break, RFC 7296 §2.8.3).
   */
  private startSa(
    conn: ConnectionConfig,
    children: string[],
    reauthOf: IkeSa | null = null,
    remoteAddr = conn.remoteAddrs.find((a) => parseIp(a) !== null),
    redirect?: { from: string; count: number },
  ): IkeSa | null {
    if (!remoteAddr) return null;
    const local = this.localEndpointFor(conn, remoteAddr);
    const remote: Endpoint = { addr: remoteAddr, port: conn.remotePort || 500 };
    const sa = new IkeSa(this.newId(), true, this.newIkeSpi(), local, remote, conn, [conn], this.nowMs);
    sa.requestedChild = children[0];
    sa.pendingChildren = children.slice(1);
    sa.reauthOf = reauthOf;
    if (redirect) {
      sa.redirectedFrom = redirect.from;
      sa.redirects = redirect.count;
    }
    sa.tm = new TaskManager(sa, this);
    this.table.add(sa);
    const verb = redirect ? `following a redirect from ${redirect.from}: initiating` : reauthOf ? 'reauthenticating' : 'initiating';
    this.log('info', `${verb} IKE_SA ${conn.name} to ${remote.addr}:${remote.port}`, sa);
    sa.tm.initiate({ op: 'connect' });
    sa.tm.initiate({ op: 'step', name: 'after-connect', run: () => this.afterConnect(sa) });
    return sa;
  }

  /** IKE_AUTH is done: the remaining CHILD_SAs, then (reauthentication) the old SA goes. */
  private afterConnect(sa: IkeSa): void {
    if (!sa.established) return;
    for (const child of sa.pendingChildren) sa.tm.initiate({ op: 'create-child', child });
    sa.pendingChildren = [];
    const old = sa.reauthOf;
    if (!old) return;
    sa.tm.initiate({
      op: 'step',
      name: 'reauth-complete',
      run: () => {
        sa.reauthOf = null;
        if (old.destroyed || old.state === 'deleting') return;
        const redirected = sa.redirectedFrom !== null;
        this.log('info', `${redirected ? 'redirect' : 'reauthentication'} of IKE_SA ${old.id} complete: deleting it`, sa);
        old.tm.initiate({ op: 'delete-ike', reason: redirected ? 'redirected' : 'reauthenticated' });
      },
    });
  }

  /** Make-before-break reauthentication of one of our SAs: a new SA with the same children; the old one goes after. */
  private reauth(old: IkeSa): void {
    if (old.rekeyQueued) return;
    old.rekeyQueued = true;
    const children = [...new Set(old.children.filter((c) => c.announced && c.state !== 'deleting').map((c) => c.config.name))];
    this.log('info', `reauthenticating IKE_SA ${old.conn.name} with ${old.remote.addr}`, old);
    const fresh = this.startSa(old.conn, children, old);
    if (!fresh) old.rekeyQueued = false;
  }

  private localEndpointFor(conn: ConnectionConfig, remoteAddr: string): Endpoint {
    const v6 = remoteAddr.includes(':');
    const listens = this.config.listen.filter((l) => l.address.includes(':') === v6);
    const addr =
      conn.localAddrs.find((a) => parseIp(a) !== null && a.includes(':') === v6) ??
      listens.find((l) => !isZero(parseIp(l.address) ?? new Uint8Array(1)))?.address ??
      (v6 ? '::' : '0.0.0.0');
    const listen = listens.find((l) => l.address === addr) ?? listens[0];
    return { addr, port: listen?.port ?? 500 };
  }

  // ---- EngineContext ----

  log(level: LogLevel, msg: string, sa?: IkeSa, fields?: Record<string, unknown>): void {
    if (sa) this.table.touched.add(sa);
    if (LEVELS[level] < this.minLevel) return;
    this.out.events.push({ type: 'log', level, msg, ...(sa ? { ikeId: sa.id } : {}), ...(fields ? { fields } : {}) });
  }

  event(e: EngineEvent): void {
    this.out.events.push(e);
  }

  effect(e: Effect): void {
    this.out.effects.push(e);
  }

  count(name: string): void {
    this.counters[name] = (this.counters[name] ?? 0) + 1;
  }

  drop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  suspend(sa: IkeSa, make: (ref: string) => Effect): string {
    this.table.touched.add(sa);
    const ref = `${sa.id}:${++this.refCounter}`;
    this.table.addRef(ref, sa);
    this.effect(make(ref));
    return ref;
  }

  allocInboundSpi(): number {
    for (;;) {
      const spi = readU32(this.crypto.randomBytes(4), 0);
      // SPIs 1-255 are reserved by IANA (RFC 4303 §2.1).
      if (spi < 0x100 || this.inboundSpis.has(spi)) continue;
      this.inboundSpis.add(spi);
      return spi;
    }
  }

  releaseInboundSpi(spi: number): void {
    this.inboundSpis.delete(spi);
  }

  newChildId(_sa: IkeSa): string {
    return `c${this.idSource()}`;
  }

  signer(conn: ConnectionConfig): Signer | string {
    let s = this.signers.get(conn);
    if (s === undefined) {
      if (!conn.local.privateKey) s = `connection ${conn.name} has no private key`;
      else {
        try {
          s = this.sig.createSigner(conn.local.privateKey);
        } catch (e) {
          s = `private key of ${conn.name} unusable: ${e instanceof Error ? e.message : String(e)}`;
        }
      }
      this.signers.set(conn, s);
    }
    return s;
  }

  trustAnchors(conn: ConnectionConfig): Uint8Array[] {
    const names = conn.remote.cas;
    return this.config.cas.filter((ca) => names.length === 0 || names.includes(ca.name)).map((ca) => ca.certDer);
  }

  nattPort(localAddr: string): number {
    const v6 = localAddr.includes(':');
    const l =
      this.config.listen.find((x) => x.address === localAddr) ??
      this.config.listen.find((x) => x.address === (v6 ? '::' : '0.0.0.0')) ??
      this.config.listen[0];
    return l?.nattPort ?? 4500;
  }

  established(sa: IkeSa): void {
    this.table.touched.add(sa);
    sa.state = 'established';
    sa.establishedMs = this.nowMs;
    this.table.leaveHalfOpen(sa);
    this.startLifetimes(sa);
    this.announceUp(sa);
    const remoteId = sa.remoteId ? describeIdentity(sa.remoteId) : '';
    this.log('info', `IKE_SA ${sa.conn.name} established with ${remoteId} at ${sa.remote.addr}:${sa.remote.port} (${sa.proposalText})`, sa);
    if (!sa.initiator && sa.peerInitialContact) {
      // §2.4: the peer holds no other SA with us; ours are stale. No DELETE: the peer would not know them.
      for (const other of this.table.all()) {
        if (other === sa || other.destroyed || other.conn.name !== sa.conn.name) continue;
        if (!other.remoteId || !sa.remoteId || describeIdentity(other.remoteId) !== remoteId) continue;
        this.log('info', `INITIAL_CONTACT from ${remoteId}: removing older IKE_SA ${other.id}`, sa);
        this.destroySa(other, 'replaced (INITIAL_CONTACT)');
      }
    }
  }

  private startLifetimes(sa: IkeSa): void {
    sa.rekeyAtMs = softDeadline(this, sa.conn.ikeRekeySec);
    sa.expireAtMs = hardDeadline(this, sa.conn.ikeLifetimeSec);
  }

  private announceUp(sa: IkeSa): void {
    sa.upAnnounced = true;
    const remoteId = sa.remoteId ? describeIdentity(sa.remoteId) : '';
    this.event({
      type: 'ike.up',
      ikeId: sa.id,
      conn: sa.conn.name,
      local: { ...sa.local },
      remote: { ...sa.remote },
      localId: sa.localId ? describeIdentity(sa.localId) : '',
      remoteId,
      proposal: sa.proposalText,
      natLocal: sa.natLocal,
      natRemote: sa.natRemote,
      initiator: sa.initiator,
    });
  }

  createRekeyedSa(old: IkeSa, weInitiate: boolean, spiI: Uint8Array, spiR: Uint8Array): IkeSa {
    this.table.touched.add(old);
    const sa = new IkeSa(this.newId(), weInitiate, spiI.slice(), { ...old.local }, { ...old.remote }, old.conn, old.candidates, this.nowMs);
    sa.spiR = spiR.slice();
    sa.fromRekey = true;
    sa.connFinal = true;
    sa.natLocal = old.natLocal;
    sa.natRemote = old.natRemote;
    sa.natDetectionSeen = old.natDetectionSeen;
    sa.peerFragmentation = old.peerFragmentation;
    sa.peerSigHashes = old.peerSigHashes;
    // Negotiated once in IKE_SA_INIT/IKE_AUTH, so they outlive a rekey (RFC 4555 §3.2, RFC 5685 §3).
    sa.mobike = old.mobike;
    sa.peerMobike = old.peerMobike;
    sa.peerAddresses = [...old.peerAddresses];
    sa.peerRedirect = old.peerRedirect;
    sa.redirectedFrom = old.redirectedFrom;
    sa.localId = old.localId;
    sa.remoteId = old.remoteId;
    sa.state = 'established';
    sa.establishedMs = this.nowMs;
    // Until it takes over (adoptInto) it is a collision's candidate; unused, it goes after this long.
    sa.rekeyedDeadlineMs = this.nowMs + REKEYED_IKE_TIMEOUT_MS;
    sa.tm = new TaskManager(sa, this);
    this.table.add(sa);
    return sa;
  }

  adoptInto(old: IkeSa, sa: IkeSa): void {
    this.table.touched.add(old).add(sa);
    if (old.successor === sa || sa.destroyed) return;
    sa.children.push(...old.children);
    old.children = [];
    sa.leases.push(...old.leases);
    old.leases = [];
    sa.peerVips = old.peerVips;
    sa.localVips = old.localVips;
    sa.requestedChild = old.requestedChild;
    sa.rekeyedDeadlineMs = Infinity;
    this.startLifetimes(sa);
    old.state = 'rekeyed';
    old.successor = sa;
    old.passiveRekey = null;
    old.rekeyedDeadlineMs = this.nowMs + REKEYED_IKE_TIMEOUT_MS;
    // Our CHILD_SA operations still waiting on the old SA continue on the new one.
    for (const o of old.tm.takeQueued((x) => x.op === 'create-child' || x.op === 'rekey-child' || x.op === 'delete-child')) sa.tm.initiate(o);
    this.announceUp(sa);
    this.log('info', `IKE_SA ${sa.conn.name} rekeyed: SPIs ${hex(old.spiI)}_i ${hex(old.spiR)}_r → ${hex(sa.spiI)}_i ${hex(sa.spiR)}_r (${sa.proposalText})`, sa, {
      oldIkeId: old.id,
      spiI: hex(sa.spiI),
      spiR: hex(sa.spiR),
    });
  }

  peerUnreachable(sa: IkeSa, reason: string): void {
    this.table.touched.add(sa);
    if (sa.destroyed) return;
    if (!sa.established) {
      this.destroySa(sa, reason);
      return;
    }
    const action = sa.conn.dpdAction ?? (sa.canInitiate ? 'restart' : 'clear');
    const children = [...new Set(sa.children.filter((c) => c.announced).map((c) => c.config.name))];
    this.destroySa(sa, reason);
    if (action === 'clear' || children.length === 0 || !sa.canInitiate) return;
    if (action === 'restart') {
      this.log('info', `restarting connection ${sa.conn.name} (DPD action restart)`);
      this.startSa(sa.conn, children);
      return;
    }
    this.held.push({ conn: sa.conn, children });
    this.log('info', `holding connection ${sa.conn.name} (DPD action hold): re-initiated on matching traffic`);
  }

  randomInt(n: number): number {
    if (n <= 1) return 0;
    return readU32(this.crypto.randomBytes(4), 0) % n;
  }

  followRedirect(sa: IkeSa, to: RedirectGateway, from: string): boolean {
    this.table.touched.add(sa);
    const target = gatewayText(to);
    if (to.kind !== 'ip') {
      this.log('warn', `cannot follow the redirect to ${target}: DNS names are not resolved here`, sa);
      return false;
    }
    if (sa.redirects >= MAX_REDIRECTS) {
      this.log('warn', `not following the redirect to ${target}: ${MAX_REDIRECTS} redirects in a row already`, sa);
      return false;
    }
    if (!sa.canInitiate || (sa.established && (sa.rekeyQueued || sa.state !== 'established'))) return false;
    const redirect = { from, count: sa.redirects + 1 };
    if (sa.established) {
      // Make-before-break, as a reauthentication: the new SA brings the CHILD_SAs along, then this one is deleted.
      sa.rekeyQueued = true;
      const children = [...new Set(sa.children.filter((c) => c.announced && c.state !== 'deleting').map((c) => c.config.name))];
      this.log('info', `redirected by ${from} to ${target}: moving IKE_SA ${sa.conn.name} there`, sa);
      if (this.startSa(sa.conn, children, sa, to.addr, redirect)) return true;
      sa.rekeyQueued = false;
      return false;
    }
    const children = [sa.requestedChild, ...sa.pendingChildren].filter((c): c is string => c !== undefined);
    const reauthOf = sa.reauthOf;
    sa.reauthOf = null;
    this.log('info', `redirected by ${from} to ${target} at IKE_SA_INIT`, sa);
    if (this.startSa(sa.conn, children, reauthOf, to.addr, redirect)) return true;
    sa.reauthOf = reauthOf;
    return false;
  }

  destroySa(sa: IkeSa, reason: string, opts: { notify?: number; quiet?: boolean } = {}): void {
    this.table.touched.add(sa);
    if (sa.destroyed) return;
    const wasUp = sa.upAnnounced;
    const spare = sa.fromRekey && !sa.upAnnounced;
    for (const child of [...sa.children]) removeChild(this, sa, child, reason);
    for (const lease of sa.leases) this.pools.get(lease.pool)?.release(lease.owner);
    sa.leases = [];
    sa.state = 'destroyed';
    this.table.remove(sa);
    const pending = sa.passiveRekey?.newSa;
    sa.passiveRekey = null;
    if (pending && !pending.upAnnounced) this.destroySa(pending, reason);
    const replaced = sa.reauthOf;
    if (replaced && !replaced.destroyed) {
      // The reauthentication failed: the old SA stays; a scheduled one (ikeReauth) tries again later.
      replaced.rekeyQueued = false;
      if (replaced.conn.ikeReauth && !Number.isFinite(replaced.rekeyAtMs)) replaced.rekeyAtMs = this.nowMs + 30_000 + this.randomInt(30_000);
    }
    if (spare) {
      this.log('debug', `spare IKE_SA ${sa.id} of a rekey removed: ${reason}`, sa);
      return;
    }
    if (wasUp) {
      this.event({ type: 'ike.down', ikeId: sa.id, conn: sa.conn.name, reason });
      this.log('info', `IKE_SA ${sa.conn.name} with ${sa.remote.addr} down: ${reason}`, sa);
      return;
    }
    // An INVALID_KE_PAYLOAD round trip is normal negotiation, not a failure worth an event; nor is a redirect.
    if (!sa.initiator && opts.notify === Notify.INVALID_KE_PAYLOAD) return;
    if (opts.quiet) {
      this.log('debug', `IKE_SA attempt with ${sa.remote.addr} ended: ${reason}`, sa);
      return;
    }
    this.event({
      type: 'ike.failed',
      ikeId: sa.id,
      ...(sa.initiator || sa.connFinal ? { conn: sa.conn.name } : {}),
      remote: { ...sa.remote },
      reason,
      ...(opts.notify !== undefined && opts.notify <= NOTIFY_ERROR_MAX ? { notify: opts.notify } : {}),
    });
    this.log(sa.initiator ? 'info' : 'debug', `IKE_SA ${sa.initiator ? `${sa.conn.name} ` : ''}with ${sa.remote.addr} failed: ${reason}`, sa);
  }

  otherSas(sa: IkeSa): IkeSa[] {
    return this.table.all().filter((o) => o !== sa && !o.destroyed);
  }

  // ---- ids ----

  private newId(): string {
    for (;;) {
      const id = this.idSource();
      if (!this.table.hasId(id)) return id;
    }
  }

  newIkeSpi(): Uint8Array {
    for (;;) {
      const spi = this.crypto.randomBytes(8);
      if (!isZero(spi) && !this.table.hasSpi(hex(spi))) return spi;
    }
  }
}


/** Whether a child config's selectors (dynamic = the connection's addresses) cover an acquired packet's selectors. */
function childCovers(conn: ConnectionConfig, localSpecs: string[], remoteSpecs: string[], localTs: TsRange, remoteTs: TsRange): boolean {
  const addrs = (list: string[]) => list.map(parseIp).filter((x): x is Uint8Array => x !== null);
  const within = (specs: string[], dynamic: Uint8Array[], t: TsRange) =>
    resolveTs(specs, dynamic)
      .map(tsToRange)
      .some((r) => ipLe(r.startAddr, t.startAddr) && ipLe(t.endAddr, r.endAddr) && (r.ipProtocol === 0 || r.ipProtocol === t.ipProtocol));
  // Our own `dynamic` side is an address we learn only when connected (outer or virtual IP): any source fits.
  const localOk = localSpecs.some((s) => s.trim().startsWith('dynamic')) || within(localSpecs, addrs(conn.localAddrs), localTs);
  return localOk && within(remoteSpecs, addrs(conn.remoteAddrs), remoteTs);
}

function ipLe(a: string, b: string): boolean {
  const x = parseIp(a);
  const y = parseIp(b);
  if (!x || !y || x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! < y[i]!;
  return true;
}

/** Structural equality of configuration values (plain objects, arrays, Uint8Array, primitives). */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
