// Plain ESP (RFC 4303, IP protocol 50) through the native worker between two namespaces, and inbound drops counted by reason.
//
//   netns A                                                   netns B
//   tunA 198.51.100.1/24 ─ worker A ── veth 192.0.2.1      ── 192.0.2.2      ── worker B ─ tunB 203.0.113.1/24
//                                      2001:db8:50::1      ── 2001:db8:50::2
//   raw ESP sockets (IPv4, IPv6) and UDP 4500 on both; SA X (A→B, AES-CBC-256 + HMAC-SHA2-256), SA Y (B→A, AES-GCM-256)
//
// The SA table is process-wide, so this test also forges packets under X (addon.encrypt) and injects them at B
// from A's namespace through a raw socket, to see each kind of bad packet dropped and counted once.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { randomBytes } from 'node:crypto';
import { EncrId, IntegId } from '../ike/constants.ts';
import { loadNativeAddon, type NativeWorkerStats } from './native-addon.ts';
import { commandRunner, joinNamespaces, tearDownWorkers, tsNet, workerStats, type WorkerSide } from './testing/worker-netns.ts';

const addon = loadNativeAddon();
const id = randomBytes(3).toString('hex');
const nsA = `op-pa-${id}`;
const nsB = `op-pb-${id}`;

const { run, must } = commandRunner(20_000);

const canRun = ((): string | null => {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces and raw sockets';
  if (run('ip', '-V').code !== 0) return 'iproute2 missing';
  if (run('ping', '-V').code !== 0) return 'ping missing';
  if (run('/usr/bin/python3', '-V').code !== 0) return 'python3 missing (packet injection)';
  return null;
})();
if (canRun) console.log(`skipping plain ESP worker tests: ${canRun}`);

const lanA = tsNet('198.51.100.0', '198.51.100.255');
const lanB = tsNet('203.0.113.0', '203.0.113.255');

type Side = WorkerSide;

const stats = (s: Side): NativeWorkerStats => workerStats(addon, s);

function startSide(ns: string, tun: string): Side {
  const t = addon.tunOpen(tun, `/run/netns/${ns}`, true);
  if (typeof t === 'number') throw new Error(`tunOpen: ${addon.errnoName(t)}`);
  const w = addon.workerStart({
    tunFd: t.fd,
    sockets: [
      { addr: '0.0.0.0', port: 4500 },
      { addr: '::', port: 4500, v6only: true },
    ],
    netnsPath: `/run/netns/${ns}`,
    plainEsp: true,
  });
  if (typeof w === 'number') throw new Error(`workerStart: ${addon.errnoName(w)}`);
  expect(w.plainEsp).toEqual({ families: [4, 6], error: 0 });
  return { tunFd: t.fd, handle: w.handle };
}

/** Sends each packet (hex) from namespace A to `dst` as IP protocol 50 through a raw socket. */
function injectEsp(dst: string, packets: Uint8Array[]): void {
  const fam = dst.includes(':') ? 'AF_INET6' : 'AF_INET';
  const py = [
    'import socket,sys',
    `s=socket.socket(socket.${fam},socket.SOCK_RAW,50)`,
    `for h in sys.argv[1:]: s.sendto(bytes.fromhex(h),('${dst}',0))`,
  ].join('\n');
  const r = run('ip', 'netns', 'exec', nsA, '/usr/bin/python3', '-c', py, ...packets.map((p) => Buffer.from(p).toString('hex')));
  if (r.code !== 0) throw new Error(`inject: ${r.out}`);
}

