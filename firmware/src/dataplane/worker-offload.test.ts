// The worker with every offload on, between two namespaces: TSO reads and GRO writes on the TUN device (virtio-net header), UDP GSO/GRO on the wire.
//
//   netns A                                                        netns B
//   tunA 198.51.100.1/24, 2001:db8:a::1/64 ─ worker A ── veth ── worker B ─ tunB 203.0.113.1/24, 2001:db8:b::1/64
//   SA X (A→B, AES-GCM-256), SA Y (B→A, ChaCha20-Poly1305); ESP-in-UDP 4500, or plain ESP
//
// Bulk TCP both ways (IPv4 and IPv6 inside) must arrive byte for byte (SHA-256 compared), and the counters must
// show the offloads doing the work: super-packets read, coalesced writes, multi-datagram sends and reads. The
// kernel accepting our coalesced writes is the real check of op_gro_coalesce's headers and checksums.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EncrId, IntegId } from '../ike/constants.ts';
import { loadNativeAddon, type NativeWorkerStats } from './native-addon.ts';
import { commandRunner, joinNamespaces, tearDownWorkers, tsNet, workerStats, type WorkerSide } from './testing/worker-netns.ts';

const addon = loadNativeAddon();
const id = randomBytes(3).toString('hex');
const nsA = `op-oa-${id}`;
const nsB = `op-ob-${id}`;

const { run, must } = commandRunner(30_000);

const canRun = ((): string | null => {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  if (run('ip', '-V').code !== 0) return 'iproute2 missing';
  if (run('/usr/bin/python3', '-V').code !== 0) return 'python3 missing (TCP transfer)';
  return null;
})();
if (canRun) console.log(`skipping offload worker tests: ${canRun}`);

const any4 = tsNet('0.0.0.0', '255.255.255.255');
const any6 = tsNet('::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');

type Side = WorkerSide;

const stats = (s: Side): NativeWorkerStats => workerStats(addon, s);

function startSide(ns: string, tun: string, bindAddr: string): Side {
  const t = addon.tunOpen(tun, `/run/netns/${ns}`, true, true);
  if (typeof t === 'number') throw new Error(`tunOpen: ${addon.errnoName(t)}`);
  expect(t.offload).toBe(true);
  const w = addon.workerStart({ tunFd: t.fd, bindAddr, port: 4500, netnsPath: `/run/netns/${ns}`, plainEsp: true, tunMtu: 1400, pathMtu: 1500, clampMss: true });
  if (typeof w === 'number') throw new Error(`workerStart: ${addon.errnoName(w)}`);
  return { tunFd: t.fd, handle: w.handle };
}

