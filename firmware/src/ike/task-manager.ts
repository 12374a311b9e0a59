// Message IDs, window, retransmission, response cache, fragmentation and the exchange → tasks table (RFC 7296 §2.1–§2.3, RFC 7383).
/*
 * Flow and ownership. The task manager of one IKE SA alone owns its message IDs. Window size is 1 each way:
 *  - our requests: one `active` request at a time (others wait in `queue`, strongSwan's queue of pending
 *    operations), retransmitted with exponential backoff until its response arrives or, for a liveness check with
 *    a DPD timeout, until that deadline; `retry` (IKE_SA_INIT after COOKIE / INVALID_KE_PAYLOAD) resends it with
 *    the same message ID. A queued entry may also be a local step (reauthentication's final delete of the old
 *    SA) that runs when its turn comes, in order with the exchanges before it;
 *  - the peer's requests: `expectedRequestId`, and the last response cached so a retransmitted request is answered
 *    from the cache without processing it again.
 * A received message is processed by the tasks in table order (`process`), then a response is built by the same
 * tasks (`build`). A task may pause (`{pending: ref}`), e.g. for certificate validation: the job stays where it is,
 * retransmits of its request are ignored, and `resume(ref)` continues at that task.
 * Only authenticated messages (integrity check passed) reach the tasks, except IKE_SA_INIT which is unprotected.
 * CREATE_CHILD_SA requests are told apart by content (strongSwan does the same): N(REKEY_SA) → child-rekey, an
 * IKE proposal → ike-rekey, otherwise child-create.
 */
import { ExchangeType, HeaderFlag, Notify, PayloadType, ProtocolId } from './constants.ts';
import { FragmentReassembler } from './codec/index.ts';
import type { IkeMessage, NotifyPayload, Payload, SaPayload, SkfPayload } from './codec/types.ts';
import type { Endpoint } from '../dataplane/types.ts';
import type { Datagram } from './io.ts';
import type { EngineContext } from './context.ts';
import type { IkeSa } from './ike-sa.ts';
import { InMessage, OutMessage, exchangeName } from './message.ts';
import { encodeMessageFor, openMessage } from './protection.ts';
import { isFailure, isPending, type Task, type TaskFailure } from './task.ts';
import { IkeInit, ignoredInitResponse } from './tasks/ike-init.ts';
import { IkeNatd } from './tasks/ike-natd.ts';
import { IkeCertPost, IkeCertPre } from './tasks/ike-cert.ts';
import { IkeAuth } from './tasks/ike-auth.ts';
import { IkeConfig } from './tasks/ike-config.ts';
import { ChildCreate } from './tasks/child-create.ts';
import { IkeDelete } from './tasks/ike-delete.ts';
import { ChildDelete } from './tasks/child-delete.ts';
import { Informational } from './tasks/informational.ts';
import { ChildRekey } from './tasks/child-rekey.ts';
import { IkeRekey } from './tasks/ike-rekey.ts';
import { IkeMobike } from './tasks/ike-mobike.ts';
import { IkeRedirect } from './tasks/ike-redirect.ts';
import { moveChildren } from './child-install.ts';
import type { RedirectGateway } from './redirect.ts';
import { EMPTY } from './bytes.ts';

/** What we can start as initiator of an exchange (or, `step`, a local action queued in order with them). */
export type Operation =
  | { op: 'connect' }
  | { op: 'delete-ike'; reason?: string }
  | { op: 'delete-child'; childId: string; reason?: string }
  /** Empty INFORMATIONAL; `timeoutMs` caps the whole check (DPD timeout) before the retransmits run out. */
  | { op: 'liveness'; timeoutMs?: number }
  /** A further CHILD_SA of a configured child (§1.3.1); `group` after INVALID_KE_PAYLOAD. */
  | { op: 'create-child'; child: string; group?: number }
  | { op: 'rekey-child'; childId: string; group?: number }
  | { op: 'rekey-ike'; group?: number }
  /** MOBIKE (RFC 4555): `update` after our address changed, `check` = return routability of the peer's new one. */
  | { op: 'mobike'; kind: 'update' | 'check'; from?: Endpoint }
  /** Send the peer to another gateway (RFC 5685 §5). */
  | { op: 'redirect'; to: RedirectGateway }
  | { op: 'step'; name: string; run: () => void };

