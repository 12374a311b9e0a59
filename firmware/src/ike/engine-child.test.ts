// The CHILD_SA of IKE_AUTH (RFC 7296 §1.2, §2.9, §3.3): refusals keep the IKE SA, child choice, IPv6, dual-stack VIPs.
import { describe, expect, test } from 'vitest';
import { pskPair } from './testing/pairs.ts';
import { Pair } from './testing/pair.ts';
import { child, clientConn, conn, gateway } from './testing/config.ts';

describe('CHILD_SA negotiation in IKE_AUTH', () => {
  test('no common ESP proposal: NO_PROPOSAL_CHOSEN, the IKE SA stays up without a CHILD_SA', async () => {
    const pair = pskPair({ client: { children: [child({ localTs: ['dynamic'], remoteTs: ['198.51.100.0/24'], espProposals: ['chacha20poly1305'] })] } });
    // IKE_AUTH { ..., SA(chacha20poly1305), TSi, TSr } -->   <-- IKE_AUTH { IDr, AUTH, N(NO_PROPOSAL_CHOSEN) }
    await pair.initiate('to-gw');
    expect(pair.a.eventsOf('ike.up')).toHaveLength(1);
    expect(pair.b.eventsOf('ike.up')).toHaveLength(1);
    expect(pair.a.eventsOf('child.up')).toEqual([]);
    expect(pair.b.eventsOf('child.up')).toEqual([]);
    expect(pair.a.logs('warn')).toEqual(['CHILD_SA net not created: refused by 192.0.2.1: NO_PROPOSAL_CHOSEN']);
    expect(pair.b.logs('warn')).toEqual(['CHILD_SA refused (NO_PROPOSAL_CHOSEN): no acceptable ESP proposal']);
    expect(pair.a.dp.sas.size + pair.b.dp.sas.size).toBe(0);
    expect(pair.b.engine.listSas()[0]).toMatchObject({ state: 'established', children: [] });
  });

  test('selectors outside the gateway policy: TS_UNACCEPTABLE, the IKE SA stays up', async () => {
    const pair = pskPair({ client: { children: [child({ localTs: ['dynamic'], remoteTs: ['10.0.0.0/8'] })] } });
    await pair.initiate('to-gw');
    expect(pair.a.logs('warn')).toEqual(['CHILD_SA net not created: refused by 192.0.2.1: TS_UNACCEPTABLE']);
    expect(pair.b.engine.listSas()[0]?.state).toBe('established');
  });

  test('the gateway picks the first child config whose selectors fit; the client names the child it wants', async () => {
    const pair = pskPair({
      gw: { children: [child({ name: 'lan', localTs: ['198.51.100.0/24'] }), child({ name: 'dmz', localTs: ['203.0.113.0/24'] })] },
      client: {
        children: [
          child({ name: 'lan', localTs: ['dynamic'], remoteTs: ['198.51.100.0/24'] }),
          child({ name: 'dmz', localTs: ['dynamic'], remoteTs: ['203.0.113.0/28'] }),
        ],
      },
    });
    await pair.initiate('to-gw', 'dmz');
    expect(pair.b.eventsOf('child.up')[0]).toMatchObject({ child: 'dmz', localTs: ['203.0.113.0/28'] });
    expect(pair.a.eventsOf('child.up')[0]).toMatchObject({ child: 'dmz', remoteTs: ['203.0.113.0/28'] });
  });

  test('IPv6 outer addresses and selectors', async () => {
    const gwAddr = '2001:db8::1';
    const clientAddr = '2001:db8::2';
    const pair = new Pair({
      a: gateway(clientAddr, [clientConn({ remoteAddrs: [gwAddr], children: [child({ localTs: ['dynamic'], remoteTs: ['2001:db8:100::/64'] })] })]),
      b: gateway(gwAddr, [conn({ children: [child({ localTs: ['2001:db8:100::/64'] })] })]),
      aAddr: clientAddr,
      bAddr: gwAddr,
    });
    await pair.initiate('to-gw');
    expect(pair.b.eventsOf('child.up')[0]).toMatchObject({ localTs: ['2001:db8:100::/64'], remoteTs: ['2001:db8::2/128'] });
    expect(pair.b.dp.inbound()[0]).toMatchObject({ src: clientAddr, dst: gwAddr });
  });

  test('dual-stack virtual IPs: one from each pool, TSi narrowed to both hosts', async () => {
    const pools = [
      { name: 'v4', cidr: '203.0.113.0/24', dns: [], domains: [] },
      { name: 'v6', cidr: '2001:db8:fe::/64', dns: ['2001:db8::53'], domains: [] },
    ];
    const pair = pskPair({
      gw: { pools: ['v4', 'v6'], children: [child({ localTs: ['198.51.100.0/24', '2001:db8:100::/64'], remoteTs: ['dynamic'] })] },
      gwCfg: { pools },
      client: { vips: ['0.0.0.0', '::'], children: [child({ localTs: ['dynamic'], remoteTs: ['0.0.0.0/0', '::/0'] })] },
    });
    await pair.initiate('to-gw');
    const up = pair.a.eventsOf('child.up')[0];
    expect(up?.virtualIp).toEqual(['203.0.113.1', '2001:db8:fe::1']);
    expect(up?.localTs).toEqual(['203.0.113.1/32', '2001:db8:fe::1/128']);
    expect(up?.remoteTs).toEqual(['198.51.100.0/24', '2001:db8:100::/64']);
    // One out/in/fwd triple per same-family selector pair: 2 pairs.
    expect(pair.b.dp.policies).toHaveLength(6);
  });

  test('volume limits from the child config reach the data plane as soft/hard bytes and packets on both SAs', async () => {
    const limits = { rekeyBytes: 1_000_000, lifeBytes: 2_000_000, rekeyPackets: 9_000, lifePackets: 10_000 };
    const pair = pskPair({ gw: { children: [child({ localTs: ['198.51.100.0/24'], ...limits })] } });
    await pair.initiate('to-gw');
    const gwSas = [...pair.b.dp.sas.values()];
    expect(gwSas.map((s) => s.direction).sort()).toEqual(['in', 'out']);
    for (const sa of gwSas) expect(sa.lifetime).toMatchObject({ softBytes: 1_000_000, hardBytes: 2_000_000, softPackets: 9_000, hardPackets: 10_000 });
    for (const sa of pair.a.dp.sas.values()) expect(sa.lifetime.hardBytes).toBeUndefined(); // the client set none
  });
});
