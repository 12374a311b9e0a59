// Task informational: empty INFORMATIONAL (liveness, §1.4) and the notifies we only need to acknowledge (§2.21.2).
import { describeIdentity } from '../identity.ts';
import { Notify } from '../constants.ts';
import type { EngineContext } from '../context.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { InMessage, OutMessage } from '../message.ts';
import { notifyName } from '../message.ts';
import type { Task, TaskStatus } from '../task.ts';

export class Informational implements Task {
  readonly name = 'informational';
  private peerRejectedUs = false;

  constructor(
    private readonly sa: IkeSa,
    private readonly ctx: EngineContext,
  ) {}

  build(_msg: OutMessage): TaskStatus {
    return 'done';
  }

  process(msg: InMessage): TaskStatus {
    if (msg.isResponse) return 'done';
    for (const n of msg.notifies()) this.ctx.log('debug', `INFORMATIONAL notify ${notifyName(n.notifyType)} acknowledged`, this.sa);
    // §2.21.2: an initiator that rejects our AUTH says so in an INFORMATIONAL; the SA is then dead.
    if (msg.notify(Notify.AUTHENTICATION_FAILED)) {
      this.peerRejectedUs = true;
      this.ctx.log('warn', `auth failed: rejected by the initiator ${this.sa.remote.addr} (AUTHENTICATION_FAILED)`, this.sa);
      const remoteId = this.sa.remoteId ? { remoteId: describeIdentity(this.sa.remoteId) } : {};
      this.ctx.event({ type: 'auth.failed', ikeId: this.sa.id, conn: this.sa.conn.name, remote: { ...this.sa.remote }, reason: 'rejected by the initiator', ...remoteId });
    }
    return 'done';
  }

  afterResponse(): void {
    if (this.peerRejectedUs) this.ctx.destroySa(this.sa, 'peer rejected our authentication', { notify: Notify.AUTHENTICATION_FAILED });
  }
}
