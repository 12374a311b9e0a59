// Installing and removing a CHILD_SA in the data plane (RFC 7296 §2.17 keys, RFC 4301 policies, RFC 3948 encapsulation).
import { EsnId, IntegId, TransformType } from './constants.ts';
import type { ChildConfig } from '../config/types.ts';
import type { Proposal, TrafficSelector } from './codec/types.ts';
import type { PolicyParams, SaParams } from '../dataplane/types.ts';
import { deriveChildKeys } from '../crypto/ikev2-keys.ts';
import type { EngineContext } from './context.ts';
import type { IkeSa } from './ike-sa.ts';
import type { ChildSa } from './child-sa.ts';
import { transformOf } from './conn-proposals.ts';
import { proposalToString } from './proposal.ts';
import { tsToRange, tsToString } from './ts.ts';
import { formatIp } from './ip.ts';

export interface NewChild {
  config: ChildConfig;
  spiIn: number;
  spiOut: number;
  proposal: Proposal;
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[];
}

/** Derive KEYMAT, emit dp.addSa (in, out) and dp.addPolicy (out, in, fwd per selector pair), then child.up. */
export function installChild(ctx: EngineContext, sa: IkeSa, c: NewChild): ChildSa {
  const encr = transformOf(c.proposal, TransformType.ENCR);
  if (!encr || !sa.keys) throw new Error('CHILD_SA without ENCR or IKE keys');
  const integId = transformOf(c.proposal, TransformType.INTEG)?.id ?? IntegId.NONE;
  const esn = transformOf(c.proposal, TransformType.ESN)?.id === EsnId.ESN;
  const keys = deriveChildKeys(ctx.crypto, {
    prfId: sa.prfId,
    skD: sa.keys.skD,
    nonceI: sa.nonceI,
    nonceR: sa.nonceR,
    encrId: encr.id,
    encrKeyBits: encr.keyLength,
    integId,
  });
  const child: ChildSa = {
    id: ctx.newChildId(sa),
    config: c.config,
    spiIn: c.spiIn,
    spiOut: c.spiOut,
    encrId: encr.id,
    encrKeyBits: encr.keyLength,
    integId,
    esn,
    proposal: proposalToString(c.proposal),
    localTs: c.localTs,
    remoteTs: c.remoteTs,
    keys,
    encap: sa.encap,
    policies: [],
    createdMs: ctx.nowMs,
  };
  // I keys protect initiator→responder traffic: our inbound SA uses them when we are the responder.
  const inKeys = sa.initiator ? { enc: keys.encR, integ: keys.integR } : { enc: keys.encI, integ: keys.integI };
  const outKeys = sa.initiator ? { enc: keys.encI, integ: keys.integI } : { enc: keys.encR, integ: keys.integR };
  const local = sa.local;
  const remote = sa.remote;
  const common = {
    childId: child.id,
    encrId: encr.id,
    encrKeyBits: encr.keyLength,
    integId,
    esn,
    lifetime: { softSec: c.config.rekeySec, hardSec: c.config.lifetimeSec },
    localTs: c.localTs.map(tsToRange),
    remoteTs: c.remoteTs.map(tsToRange),
  };
  const inbound: SaParams = {
    ...common,
    direction: 'in',
    spi: c.spiIn,
    src: remote.addr,
    dst: local.addr,
    encKey: inKeys.enc,
    integKey: inKeys.integ,
    replayWindow: c.config.replayWindow,
    ...(child.encap ? { encap: { srcPort: remote.port, dstPort: local.port } } : {}),
  };
  const outbound: SaParams = {
    ...common,
    direction: 'out',
    spi: c.spiOut,
    src: local.addr,
    dst: remote.addr,
    encKey: outKeys.enc,
    integKey: outKeys.integ,
    replayWindow: 0,
    ...(child.encap ? { encap: { srcPort: local.port, dstPort: remote.port } } : {}),
  };
  ctx.effect({ type: 'dp.addSa', sa: inbound });
  ctx.effect({ type: 'dp.addSa', sa: outbound });
  for (const l of c.localTs) {
    for (const r of c.remoteTs) {
      if (l.tsType !== r.tsType) continue;
      const base = { childId: child.id, localTs: tsToRange(l), remoteTs: tsToRange(r) };
      const policies: PolicyParams[] = [
        { ...base, direction: 'out', outerSrc: local.addr, outerDst: remote.addr, spi: c.spiOut },
        { ...base, direction: 'in', outerSrc: remote.addr, outerDst: local.addr, spi: c.spiIn },
        { ...base, direction: 'fwd', outerSrc: remote.addr, outerDst: local.addr, spi: c.spiIn },
      ];
      for (const policy of policies) ctx.effect({ type: 'dp.addPolicy', policy });
      child.policies.push(...policies);
    }
  }
  sa.children.push(child);
  const vips = (sa.initiator ? sa.localVips : sa.peerVips).map(formatIp);
  ctx.event({
    type: 'child.up',
    ikeId: sa.id,
    childId: child.id,
    conn: sa.conn.name,
    child: c.config.name,
    spiIn: c.spiIn,
    spiOut: c.spiOut,
    localTs: c.localTs.map(tsToString),
    remoteTs: c.remoteTs.map(tsToString),
    proposal: child.proposal,
    ...(vips.length > 0 ? { virtualIp: vips } : {}),
  });
  ctx.log('info', `CHILD_SA ${c.config.name} up: ${c.localTs.map(tsToString).join(',')} === ${c.remoteTs.map(tsToString).join(',')} (${child.proposal})`, sa);
  return child;
}

/** Remove from the data plane and the SA; child.down. */
export function removeChild(ctx: EngineContext, sa: IkeSa, child: ChildSa, reason: string): void {
  const i = sa.children.indexOf(child);
  if (i < 0) return;
  sa.children.splice(i, 1);
  for (const policy of child.policies) ctx.effect({ type: 'dp.delPolicy', policy });
  ctx.effect({ type: 'dp.delSa', spi: child.spiIn, direction: 'in', childId: child.id });
  ctx.effect({ type: 'dp.delSa', spi: child.spiOut, direction: 'out', childId: child.id });
  ctx.releaseInboundSpi(child.spiIn);
  ctx.event({ type: 'child.down', ikeId: sa.id, childId: child.id, reason });
}
