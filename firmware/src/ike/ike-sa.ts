// Per-IKE-SA state (RFC 7296 §1, §2): role, SPIs, nonces, keys, endpoints, NAT flags, peer features, children, lifecycle (§2.8, §2.18).
import type { ConnectionConfig } from '../config/types.ts';
import type { KeyExchange, SkTransform } from '../crypto/types.ts';
import type { Endpoint } from '../dataplane/types.ts';
import type { Proposal } from './codec/types.ts';
import type { Identity } from './identity.ts';
import type { ChildSa } from './child-sa.ts';
import type { TaskManager } from './task-manager.ts';
import { EMPTY, hex } from './bytes.ts';

export type IkeSaState =
  | 'connecting' // IKE_SA_INIT / IKE_AUTH in progress
  | 'established'
  | 'deleting' // our DELETE is outstanding
  | 'rekeyed' // replaced by a rekeyed IKE SA (§2.18); waits for its DELETE
  | 'destroyed';

/** The peer's IKE rekey we answered while ours was on the wire (§2.8.2): decided when our response arrives. */
export interface PassiveRekey {
  newSa: IkeSa;
  nonceI: Uint8Array;
  nonceR: Uint8Array;
}

export interface IkeSaKeys {
  skD: Uint8Array;
  skAi: Uint8Array;
  skAr: Uint8Array;
  skEi: Uint8Array;
  skEr: Uint8Array;
  skPi: Uint8Array;
  skPr: Uint8Array;
}

export class IkeSa {
  state: IkeSaState = 'connecting';
  /** Responder: the connection the IKE proposal came from until IKE_AUTH picks the final one by identity. */
  conn: ConnectionConfig;
  /** Responder: every connection matching the local (and remote) address; IKE_AUTH chooses among them. */
  candidates: ConnectionConfig[];
  connFinal = false;

  spiR: Uint8Array = new Uint8Array(8);
  proposal: Proposal | null = null;
  proposalText = '';
  prfId = 0;
  ke: KeyExchange | null = null;
  /** Initiator: DH groups already tried after INVALID_KE_PAYLOAD (each at most once). */
  triedGroups = new Set<number>();
  cookie: Uint8Array | null = null;
  nonceI: Uint8Array = EMPTY;
  nonceR: Uint8Array = EMPTY;
  keys: IkeSaKeys | null = null;
  skIn: SkTransform | null = null;
  skOut: SkTransform | null = null;
  /** The IKE_SA_INIT request and response exactly as on the wire: the AUTH payload signs them (§2.15). */
  initRequest: Uint8Array = EMPTY;
  initResponse: Uint8Array = EMPTY;

  /** We are behind a NAT / the peer is behind a NAT (§2.23). */
  natLocal = false;
  natRemote = false;
  /** NAT-D notifies were exchanged, so UDP encapsulation is possible. */
  natDetectionSeen = false;

  peerFragmentation = false;
  /** RFC 7427 hashes the peer announced; null when it sent no SIGNATURE_HASH_ALGORITHMS. */
  peerSigHashes: number[] | null = null;
  peerCertReqs: Uint8Array[] = [];
  peerCerts: Uint8Array[] = [];
  peerInitialContact = false;

  /** MOBIKE (RFC 4555): both sides sent MOBIKE_SUPPORTED in IKE_AUTH; the peer did. */
  mobike = false;
  peerMobike = false;
  /** The peer's other addresses (ADDITIONAL_IP4/6_ADDRESS); empty after NO_ADDITIONAL_ADDRESSES. */
  peerAddresses: string[] = [];
  /**
   * Responder: the peer moved (UPDATE_SA_ADDRESSES) and our outbound ESP stays on the old path until the return
   * routability check of the new address succeeds (RFC 4555 §3.5, §3.7).
   */
  outboundMovePending = false;
  /** RFC 5685: the peer sent REDIRECT_SUPPORTED (or REDIRECTED_FROM) in IKE_SA_INIT. */
  peerRedirect = false;
  /** Initiator: the gateway that redirected us here (sent as REDIRECTED_FROM) and how many redirects led here. */
  redirectedFrom: string | null = null;
  redirects = 0;
  /** Responder: we redirected this established SA; delete it ourselves if the peer has not by then. */
  redirectDeadlineMs = Infinity;

