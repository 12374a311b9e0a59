// Task ike-redirect: REDIRECT of an established IKE SA in an INFORMATIONAL exchange (RFC 5685 §5, §8).
/*
 * Gateway side (we initiate the exchange): INFORMATIONAL { N(REDIRECT) } without a nonce. The client answers, sets
 * up an IKE SA with the new gateway and deletes this one; if it does not within REDIRECT_DELETE_TIMEOUT_MS we
 * delete it ourselves (what strongSwan does too). Client side (we respond): the response is empty, then the
 * engine re-establishes the SA and its CHILD_SAs at the new gateway, make-before-break, and deletes this one.
 */
import { Notify } from '../constants.ts';
import type { EngineContext } from '../context.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { InMessage, OutMessage } from '../message.ts';
import type { Task, TaskStatus } from '../task.ts';
import { decodeRedirectData, encodeRedirectData, gatewayText, type RedirectGateway } from '../redirect.ts';

/** How long a redirected client has to delete its SA with us (strongSwan: half_open_timeout, 30 s). */
export const REDIRECT_DELETE_TIMEOUT_MS = 30_000;

export class IkeRedirect implements Task {
  readonly name = 'ike-redirect';
  private target: RedirectGateway | null = null;

  constructor(
    private readonly sa: IkeSa,
    private readonly ctx: EngineContext,
    /** Set when we send the REDIRECT (gateway side). */
    private readonly to?: RedirectGateway,
  ) {}

  build(msg: OutMessage): TaskStatus {
    const to = this.to;
    if (!to || msg.isResponse) return 'done';
    if (!this.sa.established) return 'skip';
    msg.notify(Notify.REDIRECT, encodeRedirectData(to));
    this.ctx.log('info', `redirecting the peer at ${this.sa.remote.addr} to ${gatewayText(to)}`, this.sa);
    return 'done';
  }

  process(msg: InMessage): TaskStatus {
    const sa = this.sa;
    if (msg.isResponse) {
      if (this.to) sa.redirectDeadlineMs = this.ctx.nowMs + REDIRECT_DELETE_TIMEOUT_MS;
      return 'done';
    }
    const n = msg.notify(Notify.REDIRECT);
    if (!n) return 'done';
    const parsed = decodeRedirectData(n.data);
    if (!parsed) {
      this.ctx.log('info', `malformed REDIRECT from ${sa.remote.addr} ignored`, sa);
      return 'done';
    }
    if (!sa.canInitiate) {
      // Only a side that can initiate (a client, its connection names the gateway) follows a redirect.
      this.ctx.log('info', `REDIRECT to ${gatewayText(parsed.gateway)} from our responder-side peer ignored`, sa);
      return 'done';
    }
    this.target = parsed.gateway;
    return 'done';
  }

  afterResponse(): void {
    const t = this.target;
    this.target = null;
    if (t && !this.sa.destroyed) this.ctx.followRedirect(this.sa, t, this.sa.remote.addr);
  }
}
