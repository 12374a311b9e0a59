// Dead peer detection (RFC 7296 §2.4): delay, timeout, actions clear/restart/hold, ESP activity; NAT-T keepalives (RFC 3948 §4).
import { describe, expect, test } from 'vitest';
import { pskPair } from './testing/pairs.ts';
import { T0, type Pair } from './testing/pair.ts';
import { child } from './testing/config.ts';
import type { ConnectionConfig } from '../config/types.ts';
import { ExchangeType } from './constants.ts';

const S = 1000;
const NAT = '203.0.113.5';

function dpdPair(client: Partial<ConnectionConfig> = {}, gw: Partial<ConnectionConfig> = {}, extra: Parameters<typeof pskPair>[0] = {}): Pair {
  return pskPair({
    ...extra,
    client: {
      children: [child({ name: 'lan', localTs: ['dynamic'], remoteTs: ['198.51.100.0/24'] }), child({ name: 'dmz', localTs: ['dynamic'], remoteTs: ['192.0.2.128/25'] })],
      ...client,
    },
    gw: { children: [child({ name: 'lan', localTs: ['198.51.100.0/24'] }), child({ name: 'dmz', localTs: ['192.0.2.128/25'] })], ...gw },
  });
}

/** Both SAs up with both children (lan in IKE_AUTH, dmz by CREATE_CHILD_SA). */
async function up(pair: Pair): Promise<void> {
  await pair.initiate('to-gw', 'lan');
  await pair.command('a', { type: 'create-child', ikeId: pair.a.engine.listSas()[0]!.ikeId, child: 'dmz' });
}

