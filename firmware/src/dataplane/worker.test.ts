// The native packet worker end to end: two userspace gateways in namespaces carry ping through ESP-in-UDP (RFC 3948) and hand IKE up.
//
//   netns A                                              netns B
//   tunA 198.51.100.1/24 ─ worker A ── veth 192.0.2.1 ── 192.0.2.2 ── worker B ─ tunB 203.0.113.1/24
//   route 203.0.113.0/24 dev tunA    SA X (A→B), SA Y (B→A), UDP 4500   route 198.51.100.0/24 dev tunB
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EncrId, IntegId } from '../ike/constants.ts';
import { loadNativeAddon, type NativeWorkerStats } from './native-addon.ts';
import { commandRunner, joinNamespaces, tearDownWorkers, tsNet, workerStats, type WorkerSide } from './testing/worker-netns.ts';

const addon = loadNativeAddon();
const id = randomBytes(3).toString('hex');
const nsA = `op-wa-${id}`;
const nsB = `op-wb-${id}`;

const { run, must } = commandRunner(20_000);

const canRun = ((): string | null => {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  if (run('ip', '-V').code !== 0) return 'iproute2 missing';
  if (run('ping', '-V').code !== 0) return 'ping missing';
  return null;
})();
if (canRun) console.log(`skipping worker namespace tests: ${canRun}`);

const lanA = tsNet('198.51.100.0', '198.51.100.255');
const lanB = tsNet('203.0.113.0', '203.0.113.255');

interface Side extends WorkerSide {
  ike: Array<{ msg: Uint8Array; addr: string; port: number; local?: string; localPort?: number }>;
}

const stats = (s: Side): NativeWorkerStats => workerStats(addon, s);

function startSide(ns: string, tun: string, bindAddr: string): Side {
  const t = addon.tunOpen(tun, `/run/netns/${ns}`, true);
  if (typeof t === 'number') throw new Error(`tunOpen: ${addon.errnoName(t)}`);
  const ike: Side['ike'] = [];
  const w = addon.workerStart({ tunFd: t.fd, bindAddr, port: 4500, netnsPath: `/run/netns/${ns}`, onIke: (msg, addr, port) => ike.push({ msg, addr, port }) });
  if (typeof w === 'number') throw new Error(`workerStart: ${addon.errnoName(w)}`);
  expect(w.port).toBe(4500);
  return { tunFd: t.fd, handle: w.handle, ike };
}

