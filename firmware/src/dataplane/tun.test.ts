// TUN device creation by the native addon (tuntap.rst: IFF_TUN | IFF_NO_PI), inside a network namespace this test owns.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readSync, writeSync } from 'node:fs';
import { loadNativeAddon } from './native-addon.ts';

const addon = loadNativeAddon();
const ns = `op-tun-${randomBytes(4).toString('hex')}`;
const nsPath = `/run/netns/${ns}`;

function ip(...args: string[]): { code: number; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

const canRun = ((): string | null => {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 missing';
  return null;
})();
if (canRun) console.log(`skipping TUN namespace tests: ${canRun}`);

/** IPv4 header checksum (RFC 791) / ICMP checksum (RFC 792): ones' complement of the ones' complement sum. */
function checksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function echoRequest(src: number[], dst: number[], id: number): Uint8Array {
  const icmp = new Uint8Array(16);
  icmp.set([8, 0, 0, 0, id >> 8, id & 0xff, 0, 1]);
  icmp.set(new TextEncoder().encode('outpost!'), 8);
  const c = checksum(icmp);
  icmp[2] = c >> 8;
  icmp[3] = c & 0xff;
  const p = new Uint8Array(20 + icmp.length);
  p.set([0x45, 0, 0, p.length, 0, 0, 0x40, 0, 64, 1, 0, 0, ...src, ...dst]);
  const h = checksum(p.subarray(0, 20));
  p[10] = h >> 8;
  p[11] = h & 0xff;
  p.set(icmp, 20);
  return p;
}

describe.skipIf(canRun !== null)('TUN in a private namespace', () => {
  beforeAll(() => {
    expect(ip('netns', 'add', ns).code).toBe(0);
  });
  afterAll(() => {
    ip('netns', 'del', ns);
  });

  test('the device appears in the namespace only, with the requested name', () => {
    const t = addon.tunOpen('optun0', nsPath, true);
    if (typeof t === 'number') throw new Error(addon.errnoName(t));
    try {
      expect(t.name).toBe('optun0');
      expect(t.fd).toBeGreaterThan(2);
      expect(ip('-n', ns, 'link', 'show', 'optun0').code).toBe(0);
      expect(ip('link', 'show', 'optun0').code).not.toBe(0);
    } finally {
      expect(addon.closeFd(t.fd)).toBe(0);
    }
    // A non-persistent TUN disappears with its last fd.
    expect(ip('-n', ns, 'link', 'show', 'optun0').code).not.toBe(0);
  });

  test('packets flow through the fd: an echo request written in comes back as a reply', async () => {
    const t = addon.tunOpen('optun1', nsPath, true);
    if (typeof t === 'number') throw new Error(addon.errnoName(t));
    try {
      expect(ip('-n', ns, 'addr', 'add', '192.0.2.1/24', 'dev', 'optun1').code).toBe(0);
      expect(ip('-n', ns, 'link', 'set', 'optun1', 'up').code).toBe(0);
      const req = echoRequest([192, 0, 2, 2], [192, 0, 2, 1], 0x4f50);
      expect(writeSync(t.fd, req)).toBe(req.length);
      const buf = new Uint8Array(2048);
      let reply: Uint8Array | undefined;
      for (let i = 0; i < 200 && !reply; i++) {
        let n = 0;
        try {
          n = readSync(t.fd, buf);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
          await new Promise((r) => setTimeout(r, 10));
          continue;
        }
        const p = buf.subarray(0, n);
        if (p[0]! >> 4 === 4 && p[9] === 1 && p[20] === 0) reply = p.slice(); // IPv4, ICMP, echo reply
      }
      expect(reply).toBeDefined();
      expect([...reply!.subarray(12, 20)]).toEqual([192, 0, 2, 1, 192, 0, 2, 2]);
      expect(new TextDecoder().decode(reply!.subarray(28, 36))).toBe('outpost!');
    } finally {
      addon.closeFd(t.fd);
    }
  });

  test('setup sets the MTU and brings the link up; routes through it come and go over rtnetlink', () => {
    const t = addon.tunOpen('optun3', nsPath, true);
    if (typeof t === 'number') throw new Error(addon.errnoName(t));
    try {
      const ifindex = addon.tunSetup('optun3', 1380, nsPath);
      expect(ifindex).toBeGreaterThan(0);
      const link = ip('-n', ns, '-o', 'link', 'show', 'optun3').out;
      expect(link).toMatch(new RegExp(`^${ifindex}: optun3`));
      expect(link).toMatch(/mtu 1380/);
      expect(link).toMatch(/[<,]UP[,>]/);
      expect(addon.tunRoute(ifindex, true, '203.0.113.0', 24, nsPath)).toBe(0);
      expect(addon.tunRoute(ifindex, true, '2001:db8:5::', 48, nsPath)).toBe(0);
      expect(ip('-n', ns, 'route', 'show', '203.0.113.0/24').out).toMatch(/203\.0\.113\.0\/24 dev optun3 proto static scope link/);
      expect(ip('-n', ns, '-6', 'route', 'show', '2001:db8:5::/48').out).toMatch(/2001:db8:5::\/48 dev optun3 proto static/);
      expect(ip('-n', ns, 'route', 'get', '203.0.113.77').out).toMatch(/dev optun3/);
      // Never replaces a route that is there already, and says so.
      expect(addon.tunRoute(ifindex, true, '203.0.113.0', 24, nsPath)).toBe(-17); // EEXIST
      expect(addon.tunRoute(ifindex, false, '203.0.113.0', 24, nsPath)).toBe(0);
      expect(ip('-n', ns, 'route', 'show', '203.0.113.0/24').out.trim()).toBe('');
      expect(addon.tunRoute(ifindex, false, '203.0.113.0', 24, nsPath)).toBe(-3); // ESRCH
      expect(addon.tunRoute(ifindex, true, '203.0.113.0', 33, nsPath)).toBe(-22);
      expect(addon.tunSetup('nosuchdev0', 1400, nsPath)).toBe(-19); // ENODEV
    } finally {
      addon.closeFd(t.fd);
    }
    // The device's routes leave with it.
    expect(ip('-n', ns, '-6', 'route', 'show', '2001:db8:5::/48').out.trim()).toBe('');
  });

  test('errors come back as -errno', () => {
    expect(addon.tunOpen('x'.repeat(20))).toBe(-36); // ENAMETOOLONG
    expect(addon.tunOpen('optun2', '/run/netns/does-not-exist')).toBe(-2); // ENOENT
    expect(addon.closeFd(999999)).toBe(-9); // EBADF
  });
});
