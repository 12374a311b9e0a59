// Task ike-init: IKE_SA_INIT SA/KE/Nonce, proposal choice, COOKIE and INVALID_KE_PAYLOAD retries, SKEYSEED (RFC 7296 §1.2, §2.6, §2.7, §2.14; RFC 7383 §2.3; RFC 7427 §4).
import { HashAlgorithm, Notify, PayloadType } from '../constants.ts';
import type { ConnectionConfig } from '../../config/types.ts';
import type { NotifyPayload, Payload, Proposal } from '../codec/types.ts';
import type { EngineContext } from '../context.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { InMessage, OutMessage } from '../message.ts';
import { notifyName } from '../message.ts';
import type { Task, TaskStatus } from '../task.ts';
import { proposalToString, selectProposal } from '../proposal.ts';
import { dhGroupsOf, ikeProposalsOf, promoteGroup, transformOf } from '../conn-proposals.ts';
import { installIkeKeys } from '../ike-keys.ts';
import { TransformType } from '../constants.ts';
import { isZero, readU16, u16Bytes, concatBytes } from '../bytes.ts';
import { decodeRedirectData, encodeRedirectData, gatewayText, parseGateway } from '../redirect.ts';

const NONCE_LEN = 32;
/** What we accept for RFC 7427 signatures, announced in SIGNATURE_HASH_ALGORITHMS. */
const OUR_SIG_HASHES = [HashAlgorithm.SHA2_256, HashAlgorithm.SHA2_384, HashAlgorithm.SHA2_512, HashAlgorithm.IDENTITY];
/** Cookie rounds before we give up on a responder that keeps asking. */
const MAX_COOKIE_ROUNDS = 3;

/**
 * An IKE_SA_INIT response to drop unseen (a reason for the drop counters), or null. RFC 5685 §4.2: a REDIRECT must
 * echo our Ni; one that does not is not from the responder we asked (it saw no Ni), so we wait for the real answer.
 */
export function ignoredInitResponse(sa: IkeSa, ctx: EngineContext, payloads: readonly Payload[]): string | null {
  const redirect = payloads.find((p) => p.type === PayloadType.NOTIFY && (p as NotifyPayload).notifyType === Notify.REDIRECT) as NotifyPayload | undefined;
  if (!redirect) return null;
  const r = decodeRedirectData(redirect.data);
  if (r && ctx.crypto.equal(r.nonce, sa.nonceI)) return null;
  ctx.log('info', `ignoring a REDIRECT from ${sa.remote.addr}: ${r ? 'its nonce is not ours' : 'malformed'}`, sa);
  return 'redirect-forged';
}

export class IkeInit implements Task {
  readonly name = 'ike-init';
  private chosen: Proposal | null = null;
  private cookieRounds = 0;

  constructor(
    private readonly sa: IkeSa,
    private readonly ctx: EngineContext,
  ) {}

  build(msg: OutMessage): TaskStatus {
    return this.sa.initiator ? this.buildRequest(msg) : this.buildResponse(msg);
  }

  process(msg: InMessage): TaskStatus {
    return this.sa.initiator ? this.processResponse(msg) : this.processRequest(msg);
  }

  // ---- initiator ----

  private buildRequest(msg: OutMessage): TaskStatus {
    const sa = this.sa;
    const proposals = ikeProposalsOf(sa.conn);
    if (proposals.length === 0) return { fail: `connection ${sa.conn.name} has no usable IKE proposal` };
    if (!sa.ke) {
      const group = dhGroupsOf(proposals).find((g) => this.ctx.crypto.supportsGroup(g));
      if (group === undefined) return { fail: `connection ${sa.conn.name} has no supported key exchange method` };
      sa.ke = this.ctx.crypto.keyExchange(group);
    }
    // The nonce stays the same across COOKIE/INVALID_KE retries: the cookie is bound to it (§2.6).
    if (sa.nonceI.length === 0) sa.nonceI = this.ctx.crypto.randomBytes(NONCE_LEN);
    sa.spiR = new Uint8Array(8);
    if (sa.cookie) msg.notify(Notify.COOKIE, sa.cookie);
    msg.add({ type: PayloadType.SA, proposals });
    msg.add({ type: PayloadType.KE, dhGroup: sa.ke.group, data: sa.ke.publicKey });
    msg.add({ type: PayloadType.NONCE, data: sa.nonceI });
    if (sa.conn.fragmentation) msg.notify(Notify.IKEV2_FRAGMENTATION_SUPPORTED);
    msg.notify(Notify.SIGNATURE_HASH_ALGORITHMS, concatBytes(...OUR_SIG_HASHES.map(u16Bytes)));
    // RFC 5685 §4.1/§4.3: we follow redirects; a redirected client says where it came from instead.
    const from = sa.redirectedFrom ? parseGateway(sa.redirectedFrom) : null;
    if (from) msg.notify(Notify.REDIRECTED_FROM, encodeRedirectData(from));
    else msg.notify(Notify.REDIRECT_SUPPORTED);
    return 'done';
  }

