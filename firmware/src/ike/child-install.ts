// Installing, switching and removing CHILD_SAs in the data plane (RFC 7296 §2.17 keys, §2.8 make-before-break, RFC 4301 policies, RFC 3948).
/*
 * A CHILD_SA enters the data plane in two halves: inbound (SA + in/fwd policies) and outbound (SA + out policy).
 * A new SA is installed whole; a rekey installs the new inbound half first (the peer may use it as soon as it has
 * the response), switches the outbound half once both sides have it, and removes the old pair last, so no
 * packet meets a missing SA. Policies of the old and the new SA coexist for that moment; they carry different
 * childIds and SPIs, the selectors stay the same.
 */
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

/** The soft lifetime comes up to this fraction earlier, so both ends rarely rekey at the same moment (§2.8.1). */
export const REKEY_JITTER = 0.1;

export interface NewChild {
  config: ChildConfig;
  spiIn: number;
  spiOut: number;
  proposal: Proposal;
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[];
  /** CREATE_CHILD_SA: its own nonces and, with PFS, g^ir. Absent in IKE_AUTH, which uses the IKE SA's nonces (§2.17). */
  nonceI?: Uint8Array;
  nonceR?: Uint8Array;
  sharedSecret?: Uint8Array;
  /** Whether we initiated the creating exchange (decides which KEYMAT half is ours); default: our IKE SA role. */
  weInitiated?: boolean;
}

/**
 * Why the SPI a peer chose for our outbound ESP cannot be used, or null: RFC 4303 §2.1 reserves 0..255, and one
 * that an SA of ours toward the same address already uses would make the outbound SAD ambiguous (the data plane
 * refuses the second; strongSwan's kernel interface does too).
 */
export function outboundSpiProblem(ctx: EngineContext, sa: IkeSa, spi: number): string | null {
  if (spi >>> 0 < 0x100) return `reserved SPI ${hexSpi(spi)}`;
  for (const s of [sa, ...ctx.otherSas(sa)]) {
    if (s.remote.addr === sa.remote.addr && s.children.some((c) => c.spiOut >>> 0 === spi >>> 0)) return `SPI ${hexSpi(spi)} is already in use toward ${sa.remote.addr}`;
  }
  return null;
}

/** Soft lifetime with up to REKEY_JITTER earlier at random; Infinity when the value is 0 (off). */
export function softDeadline(ctx: EngineContext, sec: number): number {
  if (sec <= 0) return Infinity;
  const ms = sec * 1000;
  return ctx.nowMs + ms - ctx.randomInt(Math.floor(ms * REKEY_JITTER) + 1);
}

export function hardDeadline(ctx: EngineContext, sec: number): number {
  return sec > 0 ? ctx.nowMs + sec * 1000 : Infinity;
}

/** Derive KEYMAT and build the CHILD_SA record (not installed, not attached to the IKE SA yet). */
export function createChild(ctx: EngineContext, sa: IkeSa, c: NewChild): ChildSa {
  const encr = transformOf(c.proposal, TransformType.ENCR);
  if (!encr || !sa.keys) throw new Error('CHILD_SA without ENCR or IKE keys');
  const integId = transformOf(c.proposal, TransformType.INTEG)?.id ?? IntegId.NONE;
  const esn = transformOf(c.proposal, TransformType.ESN)?.id === EsnId.ESN;
  const keys = deriveChildKeys(ctx.crypto, {
    prfId: sa.prfId,
    skD: sa.keys.skD,
    nonceI: c.nonceI ?? sa.nonceI,
    nonceR: c.nonceR ?? sa.nonceR,
    ...(c.sharedSecret ? { sharedSecret: c.sharedSecret } : {}),
    encrId: encr.id,
    encrKeyBits: encr.keyLength,
    integId,
  });
  return {
    id: ctx.newChildId(sa),
    config: c.config,
    spiIn: c.spiIn,
    spiOut: c.spiOut,
    encrId: encr.id,
    encrKeyBits: encr.keyLength,
    integId,
    esn,
    dhGroup: transformOf(c.proposal, TransformType.DH)?.id ?? 0,
    proposal: proposalToString(c.proposal),
    localTs: c.localTs,
    remoteTs: c.remoteTs,
    keys,
    weInitiated: c.weInitiated ?? sa.initiator,
    encap: sa.encap,
    policies: [],
    inInstalled: false,
    outInstalled: false,
    announced: false,
    state: 'installed',
    replacedBy: null,
    replaces: null,
    rekeyQueued: false,
    createdMs: ctx.nowMs,
    rekeyAtMs: softDeadline(ctx, c.config.rekeySec),
    expireAtMs: hardDeadline(ctx, c.config.lifetimeSec),
  };
}