/** Sends `mb` MiB of random data over TCP from namespace `from` to `to`:5001; returns both ends' SHA-256. */
async function transfer(from: string, to: string, dst: string, src: string, mb: number): Promise<{ sent: string; received: string }> {
  const server = spawn('ip', ['netns', 'exec', to, '/usr/bin/python3', '-c', [
    'import socket,hashlib',
    `s=socket.socket(socket.AF_INET6 if ':' in '${dst}' else socket.AF_INET);s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)`,
    `s.bind(('${dst}',5001));s.listen(1);s.settimeout(20);print('listening',flush=True)`,
    'c,_=s.accept();h=hashlib.sha256()',
    'while True:',
    '    d=c.recv(1<<20)',
    '    if not d: break',
    '    h.update(d)',
    'print(h.hexdigest(),flush=True)',
  ].join('\n')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  server.stdout.on('data', (d: Buffer) => (out += d.toString()));
  server.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => server.on('exit', r));
  for (let i = 0; i < 300 && !out.includes('listening'); i++) await new Promise((r) => setTimeout(r, 10));
  const client = run('ip', 'netns', 'exec', from, '/usr/bin/python3', '-c', [
    'import socket,hashlib,os',
    `c=socket.create_connection(('${dst}',5001),timeout=20,source_address=('${src}',0));h=hashlib.sha256()`,
    `for i in range(${mb * 16}):`,
    '    d=os.urandom(65536);h.update(d);c.sendall(d)',
    'c.close();print(h.hexdigest())',
  ].join('\n'));
  await exited;
  expect(client.code, client.out).toBe(0);
  return { sent: client.out.trim(), received: out.split('\n')[1]?.trim() ?? out };
}

describe.skipIf(canRun !== null)('packet worker with TUN and UDP offloads', () => {
  let a: Side;
  let b: Side;
  const spiX = 0x0c000000 + randomBytes(2).readUInt16BE(0);
  const spiY = spiX + 0x10000;

  beforeAll(() => {
    joinNamespaces(must, { nsA, nsB, vethA: `oa-${id}`, vethB: `ob-${id}` });
    a = startSide(nsA, 'tunA', '192.0.2.1');
    b = startSide(nsB, 'tunB', '192.0.2.2');
    for (const [ns, tun, v4, v6, peer4, peer6] of [
      [nsA, 'tunA', '198.51.100.1/24', '2001:db8:a::1/64', '203.0.113.0/24', '2001:db8:b::/64'],
      [nsB, 'tunB', '203.0.113.1/24', '2001:db8:b::1/64', '198.51.100.0/24', '2001:db8:a::/64'],
    ] as const) {
      must('ip', '-n', ns, 'link', 'set', tun, 'addrgenmode', 'none');
      must('ip', '-n', ns, 'addr', 'add', v4, 'dev', tun);
      must('ip', '-n', ns, 'addr', 'add', v6, 'dev', tun, 'nodad');
      must('ip', '-n', ns, 'link', 'set', tun, 'up');
      must('ip', '-n', ns, 'route', 'add', peer4, 'dev', tun);
      must('ip', '-n', ns, 'route', 'add', peer6, 'dev', tun);
    }
    const x = { encrId: EncrId.AES_GCM_16, encrKeyBits: 256, encKey: new Uint8Array(randomBytes(36)), integId: IntegId.NONE, esn: true, replayWindow: 4096 };
    const y = { encrId: EncrId.CHACHA20_POLY1305, encKey: new Uint8Array(randomBytes(36)), integId: IntegId.NONE, esn: true, replayWindow: 4096 };
    expect(addon.saAdd({ ...x, spi: spiX, direction: 'out' })).toBe(0);
    expect(addon.saAdd({ ...x, spi: spiX, direction: 'in', localTs: [any4, any6], remoteTs: [any4, any6] })).toBe(0);
    expect(addon.saAdd({ ...y, spi: spiY, direction: 'out' })).toBe(0);
    expect(addon.saAdd({ ...y, spi: spiY, direction: 'in', localTs: [any4, any6], remoteTs: [any4, any6] })).toBe(0);
  });

  afterAll(() => {
    tearDownWorkers(addon, run, { sides: [a, b], spis: [spiX, spiY], nsA, nsB });
  });

  const routes = (plainEsp: boolean) => {
    for (const [h, p4, p6, spi, remote] of [
      [a.handle, '203.0.113.0', '2001:db8:b::', spiX, '192.0.2.2'],
      [b.handle, '198.51.100.0', '2001:db8:a::', spiY, '192.0.2.1'],
    ] as const) {
      expect(addon.workerRouteAdd(h, { prefix: p4, prefixLen: 24, spi, remoteAddr: remote, remotePort: 4500, plainEsp })).toBe(0);
      expect(addon.workerRouteAdd(h, { prefix: p6, prefixLen: 64, spi, remoteAddr: remote, remotePort: 4500, plainEsp })).toBe(0);
    }
  };

  for (const [label, plainEsp] of [
    ['ESP-in-UDP with UDP GSO/GRO', false],
    ['plain ESP', true],
  ] as const) {
    test(`${label}: 4 MiB of TCP each way, over IPv4 and IPv6, arrive intact; the offloads carried them`, async () => {
      routes(plainEsp);
      const [a0, b0] = [stats(a), stats(b)];
      for (const [from, to, dst, src] of [
        [nsA, nsB, '203.0.113.1', '198.51.100.1'],
        [nsB, nsA, '198.51.100.1', '203.0.113.1'],
        [nsA, nsB, '2001:db8:b::1', '2001:db8:a::1'],
        [nsB, nsA, '2001:db8:a::1', '2001:db8:b::1'],
      ] as const) {
        const r = await transfer(from, to, dst, src, 4);
        expect(r.received, `${from} → ${dst}`).toBe(r.sent);
      }
      const [a1, b1] = [stats(a), stats(b)];
      for (const [s0, s1] of [[a0, a1], [b0, b1]] as const) {
        expect(s1.gsoRx - s0.gsoRx, 'TSO super-packets read').toBeGreaterThan(0n);
        expect(s1.tunRx - s0.tunRx, 'segments of them').toBeGreaterThan(s1.gsoRx - s0.gsoRx);
        expect(s1.groTx - s0.groTx, 'coalesced TUN writes').toBeGreaterThan(0n);
        expect(s1.espRx - s0.espRx).toBeGreaterThan(s1.groTx - s0.groTx);
        expect(s1.espDrops - s0.espDrops).toBe(0n);
        expect(s1.txErrors - s0.txErrors).toBe(0n);
        if (plainEsp) {
          expect(s1.rawRx - s0.rawRx).toBeGreaterThan(1000n);
          expect(s1.udpGsoTx - s0.udpGsoTx).toBe(0n);
        } else {
          expect(s1.udpGsoTx - s0.udpGsoTx, 'multi-datagram sends').toBeGreaterThan(0n);
          expect(s1.udpGroRx - s0.udpGroRx, 'multi-datagram reads').toBeGreaterThan(0n);
        }
      }
    }, 60_000);
  }

  test('pings (1300-octet ICMP, ICMPv6) still pass one by one: non-TCP is never coalesced', () => {
    routes(false);
    const r = run('ip', 'netns', 'exec', nsA, 'ping', '-c', '3', '-i', '0.1', '-W', '2', '-s', '1300', '-I', '198.51.100.1', '203.0.113.1');
    expect(r.code, r.out).toBe(0);
    const r6 = run('ip', 'netns', 'exec', nsB, 'ping', '-6', '-c', '3', '-i', '0.1', '-W', '2', '-I', '2001:db8:b::1', '2001:db8:a::1');
    expect(r6.code, r6.out).toBe(0);
  });
});
