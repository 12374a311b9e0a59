// The startup probe: this kernel has no ESP, so it must pick userspace and say why; other kernels' answers via reports.
import { spawnSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { nativeAddonAvailable } from './native-addon.ts';
import { interpretProbe, probeDataplane } from './probe.ts';
import { errnoName } from './xfrm-fake-native.ts';
import type { XfrmProbeReport } from './xfrm-native.ts';

const ok = (what: string) => ({ what, rc: 0, message: '' });
const steps = (...s: XfrmProbeReport['steps']) => ({ openRc: 0, openWhat: '', steps: s });
const CBC = 'cbc(aes)+hmac(sha256)';
const GCM = 'rfc4106(gcm(aes))';
const CHACHA = 'rfc7539esp(chacha20,poly1305)';
const native = { errnoName };

describe('interpretProbe', () => {
  test('ESP with all three suites: xfrm', () => {
    expect(interpretProbe(steps(ok(CBC), ok(GCM), ok(CHACHA)), native)).toMatchObject({ backend: 'xfrm', reason: `kernel accepted test ESP SAs (${CBC}, ${GCM}, ${CHACHA})` });
  });

  test('ESP without ChaCha20-Poly1305: still xfrm, and the gap is named', () => {
    const r = interpretProbe(steps(ok(CBC), ok(GCM), { what: CHACHA, rc: -38, message: 'Requested AEAD algorithm not found' }), native);
    expect(r).toMatchObject({ backend: 'xfrm', reason: `kernel accepted test ESP SAs (${CBC}, ${GCM}); missing ${CHACHA}: Requested AEAD algorithm not found, ENOSYS` });
  });

  test.each([
    [steps({ what: CBC, rc: -93, message: 'Requested type not found' }), 'kernel has no ESP (xfrm state add: Requested type not found, EPROTONOSUPPORT)'],
    [steps({ what: CBC, rc: -38, message: 'Requested CRYPT algorithm not found' }), `kernel ESP lacks ${CBC} (xfrm state add: Requested CRYPT algorithm not found, ENOSYS)`],
    [steps({ what: CBC, rc: -1, message: '' }), 'no permission to configure XFRM (xfrm state add: EPERM); needs CAP_NET_ADMIN'],
    [{ openRc: -93, openWhat: 'socket(NETLINK_XFRM)', steps: [] }, 'kernel has no XFRM netlink (socket(NETLINK_XFRM): EPROTONOSUPPORT)'],
    [{ openRc: -1, openWhat: 'unshare(CLONE_NEWNET)', steps: [] }, 'no permission to configure XFRM (unshare(CLONE_NEWNET): EPERM); needs CAP_NET_ADMIN'],
    [steps({ what: CBC, rc: -16, message: 'busy' }), 'kernel refused a test ESP SA (xfrm state add: busy, EBUSY)'],
  ])('%# picks userspace: %s', (report, reason) => {
    expect(interpretProbe(report, native)).toMatchObject({ backend: 'userspace', reason });
  });
});

describe('probeDataplane', () => {
  test('without permission for a private namespace it retries in the current one (reserved SPIs on loopback)', () => {
    const calls: Array<string | null | undefined> = [];
    const fake = {
      errnoName,
      xfrmProbe(path?: string | null): XfrmProbeReport {
        calls.push(path);
        return path === null ? { openRc: -1, openWhat: 'unshare(CLONE_NEWNET)', steps: [] } : steps(ok(CBC), ok(GCM), ok(CHACHA));
      },
    };
    expect(probeDataplane({ native: fake }).backend).toBe('xfrm');
    expect(calls).toEqual([null, '']);
  });

  test.skipIf(!nativeAddonAvailable() || process.getuid?.() !== 0)('this machine: userspace, because the kernel has no ESP; the probe leaves nothing behind', () => {
    const before = spawnSync('ip', ['xfrm', 'state'], { encoding: 'utf8' }).stdout;
    const nsBefore = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    const r = probeDataplane();
    expect(r.backend).toBe('userspace');
    expect(r.reason).toBe('kernel has no ESP (xfrm state add: Requested type not found, EPROTONOSUPPORT)');
    expect(r.report?.steps.map((s) => [s.what, errnoName(s.rc)])).toEqual([[CBC, 'EPROTONOSUPPORT'], [GCM, 'ENOSYS'], [CHACHA, 'ENOSYS']]);
    // The host-namespace fallback (reserved SPIs 1-3 on loopback) gives the same answer.
    expect(probeDataplane({ netnsPath: '' }).reason).toBe(r.reason);
    expect(spawnSync('ip', ['xfrm', 'state'], { encoding: 'utf8' }).stdout).toBe(before);
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).toBe(nsBefore);
  });
});
