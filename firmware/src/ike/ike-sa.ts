// Per-IKE-SA state (RFC 7296 §1, §2): role, SPIs, nonces, keys, endpoints, NAT flags, peer features, children.
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
  | 'destroyed';

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

  get established(): boolean {
    return this.state === 'established';
  }

  /** A getter, so checks after calls that may destroy the SA are not narrowed away by the compiler. */
  get destroyed(): boolean {
    return this.state === 'destroyed';
  }
}
