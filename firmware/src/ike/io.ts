// What goes in and out of the sans-IO engine (ARCHITECTURE.md §1): datagrams, effects, events. Plain data.
import type { Endpoint, PolicyParams, SaParams, TsRange } from '../dataplane/types.ts';

/** A UDP datagram as the IKE socket sees it: on port 4500 `data` excludes the non-ESP marker. */
export interface Datagram {
  local: Endpoint;
  remote: Endpoint;
  data: Uint8Array;
}

/** Certificate path validation, run by the runtime (pkijs is asynchronous); the result comes back via `resume`. */
export interface ValidateChainRequest {
  endEntityDer: Uint8Array;
  intermediatesDer: Uint8Array[];
  trustAnchorsDer: Uint8Array[];
  /** The IKE identity the certificate must carry (SAN dNSName/rfc822Name/iPAddress, or the subject DN). */
  identity: { idType: number; data: Uint8Array };
  nowMs: number;
}

export type ValidateChainResult =
  | { ok: true; spkiDer: Uint8Array; subject: string }
  | { ok: false; reason: string };

export type Effect =
  | { type: 'dp.addSa'; sa: SaParams }
  | { type: 'dp.updateSa'; spi: number; direction: 'in' | 'out'; src?: string; dst?: string; encap?: SaParams['encap'] }
  | { type: 'dp.delSa'; spi: number; direction: 'in' | 'out'; childId: string }
  | { type: 'dp.addPolicy'; policy: PolicyParams }
  | { type: 'dp.delPolicy'; policy: PolicyParams }
  | { type: 'pki.validateChain'; ref: string; request: ValidateChainRequest };

/** Pseudonymous, secret-free facts for logs, the event bus, telemetry. `ikeId` is a local random handle. */
export type EngineEvent =
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string; ikeId?: string; fields?: Record<string, unknown> }
  | { type: 'ike.up'; ikeId: string; conn: string; local: Endpoint; remote: Endpoint; localId: string; remoteId: string; proposal: string; natLocal: boolean; natRemote: boolean; initiator: boolean }
  | { type: 'ike.down'; ikeId: string; conn: string; reason: string }
  | { type: 'child.up'; ikeId: string; childId: string; conn: string; child: string; spiIn: number; spiOut: number; localTs: string[]; remoteTs: string[]; proposal: string; virtualIp?: string[] }
  | { type: 'child.down'; ikeId: string; childId: string; reason: string }
  /** `remoteId`: the peer's identity ("fqdn:client.example"), when it was received before the failure. */
  | { type: 'auth.failed'; ikeId: string; conn?: string; remote: Endpoint; reason: string; remoteId?: string }
  | { type: 'ike.failed'; ikeId: string; conn?: string; remote: Endpoint; reason: string; notify?: number };

export interface Output {
  send: Datagram[];
  effects: Effect[];
  events: EngineEvent[];
  /** Absolute time at which `tick` must be called next, if any. */
  wakeAtMs?: number;
}

/** Commands from the control API / runtime. */
export type Command =
  | { type: 'initiate'; conn: string; child?: string }
  /** Delete the IKE SA (DELETE IKE), or only one of its CHILD_SAs when childId is given (DELETE ESP). */
  | { type: 'terminate'; ikeId: string; childId?: string }
  /** The answer to an effect that carried `ref` (pki.validateChain today; RADIUS/EAP later). */
  | { type: 'resume'; ref: string; result: ValidateChainResult }
  /** Rekey the IKE SA (CREATE_CHILD_SA, RFC 7296 §1.3.2), or only one of its CHILD_SAs when childId is given (§1.3.3). */
  | { type: 'rekey'; ikeId: string; childId?: string }
  /** Reauthenticate (RFC 7296 §2.8.3): a new IKE_SA_INIT/IKE_AUTH with the same CHILD_SAs, then DELETE of the old SA. */
  | { type: 'reauth'; ikeId: string }
  /** Add a CHILD_SA of a configured child to an established IKE SA (CREATE_CHILD_SA, §1.3.1). */
  | { type: 'create-child'; ikeId: string; child: string }
  /** The data plane's lifetime of an SA ran out (DataplaneEvent 'expire'): soft → rekey, hard → delete. */
  | { type: 'dp.expire'; spi: number; direction: 'in' | 'out'; kind: 'soft' | 'hard' }
  /** Traffic hit a policy without SA (DataplaneEvent 'acquire'): re-initiates a connection held by dpdAction 'hold'. */
  | { type: 'dp.acquire'; localTs: TsRange; remoteTs: TsRange }
  /**
   * Our address for this IKE SA changed (the runtime saw the old one vanish; `local` is the kernel's new source toward
   * the peer): with MOBIKE, an UPDATE_SA_ADDRESSES exchange from there (RFC 4555 §3.5); the port stays unless given.
   */
  | { type: 'update-addresses'; ikeId: string; local: { addr: string; port?: number } }
  /** Send the peer of an established IKE SA to another gateway (RFC 5685 §5): an IP address or DNS name. */
  | { type: 'redirect'; ikeId: string; to: string };

/** One CHILD_SA as listed by the engine (no key material). */
export interface ChildSaInfo {
  childId: string;
  name: string;
  spiIn: number;
  spiOut: number;
  proposal: string;
  localTs: string[];
  remoteTs: string[];
  encap: boolean;
  createdMs: number;
  /** installed, rekeying, rekeyed (replaced, waiting for its DELETE) or deleting. */
  state?: 'installed' | 'rekeying' | 'rekeyed' | 'deleting';
  /** Next rekey (soft lifetime, with jitter) and hard expiry, when scheduled. */
  rekeyAtMs?: number;
  expireAtMs?: number;
}

/** One IKE SA as listed by the engine (`listSas()`, the control API's list-sas). No key material. */
export interface IkeSaInfo {
  ikeId: string;
  conn: string;
  state: 'connecting' | 'established' | 'deleting';
  initiator: boolean;
  spiI: string; // hex
  spiR: string;
  local: Endpoint;
  remote: Endpoint;
  localId?: string;
  remoteId?: string;
  proposal: string;
  natLocal: boolean;
  natRemote: boolean;
  virtualIps: string[]; // assigned to the peer (responder) or to us (initiator)
  createdMs: number;
  establishedMs: number | null;
  /** Next rekey or reauthentication (soft lifetime, with jitter) and hard expiry, when scheduled. */
  rekeyAtMs?: number;
  expireAtMs?: number;
  /** Present when MOBIKE (RFC 4555) is on for the SA: the peer's other addresses it announced. */
  mobike?: { peerAddresses: string[] };
  /** Initiator: the gateway that redirected us here (RFC 5685). */
  redirectedFrom?: string;
  children: ChildSaInfo[];
}
