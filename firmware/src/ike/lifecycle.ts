// Lifetimes of an IKE SA and its CHILD_SAs (RFC 7296 §2.8, §2.18; RFC 4478 reauthentication): when each is due, and what then.
/*
 * Soft lifetimes (with jitter, set at creation) start a rekey (or, with `ikeReauth` on an initiating
 * connection, a reauthentication); hard lifetimes delete. A replaced SA that its peer should have deleted, or a
 * spare IKE SA from a rekey collision, is deleted by us at `rekeyedDeadlineMs`. The data plane's own expire
 * events arrive as `dp.expire` commands and end up in the same operations (engine.ts).
 */
import type { EngineContext } from './context.ts';
import type { IkeSa } from './ike-sa.ts';
import type { ChildSa } from './child-sa.ts';
import { hexSpi } from './child-install.ts';

/** The earliest lifecycle deadline of the SA (Infinity: none). */
export function lifecycleDue(sa: IkeSa): number {
  if (sa.destroyed) return Infinity;
  if (sa.state === 'rekeyed' || (sa.fromRekey && !sa.upAnnounced)) return sa.rekeyedDeadlineMs;
  if (!sa.established) return Infinity;
  let next = Math.min(sa.expireAtMs, sa.redirectDeadlineMs, sa.rekeyQueued ? Infinity : sa.rekeyAtMs);
  for (const c of sa.children) next = Math.min(next, childDue(c));
  return next;
}

function childDue(c: ChildSa): number {
  if (c.state === 'deleting' || !c.announced) return Infinity;
  return Math.min(c.expireAtMs, c.state === 'installed' && !c.rekeyQueued ? c.rekeyAtMs : Infinity);
}

/** Run what is due at `now`. `reauth` starts a make-before-break reauthentication of `sa`. */
export function runLifecycle(ctx: EngineContext, sa: IkeSa, now: number, reauth: (sa: IkeSa) => void): void {
  if (sa.destroyed) return;
  if (sa.state === 'rekeyed' || (sa.fromRekey && !sa.upAnnounced)) {
    if (now < sa.rekeyedDeadlineMs) return;
    sa.rekeyedDeadlineMs = Infinity;
    if (sa.state === 'rekeyed') {
      ctx.log('info', `the peer did not delete the rekeyed IKE_SA, deleting it`, sa);
      sa.tm.initiate({ op: 'delete-ike', reason: 'rekeyed' });
    } else {
      ctx.destroySa(sa, 'unused IKE_SA of a rekey collision');
    }
    return;
  }
  if (!sa.established) return;
  if (now >= sa.redirectDeadlineMs) {
    // RFC 5685 §5: a redirected client deletes its old SA; this one did not.
    sa.redirectDeadlineMs = Infinity;
    ctx.log('info', `the redirected peer did not delete its IKE_SA, deleting it`, sa);
    sa.tm.initiate({ op: 'delete-ike', reason: 'redirected' });
    return;
  }
  if (now >= sa.expireAtMs) {
    sa.expireAtMs = Infinity;
    ctx.log('info', `IKE_SA ${sa.conn.name} reached its lifetime of ${sa.conn.ikeLifetimeSec} s`, sa);
    sa.tm.initiate({ op: 'delete-ike', reason: 'IKE lifetime expired' });
    return;
  }
  if (now >= sa.rekeyAtMs && !sa.rekeyQueued) {
    sa.rekeyAtMs = Infinity;
    if (sa.conn.ikeReauth && sa.canInitiate) {
      reauth(sa);
    } else {
      sa.rekeyQueued = true;
      sa.tm.initiate({ op: 'rekey-ike' });
    }
  }
  for (const c of [...sa.children]) {
    if (c.state === 'deleting' || !c.announced) continue;
    if (now >= c.expireAtMs) {
      c.expireAtMs = Infinity;
      const rekeyed = c.state === 'rekeyed';
      if (!rekeyed) ctx.log('info', `CHILD_SA ${c.config.name} (${hexSpi(c.spiIn)}) reached its lifetime of ${c.config.lifetimeSec} s`, sa);
      sa.tm.initiate({ op: 'delete-child', childId: c.id, reason: rekeyed ? 'rekeyed' : 'lifetime expired' });
    } else if (c.state === 'installed' && !c.rekeyQueued && now >= c.rekeyAtMs) {
      c.rekeyAtMs = Infinity;
      c.rekeyQueued = true;
      sa.tm.initiate({ op: 'rekey-child', childId: c.id });
    }
  }
}
