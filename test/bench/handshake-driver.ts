// Benchmark load generator: Outpost's sans-IO engine as IKEv2 initiator (RFC 7296) for K identities over real UDP.
//
// Started by handshakes.ts inside the client namespace: `bun handshake-driver.ts JOB.json`. It builds one
// connection per identity, binds UDP 500/4500 (RFC 3948 non-ESP marker on 4500), prints `READY`, waits for
// `GO` on stdin, then keeps `window` IKE SAs in flight until all K are up (or failed) and prints
// `DONE {json}`. It then idles with every SA established so the responder's memory can be read, until killed.
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
}

const fromHex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

function buildConfig(job: DriverJob): GatewayConfig {
  const ca = fromHex(job.caDerHex);
  const connections: ConnectionConfig[] = job.identities.map((id, i) => ({
    name: `b${i}`,
    remoteAddrs: [job.remoteAddr],
    remotePort: 500,
    localAddrs: [job.localAddr],
    ikeProposals: [job.ikeProposal],
    legacy: false,
    local: { id: `fqdn:${id.fqdn}`, auth: 'pubkey', certChain: [fromHex(id.certDerHex)], privateKey: fromHex(id.keyDerHex) },
    remote: { id: job.remoteId, auth: 'pubkey', cas: ['bench'] },
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
    sendCertReq: true,
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

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as DriverJob;
  const k = job.identities.length;
  const engine = createEngine({ config: buildConfig(job), crypto: createCryptoSuite(), sig: createSignatureOps(), nowMs: Date.now() });
  const NON_ESP = new Uint8Array(4);
  const sockets = new Map<number, Socket>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let established = 0;
  let failed = 0;
  let inFlight = 0;
  let next = 0;
  let started = 0;
  let sent = 0;
  let received = 0;
  const failures: Record<string, number> = {};
  const retransmitsBefore = () => engine.stats().counters['retransmit-sent'] ?? 0;
  let finish: (() => void) | undefined;

  const send = (d: Datagram) => {
    const sock = sockets.get(d.local.port) ?? sockets.get(500)!;
    const data = d.local.port === 4500 || d.remote.port === 4500 ? Buffer.concat([NON_ESP, d.data]) : Buffer.from(d.data);
    sent++;
    sock.send(data, d.remote.port, d.remote.addr);
  };

  const launch = () => {
    while (inFlight < job.window && next < k) {
      inFlight++;
      handle(engine.command({ type: 'initiate', conn: `b${next++}` }, Date.now()));
    }
  };

  const settle = (ok: boolean, why?: string) => {
    inFlight--;
    if (ok) established++;
    else {
      failed++;
      const key = why ?? 'unknown';
      failures[key] = (failures[key] ?? 0) + 1;
    }
    if (established + failed >= k) finish?.();
  };

  function handle(out: Output): void {
    for (const d of out.send) send(d);
    for (const e of out.effects) {
      if (e.type !== 'pki.validateChain') continue; // data plane effects: nothing to install in a benchmark
      void validateChain(e.request).then((result) => handle(engine.command({ type: 'resume', ref: e.ref, result }, Date.now())));
    }
    for (const ev of out.events) {
      if (ev.type === 'child.up') settle(true);
      else if (ev.type === 'ike.failed' || ev.type === 'auth.failed') settle(false, ev.reason.slice(0, 80));
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
  const rl = createInterface({ input: process.stdin });
  await new Promise<void>((res) => rl.once('line', () => res()));
  const r0 = retransmitsBefore();
  started = performance.now();
  const done = new Promise<void>((res) => (finish = res));
  launch();
  const timeout = new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), job.timeoutMs));
  await Promise.race([done, timeout]);
  const result: DriverResult = {
    k,
    established,
    failed,
    failures,
    wallMs: performance.now() - started,
    retransmits: retransmitsBefore() - r0,
    sent,
    received,
  };
  process.stdout.write(`DONE ${JSON.stringify(result)}\n`);
  // Stay up, SAs established, until the parent has read the responder's memory and kills us.
}

if (import.meta.main) await main();
