// Tests for the gateway runtime on loopback: wiring with a fake engine, then two real engines negotiating (RFC 7296).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/parse-config.ts';
import type { GatewayConfig } from '../config/types.ts';
import { createMockDataplane, type MockDataplane } from '../dataplane/mock.ts';
import { EncrId, IntegId } from '../ike/constants.ts';
import type { EngineOptions } from '../ike/engine.ts';
import type { Command, Datagram, EngineEvent, IkeSaInfo, Output } from '../ike/io.ts';
import { startGateway, SelfTestError, type EngineLike, type Gateway } from './gateway.ts';
import { createLogger } from './logger.ts';
import { addNonEspMarker } from './udp.ts';

const dir = mkdtempSync(join(tmpdir(), 'outpost-gw-'));
const running: Gateway[] = [];
const peers: { close(): void }[] = [];

afterEach(async () => {
  for (const g of running.splice(0)) await g.stop();
  for (const p of peers.splice(0)) p.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

function baseConfig(over: Partial<GatewayConfig> = {}): GatewayConfig {
  return {
    listen: [{ address: '127.0.0.1', port: 0, nattPort: 0 }],
    log: { level: 'debug', format: 'json' },
    dataplane: { backend: 'mock', offload: 'none' },
    cookieThreshold: 100,
    halfOpenPerSource: 20,
    retransmit: { timeoutMs: 500, tries: 3, base: 1.8 },
    pools: [],
    cas: [],
    connections: [],
    ...over,
  };
}

const empty = (): Output => ({ send: [], effects: [], events: [] });

/** A scripted engine: records every call; `onReceive` decides what a datagram produces. */
class FakeEngine implements EngineLike {
  calls: string[] = [];
  commands: Command[] = [];
  sas: IkeSaInfo[] = [];
  onReceive: (d: Datagram) => Output = () => empty();
  onCommand: (c: Command) => Output = () => empty();
  onTick: () => Output = () => empty();
  constructor(readonly opts: EngineOptions) {}
  receive(d: Datagram): Output {
    this.calls.push(`receive:${d.local.port}`);
    return this.onReceive(d);
  }
  tick(nowMs: number): Output {
    this.calls.push(`tick`);
    void nowMs;
    return this.onTick();
  }
  command(c: Command): Output {
    this.commands.push(c);
    return this.onCommand(c);
  }
  listSas(): IkeSaInfo[] {
    return this.sas;
  }
}

async function startFake(config: GatewayConfig, extra: Parameters<typeof startGateway>[1] = {}) {
  let engine!: FakeEngine;
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', format: 'json', write: (l) => lines.push(l), strict: true });
  const dp = createMockDataplane();
  const gw = await startGateway(config, {
    logger,
    dataplane: dp,
    engineFactory: (o) => (engine = new FakeEngine(o)),
    stopGraceMs: 0,
    ...extra,
  });
  running.push(gw);
  const json = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { gw, engine, lines, json, dp };
}

async function udpPeer() {
  const got: { data: Uint8Array; port: number }[] = [];
  const sock = await Bun.udpSocket({ hostname: '127.0.0.1', port: 0, binaryType: 'uint8array', socket: { data: (_s, data, port) => void got.push({ data: data.slice(), port }), error: () => {} } });
  peers.push(sock);
  return { sock, got };
}

const SA_EVENT: EngineEvent = {
  type: 'ike.up',
  ikeId: 'i1',
  conn: 'rw',
  local: { addr: '127.0.0.1', port: 500 },
  remote: { addr: '127.0.0.1', port: 4500 },
  localId: 'fqdn:gw.example',
  remoteId: 'fqdn:client.example',
  proposal: 'aes256gcm16-prfsha256-x25519',
  natLocal: false,
  natRemote: true,
  initiator: false,
};

describe('startGateway with a fake engine', () => {
  it('routes datagrams in and out, effects to the data plane, events to the log and the status file', async () => {
    const statusFile = join(dir, 'status.json');
    const { gw, engine, json, dp } = await startFake(baseConfig(), { statusFile });
    const natt = gw.ports.find((p) => p.natt)!;
    const sa: IkeSaInfo = { ikeId: 'i1', conn: 'rw', state: 'established', initiator: false, spiI: '01', spiR: '02', local: SA_EVENT.type === 'ike.up' ? SA_EVENT.local : { addr: '', port: 0 }, remote: { addr: '127.0.0.1', port: 1 }, proposal: 'p', natLocal: false, natRemote: true, virtualIps: [], createdMs: 1, establishedMs: 2, children: [] };
    engine.onReceive = (d) => {
      engine.sas = [sa];
      return {
        send: [{ local: d.local, remote: d.remote, data: Uint8Array.from([...d.data].reverse()) }],
        effects: [
          {
            type: 'dp.addSa',
            sa: { childId: 'c1', direction: 'in', spi: 0x1234, src: '127.0.0.1', dst: '127.0.0.1', encrId: EncrId.AES_GCM_16, encrKeyBits: 128, encKey: new Uint8Array(20), integId: IntegId.NONE, integKey: new Uint8Array(0), esn: false, replayWindow: 64, lifetime: { softSec: 1, hardSec: 2 }, localTs: [], remoteTs: [] },
          },
        ],
        events: [SA_EVENT, { type: 'log', level: 'info', msg: 'engine says hi', ikeId: 'i1' }],
      };
    };
    const p = await udpPeer();
    p.sock.send(addNonEspMarker(Uint8Array.from([1, 2, 3, 4, 5])), natt.port, '127.0.0.1');
    await until(() => p.got.length === 1, 2000, 'the reply');
    expect(p.got[0]).toEqual({ data: addNonEspMarker(Uint8Array.from([5, 4, 3, 2, 1])), port: natt.port });
    await until(() => dp.listSas().length === 1, 2000, 'the SA');
    expect(dp.getSa(0x1234, 'in')?.childId).toBe('c1');

    const up = json().find((l) => l.event === 'ike.up');
    expect(up).toMatchObject({ level: 'info', ikeId: 'i1', conn: 'rw', remoteId: 'fqdn:client.example', natRemote: true });
    expect(json().find((l) => l.msg === 'engine says hi')).toMatchObject({ ikeId: 'i1', level: 'info' });
    const status = JSON.parse(readFileSync(statusFile, 'utf8')) as { running: boolean; sas: IkeSaInfo[] };
    expect(status.running).toBe(true);
    expect(status.sas.map((s) => s.ikeId)).toEqual(['i1']);

    await gw.stop();
    expect(engine.commands).toContainEqual({ type: 'terminate', ikeId: 'i1' });
    expect(JSON.parse(readFileSync(statusFile, 'utf8'))).toMatchObject({ running: false, sas: [] });
    expect(dp.closed).toBe(true);
    await gw.stopped;
  });

  it('holds a response until the data-plane changes of the same output are applied, keeping the wire order', async () => {
    const dp = createMockDataplane();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slowDp: MockDataplane = Object.assign(Object.create(dp) as MockDataplane, { addSa: async (sa: Parameters<MockDataplane['addSa']>[0]) => { await gate; return dp.addSa(sa); } });
    const { gw, engine } = await startFake(baseConfig(), { dataplane: slowDp });
    const natt = gw.ports.find((p) => p.natt)!;
    const inbound = { childId: 'c1', direction: 'in' as const, spi: 0x4321, src: '127.0.0.1', dst: '127.0.0.1', encrId: EncrId.AES_GCM_16, encrKeyBits: 128, encKey: new Uint8Array(20), integId: IntegId.NONE, integKey: new Uint8Array(0), esn: false, replayWindow: 64, lifetime: { softSec: 1, hardSec: 2 }, localTs: [], remoteTs: [] };
    engine.onReceive = (d) =>
      d.data[0] === 1
        ? { send: [{ local: d.local, remote: d.remote, data: Uint8Array.of(0xa1) }], effects: [{ type: 'dp.addSa', sa: inbound }], events: [] }
        : { send: [{ local: d.local, remote: d.remote, data: Uint8Array.of(0xb2) }], effects: [], events: [] };
    const p = await udpPeer();
    p.sock.send(addNonEspMarker(Uint8Array.of(1)), natt.port, '127.0.0.1'); // answer needs the new inbound SA
    await until(() => engine.calls.length === 1, 2000, 'the first request');
    p.sock.send(addNonEspMarker(Uint8Array.of(2)), natt.port, '127.0.0.1'); // answer needs nothing, but comes second
    await until(() => engine.calls.length === 2, 2000, 'the second request');
    await Bun.sleep(50);
    expect(p.got).toEqual([]); // nothing leaves while the SA is still being installed
    release();
    await until(() => p.got.length === 2, 2000, 'both replies');
    expect(p.got.map((g) => g.data.at(-1))).toEqual([0xa1, 0xb2]);
    expect(dp.getSa(0x4321, 'in')?.childId).toBe('c1');
  });

  it('data-plane lifetimes reach the engine as dp.expire commands, and acquires as dp.acquire', async () => {
    const { dp, engine } = await startFake(baseConfig());
    dp.emit({ type: 'expire', kind: 'soft', spi: 0xc0ffee, direction: 'in', childId: 'c1' });
    dp.emit({ type: 'expire', kind: 'hard', spi: 0xc0ffef, direction: 'out', childId: 'c1' });
    const ts = { startAddr: '10.0.0.1', endAddr: '10.0.0.1', ipProtocol: 0, startPort: 0, endPort: 65535 };
    dp.emit({ type: 'acquire', localTs: ts, remoteTs: ts });
    dp.emit({ type: 'mapping', spi: 1, newRemote: { addr: '192.0.2.9', port: 4500 } });
    expect(engine.commands).toEqual([
      { type: 'dp.expire', spi: 0xc0ffee, direction: 'in', kind: 'soft' },
      { type: 'dp.expire', spi: 0xc0ffef, direction: 'out', kind: 'hard' },
      { type: 'dp.acquire', localTs: ts, remoteTs: ts },
    ]);
  });

  it('the status file carries the traffic counters of each CHILD_SA, refreshed while running', async () => {
    const statusFile = join(dir, 'traffic-status.json');
    const { gw, engine, dp } = await startFake(baseConfig(), { statusFile, statusRefreshMs: 20 });
    const key = new Uint8Array(20);
    const base = { childId: 'c1', src: '127.0.0.1', dst: '127.0.0.2', encrId: EncrId.AES_GCM_16, encrKeyBits: 128, encKey: key, integId: IntegId.NONE, integKey: new Uint8Array(0), esn: true, replayWindow: 64, lifetime: { softSec: 0, hardSec: 0 }, localTs: [], remoteTs: [] };
    await dp.addSa({ ...base, direction: 'in', spi: 0x1001 });
    await dp.addSa({ ...base, direction: 'out', spi: 0x2002 });
    engine.sas = [
      {
        ikeId: 'i1', conn: 'rw', state: 'established', initiator: false, spiI: '01', spiR: '02', local: { addr: '127.0.0.1', port: 4500 }, remote: { addr: '127.0.0.2', port: 4500 }, proposal: 'p', natLocal: false, natRemote: true, virtualIps: [], createdMs: 1, establishedMs: 2,
        children: [{ childId: 'c1', name: 'net', spiIn: 0x1001, spiOut: 0x2002, proposal: 'p', localTs: [], remoteTs: [], encap: true, createdMs: 1 }],
      },
    ];
    dp.recordTraffic(0x1001, 'in', 8400, 100);
    dp.recordTraffic(0x2002, 'out', 4200, 50);
    type Status = { dataplane: { backend: string }; sas: { children: { traffic?: { in: { bytes: number; packets: number }; out: { bytes: number; packets: number } } }[] }[] };
    const read = () => JSON.parse(readFileSync(statusFile, 'utf8')) as Status;
    await until(() => read().sas[0]?.children[0]?.traffic !== undefined, 2000, 'traffic in the status file');
    expect(read().dataplane.backend).toBe('mock');
    expect(read().sas[0]!.children[0]!.traffic).toMatchObject({ in: { bytes: 8400, packets: 100 }, out: { bytes: 4200, packets: 50 } });
    dp.recordTraffic(0x1001, 'in', 600, 4);
    await until(() => read().sas[0]!.children[0]!.traffic!.in.packets === 104, 2000, 'the next refresh');
    await gw.stop();
  });

  it('ticks the engine at Output.wakeAtMs', async () => {
    const { gw, engine } = await startFake(baseConfig());
    let ticks = 0;
    engine.onTick = () => (++ticks < 3 ? { ...empty(), wakeAtMs: Date.now() + 10 } : empty());
    gw.command({ type: 'initiate', conn: 'x' }); // any output can carry the first deadline
    engine.onCommand = () => empty();
    const start = Date.now();
    engine.onCommand = () => ({ ...empty(), wakeAtMs: start + 20 });
    gw.command({ type: 'initiate', conn: 'y' });
    await until(() => ticks === 3, 2000, 'three ticks');
    await Bun.sleep(50);
    expect(ticks).toBe(3); // no deadline after the third: no more ticks
    expect(Date.now() - start).toBeGreaterThanOrEqual(20);
  });

  it('runs certificate validation and resumes the engine with the result', async () => {
    const { gw, engine, json } = await startFake(baseConfig(), {
      validateChain: async (req) => ({ ok: false, reason: `untrusted (${req.endEntityDer.length} octets)` }),
    });
    engine.onCommand = (c) =>
      c.type === 'initiate'
        ? { ...empty(), effects: [{ type: 'pki.validateChain', ref: 'ref-1', request: { endEntityDer: new Uint8Array(3), intermediatesDer: [], trustAnchorsDer: [], identity: { idType: 2, data: new Uint8Array(1) }, nowMs: 0 } }] }
        : { ...empty(), events: [{ type: 'auth.failed', ikeId: 'i9', remote: { addr: '127.0.0.1', port: 500 }, reason: c.type === 'resume' && !c.result.ok ? c.result.reason : '?' }] };
    gw.command({ type: 'initiate', conn: 'x' });
    await until(() => engine.commands.some((c) => c.type === 'resume'), 2000, 'resume');
    expect(engine.commands.find((c) => c.type === 'resume')).toEqual({ type: 'resume', ref: 'ref-1', result: { ok: false, reason: 'untrusted (3 octets)' } });
    expect(json().find((l) => l.event === 'auth.failed')).toMatchObject({ level: 'warn', reason: 'untrusted (3 octets)' });
  });

  it('initiates children with start_action start, pinning a wildcard initiator to the kernel source address', async () => {
    const text = `connections:
  - name: site
    remote_addrs: [127.0.0.1]
    local: { id: a.example, auth: psk }
    remote: { id: b.example, auth: psk }
    psk: "a shared secret of decent length"
    children: [{ name: lan, local_ts: [198.51.100.0/24], remote_ts: [203.0.113.0/24], start_action: start }, { name: other }]
`;
    const parsed = parseConfigText(text, dir, 't.yaml');
    if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
    const config = { ...parsed.config, listen: [{ address: '0.0.0.0', port: 0, nattPort: 0 }] };
    const { engine } = await startFake(config, { interfaceAddresses: () => ['127.0.0.1'], sourceFor: async () => '127.0.0.1' });
    expect(engine.commands).toEqual([{ type: 'initiate', conn: 'site', child: 'lan' }]);
    expect(engine.opts.config.connections[0]!.localAddrs).toEqual(['127.0.0.1']);
    expect(config.connections[0]!.localAddrs).toEqual([]); // the caller's config is not modified
  });

  it('an engine that throws anyway is logged, and the gateway keeps serving', async () => {
    const { gw, engine, json } = await startFake(baseConfig());
    const ike = gw.ports.find((p) => !p.natt)!;
    engine.onReceive = (d) => {
      if (d.data[0] === 0xee) throw new Error('engine bug');
      return { ...empty(), send: [{ local: d.local, remote: d.remote, data: d.data }] };
    };
    const p = await udpPeer();
    p.sock.send(Uint8Array.from([0xee, 1]), ike.port, '127.0.0.1');
    p.sock.send(Uint8Array.from([0x01, 2]), ike.port, '127.0.0.1');
    await until(() => p.got.length === 1, 2000, 'the echo');
    expect(p.got[0]!.data).toEqual(Uint8Array.from([0x01, 2]));
    expect(json().find((l) => l.msg === 'engine receive threw')).toMatchObject({ level: 'error', error: expect.stringContaining('engine bug') });
  });

  it('refuses to start when the crypto self-test fails, leaving no socket open', async () => {
    const lines: string[] = [];
    const dp = createMockDataplane();
    await expect(
      startGateway(baseConfig({ listen: [{ address: '127.0.0.1', port: 15077, nattPort: 15078 }] }), {
        logger: createLogger({ write: (l) => lines.push(l) }),
        dataplane: dp,
        selfTest: () => ({ ok: false, failures: ['AES-GCM-128 KAT'] }),
      }),
    ).rejects.toThrow(SelfTestError);
    expect(lines.join('\n')).toMatch(/crypto self-test failed/);
    // The port is still free: nothing was bound.
    const probe = await Bun.udpSocket({ hostname: '127.0.0.1', port: 15077 });
    probe.close();
  });

  it('an explicitly requested backend this kernel cannot run stops the start, saying why', async () => {
    await expect(startGateway(baseConfig({ dataplane: { backend: 'xfrm', offload: 'auto' } }), { logger: createLogger({ write: () => {} }) })).rejects.toThrow(
      /backend "xfrm" cannot start: kernel has no ESP/
    );
  });

  it('stops on SIGTERM when asked to handle signals', async () => {
    const { gw } = await startFake(baseConfig(), { signals: true });
    const before = process.listenerCount('SIGTERM');
    process.emit('SIGTERM', 'SIGTERM');
    await gw.stopped;
    expect(process.listenerCount('SIGTERM')).toBe(before - 1);
  });
});

describe('two gateways with the real engine on loopback', () => {
  it('negotiate IKE and CHILD SAs, install them in the mock data planes, and tear down on stop', async () => {
    const responderYaml = `pools: [{ name: rw, cidr: 203.0.113.0/24 }]
connections:
  - name: rw
    local: { id: gw.example, auth: psk }
    remote: { auth: psk }
    psk: "a shared secret of decent length"
    pools: [rw]
    children: [{ name: net, local_ts: [198.51.100.0/24] }]
`;
    const r = parseConfigText(responderYaml, dir, 'a.yaml');
    if (!r.ok) throw new Error(r.errors.join('\n'));
    const linesA: string[] = [];
    const dpA: MockDataplane = createMockDataplane();
    const statusFile = join(dir, 'a-status.json');
    const a = await startGateway(
      { ...r.config, listen: [{ address: '127.0.0.1', port: 0, nattPort: 0 }] },
      { logger: createLogger({ level: 'debug', format: 'json', write: (l) => linesA.push(l), strict: true }), dataplane: dpA, statusFile, stopGraceMs: 500 },
    );
    running.push(a);
    const portA = a.ports.find((p) => !p.natt)!.port;

    const initiatorYaml = `connections:
  - name: to-gw
    remote_addrs: [127.0.0.1]
    remote_port: ${portA}
    vips: [0.0.0.0]
    local: { id: client.example, auth: psk }
    remote: { id: gw.example, auth: psk }
    psk: "a shared secret of decent length"
    children: [{ name: net, remote_ts: [198.51.100.0/24], start_action: start }]
`;
    const i = parseConfigText(initiatorYaml, dir, 'b.yaml');
    if (!i.ok) throw new Error(i.errors.join('\n'));
    const linesB: string[] = [];
    const dpB = createMockDataplane();
    const b = await startGateway(
      { ...i.config, listen: [{ address: '127.0.0.1', port: 0, nattPort: 0 }] },
      { logger: createLogger({ level: 'debug', format: 'json', write: (l) => linesB.push(l), strict: true }), dataplane: dpB, stopGraceMs: 500 },
    );
    running.push(b);

    const events = (lines: string[], type: string) => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === type);
    await until(() => events(linesA, "child.up").length === 1 && events(linesB, "child.up").length === 1, 5000, "child.up on both sides").catch((e) => { console.log(linesA.join("\n"), "\n---\n", linesB.join("\n")); throw e; });
    expect(events(linesA, 'ike.up')[0]).toMatchObject({ conn: 'rw', remoteId: 'fqdn:client.example', localId: 'fqdn:gw.example' });
    expect(events(linesA, 'child.up')[0]).toMatchObject({ localTs: ['198.51.100.0/24'], remoteTs: ['203.0.113.1/32'], virtualIp: ['203.0.113.1'] });
    expect(events(linesB, 'child.up')[0]).toMatchObject({ localTs: ['203.0.113.1/32'], remoteTs: ['198.51.100.0/24'] });

    // Both data planes hold the SA pair, with each side's inbound SPI the other's outbound.
    await until(() => dpA.listSas().length === 2 && dpB.listSas().length === 2, 2000, 'SAs installed');
    const spiInA = dpA.listSas().find((s) => s.direction === 'in')!.spi;
    expect(dpB.listSas().find((s) => s.direction === 'out')!.spi).toBe(spiInA);
    expect(dpA.getSa(spiInA, 'in')!.encKey).toEqual(dpB.listSas().find((s) => s.direction === 'out')!.encKey);
    expect(dpA.listPolicies().map((p) => p.direction).sort()).toEqual(['fwd', 'in', 'out']);
    expect(dpA.calls.every((c) => c.ok)).toBe(true);

    const status = JSON.parse(readFileSync(statusFile, 'utf8')) as { sas: IkeSaInfo[] };
    expect(status.sas).toHaveLength(1);
    expect(status.sas[0]).toMatchObject({ conn: 'rw', state: 'established', remoteId: 'fqdn:client.example', virtualIps: ['203.0.113.1'] });
    expect(status.sas[0]!.children).toHaveLength(1);
    // Neither log holds the PSK.
    expect(`${linesA.join('\n')}${linesB.join('\n')}`).not.toContain('decent length');

    // Stopping the initiator deletes its IKE SA at the responder (DELETE sent before the sockets close).
    await b.stop();
    await until(() => events(linesA, 'ike.down').length === 1, 3000, 'ike.down at the responder');
    await until(() => dpA.listSas().length === 0 && dpA.listPolicies().length === 0, 2000, 'the responder to remove its SAs');
    expect(JSON.parse(readFileSync(statusFile, 'utf8')).sas).toEqual([]);
    expect(a.stats().udp.ikeReceived).toBeGreaterThanOrEqual(3);
  });
});
