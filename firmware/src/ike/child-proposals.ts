// ESP proposal choice for CREATE_CHILD_SA with optional PFS (RFC 7296 §1.3.1, §3.3.3 "DH = NONE"), shared by both roles.
import { DhId, TransformType } from './constants.ts';
import type { ChildConfig } from '../config/types.ts';
import type { Proposal } from './codec/types.ts';
import type { EngineContext } from './context.ts';
import type { IkeSa } from './ike-sa.ts';
import { dhGroupsOf, espProposalsOf, ikeProposalsOf, promoteGroup } from './conn-proposals.ts';
import { selectProposal } from './proposal.ts';

function hasDh(p: Proposal): boolean {
  return p.transforms.some((t) => t.type === TransformType.DH && t.id !== DhId.NONE);
}

/**
 * Responder choice for CREATE_CHILD_SA. Our configured proposals first (a group we list is required unless
 * `modpnone` is listed too). A child configured without any group does not demand PFS, so it also accepts a
 * peer that insists on PFS (strongSwan with a group in esp_proposals), with a group this connection already
 * allows for IKE; peers without PFS (macOS, Android) match the plain proposals. The group the peer sent a KE for
 * is preferred, saving an INVALID_KE_PAYLOAD round trip.
 */
export function selectChildProposal(ctx: EngineContext, sa: IkeSa, child: ChildConfig, offered: Proposal[], keGroup: number | undefined): Proposal | null {
  const local = espProposalsOf(child);
  const promote = (ps: Proposal[]) => (keGroup ? ps.map((p) => promoteGroup(p, keGroup)) : ps);
  const opts = { kind: 'esp' as const, legacy: sa.conn.legacy };
  const chosen = selectProposal(promote(local), promote(offered), opts);
  if (chosen || local.some(hasDh)) return chosen;
  const groups = dhGroupsOf(ikeProposalsOf(sa.conn)).filter((g) => ctx.crypto.supportsGroup(g));
  if (groups.length === 0) return null;
  const ordered = keGroup !== undefined && groups.includes(keGroup) ? [keGroup, ...groups.filter((g) => g !== keGroup)] : groups;
  const widened = local.map((p) => ({
    ...p,
    transforms: [...p.transforms, ...ordered.map((id) => ({ type: TransformType.DH, id })), { type: TransformType.DH, id: DhId.NONE }],
  }));
  return selectProposal(widened, promote(offered), opts);
}

/** Initiator: the groups our child proposals allow, in order (empty: we do not ask for PFS). */
export function childGroups(child: ChildConfig): number[] {
  return dhGroupsOf(espProposalsOf(child));
}

/** Initiator: our proposals with `group` moved first among the groups, so the responder picks what our KE carries. */
export function childProposalsFor(child: ChildConfig, group: number): Proposal[] {
  const ps = espProposalsOf(child);
  return group ? ps.map((p) => promoteGroup(p, group)) : ps;
}
