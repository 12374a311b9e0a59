// Task ike-config: virtual IPs and DNS via CP payloads (RFC 7296 §2.19, §3.15; RFC 8598 INTERNAL_DNS_DOMAIN).
import { CfgAttr, CfgType, Notify, PayloadType } from '../constants.ts';
import type { CfgAttribute } from '../codec/types.ts';
import type { EngineContext } from '../context.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { InMessage, OutMessage } from '../message.ts';
import type { Task, TaskStatus } from '../task.ts';
import type { AddressPool } from '../pool.ts';
import { describeIdentity, identityKey } from '../identity.ts';
import { formatIp, parseIp } from '../ip.ts';
import { EMPTY, concatBytes, utf8 } from '../bytes.ts';

const V6_PREFIX_LEN = 128; // INTERNAL_IP6_ADDRESS carries address | prefix length; we assign single hosts

export class IkeConfig implements Task {
  readonly name = 'ike-config';
  private assigned: { addr: Uint8Array; pool: AddressPool }[] = [];
  private failed = false;
  private requested = false;

  constructor(
    private readonly sa: IkeSa,
    private readonly ctx: EngineContext,
  ) {}

  build(msg: OutMessage): TaskStatus {
    return this.sa.initiator ? this.buildRequest(msg) : this.buildReply(msg);
  }

  process(msg: InMessage): TaskStatus {
    return this.sa.initiator ? this.processReply(msg) : this.processRequest(msg);
  }

  // ---- responder ----

  private processRequest(msg: InMessage): TaskStatus {
    const sa = this.sa;
    const cp = msg.get(PayloadType.CP);
    if (!cp || cp.cfgType !== CfgType.CFG_REQUEST) return 'done';
    const want4 = cp.attributes.some((a) => a.type === CfgAttr.INTERNAL_IP4_ADDRESS);
    const want6 = cp.attributes.some((a) => a.type === CfgAttr.INTERNAL_IP6_ADDRESS);
    if (!want4 && !want6) return 'done';
    this.requested = true;
    // Leases stick to the identity as matching sees it, not to its spelling on the wire.
    const owner = sa.remoteId ? identityKey(sa.remoteId) : sa.remote.addr;
    const shown = sa.remoteId ? describeIdentity(sa.remoteId) : sa.remote.addr;
    const pools = sa.conn.pools.map((n) => this.ctx.pools.get(n)).filter((p): p is AddressPool => p !== undefined);
    for (const v6 of [false, true]) {
      if (v6 ? !want6 : !want4) continue;
      for (const pool of pools.filter((p) => p.v6 === v6)) {
        const addr = pool.acquire(owner);
        if (!addr) continue;
        sa.leases.push({ pool: pool.name, owner });
        sa.peerVips.push(addr);
        this.assigned.push({ addr, pool });
        break;
      }
    }
    if (this.assigned.length === 0) {
      this.failed = true;
      sa.cpFailed = true;
      this.ctx.log('warn', `no virtual IP available for ${shown} in pools [${sa.conn.pools.join(', ')}]`, sa);
    } else {
      this.ctx.log('info', `assigned virtual IP ${this.assigned.map((a) => formatIp(a.addr)).join(', ')} to ${shown}`, sa);
    }
    return 'done';
  }

  private buildReply(msg: OutMessage): TaskStatus {
    if (this.failed) {
      msg.notify(Notify.INTERNAL_ADDRESS_FAILURE);
      return 'done';
    }
    if (!this.requested) return 'done';
    const attributes: CfgAttribute[] = [];
    for (const a of this.assigned) {
      attributes.push(
        a.addr.length === 4
          ? { type: CfgAttr.INTERNAL_IP4_ADDRESS, value: a.addr }
          : { type: CfgAttr.INTERNAL_IP6_ADDRESS, value: concatBytes(a.addr, Uint8Array.of(V6_PREFIX_LEN)) },
      );
    }
    const seen = new Set<string>();
    for (const { pool } of this.assigned) {
      for (const dns of pool.dns) {
        const key = formatIp(dns);
        if (seen.has(key)) continue;
        seen.add(key);
        attributes.push({ type: dns.length === 4 ? CfgAttr.INTERNAL_IP4_DNS : CfgAttr.INTERNAL_IP6_DNS, value: dns });
      }
      for (const domain of pool.domains) {
        if (seen.has(`d:${domain}`)) continue;
        seen.add(`d:${domain}`);
        attributes.push({ type: CfgAttr.INTERNAL_DNS_DOMAIN, value: utf8(domain) });
      }
    }
    msg.add({ type: PayloadType.CP, cfgType: CfgType.CFG_REPLY, attributes });
    return 'done';
  }

  // ---- initiator ----

  private buildRequest(msg: OutMessage): TaskStatus {
    const vips = this.sa.conn.vips ?? [];
    if (vips.length === 0) return 'done';
    const attributes: CfgAttribute[] = [];
    for (const v of vips) {
      const ip = parseIp(v);
      if (!ip) continue;
      const any = ip.every((b) => b === 0);
      if (ip.length === 4) {
        attributes.push({ type: CfgAttr.INTERNAL_IP4_ADDRESS, value: any ? EMPTY : ip });
        attributes.push({ type: CfgAttr.INTERNAL_IP4_DNS, value: EMPTY });
      } else {
        attributes.push({ type: CfgAttr.INTERNAL_IP6_ADDRESS, value: any ? EMPTY : concatBytes(ip, Uint8Array.of(V6_PREFIX_LEN)) });
        attributes.push({ type: CfgAttr.INTERNAL_IP6_DNS, value: EMPTY });
      }
    }
    if (attributes.length === 0) return 'done';
    this.requested = true;
    msg.add({ type: PayloadType.CP, cfgType: CfgType.CFG_REQUEST, attributes });
    return 'done';
  }

  private processReply(msg: InMessage): TaskStatus {
    const sa = this.sa;
    if (!this.requested) return 'done';
    const cp = msg.get(PayloadType.CP);
    if (!cp || cp.cfgType !== CfgType.CFG_REPLY) {
      sa.cpFailed = true;
      this.ctx.log('warn', `requested a virtual IP but ${sa.remote.addr} assigned none`, sa);
      return 'done';
    }
    const dns: string[] = [];
    const domains: string[] = [];
    for (const a of cp.attributes) {
      if (a.type === CfgAttr.INTERNAL_IP4_ADDRESS && a.value.length === 4) sa.localVips.push(a.value);
      if (a.type === CfgAttr.INTERNAL_IP6_ADDRESS && a.value.length === 17) sa.localVips.push(a.value.slice(0, 16));
      if ((a.type === CfgAttr.INTERNAL_IP4_DNS && a.value.length === 4) || (a.type === CfgAttr.INTERNAL_IP6_DNS && a.value.length === 16)) dns.push(formatIp(a.value));
      if (a.type === CfgAttr.INTERNAL_DNS_DOMAIN && a.value.length > 0) domains.push(new TextDecoder().decode(a.value));
    }
    const extra = [dns.length ? `DNS ${dns.join(', ')}` : '', domains.length ? `domain ${domains.join(', ')}` : ''].filter(Boolean).join('; ');
    if (sa.localVips.length > 0) this.ctx.log('info', `received virtual IP ${sa.localVips.map(formatIp).join(', ')}${extra ? ` (${extra})` : ''}`, sa);
    return 'done';
  }
}