function saParams(sa: IkeSa, child: ChildSa, direction: 'in' | 'out'): SaParams {
  const k = child.keys;
  // I keys protect initiator→responder traffic of the creating exchange.
  const mine = child.weInitiated ? { enc: k.encI, integ: k.integI } : { enc: k.encR, integ: k.integR };
  const theirs = child.weInitiated ? { enc: k.encR, integ: k.integR } : { enc: k.encI, integ: k.integI };
  const common = {
    childId: child.id,
    encrId: child.encrId,
    encrKeyBits: child.encrKeyBits,
    integId: child.integId,
    esn: child.esn,
    lifetime: {
      softSec: child.config.rekeySec,
      hardSec: child.config.lifetimeSec,
      // Volume limits expire in the data plane, which reports them back as dp.expire (soft → rekey, hard → delete).
      ...(child.config.rekeyBytes !== undefined ? { softBytes: child.config.rekeyBytes } : {}),
      ...(child.config.lifeBytes !== undefined ? { hardBytes: child.config.lifeBytes } : {}),
      ...(child.config.rekeyPackets !== undefined ? { softPackets: child.config.rekeyPackets } : {}),
      ...(child.config.lifePackets !== undefined ? { hardPackets: child.config.lifePackets } : {}),
    },
    localTs: child.localTs.map(tsToRange),
    remoteTs: child.remoteTs.map(tsToRange),
  };
  const { local, remote } = sa;
  if (direction === 'in') {
    return {
      ...common,
      direction: 'in',
      spi: child.spiIn,
      src: remote.addr,
      dst: local.addr,
      encKey: theirs.enc,
      integKey: theirs.integ,
      replayWindow: child.config.replayWindow,
      ...(child.encap ? { encap: { srcPort: remote.port, dstPort: local.port } } : {}),
    };
  }
  return {
    ...common,
    direction: 'out',
    spi: child.spiOut,
    src: local.addr,
    dst: remote.addr,
    encKey: mine.enc,
    integKey: mine.integ,
    replayWindow: 0,
    ...(child.encap ? { encap: { srcPort: local.port, dstPort: remote.port } } : {}),
  };
}

function policiesOf(sa: IkeSa, child: ChildSa, dirs: readonly PolicyParams['direction'][]): PolicyParams[] {
  const out: PolicyParams[] = [];
  for (const l of child.localTs) {
    for (const r of child.remoteTs) {
      if (l.tsType !== r.tsType) continue;
      const base = { childId: child.id, localTs: tsToRange(l), remoteTs: tsToRange(r) };
      for (const direction of dirs) {
        if (direction === 'out') out.push({ ...base, direction, outerSrc: sa.local.addr, outerDst: sa.remote.addr, spi: child.spiOut });
        else out.push({ ...base, direction, outerSrc: sa.remote.addr, outerDst: sa.local.addr, spi: child.spiIn });
      }
    }
  }
  return out;
}

function addPolicies(ctx: EngineContext, child: ChildSa, policies: PolicyParams[]): void {
  for (const policy of policies) ctx.effect({ type: 'dp.addPolicy', policy });
  child.policies.push(...policies);
}

/** Attach a new, fully installed CHILD_SA: dp.addSa (in, out), dp.addPolicy (out, in, fwd per selector pair), child.up. */
export function installChild(ctx: EngineContext, sa: IkeSa, c: NewChild): ChildSa {
  const child = createChild(ctx, sa, c);
  sa.children.push(child);
  ctx.effect({ type: 'dp.addSa', sa: saParams(sa, child, 'in') });
  ctx.effect({ type: 'dp.addSa', sa: saParams(sa, child, 'out') });
  child.inInstalled = child.outInstalled = true;
  addPolicies(ctx, child, policiesOf(sa, child, ['out', 'in', 'fwd']));
  announceChild(ctx, sa, child);
  return child;
}

/** The inbound half: the peer may send with the new SPI from now on. */
export function installInbound(ctx: EngineContext, sa: IkeSa, child: ChildSa): void {
  if (child.inInstalled) return;
  ctx.effect({ type: 'dp.addSa', sa: saParams(sa, child, 'in') });
  child.inInstalled = true;
  addPolicies(ctx, child, policiesOf(sa, child, ['in', 'fwd']));
}

/** The outbound half: our traffic moves to this SA (the out policy of the SA it replaces is withdrawn). */
export function installOutbound(ctx: EngineContext, sa: IkeSa, child: ChildSa): void {
  if (child.outInstalled) return;
  ctx.effect({ type: 'dp.addSa', sa: saParams(sa, child, 'out') });
  child.outInstalled = true;
  addPolicies(ctx, child, policiesOf(sa, child, ['out']));
  const old = child.replaces;
  if (old) withdrawOutPolicies(ctx, old);
}

function withdrawOutPolicies(ctx: EngineContext, child: ChildSa): void {
  const keep: PolicyParams[] = [];
  for (const p of child.policies) {
    if (p.direction === 'out') ctx.effect({ type: 'dp.delPolicy', policy: p });
    else keep.push(p);
  }
  child.policies = keep;
}

