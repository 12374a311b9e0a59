// The authenticator-side EAP contract (RFC 3748 §2, RFC 7296 §2.16): sans-IO state machines the IKE engine drives.

/** What the AAA side says about the user besides "yes" (RFC 2865 §5.8, §5.11, §5.25, §5.27, §5.28). */
export interface AaaAttributes {
  /** Framed-IP-Address: the virtual IP to assign instead of one from a pool. */
  framedIp?: string;
  /** Filter-Id values (policy names for the data plane / firewall). */
  filterIds?: string[];
  /** Class values, echoed verbatim in every Accounting-Request of the session (RFC 2865 §5.25). */
  classes?: Uint8Array[];
  /** Session-Timeout: end (or reauthenticate) the session after this long. */
  sessionTimeoutSec?: number;
  idleTimeoutSec?: number;
  /** Acct-Interim-Interval from the server overrides the configured interim interval (RFC 2869 §5.16). */
  acctInterimIntervalSec?: number;
  /** User-Name from the Accept (a server may canonicalise the identity; RFC 2865 §5.1). */
  userName?: string;
}

export interface EapDone {
  ok: boolean;
  /** Master Session Key (RFC 3748 §7.10), for AUTH = prf(prf(MSK, "Key Pad for IKEv2"), ...) (RFC 7296 §2.16). */
  msk?: Uint8Array;
  /** The authenticated EAP identity. */
  identity?: string;
  /** One line for the log and the auth.failed event; never secret. */
  reason?: string;
  /** From a RADIUS Access-Accept. */
  aaa?: AaaAttributes;
}

/**
 * One step's result. `send`: an EAP packet for the peer (with `done`, the final Success/Failure). `backend`: the
 * method needs a round trip to the AAA server first; call `resume` with its result (the engine turns this into an
 * effect with a ref and waits for `command({type:'resume'})`). Nothing set: the input was silently discarded
 * (RFC 3748 §4.1, e.g. a Response whose Identifier does not match).
 */
export interface EapOut {
  send?: Uint8Array;
  done?: EapDone;
  backend?: RadiusAccessRequest;
}

export interface EapAuthenticator {
  start(): EapOut;
  receive(eapPacket: Uint8Array): EapOut;
  /** Only methods that emit `backend`: the AAA server's answer. */
  resume?(result: RadiusAccessResult): EapOut;
}

/**
 * One Access-Request of an EAP pass-through (RFC 3579 §3): plain data, so it can travel in an engine effect.
 * The runtime adds NAS attributes, Message-Authenticator and the shared secret.
 */
export interface RadiusAccessRequest {
  /** User-Name: the EAP identity (RFC 3579 §2.1). */
  userName: string;
  /** The peer's EAP Response, whole; split into EAP-Message attributes by the runtime. */
  eapMessage: Uint8Array;
  /** State from the previous Access-Challenge, echoed unchanged (RFC 2865 §5.24). */
  state?: Uint8Array;
  /** Calling-Station-Id: the peer's outer address (and port), e.g. `192.0.2.2[4500]`. */
  callingStationId?: string;
  /** Called-Station-Id: our address the peer reached. */
  calledStationId?: string;
  /** NAS-Port: a per-session number (e.g. the IKE SA's unique id), so the server can tell sessions apart. */
  nasPort?: number;
}

export type RadiusAccessResult =
  | { kind: 'challenge'; eapMessage: Uint8Array; state?: Uint8Array; server?: string }
  | { kind: 'accept'; eapMessage?: Uint8Array; msk?: Uint8Array; aaa: AaaAttributes; server?: string }
  | { kind: 'reject'; eapMessage?: Uint8Array; replyMessage?: string; server?: string }
  /** No usable answer: every server timed out, or the answer was malformed or failed verification. */
  | { kind: 'error'; reason: string };

/** The peer side of an EAP conversation (our initiator, and the test clients): answers each Request. */
export interface EapPeer {
  receive(eapPacket: Uint8Array): { send?: Uint8Array; done?: EapDone };
}
