// The engine's IKE SA table: by our SPI, by id, responder IKE_SA_INIT lookup, half-open accounting (RFC 7296 §2.1, §2.6).
import type { Endpoint } from '../dataplane/types.ts';
import type { IkeSa } from './ike-sa.ts';
import { hex } from './bytes.ts';

function initKey(spiI: Uint8Array, remote: Endpoint): string {
  return `${hex(spiI)}|${remote.addr}|${remote.port}`;
}

export class SaTable {
  private readonly bySpi = new Map<string, IkeSa>();
  private readonly byId = new Map<string, IkeSa>();
  /** Responder SAs by initiator SPI + source, to recognise retransmitted IKE_SA_INIT requests. */
  private readonly byInit = new Map<string, IkeSa>();
  private readonly initKeyOf = new Map<IkeSa, string>();
  /** Half-open responder SAs and the source address each was counted under (sa.remote may change later). */
  private readonly halfOpen = new Map<IkeSa, string>();
  private readonly halfOpenBySource = new Map<string, number>();
  /** Effects awaiting `resume`, by ref. */
  private readonly refs = new Map<string, IkeSa>();
  private readonly refsOf = new Map<IkeSa, Set<string>>();
  private seq = 0;
  /**
   * SAs looked up, added or removed since the engine last drained this set: the only ones whose timers a call can
   * have changed (the engine recomputes their deadlines instead of scanning the table).
   */
  readonly touched = new Set<IkeSa>();

  add(sa: IkeSa): void {
    sa.tableSeq = ++this.seq;
    this.touched.add(sa);
    this.bySpi.set(sa.ourSpiHex, sa);
    this.byId.set(sa.id, sa);
    if (!sa.initiator && !sa.fromRekey) {
      const key = initKey(sa.spiI, sa.remote);
      this.byInit.set(key, sa);
      this.initKeyOf.set(sa, key);
      this.halfOpen.set(sa, sa.remote.addr);
      this.halfOpenBySource.set(sa.remote.addr, (this.halfOpenBySource.get(sa.remote.addr) ?? 0) + 1);
    }
  }

  remove(sa: IkeSa): void {
    this.touched.add(sa);
    if (this.bySpi.get(sa.ourSpiHex) === sa) this.bySpi.delete(sa.ourSpiHex);
    if (this.byId.get(sa.id) === sa) this.byId.delete(sa.id);
    const key = this.initKeyOf.get(sa);
    if (key !== undefined && this.byInit.get(key) === sa) this.byInit.delete(key);
    this.initKeyOf.delete(sa);
    for (const ref of this.refsOf.get(sa) ?? []) this.refs.delete(ref);
    this.refsOf.delete(sa);
    this.leaveHalfOpen(sa);
  }

  /**
   * The SA is no longer half-open (authenticated). Its IKE_SA_INIT lookup goes too: the peer sent IKE_AUTH, so it
   * has our IKE_SA_INIT response and retransmits no more IKE_SA_INIT.
   */
  leaveHalfOpen(sa: IkeSa): void {
    const key = this.initKeyOf.get(sa);
    if (key !== undefined && this.byInit.get(key) === sa) this.byInit.delete(key);
    this.initKeyOf.delete(sa);
    const source = this.halfOpen.get(sa);
    if (source === undefined) return;
    this.halfOpen.delete(sa);
    const n = (this.halfOpenBySource.get(source) ?? 1) - 1;
    if (n > 0) this.halfOpenBySource.set(source, n);
    else this.halfOpenBySource.delete(source);
  }

  bySpiHex(spiHex: string): IkeSa | undefined {
    return this.mark(this.bySpi.get(spiHex));
  }

  private mark(sa: IkeSa | undefined): IkeSa | undefined {
    if (sa) this.touched.add(sa);
    return sa;
  }

  hasSpi(spiHex: string): boolean {
    return this.bySpi.has(spiHex);
  }

  get(id: string): IkeSa | undefined {
    return this.mark(this.byId.get(id));
  }

  hasId(id: string): boolean {
    return this.byId.has(id);
  }

  findInit(spiI: Uint8Array, remote: Endpoint): IkeSa | undefined {
    return this.mark(this.byInit.get(initKey(spiI, remote)));
  }

  get halfOpenCount(): number {
    return this.halfOpen.size;
  }

  halfOpenFrom(addr: string): number {
    return this.halfOpenBySource.get(addr) ?? 0;
  }

  isHalfOpen(sa: IkeSa): boolean {
    return this.halfOpen.has(sa);
  }

  addRef(ref: string, sa: IkeSa): void {
    this.refs.set(ref, sa);
    let set = this.refsOf.get(sa);
    if (!set) this.refsOf.set(sa, (set = new Set()));
    set.add(ref);
  }

  takeRef(ref: string): IkeSa | undefined {
    const sa = this.refs.get(ref);
    this.refs.delete(ref);
    if (sa) {
      const set = this.refsOf.get(sa);
      set?.delete(ref);
      if (set?.size === 0) this.refsOf.delete(sa);
    }
    return this.mark(sa);
  }

  all(): IkeSa[] {
    return [...this.byId.values()];
  }

  /** Live iteration without a copy; entries removed meanwhile are skipped (Map semantics). */
  values(): IterableIterator<IkeSa> {
    return this.byId.values();
  }

  get size(): number {
    return this.byId.size;
  }
}
