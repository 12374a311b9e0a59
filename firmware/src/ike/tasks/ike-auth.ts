// Task ike-auth: identities, connection choice by identity, AUTH creation and verification (RFC 7296 §1.2, §2.15, §2.21.2, §3.5, §3.8).
import { AuthMethod, IdType, Notify, PayloadType } from '../constants.ts';
import type { ConnectionConfig } from '../../config/types.ts';
import type { AuthPayload, IdPayload } from '../codec/types.ts';
import type { ValidateChainResult } from '../io.ts';
import type { EngineContext } from '../context.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { InMessage, OutMessage } from '../message.ts';
import { notifyName } from '../message.ts';
import type { Task, TaskFailure, TaskStatus } from '../task.ts';
import { describeIdentity, identityMatches, parseIdentity, type Identity } from '../identity.ts';
import { buildAuth, signatureMethodAllowed, signedOctets, verifyPsk, verifySignature } from '../auth.ts';
import { parseIp } from '../ip.ts';

/** Our identity from config; an unusable spec falls back to our IP address (what strongSwan does for %any). */
export function localIdentity(conn: ConnectionConfig, localAddr: string): Identity {
  const p = parseIdentity(conn.local.id);
  if (p.ok) return p.value;
  const ip = parseIp(localAddr) ?? new Uint8Array(4);
  return { idType: ip.length === 16 ? IdType.ID_IPV6_ADDR : IdType.ID_IPV4_ADDR, data: ip };
}

function isAny(spec: string): boolean {
  const s = spec.trim();
  return s === '' || s === '%any' || s === '%any6';
}

function toIdentity(p: IdPayload): Identity {
  return { idType: p.idType, data: p.data };
}

function isChainResult(x: unknown): x is ValidateChainResult {
  return typeof x === 'object' && x !== null && typeof (x as { ok?: unknown }).ok === 'boolean';
}

export class IkeAuth implements Task {
  readonly name = 'ike-auth';
  /** Waiting for pki.validateChain: what to verify once the certificate's key is known. */
  private waiting: { ref: string; auth: AuthPayload; octets: Uint8Array; peer: Identity } | null = null;

  constructor(
    private readonly sa: IkeSa,
    private readonly ctx: EngineContext,
  ) {}

  build(msg: OutMessage): TaskStatus {
    const sa = this.sa;
    const conn = sa.conn;
    const me = localIdentity(conn, sa.local.addr);
    sa.localId = me;
    if (sa.initiator) {
      msg.add({ type: PayloadType.IDi, idType: me.idType, data: me.data });
      const peer = parseIdentity(conn.remote.id);
      if (!isAny(conn.remote.id) && peer.ok) msg.add({ type: PayloadType.IDr, idType: peer.value.idType, data: peer.value.data });
      // §2.4: INITIAL_CONTACT tells the responder we hold no other SA with it, so it may drop stale ones.
      if (!this.ctx.otherSas(sa).some((o) => o.remote.addr === sa.remote.addr)) {
        msg.notify(Notify.INITIAL_CONTACT);
      }
    } else {
      msg.add({ type: PayloadType.IDr, idType: me.idType, data: me.data });
    }
    const auth = buildAuth(this.ctx, sa, conn, signedOctets(this.ctx, sa, sa.initiator, me));
    if (!auth.ok) {
      this.ctx.log('error', `cannot authenticate ourselves for ${conn.name}: ${auth.reason}`, sa);
      return { fail: auth.reason, notify: Notify.AUTHENTICATION_FAILED };
    }
    msg.add(auth.value);
    if (!sa.initiator) this.ctx.established(sa);
    return 'done';
  }

  process(msg: InMessage): TaskStatus {
    return this.sa.initiator ? this.processResponse(msg) : this.processRequest(msg);
  }

  resume(ref: string, result: unknown): TaskStatus {
    const w = this.waiting;
    if (!w || w.ref !== ref) return 'done';
    this.waiting = null;
    if (!isChainResult(result)) return this.authFailed('certificate validation returned no result', w.peer);
    if (!result.ok) return this.authFailed(`certificate not accepted (${result.reason})`, w.peer);
    const v = verifySignature(this.ctx, this.sa.conn.legacy, result.spkiDer, w.auth, w.octets);
    if (!v.ok) return this.authFailed(v.reason, w.peer);
    return this.authenticated(w.peer);
  }

  // ---- responder ----