/** An IPv4/UDP packet from lanA to lanB (checksums left zero: only the ESP layer is under test). */
function innerPacket(): Uint8Array {
  const p = new Uint8Array(48);
  p.set([0x45, 0, 0, 48, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 51, 100, 1, 203, 0, 113, 1]);
  p.set([0x30, 0x39, 0x30, 0x39, 0, 28, 0, 0], 20);
  return p;
}

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(canRun !== null)('plain ESP (IP protocol 50) between two workers', () => {
  let a: Side;
  let b: Side;
  const spiX = 0x0b000000 + randomBytes(2).readUInt16BE(0);
  const spiY = spiX + 0x10000;

  beforeAll(() => {
    joinNamespaces(must, { nsA, nsB, vethA: `pa-${id}`, vethB: `pb-${id}` }, ['2001:db8:50::1/64', '2001:db8:50::2/64']);

    a = startSide(nsA, 'tunA');
    b = startSide(nsB, 'tunB');
    for (const [ns, tun, addr, peerNet] of [
      [nsA, 'tunA', '198.51.100.1/24', '203.0.113.0/24'],
      [nsB, 'tunB', '203.0.113.1/24', '198.51.100.0/24'],
    ] as const) {
      must('ip', '-n', ns, 'addr', 'add', addr, 'dev', tun);
      must('ip', '-n', ns, 'link', 'set', tun, 'addrgenmode', 'none');
      must('ip', '-n', ns, 'link', 'set', tun, 'up');
      must('ip', '-n', ns, 'route', 'add', peerNet, 'dev', tun);
    }

    const keyX = new Uint8Array(randomBytes(32));
    const integX = new Uint8Array(randomBytes(32));
    const keyY = new Uint8Array(randomBytes(36));
    const x = { encrId: EncrId.AES_CBC, encrKeyBits: 256, encKey: keyX, integId: IntegId.HMAC_SHA2_256_128, integKey: integX, esn: false, replayWindow: 64 };
    const y = { encrId: EncrId.AES_GCM_16, encrKeyBits: 256, encKey: keyY, integId: IntegId.NONE, esn: true, replayWindow: 1024 };
    expect(addon.saAdd({ ...x, spi: spiX, direction: 'out' })).toBe(0);
    expect(addon.saAdd({ ...x, spi: spiX, direction: 'in', localTs: [lanB], remoteTs: [lanA] })).toBe(0);
    expect(addon.saAdd({ ...y, spi: spiY, direction: 'out' })).toBe(0);
    expect(addon.saAdd({ ...y, spi: spiY, direction: 'in', localTs: [lanA], remoteTs: [lanB] })).toBe(0);
  });

  afterAll(() => {
    tearDownWorkers(addon, run, { sides: [a, b], spis: [spiX, spiY], nsA, nsB });
  });

  const route = (outer: 4 | 6, plainEsp: boolean) => {
    const [ra, rb] = outer === 4 ? ['192.0.2.2', '192.0.2.1'] : ['2001:db8:50::2', '2001:db8:50::1'];
    expect(addon.workerRouteAdd(a.handle, { prefix: '203.0.113.0', prefixLen: 24, spi: spiX, remoteAddr: ra, remotePort: 4500, plainEsp })).toBe(0);
    expect(addon.workerRouteAdd(b.handle, { prefix: '198.51.100.0', prefixLen: 24, spi: spiY, remoteAddr: rb, remotePort: 4500, plainEsp })).toBe(0);
  };

  for (const outer of [4, 6] as const) {
    test(`ping both ways over IPv${outer}: protocol 50 on the wire, read by the raw sockets, no UDP`, () => {
      route(outer, true);
      const [a0, b0] = [stats(a), stats(b)];
      const r = run('ip', 'netns', 'exec', nsA, 'ping', '-c', '5', '-i', '0.1', '-W', '2', '-I', '198.51.100.1', '203.0.113.1');
      expect(r.code, r.out).toBe(0);
      const big = run('ip', 'netns', 'exec', nsB, 'ping', '-c', '20', '-i', '0.01', '-s', '1300', '-W', '2', '-q', '-I', '203.0.113.1', '198.51.100.1');
      expect(big.code, big.out).toBe(0);
      const [a1, b1] = [stats(a), stats(b)];
      for (const [s0, s1] of [[a0, a1], [b0, b1]] as const) {
        expect(s1.rawRx - s0.rawRx).toBe(25n);
        expect(s1.espRx - s0.espRx).toBe(25n);
        expect(s1.espTx - s0.espTx).toBe(25n);
        expect(s1.udpRx - s0.udpRx).toBe(0n);
        expect(s1.espDrops - s0.espDrops).toBe(0n);
      }
    });
  }

  test('one SA, either socket: ESP-in-UDP and plain ESP are both demultiplexed by SPI', () => {
    route(4, false);
    const [b0] = [stats(b)];
    expect(run('ip', 'netns', 'exec', nsA, 'ping', '-c', '3', '-i', '0.1', '-W', '2', '-I', '198.51.100.1', '203.0.113.1').code).toBe(0);
    const b1 = stats(b);
    expect(b1.udpRx - b0.udpRx).toBe(3n); // A → B now in UDP
    expect(b1.rawRx - b0.rawRx).toBe(0n);
    route(4, true);
    expect(run('ip', 'netns', 'exec', nsA, 'ping', '-c', '3', '-i', '0.1', '-W', '2', '-I', '198.51.100.1', '203.0.113.1').code).toBe(0);
    expect(stats(b).rawRx - b1.rawRx).toBe(3n);
  });

  test('replayed, truncated, wrong-SPI and bad-ICV packets are dropped and counted by reason; good ones still pass', async () => {
    const enc = (): Uint8Array => {
      const e = addon.encrypt(spiX, innerPacket());
      if (typeof e === 'number') throw new Error(addon.errnoName(e));
      return e;
    };
    const good = enc();
    const s0 = stats(b);
    injectEsp('192.0.2.2', [good]);
    await until(() => stats(b).espRx > s0.espRx, 'the genuine packet');

    const s1 = stats(b);
    const tampered = enc();
    tampered[tampered.length - 1]! ^= 0x01; // last octet of the ICV
    const wrongSpi = enc();
    wrongSpi.set([0x0b, 0xad, 0x5b, 0x1d]);
    // Too short for header + IV + one block + ICV of AES-CBC/HMAC-SHA2-256-128 (8 + 16 + 16 + 16).
    const truncated = enc().slice(0, 40);
    injectEsp('192.0.2.2', [good, good, tampered, wrongSpi, truncated]);
    await until(() => stats(b).espDrops - s1.espDrops >= 5n, 'five drops');
    const s2 = stats(b);
    expect({
      replay: s2.dropReplay - s1.dropReplay,
      auth: s2.dropAuth - s1.dropAuth,
      noSa: s2.dropNoSa - s1.dropNoSa,
      truncated: s2.dropTruncated - s1.dropTruncated,
      total: s2.espDrops - s1.espDrops,
      accepted: s2.espRx - s1.espRx,
    }).toEqual({ replay: 2n, auth: 1n, noSa: 1n, truncated: 1n, total: 5n, accepted: 0n });
    // The SA's own counters agree, and the tunnel still carries traffic.
    const q = addon.saQuery(spiX, 'in');
    if (typeof q === 'number') throw new Error(addon.errnoName(q));
    expect(q.replayDrops).toBeGreaterThanOrEqual(2n);
    expect(q.authDrops).toBeGreaterThanOrEqual(1n);
    expect(run('ip', 'netns', 'exec', nsA, 'ping', '-c', '2', '-i', '0.1', '-W', '2', '-I', '198.51.100.1', '203.0.113.1').code).toBe(0);
  });
});

