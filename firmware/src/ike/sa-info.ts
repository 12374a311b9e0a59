// The secret-free listing of an IKE SA and its CHILD_SAs (control API list-sas, ARCHITECTURE.md §8).
import type { IkeSaInfo } from './io.ts';
import type { IkeSa } from './ike-sa.ts';
import { describeIdentity } from './identity.ts';
import { formatIp } from './ip.ts';
import { hex } from './bytes.ts';
import { tsToString } from './ts.ts';

export function toIkeSaInfo(sa: IkeSa): IkeSaInfo {
  return {
    ikeId: sa.id,
    conn: sa.conn.name,
    state: sa.state === 'destroyed' ? 'deleting' : sa.state,
    initiator: sa.initiator,
    spiI: hex(sa.spiI),
    spiR: hex(sa.spiR),
    local: { ...sa.local },
    remote: { ...sa.remote },
    ...(sa.localId ? { localId: describeIdentity(sa.localId) } : {}),
    ...(sa.remoteId ? { remoteId: describeIdentity(sa.remoteId) } : {}),
    proposal: sa.proposalText,
    natLocal: sa.natLocal,
    natRemote: sa.natRemote,
    virtualIps: (sa.initiator ? sa.localVips : sa.peerVips).map(formatIp),
    createdMs: sa.createdMs,
    establishedMs: sa.establishedMs,
    children: sa.children.map((c) => ({
      childId: c.id,
      name: c.config.name,
      spiIn: c.spiIn,
      spiOut: c.spiOut,
      proposal: c.proposal,
      localTs: c.localTs.map(tsToString),
      remoteTs: c.remoteTs.map(tsToString),
      encap: c.encap,
      createdMs: c.createdMs,
    })),
  };
}