  private processRequest(msg: InMessage): TaskStatus {
    const sa = this.sa;
    const idi = msg.get(PayloadType.IDi);
    const auth = msg.get(PayloadType.AUTH);
    if (!idi) return this.authFailed('IKE_AUTH request without IDi', null);
    const peer = toIdentity(idi);
    sa.remoteId = peer;
    if (!auth) return this.authFailed('no AUTH payload (EAP is not supported)', peer);
    const idr = msg.get(PayloadType.IDr);
    const wanted = idr ? toIdentity(idr) : null;
    const psk = auth.method === AuthMethod.SHARED_KEY_MIC;
    // The final connection: local address (already in candidates), then identities, then the auth class.
    const conn = sa.candidates.find(
      (c) =>
        identityMatches(c.remote.id, peer) &&
        (wanted === null || identityMatches(c.local.id, wanted)) &&
        c.remote.auth === (psk ? 'psk' : 'pubkey'),
    );
    if (!conn) return this.authFailed(`no connection accepts ${psk ? 'PSK' : 'signature'} auth${wanted ? ` to ${describeIdentity(wanted)}` : ''}`, peer);
    sa.conn = conn;
    sa.connFinal = true;
    sa.peerInitialContact = msg.notify(Notify.INITIAL_CONTACT) !== undefined;
    return this.verify(auth, signedOctets(this.ctx, sa, true, peer), peer);
  }

  // ---- initiator ----

  private processResponse(msg: InMessage): TaskStatus {
    const sa = this.sa;
    if (msg.notify(Notify.AUTHENTICATION_FAILED)) {
      return this.authFailed('rejected by the responder (AUTHENTICATION_FAILED)', null, false);
    }
    const idr = msg.get(PayloadType.IDr);
    const auth = msg.get(PayloadType.AUTH);
    if (!idr || !auth) {
      const err = msg.errorNotify();
      const why = err ? `IKE_AUTH refused by ${sa.remote.addr}: ${notifyName(err.notifyType)}` : 'IKE_AUTH response without IDr or AUTH';
      return { fail: why, notify: err?.notifyType };
    }
    const peer = toIdentity(idr);
    sa.remoteId = peer;
    if (!identityMatches(sa.conn.remote.id, peer)) return this.authFailed(`responder identity does not match ${sa.conn.remote.id}`, peer);
    const psk = auth.method === AuthMethod.SHARED_KEY_MIC;
    if (sa.conn.remote.auth !== (psk ? 'psk' : 'pubkey')) {
      return this.authFailed(`responder used ${psk ? 'PSK' : 'signature'} auth, we require ${sa.conn.remote.auth}`, peer);
    }
    return this.verify(auth, signedOctets(this.ctx, sa, false, peer), peer);
  }

  // ---- both ----

  private verify(auth: AuthPayload, octets: Uint8Array, peer: Identity): TaskStatus {
    const sa = this.sa;
    const conn = sa.conn;
    if (conn.remote.auth === 'psk') {
      const v = verifyPsk(this.ctx, sa, conn, auth, octets);
      return v.ok ? this.authenticated(peer) : this.authFailed(v.reason, peer);
    }
    const notAllowed = signatureMethodAllowed(auth.method, conn.legacy);
    if (notAllowed) return this.authFailed(notAllowed, peer);
    const [endEntity, ...intermediates] = sa.peerCerts;
    if (!endEntity) return this.authFailed('no certificate received', peer);
    const request = {
      endEntityDer: endEntity,
      intermediatesDer: intermediates,
      trustAnchorsDer: this.ctx.trustAnchors(conn),
      identity: { idType: peer.idType, data: peer.data },
      nowMs: this.ctx.nowMs,
    };
    const ref = this.ctx.suspend(sa, (r) => ({ type: 'pki.validateChain', ref: r, request }));
    this.waiting = { ref, auth, octets, peer };
    return { pending: ref };
  }

  private authenticated(peer: Identity): TaskStatus {
    const sa = this.sa;
    this.ctx.log('debug', `authenticated peer ${describeIdentity(peer)} (${sa.conn.name})`, sa);
    if (sa.initiator) this.ctx.established(sa);
    return 'done';
  }

  /** One log line with the reason, the auth.failed event, and the failure for the task manager. */
  private authFailed(reason: string, peer: Identity | null, informPeer = true): TaskFailure {
    const sa = this.sa;
    const who = peer ? `peer ${describeIdentity(peer)}` : 'peer';
    this.ctx.log('warn', `auth failed: ${reason} for ${who} from ${sa.remote.addr}`, sa);
    const known = peer ?? sa.remoteId;
    this.ctx.event({
      type: 'auth.failed',
      ikeId: sa.id,
      conn: sa.connFinal || sa.initiator ? sa.conn.name : undefined,
      remote: { ...sa.remote },
      reason,
      ...(known ? { remoteId: describeIdentity(known) } : {}),
    });
    return { fail: `auth failed: ${reason}`, notify: Notify.AUTHENTICATION_FAILED, informPeer: sa.initiator && informPeer };
  }
}
