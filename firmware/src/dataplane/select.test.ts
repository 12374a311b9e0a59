// Tests for data-plane backend selection: auto degrades xfrm → userspace → mock with one log line saying why.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createMockDataplane } from './mock.ts';
import { backendProblem, DataplaneUnavailableError, selectDataplane, userspaceProblem, type SelectOptions } from './select.ts';
import type { Dataplane } from './types.ts';
import { createUserspaceDataplane, type UserspaceDataplane, type UserspaceDataplaneOptions } from './userspace.ts';

const noXfrm = () => ({ backend: 'userspace' as const, reason: 'kernel has no ESP (xfrm state add: EPROTONOSUPPORT)' });

/** A stand-in backend that says which one it is. */
function fake(backend: 'userspace' | 'xfrm'): Dataplane {
  const dp = createMockDataplane();
  return { ...dp, features: () => ({ ...dp.features(), backend }) };
}

function pick(backend: 'auto' | 'mock' | 'userspace' | 'xfrm', opts: SelectOptions, extra: { tunName?: string; mtu?: number } = {}) {
  const lines: string[] = [];
  const dp = selectDataplane({ backend, offload: 'auto', ...extra }, { info: (m) => lines.push(m) }, opts);
  return { dp, lines };
}

describe('selectDataplane', () => {
  it('mock when configured, one line', () => {
    const { dp, lines } = pick('mock', { probeXfrm: () => { throw new Error('must not probe'); } });
    expect(dp.features().backend).toBe('mock');
    expect(lines).toEqual(['data plane: mock (configured)']);
  });

  it('auto: userspace when the kernel has no ESP and TUN + addon work; pools and TUN settings are passed on', () => {
    let got: UserspaceDataplaneOptions | undefined;
    const { dp, lines } = pick(
      'auto',
      { probeXfrm: noXfrm, userspaceProblem: () => null, pools: ['203.0.113.0/24'], createUserspace: (o) => ((got = o), fake('userspace')) },
      { tunName: 'op-test0', mtu: 1380 },
    );
    expect(dp.features().backend).toBe('userspace');
    expect(lines).toEqual(['data plane: userspace (auto: kernel has no ESP (xfrm state add: EPROTONOSUPPORT); TUN op-test0 and the native addon work)']);
    expect(got).toMatchObject({ tun: { name: 'op-test0', mtu: 1380 }, poolRoutes: ['203.0.113.0/24'] });
  });

  it('auto: default TUN outpost0 with MTU 1400, TUN and UDP offloads on unless OUTPOST_USERSPACE_OFFLOAD=off', () => {
    let got: UserspaceDataplaneOptions | undefined;
    pick('auto', { probeXfrm: noXfrm, userspaceProblem: () => null, env: {}, createUserspace: (o) => ((got = o), fake('userspace')) });
    expect(got?.tun).toEqual({ name: 'outpost0', mtu: 1400, offload: true });
    expect(got?.udpOffload).toBe(true);
    pick('auto', { probeXfrm: noXfrm, userspaceProblem: () => null, env: { OUTPOST_USERSPACE_OFFLOAD: 'off' }, createUserspace: (o) => ((got = o), fake('userspace')) });
    expect(got?.tun).toEqual({ name: 'outpost0', mtu: 1400, offload: false });
    expect(got?.udpOffload).toBe(false);
  });

  it('auto: mock, with the reason, when userspace is impossible or its TUN cannot be made', () => {
    const a = pick('auto', { probeXfrm: noXfrm, userspaceProblem: () => '/dev/net/tun is missing (no TUN support)', createUserspace: () => { throw new Error('must not be called'); } });
    expect(a.dp.features().backend).toBe('mock');
    expect(a.lines).toEqual(['data plane: mock (auto: kernel has no ESP (xfrm state add: EPROTONOSUPPORT); userspace impossible: /dev/net/tun is missing (no TUN support); no traffic will flow)']);
    const b = pick('auto', { probeXfrm: noXfrm, userspaceProblem: () => null, createUserspace: () => { throw new Error('cannot create TUN device outpost0: EPERM'); } });
    expect(b.dp.features().backend).toBe('mock');
    expect(b.lines).toHaveLength(1);
    expect(b.lines[0]).toMatch(/^data plane: mock \(auto: .*userspace impossible: cannot create TUN device outpost0: EPERM; no traffic will flow\)$/);
  });

  it('auto: xfrm when the probe says the kernel holds ESP; userspace when the xfrm backend then fails', () => {
    const probe = () => ({ backend: 'xfrm' as const, reason: 'kernel accepted test ESP SAs (cbc(aes)+hmac(sha256))' });
    const x = pick('auto', { probeXfrm: probe, createXfrm: () => fake('xfrm'), createUserspace: () => { throw new Error('must not be called'); } });
    expect(x.dp.features().backend).toBe('xfrm');
    expect(x.lines).toEqual(['data plane: xfrm (auto: kernel accepted test ESP SAs (cbc(aes)+hmac(sha256)))']);
    const u = pick('auto', { probeXfrm: probe, createXfrm: () => { throw new Error('EACCES'); }, userspaceProblem: () => null, createUserspace: () => fake('userspace') });
    expect(u.dp.features().backend).toBe('userspace');
    expect(u.lines).toEqual(['data plane: userspace (auto: xfrm backend failed to start: EACCES; TUN outpost0 and the native addon work)']);
  });

  it('an explicit userspace that cannot run is a clear error, never a silent mock', () => {
    expect(() => pick('userspace', { userspaceProblem: () => 'native addon not built (make native)' })).toThrow(DataplaneUnavailableError);
    expect(() => pick('userspace', { userspaceProblem: () => 'native addon not built (make native)' })).toThrow('data plane backend "userspace" cannot start: native addon not built (make native)');
    expect(() => pick('userspace', { userspaceProblem: () => null, createUserspace: () => { throw new Error('cannot create TUN device outpost0: EBUSY'); } })).toThrow(
      'data plane backend "userspace" cannot start: cannot create TUN device outpost0: EBUSY',
    );
    const ok = pick('userspace', { userspaceProblem: () => null, createUserspace: () => fake('userspace') });
    expect(ok.lines).toEqual(['data plane: userspace (configured; TUN outpost0, MTU 1400)']);
  });

  it('an explicit xfrm runs only where the probe finds ESP in the kernel, else it is refused with the reason', () => {
    const refused = () => selectDataplane({ backend: 'xfrm', offload: 'none' }, undefined, { probeXfrm: noXfrm });
    expect(refused).toThrow(DataplaneUnavailableError);
    expect(refused).toThrow('data plane backend "xfrm" cannot start: kernel has no ESP (xfrm state add: EPROTONOSUPPORT)');
    const probe = () => ({ backend: 'xfrm' as const, reason: 'kernel accepted test ESP SAs' });
    const x = pick('xfrm', { probeXfrm: probe, createXfrm: () => fake('xfrm') });
    expect(x.dp.features().backend).toBe('xfrm');
    expect(x.lines).toEqual(['data plane: xfrm (configured; offload auto; kernel accepted test ESP SAs)']);
    const failing = () => selectDataplane({ backend: 'xfrm', offload: 'none' }, undefined, { probeXfrm: probe, createXfrm: () => { throw new Error('EACCES'); } });
    expect(failing).toThrow('data plane backend "xfrm" cannot start: EACCES');
  });

  it('backendProblem: auto and mock always run; userspace only with the addon and /dev/net/tun', () => {
    expect(backendProblem({ backend: 'auto', offload: 'auto' })).toBeNull();
    expect(backendProblem({ backend: 'mock', offload: 'auto' })).toBeNull();
    const p = userspaceProblem();
    expect(backendProblem({ backend: 'userspace', offload: 'auto' })).toBe(p === null ? null : `data plane backend "userspace" cannot start: ${p}`);
  });
});

