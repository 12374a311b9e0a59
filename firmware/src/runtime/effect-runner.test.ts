// Tests for the effect runner: data-plane effects in order with errors logged, certificate validation resumed.
import { describe, expect, it } from 'vitest';
import { createMockDataplane } from '../dataplane/mock.ts';
import type { PolicyParams, SaParams } from '../dataplane/types.ts';
import { EncrId, IntegId } from '../ike/constants.ts';
import type { Effect, ValidateChainRequest, ValidateChainResult } from '../ike/io.ts';
import { createEffectRunner } from './effect-runner.ts';
import { createLogger } from './logger.ts';

const TS = { startAddr: '198.51.100.0', endAddr: '198.51.100.255', ipProtocol: 0, startPort: 0, endPort: 65535 };
const TS2 = { startAddr: '203.0.113.1', endAddr: '203.0.113.1', ipProtocol: 0, startPort: 0, endPort: 65535 };

const sa = (spi: number, direction: 'in' | 'out'): SaParams => ({
  childId: 'c1',
  direction,
  spi,
  src: direction === 'in' ? '192.0.2.2' : '192.0.2.1',
  dst: direction === 'in' ? '192.0.2.1' : '192.0.2.2',
  encrId: EncrId.AES_GCM_16,
  encrKeyBits: 128,
  encKey: new Uint8Array(20).fill(0xaa),
  integId: IntegId.NONE,
  integKey: new Uint8Array(0),
  esn: false,
  replayWindow: direction === 'in' ? 64 : 0,
  lifetime: { softSec: 10, hardSec: 20 },
  localTs: [TS],
  remoteTs: [TS2],
});
const policy = (direction: 'in' | 'out' | 'fwd'): PolicyParams => ({ childId: 'c1', direction, localTs: TS, remoteTs: TS2, outerSrc: '192.0.2.1', outerDst: '192.0.2.2', spi: 0x1001 });

const REQ: ValidateChainRequest = { endEntityDer: new Uint8Array([1]), intermediatesDer: [], trustAnchorsDer: [], identity: { idType: 2, data: new Uint8Array([0x61]) }, nowMs: 0 };

function setup(validate: (req: ValidateChainRequest) => Promise<ValidateChainResult> = async () => ({ ok: false, reason: 'unused' })) {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', format: 'json', write: (l) => lines.push(l), strict: true });
  const dp = createMockDataplane();
  const resumed: { ref: string; result: ValidateChainResult }[] = [];
  const runner = createEffectRunner({ dataplane: dp, logger, validateChain: validate, resume: (ref, result) => resumed.push({ ref, result }) });
  return { lines, dp, resumed, runner };
}

describe('createEffectRunner', () => {
  it('applies data-plane effects in order: install, move, remove', async () => {
    const { dp, runner, lines } = setup();
    const install: Effect[] = [
      { type: 'dp.addSa', sa: sa(0x1000, 'in') },
      { type: 'dp.addSa', sa: sa(0x1001, 'out') },
      { type: 'dp.addPolicy', policy: policy('out') },
      { type: 'dp.addPolicy', policy: policy('in') },
    ];
    runner.run(install);
    runner.run([{ type: 'dp.updateSa', spi: 0x1001, direction: 'out', dst: '192.0.2.9', encap: { srcPort: 4500, dstPort: 4500 } }]);
    await runner.idle();
    expect(dp.listPolicies()).toHaveLength(2);
    expect(dp.getSa(0x1001, 'out')).toMatchObject({ dst: '192.0.2.9', encap: { srcPort: 4500, dstPort: 4500 } });
    runner.run([
      { type: 'dp.delPolicy', policy: policy('out') },
      { type: 'dp.delPolicy', policy: policy('in') },
      { type: 'dp.delSa', spi: 0x1000, direction: 'in', childId: 'c1' },
      { type: 'dp.delSa', spi: 0x1001, direction: 'out', childId: 'c1' },
    ]);
    await runner.idle();
    expect(dp.calls.map((c) => c.op)).toEqual(['addSa', 'addSa', 'addPolicy', 'addPolicy', 'updateSa', 'delPolicy', 'delPolicy', 'delSa', 'delSa']);
    expect(dp.calls.every((c) => c.ok)).toBe(true);
    expect(dp.listSas()).toEqual([]);
    expect(runner.stats()).toMatchObject({ dpOk: 9, dpFailed: 0 });
    // Debug lines describe the effects without key material (strict logger would have thrown on a key field).
    expect(lines.join('\n')).not.toMatch(/aaaa|170,170/);
  });

  it('logs a failing effect and carries on with the next', async () => {
    const { dp, runner, lines } = setup();
    runner.run([
      { type: 'dp.delSa', spi: 0x4242, direction: 'in', childId: 'gone' },
      { type: 'dp.addSa', sa: sa(0x1000, 'in') },
    ]);
    await runner.idle();
    expect(dp.listSas()).toHaveLength(1);
    expect(runner.stats()).toMatchObject({ dpOk: 1, dpFailed: 1 });
    const err = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === 'error');
    expect(err).toMatchObject({ msg: 'dp.delSa failed', spi: '0x00004242', direction: 'in', childId: 'gone' });
    expect(String(err?.error)).toMatch(/no SA/);
  });

  it('validates certificate chains and resumes the engine with the result', async () => {
    const { runner, resumed } = setup(async (req) => (req.endEntityDer[0] === 1 ? { ok: true, spkiDer: new Uint8Array([9]), subject: 'CN=x' } : { ok: false, reason: 'untrusted' }));
    runner.run([
      { type: 'pki.validateChain', ref: 'r1', request: REQ },
      { type: 'pki.validateChain', ref: 'r2', request: { ...REQ, endEntityDer: new Uint8Array([2]) } },
    ]);
    expect(resumed).toEqual([]); // asynchronous: never inside run()
    await runner.idle();
    expect(resumed).toEqual([
      { ref: 'r1', result: { ok: true, spkiDer: new Uint8Array([9]), subject: 'CN=x' } },
      { ref: 'r2', result: { ok: false, reason: 'untrusted' } },
    ]);
  });

  it('turns a crashing validator into a failed result', async () => {
    const { runner, resumed } = setup(async () => {
      throw new Error('pkijs exploded');
    });
    runner.run([{ type: 'pki.validateChain', ref: 'r1', request: REQ }]);
    await runner.idle();
    expect(resumed).toEqual([{ ref: 'r1', result: { ok: false, reason: 'internal error during certificate validation: pkijs exploded' } }]);
    expect(runner.stats().validationErrors).toBe(1);
  });

  it('drops results that arrive after close', async () => {
    let release!: () => void;
    const { runner, resumed } = setup(() => new Promise((r) => (release = () => r({ ok: false, reason: 'late' }))));
    runner.run([{ type: 'pki.validateChain', ref: 'r1', request: REQ }]);
    runner.close();
    release();
    await runner.idle();
    expect(resumed).toEqual([]);
  });
});
