// Task ike-delete: closing the IKE SA with an INFORMATIONAL DELETE (RFC 7296 §1.4.1, §3.11).
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
  ) {}

  build(msg: OutMessage): TaskStatus {
    if (msg.isResponse) return 'done'; // §1.4.1: the answer to an IKE DELETE is empty
    msg.add({ type: PayloadType.DELETE, protocolId: ProtocolId.IKE, spis: [] });
    this.sa.state = 'deleting';
    this.ctx.log('info', `deleting IKE_SA with ${this.sa.remote.addr}`, this.sa);
    return 'done';
  }

  process(msg: InMessage): TaskStatus {
    if (msg.isResponse) {
      // Our DELETE was answered: whatever the response holds, the SA is gone on both sides.
      this.ctx.destroySa(this.sa, 'deleted');
      return 'done';
    }
    this.peerDeletes = msg.all(PayloadType.DELETE).some((d) => d.protocolId === ProtocolId.IKE);
    return 'done';
  }

  afterResponse(): void {
    if (this.peerDeletes) this.ctx.destroySa(this.sa, 'deleted by peer');
  }
}
