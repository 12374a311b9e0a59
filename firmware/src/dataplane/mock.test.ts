// Tests for the in-memory data plane: the Dataplane contract, kernel-like refusals, counters and events.
import { describe, expect, it } from 'vitest';
import { EncrId, IntegId } from '../ike/constants.ts';
import { createMockDataplane } from './mock.ts';
import type { DataplaneEvent, PolicyParams, SaParams, TsRange } from './types.ts';

const TS_LOCAL: TsRange = { startAddr: '198.51.100.0', endAddr: '198.51.100.255', ipProtocol: 0, startPort: 0, endPort: 65535 };
const TS_REMOTE: TsRange = { startAddr: '203.0.113.1', endAddr: '203.0.113.1', ipProtocol: 0, startPort: 0, endPort: 65535 };

function sa(over: Partial<SaParams> = {}): SaParams {
  return {
    childId: 'c1',
    direction: 'in',
    spi: 0xc0ffee01,
    src: '192.0.2.2',
    dst: '192.0.2.1',
    encrId: EncrId.AES_GCM_16,
    encrKeyBits: 256,
    encKey: new Uint8Array(36),
    integId: IntegId.NONE,
    integKey: new Uint8Array(0),
    esn: false,
    replayWindow: 64,
    lifetime: { softSec: 3000, hardSec: 3600 },
    localTs: [TS_LOCAL],
    remoteTs: [TS_REMOTE],
    ...over,
  };
}

function policy(over: Partial<PolicyParams> = {}): PolicyParams {
  return { childId: 'c1', direction: 'out', localTs: TS_LOCAL, remoteTs: TS_REMOTE, outerSrc: '192.0.2.1', outerDst: '192.0.2.2', spi: 0xc0ffee02, ...over };
}

