// Benchmark load generator: Outpost's sans-IO engine as IKEv2 initiator (RFC 7296) for K identities over real UDP.
//
// Started by handshakes.ts inside the client namespace: `bun handshake-driver.ts JOB.json`. It builds one
// connection per identity, binds UDP 500/4500 (RFC 3948 non-ESP marker on 4500), prints `READY`, then for each
// `GO [n]` on stdin keeps `window` IKE SAs in flight until the next n identities are up (or failed) and prints
// `DONE {json}` with that batch's counts and latencies (a warm-up batch, then the measured one). It idles with
// every SA established in between, so the responder's memory can be read, until killed. `REKEY` then rekeys every
// established CHILD_SA once (CREATE_CHILD_SA with N(REKEY_SA), RFC 7296 §1.3.3, then the DELETE of the old one),
// `window` at a time, and answers `REKEYED {json}` with counts and per-rekey latencies.
// The engine is driven by a minimal loop of our own (sockets, one timer, chain validation) so the benchmark
// does not depend on the runtime's internals; ESP is never sent.
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ConnectionConfig, GatewayConfig } from '../../firmware/src/config/types.ts';
import { createCryptoSuite } from '../../firmware/src/crypto/suite.ts';
import { createEngine } from '../../firmware/src/ike/engine.ts';
import type { Datagram, Output } from '../../firmware/src/ike/io.ts';
import { validateChain } from '../../firmware/src/pki/chain.ts';
import { createSignatureOps } from '../../firmware/src/pki/signature.ts';

export interface DriverJob {
  localAddr: string;
  remoteAddr: string;
  ikeProposal: string;
  espProposal: string;
  /** Traffic selectors the initiator proposes (TSi / TSr). */
  localTs: string[];
  remoteTs: string[];
  remoteId: string;
  caDerHex: string;
  /** pubkey (certificates, the default) or psk (then every identity shares pskHex). */
  auth?: 'pubkey' | 'psk';
  pskHex?: string;
  identities: { fqdn: string; certDerHex: string; keyDerHex: string }[];
  window: number;
  timeoutMs: number;
}

export interface DriverResult {
  k: number;
  established: number;
  failed: number;
  failures: Record<string, number>;
  wallMs: number;
  retransmits: number;
  sent: number;
  received: number;
  /** Initiate → CHILD_SA up, per established SA, in ms (includes queueing behind the window). */
  latencyP50Ms: number;
  latencyP99Ms: number;
}

export interface RekeyResult {
  k: number;
  /** New CHILD_SA up and the old one deleted (the DELETE exchange answered). */
  rekeyed: number;
  failed: number;
  wallMs: number;
  retransmits: number;
  /** Rekey command → new CHILD_SA up (CREATE_CHILD_SA round trip incl. queueing), ms. */
  latencyP50Ms: number;
  latencyP99Ms: number;
}

const fromHex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

