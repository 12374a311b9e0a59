// Task child-create: a CHILD_SA in IKE_AUTH or CREATE_CHILD_SA, ESP tunnel mode (RFC 7296 §1.2, §1.3.1, §2.9 narrowing, §2.17 keys, §3.3, §3.13).
/*
 * In IKE_AUTH the CHILD_SA has no nonces or KE of its own (KEYMAT from the IKE SA's nonces, any DH transform
 * ignored). In CREATE_CHILD_SA it carries Ni/Nr and, with PFS, KEi/KEr. With `rekey` the task creates the
 * replacement of an existing CHILD_SA (same config, same selectors) and leaves installing it to child-rekey,
 * which knows about collisions; otherwise it installs and announces the new CHILD_SA itself.
 */
import { ExchangeType, Notify, PayloadType, ProtocolId, TransformType } from '../constants.ts';
import type { ChildConfig } from '../../config/types.ts';
import type { KeyExchange } from '../../crypto/types.ts';
import type { Proposal, TrafficSelector } from '../codec/types.ts';
import type { EngineContext } from '../context.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { ChildSa } from '../child-sa.ts';
import type { InMessage, OutMessage } from '../message.ts';
import { notifyName } from '../message.ts';
import type { Task, TaskStatus } from '../task.ts';
import { espProposalsOf, transformOf, withoutDh } from '../conn-proposals.ts';
import { childGroups, childProposalsFor, selectChildProposal } from '../child-proposals.ts';
import { selectProposal } from '../proposal.ts';
import { allWithin, anyTs, hostTs, narrowTs, resolveTs, tsToString } from '../ts.ts';
import { createChild, installChild, outboundSpiProblem } from '../child-install.ts';
import { ikeBusy } from '../collisions.ts';
import { parseIp } from '../ip.ts';
import { readU16, readU32, u16Bytes, u32Bytes } from '../bytes.ts';

export const NONCE_LEN = 32;

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
  Notify.CHILD_SA_NOT_FOUND,
  Notify.INVALID_KE_PAYLOAD,
  Notify.INVALID_SYNTAX,
]);

function addrOf(text: string): Uint8Array[] {
  const ip = parseIp(text);
  return ip ? [ip] : [];
}

export interface ChildCreateOptions {
  /** Our role in this exchange (IKE_AUTH: the IKE SA's role). */
  initiator: boolean;
  /** IKE_AUTH (default) or CREATE_CHILD_SA. */
  exchange?: number;
  /** Initiator: the child config to create (default: the one asked for at initiate, else the first). */
  child?: string;
  /** Initiator, CREATE_CHILD_SA: the KE group to use (after INVALID_KE_PAYLOAD). */
  group?: number;
  /** CREATE_CHILD_SA: the CHILD_SA being rekeyed; its config and selectors are reused. */
  rekey?: ChildSa;
}

/** What the exchange produced, for child-rekey and the log. */
export type ChildOutcome =
  | { kind: 'none' }
  | { kind: 'created'; child: ChildSa }
  | { kind: 'refused'; notify: number; why: string }
  | { kind: 'invalid-ke'; group: number };

export class ChildCreate implements Task {
  readonly name = 'child-create';
  private readonly initiator: boolean;
  private readonly exchange: number;
  private config: ChildConfig | null = null;
  private spiIn = 0;
  private proposal: Proposal | null = null;
  private tsI: TrafficSelector[] = [];
  private tsR: TrafficSelector[] = [];
  /** Responder: the notify refusing the CHILD_SA, sent instead of SA/TSi/TSr. */
  private refusal: number | null = null;
  private refusalData: Uint8Array | undefined;
  private requested = false;
  private ke: KeyExchange | null = null;
  private sharedSecret: Uint8Array | undefined;
  /** This exchange's nonces (CREATE_CHILD_SA only). */
  nonceI: Uint8Array = new Uint8Array(0);
  nonceR: Uint8Array = new Uint8Array(0);
  outcome: ChildOutcome = { kind: 'none' };

