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
    state: sa.state === 'destroyed' || sa.state === 'rekeyed' ? 'deleting' : sa.state,
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
    // The client's addresses: ours when we asked for them, else the ones we assigned (roles may swap in a rekey).
    virtualIps: (sa.localVips.length > 0 ? sa.localVips : sa.peerVips).map(formatIp),
    createdMs: sa.createdMs,
    establishedMs: sa.establishedMs,
    ...finite('rekeyAtMs', sa.rekeyQueued ? Infinity : sa.rekeyAtMs),
    ...finite('expireAtMs', sa.expireAtMs),
    ...(sa.mobike ? { mobike: { peerAddresses: [...sa.peerAddresses] } } : {}),
    ...(sa.redirectedFrom ? { redirectedFrom: sa.redirectedFrom } : {}),
    children: sa.children.filter((c) => c.announced).map((c) => ({
      childId: c.id,
      name: c.config.name,
      spiIn: c.spiIn,
      spiOut: c.spiOut,
      proposal: c.proposal,
      localTs: c.localTs.map(tsToString),
      remoteTs: c.remoteTs.map(tsToString),
      encap: c.encap,
      createdMs: c.createdMs,
      state: c.state,
      ...finite('rekeyAtMs', c.state === 'installed' && !c.rekeyQueued ? c.rekeyAtMs : Infinity),
      ...finite('expireAtMs', c.expireAtMs),
    })),
  };
}

function finite<K extends string>(key: K, v: number): { [P in K]?: number } {
  return (Number.isFinite(v) ? { [key]: v } : {}) as { [P in K]?: number };
}
