// Task child-rekey: CREATE_CHILD_SA { N(REKEY_SA) SA Ni [KEi] TSi TSr } replacing a CHILD_SA (RFC 7296 §1.3.3, §2.8, §2.8.1 collisions, §2.25).
/*
 * Make-before-break. Responder: installs the new inbound half before answering; the outbound half follows when
 * the rekey initiator deletes the old SA (child-delete → retireChild). Initiator: on the response installs both
 * halves of the new SA (the responder already has its inbound) and queues the DELETE of the old one first.
 *
 * Collisions (§2.8.1): when the peer's rekey of the same SA arrives while ours is on the wire, we answer it as
 * usual but keep its new SA unannounced (`collision`). Once our response is in, the exchange whose nonces
 * contain the lowest one lost: its initiator deletes the SA it created, the winner deletes the old one.
 */
import { Notify, PayloadType, ProtocolId } from '../constants.ts';
import type { EngineContext } from '../context.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { ChildSa } from '../child-sa.ts';
import type { InMessage, OutMessage } from '../message.ts';
import type { Task, TaskStatus } from '../task.ts';
import { ChildCreate, compareNonces } from './child-create.ts';
import { childGroups } from '../child-proposals.ts';
import { announceChild, hexSpi, installInbound, installOutbound, removeChild } from '../child-install.ts';
import { ikeBusy } from '../collisions.ts';
import { EMPTY, readU32, u32Bytes } from '../bytes.ts';

/** After TEMPORARY_FAILURE, retry in 5–15 s (strongSwan: 15 s minus up to 10 s jitter); §2.25: not at once. */
export const REKEY_RETRY_MIN_MS = 5_000;
export const REKEY_RETRY_SPREAD_MS = 10_000;
/** §2.25: TEMPORARY_FAILURE for this long means the two ends are out of sync; the IKE SA is closed. */
export const TEMPORARY_FAILURE_LIMIT_MS = 5 * 60_000;
/** A replaced CHILD_SA the peer was to delete but did not: we delete it ourselves after this long. */
export const REKEYED_CHILD_TIMEOUT_MS = 60_000;

export interface ChildRekeyOptions {
  initiator: boolean;
  childId?: string;
  group?: number;
}

/** The CHILD_SA with this id on the SA or, after an IKE rekey moved it, on a successor. */
function findChild(sa: IkeSa, id: string | undefined): { holder: IkeSa; child: ChildSa } | null {
  for (let s: IkeSa | null = sa; s; s = s.successor) {
    const child = s.children.find((c) => c.id === id);
    if (child) return { holder: s, child };
  }
  return null;
}

export function retryDelayMs(ctx: EngineContext): number {
  return REKEY_RETRY_MIN_MS + ctx.randomInt(REKEY_RETRY_SPREAD_MS + 1);
}

/** §2.25: one more TEMPORARY_FAILURE; true when they have lasted too long and the IKE SA is being closed. */
export function noteTemporaryFailure(ctx: EngineContext, sa: IkeSa): boolean {
  sa.tempFailureSinceMs ??= ctx.nowMs;
  if (ctx.nowMs - sa.tempFailureSinceMs < TEMPORARY_FAILURE_LIMIT_MS) return false;
  ctx.log('warn', `TEMPORARY_FAILURE from ${sa.remote.addr} for ${Math.round((ctx.nowMs - sa.tempFailureSinceMs) / 60_000)} min: state out of sync, deleting the IKE_SA`, sa);
  sa.tm.initiate({ op: 'delete-ike', reason: 'out of sync (TEMPORARY_FAILURE)' });
  return true;
}

export class ChildRekey implements Task {
  readonly name = 'child-rekey';
  /** The SA being rekeyed. */
  old: ChildSa | null = null;
  private create: ChildCreate | null = null;
  /** The peer's replacement of `old`, created while this (initiator) task was on the wire (§2.8.1). */
  collision: { child: ChildSa; lowerNonce: Uint8Array } | null = null;
  /** Responder: our own rekey of the same SA, on the wire. */
  private ours: ChildRekey | null = null;
  private notFound: { protocolId: number; spi: Uint8Array } | null = null;
  private temporary = false;

  constructor(
    private readonly sa: IkeSa,
    private readonly ctx: EngineContext,
    private readonly opts: ChildRekeyOptions,
  ) {}

  get initiator(): boolean {
    return this.opts.initiator;
  }

  build(msg: OutMessage): TaskStatus {
    return this.opts.initiator ? this.buildRequest(msg) : this.buildResponse(msg);
  }

