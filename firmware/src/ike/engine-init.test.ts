// IKE_SA_INIT negotiation: NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD retry, cookies, retransmits (RFC 7296 §1.2, §2.6, §2.7).
import { describe, expect, test } from 'vitest';
import { pskPair } from './testing/pairs.ts';
import { T0 } from './testing/pair.ts';
import { ExchangeType, Notify, PayloadType } from './constants.ts';
import { decodeMessage } from './codec/index.ts';
import type { NotifyPayload } from './codec/types.ts';
import type { WirePacket } from './testing/pair.ts';
import { isZero } from './bytes.ts';
import { notifyReply } from './stateless.ts';

function notifiesOf(p: WirePacket): NotifyPayload[] {
  const dec = decodeMessage(p.d.data);
  if (!dec.ok) throw new Error(dec.error);
  return dec.value.payloads.filter((x): x is NotifyPayload => x.type === PayloadType.NOTIFY);
}

describe('proposal selection', () => {
  test('a modp1024/3DES-only offer gets NO_PROPOSAL_CHOSEN while legacy is off, and no state is kept', async () => {
    const pair = pskPair({ client: { ikeProposals: ['3des-sha1-modp1024'], legacy: true } });
    // IKE_SA_INIT { SA(3DES, SHA1, MODP1024), KE, Ni } -->   <-- IKE_SA_INIT { N(NO_PROPOSAL_CHOSEN) }
    await pair.initiate('to-gw');
    expect(pair.trace()).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT']);
    const resp = pair.wire[1]!;
    expect(notifiesOf(resp).map((n) => n.notifyType)).toEqual([Notify.NO_PROPOSAL_CHOSEN]);
    const dec = decodeMessage(resp.d.data);
    expect(dec.ok && isZero(dec.value.header.spiR)).toBe(true);
    expect(pair.a.eventsOf('ike.failed')[0]).toMatchObject({ conn: 'to-gw', notify: Notify.NO_PROPOSAL_CHOSEN });
    expect(pair.b.logs('info').some((l) => l.includes('no acceptable IKE proposal') && l.includes('3des-sha1-prfsha1-modp1024'))).toBe(true);
    expect(pair.a.engine.listSas()).toEqual([]);
    expect(pair.b.engine.listSas()).toEqual([]);
    expect(pair.b.engine.stats().halfOpen).toBe(0);
  });

  test('the same offer is accepted by a connection that allows legacy algorithms', async () => {
    const pair = pskPair({
      client: { ikeProposals: ['3des-sha1-modp1024'], legacy: true },
      gw: { ikeProposals: ['aes256gcm16-prfsha256-x25519', '3des-sha1-modp1024'], legacy: true },
    });
    await pair.initiate('to-gw');
    expect(pair.b.eventsOf('ike.up')[0]?.proposal).toBe('3des-sha1-prfsha1-modp1024');
  });

  test('INVALID_KE_PAYLOAD: the initiator retries once with the group the responder names and succeeds', async () => {
    const pair = pskPair({
      client: { ikeProposals: ['aes256gcm16-prfsha256-x25519-ecp256'] },
      gw: { ikeProposals: ['aes256gcm16-prfsha256-ecp256'] },
    });
    // IKE_SA_INIT { SA, KE(x25519), Ni } -->            <-- IKE_SA_INIT { N(INVALID_KE_PAYLOAD, 19) }
    // IKE_SA_INIT { SA, KE(ecp256), Ni } -->            <-- IKE_SA_INIT { SA, KE(ecp256), Nr, ... }
    await pair.initiate('to-gw');
    expect(pair.trace()).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT', 'a>IKE_SA_INIT', 'b<IKE_SA_INIT', 'a>IKE_AUTH', 'b<IKE_AUTH']);
    const invalidKe = notifiesOf(pair.wire[1]!).find((n) => n.notifyType === Notify.INVALID_KE_PAYLOAD);
    expect(Array.from(invalidKe!.data)).toEqual([0, 19]);
    expect(pair.a.eventsOf('ike.up')[0]?.proposal).toBe('aes256gcm16-prfsha256-ecp256');
    expect(pair.b.engine.listSas()).toHaveLength(1);
    // The responder reported no failure for the INVALID_KE round trip.
    expect(pair.b.eventsOf('ike.failed')).toEqual([]);
    // Both requests used the same SPIi and nonce; only the KE changed.
    const req1 = decodeMessage(pair.wire[0]!.d.data);
    const req2 = decodeMessage(pair.wire[2]!.d.data);
    if (!req1.ok || !req2.ok) throw new Error('decode');
    expect(req1.value.header.spiI).toEqual(req2.value.header.spiI);
    const nonce = (m: typeof req1.value) => m.payloads.find((p) => p.type === PayloadType.NONCE);
    expect(nonce(req1.value)).toEqual(nonce(req2.value));
  });

  test('no common group at all is NO_PROPOSAL_CHOSEN, not an INVALID_KE loop', async () => {
    const pair = pskPair({ client: { ikeProposals: ['aes256gcm16-prfsha256-x25519'] }, gw: { ikeProposals: ['aes256gcm16-prfsha256-ecp256'] } });
    await pair.initiate('to-gw');
    expect(pair.trace()).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT']);
    expect(pair.a.eventsOf('ike.failed')[0]?.notify).toBe(Notify.NO_PROPOSAL_CHOSEN);
  });

  test('INVALID_KE_PAYLOAD naming a group we did not offer, or one already tried, fails the SA', async () => {
    for (const [groups, expected] of [
      [[20], 'responder wants key exchange method 20, which we do not allow'],
      [[19, 31], 'responder wants key exchange method 31, which we do not allow'],
    ] as const) {
      // The real gateway wants ecp256, so its first answer is INVALID_KE_PAYLOAD too and it keeps no state.
      const pair = pskPair({ client: { ikeProposals: ['aes256gcm16-prfsha256-x25519-ecp256'] }, gw: { ikeProposals: ['aes256gcm16-prfsha256-ecp256'] } });
      let n = 0;
      // A hostile responder: every IKE_SA_INIT answer becomes INVALID_KE_PAYLOAD for the next group in the list.
      pair.filter = (p) => {
        if (p.from === 'b' && p.exchange === ExchangeType.IKE_SA_INIT) {
          const req = decodeMessage(pair.wire.filter((w) => w.from === 'a').at(-1)!.d.data);
          if (!req.ok) throw new Error(req.error);
          const g = groups[n++] ?? 0;
          p.d = { ...p.d, data: notifyReply(p.d, req.value.header, Notify.INVALID_KE_PAYLOAD, Uint8Array.of(g >> 8, g & 0xff)).data };
        }
        return true;
      };
      await pair.initiate('to-gw');
      expect(pair.a.eventsOf('ike.failed')[0]?.reason).toBe(expected);
      expect(pair.a.engine.listSas()).toEqual([]);
    }
  });

  test('the responder prefers a proposal matching the KE it received over an earlier one needing another group', async () => {
    const pair = pskPair({
      client: { ikeProposals: ['aes256gcm16-prfsha256-ecp256', 'aes256gcm16-prfsha256-x25519'] },
      gw: { ikeProposals: ['aes256gcm16-prfsha256-x25519-ecp256'] },
    });
    await pair.initiate('to-gw');
    expect(pair.trace().slice(0, 2)).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT']);
    expect(pair.b.eventsOf('ike.up')[0]?.proposal).toBe('aes256gcm16-prfsha256-ecp256');
  });
});

