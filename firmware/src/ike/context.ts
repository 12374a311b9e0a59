// What tasks may use from the engine (ARCHITECTURE.md §1): injected crypto, config, the current output, services.
import type { GatewayConfig, ConnectionConfig } from '../config/types.ts';
import type { CryptoSuite } from '../crypto/types.ts';
import type { SignatureOps, Signer } from '../pki/types.ts';
import type { Effect, EngineEvent, Output } from './io.ts';
import type { IkeSa } from './ike-sa.ts';
import type { AddressPool } from './pool.ts';
import type { RedirectGateway } from './redirect.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Collects what one entry point call produces. */
export class OutputBuilder implements Output {
  send: Output['send'] = [];
  effects: Effect[] = [];
  events: EngineEvent[] = [];
  wakeAtMs?: number;
}

export interface EngineContext {
  readonly config: GatewayConfig;
  readonly crypto: CryptoSuite;
  readonly sig: SignatureOps;
  readonly pools: ReadonlyMap<string, AddressPool>;
  /** Time of the current entry point call. */
  readonly nowMs: number;
  readonly out: OutputBuilder;

  log(level: LogLevel, msg: string, sa?: IkeSa, fields?: Record<string, unknown>): void;
  event(e: EngineEvent): void;
  effect(e: Effect): void;
  /** Count an event (retransmits, fragments sent...). */
  count(name: string): void;
  /** Count a dropped message by reason (stats().drops). */
  drop(reason: string): void;

  /** Emit an effect the runtime answers with `command({type:'resume', ref})`; returns the ref to wait for. */
  suspend(sa: IkeSa, make: (ref: string) => Effect): string;

  /** A fresh inbound ESP SPI (≥ 0x100, unused). */
  allocInboundSpi(): number;
  releaseInboundSpi(spi: number): void;
  newChildId(sa: IkeSa): string;
  /** Our signer for a connection (created once from its PKCS#8 key), or an error line. */
  signer(conn: ConnectionConfig): Signer | string;
  /** DER of the CAs trusted for a connection's peers (conn.remote.cas, or every CA when empty). */
  trustAnchors(conn: ConnectionConfig): Uint8Array[];
  /** The NAT-T port of the listen entry for a local address. */
  nattPort(localAddr: string): number;

  /** Uniform random integer in [0, n) from the injected randomness (lifetime jitter, retry spread). */
  randomInt(n: number): number;
  /** A fresh IKE SPI of ours (8 octets, non-zero, unused). */
  newIkeSpi(): Uint8Array;

  /** The IKE SA authenticated: accounting, ike.up, INITIAL_CONTACT, lifetimes. */
  established(sa: IkeSa): void;
  /**
   * A new IKE SA from a rekey of `old` (RFC 7296 §2.18): same peer, connection and identities, registered and
   * able to exchange messages, but announced (ike.up) only when it takes over (`adoptInto`).
   */
  createRekeyedSa(old: IkeSa, weInitiate: boolean, spiI: Uint8Array, spiR: Uint8Array): IkeSa;
  /** `newSa` takes over from `old`: CHILD_SAs, leases, virtual IPs, queued CHILD_SA operations; ike.up for it. */
  adoptInto(old: IkeSa, newSa: IkeSa): void;
  /** The peer stopped answering (retransmits, DPD timeout): remove the SA, then the connection's DPD action. */
  peerUnreachable(sa: IkeSa, reason: string): void;
  /** Remove the SA and everything under it; `notify` is reported in ike.failed. */
  destroySa(sa: IkeSa, reason: string, opts?: { notify?: number; quiet?: boolean }): void;
  /**
   * RFC 5685: set up this SA's connection (and, when established, its CHILD_SAs) at the gateway `to` instead,
   * sending REDIRECTED_FROM `from`; an established SA is deleted once the new one is up. False when it cannot be
   * followed (a DNS name, too many redirects, a connection that cannot initiate): the caller carries on.
   */
  followRedirect(sa: IkeSa, to: RedirectGateway, from: string): boolean;
  /** Other live IKE SAs (for INITIAL_CONTACT decisions). */
  otherSas(sa: IkeSa): IkeSa[];
}
