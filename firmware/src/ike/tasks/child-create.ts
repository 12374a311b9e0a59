// Task child-create: the CHILD_SA of IKE_AUTH, ESP tunnel mode (RFC 7296 §1.2, §2.9 narrowing, §2.17 keys, §3.3, §3.13).
import { Notify, PayloadType, ProtocolId } from '../constants.ts';
import type { ChildConfig } from '../../config/types.ts';
import type { Proposal, TrafficSelector } from '../codec/types.ts';
import type { EngineContext } from '../context.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { InMessage, OutMessage } from '../message.ts';
import { notifyName } from '../message.ts';
import type { Task, TaskStatus } from '../task.ts';
import { espProposalsOf, withoutDh } from '../conn-proposals.ts';
import { selectProposal } from '../proposal.ts';
import { allWithin, anyTs, hostTs, narrowTs, resolveTs, tsToString } from '../ts.ts';
import { installChild } from '../child-install.ts';
import { parseIp } from '../ip.ts';
import { readU32, u32Bytes } from '../bytes.ts';

/** Notifies that refuse the CHILD_SA but leave the IKE SA standing (§1.2, §3.10.1). */
const CHILD_ERRORS = new Set<number>([
  Notify.NO_PROPOSAL_CHOSEN,
  Notify.TS_UNACCEPTABLE,
  Notify.SINGLE_PAIR_REQUIRED,
  Notify.INTERNAL_ADDRESS_FAILURE,
  Notify.FAILED_CP_REQUIRED,
  Notify.INVALID_SELECTORS,
  Notify.NO_ADDITIONAL_SAS,
  Notify.TEMPORARY_FAILURE,
]);

function addrOf(text: string): Uint8Array[] {
  const ip = parseIp(text);
  return ip ? [ip] : [];
}