interface Exchange {
  exchange: number;
  tasks: Task[];
  op: Operation;
  timeoutMs?: number;
}

/** The table "exchange → ordered tasks" for the initiator. */
function initiatorExchanges(sa: IkeSa, ctx: EngineContext, o: Operation): Omit<Exchange, 'op'>[] {
  switch (o.op) {
    case 'connect':
      return [
        { exchange: ExchangeType.IKE_SA_INIT, tasks: [new IkeInit(sa, ctx), new IkeNatd(sa, ctx), new IkeCertPre(sa, ctx)] },
        {
          exchange: ExchangeType.IKE_AUTH,
          tasks: [new IkeCertPre(sa, ctx), new IkeAuth(sa, ctx), new IkeCertPost(sa, ctx), new IkeMobike(sa, ctx, 'auth'), new IkeConfig(sa, ctx), new ChildCreate(sa, ctx)],
        },
      ];
    case 'delete-ike':
      return [{ exchange: ExchangeType.INFORMATIONAL, tasks: [new IkeDelete(sa, ctx, o.reason)] }];
    case 'delete-child':
      return [{ exchange: ExchangeType.INFORMATIONAL, tasks: [new ChildDelete(sa, ctx, o.childId, o.reason)] }];
    case 'liveness':
      return [{ exchange: ExchangeType.INFORMATIONAL, tasks: [new Informational(sa, ctx)], ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) }];
    case 'create-child':
      return [{ exchange: ExchangeType.CREATE_CHILD_SA, tasks: [new ChildCreate(sa, ctx, { initiator: true, exchange: ExchangeType.CREATE_CHILD_SA, child: o.child, group: o.group })] }];
    case 'rekey-child':
      return [{ exchange: ExchangeType.CREATE_CHILD_SA, tasks: [new ChildRekey(sa, ctx, { initiator: true, childId: o.childId, group: o.group })] }];
    case 'rekey-ike':
      return [{ exchange: ExchangeType.CREATE_CHILD_SA, tasks: [new IkeRekey(sa, ctx, { initiator: true, group: o.group })] }];
    case 'mobike':
      return [{ exchange: ExchangeType.INFORMATIONAL, tasks: [new IkeMobike(sa, ctx, o.kind, o.from)] }];
    case 'redirect':
      return [{ exchange: ExchangeType.INFORMATIONAL, tasks: [new IkeRedirect(sa, ctx, o.to)] }];
    case 'step':
      return [{ exchange: 0, tasks: [] }];
  }
}

/** CREATE_CHILD_SA: which operation the peer asks for (RFC 7296 §1.3.1–§1.3.3). */
function createChildSaTasks(sa: IkeSa, ctx: EngineContext, payloads: readonly Payload[]): Task[] {
  const rekey = payloads.some((p) => p.type === PayloadType.NOTIFY && (p as NotifyPayload).notifyType === Notify.REKEY_SA);
  if (rekey) return [new ChildRekey(sa, ctx, { initiator: false })];
  const saP = payloads.find((p) => p.type === PayloadType.SA) as SaPayload | undefined;
  if (saP && saP.proposals.length > 0 && saP.proposals.every((p) => p.protocolId === ProtocolId.IKE)) return [new IkeRekey(sa, ctx, { initiator: false })];
  return [new ChildCreate(sa, ctx, { initiator: false, exchange: ExchangeType.CREATE_CHILD_SA })];
}

