// Task ike-mobike: MOBIKE (RFC 4555): negotiation in IKE_AUTH (§3.2), address updates (§3.5), peer address lists (§3.6), return routability (§3.7), NAT detection on update (§3.8), NAT prohibition (§3.9).
/*
 * Three uses, one task:
 *  - IKE_AUTH: MOBIKE_SUPPORTED each way; MOBIKE is on for the SA when both sent it (and the connection allows it).
 *  - INFORMATIONAL, responder: UPDATE_SA_ADDRESSES moves the IKE SA to the request's addresses (the IP header, not
 *    the payload: that is what works through NATs), NAT-D is recomputed and answered, COOKIE2 is echoed, address
 *    lists are stored. The inbound ESP halves move at once; the outbound ones wait for our return routability check
 *    of a new peer address (§3.5 "if necessary, initiates a return routability check ... and waits"), so an
 *    authenticated peer cannot point our ESP at a third party (§5.2.1).
 *  - INFORMATIONAL, initiator: `update` (our address changed: UPDATE_SA_ADDRESSES from the new one, NAT-D, COOKIE2)
 *    and `check` (the return routability check: COOKIE2 only). A COOKIE2 that comes back different closes the SA (§3.7).
 */
import { Notify, PayloadType } from '../constants.ts';
import type { Endpoint } from '../../dataplane/types.ts';
import type { EngineContext } from '../context.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { InMessage, OutMessage } from '../message.ts';
import type { NotifyPayload } from '../codec/types.ts';
import type { Task, TaskStatus } from '../task.ts';
import { moveChildren } from '../child-install.ts';
import { natdHash } from './ike-natd.ts';
import { formatIp, parseIp } from '../ip.ts';
import { concatBytes, u16Bytes } from '../bytes.ts';

/** RFC 4555 §4.2.5: 8..64 octets, unpredictable to the other side. */
const COOKIE2_LEN = 16;
const COOKIE2_MIN = 8;
const COOKIE2_MAX = 64;

export type MobikeMode = 'auth' | 'respond' | 'update' | 'check';

/** NO_NATS_ALLOWED data (§4.2.7): source address, destination address, source port, destination port. */
export function noNatsData(src: Endpoint, dst: Endpoint): Uint8Array {
  return concatBytes(parseIp(src.addr) ?? new Uint8Array(0), parseIp(dst.addr) ?? new Uint8Array(0), u16Bytes(src.port), u16Bytes(dst.port));
}

function endpointText(e: Endpoint): string {
  return `${e.addr}:${e.port}`;
}

export class IkeMobike implements Task {
  readonly name = 'ike-mobike';
  private cookie2: Uint8Array | null = null;
  private natd = false;
  private refusal: number | null = null;
  constructor(
    private readonly sa: IkeSa,
    private readonly ctx: EngineContext,
    private readonly mode: MobikeMode,
    /** Initiator `update`: where we moved from, for the log. */
    private readonly from: Endpoint | null = null,
  ) {}

  build(msg: OutMessage): TaskStatus {
    switch (this.mode) {
      case 'auth':
        return this.buildAuth(msg);
      case 'respond':
        return this.buildResponse(msg);
      case 'update':
      case 'check':
        return this.buildRequest(msg);
    }
  }

  process(msg: InMessage): TaskStatus {
    switch (this.mode) {
      case 'auth':
        return this.processAuth(msg);
      case 'respond':
        return this.processRequest(msg);
      case 'update':
      case 'check':
        return this.processResponse(msg);
    }
  }

  // ---- IKE_AUTH (§3.2) ----

  private buildAuth(msg: OutMessage): TaskStatus {
    const sa = this.sa;
    if (!sa.conn.mobike) return 'done';
    if (sa.initiator) {
      msg.notify(Notify.MOBIKE_SUPPORTED);
      return 'done';
    }
    // Only when authentication succeeded (a failed IKE_AUTH response carries its error alone).
    if (sa.peerMobike && sa.established) {
      msg.notify(Notify.MOBIKE_SUPPORTED);
      this.enable();
    }
    return 'done';
  }

  private processAuth(msg: InMessage): TaskStatus {
    const sa = this.sa;
    // §4.2.1: the data is ignored whatever it holds.
    sa.peerMobike = msg.notify(Notify.MOBIKE_SUPPORTED) !== undefined;
    this.readAddresses(msg);
    if (sa.initiator && sa.peerMobike && sa.conn.mobike && sa.established) this.enable();
    return 'done';
  }

  private enable(): void {
    this.sa.mobike = true;
    this.ctx.log('debug', 'MOBIKE enabled for this IKE_SA', this.sa);
  }

