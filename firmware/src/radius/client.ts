// RADIUS client, runtime side (RFC 2865 §2.5/§3, RFC 2866, RFC 5080 §2.2): UDP, identifiers, retransmission,
// failover across servers with dead-server marking and revival, and response verification.
//
// Flow: a request tries the servers in order (live ones first, in config order; dead ones last, longest-dead
// first). On each server it is sent, then retransmitted unchanged (same Identifier and authenticator, RFC 5080
// §2.2.1) every `timeoutMs`, `retries` times; when that server stays silent it is marked dead for `deadTimeMs`
// and the next one gets a freshly signed packet. A response is accepted only from the server's address and port,
// with the pending Identifier, a valid Response Authenticator and, when required, a valid Message-Authenticator;
// anything else is dropped and counted (RFC 2865 §3: silently discarded), and the request keeps waiting.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { RadiusAttr, RadiusCode, radiusCodeName } from './constants.ts';
import { textAttr, u32Attr, ipv4Attr } from './attributes.ts';
import { signPacket, verifyPacket } from './authenticator.ts';
import { hideUserPassword } from './hiding.ts';
import type { RadiusAttribute, RadiusPacket } from './packet.ts';
import { utf8Bytes } from './bytes.ts';

export interface RadiusServer {
  /** Shown in logs and results. */
  name: string;
  address: string;
  authPort?: number; // 1812
  acctPort?: number; // 1813
  secret: Uint8Array;
  /**
   * Require a valid Message-Authenticator in every Access-Accept/Reject/Challenge, not only those carrying EAP
   * (where RFC 3579 §3.2 mandates it). Protects PAP against Blast-RADIUS (CVE-2024-3596) forgeries.
   */
  requireMessageAuthenticator?: boolean;
}

export type RadiusLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface RadiusClientOptions {
  servers: RadiusServer[];
  /** Wait for a response before each retransmission. */
  timeoutMs?: number; // 2000
  /** Retransmissions per server before failing over. */
  retries?: number; // 2
  /** How long a silent server is skipped (then tried again first: revival). */
  deadTimeMs?: number; // 60000
  /** Source address to send from (the NAS address); any when absent. */
  bindAddress?: string;
  /** NAS-Identifier / NAS-IP-Address added to every request that lacks them (RFC 2865 §4.1 needs one). */
  nasIdentifier?: string;
  nasIpAddress?: string;
  random?: (n: number) => Uint8Array;
  now?: () => number;
  log?: RadiusLog;
}

export type RadiusResult =
  | { ok: true; packet: RadiusPacket; server: RadiusServer; requestAuthenticator: Uint8Array; rttMs: number }
  | { ok: false; error: string };

export interface RadiusServerStatus {
  name: string;
  address: string;
  alive: boolean;
  deadUntilMs: number;
}

export interface RadiusClientStats {
  requests: number;
  retransmits: number;
  timeouts: number;
  failovers: number;
  responses: number;
  dropped: Record<string, number>;
}

interface Pending {
  key: string;
  expectCodes: readonly number[];
  requestAuthenticator: Uint8Array;
  secret: Uint8Array;
  requireMa: boolean;
  serverName: string;
  resolve: (r: { packet: RadiusPacket } | null) => void;
}

interface ServerState {
  cfg: RadiusServer;
  deadUntilMs: number;
}

/**
 * One spelling per address, so a configured server or client matches the source address the socket reports:
 * IPv6 compressed and lower-case, IPv4-mapped IPv6 (a dual-stack socket's view of an IPv4 peer) as IPv4.
 */
export function canonicalIp(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  if (isIP(address) !== 6) return address;
  const h = new URL(`http://[${address}]/`).hostname;
  return h.slice(1, -1);
}

const ACCESS_REPLIES = [RadiusCode.ACCESS_ACCEPT, RadiusCode.ACCESS_REJECT, RadiusCode.ACCESS_CHALLENGE] as const;
const ACCT_REPLIES = [RadiusCode.ACCOUNTING_RESPONSE] as const;

