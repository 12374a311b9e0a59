// What a new gateway config changes against the one in force, and whether it can be applied without a restart (like swanctl --load-all).
import type { GatewayConfig } from '../config/types.ts';

export interface ApplyPlan {
  /** Human-readable, one line per change: `connection rw: changed (psk, children)`. */
  changes: string[];
  /** Changes only a new gateway can take (sockets, data-plane backend): each says why. */
  restartReasons: string[];
  /** Connection names whose SAs a reload must not touch. */
  unaffected: string[];
  /** Connection names added, removed or changed. */
  affected: string[];
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i]));
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

/** The keys whose values differ (a connection's `psk` is named, never shown). */
const changedKeys = (a: object, b: object): string[] =>
  [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])).sort();

function diffNamed<T extends { name: string }>(kind: string, before: readonly T[], after: readonly T[], out: string[]): { added: string[]; removed: string[]; changed: string[]; same: string[] } {
  const old = new Map(before.map((x) => [x.name, x]));
  const neu = new Map(after.map((x) => [x.name, x]));
  const r = { added: [] as string[], removed: [] as string[], changed: [] as string[], same: [] as string[] };
  for (const [n, x] of neu) {
    const o = old.get(n);
    if (!o) {
      r.added.push(n);
      out.push(`${kind} ${n}: added`);
    } else if (!equal(o, x)) {
      r.changed.push(n);
      out.push(`${kind} ${n}: changed (${changedKeys(o, x).join(', ')})`);
    } else r.same.push(n);
  }
  for (const n of old.keys()) {
    if (!neu.has(n)) {
      r.removed.push(n);
      out.push(`${kind} ${n}: removed`);
    }
  }
  return r;
}

export function planApply(before: GatewayConfig, after: GatewayConfig): ApplyPlan {
  const changes: string[] = [];
  const restartReasons: string[] = [];
  if (!equal(before.listen, after.listen)) {
    changes.push('listen: changed');
    restartReasons.push('listen addresses/ports changed (sockets must be reopened)');
  }
  if (!equal(before.dataplane, after.dataplane)) {
    changes.push('dataplane: changed');
    restartReasons.push('data-plane backend or offload changed');
  }
  for (const k of ['log', 'cookieThreshold', 'halfOpenPerSource', 'retransmit'] as const) {
    if (!equal(before[k], after[k])) changes.push(`${k}: changed`);
  }
  const pools = diffNamed('pool', before.pools, after.pools, changes);
  // The data plane routes pools into its TUN device when it starts, so new or changed pools need a restart.
  if (pools.added.length > 0 || pools.changed.length > 0) restartReasons.push('virtual-IP pools added or changed (data-plane routes are set at start)');
  const cas = diffNamed('ca', before.cas, after.cas, changes);
  const conns = diffNamed('connection', before.connections, after.connections, changes);
  // A connection that uses a changed or removed pool or CA is affected even when its own settings are not.
  const touchedPools = new Set([...pools.changed, ...pools.removed]);
  const touchedCas = new Set([...cas.changed, ...cas.removed]);
  const anyCaTouched = touchedCas.size > 0 || cas.added.length > 0;
  const indirectly = after.connections
    .filter((c) => conns.same.includes(c.name))
    .filter((c) => c.pools.some((p) => touchedPools.has(p)) || (c.remote.auth === 'pubkey' && (c.remote.cas.length === 0 ? anyCaTouched : c.remote.cas.some((n) => touchedCas.has(n)))))
    .map((c) => c.name);
  for (const n of indirectly) changes.push(`connection ${n}: affected by a changed pool or CA`);
  const affected = [...conns.added, ...conns.removed, ...conns.changed, ...indirectly];
  // The runtime pins an initiator without local_addrs to the kernel's source address only at start.
  const pinned = after.connections.filter((c) => (conns.added.includes(c.name) || conns.changed.includes(c.name)) && c.remoteAddrs.length > 0 && c.localAddrs.length === 0);
  if (pinned.length > 0) restartReasons.push(`initiating connection(s) ${pinned.map((c) => c.name).join(', ')} without local_addrs (source address is resolved at start)`);
  return { changes, restartReasons, affected, unaffected: conns.same.filter((n) => !indirectly.includes(n)) };
}
