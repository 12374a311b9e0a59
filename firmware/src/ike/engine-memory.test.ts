// What an established IKE SA keeps (RFC 7296 §2.15 octets, RFC 7383 reassembly): only state that later exchanges use.
import { describe, expect, test } from 'vitest';
import { certPair, pskPair } from './testing/pairs.ts';
import type { Engine } from './engine.ts';
import type { IkeSa } from './ike-sa.ts';

interface Internals {
  table: { all(): IkeSa[]; findInit(spiI: Uint8Array, remote: { addr: string; port: number }): IkeSa | undefined; refsOf: Map<IkeSa, Set<string>> };
}
type TmInternals = { lastResponse: unknown; requestFragments: unknown; responseFragments: unknown };

function sas(engine: Engine): IkeSa[] {
  return (engine as unknown as Internals).table.all();
}

function expectLean(sa: IkeSa): void {
  expect(sa.established).toBe(true);
  expect(sa.initRequest.length).toBe(0);
  expect(sa.initResponse.length).toBe(0);
  expect(sa.keys?.skPi.length).toBe(0);
  expect(sa.keys?.skPr.length).toBe(0);
  expect(sa.keys?.skD.length).toBeGreaterThan(0);
  expect(sa.peerCerts).toEqual([]);
  const tm = sa.tm as unknown as TmInternals;
  expect(tm.requestFragments).toBeNull();
  expect(tm.responseFragments).toBeNull();
}

describe('an established IKE SA drops what only IKE_AUTH needed', () => {
  test('PSK: IKE_SA_INIT octets and SK_pi/SK_pr go on both sides; the SA still rekeys its CHILD_SA and itself', async () => {
    const pair = pskPair();
    await pair.initiate('to-gw');
    const [a] = sas(pair.a.engine);
    const [b] = sas(pair.b.engine);
    expectLean(a!);
    expectLean(b!);
    // No IKE_SA_INIT lookup for a SA that is no longer half-open.
    expect((pair.b.engine as unknown as Internals).table.findInit(b!.spiI, b!.remote)).toBeUndefined();
    const info = pair.a.engine.listSas()[0]!;
    await pair.command('a', { type: 'rekey', ikeId: info.ikeId, childId: info.children[0]!.childId });
    expect(pair.a.eventsOf('child.up')).toHaveLength(2);
    await pair.command('a', { type: 'rekey', ikeId: info.ikeId });
    expect(pair.a.eventsOf('ike.up')).toHaveLength(2);
    expect(pair.b.engine.listSas()).toHaveLength(1);
  });

  test('certificates: the peer certificate DER is not kept, nor are resume refs', async () => {
    const pair = certPair('ecdsa-p256');
    await pair.initiate('to-gw');
    await pair.run();
    const [b] = sas(pair.b.engine);
    expectLean(b!);
    expect((pair.b.engine as unknown as Internals).table.refsOf.size).toBe(0);
    expect((pair.a.engine as unknown as Internals).table.refsOf.size).toBe(0);
  });

  test('the cached response goes once the next request passes its integrity check', async () => {
    const pair = pskPair();
    await pair.initiate('to-gw');
    const [b] = sas(pair.b.engine);
    expect((b!.tm as unknown as TmInternals).lastResponse).not.toBeNull();
    const info = pair.a.engine.listSas()[0]!;
    await pair.command('a', { type: 'rekey', ikeId: info.ikeId, childId: info.children[0]!.childId });
    // The rekey request freed the IKE_AUTH response; the rekey's own response (then the DELETE's) is cached.
    const cached = (b!.tm as unknown as { lastResponse: { msgId: number } | null }).lastResponse;
    expect(cached?.msgId).toBeGreaterThanOrEqual(2);
  });
});