export function announceChild(ctx: EngineContext, sa: IkeSa, child: ChildSa): void {
  if (child.announced) return;
  child.announced = true;
  const vips = (sa.localVips.length > 0 ? sa.localVips : sa.peerVips).map(formatIp);
  ctx.event({
    type: 'child.up',
    ikeId: sa.id,
    childId: child.id,
    conn: sa.conn.name,
    child: child.config.name,
    spiIn: child.spiIn,
    spiOut: child.spiOut,
    localTs: child.localTs.map(tsToString),
    remoteTs: child.remoteTs.map(tsToString),
    proposal: child.proposal,
    ...(vips.length > 0 ? { virtualIp: vips } : {}),
  });
  const rekey = child.replaces ? ` replacing ${hexSpi(child.replaces.spiIn)}/${hexSpi(child.replaces.spiOut)}` : '';
  ctx.log(
    'info',
    `CHILD_SA ${child.config.name} up: ${child.localTs.map(tsToString).join(',')} === ${child.remoteTs.map(tsToString).join(',')} (${child.proposal}), SPIs in ${hexSpi(child.spiIn)} out ${hexSpi(child.spiOut)}${rekey}`,
    sa,
    { childId: child.id, spiIn: hexSpi(child.spiIn), spiOut: hexSpi(child.spiOut) },
  );
}

/** Remove from the data plane and the SA (only the halves that were installed); child.down if it was announced. */
export function removeChild(ctx: EngineContext, sa: IkeSa, child: ChildSa, reason: string): void {
  const i = sa.children.indexOf(child);
  if (i < 0) return;
  sa.children.splice(i, 1);
  for (const policy of child.policies) ctx.effect({ type: 'dp.delPolicy', policy });
  child.policies = [];
  if (child.inInstalled) ctx.effect({ type: 'dp.delSa', spi: child.spiIn, direction: 'in', childId: child.id });
  if (child.outInstalled) ctx.effect({ type: 'dp.delSa', spi: child.spiOut, direction: 'out', childId: child.id });
  child.inInstalled = child.outInstalled = false;
  ctx.releaseInboundSpi(child.spiIn);
  if (child.replacedBy?.replaces === child) child.replacedBy.replaces = null;
  if (child.replaces?.replacedBy === child) child.replaces.replacedBy = null;
  if (child.announced) ctx.event({ type: 'child.down', ikeId: sa.id, childId: child.id, reason });
}

/**
 * The old SA of a rekey goes (the rekey initiator's DELETE, either side): its replacement takes over the outbound
 * half first when it does not have it yet (we answered the rekey), then the old pair is removed.
 */
export function retireChild(ctx: EngineContext, sa: IkeSa, old: ChildSa, reason: string): void {
  const next = old.replacedBy;
  if (next && sa.children.includes(next) && next.inInstalled && !next.outInstalled) {
    installOutbound(ctx, sa, next);
    ctx.log('debug', `outbound traffic of ${next.config.name} switched to SPI ${hexSpi(next.spiOut)}`, sa);
  }
  removeChild(ctx, sa, old, reason);
}

export function hexSpi(spi: number): string {
  return (spi >>> 0).toString(16).padStart(8, '0');
}

/**
 * The IKE SA's endpoints (or NAT state) changed without a rekey (RFC 4555 §3.5 MOBIKE, RFC 7296 §2.23 NAT
 * mappings): move the installed halves of every CHILD_SA to them, in place (`dp.updateSa`, same SPIs and keys).
 * Policies whose tunnel endpoints changed are replaced one by one (a tunnel-mode template names the outer
 * addresses). `inbound`/`outbound` select the halves: a responder may hold the outbound move back until a return
 * routability check has passed.
 */
export function moveChildren(ctx: EngineContext, sa: IkeSa, halves: { inbound: boolean; outbound: boolean }): number {
  const { local, remote } = sa;
  let moved = 0;
  for (const child of sa.children) {
    child.encap = sa.encap;
    if (halves.inbound && child.inInstalled) {
      ctx.effect({
        type: 'dp.updateSa',
        spi: child.spiIn,
        direction: 'in',
        src: remote.addr,
        dst: local.addr,
        encap: child.encap ? { srcPort: remote.port, dstPort: local.port } : undefined,
      });
      moved++;
    }
    if (halves.outbound && child.outInstalled) {
      ctx.effect({
        type: 'dp.updateSa',
        spi: child.spiOut,
        direction: 'out',
        src: local.addr,
        dst: remote.addr,
        encap: child.encap ? { srcPort: local.port, dstPort: remote.port } : undefined,
      });
      moved++;
    }
    child.policies = child.policies.map((p) => {
      const out = p.direction === 'out';
      if (out ? !halves.outbound : !halves.inbound) return p;
      const outerSrc = out ? local.addr : remote.addr;
      const outerDst = out ? remote.addr : local.addr;
      if (p.outerSrc === outerSrc && p.outerDst === outerDst) return p;
      const next = { ...p, outerSrc, outerDst };
      ctx.effect({ type: 'dp.delPolicy', policy: p });
      ctx.effect({ type: 'dp.addPolicy', policy: next });
      return next;
    });
  }
  return moved;
}