  constructor(
    private readonly sa: IkeSa,
    private readonly ctx: EngineContext,
    private readonly opts: ChildCreateOptions = { initiator: sa.initiator },
  ) {
    this.initiator = opts.initiator;
    this.exchange = opts.exchange ?? ExchangeType.IKE_AUTH;
  }

  private get inCreateChildSa(): boolean {
    return this.exchange === ExchangeType.CREATE_CHILD_SA;
  }

  build(msg: OutMessage): TaskStatus {
    return this.initiator ? this.buildRequest(msg) : this.buildResponse(msg);
  }

  process(msg: InMessage): TaskStatus {
    return this.initiator ? this.processResponse(msg) : this.processRequest(msg);
  }

  /** The lower of this exchange's two nonces (§2.8.1 collision rule: the exchange with the lowest nonce loses). */
  get lowerNonce(): Uint8Array {
    return compareNonces(this.nonceI, this.nonceR) <= 0 ? this.nonceI : this.nonceR;
  }

  // ---- initiator ----

  private buildRequest(msg: OutMessage): TaskStatus {
    const sa = this.sa;
    const rekey = this.opts.rekey;
    const wanted = this.opts.child ?? sa.requestedChild;
    const child = rekey?.config ?? sa.conn.children.find((c) => c.name === wanted) ?? (this.inCreateChildSa ? undefined : sa.conn.children[0]);
    if (!child) {
      if (this.inCreateChildSa) this.ctx.log('error', `no child ${wanted ?? ''} in connection ${sa.conn.name}`, sa);
      return this.inCreateChildSa ? 'skip' : 'done';
    }
    const proposals = espProposalsOf(child);
    if (proposals.length === 0) {
      this.ctx.log('error', `child ${child.name} has no usable ESP proposal`, sa);
      return this.inCreateChildSa ? 'skip' : 'done';
    }
    this.config = child;
    this.spiIn = this.ctx.allocInboundSpi();
    const spi = u32Bytes(this.spiIn);
    if (this.inCreateChildSa) {
      const groups = childGroups(child);
      const group = this.opts.group ?? (rekey && groups.includes(rekey.dhGroup) ? rekey.dhGroup : groups.find((g) => this.ctx.crypto.supportsGroup(g)));
      this.nonceI = this.ctx.crypto.randomBytes(NONCE_LEN);
      msg.add({ type: PayloadType.SA, proposals: childProposalsFor(child, group ?? 0).map((p) => ({ ...p, spi })) });
      msg.add({ type: PayloadType.NONCE, data: this.nonceI });
      if (group) {
        this.ke = this.ctx.crypto.keyExchange(group);
        msg.add({ type: PayloadType.KE, dhGroup: group, data: this.ke.publicKey });
      }
      if (rekey) {
        this.tsI = rekey.localTs;
        this.tsR = rekey.remoteTs;
      } else {
        const vips = sa.localVips;
        this.tsI = resolveTs(child.localTs, vips.length > 0 ? vips : addrOf(sa.local.addr));
        this.tsR = resolveTs(child.remoteTs, addrOf(sa.remote.addr));
      }
    } else {
      // Asking for a virtual IP: our side is not known yet, so propose everything and let the responder narrow.
      const wantVip = (sa.conn.vips ?? []).map(parseIp).filter((x): x is Uint8Array => x !== null);
      const local = wantVip.length > 0 ? resolveTs(child.localTs, []).concat(dynamicAny(child.localTs, wantVip)) : resolveTs(child.localTs, addrOf(sa.local.addr));
      this.tsI = local;
      this.tsR = resolveTs(child.remoteTs, addrOf(sa.remote.addr));
      msg.add({ type: PayloadType.SA, proposals: proposals.map((p) => ({ ...withoutDh(p), spi })) });
    }
    this.requested = true;
    msg.add({ type: PayloadType.TSi, selectors: this.tsI });
    msg.add({ type: PayloadType.TSr, selectors: this.tsR });
    return 'done';
  }