export class ChildCreate implements Task {
  readonly name = 'child-create';
  private config: ChildConfig | null = null;
  private spiIn = 0;
  private proposal: Proposal | null = null;
  private tsI: TrafficSelector[] = [];
  private tsR: TrafficSelector[] = [];
  /** Responder: the notify refusing the CHILD_SA, sent instead of SA/TSi/TSr. */
  private refusal: number | null = null;
  private requested = false;

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
    const child = sa.conn.children.find((c) => c.name === sa.requestedChild) ?? sa.conn.children[0];
    if (!child) return 'done';
    const proposals = espProposalsOf(child);
    if (proposals.length === 0) {
      this.ctx.log('error', `child ${child.name} has no usable ESP proposal`, sa);
      return 'done';
    }
    this.config = child;
    this.spiIn = this.ctx.allocInboundSpi();
    const spi = u32Bytes(this.spiIn);
    // Asking for a virtual IP: our side is not known yet, so propose everything and let the responder narrow.
    const wantVip = (sa.conn.vips ?? []).map(parseIp).filter((x): x is Uint8Array => x !== null);
    const local = wantVip.length > 0 ? resolveTs(child.localTs, []).concat(dynamicAny(child.localTs, wantVip)) : resolveTs(child.localTs, addrOf(sa.local.addr));
    this.tsI = local;
    this.tsR = resolveTs(child.remoteTs, addrOf(sa.remote.addr));
    this.requested = true;
    msg.add({ type: PayloadType.SA, proposals: proposals.map((p) => ({ ...withoutDh(p), spi })) });
    msg.add({ type: PayloadType.TSi, selectors: this.tsI });
    msg.add({ type: PayloadType.TSr, selectors: this.tsR });
    return 'done';
  }

  private processResponse(msg: InMessage): TaskStatus {
    const sa = this.sa;
    const child = this.config;
    if (!this.requested || !child || !sa.established) return this.abandon(null);
    const err = msg.notifies().find((n) => CHILD_ERRORS.has(n.notifyType));
    if (err) return this.abandon(`refused by ${sa.remote.addr}: ${notifyName(err.notifyType)}`);
    const saP = msg.get(PayloadType.SA);
    const tsi = msg.get(PayloadType.TSi);
    const tsr = msg.get(PayloadType.TSr);
    if (!saP || !tsi || !tsr) return this.abandon('response without SA, TSi or TSr');
    const chosen = saP.proposals[0];
    const ours = espProposalsOf(child).map(withoutDh);
    if (saP.proposals.length !== 1 || !chosen || chosen.spi.length !== 4 || !selectProposal(ours, [chosen], { kind: 'esp', legacy: sa.conn.legacy, skipDh: true })) {
      return this.abandon('responder chose an ESP proposal we did not offer');
    }
    // The responder may only narrow (§2.9): every selector must lie within what we proposed.
    const proposedI = sa.localVips.length > 0 ? this.tsI.concat(sa.localVips.map(hostTs)) : this.tsI;
    if (!allWithin(tsi.selectors, proposedI) || !allWithin(tsr.selectors, this.tsR)) {
      return this.abandon(`responder returned selectors outside our proposal: ${tsi.selectors.map(tsToString)} === ${tsr.selectors.map(tsToString)}`);
    }
    installChild(this.ctx, sa, {
      config: child,
      spiIn: this.spiIn,
      spiOut: readU32(chosen.spi, 0),
      proposal: chosen,
      localTs: tsi.selectors,
      remoteTs: tsr.selectors,
    });
    return 'done';
  }

  /** The CHILD_SA failed but the IKE SA stays (§1.2). */
  private abandon(reason: string | null): TaskStatus {
    if (this.spiIn) this.ctx.releaseInboundSpi(this.spiIn);
    this.spiIn = 0;
    if (reason) this.ctx.log('warn', `CHILD_SA ${this.config?.name ?? ''} not created: ${reason}`, this.sa);
    return 'done';
  }

  // ---- responder ----

  private processRequest(msg: InMessage): TaskStatus {
    const sa = this.sa;
    const saP = msg.get(PayloadType.SA);
    if (!saP) return 'done'; // no CHILD_SA requested
    this.requested = true;
    if (sa.cpFailed) return 'done'; // INTERNAL_ADDRESS_FAILURE already refuses it (§3.15.4)
    const tsi = msg.get(PayloadType.TSi);
    const tsr = msg.get(PayloadType.TSr);
    if (!tsi || !tsr) {
      this.refuse(Notify.TS_UNACCEPTABLE, 'request without TSi or TSr');
      return 'done';
    }
    if (msg.notify(Notify.USE_TRANSPORT_MODE)) this.ctx.log('debug', 'peer asked for transport mode; answering with tunnel mode', sa);
    const offered = saP.proposals.filter((p) => p.protocolId === ProtocolId.ESP);
    let tsMatched = false;
    for (const child of sa.conn.children) {
      const { tsI, tsR } = this.narrow(child, tsi.selectors, tsr.selectors);
      if (tsI.length === 0 || tsR.length === 0) continue;
      tsMatched = true;
      const proposal = selectProposal(espProposalsOf(child).map(withoutDh), offered, { kind: 'esp', legacy: sa.conn.legacy, skipDh: true });
      if (!proposal) continue;
      this.config = child;
      this.proposal = proposal;
      this.tsI = tsI;
      this.tsR = tsR;
      return 'done';
    }
    if (tsMatched) this.refuse(Notify.NO_PROPOSAL_CHOSEN, 'no acceptable ESP proposal');
    else this.refuse(Notify.TS_UNACCEPTABLE, `selectors ${tsi.selectors.map(tsToString)} === ${tsr.selectors.map(tsToString)} not allowed`);
    return 'done';
  }

  /**
   * §2.9: intersect the peer's proposal with our config. Our side's `dynamic` is our outer address; the peer's
   * is its virtual IP when we assigned one (then TSi narrows to that /32 or /128), else its outer address.
   */
  private narrow(child: ChildConfig, peerTsI: TrafficSelector[], peerTsR: TrafficSelector[]): { tsI: TrafficSelector[]; tsR: TrafficSelector[] } {
    const sa = this.sa;
    const local = resolveTs(child.localTs, addrOf(sa.local.addr));
    let remote: TrafficSelector[];
    if (sa.peerVips.length > 0) {
      const vipHosts = sa.peerVips.map(hostTs);
      remote = narrowTs(resolveTs(child.remoteTs, sa.peerVips), vipHosts);
    } else {
      // Behind a NAT the peer's own address is not the outer one we see: a single host it claims for itself is
      // what `dynamic` means then (strongSwan does the same for NAT-T transport mode).
      const claimed = sa.natRemote ? peerTsI.filter(isSingleHost).map((t) => t.startAddr) : [];
      remote = resolveTs(child.remoteTs, [...addrOf(sa.remote.addr), ...claimed]);
    }
    return { tsI: narrowTs(peerTsI, remote), tsR: narrowTs(peerTsR, local) };
  }

  private refuse(notify: number, why: string): void {
    this.refusal = notify;
    this.ctx.log('warn', `CHILD_SA refused (${notifyName(notify)}): ${why}`, this.sa);
  }

  private buildResponse(msg: OutMessage): TaskStatus {
    const sa = this.sa;
    if (!this.requested || sa.cpFailed) return 'done';
    if (this.refusal !== null || !this.config || !this.proposal) {
      msg.notify(this.refusal ?? Notify.NO_PROPOSAL_CHOSEN);
      return 'done';
    }
    this.spiIn = this.ctx.allocInboundSpi();
    const chosen = this.proposal;
    msg.add({ type: PayloadType.SA, proposals: [{ ...chosen, spi: u32Bytes(this.spiIn) }] });
    msg.add({ type: PayloadType.TSi, selectors: this.tsI });
    msg.add({ type: PayloadType.TSr, selectors: this.tsR });
    installChild(this.ctx, sa, {
      config: this.config,
      spiIn: this.spiIn,
      spiOut: readU32(chosen.spi, 0),
      proposal: chosen,
      localTs: this.tsR,
      remoteTs: this.tsI,
    });
    return 'done';
  }
}

function isSingleHost(t: TrafficSelector): boolean {
  return t.startAddr.length === t.endAddr.length && t.startAddr.every((b, i) => b === t.endAddr[i]);
}

/** `dynamic` entries of our side while a virtual IP is requested: everything of the VIP's family. */
function dynamicAny(specs: readonly string[], vips: Uint8Array[]): TrafficSelector[] {
  if (!specs.some((s) => s.trim().startsWith('dynamic'))) return [];
  const out: TrafficSelector[] = [];
  if (vips.some((v) => v.length === 4)) out.push(anyTs(false));
  if (vips.some((v) => v.length === 16)) out.push(anyTs(true));
  return out;
}
