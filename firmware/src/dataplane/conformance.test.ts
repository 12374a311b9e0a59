// Runs the Dataplane conformance suite against every backend this machine can run: mock, userspace, xfrm (simulated and real).
//
// The real xfrm backend runs inside a network namespace this file creates. On a kernel without ESP (these
// machines) only its SPI allocation, policy and acquire parts run; the SA parts are skipped with the probe's
// reason ("kernel has no ESP (xfrm state add: Requested type not found, EPROTONOSUPPORT)").
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import { dataplaneConformance } from './conformance.case.ts';
import { createMockDataplane, type MockDataplane } from './mock.ts';
import { loadNativeAddon, nativeAddonAvailable } from './native-addon.ts';
import { probeDataplane } from './probe.ts';
import type { Dataplane } from './types.ts';
import { createUserspaceDataplane } from './userspace.ts';
import { createXfrmDataplane } from './xfrm.ts';
import { createFakeKernel, type FakeKernel } from './xfrm-fake-native.ts';

dataplaneConformance('mock', async () => createMockDataplane(), {
  backend: 'mock',
  saSkip: null,
  policySkip: null,
  expire: {
    lifetime: { softPackets: 2, hardPackets: 3 },
    async trigger(dp, sa) {
      for (let i = 0; i < 3; i++) (dp as MockDataplane).recordTraffic(sa.spi, sa.direction, 40, 1);
    },
  },
  acquire: 'the mock raises acquire only when a test injects one (MockDataplane.emit)',
});

const addonMissing = nativeAddonAvailable() ? null : 'native addon not built (make native)';

dataplaneConformance('userspace', async () => createUserspaceDataplane(), {
  backend: 'userspace',
  saSkip: addonMissing,
  policySkip: addonMissing,
  expire: addonMissing ?? {
    lifetime: { softPackets: 2, hardPackets: 3 },
    async trigger(_dp, sa) {
      const addon = loadNativeAddon();
      for (let i = 0; i < 3; i++) addon.encrypt(sa.spi, new Uint8Array(40).fill(0x45), 4);
    },
  },
  acquire: 'userspace has no kernel SPD, so nothing raises acquire',
});

// The xfrm backend's own bookkeeping (reqids, shared policies, event mapping) over an in-memory kernel.
const fakes = new WeakMap<Dataplane, FakeKernel>();
dataplaneConformance(
  'xfrm over a simulated NETLINK_XFRM kernel',
  async () => {
    const fake = createFakeKernel();
    const dp = createXfrmDataplane({ native: fake });
    fakes.set(dp, fake);
    return dp;
  },
  {
    backend: 'xfrm',
    saSkip: null,
    policySkip: null,
    expire: {
      lifetime: { softSec: 1, hardSec: 2 },
      async trigger(dp, sa) {
        const base = { type: 'expire', spi: sa.spi, proto: 50, family: 4, src: sa.src, dst: sa.dst, reqid: 0 } as const;
        fakes.get(dp)!.notify({ ...base, hard: false });
        fakes.get(dp)!.notify({ ...base, hard: true });
        fakes.get(dp)!.sas.delete(`${sa.dst}|${sa.spi}`); // the kernel removes it on a hard expiry
      },
    },
    acquire: {
      async trigger(dp) {
        const sel = { family: 4, src: '198.51.100.1', srcPlen: 32, dst: '203.0.113.5', dstPlen: 32, proto: 1, sport: 8, sportMask: 0xffff, dport: 0, dportMask: 0xffff } as const;
        fakes.get(dp)!.notify({ type: 'acquire', dir: 'out', policyIndex: 1, outerSrc: '192.0.2.1', outerDst: '192.0.2.2', reqid: 1, proto: 50, family: 4, sel });
      },
      expect: {
        localTs: { startAddr: '198.51.100.1', endAddr: '198.51.100.1', ipProtocol: 1, startPort: 0x0800, endPort: 0x0800 },
        remoteTs: { startAddr: '203.0.113.5', endAddr: '203.0.113.5', ipProtocol: 1, startPort: 0, endPort: 65535 },
      },
    },
  },
);

// The real kernel, in a namespace of our own.
function ip(...args: string[]): number {
  return spawnSync('ip', args, { stdio: 'ignore' }).status ?? -1;
}

const ns = `op-xconf-${randomBytes(4).toString('hex')}`;
const nsPath = `/run/netns/${ns}`;
const cannotNetns = ((): string | null => {
  if (addonMissing) return addonMissing;
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  if (ip('netns', 'add', ns) !== 0) return '`ip netns add` failed';
  // 198.51.100.1 (inner, local side) on a veth; the remote inner net 203.0.113.0/24 routed through it.
  const steps = [
    ['-n', ns, 'link', 'set', 'lo', 'up'],
    ['-n', ns, 'link', 'add', 'opx0', 'type', 'veth', 'peer', 'name', 'opx1'],
    ['-n', ns, 'addr', 'add', '198.51.100.1/24', 'dev', 'opx0'],
    ['-n', ns, 'addr', 'add', '192.0.2.1/24', 'dev', 'opx0'],
    ['-n', ns, 'link', 'set', 'opx0', 'up'],
    ['-n', ns, 'link', 'set', 'opx1', 'up'],
    ['-n', ns, 'route', 'add', '203.0.113.0/24', 'via', '198.51.100.2', 'dev', 'opx0'],
  ];
  for (const s of steps) if (ip(...s) !== 0) return `namespace setup failed: ip ${s.join(' ')}`;
  spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.core.xfrm_acq_expires=1']);
  return null;
})();
afterAll(() => {
  if (!cannotNetns) ip('netns', 'del', ns);
});

const probe = cannotNetns ? null : probeDataplane({ netnsPath: nsPath });
const saSkip = cannotNetns ?? (probe!.backend === 'xfrm' ? null : probe!.reason);
const kernelAlgs = (probe?.report?.steps ?? []).filter((s) => s.rc === 0).map((s) => s.what);

dataplaneConformance('xfrm (this kernel, in a private namespace)', async () => createXfrmDataplane({ netnsPath: nsPath }), {
  backend: 'xfrm',
  saSkip,
  policySkip: cannotNetns,
  expire: saSkip ?? { lifetime: { softSec: 1, hardSec: 2 }, async trigger() {}, timeoutMs: 8000 },
  acquire: cannotNetns ?? {
    async trigger() {
      // The kernel finds the out policy, no SA for its template, queues XFRM_MSG_ACQUIRE and drops the packet.
      await new Promise<void>((resolve) => {
        const p = spawn('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '0.2', '-I', '198.51.100.1', '203.0.113.5'], { stdio: 'ignore' });
        p.on('exit', () => resolve());
        p.on('error', () => resolve());
      });
    },
    expect: {
      localTs: { startAddr: '198.51.100.1', endAddr: '198.51.100.1', ipProtocol: 1, startPort: 0x0800, endPort: 0x0800 },
      remoteTs: { startAddr: '203.0.113.5', endAddr: '203.0.113.5', ipProtocol: 1 },
    },
  },
  algorithms: [
    ...(kernelAlgs.includes('rfc4106(gcm(aes))') ? (['aes-gcm-16'] as const) : []),
    ...(kernelAlgs.includes('rfc7539esp(chacha20,poly1305)') ? (['chacha20-poly1305'] as const) : []),
    ...(kernelAlgs.includes('cbc(aes)+hmac(sha256)') ? (['aes-cbc-hmac-sha256'] as const) : []),
  ],
});
