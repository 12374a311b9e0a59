// Exchange collisions on one IKE SA (RFC 7296 §2.25): when a request must be answered with TEMPORARY_FAILURE.
import type { IkeSa } from './ike-sa.ts';

/** Task names whose exchange creates, rekeys or deletes a CHILD_SA (§2.25.2 forbids an IKE rekey meanwhile). */
const CHILD_OPERATIONS = new Set(['child-create', 'child-rekey', 'child-delete']);

/**
 * Why a new or rekeyed CHILD_SA cannot be created on this IKE SA right now, or null. While the IKE SA is
 * rekeyed or deleted (by either side) strongSwan answers TEMPORARY_FAILURE, and so do we: the CHILD_SA will be
 * created on the new IKE SA, or is gone with the old one.
 */
export function ikeBusy(sa: IkeSa): string | null {
  if (sa.state === 'deleting') return 'the IKE_SA is being deleted';
  if (sa.state === 'rekeyed') return 'the IKE_SA was rekeyed';
  if (sa.state !== 'established') return 'the IKE_SA is not established';
  if (sa.tm.activeTasks.some((t) => t.name === 'ike-rekey')) return 'we are rekeying the IKE_SA';
  return null;
}

/** §2.25.2: why the peer may not rekey the IKE SA right now, or null. */
export function ikeRekeyBlocked(sa: IkeSa): string | null {
  if (sa.state === 'deleting') return 'the IKE_SA is being deleted';
  if (sa.state === 'rekeyed') return 'the IKE_SA was rekeyed already';
  if (sa.state !== 'established') return 'the IKE_SA is not established';
  if (sa.tm.activeTasks.some((t) => CHILD_OPERATIONS.has(t.name))) return 'a CHILD_SA exchange of ours is in progress';
  return null;
}
