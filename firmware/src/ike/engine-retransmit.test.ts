// Retransmission and response caching (RFC 7296 §2.1, §2.2): window 1, exponential backoff, give up → ike.failed.
import { describe, expect, test } from 'vitest';
import { pskPair } from './testing/pairs.ts';
import { T0 } from './testing/pair.ts';
import { ExchangeType } from './constants.ts';

describe('retransmission', () => {
  test('a lost IKE_AUTH response: the initiator resends, the responder answers from its cache without reprocessing', async () => {
    const pair = pskPair();
    let dropped = 0;
    pair.filter = (p) => !(p.from === 'b' && p.exchange === ExchangeType.IKE_AUTH && dropped++ === 0);
    await pair.initiate('to-gw');
    expect(pair.b.eventsOf('ike.up')).toHaveLength(1);
    expect(pair.a.eventsOf('ike.up')).toHaveLength(0);
    await pair.advance(1000);
    // IKE_AUTH --> (response lost)   IKE_AUTH (same bytes) -->   <-- IKE_AUTH (cached, same bytes)
    expect(pair.trace()).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT', 'a>IKE_AUTH', 'b<IKE_AUTH', 'a>IKE_AUTH', 'b<IKE_AUTH']);
    expect(pair.wire[2]!.d.data).toEqual(pair.wire[4]!.d.data);
    expect(pair.wire[3]!.d.data).toEqual(pair.wire[5]!.d.data);
    expect(pair.a.eventsOf('ike.up')).toHaveLength(1);
    expect(pair.b.eventsOf('ike.up')).toHaveLength(1);
    expect(pair.b.eventsOf('child.up')).toHaveLength(1);
    expect(pair.b.dp.log.filter((e) => e.type === 'dp.addSa')).toHaveLength(2);
    expect(pair.b.engine.stats().counters['retransmit-answered']).toBe(1);
    expect(pair.a.engine.stats().counters['retransmit-sent']).toBe(1);
  });

  test('backoff timeoutMs * base^n, then the SA is given up with ike.failed', async () => {
    const pair = pskPair();
    pair.filter = (p) => p.from === 'a';
    const sendTimes: number[] = [];
    const origFilter = pair.filter;
    pair.filter = (p) => {
      if (p.from === 'a') sendTimes.push(pair.clock - T0);
      return origFilter(p);
    };
    await pair.initiate('to-gw');
    await pair.advance(60_000);
    // timeoutMs 1000, base 2, tries 3: sent at 0, 1000, 3000, 7000; given up at 15000.
    expect(sendTimes).toEqual([0, 1000, 3000, 7000]);
    const [failed] = pair.a.eventsOf('ike.failed');
    expect(failed).toMatchObject({ conn: 'to-gw', reason: 'no response to IKE_SA_INIT from 192.0.2.1' });
    expect(pair.a.logs('warn')).toEqual(['IKE_SA_INIT request 0 to 192.0.2.1 unanswered after 3 retransmits']);
    expect(pair.a.engine.listSas()).toEqual([]);
    expect(pair.a.wakeAtMs).toBeUndefined();
  });

  test('an established SA whose DELETE goes unanswered is removed after the retransmits', async () => {
    const pair = pskPair();
    await pair.initiate('to-gw');
    const ikeId = pair.a.engine.listSas()[0]!.ikeId;
    pair.filter = () => false;
    pair.absorb(pair.a, pair.a.engine.command({ type: 'terminate', ikeId }, pair.clock));
    await pair.run();
    await pair.advance(60_000);
    expect(pair.a.engine.listSas()).toEqual([]);
    expect(pair.a.eventsOf('ike.down')[0]).toMatchObject({ ikeId, conn: 'to-gw' });
    expect(pair.a.dp.sas.size).toBe(0);
  });
});
