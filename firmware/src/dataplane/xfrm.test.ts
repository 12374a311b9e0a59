// The XFRM backend's decisions over a simulated kernel: offload none|crypto|packet|auto, reqids, shared SPD entries, events.
import { describe, expect, test } from 'vitest';
import { EncrId, IntegId } from '../ike/constants.ts';
import type { DataplaneEvent, PolicyParams, SaParams, TsRange } from './types.ts';
import { createFakeKernel, type FakeKernelOptions } from './xfrm-fake-native.ts';
import { createXfrmDataplane, type XfrmDataplaneOptions } from './xfrm.ts';

const L: TsRange = { startAddr: '198.51.100.0', endAddr: '198.51.100.255', ipProtocol: 0, startPort: 0, endPort: 65535 };
const R: TsRange = { startAddr: '203.0.113.0', endAddr: '203.0.113.255', ipProtocol: 0, startPort: 0, endPort: 65535 };

function sa(direction: 'in' | 'out', spi: number, childId = 'c1', over: Partial<SaParams> = {}): SaParams {
  return {
    childId, direction, spi,
    src: direction === 'in' ? '192.0.2.2' : '192.0.2.1',
    dst: direction === 'in' ? '192.0.2.1' : '192.0.2.2',
    encrId: EncrId.AES_GCM_16, encrKeyBits: 128, encKey: new Uint8Array(20).fill(0xaa), integId: IntegId.NONE, integKey: new Uint8Array(0),
    esn: true, replayWindow: 128, lifetime: { softSec: 3000, hardSec: 3600 }, localTs: [L], remoteTs: [R],
    ...over,
  };
}

function policy(direction: PolicyParams['direction'], childId = 'c1', over: Partial<PolicyParams> = {}): PolicyParams {
  const out = direction === 'out';
  return { childId, direction, localTs: L, remoteTs: R, outerSrc: out ? '192.0.2.1' : '192.0.2.2', outerDst: out ? '192.0.2.2' : '192.0.2.1', ...over };
}

