// Virtual IP pools handed out via configuration payloads (RFC 7296 §3.15, §2.19); leases stick to identities.
import type { PoolConfig } from '../config/types.ts';
import { bigIntToIp, formatIp, ipToBigInt, parseCidr, parseIp } from './ip.ts';

interface OwnerLease {
  addr: bigint;
  refs: number; // IKE SAs currently using it: one identity may be connected more than once
}

/**
 * One pool. An identity keeps its address after disconnecting ("remembered"), so a reconnecting client gets
 * the same one; remembered addresses of offline identities are reclaimed, oldest first, only when no never-used
 * address is left.
 */
export class AddressPool {
  readonly name: string;
  readonly v6: boolean;
  readonly dns: Uint8Array[];
  readonly domains: string[];
  private readonly first: bigint;
  private readonly last: bigint;
  private nextFresh: bigint;
  private readonly byOwner = new Map<string, OwnerLease>();
  private readonly ownerOf = new Map<bigint, string>();
  /** Offline leases in release order (Map keeps insertion order). */
  private readonly offline = new Map<bigint, string>();

  constructor(cfg: PoolConfig, range: { start: Uint8Array; end: Uint8Array; prefix: number }) {
    this.name = cfg.name;
    this.v6 = range.start.length === 16;
    const start = ipToBigInt(range.start);
    const end = ipToBigInt(range.end);
    // IPv4: skip network and broadcast addresses (not for /31 and /32); IPv6: skip the subnet-router anycast address.
    const skipEnds = !this.v6 && range.prefix <= 30;
    this.first = skipEnds || (this.v6 && range.prefix < 128) ? start + 1n : start;
    this.last = skipEnds ? end - 1n : end;
    this.nextFresh = this.first;
    this.dns = cfg.dns.map((d) => parseIp(d)).filter((d): d is Uint8Array => d !== null && d.length === (this.v6 ? 16 : 4));
    this.domains = [...cfg.domains];
  }

  /** The address for `owner` (an identity string), or null when the pool is exhausted. */
  acquire(owner: string): Uint8Array | null {
    const known = this.byOwner.get(owner);
    if (known) {
      known.refs++;
      this.offline.delete(known.addr);
      return this.toBytes(known.addr);
    }
    let addr: bigint | undefined;
    if (this.nextFresh <= this.last) {
      addr = this.nextFresh;
      this.nextFresh++;
    } else {
      const oldest = this.offline.entries().next();
      if (oldest.done) return null;
      const [a, prevOwner] = oldest.value;
      this.offline.delete(a);
      this.byOwner.delete(prevOwner);
      addr = a;
    }
    this.byOwner.set(owner, { addr, refs: 1 });
    this.ownerOf.set(addr, owner);
    return this.toBytes(addr);
  }

  /** An SA of `owner` went away; the address stays remembered for it. */
  release(owner: string): void {
    const lease = this.byOwner.get(owner);
    if (!lease || lease.refs === 0) return;
    lease.refs--;
    if (lease.refs === 0) this.offline.set(lease.addr, owner);
  }

  /** Online leases (for listing and tests). */
  online(): { owner: string; addr: string }[] {
    const out: { owner: string; addr: string }[] = [];
    for (const [owner, l] of this.byOwner) if (l.refs > 0) out.push({ owner, addr: formatIp(this.toBytes(l.addr)) });
    return out;
  }

  private toBytes(v: bigint): Uint8Array {
    return bigIntToIp(v, this.v6 ? 16 : 4);
  }
}

/** Pools by name; configs whose CIDR does not parse are reported and skipped (config validation rejects them earlier). */
export function createPools(cfgs: readonly PoolConfig[]): { pools: Map<string, AddressPool>; errors: string[] } {
  const pools = new Map<string, AddressPool>();
  const errors: string[] = [];
  for (const c of cfgs) {
    const range = parseCidr(c.cidr);
    if (!range) errors.push(`pool ${c.name}: bad cidr ${c.cidr}`);
    else pools.set(c.name, new AddressPool(c, range));
  }
  return { pools, errors };
}