  process(msg: InMessage): TaskStatus {
    return this.opts.initiator ? this.processResponse(msg) : this.processRequest(msg);
  }

  // ---- initiator ----

  private buildRequest(msg: OutMessage): TaskStatus {
    const sa = this.sa;
    const found = findChild(sa, this.opts.childId);
    if (!found) return 'skip';
    const old = found.child;
    if (found.holder !== sa) {
      // An IKE rekey moved it meanwhile: rekey it there.
      found.holder.tm.initiate({ op: 'rekey-child', childId: old.id, ...(this.opts.group ? { group: this.opts.group } : {}) });
      return 'skip';
    }
    old.rekeyQueued = false;
    if (!sa.established || old.state !== 'installed') return 'skip';
    const create = new ChildCreate(sa, this.ctx, { initiator: true, exchange: msg.exchange, rekey: old, ...(this.opts.group ? { group: this.opts.group } : {}) });
    const st = create.build(msg);
    if (st !== 'done') return st;
    msg.notify(Notify.REKEY_SA, EMPTY, ProtocolId.ESP, u32Bytes(old.spiIn));
    this.old = old;
    this.create = create;
    old.state = 'rekeying';
    this.ctx.log('info', `rekeying CHILD_SA ${old.config.name} (SPIs in ${hexSpi(old.spiIn)} out ${hexSpi(old.spiOut)})`, sa);
    return 'done';
  }

  private processResponse(msg: InMessage): TaskStatus {
    const sa = this.sa;
    const old = this.old;
    const create = this.create;
    if (!old || !create) return 'done';
    create.process(msg);
    if (old.state === 'rekeying') old.state = 'installed';
    const outcome = create.outcome;
    const peers = this.liveCollision();
    if (outcome.kind === 'created') {
      sa.tempFailureSinceMs = null;
      const mine = outcome.child;
      if (peers && compareNonces(create.lowerNonce, peers.lowerNonce) < 0) {
        // Our exchange holds the lowest nonce: our new SA is the redundant one; we delete it, the peer the old one.
        this.ctx.log('info', `CHILD_SA ${old.config.name} rekey collision lost: deleting our redundant SA ${hexSpi(mine.spiIn)}`, sa);
        mine.rekeyAtMs = mine.expireAtMs = Infinity;
        sa.children.push(mine);
        sa.tm.initiate({ op: 'delete-child', childId: mine.id, reason: 'redundant (rekey collision)' }, { front: true });
        this.adoptPeers(peers.child);
        return 'done';
      }
      if (peers) this.ctx.log('info', `CHILD_SA ${old.config.name} rekey collision won: the peer deletes its SA ${hexSpi(peers.child.spiIn)}`, sa);
      const oldLives = sa.children.includes(old);
      mine.replaces = oldLives ? old : null;
      sa.children.push(mine);
      installInbound(this.ctx, sa, mine);
      installOutbound(this.ctx, sa, mine);
      announceChild(this.ctx, sa, mine);
      if (oldLives) {
        old.replacedBy = mine;
        old.state = 'rekeyed';
        sa.tm.initiate({ op: 'delete-child', childId: old.id, reason: 'rekeyed' }, { front: true });
      }
      return 'done';
    }
    if (peers) {
      // Ours failed, the peer's rekey of the same SA worked: that one is the replacement.
      this.adoptPeers(peers.child);
      return 'done';
    }
    if (!sa.children.includes(old)) return 'done';
    if (outcome.kind === 'invalid-ke') {
      const g = outcome.group;
      if (childGroups(old.config).includes(g) && g !== this.opts.group && this.ctx.crypto.supportsGroup(g)) {
        this.ctx.log('debug', `peer wants group ${g} for the rekey of ${old.config.name}, retrying`, sa);
        old.rekeyQueued = true;
        sa.tm.initiate({ op: 'rekey-child', childId: old.id, group: g }, { front: true });
        return 'done';
      }
      this.ctx.log('warn', `rekeying CHILD_SA ${old.config.name} failed: the peer wants key exchange method ${g}, which we do not allow; it stays until its lifetime ends`, sa);
      return 'done';
    }
    if (outcome.kind !== 'refused') return 'done';
    if (outcome.notify === Notify.TEMPORARY_FAILURE) {
      if (noteTemporaryFailure(this.ctx, sa)) return 'done';
      old.rekeyAtMs = this.ctx.nowMs + retryDelayMs(this.ctx);
      this.ctx.log('info', `rekeying CHILD_SA ${old.config.name}: peer answered TEMPORARY_FAILURE, retrying in ${Math.round((old.rekeyAtMs - this.ctx.nowMs) / 1000)} s`, sa);
      return 'done';
    }
    if (outcome.notify === Notify.CHILD_SA_NOT_FOUND) {
      // §2.25: the peer has no such SA; drop ours silently and create a new one from scratch.
      this.ctx.log('info', `CHILD_SA ${old.config.name} unknown to the peer (CHILD_SA_NOT_FOUND): recreating it`, sa);
      removeChild(this.ctx, sa, old, 'not found at the peer');
      sa.tm.initiate({ op: 'create-child', child: old.config.name }, { front: true });
      return 'done';
    }
    this.ctx.log('warn', `rekeying CHILD_SA ${old.config.name} failed: ${outcome.why}; it stays until its lifetime ends`, sa);
    return 'done';
  }

