// Robustness: forged and replayed ESP (RFC 4303 §3.4, RFC 6479 replay window, RFC 3948 ESP-in-UDP) sent to a running Outpost gateway.
//
//   ESP-in-UDP: netns cl: charon client (kernel-libipsec) ══ 4500 ══ netns gw: outpost (userspace) ── lan
//               + a python sender in cl injecting UDP datagrams to 192.0.2.1:4500
//   plain ESP:  lanA ── gwA outpost ══ IP protocol 50 ══ gwB outpost ── lanB
//               + a python sender in gwB's namespace injecting raw protocol 50 packets to gwA
//
// A real ESP packet of the tunnel is captured on the client side and sent again (replay), cut short (truncated),
// with another SPI (wrong SPI), and with a fresh sequence number but a changed ICV or ciphertext (bad ICV). Each
// must be dropped and counted once under its reason in the gateway's status file (`dataplane.worker.drop*`); a
// burst of a thousand mutated copies must all be dropped; the gateway keeps running and the tunnel still carries
// pings afterwards, which also shows that no forged sequence number moved the replay window.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createTopology, type Role, type Topology } from '../support/netns.ts';
import { OutpostProcess, outpostCliExists } from '../support/outpost-process.ts';
import { Charon } from '../support/strongswan.ts';
import { outpostYaml } from './gateway-under-test.ts';
import { startCapture, tcpdumpAvailable } from './tunnel-capture.ts';
import { createSiteTopology, readStatus, SITE, startSitePair, waitStatus, type GatewayStatus, type SitePair, type SiteTopology } from './tunnel-site-to-site.ts';
import { ping } from './tunnel-traffic.ts';
import { interopSkipReason, pskRoadWarriorClient, pskRoadWarriorConn, pskRoadWarriorSpec } from './interop-support.ts';

const skip =
  interopSkipReason() ??
  (() => {
    if (tcpdumpAvailable()) return undefined;
    console.warn('[interop] esp-abuse skipped: tcpdump is not installed (scripts/install-test-deps.sh)');
    return 'tcpdump missing';
  })();

const PSK = 'interop-esp-abuse-psk-41c7e2';
const PY = '/usr/bin/python3';

/** Sends each packet from `role`'s namespace: as UDP payload to dst:4500, or as IP protocol 50 through a raw socket. */
async function inject(topo: Topology, role: Role | string, how: 'udp' | 'esp', dst: string, packets: Uint8Array[]): Promise<void> {
  const script = [
    'import socket,sys',
    how === 'udp' ? 's=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)' : 's=socket.socket(socket.AF_INET,socket.SOCK_RAW,50)',
    `dst=('${dst}',${how === 'udp' ? 4500 : 0})`,
    'for line in sys.stdin:',
    '    line=line.strip()',
    '    if line: s.sendto(bytes.fromhex(line),dst)',
  ].join('\n');
  const r = await topo.exec(role, [PY, '-c', script], { input: packets.map((p) => Buffer.from(p).toString('hex')).join('\n') + '\n', timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`inject failed: ${r.stderr}`);
}

const be32 = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
function withSeq(p: Uint8Array, seq: number): Uint8Array {
  const q = p.slice();
  new DataView(q.buffer).setUint32(4, seq >>> 0);
  return q;
}

/** The forged set: 3 replays, 1 truncated below the SA's minimum, 1 unknown SPI, 2 bad ICVs (fresh sequence numbers). */
function forgeries(p: Uint8Array): { packets: Uint8Array[]; expect: { replay: number; truncated: number; noSa: number; auth: number } } {
  const seq = be32(p, 4);
  const tamperedIcv = withSeq(p, seq + 100_000);
  tamperedIcv[tamperedIcv.length - 1]! ^= 0x80;
  const tamperedCt = withSeq(p, seq + 100_001);
  tamperedCt[24]! ^= 0x01;
  const wrongSpi = p.slice();
  wrongSpi.set([0x7e, 0x57, ...randomBytes(2)]);
  return {
    packets: [p, p, p, p.slice(0, 12), wrongSpi, tamperedIcv, tamperedCt],
    expect: { replay: 3, truncated: 1, noSa: 1, auth: 2 },
  };
}

/** A thousand copies with fresh sequence numbers and random damage past the header (flips, cuts): none may pass. */
function mutants(p: Uint8Array, n: number): Uint8Array[] {
  const seq = be32(p, 4);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    let q = withSeq(p, seq + 200_000 + i);
    const r = randomBytes(4);
    if (r[0]! % 4 === 0) q = q.slice(0, 8 + (r[1]! * 7) % (q.length - 8)); // cut, header kept
    else q[8 + ((r[1]! << 8) | r[2]!) % (q.length - 8)]! ^= 1 << r[3]! % 8 || 1;
    out.push(q);
  }
  return out;
}

