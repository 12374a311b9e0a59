// Task ike-rekey: CREATE_CHILD_SA { SA Ni KEi } replacing the IKE SA (RFC 7296 §1.3.2, §2.18, §2.8.2 collisions, §2.25.2).
/*
 * The new IKE SA gets new SPIs (each side contributes its own in the SA payloads), keys from the old SK_d, and
 * message IDs from 0. The initiator of the rekey becomes the new SA's original initiator. Both ends move the
 * CHILD_SAs (and virtual IP leases) to the new SA; the rekey initiator deletes the old one over the old one.
 * A responder with its own IKE rekey on the wire keeps the SA it answered aside (`passiveRekey`) until its own
 * response shows who won: the exchange with the lowest nonce loses, and its initiator deletes the SA it created.
 */
import { DhId, Notify, PayloadType, ProtocolId, TransformType } from '../constants.ts';
import type { KeyExchange } from '../../crypto/types.ts';
import type { Proposal } from '../codec/types.ts';
import type { EngineContext } from '../context.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { InMessage, OutMessage } from '../message.ts';
import { notifyName } from '../message.ts';
import type { Task, TaskStatus } from '../task.ts';
import { dhGroupsOf, ikeProposalsOf, promoteGroup, transformOf } from '../conn-proposals.ts';
import { proposalToString, selectProposal } from '../proposal.ts';
import { installRekeyedIkeKeys } from '../ike-keys.ts';
import { ikeRekeyBlocked } from '../collisions.ts';
import { compareNonces, NONCE_LEN } from './child-create.ts';
import { noteTemporaryFailure, retryDelayMs } from './child-rekey.ts';
import { hex, isZero, readU16, u16Bytes } from '../bytes.ts';

export interface IkeRekeyOptions {
  initiator: boolean;
  group?: number;
}

function lower(a: Uint8Array, b: Uint8Array): Uint8Array {
  return compareNonces(a, b) <= 0 ? a : b;
}

export class IkeRekey implements Task {
  readonly name = 'ike-rekey';
  private spi: Uint8Array = new Uint8Array(0);
  private ke: KeyExchange | null = null;
  private nonceI: Uint8Array = new Uint8Array(0);
  private nonceR: Uint8Array = new Uint8Array(0);
  /** Responder: the proposal we chose and the shared secret, or the notify refusing the rekey. */
  private chosen: Proposal | null = null;
  private secret: Uint8Array | null = null;
  private refusal: { notify: number; data?: Uint8Array } | null = null;
  private adopt: IkeSa | null = null;

  constructor(
    private readonly sa: IkeSa,
    private readonly ctx: EngineContext,
    private readonly opts: IkeRekeyOptions,
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
    if (!sa.established || sa.successor) {
      sa.rekeyQueued = false;
      return 'skip';
    }
    const proposals = ikeProposalsOf(sa.conn);
    const current = sa.proposal ? transformOf(sa.proposal, TransformType.DH)?.id : undefined;
    const groups = dhGroupsOf(proposals).filter((g) => this.ctx.crypto.supportsGroup(g));
    // The group in use first: the peer accepted it before, which spares an INVALID_KE_PAYLOAD round trip.
    const group = this.opts.group ?? (current !== undefined && groups.includes(current) ? current : groups[0]);
    if (group === undefined) {
      sa.rekeyQueued = false;
      this.ctx.log('error', `cannot rekey IKE_SA: connection ${sa.conn.name} has no supported key exchange method`, sa);
      return 'skip';
    }
    this.spi = this.ctx.newIkeSpi();
    this.ke = this.ctx.crypto.keyExchange(group);
    this.nonceI = this.ctx.crypto.randomBytes(NONCE_LEN);
    msg.add({ type: PayloadType.SA, proposals: proposals.map((p) => ({ ...promoteGroup(p, group), spi: this.spi })) });
    msg.add({ type: PayloadType.NONCE, data: this.nonceI });
    msg.add({ type: PayloadType.KE, dhGroup: group, data: this.ke.publicKey });
    this.ctx.log('info', `rekeying IKE_SA ${sa.conn.name} with ${sa.remote.addr}`, sa);
    return 'done';
  }

