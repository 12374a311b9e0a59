// Dynamic Authorization listener, runtime side (RFC 5176 §2.3, §3): receives Disconnect-/CoA-Requests from
// configured servers only, verifies them (dynauth.ts), hands each to a callback once (duplicates within the
// cache time get the cached answer, RFC 5080 §2.2.2), and answers ACK or NAK.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { ErrorCause, radiusCodeName } from './constants.ts';
import { buildDynAuthResponse, checkDynAuthRequest, type DynAuthKind, type SessionSelector } from './dynauth.ts';
import type { RadiusAttribute, RadiusPacket } from './packet.ts';
import { canonicalIp, type RadiusLog } from './client.ts';
import { toHex } from './bytes.ts';

export interface DynAuthClient {
  name: string;
  /** Source address requests must come from. */
  address: string;
  secret: Uint8Array;
  requireMessageAuthenticator?: boolean;
}

export interface DynAuthRequest {
  kind: DynAuthKind;
  client: string;
  from: { address: string; port: number };
  selector: SessionSelector;
  packet: RadiusPacket;
}

/** ACK: done (Disconnect: the session is gone). NAK with an Error-Cause, e.g. 503 Session-Context-Not-Found. */
export type DynAuthDecision = { ack: true; attributes?: RadiusAttribute[] } | { ack: false; errorCause: number; attributes?: RadiusAttribute[] };

export interface DynAuthServerOptions {
  address: string;
  port?: number; // 3799 (RFC 5176 §3)
  clients: DynAuthClient[];
  handler: (req: DynAuthRequest) => DynAuthDecision | Promise<DynAuthDecision>;
  nasIdentifier?: string;
  nasIpAddress?: string;
  requireEventTimestamp?: boolean;
  windowSec?: number;
  /** How long an answer is kept for duplicate requests. */
  duplicateCacheMs?: number; // 30000
  nowMs?: () => number;
  log?: RadiusLog;
}

export interface DynAuthStats {
  requests: number;
  acks: number;
  naks: number;
  duplicates: number;
  dropped: Record<string, number>;
}

export class DynAuthServer {
  private readonly cache = new Map<string, { atMs: number; reply: Uint8Array | null }>();
  readonly stats: DynAuthStats = { requests: 0, acks: 0, naks: 0, duplicates: 0, dropped: {} };
  private readonly now: () => number;
  private readonly log: RadiusLog;

  private constructor(
    private readonly opts: DynAuthServerOptions,
    private readonly sock: Socket,
    readonly port: number,
  ) {
    this.now = opts.nowMs ?? Date.now;
    this.log = opts.log ?? (() => {});
    sock.on('message', (msg, rinfo) => void this.onMessage(new Uint8Array(msg), rinfo));
  }

  static async open(opts: DynAuthServerOptions): Promise<DynAuthServer> {
    const fam = isIP(opts.address);
    if (!fam) throw new Error(`dynamic authorization listen address '${opts.address}' is not an IP address`);
    for (const c of opts.clients) {
      if (!isIP(c.address)) throw new Error(`dynamic authorization client ${c.name}: '${c.address}' is not an IP address`);
      if (c.secret.length === 0) throw new Error(`dynamic authorization client ${c.name}: empty shared secret`);
    }
    const sock = createSocket(fam === 6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ address: opts.address, port: opts.port ?? 3799 }, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    return new DynAuthServer(opts, sock, sock.address().port);
  }

  close(): Promise<void> {
    return new Promise((r) => this.sock.close(() => r()));
  }

  private drop(reason: string, msg: string): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
    this.log('warn', msg);
  }

  private async onMessage(raw: Uint8Array, rinfo: RemoteInfo): Promise<void> {
    const from = canonicalIp(rinfo.address);
    const client = this.opts.clients.find((c) => canonicalIp(c.address) === from);
    if (!client) return this.drop('unknown-client', `dynamic authorization request from unknown client ${rinfo.address}:${rinfo.port} dropped`);
    if (raw.length < 20) return this.drop('malformed', `short dynamic authorization request from ${client.name} dropped`);
    const now = this.now();
    for (const [k, v] of this.cache) if (now - v.atMs > (this.opts.duplicateCacheMs ?? 30_000)) this.cache.delete(k);
    const dupKey = `${rinfo.address}|${rinfo.port}|${raw[1] ?? 0}|${toHex(raw.subarray(4, 20))}`;
    const seen = this.cache.get(dupKey);
    if (seen) {
      this.stats.duplicates++;
      if (seen.reply) this.sock.send(seen.reply, rinfo.port, rinfo.address);
      return;
    }
    const check = checkDynAuthRequest(raw, client.secret, {
      nowSec: Math.floor(now / 1000),
      windowSec: this.opts.windowSec,
      requireMessageAuthenticator: client.requireMessageAuthenticator,
      requireEventTimestamp: this.opts.requireEventTimestamp,
      nasIdentifier: this.opts.nasIdentifier,
      nasIpAddress: this.opts.nasIpAddress,
    });
    if (!check.ok && check.discard) return this.drop('verification', `dynamic authorization request from ${client.name} (${rinfo.address}) dropped: ${check.error}`);
    this.stats.requests++;
    // Reserve the key before the (async) handler runs, so a retransmission meanwhile is not handled twice.
    const entry: { atMs: number; reply: Uint8Array | null } = { atMs: now, reply: null };
    this.cache.set(dupKey, entry);
    let decision: DynAuthDecision;
    let packet: RadiusPacket;
    let withMa: boolean;
    if (!check.ok) {
      packet = check.packet;
      withMa = false;
      decision = { ack: false, errorCause: check.errorCause };
      this.log('warn', `${radiusCodeName(packet.code)} from ${client.name} refused: ${check.error}`);
    } else {
      packet = check.value.packet;
      withMa = check.value.hasMessageAuthenticator;
      try {
        decision = await this.opts.handler({ kind: check.value.kind, client: client.name, from: { address: rinfo.address, port: rinfo.port }, selector: check.value.selector, packet });
      } catch (e) {
        this.log('error', `dynamic authorization handler failed: ${(e as Error).message}`);
        decision = { ack: false, errorCause: ErrorCause.RESOURCES_UNAVAILABLE };
      }
    }
    const reply = buildDynAuthResponse(packet, decision, client.secret, withMa);
    if (!reply.ok) return this.drop('encode', `cannot answer ${radiusCodeName(packet.code)}: ${reply.error}`);
    if (decision.ack) this.stats.acks++;
    else this.stats.naks++;
    entry.reply = reply.value;
    this.sock.send(reply.value, rinfo.port, rinfo.address);
  }
}