type Worker = Record<string, number>;
const delta = (a: Worker, b: Worker) => ({
  replay: b.dropReplay! - a.dropReplay!,
  truncated: b.dropTruncated! - a.dropTruncated!,
  noSa: b.dropNoSa! - a.dropNoSa!,
  auth: b.dropAuth! - a.dropAuth!,
});

async function workerAfter(status: string, pred: (w: Worker) => boolean, what: string): Promise<Worker> {
  return (await waitStatus(status, (s: GatewayStatus) => !!s.dataplane.worker && pred(s.dataplane.worker), what)).dataplane.worker!;
}

describe.skipIf(skip !== undefined)('forged ESP-in-UDP against Outpost serving a strongSwan client', () => {
  let topo: Topology;
  let client: Charon;
  let outpost: OutpostProcess;
  let status = '';
  let captured: Uint8Array;

  beforeAll(async () => {
    if (!outpostCliExists()) throw new Error('firmware/bin/outpost.ts is missing');
    topo = await createTopology('esp-abuse');
    client = await Charon.start(topo, 'cl', { name: 'client' });
    await client.configure(pskRoadWarriorClient({ ike: 'home', localId: 'client.example', remoteId: 'gw.example', psk: PSK }));
    const spec = pskRoadWarriorSpec([pskRoadWarriorConn('rw', 'gw.example', 'client.example', PSK)]);
    const dir = join(topo.dir, 'outpost-files');
    mkdirSync(dir, { recursive: true });
    status = join(dir, 'status.json');
    outpost = await OutpostProcess.start(topo, 'gw', { name: 'gateway', config: outpostYaml(spec, dir, { dataplane: { backend: 'userspace' } }), args: ['--status-file', status] });
    const r = await client.initiate('net', { ike: 'home', timeoutSec: 10 });
    if (!r.ok) throw new Error(`client could not connect:\n${r.output}\n${outpost.tail()}`);

    // One genuine client → gateway ESP-in-UDP packet, captured whole on the client's link.
    const cap = await startCapture(topo, 'cl', 'eth0', 'abuse', { snaplen: 0, filter: `udp and dst host ${ADDR.gwOuter} and dst port 4500` });
    const p = await ping(topo, 'cl', ADDR.lan, { count: 3, intervalSec: 0.1 });
    expect(p.received, p.output).toBe(3);
    const esp = (await cap.stop()).filter((x) => x.kind === 'esp-in-udp' && x.esp);
    expect(esp.length).toBeGreaterThanOrEqual(3);
    captured = esp[0]!.esp!;
  }, 60_000);

  afterAll(async () => {
    await topo?.destroy();
  });

  it('replayed, truncated, wrong-SPI and bad-ICV datagrams are dropped and counted by reason; the tunnel still works', async () => {
    const before = await workerAfter(status, (w) => w.espRx! >= 3, 'the genuine pings');
    const f = forgeries(captured);
    // Plus one datagram too short to be ESP at all: a runt, not an ESP drop.
    await inject(topo, 'cl', 'udp', ADDR.gwOuter, [...f.packets, Uint8Array.of(0x7e, 0x57, 0x01)]);
    const after = await workerAfter(status, (w) => w.espDrops! >= before.espDrops! + 7 && w.runtDrops! > before.runtDrops!, 'seven ESP drops and a runt');
    expect(delta(before, after)).toEqual(f.expect);
    expect(after.espDrops! - before.espDrops!).toBe(7);
    expect(after.runtDrops! - before.runtDrops!).toBe(1);
    expect(after.espRx! - before.espRx!).toBe(0);
    expect(after.ikeRx! - before.ikeRx!).toBe(0);

    // Still serving: the genuine next packets carry sequence numbers far below the forged ones and pass.
    expect(outpost.isRunning()).toBe(true);
    const p = await ping(topo, 'cl', ADDR.lan, { count: 5, intervalSec: 0.1 });
    expect(p.received, `${p.output}\n${outpost.tail()}`).toBe(5);
    const later = await workerAfter(status, (w) => w.espRx! >= after.espRx! + 5, 'five more genuine packets');
    expect(later.espDrops).toBe(after.espDrops);
  }, 60_000);

  it('a burst of 1000 mutated copies (fresh sequence numbers, flipped bits, cuts) is dropped whole; nothing crashes', async () => {
    const before = readStatus(status)!.dataplane.worker!;
    await inject(topo, 'cl', 'udp', ADDR.gwOuter, mutants(captured, 1000));
    const after = await workerAfter(status, (w) => w.espDrops! >= before.espDrops! + 1000, '1000 drops');
    const d = delta(before, after);
    expect(after.espDrops! - before.espDrops!).toBe(1000);
    expect(d.auth + d.truncated).toBe(1000);
    expect(after.espRx! - before.espRx!).toBe(0);
    expect(outpost.isRunning()).toBe(true);
    expect(outpost.lines.filter((l) => l.level === 'error').map((l) => l.text)).toEqual([]);
    const p = await ping(topo, 'cl', ADDR.lan, { count: 3, intervalSec: 0.1 });
    expect(p.received, p.output).toBe(3);
  }, 60_000);
});