  private processResponse(msg: InMessage): TaskStatus {
    const sa = this.sa;
    const child = this.config;
    if (!this.requested || !child || !sa.authenticated) return this.abandon(null);
    const invalidKe = msg.notify(Notify.INVALID_KE_PAYLOAD);
    if (invalidKe && this.inCreateChildSa) {
      const group = invalidKe.data.length >= 2 ? readU16(invalidKe.data, 0) : 0;
      this.outcome = { kind: 'invalid-ke', group };
      return this.abandon(null);
    }
    const err = msg.notifies().find((n) => CHILD_ERRORS.has(n.notifyType));
    if (err) {
      const why = `refused by ${sa.remote.addr}: ${notifyName(err.notifyType)}`;
      this.outcome = { kind: 'refused', notify: err.notifyType, why };
      return this.abandon(this.opts.rekey ? null : why);
    }
    const saP = msg.get(PayloadType.SA);
    const tsi = msg.get(PayloadType.TSi);
    const tsr = msg.get(PayloadType.TSr);
    if (!saP || !tsi || !tsr) return this.fail('response without SA, TSi or TSr');
    const chosen = saP.proposals[0];
    if (saP.proposals.length !== 1 || !chosen || chosen.spi.length !== 4) return this.fail('responder chose an ESP proposal we did not offer');
    const spiProblem = outboundSpiProblem(this.ctx, sa, readU32(chosen.spi, 0));
    if (spiProblem) return this.fail(`responder's ${spiProblem}`);
    let secret: Uint8Array | undefined;
    if (this.inCreateChildSa) {
      const nonce = msg.get(PayloadType.NONCE);
      if (!nonce) return this.fail('CREATE_CHILD_SA response without Nr');
      this.nonceR = nonce.data;
      const ours = childProposalsFor(child, this.ke?.group ?? 0);
      if (!selectProposal(ours, [chosen], { kind: 'esp', legacy: sa.conn.legacy })) return this.fail('responder chose an ESP proposal we did not offer');
      const group = transformOf(chosen, TransformType.DH)?.id ?? 0;
      if (group) {
        const ke = msg.get(PayloadType.KE);
        if (!this.ke || this.ke.group !== group || !ke || ke.dhGroup !== group) return this.fail('responder answered with a different key exchange method');
        const s = this.ke.computeSecret(ke.data);
        if (!s) return this.fail('responder sent an invalid KE value');
        secret = s;
      }
    } else {
      const ours = espProposalsOf(child).map(withoutDh);
      if (!selectProposal(ours, [chosen], { kind: 'esp', legacy: sa.conn.legacy, skipDh: true })) return this.fail('responder chose an ESP proposal we did not offer');
    }
    // The responder may only narrow (§2.9): every selector must lie within what we proposed.
    const proposedI = !this.inCreateChildSa && sa.localVips.length > 0 ? this.tsI.concat(sa.localVips.map(hostTs)) : this.tsI;
    if (!allWithin(tsi.selectors, proposedI) || !allWithin(tsr.selectors, this.tsR)) {
      return this.fail(`responder returned selectors outside our proposal: ${tsi.selectors.map(tsToString)} === ${tsr.selectors.map(tsToString)}`);
    }
    const params = {
      config: child,
      spiIn: this.spiIn,
      spiOut: readU32(chosen.spi, 0),
      proposal: chosen,
      localTs: tsi.selectors,
      remoteTs: tsr.selectors,
      ...(this.inCreateChildSa ? { nonceI: this.nonceI, nonceR: this.nonceR, weInitiated: true } : {}),
      ...(secret ? { sharedSecret: secret } : {}),
    };
    const created = this.opts.rekey ? createChild(this.ctx, sa, params) : installChild(this.ctx, sa, params);
    this.outcome = { kind: 'created', child: created };
    this.spiIn = 0;
    return 'done';
  }

  private fail(why: string): TaskStatus {
    this.outcome = { kind: 'refused', notify: 0, why };
    return this.abandon(why);
  }