/** The table "exchange → ordered tasks" for the responder; null for exchanges we do not answer. */
function responderTasks(sa: IkeSa, ctx: EngineContext, exchange: number): Task[] | null {
  switch (exchange) {
    case ExchangeType.IKE_SA_INIT:
      return [new IkeInit(sa, ctx), new IkeNatd(sa, ctx), new IkeCertPre(sa, ctx)];
    case ExchangeType.IKE_AUTH:
      return [new IkeCertPre(sa, ctx), new IkeAuth(sa, ctx), new IkeCertPost(sa, ctx), new IkeMobike(sa, ctx, 'auth'), new IkeConfig(sa, ctx), new ChildCreate(sa, ctx)];
    case ExchangeType.INFORMATIONAL:
      return [new IkeDelete(sa, ctx), new ChildDelete(sa, ctx), new IkeMobike(sa, ctx, 'respond'), new IkeRedirect(sa, ctx), new Informational(sa, ctx)];
    case ExchangeType.CREATE_CHILD_SA:
      return null; // decided by content: createChildSaTasks
    default:
      return null;
  }
}

/** Which exchanges may run in which SA state (§1.2: nothing but IKE_AUTH before authentication). */
function allowedAsResponder(sa: IkeSa, exchange: number): boolean {
  if (!sa.authenticated) return exchange === ExchangeType.IKE_AUTH && !sa.initiator;
  return exchange === ExchangeType.INFORMATIONAL || exchange === ExchangeType.CREATE_CHILD_SA;
}

interface Job {
  exchange: number;
  msgId: number;
  tasks: Task[];
  msg: InMessage;
  index: number;
  pendingRef: string | null;
  retry: boolean;
}

interface ActiveRequest {
  exchange: number;
  msgId: number;
  tasks: Task[];
  op: Operation;
  packets: Uint8Array[];
  retransmits: number;
  nextAtMs: number;
  sentAtMs: number;
  /** Give up at this time even if retransmits remain (DPD timeout). */
  giveUpAtMs: number;
  /** Set once the response arrived: no more retransmits, later copies are ignored. */
  job: Job | null;
}

export class TaskManager {
  private nextRequestId = 0;
  private active: ActiveRequest | null = null;
  private readonly queue: Exchange[] = [];
  private expectedRequestId = 0;
  private lastResponse: { msgId: number; packets: Uint8Array[] } | null = null;
  private responding: (Job & { reply: Datagram }) | null = null;
  private requestFragments: FragmentReassembler | null = null;
  private responseFragments: FragmentReassembler | null = null;


  constructor(
    private readonly sa: IkeSa,
    private readonly ctx: EngineContext,
  ) {}

  /**
   * Queue the exchanges of an operation; they run one after the other. `front`: before everything queued (the
   * follow-up of the exchange that just finished, e.g. the DELETE of a rekeyed SA, §2.8).
   */
  initiate(o: Operation, opts: { front?: boolean } = {}): void {
    const xs = initiatorExchanges(this.sa, this.ctx, o).map((x) => ({ ...x, op: o }));
    if (opts.front) this.queue.unshift(...xs);
    else this.queue.push(...xs);
    this.startNext();
  }

  /** True while nothing of ours is outstanding or queued (DPD only starts on an idle SA). */
  get idle(): boolean {
    return this.active === null && this.queue.length === 0;
  }

  get busyWith(): string | null {
    return this.active ? exchangeName(this.active.exchange) : null;
  }

  /** The tasks of our request on the wire (collision checks, §2.25); empty when none. */
  get activeTasks(): readonly Task[] {
    return this.active ? this.active.tasks : [];
  }

  /** Remove queued operations that match (they are handed to another SA or dropped). */
  takeQueued(match: (o: Operation) => boolean): Operation[] {
    const taken: Operation[] = [];
    for (let i = 0; i < this.queue.length; ) {
      const x = this.queue[i]!;
      if (match(x.op)) {
        if (!taken.includes(x.op)) taken.push(x.op);
        this.queue.splice(i, 1);
      } else i++;
    }
    return taken;
  }

  /** Next retransmission time (or give-up time), if a request is waiting for its response. */
  /** Fragment reassembly state, made on the first fragment. */
  reassembler(forResponses: boolean): FragmentReassembler {
    if (forResponses) return (this.responseFragments ??= new FragmentReassembler());
    return (this.requestFragments ??= new FragmentReassembler());
  }