  private processResponse(msg: InMessage): TaskStatus {
    const sa = this.sa;
    sa.rekeyQueued = false;
    if (sa.destroyed || !this.ke) return 'done';
    const invalidKe = msg.notify(Notify.INVALID_KE_PAYLOAD);
    if (invalidKe) {
      const g = invalidKe.data.length >= 2 ? readU16(invalidKe.data, 0) : -1;
      if (dhGroupsOf(ikeProposalsOf(sa.conn)).includes(g) && g !== this.ke.group && g !== this.opts.group && this.ctx.crypto.supportsGroup(g)) {
        this.ctx.log('debug', `peer wants group ${g} for the IKE rekey, retrying`, sa);
        sa.rekeyQueued = true;
        sa.tm.initiate({ op: 'rekey-ike', group: g }, { front: true });
        return 'done';
      }
      return this.failed(`the peer wants key exchange method ${g}, which we do not allow`, false);
    }
    const err = msg.errorNotify();
    if (err) {
      if (err.notifyType === Notify.TEMPORARY_FAILURE) return this.failed('peer answered TEMPORARY_FAILURE', true);
      return this.failed(`refused by ${sa.remote.addr}: ${notifyName(err.notifyType)}`, false);
    }
    const saP = msg.get(PayloadType.SA);
    const nonce = msg.get(PayloadType.NONCE);
    const ke = msg.get(PayloadType.KE);
    if (!saP || !nonce || !ke) return this.failed('response without SA, Nr or KEr', false);
    const chosen = saP.proposals[0];
    const ours = ikeProposalsOf(sa.conn).map((p) => promoteGroup(p, this.ke!.group));
    if (saP.proposals.length !== 1 || !chosen || chosen.spi.length !== 8 || isZero(chosen.spi) || !selectProposal(ours, [chosen], { kind: 'ike', legacy: sa.conn.legacy })) {
      return this.failed('the peer chose a proposal we did not offer', false);
    }
    if (transformOf(chosen, TransformType.DH)?.id !== this.ke.group || ke.dhGroup !== this.ke.group) return this.failed('the peer answered with a different key exchange method', false);
    const secret = this.ke.computeSecret(ke.data);
    if (!secret) return this.failed('the peer sent an invalid KE value', false);
    this.nonceR = nonce.data;
    const fresh = this.newSa(this.spi, chosen.spi, { ...chosen, spi: new Uint8Array(0) }, secret);
    if (!fresh) return this.failed('negotiated proposal lacks ENCR or PRF', false);
    sa.tempFailureSinceMs = null;
    const peers = sa.passiveRekey && !sa.passiveRekey.newSa.destroyed ? sa.passiveRekey : null;
    sa.passiveRekey = null;
    if (peers && compareNonces(lower(this.nonceI, this.nonceR), lower(peers.nonceI, peers.nonceR)) < 0) {
      // §2.8.2: our exchange holds the lowest nonce; the peer's new SA survives and the peer deletes the old one.
      this.ctx.log('info', `IKE_SA rekey collision lost: moving to the peer's new IKE_SA, deleting ours`, sa);
      this.ctx.adoptInto(sa, peers.newSa);
      fresh.tm.initiate({ op: 'delete-ike', reason: 'redundant (IKE rekey collision)' });
      return 'done';
    }
    if (peers) this.ctx.log('info', `IKE_SA rekey collision won: the peer deletes its redundant IKE_SA`, sa);
    this.ctx.adoptInto(sa, fresh);
    sa.tm.initiate({ op: 'delete-ike', reason: 'rekeyed' }, { front: true });
    return 'done';
  }

  /** The rekey did not happen; a collision's SA of the peer then takes over. */
  private failed(why: string, temporary: boolean): TaskStatus {
    const sa = this.sa;
    const peers = sa.passiveRekey && !sa.passiveRekey.newSa.destroyed ? sa.passiveRekey : null;
    sa.passiveRekey = null;
    if (peers) {
      this.ctx.adoptInto(sa, peers.newSa);
      return 'done';
    }
    if (temporary) {
      if (noteTemporaryFailure(this.ctx, sa)) return 'done';
      sa.rekeyAtMs = this.ctx.nowMs + retryDelayMs(this.ctx);
      this.ctx.log('info', `rekeying IKE_SA: ${why}, retrying in ${Math.round((sa.rekeyAtMs - this.ctx.nowMs) / 1000)} s`, sa);
    } else {
      this.ctx.log('warn', `rekeying IKE_SA failed: ${why}; it stays until its lifetime ends`, sa);
    }
    return 'done';
  }

  /** The new IKE SA: registered and able to exchange messages, announced only when it takes over. */
  private newSa(ourSpi: Uint8Array, peerSpi: Uint8Array, proposal: Proposal, secret: Uint8Array): IkeSa | null {
    const sa = this.sa;
    const weInitiate = this.opts.initiator;
    const fresh = this.ctx.createRekeyedSa(sa, weInitiate, weInitiate ? ourSpi : peerSpi, weInitiate ? peerSpi : ourSpi);
    fresh.nonceI = this.nonceI;
    fresh.nonceR = this.nonceR;
    fresh.proposal = proposal;
    fresh.proposalText = proposalToString(proposal);
    if (!installRekeyedIkeKeys(this.ctx, fresh, sa, secret)) {
      this.ctx.destroySa(fresh, 'rekey failed');
      return null;
    }
    return fresh;
  }

