// The sans-IO IKEv2 engine (RFC 7296): datagrams, ticks and commands in; datagrams, effects and events out.
/*
 * Entry points: receive(datagram), tick(), command(). Each runs to completion and returns an Output; none throws
 * (a bug is counted, logged, and the datagram dropped). Routing: IKE_SA_INIT requests go through the stateless
 * gate (cookies §2.6, half-open limits, connection candidates by address) and create a responder SA; everything
 * else finds its SA by our SPI and is handed to that SA's task manager. Unknown SPIs are dropped and counted,
 * answered with INVALID_IKE_SPI (rate-limited) when they are requests (§2.21.4).
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
import { CookieJar } from './cookie.ts';
import { notifyReply, RateLimit } from './stateless.ts';
import { createPools, type AddressPool } from './pool.ts';
import { removeChild } from './child-install.ts';
import { describeIdentity } from './identity.ts';
import { addrInList, parseIp } from './ip.ts';
import { hex, isZero, readU32, sameBytes } from './bytes.ts';
import { toIkeSaInfo } from './sa-info.ts';

/** A responder SA must authenticate within this time (strongSwan's half_open_timeout). */
export const HALF_OPEN_TIMEOUT_MS = 30_000;
/** An initiator SA paused on the runtime (e.g. a validation that never answers) gives up this long after it started. */
export const CONNECT_TIMEOUT_MS = 120_000;
/** RFC 3948 §4: NAT keepalives every 20 s when we are behind a NAT. */
export const NAT_KEEPALIVE_MS = 20_000;
const INVALID_SPI_REPLIES_PER_SEC = 10;

const LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface EngineOptions {
  config: GatewayConfig;
  crypto: CryptoSuite;
  sig: SignatureOps;
  nowMs: number;
  /** Source of local handles for IKE/CHILD SAs (pseudonymous, never SPIs); default: random hex. */
  idSource?: () => string;
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
  listSas(): IkeSaInfo[];
  stats(): EngineStats;
}

export function createEngine(opts: EngineOptions): Engine {
  return new IkeEngine(opts);
}

class IkeEngine implements Engine, EngineContext {
  readonly config: GatewayConfig;
  readonly crypto: CryptoSuite;
  readonly sig: SignatureOps;
  readonly pools: ReadonlyMap<string, AddressPool>;
  nowMs: number;
  out = new OutputBuilder();

  private readonly table = new SaTable();
  private readonly cookies: CookieJar;
  private readonly invalidSpiLimit: RateLimit;
  private readonly inboundSpis = new Set<number>();
  private readonly signers = new WeakMap<ConnectionConfig, Signer | string>();
  private readonly idSource: () => string;
  private readonly minLevel: number;
  private refCounter = 0;
  private received = 0;
  private sent = 0;
  private internalErrors = 0;
  private readonly drops: Record<string, number> = {};
  private readonly counters: Record<string, number> = {};

  constructor(opts: EngineOptions) {
    this.config = opts.config;
    this.crypto = opts.crypto;
    this.sig = opts.sig;
    this.nowMs = opts.nowMs;
    this.cookies = new CookieJar(opts.crypto, opts.nowMs);
    this.invalidSpiLimit = new RateLimit(INVALID_SPI_REPLIES_PER_SEC, opts.nowMs);
    this.idSource = opts.idSource ?? (() => hex(this.crypto.randomBytes(4)));
    this.minLevel = LEVELS[opts.config.log?.level ?? 'info'] ?? 1;
    const { pools, errors } = createPools(opts.config.pools);
    this.pools = pools;
    for (const e of errors) this.log('error', e);
  }

  // ---- entry points ----

  receive(d: Datagram, nowMs: number): Output {
    return this.run(nowMs, () => this.onDatagram(d));
  }

  tick(nowMs: number): Output {
    return this.run(nowMs, () => this.onTick());
  }

  command(c: Command, nowMs: number): Output {
    return this.run(nowMs, () => this.onCommand(c));
  }

