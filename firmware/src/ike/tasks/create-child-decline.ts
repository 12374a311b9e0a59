// Task create-child-decline: CREATE_CHILD_SA is not supported yet; refuse it without harming the IKE SA (RFC 7296 §1.3, §3.10.1 NO_ADDITIONAL_SAS).
import { Notify } from '../constants.ts';
import type { EngineContext } from '../context.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { InMessage, OutMessage } from '../message.ts';
import type { Task, TaskStatus } from '../task.ts';

export class CreateChildDecline implements Task {
  readonly name = 'create-child-decline';

  constructor(
    private readonly sa: IkeSa,
    private readonly ctx: EngineContext,
  ) {}

  build(msg: OutMessage): TaskStatus {
    msg.notify(Notify.NO_ADDITIONAL_SAS);
    return 'done';
  }

  process(_msg: InMessage): TaskStatus {
    this.ctx.log('info', 'CREATE_CHILD_SA refused with NO_ADDITIONAL_SAS (rekeying is not implemented yet)', this.sa);
    return 'done';
  }
}
