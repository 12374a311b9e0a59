// Task ike-natd: NAT detection in IKE_SA_INIT (RFC 7296 §2.23): hash = SHA-1(SPIi | SPIr | IP | Port).
import { IKE_PORT, NATT_PORT, Notify } from '../constants.ts';
import type { Endpoint } from '../../dataplane/types.ts';
import type { EngineContext } from '../context.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { InMessage, OutMessage } from '../message.ts';
import type { Task, TaskStatus } from '../task.ts';
import { parseIp } from '../ip.ts';
import { concatBytes, u16Bytes } from '../bytes.ts';

export function natdHash(ctx: EngineContext, spiI: Uint8Array, spiR: Uint8Array, ep: Endpoint): Uint8Array {
  const addr = parseIp(ep.addr) ?? new Uint8Array(0);
  return ctx.crypto.hash('sha1', concatBytes(spiI, spiR, addr, u16Bytes(ep.port)));
}

export class IkeNatd implements Task {
  readonly name = 'ike-natd';
  private peerSent = false;

  constructor(
    private readonly sa: IkeSa,
    private readonly ctx: EngineContext,
  ) {}

  build(msg: OutMessage): TaskStatus {
    const sa = this.sa;
    // The responder only answers NAT-D when the initiator sent it (§2.23).
    if (!sa.initiator && !this.peerSent) return 'done';
    // Hashes use the SPIs of the request's header: SPIr is zero in the initiator's request.
    const spiR = sa.initiator ? new Uint8Array(8) : sa.spiR;
    // Forced encapsulation fakes a NAT (as strongSwan's encap=yes does) so both ends move to UDP 4500.
    const source = sa.conn.encapsulation ? this.ctx.crypto.randomBytes(20) : natdHash(this.ctx, sa.spiI, spiR, sa.local);
    msg.notify(Notify.NAT_DETECTION_SOURCE_IP, source);
    msg.notify(Notify.NAT_DETECTION_DESTINATION_IP, natdHash(this.ctx, sa.spiI, spiR, sa.remote));
    return 'done';
  }

  process(msg: InMessage): TaskStatus {
    const sa = this.sa;
    const sources = msg.notifies().filter((n) => n.notifyType === Notify.NAT_DETECTION_SOURCE_IP);
    const dest = msg.notifies().filter((n) => n.notifyType === Notify.NAT_DETECTION_DESTINATION_IP);
    if (sources.length === 0 || dest.length === 0) return 'done';
    this.peerSent = true;
    sa.natDetectionSeen = true;
    const h = msg.header;
    const { local, remote } = msg.datagram;
    const peerHash = natdHash(this.ctx, h.spiI, h.spiR, remote);
    const ourHash = natdHash(this.ctx, h.spiI, h.spiR, local);
    sa.natRemote = !sources.some((n) => this.ctx.crypto.equal(n.data, peerHash));
    sa.natLocal = !dest.some((n) => this.ctx.crypto.equal(n.data, ourHash));
    if (sa.natLocal || sa.natRemote) {
      this.ctx.log('debug', `NAT detected: ${sa.natLocal ? 'we are' : 'peer is'} behind a NAT${sa.natLocal && sa.natRemote ? ' (both)' : ''}`, sa);
    }
    // RFC 4555 §3.2: with MOBIKE offered, move to 4500 even without a NAT, since one may appear on a later path.
    if (sa.initiator && (sa.encap || sa.conn.mobike)) floatTo4500(this.ctx, sa);
    return 'done';
  }
}

/** §2.23: the initiator moves IKE to UDP 4500 for IKE_AUTH once NAT (or forced encapsulation, or MOBIKE) is known. */
function floatTo4500(ctx: EngineContext, sa: IkeSa): void {
  // A peer on another port than 500 has no NAT-T port we could know: both sides stay where they are.
  if (sa.remote.port !== IKE_PORT) return;
  sa.local = { addr: sa.local.addr, port: ctx.nattPort(sa.local.addr) };
  sa.remote = { addr: sa.remote.addr, port: NATT_PORT };
}