  /** §3.6: ADDITIONAL_IP4/6_ADDRESS lists replace what we knew; NO_ADDITIONAL_ADDRESSES empties it. */
  private readAddresses(msg: InMessage): void {
    const notifies = msg.notifies();
    const extra: string[] = [];
    let seen = false;
    for (const n of notifies) {
      if (n.notifyType === Notify.NO_ADDITIONAL_ADDRESSES) seen = true;
      const want = n.notifyType === Notify.ADDITIONAL_IP4_ADDRESS ? 4 : n.notifyType === Notify.ADDITIONAL_IP6_ADDRESS ? 16 : 0;
      if (!want) continue;
      seen = true;
      if (n.data.length === want) extra.push(formatIp(n.data));
      else this.ctx.log('debug', `ignoring a malformed additional address (${n.data.length} octets)`, this.sa);
    }
    if (!seen) return;
    this.sa.peerAddresses = [...new Set(extra)].slice(0, 16);
    this.ctx.log('debug', `peer addresses: ${this.sa.peerAddresses.length ? this.sa.peerAddresses.join(', ') : 'none besides the current one'}`, this.sa);
  }

  // ---- responder (§3.5) ----

  private processRequest(msg: InMessage): TaskStatus {
    const sa = this.sa;
    const update = msg.notify(Notify.UPDATE_SA_ADDRESSES);
    if (!sa.mobike) {
      if (update) this.ctx.log('info', `UPDATE_SA_ADDRESSES from ${msg.datagram.remote.addr} ignored: MOBIKE is not enabled for this IKE_SA`, sa);
      return 'done';
    }
    const cookie2 = msg.notify(Notify.COOKIE2);
    if (cookie2) {
      if (cookie2.data.length >= COOKIE2_MIN && cookie2.data.length <= COOKIE2_MAX) this.cookie2 = cookie2.data;
      else this.ctx.log('info', `COOKIE2 of ${cookie2.data.length} octets ignored (8..64 allowed)`, sa);
    }
    this.readAddresses(msg);
    const sources = msg.notifies().filter((n) => n.notifyType === Notify.NAT_DETECTION_SOURCE_IP);
    const dests = msg.notifies().filter((n) => n.notifyType === Notify.NAT_DETECTION_DESTINATION_IP);
    this.natd = sources.length > 0 && dests.length > 0;
    if (!update) return 'done';

    const { local, remote } = msg.datagram;
    const noNats = msg.notify(Notify.NO_NATS_ALLOWED);
    if (noNats && !this.ctx.crypto.equal(noNats.data, noNatsData(remote, local))) {
      // §3.9: the addresses the peer sent from are not the ones that arrived: a NAT it does not allow.
      this.refusal = Notify.UNEXPECTED_NAT_DETECTED;
      this.ctx.log('warn', `UPDATE_SA_ADDRESSES from ${endpointText(remote)} refused: NO_NATS_ALLOWED, but the addresses were translated on the way`, sa);
      return 'done';
    }
    if (parseIp(remote.addr)?.length !== parseIp(sa.remote.addr)?.length) {
      this.refusal = Notify.UNACCEPTABLE_ADDRESSES;
      this.ctx.log('warn', `UPDATE_SA_ADDRESSES from ${endpointText(remote)} refused: moving between IPv4 and IPv6 is not supported`, sa);
      return 'done';
    }
    const before = { local: { ...sa.local }, remote: { ...sa.remote }, encap: sa.encap };
    if (this.natd) this.detectNat(msg, sources, dests);
    sa.local = { ...local };
    sa.remote = { ...remote };
    const addrChanged = before.remote.addr !== remote.addr;
    const changed = addrChanged || before.remote.port !== remote.port || before.local.addr !== local.addr || before.local.port !== local.port || before.encap !== sa.encap;
    if (!changed) {
      this.ctx.log('debug', `UPDATE_SA_ADDRESSES: still ${endpointText(remote)}, nothing to move`, sa);
      return 'done';
    }
    // A new peer address is verified before our ESP goes there; a new port alone (a NAT rebinding) is not.
    const holdOutbound = addrChanged;
    const moved = moveChildren(this.ctx, sa, { inbound: true, outbound: !holdOutbound });
    sa.outboundMovePending = holdOutbound;
    this.ctx.log('info', `MOBIKE: peer moved from ${endpointText(before.remote)} to ${endpointText(remote)}${sa.encap !== before.encap ? ` (UDP encapsulation ${sa.encap ? 'on' : 'off'})` : ''}, ${sa.children.length} CHILD_SA(s) updated${holdOutbound ? ', outbound after the return routability check' : ''}`, sa, {
      event: 'ike.moved',
      from: endpointText(before.remote),
      to: endpointText(remote),
      local: endpointText(sa.local),
      natRemote: sa.natRemote,
      natLocal: sa.natLocal,
      dpUpdates: moved,
    });
    if (holdOutbound) sa.tm.initiate({ op: 'mobike', kind: 'check' });
    return 'done';
  }