export function buildConfig(job: DriverJob): GatewayConfig {
  const ca = fromHex(job.caDerHex);
  const psk = job.auth === 'psk';
  const connections: ConnectionConfig[] = job.identities.map((id, i) => ({
    name: `b${i}`,
    remoteAddrs: [job.remoteAddr],
    remotePort: 500,
    localAddrs: [job.localAddr],
    ikeProposals: [job.ikeProposal],
    legacy: false,
    local: psk
      ? { id: `fqdn:${id.fqdn}`, auth: 'psk' }
      : { id: `fqdn:${id.fqdn}`, auth: 'pubkey', certChain: [fromHex(id.certDerHex)], privateKey: fromHex(id.keyDerHex) },
    remote: { id: job.remoteId, auth: psk ? 'psk' : 'pubkey', cas: psk ? [] : ['bench'] },
    ...(psk ? { psk: fromHex(job.pskHex ?? '') } : {}),
    pools: [],
    children: [
      {
        name: 'net',
        localTs: job.localTs,
        remoteTs: job.remoteTs,
        espProposals: [job.espProposal],
        lifetimeSec: 3600,
        rekeySec: 3000,
        replayWindow: 64,
        startAction: 'none',
      },
    ],
    ikeLifetimeSec: 36_000,
    ikeRekeySec: 32_400,
    dpdDelaySec: 0,
    encapsulation: false,
    mobike: false,
    fragmentation: true,
    fragmentSize: 1280,
    sendCertReq: !psk,
  }));
  return {
    listen: [{ address: job.localAddr, port: 500, nattPort: 4500 }],
    log: { level: 'warn', format: 'json' },
    dataplane: { backend: 'mock', offload: 'none' },
    cookieThreshold: 1_000_000,
    halfOpenPerSource: 1_000_000,
    retransmit: { timeoutMs: 2000, tries: 5, base: 1.8 },
    pools: [],
    cas: [{ name: 'bench', certDer: ca }],
    connections,
  };
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as DriverJob;
  const total = job.identities.length;
  const engine = createEngine({ config: buildConfig(job), crypto: createCryptoSuite(), sig: createSignatureOps(), nowMs: Date.now() });
  const NON_ESP = new Uint8Array(4);
  const sockets = new Map<number, Socket>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight = 0;
  let next = 0;
  let sent = 0;
  let received = 0;
  /** The batch being driven: identities [next, end) are launched, at most `window` at a time. */
  let batch: { end: number; size: number; established: number; failed: number; failures: Record<string, number>; latencies: number[]; finish: () => void } | undefined;
  const startedAt = new Map<string, number>();
  /** The REKEY round in progress: one CHILD_SA per IKE SA, keyed by IKE SA id. */
  let rekeying: { up(ikeId: string): void; done(ikeId: string, ok: boolean): void } | undefined;
  const retransmits = () => engine.stats().counters['retransmit-sent'] ?? 0;

  const send = (d: Datagram) => {
    const sock = sockets.get(d.local.port) ?? sockets.get(500)!;
    const data = d.local.port === 4500 || d.remote.port === 4500 ? Buffer.concat([NON_ESP, d.data]) : Buffer.from(d.data);
    sent++;
    sock.send(data, d.remote.port, d.remote.addr);
  };

  const launch = () => {
    while (batch && inFlight < job.window && next < batch.end) {
      inFlight++;
      const conn = `b${next++}`;
      startedAt.set(conn, performance.now());
      handle(engine.command({ type: 'initiate', conn }, Date.now()));
    }
  };

  const settle = (conn: string | undefined, ok: boolean, why?: string) => {
    const t = conn === undefined ? undefined : startedAt.get(conn);
    if (conn !== undefined) startedAt.delete(conn);
    inFlight--;
    if (!batch) return;
    if (ok) {
      batch.established++;
      if (t !== undefined) batch.latencies.push(performance.now() - t);
    } else {
      batch.failed++;
      const key = why ?? 'unknown';
      batch.failures[key] = (batch.failures[key] ?? 0) + 1;
    }
    if (batch.established + batch.failed >= batch.size) batch.finish();
  };

  function handle(out: Output): void {
    for (const d of out.send) send(d);
    for (const e of out.effects) {
      if (e.type !== 'pki.validateChain') continue; // data plane effects: nothing to install in a benchmark
      void validateChain(e.request).then((result) => handle(engine.command({ type: 'resume', ref: e.ref, result }, Date.now())));
    }
    for (const ev of out.events) {
      if (rekeying) {
        if (ev.type === 'child.up') rekeying.up(ev.ikeId);
        else if (ev.type === 'child.down' && ev.reason === 'rekeyed') rekeying.done(ev.ikeId, true);
        else if (ev.type === 'child.down' || ev.type === 'ike.down') rekeying.done(ev.ikeId, false);
        else if (ev.type === 'log' && (ev.level === 'error' || ev.level === 'warn')) process.stderr.write(`${ev.msg}\n`);
        continue;
      }
      if (ev.type === 'child.up') settle(ev.conn, true);
      else if (ev.type === 'ike.failed' || ev.type === 'auth.failed') settle(ev.conn, false, ev.reason.slice(0, 80));
      else if (ev.type === 'log' && (ev.level === 'error' || ev.level === 'warn')) process.stderr.write(`${ev.msg}\n`);
    }
    if (out.events.some((ev) => ev.type === 'child.up' || ev.type === 'ike.failed' || ev.type === 'auth.failed')) launch();
    if (out.wakeAtMs !== undefined) {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        handle(engine.tick(Date.now()));
      }, Math.max(0, out.wakeAtMs - Date.now()));
    }
  }

  for (const port of [500, 4500]) {
    const sock = createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
    await new Promise<void>((res, rej) => {
      sock.once('error', rej);
      sock.bind(port, job.localAddr, () => res());
    });
    sock.on('message', (msg, rinfo) => {
      let data = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
      if (port === 4500) {
        if (data.length < 4 || data[0] !== 0 || data[1] !== 0 || data[2] !== 0 || data[3] !== 0) return; // ESP
        data = data.subarray(4);
      }
      received++;
      handle(engine.receive({ local: { addr: job.localAddr, port }, remote: { addr: rinfo.address, port: rinfo.port }, data }, Date.now()));
    });
    sockets.set(port, sock);
  }

  process.stdout.write('READY\n');
  // `GO n` runs the next n identities (`GO` alone: all that are left) and answers `DONE {json}`. Between batches
  // every SA stays up, so the parent can read the responder's memory; it kills us when done.
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (/^REKEY\s*$/.test(line)) {
      const todo = engine
        .listSas()
        .filter((sa) => sa.state === 'established')
        .flatMap((sa) => sa.children.filter((c) => (c.state ?? 'installed') === 'installed').map((c) => ({ ikeId: sa.ikeId, childId: c.childId })));
      const r0 = retransmits();
      const started = performance.now();
      const pending = new Map<string, number>();
      const latencies: number[] = [];
      let rekeyed = 0;
      let failed = 0;
      let i = 0;
      let finish = () => {};
      const finished = new Promise<void>((res) => (finish = res));
      const pump = () => {
        while (pending.size < job.window && i < todo.length) {
          const t = todo[i++]!;
          pending.set(t.ikeId, performance.now());
          handle(engine.command({ type: 'rekey', ikeId: t.ikeId, childId: t.childId }, Date.now()));
        }
        if (pending.size === 0 && i >= todo.length) finish();
      };
      const upAt = new Map<string, number>();
      rekeying = {
        up: (ikeId) => {
          const t = pending.get(ikeId);
          if (t !== undefined && !upAt.has(ikeId)) {
            upAt.set(ikeId, performance.now());
            latencies.push(performance.now() - t);
          }
        },
        done: (ikeId, ok) => {
          if (!pending.delete(ikeId)) return;
          if (ok && upAt.has(ikeId)) rekeyed++;
          else failed++;
          queueMicrotask(pump);
        },
      };
      pump();
      await Promise.race([finished, new Promise((res) => setTimeout(res, job.timeoutMs))]);
      rekeying = undefined;
      const result: RekeyResult = {
        k: todo.length,
        rekeyed,
        failed: failed + pending.size + (todo.length - i),
        wallMs: performance.now() - started,
        retransmits: retransmits() - r0,
        latencyP50Ms: percentile(latencies, 50),
        latencyP99Ms: percentile(latencies, 99),
      };
      process.stdout.write(`REKEYED ${JSON.stringify(result)}\n`);
      continue;
    }
    const m = /^GO(?:\s+(\d+))?\s*$/.exec(line);
    if (!m) continue;
    const size = Math.min(m[1] === undefined ? total - next : Number(m[1]), total - next);
    const r0 = retransmits();
    const sent0 = sent;
    const received0 = received;
    const started = performance.now();
    const finished = new Promise<void>((res) => {
      batch = { end: next + size, size, established: 0, failed: 0, failures: {}, latencies: [], finish: res };
    });
    if (size === 0) batch!.finish();
    launch();
    const timeout = new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), job.timeoutMs));
    await Promise.race([finished, timeout]);
    const b = batch!;
    batch = undefined;
    const result: DriverResult = {
      k: size,
      established: b.established,
      failed: b.failed,
      failures: b.failures,
      wallMs: performance.now() - started,
      retransmits: retransmits() - r0,
      sent: sent - sent0,
      received: received - received0,
      latencyP50Ms: percentile(b.latencies, 50),
      latencyP99Ms: percentile(b.latencies, 99),
    };
    process.stdout.write(`DONE ${JSON.stringify(result)}\n`);
  }
}

if (import.meta.main) await main();