export class RadiusClient {
  private readonly servers: ServerState[];
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly deadTimeMs: number;
  private readonly random: (n: number) => Uint8Array;
  private readonly now: () => number;
  private readonly log: RadiusLog;
  private readonly pending = new Map<string, Pending>();
  /** In-use Identifiers per destination address|port (256 each, RFC 2865 §3). */
  private readonly idsInUse = new Map<string, Set<number>>();
  private readonly nextId = new Map<string, number>();
  private readonly idWaiters = new Map<string, (() => void)[]>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private closed = false;
  readonly stats: RadiusClientStats = { requests: 0, retransmits: 0, timeouts: 0, failovers: 0, responses: 0, dropped: {} };

  private constructor(
    private readonly opts: RadiusClientOptions,
    private readonly sockets: { v4?: Socket; v6?: Socket },
  ) {
    this.servers = opts.servers.map((cfg) => ({ cfg: { ...cfg, address: canonicalIp(cfg.address) }, deadUntilMs: 0 }));
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.retries = opts.retries ?? 2;
    this.deadTimeMs = opts.deadTimeMs ?? 60_000;
    this.random = opts.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => {});
    for (const s of [sockets.v4, sockets.v6]) s?.on('message', (msg, rinfo) => this.onMessage(new Uint8Array(msg), rinfo));
  }

  /** Opens one UDP socket per address family the servers use. */
  static async open(opts: RadiusClientOptions): Promise<RadiusClient> {
    if (opts.servers.length === 0) throw new Error('RADIUS client needs at least one server');
    for (const s of opts.servers) {
      if (!isIP(s.address)) throw new Error(`RADIUS server ${s.name}: '${s.address}' is not an IP address`);
      if (s.secret.length === 0) throw new Error(`RADIUS server ${s.name}: empty shared secret`);
    }
    const need4 = opts.servers.some((s) => isIP(s.address) === 4);
    const need6 = opts.servers.some((s) => isIP(s.address) === 6);
    const bind = async (type: 'udp4' | 'udp6'): Promise<Socket> => {
      const sock = createSocket(type);
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        const addr = opts.bindAddress && isIP(opts.bindAddress) === (type === 'udp4' ? 4 : 6) ? opts.bindAddress : undefined;
        sock.bind({ port: 0, address: addr }, () => {
          sock.off('error', reject);
          resolve();
        });
      });
      return sock;
    };
    const sockets = { v4: need4 ? await bind('udp4') : undefined, v6: need6 ? await bind('udp6') : undefined };
    return new RadiusClient(opts, sockets);
  }

  /**
   * Access-Request (RFC 2865 §4.1). Always carries a Message-Authenticator (RFC 3579 §3.2; Blast-RADIUS). With
   * `userPassword`, User-Password is hidden per server (it depends on the secret and the Request Authenticator).
   */
  access(attributes: RadiusAttribute[], opts: { userPassword?: string | Uint8Array } = {}): Promise<RadiusResult> {
    const carriesEap = attributes.some((a) => a.type === RadiusAttr.EAP_MESSAGE);
    const pw = typeof opts.userPassword === 'string' ? utf8Bytes(opts.userPassword) : opts.userPassword;
    return this.request(RadiusCode.ACCESS_REQUEST, ACCESS_REPLIES, (server, authenticator) => {
      const attrs = this.withNas(attributes);
      if (pw) {
        const hidden = hideUserPassword(pw, server.secret, authenticator);
        if (!hidden.ok) return hidden;
        attrs.push({ type: RadiusAttr.USER_PASSWORD, value: hidden.value });
      }
      return { ok: true, value: { attributes: attrs, messageAuthenticator: true, requireMa: carriesEap || server.requireMessageAuthenticator === true } };
    });
  }

  /** Accounting-Request (RFC 2866 §4.1); Acct-Delay-Time says how long the record waited (§5.2) once we fail over. */
  accounting(attributes: RadiusAttribute[]): Promise<RadiusResult> {
    const startedMs = this.now();
    return this.request(RadiusCode.ACCOUNTING_REQUEST, ACCT_REPLIES, () => {
      const attrs = this.withNas(attributes.filter((a) => a.type !== RadiusAttr.ACCT_DELAY_TIME));
      const delaySec = Math.floor((this.now() - startedMs) / 1000);
      const given = attributes.find((a) => a.type === RadiusAttr.ACCT_DELAY_TIME);
      if (given) attrs.push(given);
      else if (delaySec > 0) attrs.push(u32Attr(RadiusAttr.ACCT_DELAY_TIME, delaySec));
      return { ok: true, value: { attributes: attrs, messageAuthenticator: false, requireMa: false } };
    });
  }

  serverStatus(): RadiusServerStatus[] {
    const now = this.now();
    return this.servers.map((s) => ({ name: s.cfg.name, address: s.cfg.address, alive: s.deadUntilMs <= now, deadUntilMs: s.deadUntilMs }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const p of [...this.pending.values()]) p.resolve(null);
    this.pending.clear();
    for (const q of this.idWaiters.values()) for (const w of q.splice(0)) w();
    await Promise.all(
      [this.sockets.v4, this.sockets.v6].map((s) => (s ? new Promise<void>((r) => s.close(() => r())) : Promise.resolve())),
    );
  }

  // ---- internals ----

  private withNas(attributes: RadiusAttribute[]): RadiusAttribute[] {
    const out = [...attributes];
    const has = (t: number) => out.some((a) => a.type === t);
    if (this.opts.nasIpAddress && !has(RadiusAttr.NAS_IP_ADDRESS)) {
      const a = ipv4Attr(RadiusAttr.NAS_IP_ADDRESS, this.opts.nasIpAddress);
      if (a) out.push(a);
    }
    if (!has(RadiusAttr.NAS_IDENTIFIER) && (this.opts.nasIdentifier || !has(RadiusAttr.NAS_IP_ADDRESS))) {
      out.push(textAttr(RadiusAttr.NAS_IDENTIFIER, this.opts.nasIdentifier ?? 'outpost'));
    }
    return out;
  }

  /** Live servers in config order, then dead ones, the one whose dead time ends first leading. */
  private order(): ServerState[] {
    const now = this.now();
    const live = this.servers.filter((s) => s.deadUntilMs <= now);
    const dead = this.servers.filter((s) => s.deadUntilMs > now).sort((a, b) => a.deadUntilMs - b.deadUntilMs);
    return [...live, ...dead];
  }

  private async request(
    code: number,
    expectCodes: readonly number[],
    build: (server: RadiusServer, authenticator: Uint8Array) => { ok: true; value: { attributes: RadiusAttribute[]; messageAuthenticator: boolean; requireMa: boolean } } | { ok: false; error: string },
  ): Promise<RadiusResult> {
    if (this.closed) return { ok: false, error: 'RADIUS client closed' };
    this.stats.requests++;
    const tried: string[] = [];
    const order = this.order();
    for (const [i, st] of order.entries()) {
      const server = st.cfg;
      const port = code === RadiusCode.ACCOUNTING_REQUEST ? (server.acctPort ?? 1813) : (server.authPort ?? 1812);
      const dest = `${server.address}|${port}`;
      const id = await this.allocId(dest);
      if (this.closed) return { ok: false, error: 'RADIUS client closed' };
      try {
        const requestAuthenticator = this.random(16);
        const b = build(server, requestAuthenticator);
        if (!b.ok) return { ok: false, error: b.error };
        const signed = signPacket({ code, identifier: id, attributes: b.value.attributes }, { secret: server.secret, requestAuthenticator, messageAuthenticator: b.value.messageAuthenticator });
        if (!signed.ok) return { ok: false, error: signed.error };
        const t0 = this.now();
        const got = await this.exchange(dest, id, server, port, signed.value.bytes, {
          expectCodes,
          requestAuthenticator: signed.value.authenticator,
          secret: server.secret,
          requireMa: b.value.requireMa,
          serverName: server.name,
        });
        if (got) {
          if (st.deadUntilMs > 0) {
            st.deadUntilMs = 0;
            this.log('info', `RADIUS server ${server.name} (${server.address}:${port}) answers again`);
          }
          return { ok: true, packet: got.packet, server, requestAuthenticator: signed.value.authenticator, rttMs: this.now() - t0 };
        }
        if (this.closed) return { ok: false, error: 'RADIUS client closed' };
        tried.push(`${server.name} (${server.address}:${port})`);
        st.deadUntilMs = this.now() + this.deadTimeMs;
        this.stats.timeouts++;
        const next = order[i + 1];
        this.log('warn', `RADIUS server ${server.name} (${server.address}:${port}) did not answer ${radiusCodeName(code)} after ${this.retries + 1} tries; marked dead for ${Math.round(this.deadTimeMs / 1000)} s${next ? `, failing over to ${next.cfg.name}` : ''}`);
        if (next) this.stats.failovers++;
      } finally {
        this.releaseId(dest, id);
      }
    }
    return { ok: false, error: `no RADIUS server answered (tried ${tried.join(', ')})` };
  }

  /** Sends and retransmits one packet to one server; null after the last try times out. */
  private exchange(dest: string, id: number, server: RadiusServer, port: number, bytes: Uint8Array, p: Omit<Pending, 'key' | 'resolve'>): Promise<{ packet: RadiusPacket } | null> {
    const sock = this.socketFor(server.address);
    const key = `${dest}|${id}`;
    return new Promise((resolve) => {
      let tries = 0;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = (r: { packet: RadiusPacket } | null) => {
        if (timer) {
          clearTimeout(timer);
          this.timers.delete(timer);
        }
        this.pending.delete(key);
        resolve(r);
      };
      const send = () => {
        if (this.closed) return finish(null);
        if (tries > 0) this.stats.retransmits++;
        tries++;
        sock.send(bytes, port, server.address, (err) => {
          if (err) this.log('debug', `RADIUS send to ${server.name} failed: ${err.message}`);
        });
        timer = setTimeout(() => {
          if (timer) this.timers.delete(timer);
          if (tries <= this.retries) send();
          else finish(null);
        }, this.timeoutMs);
        this.timers.add(timer);
      };
      this.pending.set(key, { ...p, key, resolve: finish });
      send();
    });
  }

  private onMessage(msg: Uint8Array, rinfo: RemoteInfo): void {
    if (msg.length < 20) return this.drop('short', rinfo);
    const key = `${canonicalIp(rinfo.address)}|${rinfo.port}|${msg[1] ?? 0}`;
    const p = this.pending.get(key);
    if (!p) return this.drop('unexpected', rinfo);
    const v = verifyPacket(msg, p.secret, p.requestAuthenticator);
    if (!v.ok) return this.drop('verification', rinfo, `${v.error}`, p.serverName);
    if (!p.expectCodes.includes(v.packet.code)) return this.drop('code', rinfo, `unexpected ${radiusCodeName(v.packet.code)}`, p.serverName);
    if (p.requireMa && !v.hasMessageAuthenticator) return this.drop('no-message-authenticator', rinfo, 'response without the required Message-Authenticator', p.serverName);
    this.stats.responses++;
    p.resolve({ packet: v.packet });
  }

  private drop(reason: string, rinfo: RemoteInfo, detail?: string, serverName?: string): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
    if (detail) this.log('warn', `dropped RADIUS response from ${serverName ?? ''} (${rinfo.address}:${rinfo.port}): ${detail}`);
  }

  private socketFor(address: string): Socket {
    const s = isIP(address) === 6 ? this.sockets.v6 : this.sockets.v4;
    if (!s) throw new Error(`no socket for ${address}`);
    return s;
  }

  private async allocId(dest: string): Promise<number> {
    for (;;) {
      const used = this.idsInUse.get(dest) ?? new Set<number>();
      this.idsInUse.set(dest, used);
      if (used.size < 256) {
        let id = this.nextId.get(dest) ?? (this.random(1)[0] ?? 0);
        while (used.has(id)) id = (id + 1) & 0xff;
        used.add(id);
        this.nextId.set(dest, (id + 1) & 0xff);
        return id;
      }
      if (this.closed) return 0;
      await new Promise<void>((r) => {
        const q = this.idWaiters.get(dest) ?? [];
        q.push(r);
        this.idWaiters.set(dest, q);
      });
    }
  }

  private releaseId(dest: string, id: number): void {
    this.idsInUse.get(dest)?.delete(id);
    this.idWaiters.get(dest)?.shift()?.();
  }
}
