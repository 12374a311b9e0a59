// Virtual IPs via CP, TS narrowing to the VIP, lease memory, INITIAL_CONTACT (RFC 7296 §2.4, §2.9, §2.19, §3.15).
import { describe, expect, test } from 'vitest';
import { pskPair } from './testing/pairs.ts';
import { child, clientConn } from './testing/config.ts';
import { Notify, PayloadType } from './constants.ts';
import type { PoolConfig } from '../config/types.ts';
import type { Pair } from './testing/pair.ts';

const POOL: PoolConfig = { name: 'v4', cidr: '203.0.113.0/24', dns: ['198.51.100.53'], domains: ['corp.outpost.test'] };

function vipPair(pool: PoolConfig = POOL, extraClients: string[] = []): Pair {
  const client = { vips: ['0.0.0.0'], children: [child({ localTs: ['dynamic'], remoteTs: ['0.0.0.0/0'] })] };
  const pair = pskPair({
    gw: { pools: [pool.name], children: [child({ localTs: ['198.51.100.0/24'], remoteTs: ['dynamic'] })] },
    gwCfg: { pools: [pool] },
    client,
    clientCfg: {
      connections: [
        clientConn(client),
        ...extraClients.map((id, i) => clientConn({ ...client, name: `to-gw-${i + 2}`, local: { id, auth: 'psk' } })),
      ],
    },
  });
  return pair;
}

async function terminateAll(pair: Pair): Promise<void> {
  for (const sa of pair.a.engine.listSas()) pair.absorb(pair.a, pair.a.engine.command({ type: 'terminate', ikeId: sa.ikeId }, pair.clock));
  await pair.run();
}

