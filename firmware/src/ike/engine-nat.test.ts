// NAT traversal (RFC 7296 §2.23, RFC 3948): detection, the move to port 4500, UDP-encapsulated ESP, keepalives, remapping.
import { describe, expect, test } from 'vitest';
import { pskPair } from './testing/pairs.ts';
import { CLIENT_ADDR, GW_ADDR } from './testing/config.ts';
import { ExchangeType } from './constants.ts';

const NAT = '203.0.113.5';

describe('NAT traversal', () => {
  test('a client behind NAT: both detect it, IKE_AUTH moves to 4500, ESP SAs are UDP-encapsulated', async () => {
    const pair = pskPair({ natAddr: NAT });
    await pair.initiate('to-gw');
    const [init, initResp, auth, authResp] = pair.wire;
    expect(init!.d.remote).toEqual({ addr: NAT, port: 30500 });
    expect(init!.d.local).toEqual({ addr: GW_ADDR, port: 500 });
    // IKE_AUTH from the client's 4500 (mapped to 34500 by the NAT) to the gateway's 4500, answered the same way back.
    expect(auth!.d.remote).toEqual({ addr: NAT, port: 34500 });
    expect(auth!.d.local).toEqual({ addr: GW_ADDR, port: 4500 });
    expect(authResp!.d.local).toEqual({ addr: CLIENT_ADDR, port: 4500 });
    expect(initResp!.exchange).toBe(ExchangeType.IKE_SA_INIT);

    expect(pair.a.eventsOf('ike.up')[0]).toMatchObject({ natLocal: true, natRemote: false });
    expect(pair.b.eventsOf('ike.up')[0]).toMatchObject({ natLocal: false, natRemote: true, remote: { addr: NAT, port: 34500 } });
    expect(pair.b.dp.inbound()[0]).toMatchObject({ src: NAT, dst: GW_ADDR, encap: { srcPort: 34500, dstPort: 4500 } });
    expect(pair.b.dp.outbound()[0]).toMatchObject({ src: GW_ADDR, dst: NAT, encap: { srcPort: 4500, dstPort: 34500 } });
    expect(pair.a.dp.outbound()[0]).toMatchObject({ src: CLIENT_ADDR, dst: GW_ADDR, encap: { srcPort: 4500, dstPort: 4500 } });
  });

  test('the side behind the NAT sends 1-octet keepalives every 20 s on 4500; the other side does not', async () => {
    const pair = pskPair({ natAddr: NAT });
    await pair.initiate('to-gw');
    await pair.advance(20_000);
    const ka = pair.wire.filter((p) => p.d.data.length === 1);
    expect(ka).toHaveLength(1);
    expect(ka[0]).toMatchObject({ from: 'a', d: { local: { addr: GW_ADDR, port: 4500 }, remote: { addr: NAT, port: 34500 } } });
    expect(Array.from(ka[0]!.d.data)).toEqual([0xff]);
    expect(pair.b.engine.stats().counters['nat-keepalive-received']).toBe(1);
    await pair.advance(40_000);
    expect(pair.wire.filter((p) => p.d.data.length === 1 && p.from === 'a')).toHaveLength(3);
    expect(pair.wire.filter((p) => p.d.data.length === 1 && p.from === 'b')).toHaveLength(0);
  });

  test('forced encapsulation without a NAT moves to 4500 and encapsulates ESP on both sides', async () => {
    const pair = pskPair({ client: { encapsulation: true } });
    await pair.initiate('to-gw');
    expect(pair.wire[2]!.d.local.port).toBe(4500);
    expect(pair.b.eventsOf('ike.up')[0]).toMatchObject({ natRemote: true });
    expect(pair.a.dp.outbound()[0]?.encap).toEqual({ srcPort: 4500, dstPort: 4500 });
    expect(pair.b.dp.outbound()[0]?.encap).toEqual({ srcPort: 4500, dstPort: 4500 });
  });

  test('a new NAT mapping seen on an authenticated message updates the SA and the ESP SAs', async () => {
    const pair = pskPair({ natAddr: NAT, client: { dpdDelaySec: 30 } });
    await pair.initiate('to-gw');
    // The NAT reboots and maps the client's 4500 to 40000 from now on.
    pair.filter = (p) => {
      if (p.from === 'a') p.d = { ...p.d, remote: { addr: NAT, port: 40000 } };
      return true;
    };
    await pair.advance(30_000);
    expect(pair.b.engine.listSas()[0]?.remote).toEqual({ addr: NAT, port: 40000 });
    expect(pair.b.dp.outbound()[0]).toMatchObject({ dst: NAT, encap: { srcPort: 4500, dstPort: 40000 } });
    expect(pair.b.dp.inbound()[0]).toMatchObject({ src: NAT, encap: { srcPort: 40000, dstPort: 4500 } });
  });

  test('an unauthenticated packet from a new address does not move the SA', async () => {
    const pair = pskPair({ natAddr: NAT });
    await pair.initiate('to-gw');
    const auth = pair.wire.find((p) => p.exchange === ExchangeType.IKE_AUTH && !p.response)!;
    const forged = auth.d.data.slice();
    forged[forged.length - 1]! ^= 1;
    pair.absorb(pair.b, pair.b.engine.receive({ local: auth.d.local, remote: { addr: '198.51.100.66', port: 999 }, data: forged }, pair.clock));
    expect(pair.b.engine.listSas()[0]?.remote).toEqual({ addr: NAT, port: 34500 });
  });
});