  listSas(): IkeSaInfo[] {
    return this.table.all().filter((sa) => !sa.destroyed).map(toIkeSaInfo);
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
      if (wake !== undefined) out.wakeAtMs = wake;
    } catch {
      this.internalErrors++;
    }
    this.sent += out.send.length;
    return { send: out.send, effects: out.effects, events: out.events, ...(out.wakeAtMs !== undefined ? { wakeAtMs: out.wakeAtMs } : {}) };
  }

  // ---- datagrams ----

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
    if (this.table.halfOpenFrom(d.remote.addr) >= this.config.halfOpenPerSource) {
      this.drop('half-open-per-source');
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
    const sa = new IkeSa(this.newId(), false, h.spiI.slice(), { ...d.local }, { ...d.remote }, first, candidates, this.nowMs);
    sa.spiR = this.newIkeSpi();
    sa.tm = new TaskManager(sa, this);
    this.table.add(sa);
    sa.tm.handleInitRequest(d, msg);
    if (!sa.destroyed) this.log('info', `IKE_SA_INIT from ${d.remote.addr}:${d.remote.port} accepted (${sa.proposalText})`, sa);
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
    for (const sa of this.table.values()) {
      if (sa.destroyed) continue;
      sa.tm.tick(now);
      if (sa.destroyed) continue;
      if (!sa.established && sa.state !== 'deleting') {
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
        sa.tm.initiate({ op: 'liveness' });
      }
    }
  }

  private keepaliveDue(sa: IkeSa): number {
    return sa.established && sa.natLocal ? sa.lastOutboundMs + NAT_KEEPALIVE_MS : Infinity;
  }

  private dpdDue(sa: IkeSa): number {
    return sa.established && sa.conn.dpdDelaySec > 0 && sa.tm.idle ? sa.lastInboundMs + sa.conn.dpdDelaySec * 1000 : Infinity;
  }

  private nextWake(): number | undefined {
    let next = Infinity;
    for (const sa of this.table.values()) {
      if (sa.destroyed) continue;
      next = Math.min(next, sa.tm.nextDeadline() ?? Infinity);
      if (!sa.established && sa.state !== 'deleting') {
        // An initiator's retransmissions bound its setup time; the connect timeout only covers a paused exchange.
        if (!sa.initiator) next = Math.min(next, sa.createdMs + HALF_OPEN_TIMEOUT_MS);
        else if (sa.tm.nextDeadline() === undefined) next = Math.min(next, sa.createdMs + CONNECT_TIMEOUT_MS);
      }
      next = Math.min(next, this.keepaliveDue(sa), this.dpdDue(sa));
    }
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
    }
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
    const local = this.localEndpointFor(conn, remoteAddr);
    const remote: Endpoint = { addr: remoteAddr, port: conn.remotePort || 500 };
    const sa = new IkeSa(this.newId(), true, this.newIkeSpi(), local, remote, conn, [conn], this.nowMs);
    sa.requestedChild = child;
    sa.tm = new TaskManager(sa, this);
    this.table.add(sa);
    this.log('info', `initiating IKE_SA ${conn.name} to ${remote.addr}:${remote.port}`, sa);
    sa.tm.initiate({ op: 'connect' });
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
    sa.state = 'established';
    sa.establishedMs = this.nowMs;
    this.table.leaveHalfOpen(sa);
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

  destroySa(sa: IkeSa, reason: string, opts: { notify?: number } = {}): void {
    if (sa.destroyed) return;
    const wasUp = sa.established || sa.state === 'deleting';
    for (const child of [...sa.children]) removeChild(this, sa, child, reason);
    for (const lease of sa.leases) this.pools.get(lease.pool)?.release(lease.owner);
    sa.leases = [];
    sa.state = 'destroyed';
    this.table.remove(sa);
    if (wasUp) {
      this.event({ type: 'ike.down', ikeId: sa.id, conn: sa.conn.name, reason });
      this.log('info', `IKE_SA ${sa.conn.name} with ${sa.remote.addr} down: ${reason}`, sa);
      return;
    }
    // An INVALID_KE_PAYLOAD round trip is normal negotiation, not a failure worth an event.
    if (!sa.initiator && opts.notify === Notify.INVALID_KE_PAYLOAD) return;
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

  private newIkeSpi(): Uint8Array {
    for (;;) {
      const spi = this.crypto.randomBytes(8);
      if (!isZero(spi) && !this.table.hasSpi(hex(spi))) return spi;
    }
  }
}