  /** The CHILD_SA failed but the IKE SA stays (§1.2). */
  private abandon(reason: string | null): TaskStatus {
    if (this.spiIn) this.ctx.releaseInboundSpi(this.spiIn);
    this.spiIn = 0;
    if (reason) this.ctx.log('warn', `CHILD_SA ${this.config?.name ?? ''} not created: ${reason}`, this.sa);
    return 'done';
  }

  // ---- responder ----

  /** A reason to answer TEMPORARY_FAILURE instead (§2.25), or a refusal decided by the caller (child-rekey). */
  refuseWith(notify: number, why: string, data?: Uint8Array): void {
    this.requested = true;
    this.refuse(notify, why, data);
  }

  private processRequest(msg: InMessage): TaskStatus {
    const sa = this.sa;
    const saP = msg.get(PayloadType.SA);
    if (!saP) {
      if (this.inCreateChildSa) this.refuseWith(Notify.NO_PROPOSAL_CHOSEN, 'CREATE_CHILD_SA request without SA');
      return 'done'; // IKE_AUTH: no CHILD_SA requested
    }
    if (this.refusal !== null) return 'done';
    this.requested = true;
    const busy = this.inCreateChildSa && !this.opts.rekey ? ikeBusy(sa) : null;
    if (busy) {
      this.refuse(Notify.TEMPORARY_FAILURE, busy);
      return 'done';
    }
    if (sa.cpFailed && !this.inCreateChildSa) return 'done'; // INTERNAL_ADDRESS_FAILURE already refuses it (§3.15.4)
    const tsi = msg.get(PayloadType.TSi);
    const tsr = msg.get(PayloadType.TSr);
    if (!tsi || !tsr) {
      this.refuse(Notify.TS_UNACCEPTABLE, 'request without TSi or TSr');
      return 'done';
    }
    let ke: { dhGroup: number; data: Uint8Array } | undefined;
    if (this.inCreateChildSa) {
      const nonce = msg.get(PayloadType.NONCE);
      if (!nonce) {
        this.refuse(Notify.INVALID_SYNTAX, 'CREATE_CHILD_SA request without Ni');
        return 'done';
      }
      this.nonceI = nonce.data;
      ke = msg.get(PayloadType.KE);
    }
    if (msg.notify(Notify.USE_TRANSPORT_MODE)) this.ctx.log('debug', 'peer asked for transport mode; answering with tunnel mode', sa);
    const offered = saP.proposals.filter((p) => p.protocolId === ProtocolId.ESP);
    const candidates = this.opts.rekey ? [this.opts.rekey.config] : sa.conn.children;
    let tsMatched = false;
    for (const child of candidates) {
      const { tsI, tsR } = this.narrow(child, tsi.selectors, tsr.selectors);
      if (tsI.length === 0 || tsR.length === 0) continue;
      tsMatched = true;
      const proposal = this.inCreateChildSa
        ? selectChildProposal(this.ctx, sa, child, offered, ke?.dhGroup)
        : selectProposal(espProposalsOf(child).map(withoutDh), offered, { kind: 'esp', legacy: sa.conn.legacy, skipDh: true });
      if (!proposal) continue;
      const spiProblem = proposal.spi.length === 4 ? outboundSpiProblem(this.ctx, sa, readU32(proposal.spi, 0)) : 'an SPI that is not 4 octets';
      if (spiProblem) {
        this.refuse(Notify.NO_PROPOSAL_CHOSEN, `the peer proposes ${spiProblem}`);
        return 'done';
      }
      this.config = child;
      this.proposal = proposal;
      this.tsI = tsI;
      this.tsR = tsR;
      if (this.inCreateChildSa) this.keyExchange(proposal, ke);
      return 'done';
    }
    if (tsMatched) this.refuse(Notify.NO_PROPOSAL_CHOSEN, 'no acceptable ESP proposal');
    else this.refuse(Notify.TS_UNACCEPTABLE, `selectors ${tsi.selectors.map(tsToString)} === ${tsr.selectors.map(tsToString)} not allowed`);
    return 'done';
  }

