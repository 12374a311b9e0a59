// Test harness: two in-memory engines on a simulated wire with a fake clock, seeded randomness, an optional NAT,
// real certificate validation fed back through `resume`, and a mock data plane per side (ARCHITECTURE.md "Tests").
import type { GatewayConfig } from '../../config/types.ts';
import type { Endpoint, PolicyParams, SaParams } from '../../dataplane/types.ts';
import type { Command, Datagram, Effect, EngineEvent, Output, ValidateChainRequest } from '../io.ts';
import { createEngine, type Engine, type EngineOptions } from '../engine.ts';
import { createCryptoSuite } from '../../crypto/suite.ts';
import { createSignatureOps } from '../../pki/signature.ts';
import { validateChain } from '../../pki/chain.ts';
import { decodeMessage } from '../codec/index.ts';
import { seededRandom } from '../../../../test/support/seeded-random.ts';
import { ExchangeType, HeaderFlag } from '../constants.ts';

/** 2026-11-23T12:00:00Z: a fixed start so certificates made for it are valid. */
export const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

export class MockDataplane {
  readonly sas = new Map<string, SaParams>();
  readonly policies: PolicyParams[] = [];
  readonly log: Effect[] = [];

  apply(e: Effect): void {
    this.log.push(e);
    switch (e.type) {
      case 'dp.addSa':
        this.sas.set(`${e.sa.direction}:${e.sa.spi}`, e.sa);
        return;
      case 'dp.delSa':
        this.sas.delete(`${e.direction}:${e.spi}`);
        return;
      case 'dp.updateSa': {
        const sa = this.sas.get(`${e.direction}:${e.spi}`);
        if (sa) this.sas.set(`${e.direction}:${e.spi}`, { ...sa, ...(e.src ? { src: e.src } : {}), ...(e.dst ? { dst: e.dst } : {}), encap: e.encap });
        return;
      }
      case 'dp.addPolicy':
        this.policies.push(e.policy);
        return;
      case 'dp.delPolicy': {
        const i = this.policies.findIndex((p) => JSON.stringify(p) === JSON.stringify(e.policy));
        if (i >= 0) this.policies.splice(i, 1);
        return;
      }
      default:
        return;
    }
  }

  inbound(): SaParams[] {
    return [...this.sas.values()].filter((s) => s.direction === 'in');
  }

  outbound(): SaParams[] {
    return [...this.sas.values()].filter((s) => s.direction === 'out');
  }
}

export type Side = 'a' | 'b' | 'c';

export class Peer {
  readonly events: EngineEvent[] = [];
  readonly effects: Effect[] = [];
  readonly dp = new MockDataplane();
  readonly sent: Datagram[] = [];
  wakeAtMs: number | undefined;

  constructor(
    readonly name: Side,
    /** The address packets to this side go to (move() changes it: MOBIKE tests). */
    public addr: string,
    public engine: Engine,
  ) {}

  logs(level?: 'debug' | 'info' | 'warn' | 'error'): string[] {
    return this.events.filter((e) => e.type === 'log' && (!level || e.level === level)).map((e) => (e as { msg: string }).msg);
  }

  eventsOf<T extends EngineEvent['type']>(type: T): Extract<EngineEvent, { type: T }>[] {
    return this.events.filter((e) => e.type === type) as Extract<EngineEvent, { type: T }>[];
  }
}

/** One datagram on the wire, as the receiver will see it (after NAT). */
export interface WirePacket {
  from: Side;
  d: Datagram;
  exchange?: number;
  response?: boolean;
  messageId?: number;
}

export interface PairOptions {
  a: GatewayConfig;
  b: GatewayConfig;
  aAddr: string;
  bAddr: string;
  seed?: string;
  /** Put `a` behind a NAT: its packets leave from natAddr:(port+30000). */
  natAddr?: string;
  /** Extra engine options per side (e.g. the ESP activity hook). */
  engineA?: Partial<EngineOptions>;
  engineB?: Partial<EngineOptions>;
  /** A third party on the wire (a second gateway: redirect tests). */
  c?: { config: GatewayConfig; addr: string };
}