  // ---- responder ----

  private processRequest(msg: InMessage): TaskStatus {
    const sa = this.sa;
    const blocked = ikeRekeyBlocked(sa);
    if (blocked) return this.refuse(Notify.TEMPORARY_FAILURE, blocked);
    const saP = msg.get(PayloadType.SA);
    const nonce = msg.get(PayloadType.NONCE);
    const ke = msg.get(PayloadType.KE);
    if (!saP || !nonce || !ke) return this.refuse(Notify.INVALID_SYNTAX, 'IKE rekey request without SA, Ni or KEi');
    this.nonceI = nonce.data;
    const local = ikeProposalsOf(sa.conn)
      .map((p) => promoteGroup(p, ke.dhGroup))
      .filter((p) => p.transforms.every((t) => t.type !== TransformType.DH || t.id === DhId.NONE || this.ctx.crypto.supportsGroup(t.id)));
    const offered = saP.proposals.filter((p) => p.spi.length === 8 && !isZero(p.spi)).map((p) => promoteGroup(p, ke.dhGroup));
    const chosen = selectProposal(local, offered, { kind: 'ike', legacy: sa.conn.legacy });
    if (!chosen) return this.refuse(Notify.NO_PROPOSAL_CHOSEN, `no acceptable IKE proposal: offered ${saP.proposals.map(proposalToString).join(', ')}`);
    const group = transformOf(chosen, TransformType.DH)?.id ?? 0;
    if (group !== ke.dhGroup) return this.refuse(Notify.INVALID_KE_PAYLOAD, `KE for group ${ke.dhGroup}, we want ${group}`, u16Bytes(group));
    const kex = this.ctx.crypto.keyExchange(group);
    const secret = kex.computeSecret(ke.data);
    if (!secret) return this.refuse(Notify.NO_PROPOSAL_CHOSEN, `invalid KE value for group ${group}`);
    this.ke = kex;
    this.secret = secret;
    this.chosen = chosen;
    return 'done';
  }

  private refuse(notify: number, why: string, data?: Uint8Array): TaskStatus {
    this.refusal = { notify, ...(data ? { data } : {}) };
    const level = notify === Notify.TEMPORARY_FAILURE || notify === Notify.INVALID_KE_PAYLOAD ? 'info' : 'warn';
    this.ctx.log(level, `IKE_SA rekey refused (${notifyName(notify)}): ${why}`, this.sa);
    return 'done';
  }

  private buildResponse(msg: OutMessage): TaskStatus {
    const sa = this.sa;
    const chosen = this.chosen;
    if (this.refusal || !chosen || !this.ke || !this.secret) {
      msg.notify(this.refusal?.notify ?? Notify.NO_PROPOSAL_CHOSEN, this.refusal?.data);
      return 'done';
    }
    const ourSpi = this.ctx.newIkeSpi();
    this.nonceR = this.ctx.crypto.randomBytes(NONCE_LEN);
    msg.add({ type: PayloadType.SA, proposals: [{ ...chosen, spi: ourSpi }] });
    msg.add({ type: PayloadType.NONCE, data: this.nonceR });
    msg.add({ type: PayloadType.KE, dhGroup: this.ke.group, data: this.ke.publicKey });
    const fresh = this.newSa(ourSpi, chosen.spi, { ...chosen, spi: new Uint8Array(0) }, this.secret);
    this.ke = null;
    this.secret = null;
    if (!fresh) return 'done';
    const ours = sa.tm.activeTasks.some((t) => t instanceof IkeRekey && t.initiator);
    if (ours) {
      sa.passiveRekey = { newSa: fresh, nonceI: this.nonceI, nonceR: this.nonceR };
      this.ctx.log('info', `the peer rekeys the IKE_SA too (collision), deciding when our response arrives (new SPIs ${hex(fresh.spiI)}_i ${hex(fresh.spiR)}_r)`, sa);
    } else {
      this.adopt = fresh;
    }
    return 'done';
  }

  afterResponse(): void {
    const fresh = this.adopt;
    this.adopt = null;
    if (fresh && !fresh.destroyed && !this.sa.destroyed) this.ctx.adoptInto(this.sa, fresh);
  }
}
