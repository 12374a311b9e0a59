// Engine.reload: configuration replaced in place; SAs of unchanged connections stay, others are deleted (RFC 7296 §1.4.1).
import { describe, expect, test } from 'vitest';
import { pskPair } from './testing/pairs.ts';
import { child, clientConn } from './testing/config.ts';
import type { GatewayConfig, PoolConfig } from '../config/types.ts';
import type { Pair } from './testing/pair.ts';

const POOL: PoolConfig = { name: 'v4', cidr: '203.0.113.0/24', dns: [], domains: [] };

function vipPair(): Pair {
  const client = { vips: ['0.0.0.0'], children: [child({ localTs: ['dynamic'], remoteTs: ['0.0.0.0/0'] })] };
  return pskPair({
    gw: { pools: [POOL.name], children: [child({ localTs: ['198.51.100.0/24'], remoteTs: ['dynamic'] })] },
    gwCfg: { pools: [POOL] },
    client,
    clientCfg: { connections: [clientConn(client), clientConn({ ...client, name: 'to-gw-2', local: { id: 'fqdn:other.outpost.test', auth: 'psk' } })] },
  });
}

async function reload(pair: Pair, side: 'a' | 'b', config: GatewayConfig): Promise<void> {
  const peer = pair.peer(side);
  pair.absorb(peer, peer.engine.reload(config, pair.clock));
  await pair.run();
}

describe('Engine.reload', () => {
  test('an equal configuration (new objects) keeps the SAs, their leases and their timers; the SA still rekeys', async () => {
    const pair = vipPair();
    await pair.initiate('to-gw');
    const before = pair.b.engine.listSas();
    const sent = pair.wire.length;
    await reload(pair, 'b', structuredClone(pair.opts.b));
    expect(pair.wire.length).toBe(sent);
    expect(pair.b.engine.listSas()).toEqual(before);
    // The lease survived: another identity gets the next address, not the kept one.
    await pair.initiate('to-gw-2');
    expect(pair.a.eventsOf('child.up').map((c) => c.virtualIp?.[0])).toEqual(['203.0.113.1', '203.0.113.2']);
    const info = pair.a.engine.listSas()[0]!;
    await pair.command('a', { type: 'rekey', ikeId: info.ikeId });
    expect(pair.b.eventsOf('ike.down').map((e) => e.reason)).toEqual(['rekeyed']);
  });

  test('a removed connection: its IKE SA is deleted with a DELETE, the peer sees it go', async () => {
    const pair = pskPair();
    await pair.initiate('to-gw');
    await reload(pair, 'b', { ...structuredClone(pair.opts.b), connections: [] });
    expect(pair.trace().slice(-2)).toEqual(['b>INFORMATIONAL', 'a<INFORMATIONAL']);
    expect(pair.b.engine.listSas()).toEqual([]);
    expect(pair.a.engine.listSas()).toEqual([]);
    expect(pair.b.eventsOf('ike.down')[0]?.reason).toBe('configuration reloaded');
    expect(pair.b.dp.sas.size).toBe(0);
  });

  test('a changed connection is deleted too; a new connection with start_action start comes up', async () => {
    const pair = pskPair();
    await pair.initiate('to-gw');
    const cfg = structuredClone(pair.opts.a);
    const changed = { ...cfg.connections[0]!, dpdDelaySec: cfg.connections[0]!.dpdDelaySec + 5 };
    const started = clientConn({ name: 'to-gw-new', local: { id: 'fqdn:new.outpost.test', auth: 'psk' }, children: [child({ name: 'auto', localTs: ['dynamic'], remoteTs: ['198.51.100.0/24'], startAction: 'start' })] });
    await reload(pair, 'a', { ...cfg, connections: [changed, started] });
    expect(pair.a.eventsOf('ike.down')[0]?.reason).toBe('configuration reloaded');
    const up = pair.a.engine.listSas();
    expect(up.map((s) => s.conn)).toEqual(['to-gw-new']);
    expect(up[0]?.children.map((c) => c.name)).toEqual(['auto']);
  });
});