describe('DPD', () => {
  test('dpdTimeoutSec ends the check before the retransmits run out; the reason names DPD', async () => {
    // Retransmits alone (1 s, base 2, 3 tries) would give up 15 s after the check starts.
    const pair = dpdPair({ dpdDelaySec: 10, dpdTimeoutSec: 5, dpdAction: 'clear' });
    await up(pair);
    pair.filter = () => false;
    await pair.advance(14 * S);
    expect(pair.a.engine.listSas()).toHaveLength(1);
    await pair.advance(1 * S);
    expect(pair.a.engine.listSas()).toEqual([]);
    const down = pair.a.eventsOf('ike.down')[0]!;
    expect(down.reason).toBe('DPD timeout: no response to INFORMATIONAL from 192.0.2.1');
    expect(pair.a.logs('warn')).toContain('INFORMATIONAL request 3 to 192.0.2.1 unanswered for 5 s (DPD timeout)');
    expect(pair.a.eventsOf('child.down')).toHaveLength(2);
    expect(pair.a.dp.sas.size).toBe(0);
  });

  test('restart (default for a connection that initiates): after the gateway rebooted, the client reconnects with every CHILD_SA', async () => {
    const pair = dpdPair({ dpdDelaySec: 10 });
    await up(pair);
    pair.restart('b');
    // INFORMATIONAL { } --> (gateway knows no such SA: INVALID_IKE_SPI, unprotected, ignored) ... retransmits give up.
    await pair.advance(10 * S + 15 * S);
    expect(pair.a.eventsOf('ike.down')[0]?.reason).toBe('DPD: no response to INFORMATIONAL from 192.0.2.1');
    expect(pair.a.logs('info')).toContain('restarting connection to-gw (DPD action restart)');
    await pair.advance(1 * S);
    const sa = pair.a.engine.listSas()[0]!;
    expect(sa.state).toBe('established');
    expect(sa.children.map((c) => c.name)).toEqual(['lan', 'dmz']);
    expect(pair.b.engine.listSas()[0]!.children.map((c) => c.name)).toEqual(['lan', 'dmz']);
    const tail = pair.trace().slice(-6);
    expect(tail).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT', 'a>IKE_AUTH', 'b<IKE_AUTH', 'a>CREATE_CHILD_SA', 'b<CREATE_CHILD_SA']);
  });

  test('clear (default for a responder connection): the gateway removes a silent client and initiates nothing', async () => {
    const pair = dpdPair({}, { dpdDelaySec: 10 });
    await up(pair);
    const n = pair.wire.length;
    pair.filter = () => false;
    await pair.advance(60 * S);
    expect(pair.b.engine.listSas()).toEqual([]);
    expect(pair.b.eventsOf('ike.down')[0]?.reason).toBe('DPD: no response to INFORMATIONAL from 192.0.2.2');
    // The liveness check and its 3 retransmits; no IKE_SA_INIT toward the client.
    expect(pair.wire.slice(n).map((p) => `${p.from}:${p.exchange}`)).toEqual(Array(4).fill(`b:${ExchangeType.INFORMATIONAL}`));
    expect(pair.b.dp.sas.size).toBe(0);
  });

  test('hold: the SAs go; traffic for the connection (dp.acquire) brings them back, other traffic does not', async () => {
    const pair = dpdPair({ dpdDelaySec: 10, dpdAction: 'hold' });
    await up(pair);
    pair.restart('b');
    await pair.advance(40 * S);
    expect(pair.a.engine.listSas()).toEqual([]);
    expect(pair.a.logs('info')).toContain('holding connection to-gw (DPD action hold): re-initiated on matching traffic');
    const n = pair.wire.length;
    const range = (a: string, b: string) => ({ startAddr: a, endAddr: b, ipProtocol: 0, startPort: 0, endPort: 65535 });
    await pair.command('a', { type: 'dp.acquire', localTs: range('192.0.2.2', '192.0.2.2'), remoteTs: range('10.1.1.1', '10.1.1.1') });
    expect(pair.wire.length).toBe(n);
    expect(pair.a.engine.stats().drops['acquire-unmatched']).toBe(1);
    await pair.command('a', { type: 'dp.acquire', localTs: range('192.0.2.2', '192.0.2.2'), remoteTs: range('198.51.100.7', '198.51.100.7') });
    expect(pair.a.engine.listSas()[0]?.children.map((c) => c.name)).toEqual(['lan', 'dmz']);
  });

  test('ESP from the peer counts as liveness when the data plane reports it (hook): no DPD while it flows', async () => {
    let espAt = T0;
    const pair = dpdPair({ dpdDelaySec: 10 }, {}, { engineA: { espLastInboundMs: () => espAt } });
    await up(pair);
    const n = pair.wire.length;
    for (let i = 0; i < 6; i++) {
      await pair.advance(5 * S);
      espAt = pair.clock;
    }
    expect(pair.wire.length).toBe(n);
    // ESP stops: a liveness check 10 s after the last packet.
    await pair.advance(10 * S);
    expect(pair.wire.slice(n).map((p) => `${p.from}${p.response ? '<' : '>'}`)).toEqual(['a>', 'b<']);
  });

  test('an answered liveness check keeps the SA; the next one comes dpdDelaySec after the last message', async () => {
    const pair = dpdPair({ dpdDelaySec: 10 });
    await up(pair);
    await pair.advance(25 * S);
    expect(pair.trace().slice(6)).toEqual(['a>INFORMATIONAL', 'b<INFORMATIONAL', 'a>INFORMATIONAL', 'b<INFORMATIONAL']);
    expect(pair.a.engine.listSas()[0]?.state).toBe('established');
  });
});

describe('NAT-T keepalives', () => {
  test('not sent while IKE messages leave more often than every 20 s (here: DPD every 10 s)', async () => {
    const pair = dpdPair({ dpdDelaySec: 10 }, {}, { natAddr: NAT });
    await up(pair);
    await pair.advance(60 * S);
    expect(pair.wire.filter((p) => p.d.data.length === 1)).toEqual([]);
    expect(pair.trace().filter((t) => t === 'a>INFORMATIONAL')).toHaveLength(6);
  });

  test('sent by the side behind the NAT once it has been quiet for 20 s, from port 4500 to the peer\'s 4500', async () => {
    const pair = dpdPair({}, {}, { natAddr: NAT });
    await up(pair);
    await pair.advance(19_999);
    expect(pair.wire.filter((p) => p.d.data.length === 1)).toEqual([]);
    await pair.advance(1);
    const ka = pair.a.sent.filter((d) => d.data.length === 1);
    expect(ka).toHaveLength(1);
    expect(ka[0]!.local.port).toBe(4500);
    expect(ka[0]!.remote.port).toBe(4500);
  });
});
