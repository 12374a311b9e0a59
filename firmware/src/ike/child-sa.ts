// One CHILD_SA (RFC 7296 §1.3, §2.17): ESP tunnel-mode SA pair with its selectors and key material.
import type { TrafficSelector } from './codec/types.ts';
import type { ChildConfig } from '../config/types.ts';
import type { PolicyParams } from '../dataplane/types.ts';

export interface ChildKeys {
  encI: Uint8Array;
  integI: Uint8Array;
  encR: Uint8Array;
  integR: Uint8Array;
}

export interface ChildSa {
  id: string;
  config: ChildConfig;
  spiIn: number; // ours: the peer sends ESP with it
  spiOut: number; // the peer's: we send ESP with it
  encrId: number;
  encrKeyBits?: number;
  integId: number;
  esn: boolean;
  proposal: string;
  /** Our side and the peer's side of the negotiated selectors. */
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[];
  /** Key material for initiator→responder (I) and responder→initiator (R), as from deriveChildKeys. */
  keys: ChildKeys;
  encap: boolean;
  /** Installed policies, removed with the SA. */
  policies: PolicyParams[];
  createdMs: number;
}