  nextDeadline(): number | undefined {
    return this.active && !this.active.job ? Math.min(this.active.nextAtMs, this.active.giveUpAtMs) : undefined;
  }

  /** Responder: the IKE_SA_INIT request that created this SA (plain payloads, no integrity to check). */
  handleInitRequest(d: Datagram, msg: IkeMessage): void {
    this.sa.initRequest = d.data;
    this.startJob(d, ExchangeType.IKE_SA_INIT, 0, new InMessage(msg.header, msg.payloads, d));
  }

  /** Responder: answer a retransmitted IKE_SA_INIT from the cache. */
  resendInitResponse(d: Datagram): boolean {
    if (!this.lastResponse || this.lastResponse.msgId !== 0 || this.expectedRequestId !== 1) return false;
    this.sendPackets(this.lastResponse.packets, d.local, d.remote);
    return true;
  }

  receive(d: Datagram, msg: IkeMessage): void {
    if ((msg.header.flags & HeaderFlag.RESPONSE) !== 0) this.onResponse(d, msg);
    else this.onRequest(d, msg);
  }

  tick(nowMs: number): void {
    const a = this.active;
    if (!a || a.job) return;
    const { tries, timeoutMs, base } = this.ctx.config.retransmit;
    const dpd = a.op.op === 'liveness';
    if (nowMs >= a.giveUpAtMs) {
      this.active = null;
      this.queue.length = 0;
      const secs = Math.round((nowMs - a.sentAtMs) / 1000);
      this.ctx.log('warn', `${exchangeName(a.exchange)} request ${a.msgId} to ${this.sa.remote.addr} unanswered for ${secs} s (DPD timeout)`, this.sa);
      this.ctx.peerUnreachable(this.sa, `DPD timeout: no response to ${exchangeName(a.exchange)} from ${this.sa.remote.addr}`);
      return;
    }
    if (nowMs < a.nextAtMs) return;
    if (a.retransmits >= tries) {
      this.active = null;
      this.queue.length = 0;
      this.ctx.log('warn', `${exchangeName(a.exchange)} request ${a.msgId} to ${this.sa.remote.addr} unanswered after ${tries} retransmits`, this.sa);
      const why = `no response to ${exchangeName(a.exchange)} from ${this.sa.remote.addr}`;
      this.ctx.peerUnreachable(this.sa, dpd ? `DPD: ${why}` : why);
      return;
    }
    a.retransmits++;
    a.nextAtMs = nowMs + Math.round(timeoutMs * Math.pow(base, a.retransmits));
    this.ctx.count('retransmit-sent');
    this.ctx.log('debug', `retransmit ${a.retransmits} of ${exchangeName(a.exchange)} request ${a.msgId}`, this.sa);
    this.sendPackets(a.packets, this.sa.local, this.sa.remote);
  }

  /** The runtime answered a paused task. Returns false when no job of this SA waits for `ref`. */
  resume(ref: string, result: unknown): boolean {
    const r = this.responding;
    if (r && r.pendingRef === ref) {
      r.pendingRef = null;
      const task = r.tasks[r.index];
      const st = task?.resume ? task.resume(ref, result) : 'done';
      if (isPending(st)) r.pendingRef = st.pending;
      else if (isFailure(st)) this.finishRequest(r, st);
      else {
        r.index++;
        this.continueRequest(r);
      }
      return true;
    }
    const a = this.active;
    const job = a?.job;
    if (a && job && job.pendingRef === ref) {
      job.pendingRef = null;
      const task = job.tasks[job.index];
      const st = task?.resume ? task.resume(ref, result) : 'done';
      if (isPending(st)) job.pendingRef = st.pending;
      else if (isFailure(st)) this.failInitiator(a, st);
      else {
        if (st === 'retry') job.retry = true;
        job.index++;
        this.continueResponse(a, job);
      }
      return true;
    }
    return false;
  }