  private processResponse(msg: InMessage): TaskStatus {
    const sa = this.sa;
    const cookie = msg.notify(Notify.COOKIE);
    if (cookie) {
      if (cookie.data.length < 1 || cookie.data.length > 64) return { fail: 'responder sent a malformed COOKIE' };
      if (++this.cookieRounds > MAX_COOKIE_ROUNDS) return { fail: 'responder keeps demanding cookies' };
      sa.cookie = cookie.data;
      this.ctx.log('debug', 'responder demands a cookie, retrying IKE_SA_INIT', sa);
      return 'retry';
    }
    const invalidKe = msg.notify(Notify.INVALID_KE_PAYLOAD);
    if (invalidKe) return this.retryWithGroup(invalidKe.data);
    const redirect = msg.notify(Notify.REDIRECT);
    if (redirect) {
      const r = this.redirected(redirect.data);
      if (r) return r;
    }
    const err = msg.errorNotify();
    if (err) return { fail: `IKE_SA_INIT refused by ${sa.remote.addr}: ${notifyName(err.notifyType)}`, notify: err.notifyType };

    const saP = msg.get(PayloadType.SA);
    const ke = msg.get(PayloadType.KE);
    const nonce = msg.get(PayloadType.NONCE);
    if (!saP || !ke || !nonce) return { fail: 'IKE_SA_INIT response without SA, KE or Nr' };
    if (isZero(msg.header.spiR)) return { fail: 'IKE_SA_INIT response with a zero responder SPI' };
    const theirs = saP.proposals;
    const ours = ikeProposalsOf(sa.conn);
    if (theirs.length !== 1 || !selectProposal(ours, theirs, { kind: 'ike', legacy: sa.conn.legacy })) {
      return { fail: 'responder chose a proposal we did not offer' };
    }
    const chosen = theirs[0] as Proposal;
    if (!sa.ke || transformOf(chosen, TransformType.DH)?.id !== sa.ke.group || ke.dhGroup !== sa.ke.group) {
      return { fail: 'responder answered with a different key exchange method' };
    }
    const secret = sa.ke.computeSecret(ke.data);
    if (!secret) return { fail: 'responder sent an invalid KE value' };
    sa.ke = null;
    sa.spiR = msg.header.spiR.slice();
    sa.nonceR = nonce.data;
    sa.proposal = chosen;
    sa.proposalText = proposalToString(chosen);
    this.readFeatures(msg);
    if (!installIkeKeys(this.ctx, sa, secret)) return { fail: 'negotiated proposal lacks ENCR or PRF' };
    return 'done';
  }

  /**
   * RFC 5685 §4.2: the responder sends us elsewhere. Its data must echo our Ni (else an off-path attacker could
   * redirect us; the REDIRECT is ignored then); a redirect we cannot follow ends the attempt like a refusal.
   */
  private redirected(data: Uint8Array): TaskStatus | null {
    const sa = this.sa;
    const r = decodeRedirectData(data);
    if (!r || !this.ctx.crypto.equal(r.nonce, sa.nonceI)) return null; // screened out before (ignoredInitResponse)
    const to = gatewayText(r.gateway);
    if (!this.ctx.followRedirect(sa, r.gateway, sa.remote.addr)) return { fail: `redirected by ${sa.remote.addr} to ${to}, which we cannot follow` };
    return { fail: `redirected by ${sa.remote.addr} to ${to}`, quiet: true };
  }

  /** §1.2: retry once per group, and only with a group we allow. */
  private retryWithGroup(data: Uint8Array): TaskStatus {
    const sa = this.sa;
    const group = data.length >= 2 ? readU16(data, 0) : -1;
    const allowed = dhGroupsOf(ikeProposalsOf(sa.conn));
    const current = sa.ke?.group;
    if (!allowed.includes(group) || group === current || sa.triedGroups.has(group) || !this.ctx.crypto.supportsGroup(group)) {
      return { fail: `responder wants key exchange method ${group}, which we do not allow`, notify: Notify.INVALID_KE_PAYLOAD };
    }
    if (current !== undefined) sa.triedGroups.add(current);
    sa.triedGroups.add(group);
    sa.ke = this.ctx.crypto.keyExchange(group);
    this.ctx.log('debug', `responder wants key exchange method ${group}, retrying IKE_SA_INIT`, sa);
    return 'retry';
  }

  // ---- responder ----