function setup(k: FakeKernelOptions = {}, o: Omit<XfrmDataplaneOptions, 'native'> = {}) {
  const kernel = createFakeKernel(k);
  const logs: string[] = [];
  const dp = createXfrmDataplane({ native: kernel, log: { info: (m) => logs.push(m) }, ...o });
  const events: DataplaneEvent[] = [];
  dp.onEvent((e) => events.push(e));
  return { kernel, dp, events, logs };
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

describe('SA installation', () => {
  test('maps the SA to NEWSA: kernel names, reqid, tunnel mode, replay window only inbound, lifetimes in seconds', async () => {
    const { kernel, dp } = setup();
    await dp.addSa(sa('in', 0x1001));
    await dp.addSa(sa('out', 0x2002, 'c1', { encap: { srcPort: 4500, dstPort: 31000 } }));
    const inSa = kernel.sas.get('192.0.2.1|4097')!;
    const outSa = kernel.sas.get('192.0.2.2|8194')!;
    expect(inSa).toMatchObject({ aead: 'rfc4106(gcm(aes))', icvBits: 128, mode: 'tunnel', esn: true, replayWindow: 128, softAddSec: 3000, hardAddSec: 3600, inbound: true, offload: 'none' });
    expect(outSa).toMatchObject({ replayWindow: 0, encapSport: 4500, encapDport: 31000, inbound: false });
    expect(inSa.reqid).toBe(outSa.reqid); // one CHILD_SA, one reqid for both directions and its policies
    await dp.addSa(sa('out', 0x3003, 'c2', { remoteTs: [{ ...R, startAddr: '203.0.113.128' }] }));
    expect(kernel.sas.get('192.0.2.2|12291')!.reqid).not.toBe(outSa.reqid);
  });

  test('a rekeyed CHILD_SA (same peers, same selectors) keeps the reqid; in/fwd templates name no SPI, out names it', async () => {
    const { kernel, dp } = setup();
    await dp.addSa(sa('in', 0x1001, 'old'));
    await dp.addSa(sa('out', 0x2001, 'old'));
    for (const d of ['in', 'fwd', 'out'] as const) await dp.addPolicy(policy(d, 'old', { spi: d === 'out' ? 0x2001 : 0x1001 }));
    await dp.addSa(sa('in', 0x1002, 'new'));
    await dp.addSa(sa('out', 0x2002, 'new'));
    for (const d of ['in', 'fwd', 'out'] as const) await dp.addPolicy(policy(d, 'new', { spi: d === 'out' ? 0x2002 : 0x1002 }));
    const reqid = dp.saRecord(0x1001, 'in')!.reqid;
    expect(dp.saRecord(0x1002, 'in')!.reqid).toBe(reqid);
    // The kernel's inbound check compares reqid and SPI with the SA a packet came in on: both SAs must pass.
    const tmpl = Object.fromEntries([...kernel.policies.values()].map((p) => [p.dir, [p.reqid, p.tmplSpi]]));
    expect(tmpl).toEqual({ in: [reqid, 0], fwd: [reqid, 0], out: [reqid, 0x2002] });
  });

  test('keeps no key material: records have no keys', async () => {
    const { dp } = setup();
    await dp.addSa(sa('in', 0x1001));
    const rec = dp.saRecord(0x1001, 'in')!;
    expect(rec).not.toHaveProperty('encKey');
    expect(rec).not.toHaveProperty('integKey');
    expect(rec).toMatchObject({ childId: 'c1', offload: 'none' });
  });

  test('a kernel without ESP: one attempt, EPROTONOSUPPORT with the kernel text and what to do, nothing recorded', async () => {
    const { kernel, dp } = setup({ newsaError: { rc: -93, text: 'Requested type not found' } }, { offload: 'auto' });
    const err = await failure(dp.addSa(sa('in', 0x1001)));
    expect(err).toMatchObject({ code: 'EPROTONOSUPPORT' });
    expect(err.message).toBe('addSa(spi 0x00001001, in): EPROTONOSUPPORT (Requested type not found) — the kernel has no ESP (CONFIG_INET_ESP / CONFIG_INET6_ESP); use dataplane.backend: userspace');
    expect(kernel.calls.filter((c) => c.startsWith('newsa'))).toEqual(['newsa 192.0.2.1 1001 packet']);
    expect(dp.saRecord(0x1001, 'in')).toBeUndefined();
    await expect(dp.delSa(0x1001, 'in')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('refuses what the kernel would only call EINVAL, with the reason', async () => {
    const { kernel, dp } = setup();
    await expect(dp.addSa(sa('in', 1, 'c1', { encKey: new Uint8Array(16) }))).rejects.toThrow(/expected 20/);
    await expect(dp.addSa(sa('in', 2, 'c1', { dst: '2001:db8::1' }))).rejects.toThrow(/one family/);
    await expect(dp.addSa(sa('in', 3, 'c1', { lifetime: { softSec: 10, hardSec: 5 } }))).rejects.toThrow(/exceeds hard/);
    expect(kernel.calls).toEqual([]);
  });
});

describe('NIC offload', () => {
  test('none never asks for offload', async () => {
    const { kernel, dp } = setup({ packet: 'ok', crypto: 'ok' }, { offload: 'none' });
    await dp.addSa(sa('in', 0x10));
    expect(kernel.calls).toEqual(['newsa 192.0.2.1 10 none']);
    expect(dp.features().offload).toBe('none');
  });

  test('auto on a packet-offload NIC: packet mode, and the child\'s in/out policies are offloaded too (fwd never)', async () => {
    const { kernel, dp } = setup({ packet: 'ok', ifaces: { eth0: 4 } }, { offload: 'auto', offloadDev: 'eth0' });
    await dp.addSa(sa('out', 0x20));
    expect(kernel.sas.get('192.0.2.2|32')).toMatchObject({ offload: 'packet', offloadIfindex: 4 });
    expect(dp.features().offload).toBe('packet');
    await dp.addPolicy(policy('out'));
    await dp.addPolicy(policy('fwd'));
    expect(kernel.calls.filter((c) => c.includes('policy'))).toEqual([expect.stringMatching(/^newpolicy out\|.* packet$/), expect.stringMatching(/^newpolicy fwd\|[^ ]* reqid \d+$/)]);
    expect(dp.offloadStatus()).toMatchObject({ requested: 'auto', current: 'packet', counts: { packet: 1, crypto: 0, none: 0 }, lastDegrade: null });
  });

  test('auto degrades: packet refused (EOPNOTSUPP) -> crypto; the NIC that lacks packet mode is not asked again', async () => {
    const { kernel, dp, logs } = setup({ packet: -95, crypto: 'ok' }, { offload: 'auto' });
    await dp.addSa(sa('in', 0x30));
    await dp.addSa(sa('out', 0x31));
    expect(kernel.calls).toEqual(['newsa 192.0.2.1 30 packet', 'newsa 192.0.2.1 30 crypto', 'newsa 192.0.2.2 31 crypto']);
    expect(dp.saRecord(0x30, 'in')?.offload).toBe('crypto');
    expect(dp.offloadStatus()).toMatchObject({ current: 'crypto', unsupported: ['packet'], lastDegrade: { spi: 0x30, from: 'packet', code: 'EOPNOTSUPP', message: 'Device failed to offload this state' } });
    expect(logs).toEqual(['xfrm: addSa(spi 0x00000030, in): packet offload refused (EOPNOTSUPP: Device failed to offload this state), trying the next mode']);
  });

  test('auto degrades to none when crypto offload silently stays in software (no XFRMA_OFFLOAD_DEV in GETSA), never failing', async () => {
    const { kernel, dp } = setup({ packet: -22, crypto: 'silent' }, { offload: 'auto' });
    await dp.addSa(sa('in', 0x40));
    expect(dp.saRecord(0x40, 'in')?.offload).toBe('none');
    expect(kernel.sas.size).toBe(1); // the software SA stays: auto never fails for want of offload
    expect(dp.offloadStatus()).toMatchObject({ current: 'none', unsupported: ['crypto'], counts: { none: 1 } });
    await dp.addSa(sa('in', 0x41));
    // EINVAL may be about one SA, so packet is tried again; crypto proved useless and is skipped.
    expect(kernel.calls.filter((c) => c.startsWith('newsa'))).toEqual(['newsa 192.0.2.1 40 packet', 'newsa 192.0.2.1 40 crypto', 'newsa 192.0.2.1 41 packet', 'newsa 192.0.2.1 41 none']);
  });

  test('an explicit mode is a demand: crypto that would stay in software fails with EOPNOTSUPP and leaves nothing', async () => {
    const { kernel, dp } = setup({ crypto: 'silent' }, { offload: 'crypto' });
    await expect(dp.addSa(sa('in', 0x50))).rejects.toMatchObject({ code: 'EOPNOTSUPP', message: expect.stringMatching(/installed the SA in software/) });
    expect(kernel.sas.size).toBe(0);
  });

  test('an explicit packet mode on a NIC without it fails with the kernel\'s errno and text', async () => {
    const { dp } = setup({ packet: -22 }, { offload: 'packet' });
    await expect(dp.addSa(sa('in', 0x60))).rejects.toMatchObject({ code: 'EINVAL', message: 'addSa(spi 0x00000060, in): EINVAL (Device failed to offload this state)' });
  });

  test('offload device: its ifindex goes into XFRMA_OFFLOAD_DEV and its ethtool view into status; unknown device: auto carries on, explicit fails', () => {
    const { dp } = setup({ crypto: 'ok', ifaces: { eth1: 7 } }, { offload: 'auto', offloadDev: 'eth1' });
    expect(dp.offloadStatus().device).toMatchObject({ ifname: 'eth1', ifindex: 7, capable: true, summary: 'esp-hw-offload: on [fixed], esp-tx-csum-hw-offload: on [fixed]' });
    const auto = setup({}, { offload: 'auto', offloadDev: 'nope0' });
    expect(auto.logs).toEqual(['xfrm: offload device nope0 not found (ENODEV); the kernel picks the routed device']);
    expect(() => setup({}, { offload: 'crypto', offloadDev: 'nope0' })).toThrow(/ENODEV/);
  });
});

describe('SPIs, queries, updates, deletes', () => {
  test('allocSpi reserves with ALLOCSPI; the larval SA goes when the inbound SA is installed', async () => {
    const { kernel, dp } = setup({ spis: [0x7001, 0x7002] });
    const spi = await dp.allocSpi();
    expect(spi).toBe(0x7001);
    await dp.addSa(sa('in', spi));
    expect(kernel.calls).toEqual(['allocspi 0.0.0.0 7001', 'newsa 192.0.2.1 7001 none', 'delsa 0.0.0.0 7001']);
  });

  test('allocSpi never returns an SPI an installed inbound SA uses', async () => {
    const { dp } = setup({ spis: [0x5000, 0x5000, 0x5001] });
    await dp.addSa(sa('in', 0x5000));
    expect(await dp.allocSpi()).toBe(0x5001);
  });

  test('querySa reads the kernel counters (curlft); lastUsedMs from use_time', async () => {
    const { kernel, dp } = setup();
    await dp.addSa(sa('in', 0x99));
    expect(await dp.querySa(0x99, 'in')).toEqual({ bytes: 0, packets: 0, lastUsedMs: null });
    Object.assign(kernel.sas.get('192.0.2.1|153')!, { bytes: 1500n, packets: 3n });
    expect(await dp.querySa(0x99, 'in')).toEqual({ bytes: 1500, packets: 3, lastUsedMs: 1_700_000_000_000 });
    expect(await dp.querySa(0x99, 'out')).toBeNull();
  });

  test('updateSa moves the SA inside the kernel (keys never leave it) and later events find it at its new address', async () => {
    const { kernel, dp, events } = setup();
    await dp.addSa(sa('out', 0x77));
    await dp.updateSa(0x77, 'out', { dst: '192.0.2.99', encap: { srcPort: 4500, dstPort: 40000 } });
    expect(kernel.calls.at(-1)).toBe('movesa 192.0.2.2 77 -> 192.0.2.1 192.0.2.99 4500');
    expect(dp.saRecord(0x77, 'out')).toMatchObject({ dst: '192.0.2.99', encap: { srcPort: 4500, dstPort: 40000 } });
    kernel.notify({ type: 'expire', hard: false, spi: 0x77, proto: 50, family: 4, src: '192.0.2.1', dst: '192.0.2.99', reqid: 1 });
    expect(events).toEqual([{ type: 'expire', kind: 'soft', spi: 0x77, direction: 'out', childId: 'c1' }]);
    await dp.updateSa(0x77, 'out', { encap: undefined });
    expect(kernel.calls.at(-1)).toBe('movesa 192.0.2.99 77 -> 192.0.2.1 192.0.2.99 0');
    await expect(dp.updateSa(0x78, 'out', { dst: '192.0.2.3' })).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('delSa: ESRCH from the kernel (an expiry got there first) is success', async () => {
    const { kernel, dp } = setup();
    await dp.addSa(sa('in', 0x88));
    kernel.sas.clear();
    await dp.delSa(0x88, 'in');
    await expect(dp.delSa(0x88, 'in')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('policies', () => {
  test('one PolicyParams -> template with the child\'s reqid, outer addresses, SPI and priority', async () => {
    const { kernel, dp } = setup();
    await dp.addSa(sa('out', 0x2002));
    await dp.addPolicy(policy('out', 'c1', { spi: 0x2002 }));
    const [p] = [...kernel.policies.values()];
    expect(p).toMatchObject({ dir: 'out', src: '198.51.100.0', srcPlen: 24, dst: '203.0.113.0', dstPlen: 24, tmplSrc: '192.0.2.1', tmplDst: '192.0.2.2', tmplSpi: 0x2002, reqid: dp.saRecord(0x2002, 'out')!.reqid, priority: ((100_000 - 48) << 2) + 3 });
  });

  test('make-before-break: the newer CHILD_SA takes over the kernel entry (UPDPOLICY) and gives it back', async () => {
    const { kernel, dp } = setup();
    await dp.addPolicy(policy('out', 'old'));
    await dp.addPolicy(policy('out', 'new'));
    const reqidOf = () => [...kernel.policies.values()][0]!.reqid;
    const newReqid = reqidOf();
    await dp.delPolicy(policy('out', 'new'));
    const oldReqid = reqidOf();
    expect(oldReqid).not.toBe(newReqid);
    await dp.addPolicy(policy('out', 'new'));
    await dp.delPolicy(policy('out', 'old')); // not the installed one: no kernel call
    await dp.delPolicy(policy('out', 'new'));
    expect(kernel.calls.map((c) => c.split(' ')[0])).toEqual(['newpolicy', 'updpolicy', 'updpolicy', 'updpolicy', 'delpolicy']);
    expect(kernel.policies.size).toBe(0);
    expect(dp.kernelPolicyCount()).toBe(0);
  });

  test('a range needing several prefixes installs and removes every kernel entry', async () => {
    const { kernel, dp } = setup();
    const p = policy('in', 'c1', { remoteTs: { ...R, startAddr: '192.0.2.0', endAddr: '192.0.2.130' } });
    await dp.addPolicy(p);
    expect(kernel.policies.size).toBe(3);
    expect(dp.kernelPolicyCount()).toBe(3);
    await dp.delPolicy(p);
    expect(kernel.policies.size).toBe(0);
  });

  test('a failure half-way leaves the SPD as it was', async () => {
    const { kernel, dp } = setup();
    // Someone else's entry for the second prefix makes our NEWPOLICY fail with EEXIST.
    kernel.policies.set('in|192.0.2.128/31|198.51.100.0/24|0|0/0|0/0', { dir: 'in', src: '192.0.2.128', srcPlen: 31, dst: '198.51.100.0', dstPlen: 24 });
    const p = policy('in', 'c1', { remoteTs: { ...R, startAddr: '192.0.2.0', endAddr: '192.0.2.130' } });
    await expect(dp.addPolicy(p)).rejects.toMatchObject({ code: 'EEXIST' });
    expect([...kernel.policies.keys()]).toEqual(['in|192.0.2.128/31|198.51.100.0/24|0|0/0|0/0']);
    expect(dp.policies()).toEqual([]);
  });

  test('duplicates, unknowns and unexpressible selectors are errors', async () => {
    const { dp } = setup();
    await dp.addPolicy(policy('fwd'));
    await expect(dp.addPolicy(policy('fwd'))).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(dp.delPolicy(policy('in'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(dp.addPolicy(policy('out', 'c1', { localTs: { ...L, ipProtocol: 6 }, remoteTs: { ...R, ipProtocol: 17 } }))).rejects.toMatchObject({ code: 'EINVAL' });
  });
});

describe('kernel notifications', () => {
  test('soft then hard expire reach the engine with the childId; after hard the SA is gone and delSa is fine', async () => {
    const { kernel, dp, events } = setup();
    await dp.addSa(sa('in', 0x1234, 'child-9'));
    const base = { type: 'expire', spi: 0x1234, proto: 50, family: 4, src: '192.0.2.2', dst: '192.0.2.1', reqid: 1 } as const;
    kernel.notify({ ...base, hard: false });
    kernel.notify({ ...base, hard: true });
    expect(events).toEqual([
      { type: 'expire', kind: 'soft', spi: 0x1234, direction: 'in', childId: 'child-9' },
      { type: 'expire', kind: 'hard', spi: 0x1234, direction: 'in', childId: 'child-9' },
    ]);
    expect(dp.saRecord(0x1234, 'in')).toBeUndefined();
    expect(await dp.querySa(0x1234, 'in')).toBeNull();
    await dp.delSa(0x1234, 'in');
  });

  test('an unused SPI reservation timing out is not an engine event; unknown SAs are counted, not reported', async () => {
    const { kernel, dp, events } = setup({ spis: [0x4444] });
    const spi = await dp.allocSpi();
    kernel.notify({ type: 'expire', hard: true, spi, proto: 50, family: 4, src: '0.0.0.0', dst: '0.0.0.0', reqid: 0 });
    kernel.notify({ type: 'expire', hard: true, spi: 0x9999, proto: 50, family: 4, src: '192.0.2.9', dst: '192.0.2.8', reqid: 0 });
    expect(events).toEqual([]);
    expect(dp.eventStats().unmatched).toBe(1);
  });

  test('mapping: the peer\'s new NAT address and port', () => {
    const { kernel, events } = setup();
    kernel.notify({ type: 'mapping', spi: 0xabc, dst: '192.0.2.1', reqid: 1, oldSrc: '198.51.100.1', oldSport: 4500, newSrc: '198.51.100.7', newSport: 1025, proto: 50, family: 4 });
    expect(events).toEqual([{ type: 'mapping', spi: 0xabc, newRemote: { addr: '198.51.100.7', port: 1025 } }]);
  });
});

describe('close', () => {
  test('removes every SA, kernel policy and reservation it made, then the socket; later calls fail', async () => {
    const { kernel, dp } = setup({ spis: [0x6000] });
    await dp.allocSpi();
    await dp.addSa(sa('out', 0x10));
    await dp.addPolicy(policy('out'));
    await dp.close();
    expect(kernel.sas.size).toBe(0);
    expect(kernel.policies.size).toBe(0);
    expect(kernel.open).toBe(false);
    await expect(dp.allocSpi()).rejects.toMatchObject({ code: 'ESHUTDOWN' });
    await dp.close();
  });
});