  /** Fire-and-forget request (§2.21.2: an initiator tells the responder why it gives up; no retransmits). */
  sendOneShot(exchange: number, payloads: Payload[]): void {
    const packets = encodeMessageFor(this.sa, this.ctx, exchange, this.nextRequestId, false, payloads);
    this.nextRequestId++;
    this.sendPackets(packets, this.sa.local, this.sa.remote);
  }

  // ---- our requests ----

  private startNext(): void {
    // While we answer a request, our own wait: the response goes first (finishRequest starts them after it).
    if (this.responding) return;
    while (!this.active && !this.sa.destroyed) {
      const next = this.queue.shift();
      if (!next) return;
      if (next.op.op === 'step') {
        next.op.run();
        continue;
      }
      this.sendRequest(next, this.nextRequestId);
    }
  }

  /** Builds and sends one of our requests; false when every task had nothing to do (nothing sent). */
  private sendRequest(x: Exchange, msgId: number): boolean {
    const { exchange, tasks } = x;
    const out = new OutMessage(exchange, false);
    let skipped = 0;
    for (const t of tasks) {
      const st = t.build(out);
      if (isFailure(st)) {
        this.ctx.destroySa(this.sa, st.fail, { notify: st.notify });
        return false;
      }
      if (st === 'skip') skipped++;
    }
    if (this.sa.destroyed || (tasks.length > 0 && skipped === tasks.length)) return false;
    const packets = encodeMessageFor(this.sa, this.ctx, exchange, msgId, false, out.payloads);
    if (exchange === ExchangeType.IKE_SA_INIT) this.sa.initRequest = packets[0] ?? EMPTY;
    this.active = {
      exchange,
      msgId,
      tasks,
      op: x.op,
      packets,
      retransmits: 0,
      nextAtMs: this.ctx.nowMs + this.ctx.config.retransmit.timeoutMs,
      sentAtMs: this.ctx.nowMs,
      giveUpAtMs: x.timeoutMs !== undefined && x.timeoutMs > 0 ? this.ctx.nowMs + x.timeoutMs : Infinity,
      job: null,
    };
    this.sendPackets(packets, this.sa.local, this.sa.remote);
    return true;
  }

  private onResponse(d: Datagram, msg: IkeMessage): void {
    const a = this.active;
    if (!a || a.job || msg.header.messageId !== a.msgId || msg.header.exchange !== a.exchange) {
      this.ctx.drop('unexpected-response');
      return;
    }
    const opened = openMessage(this.sa, d, msg, this, true);
    if (opened.kind === 'incomplete') return;
    if (opened.kind === 'drop') {
      this.ctx.drop(opened.reason);
      return;
    }
    if (opened.kind === 'syntax') {
      this.ctx.drop('invalid-syntax');
      this.active = null;
      this.ctx.destroySa(this.sa, `malformed ${exchangeName(a.exchange)} response: ${opened.error}`);
      return;
    }
    if (a.exchange === ExchangeType.IKE_SA_INIT) {
      // Unprotected: one an off-path attacker may forge is dropped and the real answer awaited.
      const ignore = ignoredInitResponse(this.sa, this.ctx, opened.payloads);
      if (ignore) {
        this.ctx.drop(ignore);
        return;
      }
      this.sa.initResponse = d.data;
    }
    this.authenticated(d);
    const job: Job = { exchange: a.exchange, msgId: a.msgId, tasks: a.tasks, msg: new InMessage(msg.header, opened.payloads, d), index: 0, pendingRef: null, retry: false };
    a.job = job;
    this.continueResponse(a, job);
  }

  private continueResponse(a: ActiveRequest, job: Job): void {
    for (; job.index < job.tasks.length; job.index++) {
      const task = job.tasks[job.index] as Task;
      const st = task.process(job.msg);
      if (isPending(st)) {
        job.pendingRef = st.pending;
        return;
      }
      if (isFailure(st)) {
        this.failInitiator(a, st);
        return;
      }
      if (st === 'retry') job.retry = true;
    }
    this.active = null;
    if (this.sa.destroyed) return;
    if (a.exchange === ExchangeType.IKE_AUTH && this.sa.authenticated) this.sa.dropAuthState();
    if (job.retry) {
      this.sendRequest({ exchange: a.exchange, tasks: a.tasks, op: a.op }, a.msgId);
      return;
    }
    this.nextRequestId = a.msgId + 1;
    this.startNext();
  }