  localId: Identity | null = null;
  remoteId: Identity | null = null;
  /** Virtual IPs we assigned to the peer (responder) or received (initiator), textual. */
  peerVips: Uint8Array[] = [];
  localVips: Uint8Array[] = [];
  /** Pool leases held by this SA: released when it goes away. */
  leases: { pool: string; owner: string }[] = [];
  /** A CP request could not be served: IKE_AUTH must not create the CHILD_SA (§3.15.4). */
  cpFailed = false;

  children: ChildSa[] = [];
  /** Child config to bring up in IKE_AUTH (initiator). */
  requestedChild: string | undefined;
  /** Initiator: further child configs to bring up with CREATE_CHILD_SA once IKE_AUTH is done (restart, reauth). */
  pendingChildren: string[] = [];
  /** Make-before-break reauthentication (RFC 7296 §2.8.3): the SA this one replaces, deleted once this one is up. */
  reauthOf: IkeSa | null = null;

  /** Created by an IKE rekey (§2.18): not half-open, announced (ike.up) only once it takes over. */
  fromRekey = false;
  /** ike.up was emitted for it. */
  upAnnounced = false;
  /** The IKE SA that took over from this one in a rekey (§2.18); children and leases moved there. */
  successor: IkeSa | null = null;
  passiveRekey: PassiveRekey | null = null;
  /** Engine timer bookkeeping: the deadline this SA is filed under in the wake queue (NaN = not filed). */
  wakeAtMs = NaN;
  /** Engine timer bookkeeping: order of insertion into the SA table (timers of one tick run in this order). */
  tableSeq = 0;
  /** An IKE rekey (or reauthentication) is queued or on the wire: do not start another. */
  rekeyQueued = false;
  /** Soft lifetime with jitter (rekey or reauthenticate), hard lifetime (delete); Infinity = never. */
  rekeyAtMs = Infinity;
  expireAtMs = Infinity;
  /** Replaced ('rekeyed') or never taken over (a collision's spare): delete it ourselves if the peer has not by then. */
  rekeyedDeadlineMs = Infinity;
  /** Consecutive TEMPORARY_FAILURE answers (§2.25): after several minutes of them the SA is out of sync. */
  tempFailureSinceMs: number | null = null;

  createdMs: number;
  establishedMs: number | null = null;
  lastInboundMs: number;
  lastOutboundMs: number;
  tm!: TaskManager;

  constructor(
    readonly id: string,
    readonly initiator: boolean,
    readonly spiI: Uint8Array,
    public local: Endpoint,
    public remote: Endpoint,
    conn: ConnectionConfig,
    candidates: ConnectionConfig[],
    nowMs: number,
  ) {
    this.conn = conn;
    this.candidates = candidates;
    this.createdMs = nowMs;
    this.lastInboundMs = nowMs;
    this.lastOutboundMs = nowMs;
  }

  /** Our SPI: the table key. */
  get ourSpi(): Uint8Array {
    return this.initiator ? this.spiI : this.spiR;
  }

  get peerSpi(): Uint8Array {
    return this.initiator ? this.spiR : this.spiI;
  }

  get ourSpiHex(): string {
    return hex(this.ourSpi);
  }

  /** UDP encapsulation for ESP and IKE on 4500: NAT on either side, or forced by config. */
  get encap(): boolean {
    return this.natLocal || this.natRemote || this.conn.encapsulation;
  }

  /**
   * IKE_AUTH is over: the octets it signed (§2.15: both IKE_SA_INIT messages, SK_pi/SK_pr) and the peer's
   * certificates are never needed again, and an established SA should carry only what rekeys and deletes use.
   */
  dropAuthState(): void {
    this.initRequest = EMPTY;
    this.initResponse = EMPTY;
    if (this.keys) this.keys = { ...this.keys, skPi: EMPTY, skPr: EMPTY };
    this.peerCerts = [];
  }

  get established(): boolean {
    return this.state === 'established';
  }

  /** Authenticated and not gone: established, being deleted, or replaced by a rekey. */
  get authenticated(): boolean {
    return this.state === 'established' || this.state === 'deleting' || this.state === 'rekeyed';
  }

  /** We can reach the peer on our own (the connection names a remote address): restart, reauthenticate. */
  get canInitiate(): boolean {
    return this.conn.remoteAddrs.length > 0;
  }

  /** A getter, so checks after calls that may destroy the SA are not narrowed away by the compiler. */
  get destroyed(): boolean {
    return this.state === 'destroyed';
  }
}