  private liveCollision(): { child: ChildSa; lowerNonce: Uint8Array } | null {
    const c = this.collision;
    return c && this.sa.children.includes(c.child) ? c : null;
  }

  /** The peer's new SA replaces the old one; the peer (the winner) deletes the old one, or already did. */
  private adoptPeers(theirs: ChildSa): void {
    const sa = this.sa;
    const old = this.old;
    if (old && sa.children.includes(old)) {
      old.replacedBy = theirs;
      theirs.replaces = old;
      old.state = 'rekeyed';
      old.expireAtMs = Math.min(old.expireAtMs, this.ctx.nowMs + REKEYED_CHILD_TIMEOUT_MS);
    } else {
      installOutbound(this.ctx, sa, theirs);
    }
    announceChild(this.ctx, sa, theirs);
  }

  // ---- responder ----

  private processRequest(msg: InMessage): TaskStatus {
    const sa = this.sa;
    const n = msg.notify(Notify.REKEY_SA);
    if (!n) return 'done';
    const spi = n.spi.length === 4 ? readU32(n.spi, 0) : -1;
    // REKEY_SA names the sender's inbound SPI, i.e. our outbound one (§3.10.1).
    const old = n.protocolId === ProtocolId.ESP ? sa.children.find((c) => c.spiOut === spi && c.announced) : undefined;
    if (!old) {
      this.notFound = { protocolId: n.protocolId, spi: n.spi };
      this.ctx.log('info', `CHILD_SA rekey refused (CHILD_SA_NOT_FOUND): no CHILD_SA with SPI ${n.spi.length === 4 ? hexSpi(spi) : '(malformed)'}`, sa);
      return 'done';
    }
    this.old = old;
    const create = new ChildCreate(sa, this.ctx, { initiator: false, exchange: msg.exchange, rekey: old });
    this.create = create;
    const busy = ikeBusy(sa) ?? (old.state === 'deleting' ? 'we are deleting it' : old.state === 'rekeyed' ? 'it was rekeyed already' : null);
    if (busy) {
      this.temporary = true;
      create.refuseWith(Notify.TEMPORARY_FAILURE, `CHILD_SA ${old.config.name}: ${busy}`);
      return 'done';
    }
    if (old.state === 'rekeying') {
      this.ours = (sa.tm.activeTasks.find((t) => t instanceof ChildRekey && t.initiator && t.old === old) as ChildRekey | undefined) ?? null;
    }
    return create.process(msg);
  }

  private buildResponse(msg: OutMessage): TaskStatus {
    const sa = this.sa;
    if (this.notFound) {
      msg.notify(Notify.CHILD_SA_NOT_FOUND, EMPTY, this.notFound.protocolId, this.notFound.spi);
      return 'done';
    }
    const old = this.old;
    const create = this.create;
    if (!old || !create) return 'done';
    create.build(msg);
    if (this.temporary || create.outcome.kind !== 'created') return 'done';
    const fresh = create.outcome.child;
    fresh.replaces = old;
    sa.children.push(fresh);
    installInbound(this.ctx, sa, fresh);
    const ours = this.ours;
    if (ours && sa.tm.activeTasks.includes(ours)) {
      ours.collision = { child: fresh, lowerNonce: create.lowerNonce };
      this.ctx.log('info', `CHILD_SA ${old.config.name}: the peer rekeys it too (collision), deciding when our response arrives`, sa);
      return 'done';
    }
    old.replacedBy = fresh;
    old.state = 'rekeyed';
    old.expireAtMs = Math.min(old.expireAtMs, this.ctx.nowMs + REKEYED_CHILD_TIMEOUT_MS);
    announceChild(this.ctx, sa, fresh);
    return 'done';
  }
}