  /** §1.3.1: the chosen group needs the peer's KE of that group; a KE for a proposal without PFS is ignored. */
  private keyExchange(proposal: Proposal, ke: { dhGroup: number; data: Uint8Array } | undefined): void {
    const group = transformOf(proposal, TransformType.DH)?.id ?? 0;
    if (!group) {
      if (ke) this.ctx.log('debug', `ignoring KE (group ${ke.dhGroup}): agreed on a proposal without PFS`, this.sa);
      return;
    }
    if (!ke || ke.dhGroup !== group) {
      this.refuse(Notify.INVALID_KE_PAYLOAD, `KE for group ${ke?.dhGroup ?? 'none'}, we want ${group}`, u16Bytes(group));
      return;
    }
    const kex = this.ctx.crypto.keyExchange(group);
    const secret = kex.computeSecret(ke.data);
    if (!secret) {
      this.refuse(Notify.NO_PROPOSAL_CHOSEN, `invalid KE value for group ${group}`);
      return;
    }
    this.ke = kex;
    this.sharedSecret = secret;
  }

  /**
   * §2.9: intersect the peer's proposal with our config. Our side's `dynamic` is our outer address (or VIP); the peer's
   * is its virtual IP when we assigned one (then TSi narrows to that /32 or /128), else its outer address.
   */
  private narrow(child: ChildConfig, peerTsI: TrafficSelector[], peerTsR: TrafficSelector[]): { tsI: TrafficSelector[]; tsR: TrafficSelector[] } {
    const sa = this.sa;
    // Our `dynamic` is the virtual IP we were given, if any (a peer rekeying or adding a CHILD_SA toward us).
    const local = resolveTs(child.localTs, sa.localVips.length > 0 ? sa.localVips : addrOf(sa.local.addr));
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

  private refuse(notify: number, why: string, data?: Uint8Array): void {
    this.refusal = notify;
    this.refusalData = data;
    this.outcome = { kind: 'refused', notify, why };
    const level = notify === Notify.TEMPORARY_FAILURE || notify === Notify.INVALID_KE_PAYLOAD ? 'info' : 'warn';
    this.ctx.log(level, `CHILD_SA ${this.opts.rekey ? 'rekey ' : ''}refused (${notifyName(notify)}): ${why}`, this.sa);
  }

  private buildResponse(msg: OutMessage): TaskStatus {
    const sa = this.sa;
    if (!this.requested || (sa.cpFailed && !this.inCreateChildSa)) return 'done';
    if (this.refusal !== null || !this.config || !this.proposal) {
      msg.notify(this.refusal ?? Notify.NO_PROPOSAL_CHOSEN, this.refusalData);
      return 'done';
    }
    this.spiIn = this.ctx.allocInboundSpi();
    const chosen = this.proposal;
    msg.add({ type: PayloadType.SA, proposals: [{ ...chosen, spi: u32Bytes(this.spiIn) }] });
    if (this.inCreateChildSa) {
      this.nonceR = this.ctx.crypto.randomBytes(NONCE_LEN);
      msg.add({ type: PayloadType.NONCE, data: this.nonceR });
      if (this.ke) msg.add({ type: PayloadType.KE, dhGroup: this.ke.group, data: this.ke.publicKey });
    }
    msg.add({ type: PayloadType.TSi, selectors: this.tsI });
    msg.add({ type: PayloadType.TSr, selectors: this.tsR });
    const params = {
      config: this.config,
      spiIn: this.spiIn,
      spiOut: readU32(chosen.spi, 0),
      proposal: chosen,
      localTs: this.tsR,
      remoteTs: this.tsI,
      ...(this.inCreateChildSa ? { nonceI: this.nonceI, nonceR: this.nonceR, weInitiated: false } : {}),
      ...(this.sharedSecret ? { sharedSecret: this.sharedSecret } : {}),
    };
    const created = this.opts.rekey ? createChild(this.ctx, sa, params) : installChild(this.ctx, sa, params);
    this.outcome = { kind: 'created', child: created };
    this.ke = null;
    return 'done';
  }
}

/** Nonces compared as unsigned octet strings over the shorter length (strongSwan's memcmp rule), then by length. */
export function compareNonces(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
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
