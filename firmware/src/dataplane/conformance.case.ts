// Shared conformance suite of the Dataplane contract (ARCHITECTURE.md §4): every backend the machine can run must pass it.
//
// The suite speaks only the Dataplane interface. What differs between backends is passed in `caps`: how to
// make one fire expire events, whether it can raise acquires, and why a part must be skipped on this machine
// (a skipped part shows up as a skipped test whose title carries the reason, and the reason is printed).
import { randomInt } from 'node:crypto';
import { afterEach, describe, expect, test } from 'vitest';
import { EncrId, IntegId } from '../ike/constants.ts';
import type { Dataplane, DataplaneEvent, PolicyParams, SaParams, TsRange } from './types.ts';

export interface ConformanceCaps {
  backend: 'mock' | 'userspace' | 'xfrm';
  /** Why SA operations cannot run here, or null. */
  saSkip: string | null;
  /** Why policy operations cannot run here, or null. */
  policySkip: string | null;
  /** Lifetime that makes the backend fire soft then hard expiry once `trigger` runs; a string is the skip reason. */
  expire: { lifetime: Partial<SaParams['lifetime']>; trigger(dp: Dataplane, sa: SaParams): Promise<void>; timeoutMs?: number } | string;
  /** Makes the backend raise an acquire for traffic covered by an installed out policy; a string is the skip reason. */
  acquire: { trigger(dp: Dataplane, policy: PolicyParams): Promise<void>; expect: { localTs: Partial<TsRange>; remoteTs: Partial<TsRange> } } | string;
  /** Algorithms the backend must accept (default: all three of the product's ESP suites). */
  algorithms?: Array<'aes-gcm-16' | 'chacha20-poly1305' | 'aes-cbc-hmac-sha256'>;
}

const LOCAL = '192.0.2.1';
const PEER = '192.0.2.2';
const NET_LOCAL: TsRange = { startAddr: '198.51.100.0', endAddr: '198.51.100.255', ipProtocol: 0, startPort: 0, endPort: 65535 };
const NET_REMOTE: TsRange = { startAddr: '203.0.113.0', endAddr: '203.0.113.255', ipProtocol: 0, startPort: 0, endPort: 65535 };

const ALGS = {
  'aes-gcm-16': { encrId: EncrId.AES_GCM_16, encrKeyBits: 256, encKey: 36, integId: IntegId.NONE, integKey: 0 },
  'chacha20-poly1305': { encrId: EncrId.CHACHA20_POLY1305, encrKeyBits: undefined, encKey: 36, integId: IntegId.NONE, integKey: 0 },
  'aes-cbc-hmac-sha256': { encrId: EncrId.AES_CBC, encrKeyBits: 256, encKey: 32, integId: IntegId.HMAC_SHA2_256_128, integKey: 32 },
} as const;

/** A fresh SPI above the range allocSpi is likely to return soon, so tests of one process never collide. */
const freshSpi = () => 0x7000_0000 + randomInt(0x0fff_ffff);

function sa(direction: 'in' | 'out', spi: number, over: Partial<SaParams> = {}, alg: keyof typeof ALGS = 'aes-gcm-16'): SaParams {
  const a = ALGS[alg];
  return {
    childId: `conf-${spi.toString(16)}`,
    direction,
    spi,
    src: direction === 'in' ? PEER : LOCAL,
    dst: direction === 'in' ? LOCAL : PEER,
    encrId: a.encrId,
    ...(a.encrKeyBits !== undefined ? { encrKeyBits: a.encrKeyBits } : {}),
    encKey: new Uint8Array(a.encKey).fill(0x11),
    integId: a.integId,
    integKey: new Uint8Array(a.integKey).fill(0x22),
    esn: true,
    replayWindow: direction === 'in' ? 64 : 0,
    lifetime: { softSec: 0, hardSec: 0 },
    localTs: [NET_LOCAL],
    remoteTs: [NET_REMOTE],
    ...over,
  };
}