export class Pair {
  clock = T0;
  readonly a: Peer;
  readonly b: Peer;
  readonly wire: WirePacket[] = [];
  /** Return false to drop a packet before delivery. */
  filter: (p: WirePacket) => boolean = () => true;
  /** Keep pki.validateChain effects unanswered until releaseValidations() (to test the paused state). */
  holdValidations = false;
  readonly held: { peer: Peer; ref: string; request: ValidateChainRequest }[] = [];
  private readonly queue: { to: Peer; p: WirePacket }[] = [];
  /** `a` behind a NAT at this address (opts.natAddr; tests may set it later: a client roaming behind a NAT). */
  nat: string | undefined;
  private readonly pending = new Set<Promise<void>>();

  private restarts = 0;

  constructor(readonly opts: PairOptions) {
    this.a = new Peer('a', opts.aAddr, this.makeEngine(opts.a, 'a'));
    this.b = new Peer('b', opts.bAddr, this.makeEngine(opts.b, 'b'));
    this.nat = opts.natAddr;
    if (opts.c) this.c = new Peer('c', opts.c.addr, this.makeEngine(opts.c.config, 'c'));
  }

  readonly c: Peer | undefined;

  peer(side: Side): Peer {
    const p = side === 'a' ? this.a : side === 'b' ? this.b : this.c;
    if (!p) throw new Error(`no peer ${side}`);
    return p;
  }

  private get peers(): Peer[] {
    return this.c ? [this.a, this.b, this.c] : [this.a, this.b];
  }

  /** One side's address changes (the old one is gone: packets to it are lost). */
  move(side: Side, addr: string): void {
    this.peer(side).addr = addr;
  }

  private makeEngine(cfg: GatewayConfig, who: string): Engine {
    const seed = `${this.opts.seed ?? 'pair'}-${who}-${this.restarts}`;
    const crypto = createCryptoSuite({ randomBytes: seededRandom(seed) });
    let n = 0;
    const prefix = this.restarts === 0 ? who : `${who}${this.restarts}-`;
    const extra = who === 'a' ? this.opts.engineA : who === 'b' ? this.opts.engineB : undefined;
    return createEngine({ config: cfg, crypto, sig: createSignatureOps(), nowMs: this.clock, idSource: () => `${prefix}${++n}`, verifyWake: true, ...extra });
  }

  /** Simulate a crash and reboot of one side: a fresh engine that knows no SAs (its mock data plane is kept). */
  restart(name: Side): void {
    this.restarts++;
    const peer = this.peer(name);
    peer.engine = this.makeEngine(name === 'a' ? this.opts.a : name === 'b' ? this.opts.b : this.opts.c!.config, name);
    peer.wakeAtMs = undefined;
  }

  /** Feed an engine output into the harness: sends go on the wire, effects to the mock data plane or validation. */
  absorb(peer: Peer, out: Output): Output {
    peer.events.push(...out.events);
    peer.effects.push(...out.effects);
    peer.wakeAtMs = out.wakeAtMs;
    for (const e of out.effects) {
      if (e.type === 'pki.validateChain' && this.holdValidations) {
        this.held.push({ peer, ref: e.ref, request: e.request });
      } else if (e.type === 'pki.validateChain') {
        const job = validateChain(e.request).then((result) => {
          this.absorb(peer, peer.engine.command({ type: 'resume', ref: e.ref, result }, this.clock));
        });
        this.pending.add(job);
        void job.finally(() => this.pending.delete(job));
      } else {
        peer.dp.apply(e);
      }
    }
    for (const d of out.send) this.transmit(peer, d);
    return out;
  }