describe('cookies (§2.6)', () => {
  test('above the threshold the responder answers with a COOKIE and keeps no state until it comes back', async () => {
    const pair = pskPair({ gwCfg: { cookieThreshold: 0 } });
    const statesAtFirstResponse: number[] = [];
    pair.filter = (p) => {
      if (p.from === 'b' && p.exchange === ExchangeType.IKE_SA_INIT && statesAtFirstResponse.length === 0) {
        statesAtFirstResponse.push(pair.b.engine.stats().ikeSas, pair.b.engine.stats().halfOpen);
      }
      return true;
    };
    // IKE_SA_INIT { SA, KE, Ni } -->                     <-- IKE_SA_INIT { N(COOKIE) }
    // IKE_SA_INIT { N(COOKIE), SA, KE, Ni } -->           <-- IKE_SA_INIT { SA, KE, Nr }
    await pair.initiate('to-gw');
    expect(pair.trace()).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT', 'a>IKE_SA_INIT', 'b<IKE_SA_INIT', 'a>IKE_AUTH', 'b<IKE_AUTH']);
    expect(statesAtFirstResponse).toEqual([0, 0]);
    const cookie = notifiesOf(pair.wire[1]!)[0]!;
    expect(cookie.notifyType).toBe(Notify.COOKIE);
    // The retried request carries the cookie as its first payload.
    const retry = decodeMessage(pair.wire[2]!.d.data);
    expect(retry.ok && retry.value.payloads[0]).toMatchObject({ type: PayloadType.NOTIFY, notifyType: Notify.COOKIE, data: cookie.data });
    expect(pair.b.eventsOf('ike.up')).toHaveLength(1);
    expect(pair.b.engine.stats().counters['cookie-sent']).toBe(1);
  });

  test('the threshold counts half-open SAs: the second concurrent client must return a cookie', async () => {
    const pair = pskPair({ gwCfg: { cookieThreshold: 1 } });
    pair.filter = (p) => p.from === 'a'; // the gateway's answers are lost: its SAs stay half-open
    await pair.initiate('to-gw');
    expect(pair.b.engine.stats()).toMatchObject({ halfOpen: 1 });
    await pair.initiate('to-gw');
    expect(pair.b.engine.stats()).toMatchObject({ halfOpen: 1, counters: { 'cookie-sent': 1 } });
  });

  test('half-open SAs per source address are capped: the excess is dropped and counted', async () => {
    const pair = pskPair({ gwCfg: { halfOpenPerSource: 2 } });
    pair.filter = (p) => p.from === 'a';
    for (let i = 0; i < 3; i++) await pair.initiate('to-gw');
    expect(pair.b.engine.stats()).toMatchObject({ halfOpen: 2, drops: { 'half-open-per-source': 1 } });
  });

  test('a forged cookie is not accepted: a new cookie is demanded and nothing is created', async () => {
    const pair = pskPair({ gwCfg: { cookieThreshold: 0 } });
    pair.filter = (p) => p.from === 'a' || p.exchange !== ExchangeType.IKE_SA_INIT || !notifiesOf(p).some((n) => n.notifyType === Notify.COOKIE) || (flip(p), true);
    await pair.initiate('to-gw');
    expect(pair.b.engine.stats().drops['bad-cookie']).toBeGreaterThan(0);
    expect(pair.b.engine.listSas()).toEqual([]);
    expect(pair.a.eventsOf('ike.failed')[0]?.reason).toContain('cookies');
  });
});