describe.skipIf(skip !== undefined)('forged plain ESP (IP protocol 50) against an Outpost site-to-site gateway', () => {
  let site: SiteTopology;
  let pair: SitePair;
  let captured: Uint8Array;

  beforeAll(async () => {
    site = await createSiteTopology('esp-abuse-raw');
    pair = await startSitePair(site, { auth: 'psk', encap: false, esp: 'aes256-sha256', name: 'abuse' });
    const cap = await startCapture(site.topo, 'cl', 'eth0', 'abuse-raw', { snaplen: 0, filter: `esp and dst host ${SITE.gwAOuter}` });
    const p = await ping(site.topo, site.ns.lanB, SITE.lanA, { count: 3, intervalSec: 0.1 });
    expect(p.received, `${p.output}\n${pair.tail()}`).toBe(3);
    const esp = (await cap.stop()).filter((x) => x.kind === 'esp' && x.esp);
    expect(esp.length).toBeGreaterThanOrEqual(3);
    captured = esp[0]!.esp!;
  }, 60_000);

  afterAll(async () => {
    await pair?.stop();
    await site?.destroy();
  });

  it('each forgery is dropped under its reason at A, mutants too; A keeps running and the LANs still reach each other', async () => {
    const before = await workerAfter(pair.statusA, (w) => w.rawRx! >= 3, 'the genuine packets');
    const f = forgeries(captured);
    const burst = mutants(captured, 500);
    await inject(site.topo, 'cl', 'esp', SITE.gwAOuter, f.packets);
    const mid = await workerAfter(pair.statusA, (w) => w.espDrops! >= before.espDrops! + 7, 'seven drops');
    expect(delta(before, mid)).toEqual(f.expect);
    await inject(site.topo, 'cl', 'esp', SITE.gwAOuter, burst);
    const after = await workerAfter(pair.statusA, (w) => w.espDrops! >= mid.espDrops! + 500, '500 more drops');
    expect(after.espDrops! - mid.espDrops!).toBe(500);
    expect(after.espRx! - before.espRx!).toBe(0);
    expect(pair.a.isRunning()).toBe(true);
    const p = await ping(site.topo, 'lan', SITE.lanB, { count: 5, intervalSec: 0.1 });
    expect(p.received, `${p.output}\n${pair.tail()}`).toBe(5);
  }, 60_000);
});
