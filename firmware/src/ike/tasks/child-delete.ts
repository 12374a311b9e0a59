// Task child-delete: closing CHILD_SAs with an INFORMATIONAL DELETE (RFC 7296 §1.4.1, §3.11).
import { PayloadType, ProtocolId } from '../constants.ts';
import type { EngineContext } from '../context.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { ChildSa } from '../child-sa.ts';
import type { InMessage, OutMessage } from '../message.ts';
import type { Task, TaskStatus } from '../task.ts';
import { removeChild } from '../child-install.ts';
import { readU32, u32Bytes } from '../bytes.ts';

/*
 * §1.4.1: a DELETE names the sender's INBOUND SPIs. So the peer's DELETE lists our outbound SPIs, and our
 * answer lists our inbound SPIs of the same CHILD_SAs.
 */
export class ChildDelete implements Task {
  readonly name = 'child-delete';
  private doomed: ChildSa[] = [];

  constructor(
    private readonly sa: IkeSa,
    private readonly ctx: EngineContext,
    private readonly childId?: string,
  ) {}

  build(msg: OutMessage): TaskStatus {
    const sa = this.sa;
    if (msg.isResponse) {
      if (this.doomed.length === 0) return 'done';
      msg.add({ type: PayloadType.DELETE, protocolId: ProtocolId.ESP, spis: this.doomed.map((c) => u32Bytes(c.spiIn)) });
      for (const c of this.doomed) removeChild(this.ctx, sa, c, 'deleted by peer');
      return 'done';
    }
    const child = sa.children.find((c) => c.id === this.childId);
    if (!child) return 'done';
    this.doomed = [child];
    msg.add({ type: PayloadType.DELETE, protocolId: ProtocolId.ESP, spis: [u32Bytes(child.spiIn)] });
    this.ctx.log('info', `deleting CHILD_SA ${child.config.name} (in ${child.spiIn.toString(16)}, out ${child.spiOut.toString(16)})`, sa);
    return 'done';
  }

  process(msg: InMessage): TaskStatus {
    const sa = this.sa;
    const deletes = msg.all(PayloadType.DELETE);
    if (msg.isResponse) {
      for (const c of this.doomed) removeChild(this.ctx, sa, c, 'deleted');
      this.doomed = [];
      return 'done';
    }
    // A DELETE of the IKE SA takes its children with it; nothing to answer for them.
    if (deletes.some((d) => d.protocolId === ProtocolId.IKE)) return 'done';
    for (const d of deletes) {
      if (d.protocolId !== ProtocolId.ESP) continue;
      for (const spi of d.spis) {
        if (spi.length !== 4) continue;
        const out = readU32(spi, 0);
        const child = sa.children.find((c) => c.spiOut === out);
        if (child && !this.doomed.includes(child)) this.doomed.push(child);
      }
    }
    return 'done';
  }
}
