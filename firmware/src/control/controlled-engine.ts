// Wraps the engine the gateway runs with the control plane's hooks: draining (RFC 5685 REDIRECT) and in-place reload.
/*
 * The gateway takes an `engineFactory`; the control plane passes one that wraps the real engine. The wrapper sees
 * every datagram before the engine does, which is where draining has to act: while draining, a new IKE_SA_INIT
 * request is answered with a REDIRECT to another gateway when one is set and the initiator announced
 * REDIRECT_SUPPORTED (RFC 5685 §3), else dropped, so the client retries elsewhere. IKE SAs that exist keep
 * working, rekeying included (CREATE_CHILD_SA is not IKE_SA_INIT). A reload is a private command that the
 * gateway routes like any other, so its output (DELETEs for removed connections…) reaches sockets and data plane.
 */
import { isIP } from 'node:net';
import type { GatewayConfig } from '../config/types.ts';
import { decodeMessage, peekHeader } from '../ike/codec/index.ts';
import { ExchangeType, HeaderFlag, Notify, PayloadType } from '../ike/constants.ts';
import type { EngineOptions, EngineStats } from '../ike/engine.ts';
import type { Command, Datagram, Output } from '../ike/io.ts';
import { parseIp } from '../ike/ip.ts';
import { notifyReply, RateLimit } from '../ike/stateless.ts';
import type { EngineLike } from '../runtime/gateway.ts';

export interface DrainState {
  draining: boolean;
  /** Where REDIRECT sends new clients (IP address or DNS name); null = refuse without redirecting. */
  redirectTo: string | null;
  refused: number;
  redirected: number;
}

export const createDrainState = (): DrainState => ({ draining: false, redirectTo: null, refused: 0, redirected: 0 });

/**
 * The engine API a reload needs (not in the engine yet; docs/control-api.md "Engine hooks"): replace the
 * configuration in place, keep the SAs of connections that did not change, delete those of removed connections.
 */
export interface ReloadableEngine {
  reload(config: GatewayConfig, nowMs: number): Output;
}

export const RELOAD_COMMAND = 'control.reload';
/** The command the supervisor passes through Gateway.command(); only this wrapper understands it. */
export interface ReloadCommand {
  type: typeof RELOAD_COMMAND;
  config: GatewayConfig;
}

export const supportsReload = (e: unknown): e is ReloadableEngine => typeof (e as Partial<ReloadableEngine> | null)?.reload === 'function';

const EMPTY_OUTPUT: Output = { send: [], effects: [], events: [] };
const REDIRECTS_PER_SEC = 50;
const GW_IDENT = { ipv4: 1, ipv6: 2, fqdn: 3 } as const;

/** REDIRECT notify data (RFC 5685 §8.1): GW Ident Type, GW Ident Len, New Responder GW Identity, Nonce Data. */
export function redirectData(target: string, nonceI: Uint8Array): Uint8Array {
  const ip = isIP(target) ? parseIp(target) : null;
  const type = ip ? (ip.length === 4 ? GW_IDENT.ipv4 : GW_IDENT.ipv6) : GW_IDENT.fqdn;
  const ident = ip ?? new TextEncoder().encode(target);
  const out = new Uint8Array(2 + ident.length + nonceI.length);
  out[0] = type;
  out[1] = ident.length;
  out.set(ident, 2);
  out.set(nonceI, 2 + ident.length);
  return out;
}

/** A valid REDIRECT target: an IP address or a DNS name that fits the one-octet length field. */
export function redirectTargetProblem(t: string): string | null {
  if (isIP(t)) return null;
  if (t.length > 255) return 'longer than 255 octets';
  if (!/^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(t)) return 'not an IP address or DNS name';
  return null;
}

const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

export class ControlledEngine implements EngineLike {
  private readonly redirectLimit: RateLimit;

  constructor(
    readonly inner: EngineLike,
    private readonly drain: DrainState,
    nowMs: number,
  ) {
    this.redirectLimit = new RateLimit(REDIRECTS_PER_SEC, nowMs);
    const stats = inner.stats;
    if (stats) this.stats = () => stats.call(inner);
  }

  get canReload(): boolean {
    return supportsReload(this.inner);
  }

  receive(d: Datagram, nowMs: number): Output {
    if (this.drain.draining) {
      const refused = this.refuseWhileDraining(d, nowMs);
      if (refused) return refused;
    }
    return this.inner.receive(d, nowMs);
  }

  tick(nowMs: number): Output {
    return this.inner.tick(nowMs);
  }

  command(c: Command | ReloadCommand, nowMs: number): Output {
    if (c.type === RELOAD_COMMAND) {
      if (!supportsReload(this.inner)) throw new Error('the engine cannot reload its configuration in place');
      return this.inner.reload(c.config, nowMs);
    }
    return this.inner.command(c, nowMs);
  }

  listSas(): ReturnType<EngineLike['listSas']> {
    return this.inner.listSas();
  }

  /** Present when the wrapped engine has it (the gateway reports it only then). */
  readonly stats?: () => EngineStats;

  /** The output for a new IKE_SA_INIT request while draining, or null to let the engine handle the datagram. */
  private refuseWhileDraining(d: Datagram, nowMs: number): Output | null {
    const h = peekHeader(d.data);
    if (!h.ok) return null;
    const hdr = h.value;
    if (hdr.exchange !== ExchangeType.IKE_SA_INIT || (hdr.flags & HeaderFlag.RESPONSE) !== 0 || hdr.messageId !== 0) return null;
    // A retransmission for a half-open SA that predates the drain still gets its answer from the engine.
    const spiI = toHex(hdr.spiI);
    if (this.inner.listSas().some((sa) => !sa.initiator && sa.spiI === spiI)) return null;
    const target = this.drain.redirectTo;
    if (target) {
      const msg = decodeMessage(d.data);
      if (msg.ok) {
        const p = msg.value.payloads;
        const supported = p.some((x) => x.type === PayloadType.NOTIFY && 'notifyType' in x && x.notifyType === Notify.REDIRECT_SUPPORTED);
        const nonce = p.find((x) => x.type === PayloadType.NONCE);
        if (supported && nonce && 'data' in nonce && nonce.data.length > 0 && this.redirectLimit.take(nowMs)) {
          this.drain.redirected++;
          return {
            send: [notifyReply(d, hdr, Notify.REDIRECT, redirectData(target, nonce.data))],
            effects: [],
            events: [{ type: 'log', level: 'info', msg: `draining: IKE_SA_INIT from ${d.remote.addr} redirected to ${target}` }],
          };
        }
      }
    }
    this.drain.refused++;
    return { ...EMPTY_OUTPUT, events: [{ type: 'log', level: 'debug', msg: `draining: IKE_SA_INIT from ${d.remote.addr} refused` }] };
  }
}

/** The engine factory the gateway is started with: the real one (or a test fake), wrapped. */
export function controlledEngineFactory(
  base: (opts: EngineOptions) => EngineLike,
  drain: DrainState,
  onCreate: (e: ControlledEngine) => void = () => {},
): (opts: EngineOptions) => EngineLike {
  return (opts) => {
    const e = new ControlledEngine(base(opts), drain, opts.nowMs);
    onCreate(e);
    return e;
  };
}
