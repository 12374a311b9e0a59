// One CHILD_SA (RFC 7296 §1.3, §2.17): ESP tunnel-mode SA pair with its selectors, key material and lifecycle (§2.8).
import type { TrafficSelector } from './codec/types.ts';
import type { ChildConfig } from '../config/types.ts';
import type { PolicyParams } from '../dataplane/types.ts';

export interface ChildKeys {
  encI: Uint8Array;
  integI: Uint8Array;
  encR: Uint8Array;
  integR: Uint8Array;
}

/**
 * installed: in use. rekeying: our CREATE_CHILD_SA { N(REKEY_SA) } for it is on the wire. rekeyed: a replacement
 * exists; it waits for the DELETE (ours or the peer's, §2.8). deleting: our DELETE for it is on the wire.
 */
export type ChildState = 'installed' | 'rekeying' | 'rekeyed' | 'deleting';

export interface ChildSa {
  id: string;
  config: ChildConfig;
  spiIn: number; // ours: the peer sends ESP with it
  spiOut: number; // the peer's: we send ESP with it
  encrId: number;
  encrKeyBits?: number;
  integId: number;
  esn: boolean;
  /** The PFS group negotiated in CREATE_CHILD_SA (0: none, as for the IKE_AUTH CHILD_SA); a rekey proposes it first. */
  dhGroup: number;
  proposal: string;
  /** Our side and the peer's side of the negotiated selectors. */
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[];
  /** Key material for initiator→responder (I) and responder→initiator (R) of the creating exchange. */
  keys: ChildKeys;
  /** True when we initiated the exchange that created it: our outbound SA then uses the I keys. */
  weInitiated: boolean;
  encap: boolean;
  /** Installed policies, removed with the SA. */
  policies: PolicyParams[];
  /** Which halves are in the data plane: inbound SA (+ in/fwd policies), outbound SA (+ out policy). */
  inInstalled: boolean;
  outInstalled: boolean;
  /** child.up was emitted (a redundant SA of a lost rekey collision never is). */
  announced: boolean;
  state: ChildState;
  /** The SA that replaced this one (old → new) and the one this one replaces (new → old). */
  replacedBy: ChildSa | null;
  replaces: ChildSa | null;
  /** A rekey (or its retry) is queued: do not queue another. */
  rekeyQueued: boolean;
  createdMs: number;
  /** Soft lifetime with jitter (Infinity: never), hard lifetime (Infinity: never). */
  rekeyAtMs: number;
  expireAtMs: number;
}
