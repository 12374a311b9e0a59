// ESP offload features of a device (SIOCETHTOOL ETH_SS_FEATURES / ETHTOOL_GFEATURES), on a veth in a namespace of our own.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { describeEspFeatures, formatFeature, queryEspOffload } from './ethtool.ts';
import { nativeAddonAvailable } from './native-addon.ts';

const off = { present: true, available: false, requested: false, active: false, neverChanged: false };

describe('formatFeature (as `ethtool -k` prints it)', () => {
  test.each([
    [off, 'esp-hw-offload: off [fixed]'],
    [{ ...off, available: true }, 'esp-hw-offload: off'],
    [{ ...off, available: true, requested: true, active: true }, 'esp-hw-offload: on'],
    [{ ...off, available: true, requested: true }, 'esp-hw-offload: off [requested on]'],
    [{ ...off, present: false }, 'esp-hw-offload: not known to this kernel'],
  ])('%o', (f, text) => expect(formatFeature('esp-hw-offload', f)).toBe(text));

  test('capable only when esp-hw-offload is on', () => {
    expect(describeEspFeatures('eth0', { ifindex: 2, espHwOffload: off, espTxCsumHwOffload: off }).capable).toBe(false);
    expect(describeEspFeatures('eth0', { ifindex: 2, espHwOffload: { ...off, active: true }, espTxCsumHwOffload: off }).capable).toBe(true);
  });
});

const ns = `op-eth-${randomBytes(4).toString('hex')}`;
const run = (...a: string[]) => spawnSync(a[0]!, a.slice(1), { encoding: 'utf8' });
const cannot = !nativeAddonAvailable() ? 'native addon not built (make native)' : process.getuid?.() !== 0 ? 'needs root for network namespaces' : run('ip', 'netns', 'add', ns).status !== 0 ? '`ip netns add` failed' : null;
if (cannot) console.log(`skipping ethtool namespace tests: ${cannot}`);
afterAll(() => {
  if (!cannot) run('ip', 'netns', 'del', ns);
});
const hasEthtool = run('ethtool', '--version').status === 0;

describe.skipIf(cannot !== null)('a veth and loopback in a private namespace', () => {
  beforeAll(() => {
    expect(run('ip', '-n', ns, 'link', 'add', 'opv0', 'type', 'veth', 'peer', 'name', 'opv1').status).toBe(0);
  });

  test('veth: no ESP offload, fixed (the real answer for a virtual device)', () => {
    const c = queryEspOffload('opv0', { netnsPath: `/run/netns/${ns}` });
    expect(c).toMatchObject({ ifname: 'opv0', capable: false, espHwOffload: { present: true, active: false, available: false }, espTxCsumHwOffload: { present: true, active: false } });
    expect(c.ifindex).toBeGreaterThan(1);
    expect(c.summary).toBe('esp-hw-offload: off [fixed], esp-tx-csum-hw-offload: off [fixed]');
  });

  test.skipIf(!hasEthtool)('agrees with `ethtool -k` line for line', () => {
    for (const dev of ['lo', 'opv0']) {
      const lines = run('ip', 'netns', 'exec', ns, 'ethtool', '-k', dev).stdout.split('\n').map((l) => l.trim());
      const c = queryEspOffload(dev, { netnsPath: `/run/netns/${ns}` });
      expect(lines).toContain(formatFeature('esp-hw-offload', c.espHwOffload));
      expect(lines).toContain(formatFeature('esp-tx-csum-hw-offload', c.espTxCsumHwOffload));
    }
  });

  test('no such device is ENODEV; a name longer than IFNAMSIZ is ENAMETOOLONG', () => {
    expect(() => queryEspOffload('opnone0', { netnsPath: `/run/netns/${ns}` })).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    expect(() => queryEspOffload('x'.repeat(20), { netnsPath: `/run/netns/${ns}` })).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG' }));
    // The device is looked up in the namespace asked for, not the caller's.
    expect(() => queryEspOffload('opv0')).toThrow(expect.objectContaining({ code: 'ENODEV' }));
  });
});
