// The task contract (strongSwan libcharon style, ARCHITECTURE.md §2): one operation, two halves per role.
import type { InMessage, OutMessage } from './message.ts';

/** A fatal failure of the IKE SA: the responder answers with `notify` only, then the SA is destroyed. */
export interface TaskFailure {
  fail: string; // one line, for the log and the ike.failed event
  notify?: number;
  notifyData?: Uint8Array;
  /** Initiator: tell the peer in a separate INFORMATIONAL (§2.21.2), e.g. AUTHENTICATION_FAILED. */
  informPeer?: boolean;
  /** No ike.failed event: the attempt did not fail, it moved on (a REDIRECT at IKE_SA_INIT, RFC 5685). */
  quiet?: boolean;
}

/**
 * done: this task is finished for this exchange. retry (initiator, IKE_SA_INIT only): send the exchange again
 * (COOKIE, INVALID_KE_PAYLOAD). pending: the task waits for the runtime (`command({type:'resume', ref})`):
 * the exchange is paused, retransmits of the request are ignored, and `resume` continues it. skip (initiator
 * build only): nothing to do any more (e.g. the CHILD_SA to rekey is gone); the exchange is not sent.
 */
export type TaskStatus = 'done' | 'retry' | 'skip' | { pending: string } | TaskFailure;

export interface Task {
  readonly name: string;
  /** Initiator: add to the request. Responder: add to the response (after every task processed the request). */
  build(msg: OutMessage): TaskStatus;
  /** Initiator: read the response. Responder: read the request. */
  process(msg: InMessage): TaskStatus;
  /** The runtime answered the request this task paused on. */
  resume?(ref: string, result: unknown): TaskStatus;
  /** Responder: the response went out (e.g. a deleted IKE SA may now go away). */
  afterResponse?(): void;
}

export function isFailure(s: TaskStatus): s is TaskFailure {
  return typeof s === 'object' && 'fail' in s;
}

export function isPending(s: TaskStatus): s is { pending: string } {
  return typeof s === 'object' && 'pending' in s;
}