describe('createMockDataplane', () => {
  it('reports mock features', () => {
    expect(createMockDataplane().features()).toEqual({ backend: 'mock', offload: 'none', esn: true, udpEncap: true });
  });

  it('installs, queries, updates and deletes SAs', async () => {
    const dp = createMockDataplane();
    await dp.addSa(sa());
    await dp.addSa(sa({ direction: 'out', spi: 0xc0ffee02, src: '192.0.2.1', dst: '192.0.2.2', replayWindow: 0 }));
    expect(dp.listSas().map((s) => [s.direction, s.spi])).toEqual([['in', 0xc0ffee01], ['out', 0xc0ffee02]]);
    expect(await dp.querySa(0xc0ffee01, 'in')).toEqual({ bytes: 0, packets: 0, lastUsedMs: null });
    expect(await dp.querySa(0xc0ffee01, 'out')).toBeNull();
    await dp.updateSa(0xc0ffee02, 'out', { dst: '192.0.2.99', encap: { srcPort: 4500, dstPort: 31000 } });
    expect(dp.getSa(0xc0ffee02, 'out')).toMatchObject({ dst: '192.0.2.99', encap: { srcPort: 4500, dstPort: 31000 } });
    await dp.updateSa(0xc0ffee02, 'out', { encap: undefined });
    expect(dp.getSa(0xc0ffee02, 'out')?.encap).toBeUndefined();
    await dp.delSa(0xc0ffee01, 'in');
    expect(dp.getSa(0xc0ffee01, 'in')).toBeUndefined();
    expect(dp.calls.map((c) => `${c.op}:${c.ok}`)).toEqual(['addSa:true', 'addSa:true', 'querySa:true', 'querySa:true', 'updateSa:true', 'updateSa:true', 'delSa:true']);
  });

  it('keeps its own copy of installed keys', async () => {
    const dp = createMockDataplane();
    const params = sa({ encKey: new Uint8Array(36).fill(7) });
    await dp.addSa(params);
    params.encKey.fill(0);
    expect(dp.getSa(params.spi, 'in')?.encKey[0]).toBe(7);
  });

  it('rejects a duplicate SPI in the same direction but allows it in the other', async () => {
    const dp = createMockDataplane();
    await dp.addSa(sa());
    await expect(dp.addSa(sa({ childId: 'c2' }))).rejects.toThrow(/duplicate SPI 0xc0ffee01 \(in\)/);
    await dp.addSa(sa({ direction: 'out', src: '192.0.2.1', dst: '192.0.2.2' }));
    expect(dp.listSas()).toHaveLength(2);
    expect(dp.calls.filter((c) => !c.ok)).toEqual([{ op: 'addSa', spi: 0xc0ffee01, direction: 'in', childId: 'c2', ok: false, error: 'duplicate SPI 0xc0ffee01 (in)' }]);
  });

  it.each([
    ['a reserved SPI', { spi: 200 }, /reserved/],
    ['mixed address families', { dst: '2001:db8::1' }, /one family/],
    ['a short AES-GCM key', { encKey: new Uint8Array(32) }, /expected 36/],
    ['AES-GCM with an integrity algorithm', { integId: IntegId.HMAC_SHA2_256_128, integKey: new Uint8Array(32) }, /AEAD/],
    ['CBC without integrity', { encrId: EncrId.AES_CBC, encKey: new Uint8Array(32) }, /without integrity/],
    ['a wrong HMAC key length', { encrId: EncrId.AES_CBC, encKey: new Uint8Array(32), integId: IntegId.HMAC_SHA2_256_128, integKey: new Uint8Array(20) }, /expected 32/],
    ['an unknown cipher', { encrId: 99 }, /unsupported encryption/],
    ['soft lifetime above hard', { lifetime: { softSec: 4000, hardSec: 3600 } }, /soft lifetime/],
    ['a bad selector', { localTs: [{ ...TS_LOCAL, startPort: 10, endPort: 5 }] }, /port range/],
  ] as const)('refuses %s', async (_name, over, why) => {
    const dp = createMockDataplane();
    await expect(dp.addSa(sa(over as Partial<SaParams>))).rejects.toThrow(why);
    expect(dp.listSas()).toEqual([]);
  });

  it('accepts ChaCha20-Poly1305 and AES-CBC + HMAC-SHA2 keys of the right size', async () => {
    const dp = createMockDataplane();
    await dp.addSa(sa({ encrId: EncrId.CHACHA20_POLY1305, encrKeyBits: undefined, encKey: new Uint8Array(36) }));
    await dp.addSa(sa({ spi: 0x1000, encrId: EncrId.AES_CBC, encrKeyBits: 128, encKey: new Uint8Array(16), integId: IntegId.HMAC_SHA2_512_256, integKey: new Uint8Array(64) }));
    expect(dp.listSas()).toHaveLength(2);
  });

  it('refuses to update or delete what is not there', async () => {
    const dp = createMockDataplane();
    await expect(dp.updateSa(0x1234, 'in', { src: '192.0.2.5' })).rejects.toThrow(/no SA/);
    await expect(dp.delSa(0x1234, 'in')).rejects.toThrow(/no SA/);
    await dp.addSa(sa());
    await expect(dp.updateSa(0xc0ffee01, 'in', { src: '2001:db8::5' })).rejects.toThrow(/one family/);
  });

  it('manages policies keyed by child, direction and selectors', async () => {
    const dp = createMockDataplane();
    await dp.addPolicy(policy());
    await dp.addPolicy(policy({ direction: 'in' }));
    await dp.addPolicy(policy({ direction: 'fwd' }));
    // The same selectors for another CHILD_SA (make-before-break rekey) are fine, the same policy twice is not.
    await dp.addPolicy(policy({ childId: 'c2' }));
    await expect(dp.addPolicy(policy())).rejects.toThrow(/duplicate out policy/);
    await expect(dp.addPolicy(policy({ remoteTs: { ...TS_REMOTE, startAddr: '2001:db8::1', endAddr: '2001:db8::1' } }))).rejects.toThrow(/different address families/);
    expect(dp.listPolicies()).toHaveLength(4);
    await dp.delPolicy(policy());
    await expect(dp.delPolicy(policy())).rejects.toThrow(/no out policy/);
    expect(dp.listPolicies().map((p) => `${p.childId}/${p.direction}`)).toEqual(['c1/in', 'c1/fwd', 'c2/out']);
  });

  it('allocates unused, non-reserved SPIs', async () => {
    const values = [5, 0xc0ffee01, 0xc0ffee01, 0x2000];
    const dp = createMockDataplane({ randomU32: () => values.shift() ?? 0x3000 });
    await dp.addSa(sa());
    expect(await dp.allocSpi()).toBe(0x2000); // 5 reserved, 0xc0ffee01 in use
    expect(await dp.allocSpi()).toBe(0x3000);
  });

  it('counts traffic and fires soft then hard expiry on byte limits', async () => {
    let now = 5;
    const dp = createMockDataplane({ nowMs: () => now });
    const events: DataplaneEvent[] = [];
    dp.onEvent((e) => events.push(e));
    await dp.addSa(sa({ lifetime: { softSec: 3000, hardSec: 3600, softBytes: 1000, hardBytes: 2000 } }));
    dp.recordTraffic(0xc0ffee01, 'in', 600, 2);
    now = 9;
    dp.recordTraffic(0xc0ffee01, 'in', 600);
    expect(await dp.querySa(0xc0ffee01, 'in')).toEqual({ bytes: 1200, packets: 3, lastUsedMs: 9 });
    dp.recordTraffic(0xc0ffee01, 'in', 100);
    dp.recordTraffic(0xc0ffee01, 'in', 1000);
    expect(events).toEqual([
      { type: 'expire', kind: 'soft', spi: 0xc0ffee01, direction: 'in', childId: 'c1' },
      { type: 'expire', kind: 'hard', spi: 0xc0ffee01, direction: 'in', childId: 'c1' },
    ]);
    expect(dp.getSa(0xc0ffee01, 'in')).toBeUndefined(); // a hard expiry removes the SA, as the kernel does
  });

  it('injects failures and refuses everything once closed', async () => {
    const dp = createMockDataplane();
    dp.failNext('addSa', 'ENOMEM');
    await expect(dp.addSa(sa())).rejects.toThrow(/ENOMEM/);
    await dp.addSa(sa());
    await dp.close();
    expect(dp.closed).toBe(true);
    expect(dp.listSas()).toEqual([]);
    await expect(dp.addPolicy(policy())).rejects.toThrow(/closed/);
  });

  it('keeps only the most recent calls, so a long-running mock does not grow without bound', async () => {
    const dp = createMockDataplane({ maxCalls: 3 });
    for (let i = 0; i < 5; i++) await dp.allocSpi();
    expect(dp.calls).toHaveLength(3);
    expect(dp.calls.every((c) => c.op === 'allocSpi' && c.ok)).toBe(true);
  });
});