// The real thing on this machine: the XFRM probe, then a TUN device, created inside a namespace this test owns.
const ns = `op-sel-${randomBytes(3).toString('hex')}`;
const root = process.getuid?.() === 0 && spawnSync('ip', ['netns', 'add', ns]).status === 0;
afterAll(() => {
  if (root) spawnSync('ip', ['netns', 'del', ns]);
});

describe.skipIf(!root)('selectDataplane on this machine (root)', () => {
  it('auto picks userspace here (kernel without ESP), creating the TUN device up with its MTU', async () => {
    const lines: string[] = [];
    const dp = selectDataplane({ backend: 'auto', offload: 'auto', tunName: 'op-sel0', mtu: 1380 }, { info: (m) => lines.push(m) }, {
      createUserspace: (o) => {
        // Same options, but the device goes into the test's namespace.
        return createUserspaceDataplane({ ...o, tun: { ...o.tun, netnsPath: `/run/netns/${ns}` } });
      },
    });
    try {
      expect(lines).toHaveLength(1);
      if (dp.features().backend === 'xfrm') return; // a kernel with ESP: nothing more to see here
      expect(dp.features().backend).toBe('userspace');
      expect(lines[0]).toMatch(/^data plane: userspace \(auto: .+; TUN op-sel0 and the native addon work\)$/);
      expect((dp as UserspaceDataplane).tunName()).toBe('op-sel0');
      const link = spawnSync('ip', ['-n', ns, '-o', 'link', 'show', 'op-sel0'], { encoding: 'utf8' }).stdout;
      expect(link).toMatch(/mtu 1380/);
      expect(link).toMatch(/[<,]UP[,>]/);
    } finally {
      await dp.close();
    }
    // Closing the data plane removes the device.
    expect(spawnSync('ip', ['-n', ns, 'link', 'show', 'op-sel0']).status).not.toBe(0);
  });
});