/** Corrupt the cookie value in a COOKIE response (last octet of the message is the digest's last octet). */
function flip(p: WirePacket): void {
  const d = p.d.data;
  d[d.length - 1] = (d[d.length - 1] ?? 0) ^ 0xff;
}

describe('IKE_SA_INIT retransmission', () => {
  test('a retransmitted IKE_SA_INIT gets the cached response and creates no second SA', async () => {
    const pair = pskPair();
    let dropped = 0;
    pair.filter = (p) => !(p.from === 'b' && p.exchange === ExchangeType.IKE_SA_INIT && dropped++ === 0);
    await pair.initiate('to-gw');
    expect(pair.trace()).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT']);
    expect(pair.b.engine.stats().ikeSas).toBe(1);
    await pair.advance(1000);
    expect(pair.trace()).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT', 'a>IKE_SA_INIT', 'b<IKE_SA_INIT', 'a>IKE_AUTH', 'b<IKE_AUTH']);
    expect(pair.wire[1]!.d.data).toEqual(pair.wire[3]!.d.data);
    expect(pair.wire[0]!.d.data).toEqual(pair.wire[2]!.d.data);
    expect(pair.b.engine.stats()).toMatchObject({ ikeSas: 1, established: 1, counters: { 'ike-sa-init-retransmit-answered': 1 } });
    expect(pair.clock).toBe(T0 + 1000);
  });

  test('a half-open SA that never authenticates is removed after 30 s', async () => {
    const pair = pskPair();
    pair.filter = (p) => p.exchange === ExchangeType.IKE_SA_INIT;
    await pair.initiate('to-gw');
    expect(pair.b.engine.stats().halfOpen).toBe(1);
    await pair.advance(30_000);
    expect(pair.b.engine.stats()).toMatchObject({ halfOpen: 0, ikeSas: 0, drops: { 'half-open-timeout': 1 } });
  });
});