function policy(direction: PolicyParams['direction'], childId = 'conf-child', over: Partial<PolicyParams> = {}): PolicyParams {
  const out = direction === 'out';
  return { childId, direction, localTs: NET_LOCAL, remoteTs: NET_REMOTE, outerSrc: out ? LOCAL : PEER, outerDst: out ? PEER : LOCAL, spi: 0x4000_0001, ...over };
}

function waitForEvents(dp: Dataplane, n: number, ms: number): Promise<DataplaneEvent[]> {
  const got: DataplaneEvent[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`waited ${ms} ms for ${n} events, got ${JSON.stringify(got)}`)), ms);
    dp.onEvent((e) => {
      got.push(e);
      if (got.length === n) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

function skipped(title: string, reason: string): void {
  console.log(`skipping ${title}: ${reason}`);
  test.skip(`${title} — skipped: ${reason}`, () => {});
}

export function dataplaneConformance(name: string, make: () => Promise<Dataplane>, caps: ConformanceCaps): void {
  describe(`Dataplane conformance: ${name}`, () => {
    const open: Dataplane[] = [];
    const defaultAlg = caps.algorithms?.[0] ?? 'aes-gcm-16';
    const mkSa = (direction: 'in' | 'out', spi: number, over: Partial<SaParams> = {}, alg: keyof typeof ALGS = defaultAlg) => sa(direction, spi, over, alg);
    const dp = async () => {
      const d = await make();
      open.push(d);
      return d;
    };
    afterEach(async () => {
      for (const d of open.splice(0)) await d.close();
    });

    test('features() names the backend and an offload mode actually in use', async () => {
      const f = (await dp()).features();
      expect(f.backend).toBe(caps.backend);
      expect(['none', 'crypto', 'packet']).toContain(f.offload);
      expect(typeof f.esn).toBe('boolean');
      expect(typeof f.udpEncap).toBe('boolean');
    });

    test('allocSpi returns distinct SPIs outside the reserved range 0-255 (RFC 4303 §2.1)', async () => {
      const d = await dp();
      const spis = new Set<number>();
      for (let i = 0; i < 40; i++) {
        const spi = await d.allocSpi();
        expect(Number.isInteger(spi) && spi >= 256 && spi <= 0xffffffff).toBe(true);
        spis.add(spi);
      }
      expect(spis.size).toBe(40);
    });

    if (caps.saSkip !== null) {
      skipped('SA operations', caps.saSkip);
    } else {
      test('add, query, update and delete both directions of an SA', async () => {
        const d = await dp();
        const spiIn = await d.allocSpi();
        const spiOut = freshSpi();
        await d.addSa(mkSa('in', spiIn));
        await d.addSa(mkSa('out', spiOut, { encap: { srcPort: 4500, dstPort: 4500 } }));
        expect(await d.querySa(spiIn, 'in')).toEqual({ bytes: 0, packets: 0, lastUsedMs: null });
        expect(await d.querySa(spiOut, 'out')).toEqual({ bytes: 0, packets: 0, lastUsedMs: null });
        // The peer moved behind a NAT (MOBIKE / NAT mapping change): new address and port.
        await d.updateSa(spiOut, 'out', { dst: '192.0.2.99', encap: { srcPort: 4500, dstPort: 31000 } });
        expect(await d.querySa(spiOut, 'out')).not.toBeNull();
        await d.delSa(spiIn, 'in');
        expect(await d.querySa(spiIn, 'in')).toBeNull();
        expect(await d.querySa(spiOut, 'out')).not.toBeNull();
        await d.delSa(spiOut, 'out');
        expect(await d.querySa(spiOut, 'out')).toBeNull();
      });

      test('a duplicate SPI in the same direction is rejected and leaves the first SA working', async () => {
        const d = await dp();
        const spi = freshSpi();
        await d.addSa(mkSa('in', spi));
        await expect(d.addSa(mkSa('in', spi, { childId: 'another' }))).rejects.toThrow();
        expect(await d.querySa(spi, 'in')).toEqual({ bytes: 0, packets: 0, lastUsedMs: null });
        await d.delSa(spi, 'in');
      });

      test('unknown SPIs: query gives null, update and delete are errors', async () => {
        const d = await dp();
        const spi = freshSpi();
        expect(await d.querySa(spi, 'in')).toBeNull();
        await expect(d.delSa(spi, 'in')).rejects.toThrow();
        await expect(d.updateSa(spi, 'out', { dst: '192.0.2.3' })).rejects.toThrow();
      });

      for (const alg of caps.algorithms ?? (['aes-gcm-16', 'chacha20-poly1305', 'aes-cbc-hmac-sha256'] as const)) {
        test(`accepts ${alg}`, async () => {
          const d = await dp();
          const spi = freshSpi();
          await d.addSa(mkSa('out', spi, {}, alg));
          expect(await d.querySa(spi, 'out')).not.toBeNull();
          await d.delSa(spi, 'out');
        });
      }

      test('a key of the wrong length is rejected', async () => {
        const d = await dp();
        const spi = freshSpi();
        await expect(d.addSa(mkSa('in', spi, { encKey: new Uint8Array(35) }))).rejects.toThrow();
        expect(await d.querySa(spi, 'in')).toBeNull();
      });

      if (typeof caps.expire === 'string') {
        skipped('expire events', caps.expire);
      } else {
        const ex = caps.expire;
        test('lifetimes fire soft then hard expire with the childId; a hard expiry removes the SA', async () => {
          const d = await dp();
          const spi = freshSpi();
          const params = mkSa('out', spi, { lifetime: { softSec: 0, hardSec: 0, ...ex.lifetime } });
          const events = waitForEvents(d, 2, ex.timeoutMs ?? 5000);
          await d.addSa(params);
          await ex.trigger(d, params);
          expect(await events).toEqual([
            { type: 'expire', kind: 'soft', spi, direction: 'out', childId: params.childId },
            { type: 'expire', kind: 'hard', spi, direction: 'out', childId: params.childId },
          ]);
          expect(await d.querySa(spi, 'out')).toBeNull();
        }, (ex.timeoutMs ?? 5000) + 5000);
      }
    }

    if (caps.policySkip !== null) {
      skipped('policy operations', caps.policySkip);
    } else {
      test('policies in, out and fwd are added and deleted; duplicates and unknowns are errors', async () => {
        const d = await dp();
        for (const dir of ['out', 'in', 'fwd'] as const) await d.addPolicy(policy(dir));
        await expect(d.addPolicy(policy('out'))).rejects.toThrow();
        for (const dir of ['out', 'in', 'fwd'] as const) await d.delPolicy(policy(dir));
        await expect(d.delPolicy(policy('out'))).rejects.toThrow();
      });

      test('two CHILD_SAs may hold equal selectors at once (make-before-break rekey)', async () => {
        const d = await dp();
        await d.addPolicy(policy('out', 'old', { spi: 0x4000_0001 }));
        await d.addPolicy(policy('out', 'new', { spi: 0x4000_0002 }));
        await d.delPolicy(policy('out', 'old', { spi: 0x4000_0001 }));
        await d.delPolicy(policy('out', 'new', { spi: 0x4000_0002 }));
        await expect(d.delPolicy(policy('out', 'new', { spi: 0x4000_0002 }))).rejects.toThrow();
      });

      if (typeof caps.acquire === 'string') {
        skipped('acquire events', caps.acquire);
      } else {
        const aq = caps.acquire;
        test('traffic matching an out policy without an SA raises acquire with the selectors', async () => {
          const d = await dp();
          const p = policy('out', 'acq');
          await d.addPolicy(p);
          const events = waitForEvents(d, 1, 5000);
          await aq.trigger(d, p);
          const [e] = await events;
          expect(e).toMatchObject({ type: 'acquire', localTs: aq.expect.localTs, remoteTs: aq.expect.remoteTs });
          await d.delPolicy(p);
        });
      }
    }

    test('after close() nothing can be installed', async () => {
      const d = await make();
      await d.close();
      if (caps.saSkip === null) await expect(d.addSa(mkSa('in', freshSpi()))).rejects.toThrow();
      if (caps.policySkip === null) await expect(d.addPolicy(policy('out', 'closed'))).rejects.toThrow();
      await d.close(); // twice is harmless
    });
  });
}