  private failInitiator(a: ActiveRequest, f: TaskFailure): void {
    this.active = null;
    this.queue.length = 0;
    this.nextRequestId = a.msgId + 1;
    if (f.informPeer && f.notify !== undefined && this.sa.skOut) {
      this.sendOneShot(ExchangeType.INFORMATIONAL, [
        { type: PayloadType.NOTIFY, protocolId: 0, spi: EMPTY, notifyType: f.notify, data: f.notifyData ?? EMPTY },
      ]);
    }
    this.ctx.destroySa(this.sa, f.fail, { notify: f.notify, ...(f.quiet ? { quiet: true } : {}) });
  }

  // ---- the peer's requests ----

  private onRequest(d: Datagram, msg: IkeMessage): void {
    const id = msg.header.messageId;
    if (this.responding && id === this.responding.msgId) {
      this.ctx.drop('retransmit-while-busy');
      return;
    }
    if (this.lastResponse && id === this.lastResponse.msgId) {
      const last = msg.payloads[msg.payloads.length - 1];
      // RFC 7383 §2.6.1: answer a retransmitted fragmented request once, on its first fragment.
      if (last?.type === PayloadType.SKF && (last as SkfPayload).fragmentNumber !== 1) return;
      this.ctx.count('retransmit-answered');
      this.sendPackets(this.lastResponse.packets, d.local, d.remote);
      return;
    }
    if (id !== this.expectedRequestId || this.responding) {
      this.ctx.drop('bad-message-id');
      return;
    }
    if (!allowedAsResponder(this.sa, msg.header.exchange)) {
      this.ctx.drop('unexpected-exchange');
      return;
    }
    const opened = openMessage(this.sa, d, msg, this, false);
    if (opened.kind === 'incomplete') return;
    if (opened.kind === 'drop') {
      this.ctx.drop(opened.reason);
      return;
    }
    // The next request passed its integrity check, so the peer has our last response (window 1): free the cache.
    this.lastResponse = null;
    if (opened.kind === 'syntax') {
      // §2.21.2/§3.10.1: an authenticated but malformed request gets INVALID_SYNTAX (or the codec's notify).
      this.ctx.drop('invalid-syntax');
      this.ctx.log('info', `malformed ${exchangeName(msg.header.exchange)} request from ${d.remote.addr}: ${opened.error}`, this.sa);
      const job = this.newJob(d, msg.header.exchange, id, new InMessage(msg.header, [], d));
      this.finishRequest(job, { fail: `malformed request: ${opened.error}`, notify: opened.notify, notifyData: opened.notifyData }, msg.header.exchange === ExchangeType.IKE_AUTH);
      return;
    }
    this.authenticated(d);
    this.startJob(d, msg.header.exchange, id, new InMessage(msg.header, opened.payloads, d));
  }

  private newJob(d: Datagram, exchange: number, msgId: number, msg: InMessage): Job & { reply: Datagram } {
    return { exchange, msgId, tasks: [], msg, index: 0, pendingRef: null, retry: false, reply: d };
  }

  private startJob(d: Datagram, exchange: number, msgId: number, msg: InMessage): void {
    const tasks = exchange === ExchangeType.CREATE_CHILD_SA ? createChildSaTasks(this.sa, this.ctx, msg.payloads) : responderTasks(this.sa, this.ctx, exchange);
    if (!tasks) {
      this.ctx.drop('unexpected-exchange');
      return;
    }
    const job = this.newJob(d, exchange, msgId, msg);
    job.tasks = tasks;
    this.responding = job;
    this.continueRequest(job);
  }