  /** NAT-D over the request's SPIs and addresses (RFC 7296 §2.23), as in IKE_SA_INIT; forced encapsulation keeps its fake NAT. */
  private detectNat(msg: InMessage, sources: NotifyPayload[], dests: NotifyPayload[]): void {
    const sa = this.sa;
    const h = msg.header;
    const { local, remote } = msg.datagram;
    const peerHash = natdHash(this.ctx, h.spiI, h.spiR, remote);
    const ourHash = natdHash(this.ctx, h.spiI, h.spiR, local);
    sa.natRemote = !sources.some((n) => this.ctx.crypto.equal(n.data, peerHash));
    sa.natLocal = !dests.some((n) => this.ctx.crypto.equal(n.data, ourHash));
  }

  private buildResponse(msg: OutMessage): TaskStatus {
    const sa = this.sa;
    if (!sa.mobike) return 'done';
    if (this.refusal !== null) msg.notify(this.refusal);
    // §3.8: NAT-D in any INFORMATIONAL request is answered with ours.
    if (this.natd && this.refusal === null) this.addNatd(msg);
    if (this.cookie2) msg.notify(Notify.COOKIE2, this.cookie2);
    return 'done';
  }

  private addNatd(msg: OutMessage): void {
    const sa = this.sa;
    const source = sa.conn.encapsulation ? this.ctx.crypto.randomBytes(20) : natdHash(this.ctx, sa.spiI, sa.spiR, sa.local);
    msg.notify(Notify.NAT_DETECTION_SOURCE_IP, source);
    msg.notify(Notify.NAT_DETECTION_DESTINATION_IP, natdHash(this.ctx, sa.spiI, sa.spiR, sa.remote));
  }

  // ---- initiator: our own update, or the return routability check ----

  private buildRequest(msg: OutMessage): TaskStatus {
    const sa = this.sa;
    if (!sa.mobike || !sa.established) return 'skip';
    if (this.mode === 'check' && !sa.outboundMovePending) return 'skip';
    if (this.mode === 'update') {
      msg.notify(Notify.UPDATE_SA_ADDRESSES);
      this.addNatd(msg);
    }
    this.cookie2 = this.ctx.crypto.randomBytes(COOKIE2_LEN);
    msg.notify(Notify.COOKIE2, this.cookie2);
    return 'done';
  }

  private processResponse(msg: InMessage): TaskStatus {
    const sa = this.sa;
    const echoed = msg.notify(Notify.COOKIE2);
    if (this.cookie2 && (!echoed || !this.ctx.crypto.equal(echoed.data, this.cookie2))) {
      // §3.7: a wrong (or missing) COOKIE2 means the SA is not to be trusted any more.
      return { fail: `MOBIKE ${this.mode === 'check' ? 'return routability check' : 'address update'}: COOKIE2 ${echoed ? 'does not match' : 'missing'} in the response from ${msg.datagram.remote.addr}` };
    }
    if (this.mode === 'check') {
      const from = msg.datagram.remote;
      if (!sa.outboundMovePending) return 'done';
      if (from.addr !== sa.remote.addr || from.port !== sa.remote.port) {
        this.ctx.log('debug', `return routability answer from ${endpointText(from)}, but the peer is at ${endpointText(sa.remote)} now`, sa);
        return 'done';
      }
      sa.outboundMovePending = false;
      const moved = moveChildren(this.ctx, sa, { inbound: false, outbound: true });
      this.ctx.log('info', `MOBIKE: return routability of ${endpointText(from)} confirmed, outbound ESP moved (${moved} SA(s))`, sa);
      return 'done';
    }
    const refused = msg.notify(Notify.UNACCEPTABLE_ADDRESSES) ?? msg.notify(Notify.UNEXPECTED_NAT_DETECTED);
    if (refused) {
      this.ctx.log('warn', `MOBIKE address update refused by ${sa.remote.addr}: ${refused.notifyType === Notify.UNACCEPTABLE_ADDRESSES ? 'UNACCEPTABLE_ADDRESSES' : 'UNEXPECTED_NAT_DETECTED'}`, sa);
      return 'done';
    }
    const sources = msg.notifies().filter((n) => n.notifyType === Notify.NAT_DETECTION_SOURCE_IP);
    const dests = msg.notifies().filter((n) => n.notifyType === Notify.NAT_DETECTION_DESTINATION_IP);
    const before = sa.encap;
    if (sources.length > 0 && dests.length > 0) this.detectNat(msg, sources, dests);
    const moved = moveChildren(this.ctx, sa, { inbound: true, outbound: true });
    this.ctx.log('info', `MOBIKE: moved from ${this.from ? endpointText(this.from) : '?'} to ${endpointText(sa.local)}${before !== sa.encap ? ` (UDP encapsulation ${sa.encap ? 'on' : 'off'})` : ''}, ${moved} ESP SA(s) updated`, sa, {
      event: 'ike.moved',
      from: this.from ? endpointText(this.from) : null,
      to: endpointText(sa.local),
      natLocal: sa.natLocal,
      natRemote: sa.natRemote,
    });
    return 'done';
  }
}

