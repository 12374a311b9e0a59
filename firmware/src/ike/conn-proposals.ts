// A connection's configured proposals as SA payload proposals (RFC 7296 §3.3), parsed once per config object.
import type { ChildConfig, ConnectionConfig } from '../config/types.ts';
import type { Proposal } from './codec/types.ts';
import { TransformType } from './constants.ts';
import { parseProposals } from './proposal.ts';

const ikeCache = new WeakMap<ConnectionConfig, Proposal[]>();
const espCache = new WeakMap<ChildConfig, Proposal[]>();

function parseAll(specs: readonly string[], kind: 'ike' | 'esp'): Proposal[] {
  const out: Proposal[] = [];
  for (const spec of specs) {
    const r = parseProposals(spec, kind);
    if (r.ok) for (const p of r.value) out.push({ ...p, num: out.length + 1 });
  }
  return out;
}

/** Numbered 1..n in config order; unparsable entries are skipped (config validation reports them). */
export function ikeProposalsOf(conn: ConnectionConfig): Proposal[] {
  let p = ikeCache.get(conn);
  if (!p) ikeCache.set(conn, (p = parseAll(conn.ikeProposals, 'ike')));
  return p;
}

export function espProposalsOf(child: ChildConfig): Proposal[] {
  let p = espCache.get(child);
  if (!p) espCache.set(child, (p = parseAll(child.espProposals, 'esp')));
  return p;
}

/** The groups a connection allows, in preference order. */
export function dhGroupsOf(proposals: readonly Proposal[]): number[] {
  const out: number[] = [];
  for (const p of proposals) for (const t of p.transforms) if (t.type === TransformType.DH && t.id !== 0 && !out.includes(t.id)) out.push(t.id);
  return out;
}

/** A copy with `group` first among the DH transforms, so selection prefers the group the peer sent a KE for. */
export function promoteGroup(p: Proposal, group: number): Proposal {
  const dh = p.transforms.filter((t) => t.type === TransformType.DH);
  const i = dh.findIndex((t) => t.id === group);
  if (i <= 0) return p;
  const promoted = [dh[i]!, ...dh.filter((_, j) => j !== i)];
  let k = 0;
  return { ...p, transforms: p.transforms.map((t) => (t.type === TransformType.DH ? promoted[k++]! : t)) };
}

/** The proposal without DH transforms (the IKE_AUTH CHILD_SA has no KE, RFC 7296 §1.2). */
export function withoutDh(p: Proposal): Proposal {
  return { ...p, transforms: p.transforms.filter((t) => t.type !== TransformType.DH) };
}

export function transformOf(p: Proposal, type: number): { id: number; keyLength?: number } | undefined {
  return p.transforms.find((t) => t.type === type);
}