describe('plain ESP without raw sockets', () => {
  test('a worker started without plainEsp has no ESP socket and refuses plain ESP routes', () => {
    const t = addon.tunOpen('', undefined, true);
    if (typeof t === 'number') {
      console.log(`skipping: tunOpen ${addon.errnoName(t)}`);
      return;
    }
    const w = addon.workerStart({ tunFd: t.fd, bindAddr: '127.0.0.1', port: 0 });
    if (typeof w === 'number') throw new Error(addon.errnoName(w));
    try {
      expect(w.plainEsp).toEqual({ families: [], error: 0 });
      expect(addon.workerRouteAdd(w.handle, { prefix: '10.0.0.0', prefixLen: 8, spi: 0x1234, remoteAddr: '127.0.0.1', remotePort: 0, plainEsp: true })).toBe(-93); // EPROTONOSUPPORT
      expect(addon.workerRouteAdd(w.handle, { prefix: '10.0.0.0', prefixLen: 8, spi: 0x1234, remoteAddr: '127.0.0.1', remotePort: 4500 })).toBe(0);
      expect(() => addon.workerStart({ tunFd: t.fd, bindAddr: '127.0.0.1', port: 0, plainEsp: 'yes' as never })).toThrow(TypeError);
    } finally {
      addon.workerStop(w.handle);
      addon.closeFd(t.fd);
    }
  });
});