describe.skipIf(canRun !== null)('packet worker between two namespaces', () => {
  let a: Side;
  let b: Side;
  let c: Side | undefined;
  const spiX = 0x0a000000 + randomBytes(2).readUInt16BE(0);
  const spiY = spiX + 0x10000;
  const keyX = new Uint8Array(randomBytes(36));
  const keyY = new Uint8Array(randomBytes(36));

  beforeAll(() => {
    joinNamespaces(must, { nsA, nsB, vethA: `va-${id}`, vethB: `vb-${id}` });

    a = startSide(nsA, 'tunA', '192.0.2.1');
    b = startSide(nsB, 'tunB', '192.0.2.2');
    must('ip', '-n', nsA, 'addr', 'add', '198.51.100.1/24', 'dev', 'tunA');
    // No IPv6 link-local on the TUN: its router solicitations would show up in the no-route counter.
    must('ip', '-n', nsA, 'link', 'set', 'tunA', 'addrgenmode', 'none');
    must('ip', '-n', nsA, 'link', 'set', 'tunA', 'up');
    must('ip', '-n', nsA, 'route', 'add', '203.0.113.0/24', 'dev', 'tunA');
    must('ip', '-n', nsB, 'addr', 'add', '203.0.113.1/24', 'dev', 'tunB');
    must('ip', '-n', nsB, 'link', 'set', 'tunB', 'addrgenmode', 'none');
    must('ip', '-n', nsB, 'link', 'set', 'tunB', 'up');
    must('ip', '-n', nsB, 'route', 'add', '198.51.100.0/24', 'dev', 'tunB');

    // X carries A→B, Y carries B→A; ChaCha20-Poly1305 one way, AES-GCM-256 the other.
    const sa = { integId: IntegId.NONE, esn: true, replayWindow: 1024 };
    expect(addon.saAdd({ ...sa, spi: spiX, direction: 'out', encrId: EncrId.CHACHA20_POLY1305, encKey: keyX })).toBe(0);
    expect(addon.saAdd({ ...sa, spi: spiX, direction: 'in', encrId: EncrId.CHACHA20_POLY1305, encKey: keyX, localTs: [lanB], remoteTs: [lanA] })).toBe(0);
    expect(addon.saAdd({ ...sa, spi: spiY, direction: 'out', encrId: EncrId.AES_GCM_16, encrKeyBits: 256, encKey: keyY })).toBe(0);
    expect(addon.saAdd({ ...sa, spi: spiY, direction: 'in', encrId: EncrId.AES_GCM_16, encrKeyBits: 256, encKey: keyY, localTs: [lanA], remoteTs: [lanB] })).toBe(0);
    expect(addon.workerRouteAdd(a.handle, { prefix: '203.0.113.0', prefixLen: 24, spi: spiX, remoteAddr: '192.0.2.2', remotePort: 4500 })).toBe(0);
    expect(addon.workerRouteAdd(b.handle, { prefix: '198.51.100.0', prefixLen: 24, spi: spiY, remoteAddr: '192.0.2.1', remotePort: 4500 })).toBe(0);
  });

  afterAll(() => {
    tearDownWorkers(addon, run, { sides: [a, b, c], spis: [spiX, spiY], nsA, nsB });
  });

  test('ping crosses the tunnel both ways through both workers', () => {
    const r = run('ip', 'netns', 'exec', nsA, 'ping', '-c', '5', '-i', '0.2', '-W', '2', '-I', '198.51.100.1', '203.0.113.1');
    expect(r.code, r.out).toBe(0);
    const sa = stats(a);
    const sb = stats(b);
    expect(sa.tunRx).toBeGreaterThanOrEqual(5n);
    expect(sa.espTx).toBeGreaterThanOrEqual(5n);
    expect(sb.espRx).toBeGreaterThanOrEqual(5n);
    expect(sb.espTx).toBeGreaterThanOrEqual(5n);
    expect(sa.espRx).toBeGreaterThanOrEqual(5n);
    for (const [spi, dir] of [[spiX, 'out'], [spiX, 'in'], [spiY, 'out'], [spiY, 'in']] as const) {
      const q = addon.saQuery(spi, dir);
      expect(typeof q !== 'number' && q.packets).toBeGreaterThanOrEqual(5n);
    }
  });

  test('a larger transfer: 200 pings of 1400 octets, none lost', () => {
    const r = run('ip', 'netns', 'exec', nsA, 'ping', '-c', '200', '-i', '0.002', '-s', '1372', '-W', '2', '-q', '-I', '198.51.100.1', '203.0.113.1');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/200 received/);
  });

  test('IKE goes up with the marker stripped; keepalives and unknown SPIs are dropped and counted', async () => {
    const msg = new Uint8Array(randomBytes(60));
    expect(addon.workerSendIke(a.handle, msg, '192.0.2.2', 4500)).toBe(0);
    const before = stats(b);
    const noSa = addon.globalStats().noSa;
    const py = "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('192.0.2.1',0));s.sendto(b'\\xff',('192.0.2.2',4500));s.sendto(b'\\x00\\x00\\x12\\x34'+b'x'*40,('192.0.2.2',4500));s.sendto(b'\\x01',('192.0.2.2',4500))";
    expect(run('ip', 'netns', 'exec', nsA, '/usr/bin/python3', '-c', py).code).toBe(0);
    for (let i = 0; i < 100 && (b.ike.length === 0 || stats(b).udpRx < before.udpRx + 3n); i++) await new Promise((r) => setTimeout(r, 10));
    expect(b.ike).toHaveLength(1);
    expect(b.ike[0]!.addr).toBe('192.0.2.1');
    expect(b.ike[0]!.port).toBe(4500);
    expect(Buffer.from(b.ike[0]!.msg).equals(Buffer.from(msg))).toBe(true);
    const after = stats(b);
    expect(after.keepaliveRx - before.keepaliveRx).toBe(1n);
    expect(after.espDrops - before.espDrops).toBe(1n);
    expect(after.runtDrops - before.runtDrops).toBe(1n);
    expect(addon.globalStats().noSa - noSa).toBe(1n);
  });

  test('inner sources outside the SA selectors are dropped at B (RFC 4301 §5.2)', () => {
    // From A's outer address: it leaves through tunA (route), is encrypted under X, but X only admits 198.51.100.0/24.
    const before = addon.saQuery(spiX, 'in');
    const r = run('ip', 'netns', 'exec', nsA, 'ping', '-c', '2', '-i', '0.2', '-W', '1', '-I', '192.0.2.1', '203.0.113.1');
    expect(r.code).not.toBe(0);
    const after = addon.saQuery(spiX, 'in');
    if (typeof before === 'number' || typeof after === 'number') throw new Error('SA missing');
    expect(after.policyDrops - before.policyDrops).toBe(2n);
  });

  test('PKTINFO: a wildcard socket reports the address each IKE datagram was sent to, and replies from it', async () => {
    must('ip', '-n', nsB, 'addr', 'add', '192.0.2.12/24', 'dev', `vb-${id}`);
    must('ip', '-n', nsA, 'addr', 'add', '2001:db8:77::1/64', 'dev', `va-${id}`, 'nodad');
    must('ip', '-n', nsB, 'addr', 'add', '2001:db8:77::2/64', 'dev', `vb-${id}`, 'nodad');
    must('ip', '-n', nsB, 'addr', 'add', '2001:db8:77::12/64', 'dev', `vb-${id}`, 'nodad');
    const t = addon.tunOpen('tunC', `/run/netns/${nsB}`, true);
    if (typeof t === 'number') throw new Error(`tunOpen: ${addon.errnoName(t)}`);
    const ike: Side['ike'] = [];
    const w = addon.workerStart({
      tunFd: t.fd,
      sockets: [
        { addr: '0.0.0.0', port: 4501 },
        { addr: '::', port: 4501, v6only: true },
      ],
      netnsPath: `/run/netns/${nsB}`,
      onIke: (msg, addr, port, local, localPort) => ike.push({ msg, addr, port, local, localPort }),
    });
    if (typeof w === 'number') throw new Error(`workerStart: ${addon.errnoName(w)}`);
    c = { tunFd: t.fd, handle: w.handle, ike };
    expect(w.sockets).toEqual([
      { addr: '0.0.0.0', port: 4501 },
      { addr: '::', port: 4501 },
    ]);
    // The peer sends to each of B's two addresses and waits for one reply.
    const py = [
      'import socket,sys',
      "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('192.0.2.1',4600));s.settimeout(5)",
      "s.sendto(b'\\x00\\x00\\x00\\x00to-first',('192.0.2.2',4501))",
      "s.sendto(b'\\x00\\x00\\x00\\x00to-second',('192.0.2.12',4501))",
      "s6=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM);s6.bind(('2001:db8:77::1',4600));s6.settimeout(5)",
      "s6.sendto(b'\\x00\\x00\\x00\\x00to-third',('2001:db8:77::12',4501))",
      'd,a=s.recvfrom(100)',
      "print(a[0],a[1],d.hex(),flush=True)",
      'd,a=s6.recvfrom(100)',
      "print(a[0],a[1],d.hex(),flush=True)",
    ].join('\n');
    const peer = spawn('ip', ['netns', 'exec', nsA, '/usr/bin/python3', '-c', py], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    peer.stdout.on('data', (d: Buffer) => (out += d.toString()));
    peer.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise((r) => peer.on('exit', r));
    for (let i = 0; i < 300 && ike.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    const byText = Object.fromEntries(ike.map((m) => [new TextDecoder().decode(m.msg), m]));
    expect(byText['to-first']).toMatchObject({ addr: '192.0.2.1', port: 4600, local: '192.0.2.2', localPort: 4501 });
    expect(byText['to-second']).toMatchObject({ addr: '192.0.2.1', port: 4600, local: '192.0.2.12', localPort: 4501 });
    expect(byText['to-third']).toMatchObject({ addr: '2001:db8:77::1', port: 4600, local: '2001:db8:77::12', localPort: 4501 });
    // The replies name the second addresses as their source: the peer must see them come from there.
    const hexReply = Buffer.from('reply').toString('hex');
    expect(addon.workerSendIke(w.handle, new TextEncoder().encode('reply'), '192.0.2.1', 4600, '192.0.2.12', 4501)).toBe(0);
    expect(addon.workerSendIke(w.handle, new TextEncoder().encode('reply'), '2001:db8:77::1', 4600, '2001:db8:77::12', 4501)).toBe(0);
    await done;
    expect(out.trim().split('\n')).toEqual([`192.0.2.12 4501 00000000${hexReply}`, `2001:db8:77::12 4501 00000000${hexReply}`]);
    expect(addon.workerSendIke(w.handle, new Uint8Array(4), '192.0.2.1', 4600, '192.0.2.1', 4999)).toBe(-99); // EADDRNOTAVAIL: no socket on that port
  });

  test('path MTU: a DF packet too big for the outer path draws ICMP fragmentation needed; others pass', () => {
    must('ip', '-n', nsA, 'route', 'flush', 'cache');
    expect(addon.workerConfigure(a.handle, { pathMtu: 1300 })).toBe(0);
    try {
      // X is ChaCha20-Poly1305 (8 IV, 16 ICV, 4-octet blocks) over IPv4+UDP: 1300 - 28 - 32 = 1240 = 1238 inner + 2.
      const before = stats(a).tooBig;
      const big = run('ip', 'netns', 'exec', nsA, 'ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '1300', '-I', '198.51.100.1', '203.0.113.1');
      expect(big.code, big.out).not.toBe(0);
      expect(big.out).toMatch(/Frag needed and DF set \(mtu = 1238\)/);
      expect(stats(a).tooBig - before).toBe(1n);
      expect(run('ip', '-n', nsA, 'route', 'get', '203.0.113.1', 'from', '198.51.100.1').out).toMatch(/mtu 1238/);
      // Exactly the limit fits; without DF a bigger packet goes out and is fragmented outside.
      const fits = run('ip', 'netns', 'exec', nsA, 'ping', '-c', '1', '-W', '2', '-M', 'do', '-s', String(1238 - 28), '-I', '198.51.100.1', '203.0.113.1');
      expect(fits.code, fits.out).toBe(0);
      const noDf = run('ip', 'netns', 'exec', nsA, 'ping', '-c', '1', '-W', '2', '-M', 'dont', '-s', '1300', '-I', '198.51.100.1', '203.0.113.1');
      expect(noDf.code, noDf.out).toBe(0);
      expect(stats(a).tooBig - before).toBe(1n);
    } finally {
      addon.workerConfigure(a.handle, { pathMtu: 0 });
      run('ip', '-n', nsA, 'route', 'flush', 'cache');
    }
  });

  test('MSS clamping: SYN and SYN-ACK through the tunnel carry an MSS that fits the path', async () => {
    const tcpMss = async (): Promise<{ server: number; client: number }> => {
      const srv = spawn('ip', ['netns', 'exec', nsB, '/usr/bin/python3', '-c', [
        'import socket',
        's=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind((\'203.0.113.1\',5001));s.listen(1);s.settimeout(10)',
        'print(\'listening\',flush=True)',
        'c,_=s.accept();print(c.getsockopt(socket.IPPROTO_TCP,socket.TCP_MAXSEG),flush=True);c.close()',
      ].join('\n')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      srv.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise((r) => srv.on('exit', r));
      for (let i = 0; i < 300 && !out.includes('listening'); i++) await new Promise((r) => setTimeout(r, 10));
      const cl = run('ip', 'netns', 'exec', nsA, '/usr/bin/python3', '-c', [
        'import socket',
        'c=socket.create_connection((\'203.0.113.1\',5001),timeout=5,source_address=(\'198.51.100.1\',0))',
        'print(c.getsockopt(socket.IPPROTO_TCP,socket.TCP_MAXSEG));c.close()',
      ].join('\n'));
      await exited;
      expect(cl.code, cl.out).toBe(0);
      return { server: Number(out.split('\n')[1]), client: Number(cl.out.trim()) };
    };
    // Unclamped: both ends of 1500-octet TUN devices announce 1460 (minus 12 octets of timestamps in use).
    const plain = await tcpMss();
    expect(plain.server).toBeGreaterThanOrEqual(1448);
    // Clamped at A for a 1300-octet outer path: 1238 inner (see above) - 40 = 1198, in both directions.
    expect(addon.workerConfigure(a.handle, { clampMss: true, tunMtu: 1400, pathMtu: 1300 })).toBe(0);
    try {
      const before = stats(a).mssClamped;
      const clamped = await tcpMss();
      expect([1198, 1186]).toContain(clamped.server); // B saw A's SYN with MSS 1198
      expect([1198, 1186]).toContain(clamped.client); // A's stack saw B's SYN-ACK clamped on the way in
      expect(stats(a).mssClamped - before).toBe(2n);
    } finally {
      addon.workerConfigure(a.handle, { clampMss: false, tunMtu: 0, pathMtu: 0 });
    }
  });

  test('without a route, TUN packets are dropped and counted', () => {
    expect(addon.workerRouteDel(a.handle, '203.0.113.0', 24)).toBe(0);
    expect(addon.workerRouteDel(a.handle, '203.0.113.0', 24)).toBe(-2);
    const before = stats(a).noRoute;
    const r = run('ip', 'netns', 'exec', nsA, 'ping', '-c', '2', '-i', '0.2', '-W', '1', '-I', '198.51.100.1', '203.0.113.1');
    expect(r.code).not.toBe(0);
    expect(stats(a).noRoute - before).toBe(2n);
    expect(addon.workerRouteAdd(a.handle, { prefix: '203.0.113.0', prefixLen: 24, spi: spiX, remoteAddr: '192.0.2.2', remotePort: 4500 })).toBe(0);
    expect(run('ip', 'netns', 'exec', nsA, 'ping', '-c', '1', '-W', '2', '-I', '198.51.100.1', '203.0.113.1').code).toBe(0);
  });
});

describe('worker without namespaces', () => {
  test('argument and address errors', () => {
    expect(() => addon.workerStart({ tunFd: -1, bindAddr: '127.0.0.1', port: 0 })).toThrow(TypeError);
    expect(addon.workerStart({ tunFd: 0, bindAddr: 'not-an-address', port: 0 })).toBe(-22);
    expect(addon.workerStart({ tunFd: 0, bindAddr: '127.0.0.1', port: 0, netnsPath: '/run/netns/missing-ns' })).toBe(-2);
  });

  test('a stopped worker refuses work; routes need addresses of the socket family', () => {
    const t = addon.tunOpen('', undefined, true);
    if (typeof t === 'number') {
      console.log(`skipping: tunOpen ${addon.errnoName(t)}`);
      return;
    }
    const w = addon.workerStart({ tunFd: t.fd, bindAddr: '127.0.0.1', port: 0 });
    if (typeof w === 'number') throw new Error(addon.errnoName(w));
    expect(w.port).toBeGreaterThan(0);
    expect(addon.workerRouteAdd(w.handle, { prefix: '2001:db8::', prefixLen: 32, spi: 0x1234, remoteAddr: '::1', remotePort: 4500 })).toBe(-97); // EAFNOSUPPORT
    expect(addon.workerRouteAdd(w.handle, { prefix: '10.0.0.0', prefixLen: 33, spi: 0x1234, remoteAddr: '127.0.0.1', remotePort: 4500 })).toBe(-22);
    expect(addon.workerRouteAdd(w.handle, { prefix: '10.1.2.3', prefixLen: 8, spi: 0x1234, remoteAddr: '127.0.0.1', remotePort: 4500 })).toBe(0);
    expect(addon.workerRouteAdd(w.handle, { prefix: '10.9.9.9', prefixLen: 8, spi: 0x1235, remoteAddr: '127.0.0.1', remotePort: 4500 })).toBe(0); // same prefix: replaced
    const s = addon.workerStats(w.handle);
    expect(typeof s !== 'number' && s.routes).toBe(1);
    expect(addon.workerStop(w.handle)).toBe(0);
    expect(addon.workerStop(w.handle)).toBe(-114); // EALREADY
    expect(addon.workerSendIke(w.handle, new Uint8Array(4), '127.0.0.1', 500)).toBe(-108); // ESHUTDOWN
    addon.closeFd(t.fd);
  });
});