  private processRequest(msg: InMessage): TaskStatus {
    const sa = this.sa;
    const saP = msg.get(PayloadType.SA);
    const ke = msg.get(PayloadType.KE);
    const nonce = msg.get(PayloadType.NONCE);
    if (!saP || !ke || !nonce) return { fail: 'IKE_SA_INIT request without SA, KE or Ni', notify: Notify.INVALID_SYNTAX };
    sa.nonceI = nonce.data;
    const redirectedFrom = msg.notify(Notify.REDIRECTED_FROM);
    sa.peerRedirect = redirectedFrom !== undefined || msg.notify(Notify.REDIRECT_SUPPORTED) !== undefined;
    if (redirectedFrom) {
      const r = decodeRedirectData(redirectedFrom.data);
      this.ctx.log('info', `${sa.remote.addr} was redirected here from ${r ? gatewayText(r.gateway) : '(malformed REDIRECTED_FROM)'}`, sa);
    }

    const pick = this.choose(saP.proposals, ke.dhGroup);
    if (!pick) {
      const offered = saP.proposals.map(proposalToString).join(', ');
      this.ctx.log('info', `no acceptable IKE proposal from ${sa.remote.addr}: offered ${offered}`, sa);
      return { fail: 'no acceptable IKE proposal', notify: Notify.NO_PROPOSAL_CHOSEN };
    }
    const group = transformOf(pick.proposal, TransformType.DH)?.id ?? 0;
    if (group !== ke.dhGroup) {
      this.ctx.log('debug', `KE for group ${ke.dhGroup} from ${sa.remote.addr}, asking for group ${group}`, sa);
      return { fail: `peer sent KE for group ${ke.dhGroup}, we want ${group}`, notify: Notify.INVALID_KE_PAYLOAD, notifyData: u16Bytes(group) };
    }
    sa.conn = pick.conn;
    const kex = this.ctx.crypto.keyExchange(group);
    const secret = kex.computeSecret(ke.data);
    if (!secret) return { fail: `invalid KE value for group ${group}`, notify: Notify.INVALID_SYNTAX };
    sa.ke = kex;
    sa.nonceR = this.ctx.crypto.randomBytes(NONCE_LEN);
    sa.proposal = pick.proposal;
    sa.proposalText = proposalToString(pick.proposal);
    this.chosen = pick.proposal;
    this.readFeatures(msg);
    if (!installIkeKeys(this.ctx, sa, secret)) return { fail: 'negotiated proposal lacks ENCR or PRF', notify: Notify.NO_PROPOSAL_CHOSEN };
    return 'done';
  }

  /**
   * Local policy order: connections in config order, each one's proposals in its order. A proposal that can
   * use the group the peer already sent a KE for wins over one that would cost an INVALID_KE round trip.
   */
  private choose(offered: Proposal[], keGroup: number): { conn: ConnectionConfig; proposal: Proposal } | null {
    let first: { conn: ConnectionConfig; proposal: Proposal } | null = null;
    const promotedOffer = offered.map((p) => promoteGroup(p, keGroup));
    for (const conn of this.sa.candidates) {
      const local = ikeProposalsOf(conn)
        .map((p) => promoteGroup(p, keGroup))
        .filter((p) => p.transforms.every((t) => t.type !== TransformType.DH || this.ctx.crypto.supportsGroup(t.id)));
      const proposal = selectProposal(local, promotedOffer, { kind: 'ike', legacy: conn.legacy });
      if (!proposal) continue;
      if (transformOf(proposal, TransformType.DH)?.id === keGroup) return { conn, proposal };
      first ??= { conn, proposal };
    }
    return first;
  }

  private buildResponse(msg: OutMessage): TaskStatus {
    const sa = this.sa;
    if (!this.chosen || !sa.ke) return { fail: 'internal: IKE_SA_INIT response without a proposal', notify: Notify.NO_PROPOSAL_CHOSEN };
    msg.add({ type: PayloadType.SA, proposals: [this.chosen] });
    msg.add({ type: PayloadType.KE, dhGroup: sa.ke.group, data: sa.ke.publicKey });
    msg.add({ type: PayloadType.NONCE, data: sa.nonceR });
    sa.ke = null;
    if (sa.conn.fragmentation && sa.peerFragmentation) msg.notify(Notify.IKEV2_FRAGMENTATION_SUPPORTED);
    msg.notify(Notify.SIGNATURE_HASH_ALGORITHMS, concatBytes(...OUR_SIG_HASHES.map(u16Bytes)));
    return 'done';
  }

  // ---- both ----

  private readFeatures(msg: InMessage): void {
    const sa = this.sa;
    sa.peerFragmentation = msg.notify(Notify.IKEV2_FRAGMENTATION_SUPPORTED) !== undefined;
    const hashes = msg.notify(Notify.SIGNATURE_HASH_ALGORITHMS);
    if (hashes) {
      const list: number[] = [];
      for (let i = 0; i + 1 < hashes.data.length; i += 2) list.push(readU16(hashes.data, i));
      sa.peerSigHashes = list;
    } else {
      sa.peerSigHashes = null;
    }
  }
}
