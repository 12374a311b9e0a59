// NETLINK_XFRM against this machine's kernel, inside a network namespace the test creates (RFC 4301 SPD/SAD via linux/xfrm.h).
//
// What the kernel can show here: policies installed and removed for real (checked with `ip xfrm policy`),
// ALLOCSPI / GETSA / DELSA on larval SAs, a real EXPIRE notification (larval SA timing out) and a real ACQUIRE.
// NEWSA: this kernel has no ESP, so each variant is shown to pass the kernel's own checks of our attributes
// (algorithm names, truncation, replay bitmap) and to stop exactly at the ESP type lookup, reported clearly.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { EncrId, IntegId } from '../ike/constants.ts';
import { nativeAddonAvailable } from './native-addon.ts';
import { probeDataplane } from './probe.ts';
import type { DataplaneEvent, PolicyParams, TsRange } from './types.ts';
import { createXfrmDataplane, type XfrmDataplane } from './xfrm.ts';
import { loadXfrmNative, type XfrmEvent, type XfrmHandle, type XfrmSaSpec } from './xfrm-native.ts';

const ns = `op-xfrm-${randomBytes(4).toString('hex')}`;
const nsPath = `/run/netns/${ns}`;

function run(cmd: string, ...args: string[]): { code: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
const ipn = (...args: string[]) => run('ip', '-n', ns, ...args);

const cannot = ((): string | null => {
  if (!nativeAddonAvailable()) return 'native addon not built (make native)';
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  if (run('ip', '-V').code !== 0) return 'iproute2 missing';
  if (run('ip', 'netns', 'add', ns).code !== 0) return '`ip netns add` failed';
  for (const s of [
    ['link', 'set', 'lo', 'up'],
    ['link', 'add', 'opx0', 'type', 'veth', 'peer', 'name', 'opx1'],
    ['addr', 'add', '198.51.100.1/24', 'dev', 'opx0'],
    ['addr', 'add', '192.0.2.1/24', 'dev', 'opx0'],
    ['link', 'set', 'opx0', 'up'],
    ['link', 'set', 'opx1', 'up'],
    ['route', 'add', '203.0.113.0/24', 'via', '198.51.100.2', 'dev', 'opx0'],
  ]) if (ipn(...s).code !== 0) return `namespace setup failed: ip ${s.join(' ')}`;
  // Larval SAs (ALLOCSPI, ACQUIRE) expire after 1 s here instead of 30 s, so the EXPIRE path can be seen.
  if (run('ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.core.xfrm_acq_expires=1').code !== 0) return 'cannot set net.core.xfrm_acq_expires';
  return null;
})();
if (cannot) console.log(`skipping XFRM namespace tests: ${cannot}`);
afterAll(() => {
  run('ip', 'netns', 'del', ns);
});

const L: TsRange = { startAddr: '198.51.100.0', endAddr: '198.51.100.255', ipProtocol: 0, startPort: 0, endPort: 65535 };
const R: TsRange = { startAddr: '203.0.113.0', endAddr: '203.0.113.255', ipProtocol: 0, startPort: 0, endPort: 65535 };

function policy(direction: PolicyParams['direction'], childId = 'c1', over: Partial<PolicyParams> = {}): PolicyParams {
  const out = direction === 'out';
  return { childId, direction, localTs: L, remoteTs: R, outerSrc: out ? '192.0.2.1' : '192.0.2.2', outerDst: out ? '192.0.2.2' : '192.0.2.1', ...over };
}

/** `ip xfrm policy` as one block per policy, whitespace collapsed. */
function kernelPolicies(): string[] {
  const out = ipn('xfrm', 'policy').out;
  return out
    .split(/\n(?=\S)/)
    .map((b) => b.replace(/\s+/g, ' ').trim())
    .filter(Boolean);
}

function waitFor<T>(get: () => T | undefined, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => {
      const v = get();
      if (v !== undefined) return resolve(v);
      if (Date.now() - t0 > ms) return reject(new Error(`nothing after ${ms} ms`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

/** The rejection of p (fails the test when p resolves). */
async function failure(p: Promise<unknown>): Promise<Error & { code: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code: string };
  }
  throw new Error('expected a rejection');
}

describe.skipIf(cannot !== null)('XFRM in a private network namespace', () => {
  const native = cannot ? undefined : loadXfrmNative();
  const open: XfrmDataplane[] = [];
  const make = () => {
    const dp = createXfrmDataplane({ netnsPath: nsPath });
    open.push(dp);
    return dp;
  };
  let raw: XfrmHandle;
  const rawEvents: XfrmEvent[] = [];
  const x = () => native!;
  const probe = cannot ? null : probeDataplane({ netnsPath: nsPath });

  beforeAll(() => {
    const h = x().xfrmOpen({ netnsPath: nsPath, onEvent: (e) => rawEvents.push(e) });
    if (typeof h === 'number') throw new Error(`xfrmOpen: ${x().errnoName(h)}`);
    raw = h;
  });

  afterEach(async () => {
    for (const dp of open.splice(0)) await dp.close();
  });

  afterAll(() => {
    if (raw) x().xfrmClose(raw);
  });

  describe('policies, for real', () => {
    test('out/in/fwd installed with selector, priority and ESP tunnel template, as `ip xfrm policy` shows; removed again', async () => {
      const dp = make();
      await dp.addPolicy(policy('out', 'c1', { spi: 0xc0ffee02 }));
      await dp.addPolicy(policy('in', 'c1', { spi: 0xc0ffee01 }));
      await dp.addPolicy(policy('fwd', 'c1', { spi: 0xc0ffee01 }));
      const prio = ((100_000 - 48) << 2) + 3;
      const shown = kernelPolicies();
      expect(shown).toHaveLength(3);
      expect(shown).toContainEqual(expect.stringMatching(new RegExp(`^src 198\\.51\\.100\\.0/24 dst 203\\.0\\.113\\.0/24 dir out priority ${prio} ptype main tmpl src 192\\.0\\.2\\.1 dst 192\\.0\\.2\\.2 proto esp spi 0xc0ffee02 reqid (\\d+) mode tunnel$`)));
      expect(shown).toContainEqual(expect.stringMatching(new RegExp(`^src 203\\.0\\.113\\.0/24 dst 198\\.51\\.100\\.0/24 dir in priority ${prio} ptype main tmpl src 192\\.0\\.2\\.2 dst 192\\.0\\.2\\.1 proto esp reqid \\d+ mode tunnel$`)));
      expect(shown).toContainEqual(expect.stringMatching(/^src 203\.0\.113\.0\/24 dst 198\.51\.100\.0\/24 dir fwd .* proto esp reqid \d+ mode tunnel$/));
      // One CHILD_SA, one reqid in all three templates.
      expect(new Set(shown.map((s) => /reqid (\d+)/.exec(s)?.[1])).size).toBe(1);
      for (const d of ['out', 'in', 'fwd'] as const) await dp.delPolicy(policy(d, 'c1', { spi: d === 'out' ? 0xc0ffee02 : 0xc0ffee01 }));
      expect(kernelPolicies()).toEqual([]);
    });

    test('IPv6 selectors, a TCP port, ICMP type/code, and a range split into several kernel entries', async () => {
      const dp = make();
      const v6 = policy('out', 'c6', { localTs: { ...L, startAddr: '2001:db8:1::', endAddr: '2001:db8:1::ffff' }, remoteTs: { ...R, startAddr: '2001:db8:2::', endAddr: '2001:db8:2:0:ffff:ffff:ffff:ffff' } });
      const tcp = policy('out', 'ct', { remoteTs: { ...R, startAddr: '203.0.113.9', endAddr: '203.0.113.9', ipProtocol: 6, startPort: 443, endPort: 443 } });
      const icmp = policy('in', 'ci', { remoteTs: { ...R, ipProtocol: 1, startPort: 0x0800, endPort: 0x0800 } });
      const split = policy('in', 'cs', { remoteTs: { ...R, startAddr: '192.0.2.0', endAddr: '192.0.2.130' } });
      for (const p of [v6, tcp, icmp, split]) await dp.addPolicy(p);
      const shown = kernelPolicies();
      expect(shown).toContainEqual(expect.stringMatching(/^src 2001:db8:1::\/112 dst 2001:db8:2::\/64 dir out .* tmpl src 192\.0\.2\.1 dst 192\.0\.2\.2 /));
      expect(shown).toContainEqual(expect.stringMatching(/^src 198\.51\.100\.0\/24 dst 203\.0\.113\.9\/32 proto tcp dport 443 dir out /));
      expect(shown).toContainEqual(expect.stringMatching(/^src 203\.0\.113\.0\/24 dst 198\.51\.100\.0\/24 proto icmp type 8 code 0 dir in /));
      for (const p of ['192.0.2.0/25', '192.0.2.128/31', '192.0.2.130/32']) expect(shown).toContainEqual(expect.stringContaining(`src ${p} dst 198.51.100.0/24 dir in`));
      expect(shown).toHaveLength(6);
      for (const p of [v6, tcp, icmp, split]) await dp.delPolicy(p);
      expect(kernelPolicies()).toEqual([]);
    });

    test('make-before-break: UPDPOLICY moves the template to the new CHILD_SA\'s reqid and back', async () => {
      const dp = make();
      await dp.addPolicy(policy('out', 'old', { spi: 0x1111 }));
      const reqid = () => /spi (0x[0-9a-f]+) reqid (\d+)/.exec(kernelPolicies()[0] ?? '')?.slice(1);
      const [, oldReqid] = reqid()!;
      await dp.addPolicy(policy('out', 'new', { spi: 0x2222 }));
      expect(reqid()?.[0]).toBe('0x00002222');
      expect(reqid()?.[1]).not.toBe(oldReqid);
      await dp.delPolicy(policy('out', 'new', { spi: 0x2222 }));
      expect(reqid()).toEqual(['0x00001111', oldReqid]);
      await dp.delPolicy(policy('out', 'old', { spi: 0x1111 }));
      expect(kernelPolicies()).toEqual([]);
    });

    test('the kernel itself refuses a second entry for the same selector and direction (EEXIST); DELPOLICY of nothing is ENOENT', () => {
      const spec = { dir: 'out' as const, src: '198.51.100.0', srcPlen: 24, dst: '203.0.113.0', dstPlen: 24, priority: 5, tmplSrc: '192.0.2.1', tmplDst: '192.0.2.2', reqid: 1 };
      expect(x().xfrmAddPolicy(raw, spec)).toBe(0);
      expect(x().xfrmAddPolicy(raw, spec)).toBe(-17);
      expect(x().xfrmDelPolicy(raw, { ...spec, src: '198.51.100.99' })).toBe(0); // host bits cleared: the same selector
      expect(x().xfrmDelPolicy(raw, spec)).toBe(-2);
    });

    test('the namespace is really separate: nothing appears in the host\'s SPD', async () => {
      const dp = make();
      const p = policy('out', 'iso', { localTs: { ...L, startAddr: '198.51.100.200', endAddr: '198.51.100.203' } });
      await dp.addPolicy(p);
      expect(kernelPolicies().join('\n')).toContain('198.51.100.200/30');
      expect(run('ip', 'xfrm', 'policy').out).not.toContain('198.51.100.200/30');
      await dp.delPolicy(p);
    });
  });

  describe('SAs on this kernel', () => {
    test('ALLOCSPI reserves a larval SA that GETSA reads back and DELSA removes', () => {
      const spi = x().xfrmAllocSpi(raw, { src: '192.0.2.2', dst: '192.0.2.1', reqid: 4242, min: 0x1000, max: 0x1fff });
      expect(spi).toBeGreaterThanOrEqual(0x1000);
      expect(spi).toBeLessThanOrEqual(0x1fff);
      expect(ipn('xfrm', 'state').out).toContain(`spi 0x${spi.toString(16).padStart(8, '0')} reqid 4242 mode tunnel`);
      const st = x().xfrmGetSa(raw, { dst: '192.0.2.1', spi });
      expect(st).toMatchObject({ spi, reqid: 4242, src: '192.0.2.2', dst: '192.0.2.1', mode: 'tunnel', family: 4, lifetime: { hardAddSec: 1n }, offload: null, aead: '', crypt: '' });
      expect(x().xfrmDelSa(raw, { dst: '192.0.2.1', spi })).toBe(0);
      expect(x().xfrmGetSa(raw, { dst: '192.0.2.1', spi })).toBe(-3); // ESRCH
      expect(x().xfrmDelSa(raw, { dst: '192.0.2.1', spi })).toBe(-3);
    });

    test('the kernel\'s EXPIRE notification reaches JavaScript (a larval SA timing out after xfrm_acq_expires)', async () => {
      const spi = x().xfrmAllocSpi(raw, { src: '192.0.2.2', dst: '192.0.2.1', reqid: 777 });
      expect(spi).toBeGreaterThan(0);
      const ev = await waitFor(() => rawEvents.find((e) => e.type === 'expire' && e.spi === spi), 4000);
      expect(ev).toEqual({ type: 'expire', hard: true, spi, proto: 50, family: 4, src: '192.0.2.2', dst: '192.0.2.1', reqid: 777 });
      expect(x().xfrmEventStats(raw)).toMatchObject({ overruns: 0, malformed: 0, queueDrops: 0 });
    });

    describe.skipIf(probe?.backend === 'xfrm')('NEWSA on a kernel without ESP', () => {
      const gcm: XfrmSaSpec = { src: '192.0.2.2', dst: '192.0.2.1', spi: 0x5001, reqid: 1, aead: 'rfc4106(gcm(aes))', icvBits: 128, encKey: new Uint8Array(20), esn: true, replayWindow: 64 };
      const cbc: XfrmSaSpec = { src: '192.0.2.2', dst: '192.0.2.1', spi: 0x5002, reqid: 1, crypt: 'cbc(aes)', encKey: new Uint8Array(32), auth: 'hmac(sha256)', authKey: new Uint8Array(32), truncBits: 128, esn: false, replayWindow: 32 };

      test('every variant passes the kernel\'s attribute checks and stops at the ESP type lookup: EPROTONOSUPPORT "Requested type not found"', () => {
        const variants: XfrmSaSpec[] = [
          cbc,
          { ...cbc, esn: true, replayWindow: 4096, encapSport: 4500, encapDport: 4500, softBytes: 1e6, hardBytes: 2e6, softPackets: 10, hardPackets: 20, softAddSec: 30, hardAddSec: 60 },
          { ...cbc, offload: 'crypto', inbound: true },
          { ...cbc, src: '2001:db8::2', dst: '2001:db8::1' },
        ];
        for (const v of variants) {
          expect(x().xfrmAddSa(raw, v)).toBe(-93);
          expect(x().xfrmLastError(raw)).toBe('Requested type not found');
        }
      });

      test('the kernel read our algorithm attributes: unknown names are ENOSYS, a truncation above the digest is EINVAL', () => {
        expect(x().xfrmAddSa(raw, { ...cbc, auth: 'hmac(nothing)' })).toBe(-38);
        expect(x().xfrmAddSa(raw, { ...cbc, crypt: 'cbc(nothing)' })).toBe(-38);
        expect(x().xfrmAddSa(raw, { ...cbc, truncBits: 512 })).toBe(-22);
        // This kernel has no GCM either; the AEAD attribute is looked up by name first.
        expect(x().xfrmAddSa(raw, gcm)).toBe(-38);
        expect(x().xfrmLastError(raw)).toBe('Requested AEAD algorithm not found');
      });

      test('the backend reports it in words: errno, kernel text and what to do; nothing is left installed', async () => {
        const dp = createXfrmDataplane({ netnsPath: nsPath, offload: 'auto' });
        open.push(dp);
        const err = await failure(
          dp.addSa({ childId: 'c', direction: 'out', spi: 0x6001, src: '192.0.2.1', dst: '192.0.2.2', encrId: EncrId.AES_CBC, encrKeyBits: 256, encKey: new Uint8Array(32), integId: IntegId.HMAC_SHA2_256_128, integKey: new Uint8Array(32), esn: true, replayWindow: 0, lifetime: { softSec: 10, hardSec: 20 }, localTs: [L], remoteTs: [R] }),
        );
        expect(err).toMatchObject({ code: 'EPROTONOSUPPORT' });
        expect(err.message).toMatch(/^addSa\(spi 0x00006001, out\): EPROTONOSUPPORT \(Requested type not found\) — the kernel has no ESP/);
        expect(ipn('xfrm', 'state').out).not.toContain('0x00006001');
        expect(await dp.querySa(0x6001, 'out')).toBeNull();
      });
    });

    test.runIf(probe?.backend === 'xfrm')('on a kernel with ESP: NEWSA, GETSA counters and algorithms, DELSA', () => {
      const spec: XfrmSaSpec = { src: '192.0.2.2', dst: '192.0.2.1', spi: 0x5003, reqid: 3, crypt: 'cbc(aes)', encKey: new Uint8Array(32), auth: 'hmac(sha256)', authKey: new Uint8Array(32), truncBits: 128, esn: true, replayWindow: 128, encapSport: 4500, encapDport: 4500 };
      expect(x().xfrmAddSa(raw, spec)).toBe(0);
      expect(x().xfrmGetSa(raw, { dst: '192.0.2.1', spi: 0x5003 })).toMatchObject({ esn: true, replayWindow: 128, crypt: 'cbc(aes)', auth: 'hmac(sha256)', encap: { sport: 4500, dport: 4500 }, current: { bytes: 0n } });
      expect(x().xfrmMoveSa(raw, { dst: '192.0.2.1', spi: 0x5003, newSrc: '192.0.2.9', newDst: '192.0.2.1', encapSport: 31000, encapDport: 4500 })).toBe(0);
      expect(x().xfrmGetSa(raw, { dst: '192.0.2.1', spi: 0x5003 })).toMatchObject({ src: '192.0.2.9', encap: { sport: 31000 } });
      expect(x().xfrmDelSa(raw, { dst: '192.0.2.1', spi: 0x5003 })).toBe(0);
    });
  });

  describe('the backend\'s events and SPIs on this kernel', () => {
    test('allocSpi gives distinct kernel-reserved SPIs; their quiet expiry is not an engine event', async () => {
      const dp = make();
      const events: DataplaneEvent[] = [];
      dp.onEvent((e) => events.push(e));
      const spis = new Set<number>();
      for (let i = 0; i < 20; i++) spis.add(await dp.allocSpi());
      expect(spis.size).toBe(20);
      const larval = ipn('xfrm', 'state').out;
      for (const spi of spis) expect(larval).toContain(`spi 0x${spi.toString(16).padStart(8, '0')}`);
      await waitFor(() => (dp.eventStats().received >= 20 ? true : undefined), 4000);
      expect(events).toEqual([]);
      expect(dp.eventStats().unmatched).toBe(0);
    });

    test('a packet matching an out policy without an SA raises ACQUIRE, delivered as the engine\'s acquire event', async () => {
      const dp = make();
      const events: DataplaneEvent[] = [];
      dp.onEvent((e) => events.push(e));
      const p = policy('out', 'acq');
      await dp.addPolicy(p);
      await new Promise<void>((resolve) => {
        const c = spawn('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '0.2', '-I', '198.51.100.1', '203.0.113.5'], { stdio: 'ignore' });
        c.on('exit', () => resolve());
        c.on('error', () => resolve());
      });
      const e = await waitFor(() => events.find((ev) => ev.type === 'acquire'), 3000);
      expect(e).toEqual({
        type: 'acquire',
        localTs: { startAddr: '198.51.100.1', endAddr: '198.51.100.1', ipProtocol: 1, startPort: 0x0800, endPort: 0x0800 },
        remoteTs: { startAddr: '203.0.113.5', endAddr: '203.0.113.5', ipProtocol: 1, startPort: 0, endPort: 65535 },
      });
      await dp.delPolicy(p);
    });

    test('opening a namespace that does not exist is a clear ENOENT', () => {
      expect(() => createXfrmDataplane({ netnsPath: '/run/netns/op-no-such-ns' })).toThrow(/ENOENT/);
    });
  });
});