  private continueRequest(job: Job & { reply: Datagram }): void {
    for (; job.index < job.tasks.length; job.index++) {
      const task = job.tasks[job.index] as Task;
      const st = task.process(job.msg);
      if (isPending(st)) {
        job.pendingRef = st.pending;
        return;
      }
      if (isFailure(st)) {
        this.finishRequest(job, st);
        return;
      }
    }
    this.finishRequest(job, null);
  }

  /**
   * Build and send the response. A failure answers with its notify only and destroys the SA (unless
   * `destroy` is false: a malformed INFORMATIONAL must not kill an established SA).
   */
  private finishRequest(job: Job & { reply: Datagram }, failure: TaskFailure | null, destroy = true): void {
    if (this.sa.destroyed) {
      this.responding = null;
      return;
    }
    const out = new OutMessage(job.exchange, true);
    if (!failure) {
      for (const t of job.tasks) {
        const st = t.build(out);
        if (isFailure(st)) {
          failure = st;
          break;
        }
      }
    }
    if (failure) {
      out.clear();
      if (failure.notify !== undefined) out.notify(failure.notify, failure.notifyData ?? EMPTY);
    }
    // §2.6/§1.2: an IKE_SA_INIT refused without keeping state carries a zero responder SPI.
    const zeroSpiR = failure !== null && job.exchange === ExchangeType.IKE_SA_INIT;
    const packets = encodeMessageFor(this.sa, this.ctx, job.exchange, job.msgId, true, out.payloads, zeroSpiR);
    if (job.exchange === ExchangeType.IKE_SA_INIT && !failure) this.sa.initResponse = packets[0] ?? EMPTY;
    this.lastResponse = { msgId: job.msgId, packets };
    this.expectedRequestId = job.msgId + 1;
    this.responding = null;
    this.sendPackets(packets, job.reply.local, job.reply.remote);
    if (!failure) for (const t of job.tasks) t.afterResponse?.();
    if (!failure && job.exchange === ExchangeType.IKE_AUTH && this.sa.authenticated) this.sa.dropAuthState();
    if (failure && (destroy || !this.sa.authenticated)) {
      this.ctx.destroySa(this.sa, failure.fail, { notify: failure.notify });
      return;
    }
    if (this.sa.destroyed) return;
    this.startNext();
  }

  private sendPackets(packets: Uint8Array[], local: Endpoint, remote: Endpoint): void {
    for (const data of packets) this.ctx.out.send.push({ local: { ...local }, remote: { ...remote }, data });
    this.sa.lastOutboundMs = this.ctx.nowMs;
  }

  /** An authenticated message arrived: liveness, and the peer's address as it is now (§2.23 NAT mappings). */
  private authenticated(d: Datagram): void {
    const sa = this.sa;
    sa.lastInboundMs = this.ctx.nowMs;
    const moved = d.remote.addr !== sa.remote.addr || d.remote.port !== sa.remote.port;
    const localMoved = d.local.addr !== sa.local.addr || d.local.port !== sa.local.port;
    if (!moved && !localMoved) return;
    if (!sa.established) {
      // Before IKE_AUTH completes the only legitimate change is the switch to port 4500 (§2.23).
      sa.local = { ...d.local };
      sa.remote = { ...d.remote };
      return;
    }
    // RFC 4555 §3.8: with MOBIKE, addresses change only by UPDATE_SA_ADDRESSES (the ike-mobike task), never implicitly.
    if (sa.mobike || !sa.natRemote) return;
    if (moved) this.ctx.log('info', `peer moved from ${sa.remote.addr}:${sa.remote.port} to ${d.remote.addr}:${d.remote.port}`, sa);
    peerMoved(this.ctx, sa, d);
  }
}

/** Update the SA and its ESP SAs to the peer's new NAT mapping (§2.23). */
function peerMoved(ctx: EngineContext, sa: IkeSa, d: Datagram): void {
  const oldRemote = sa.remote;
  sa.remote = { ...d.remote };
  sa.local = { ...d.local };
  if (oldRemote.addr === d.remote.addr && oldRemote.port === d.remote.port) return;
  moveChildren(ctx, sa, { inbound: true, outbound: true });
}