describe('virtual IPs', () => {
  test('CFG_REQUEST gets an address from the pool with DNS and domain; TSi is narrowed to that /32', async () => {
    const pair = vipPair();
    // IKE_AUTH { IDi, IDr, AUTH, CP(CFG_REQUEST: IP4_ADDRESS, IP4_DNS), SA, TSi(0.0.0.0/0), TSr(0.0.0.0/0) } -->
    //    <-- IKE_AUTH { IDr, AUTH, CP(CFG_REPLY: IP4_ADDRESS 203.0.113.1, IP4_DNS, DNS_DOMAIN), SA, TSi(203.0.113.1/32), TSr(198.51.100.0/24) }
    await pair.initiate('to-gw');
    const [childA] = pair.a.eventsOf('child.up');
    expect(childA).toMatchObject({ localTs: ['203.0.113.1/32'], remoteTs: ['198.51.100.0/24'], virtualIp: ['203.0.113.1'] });
    expect(pair.b.eventsOf('child.up')[0]).toMatchObject({ remoteTs: ['203.0.113.1/32'], virtualIp: ['203.0.113.1'] });
    expect(pair.a.engine.listSas()[0]?.virtualIps).toEqual(['203.0.113.1']);
    expect(pair.b.dp.policies.find((p) => p.direction === 'out')?.remoteTs).toMatchObject({ startAddr: '203.0.113.1', endAddr: '203.0.113.1' });
  });

  test('the CP reply carries the address, the pool DNS server and the DNS domain', async () => {
    const pair = vipPair();
    await pair.initiate('to-gw');
    expect(pair.a.logs('info').filter((l) => l.includes('virtual IP'))).toEqual(['received virtual IP 203.0.113.1 (DNS 198.51.100.53; domain corp.outpost.test)']);
    expect(pair.b.logs('info')).toContain('assigned virtual IP 203.0.113.1 to fqdn:client.outpost.test');
  });

  test('the same identity gets the same address again; another identity gets the next one', async () => {
    const pair = vipPair(POOL, ['fqdn:other.outpost.test']);
    await pair.initiate('to-gw');
    await terminateAll(pair);
    expect(pair.b.engine.listSas()).toEqual([]);
    await pair.initiate('to-gw-2');
    await pair.initiate('to-gw');
    const vips = pair.a.eventsOf('child.up').map((c) => c.virtualIp?.[0]);
    expect(vips).toEqual(['203.0.113.1', '203.0.113.2', '203.0.113.1']);
  });

  test('the lease follows the identity as matching sees it: other letter case gets the same address', async () => {
    const pair = vipPair(POOL, ['fqdn:CLIENT.Outpost.TEST', 'fqdn:other.outpost.test']);
    await pair.initiate('to-gw');
    await terminateAll(pair);
    await pair.initiate('to-gw-2');
    await terminateAll(pair);
    await pair.initiate('to-gw-3');
    expect(pair.a.eventsOf('child.up').map((c) => c.virtualIp?.[0])).toEqual(['203.0.113.1', '203.0.113.1', '203.0.113.2']);
    // Logs keep the identity as received.
    expect(pair.b.logs('info')).toContain('assigned virtual IP 203.0.113.1 to fqdn:CLIENT.Outpost.TEST');
  });

  test('an exhausted pool answers INTERNAL_ADDRESS_FAILURE and no CHILD_SA, the IKE SA stays up', async () => {
    // /30: .1 and .2 are usable (network .0 and broadcast .3 are skipped).
    const pool: PoolConfig = { name: 'v4', cidr: '203.0.113.0/30', dns: [], domains: [] };
    const pair = vipPair(pool, ['fqdn:two.outpost.test', 'fqdn:three.outpost.test']);
    await pair.initiate('to-gw');
    await pair.initiate('to-gw-2');
    await pair.initiate('to-gw-3');
    expect(pair.a.eventsOf('child.up').map((c) => c.virtualIp?.[0])).toEqual(['203.0.113.1', '203.0.113.2']);
    expect(pair.a.eventsOf('ike.up')).toHaveLength(3);
    expect(pair.b.engine.listSas()).toHaveLength(3);
    expect(pair.b.engine.listSas()[2]?.children).toEqual([]);
    expect(pair.a.logs('warn').some((l) => l.includes('INTERNAL_ADDRESS_FAILURE'))).toBe(true);
    expect(pair.b.logs('warn')).toContain('no virtual IP available for fqdn:three.outpost.test in pools [v4]');
    expect(Notify.INTERNAL_ADDRESS_FAILURE).toBe(36);
  });
});

describe('INITIAL_CONTACT', () => {
  test('a client that restarted and reconnects with INITIAL_CONTACT replaces its old SA on the gateway', async () => {
    const pair = vipPair();
    await pair.initiate('to-gw');
    const old = pair.b.engine.listSas()[0]!;
    pair.restart('a');
    // IKE_AUTH { IDi, N(INITIAL_CONTACT), ... } --> : the gateway drops the stale SA, no DELETE is sent for it.
    await pair.initiate('to-gw');
    const sas = pair.b.engine.listSas();
    expect(sas).toHaveLength(1);
    expect(sas[0]!.ikeId).not.toBe(old.ikeId);
    expect(pair.b.eventsOf('ike.down')).toEqual([{ type: 'ike.down', ikeId: old.ikeId, conn: 'rw', reason: 'replaced (INITIAL_CONTACT)' }]);
    expect(pair.b.dp.sas.size).toBe(2);
    expect(pair.trace().filter((t) => t.includes('INFORMATIONAL'))).toEqual([]);
    // The lease is shared by identity, so the reconnect keeps its address.
    expect(sas[0]!.virtualIps).toEqual(['203.0.113.1']);
  });

  test('a second SA to the same peer carries no INITIAL_CONTACT and leaves the first in place', async () => {
    const pair = vipPair();
    await pair.initiate('to-gw');
    await pair.initiate('to-gw');
    expect(pair.b.engine.listSas()).toHaveLength(2);
    expect(pair.b.eventsOf('ike.down')).toEqual([]);
    expect(PayloadType.NOTIFY).toBe(41);
  });
});
