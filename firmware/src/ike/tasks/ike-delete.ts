// Task ike-delete: closing the IKE SA with an INFORMATIONAL DELETE (RFC 7296 §1.4.1, §2.18 old SA of a rekey, §2.25.2, §3.11).
import { PayloadType, ProtocolId } from '../constants.ts';
import type { EngineContext } from '../context.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { InMessage, OutMessage } from '../message.ts';
import type { Task, TaskStatus } from '../task.ts';

export class IkeDelete implements Task {
  readonly name = 'ike-delete';
  private peerDeletes = false;

  constructor(
    private readonly sa: IkeSa,
    private readonly ctx: EngineContext,
    private readonly reason?: string,
  ) {}

  build(msg: OutMessage): TaskStatus {
    if (msg.isResponse) return 'done'; // §1.4.1: the answer to an IKE DELETE is empty
    if (this.sa.state === 'deleting') return 'skip';
    msg.add({ type: PayloadType.DELETE, protocolId: ProtocolId.IKE, spis: [] });
    this.sa.state = 'deleting';
    this.ctx.log('info', `deleting IKE_SA with ${this.sa.remote.addr}${this.reason ? `: ${this.reason}` : ''}`, this.sa);
    return 'done';
  }

  process(msg: InMessage): TaskStatus {
    if (msg.isResponse) {
      // Our DELETE was answered: whatever the response holds, the SA is gone on both sides.
      this.ctx.destroySa(this.sa, this.reason ?? (this.sa.successor ? 'rekeyed' : 'deleted'));
      return 'done';
    }
    this.peerDeletes = msg.all(PayloadType.DELETE).some((d) => d.protocolId === ProtocolId.IKE);
    return 'done';
  }

  afterResponse(): void {
    if (!this.peerDeletes) return;
    const sa = this.sa;
    // §2.8.2: the peer won an IKE rekey collision and deletes the old SA before our response arrived: the SA
    // it created (and we answered) takes the children.
    const passive = sa.passiveRekey?.newSa;
    if (passive && !passive.destroyed && !sa.successor) this.ctx.adoptInto(sa, passive);
    this.ctx.destroySa(sa, sa.successor ? 'rekeyed' : 'deleted by peer');
  }
}
