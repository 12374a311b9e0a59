// Task child-delete: closing CHILD_SAs with an INFORMATIONAL DELETE (RFC 7296 §1.4.1, §2.8 old SA of a rekey, §2.25.1, §3.11).
import { PayloadType, ProtocolId } from '../constants.ts';
import type { EngineContext } from '../context.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { ChildSa } from '../child-sa.ts';
import type { InMessage, OutMessage } from '../message.ts';
import type { Task, TaskStatus } from '../task.ts';
import { hexSpi, removeChild, retireChild } from '../child-install.ts';
import { ChildRekey } from './child-rekey.ts';
import { readU32, u32Bytes } from '../bytes.ts';

/*
 * §1.4.1: a DELETE names the sender's INBOUND SPIs. So the peer's DELETE lists our outbound SPIs, and our
 * answer lists our inbound SPIs of the same CHILD_SAs. A CHILD_SA we are deleting ourselves at the same time
 * (the requests crossed) is removed but left out of the answer, as §1.4.1 requires.
 * Deleting the old SA of a rekey first hands the outbound traffic to its replacement (make-before-break).
 */
export class ChildDelete implements Task {
  readonly name = 'child-delete';
  private doomed: { holder: IkeSa; child: ChildSa }[] = [];

  constructor(
    private readonly sa: IkeSa,
    private readonly ctx: EngineContext,
    private readonly childId?: string,
    private readonly reason?: string,
  ) {}

  build(msg: OutMessage): TaskStatus {
    const sa = this.sa;
    if (msg.isResponse) {
      const answer = this.doomed.filter((d) => d.child.state !== 'deleting' || !this.weAreDeleting(d.child));
      if (answer.length > 0) msg.add({ type: PayloadType.DELETE, protocolId: ProtocolId.ESP, spis: answer.map((d) => u32Bytes(d.child.spiIn)) });
      for (const d of this.doomed) this.remove(d.holder, d.child, 'deleted by peer');
      return 'done';
    }
    const child = sa.children.find((c) => c.id === this.childId);
    if (!child || child.state === 'deleting') return 'skip';
    child.state = 'deleting';
    this.doomed = [{ holder: sa, child }];
    msg.add({ type: PayloadType.DELETE, protocolId: ProtocolId.ESP, spis: [u32Bytes(child.spiIn)] });
    this.ctx.log('info', `deleting CHILD_SA ${child.config.name} (in ${hexSpi(child.spiIn)}, out ${hexSpi(child.spiOut)})${this.reason ? `: ${this.reason}` : ''}`, sa);
    return 'done';
  }

  process(msg: InMessage): TaskStatus {
    const sa = this.sa;
    const deletes = msg.all(PayloadType.DELETE);
    if (msg.isResponse) {
      for (const d of this.doomed) this.remove(d.holder, d.child, this.reason ?? 'deleted');
      this.doomed = [];
      return 'done';
    }
    // A DELETE of the IKE SA takes its children with it; nothing to answer for them.
    if (deletes.some((d) => d.protocolId === ProtocolId.IKE)) return 'done';
    for (const d of deletes) {
      if (d.protocolId !== ProtocolId.ESP) continue;
      for (const spi of d.spis) {
        if (spi.length !== 4) continue;
        const found = findByOutboundSpi(sa, readU32(spi, 0));
        if (found && !this.doomed.some((x) => x.child === found.child)) this.doomed.push(found);
      }
    }
    return 'done';
  }

  private weAreDeleting(child: ChildSa): boolean {
    return this.sa.tm.activeTasks.some((t) => t instanceof ChildDelete && t.doomed.some((d) => d.child === child));
  }

  private remove(holder: IkeSa, child: ChildSa, reason: string): void {
    if (child.state === 'rekeying' && !child.replacedBy) {
      // §2.8.1: the peer won a rekey collision and deletes the old SA before our response arrived: its
      // replacement (the one we answered) takes over.
      const ours = holder.tm.activeTasks.find((t) => t instanceof ChildRekey && t.old === child) as ChildRekey | undefined;
      const theirs = ours?.collision?.child;
      if (theirs && holder.children.includes(theirs)) {
        child.replacedBy = theirs;
        theirs.replaces = child;
      }
    }
    if (child.replacedBy) retireChild(this.ctx, holder, child, 'rekeyed');
    else removeChild(this.ctx, holder, child, reason);
  }
}

/** Our CHILD_SA with this outbound SPI, on this IKE SA or (after an IKE rekey) its successor. */
function findByOutboundSpi(sa: IkeSa, spi: number): { holder: IkeSa; child: ChildSa } | null {
  for (let s: IkeSa | null = sa; s; s = s.successor) {
    const child = s.children.find((c) => c.spiOut === spi);
    if (child) return { holder: s, child };
  }
  return null;
}