  private transmit(from: Peer, d: Datagram): void {
    from.sent.push(d);
    let src: Endpoint = d.local;
    let dst: Endpoint = d.remote;
    const nat = this.nat;
    if (nat && from.name === 'a') src = { addr: nat, port: d.local.port + 30000 };
    if (nat && from.name !== 'a' && dst.addr === nat) dst = { addr: this.a.addr, port: dst.port - 30000 };
    const to = this.peers.find((x) => x.addr === dst.addr) ?? null;
    if (!to) return;
    const p: WirePacket = { from: from.name, d: { local: dst, remote: src, data: d.data } };
    const dec = decodeMessage(d.data);
    if (dec.ok) {
      p.exchange = dec.value.header.exchange;
      p.response = (dec.value.header.flags & HeaderFlag.RESPONSE) !== 0;
      p.messageId = dec.value.header.messageId;
    }
    this.wire.push(p);
    this.queue.push({ to, p });
  }

  /** Deliver until the wire is quiet and no validation is pending. */
  async run(maxPackets = 500): Promise<void> {
    let n = 0;
    for (;;) {
      while (this.queue.length > 0) {
        if (++n > maxPackets) throw new Error('packet storm: more than maxPackets delivered');
        const { to, p } = this.queue.shift()!;
        if (!this.filter(p)) continue;
        this.absorb(to, to.engine.receive(p.d, this.clock));
      }
      if (this.pending.size === 0) return;
      await Promise.race(this.pending);
    }
  }

  /** Answer the held validations (with the real validator) and deliver what follows. */
  async releaseValidations(): Promise<void> {
    const held = this.held.splice(0);
    for (const h of held) {
      const result = await validateChain(h.request);
      this.absorb(h.peer, h.peer.engine.command({ type: 'resume', ref: h.ref, result }, this.clock));
    }
    await this.run();
  }

  /** Move the fake clock forward, ticking each engine whenever its wake time is reached. */
  async advance(ms: number): Promise<void> {
    const end = this.clock + ms;
    for (;;) {
      const next = Math.min(...this.peers.map((x) => x.wakeAtMs ?? Infinity));
      if (next > end) break;
      this.clock = Math.max(this.clock, next);
      for (const p of this.peers) {
        if (p.wakeAtMs !== undefined && p.wakeAtMs <= this.clock) this.absorb(p, p.engine.tick(this.clock));
      }
      await this.run();
    }
    this.clock = end;
  }

  /** Run a control command on one side and deliver what follows. */
  async command(side: Side, c: Command): Promise<Output> {
    const peer = this.peer(side);
    const out = this.absorb(peer, peer.engine.command(c, this.clock));
    await this.run();
    return out;
  }

  /** Run commands on both sides before delivering anything (simultaneous requests that cross on the wire). */
  async commandBoth(ca: Command, cb: Command): Promise<void> {
    this.absorb(this.a, this.a.engine.command(ca, this.clock));
    this.absorb(this.b, this.b.engine.command(cb, this.clock));
    await this.run();
  }

  async initiate(conn: string, child?: string): Promise<void> {
    this.absorb(this.a, this.a.engine.command({ type: 'initiate', conn, ...(child ? { child } : {}) }, this.clock));
    await this.run();
  }

  /** The exchanges seen on the wire, e.g. `a>IKE_SA_INIT`, `b<IKE_SA_INIT` (request `>` / response `<`). */
  trace(): string[] {
    const names: Record<number, string> = {
      [ExchangeType.IKE_SA_INIT]: 'IKE_SA_INIT',
      [ExchangeType.IKE_AUTH]: 'IKE_AUTH',
      [ExchangeType.CREATE_CHILD_SA]: 'CREATE_CHILD_SA',
      [ExchangeType.INFORMATIONAL]: 'INFORMATIONAL',
    };
    return this.wire.map((p) => `${p.from}${p.response ? '<' : '>'}${p.exchange !== undefined ? (names[p.exchange] ?? p.exchange) : 'raw'}`);
  }
}
