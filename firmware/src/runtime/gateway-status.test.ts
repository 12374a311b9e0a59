// The --status-file writer: compact JSON, small tables on every SA change, large ones coalesced (and on stop).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { GatewayConfig } from '../config/types.ts';
import { createMockDataplane } from '../dataplane/mock.ts';
import type { EngineOptions } from '../ike/engine.ts';
import type { Command, EngineEvent, IkeSaInfo, Output } from '../ike/io.ts';
import { startGateway, type EngineLike } from './gateway.ts';
import { createLogger } from './logger.ts';

const dir = mkdtempSync(join(tmpdir(), 'outpost-status-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config: GatewayConfig = {
  listen: [{ address: '127.0.0.1', port: 0, nattPort: 0 }],
  log: { level: 'warn', format: 'json' },
  dataplane: { backend: 'mock', offload: 'none' },
  cookieThreshold: 100,
  halfOpenPerSource: 20,
  retransmit: { timeoutMs: 500, tries: 3, base: 1.8 },
  pools: [],
  cas: [],
  connections: [],
};

function saInfo(i: number): IkeSaInfo {
  return { ikeId: `i${i}`, conn: 'rw', state: 'established', initiator: false, spiI: '01', spiR: '02', local: { addr: '127.0.0.1', port: 500 }, remote: { addr: '127.0.0.1', port: 1 }, proposal: 'p', natLocal: false, natRemote: false, virtualIps: [], createdMs: 1, establishedMs: 2, children: [] };
}

const upEvent = (i: number): EngineEvent => ({ type: 'ike.up', ikeId: `i${i}`, conn: 'rw', local: { addr: '127.0.0.1', port: 500 }, remote: { addr: '127.0.0.1', port: 1 }, localId: 'a', remoteId: 'b', proposal: 'p', natLocal: false, natRemote: false, initiator: false });

/** Each `initiate` command brings one more SA up. */
class CountingEngine implements EngineLike {
  sas: IkeSaInfo[] = [];
  constructor(readonly opts: EngineOptions) {}
  receive(): Output {
    return { send: [], effects: [], events: [] };
  }
  tick(): Output {
    return { send: [], effects: [], events: [] };
  }
  command(c: Command): Output {
    if (c.type !== 'initiate') return { send: [], effects: [], events: [] };
    const i = this.sas.length + 1;
    this.sas.push(saInfo(i));
    return { send: [], effects: [], events: [upEvent(i)] };
  }
  listSas(): IkeSaInfo[] {
    return this.sas;
  }
}

async function start(file: string, preload: number) {
  let engine!: CountingEngine;
  const gw = await startGateway(config, {
    logger: createLogger({ level: 'warn', format: 'json', write: () => {}, strict: true }),
    dataplane: createMockDataplane(),
    engineFactory: (o) => {
      engine = new CountingEngine(o);
      for (let i = 0; i < preload; i++) engine.sas.push(saInfo(i + 1000));
      return engine;
    },
    stopGraceMs: 0,
    statusFile: file,
    statusRefreshMs: 0,
    statusMinIntervalMs: 300,
  });
  const read = () => JSON.parse(readFileSync(file, 'utf8')) as { running: boolean; sas: IkeSaInfo[] };
  return { gw, engine, read, text: () => readFileSync(file, 'utf8') };
}

const initiate: Command = { type: 'initiate', conn: 'rw', child: 'c' };

describe('status file', () => {
  it('small tables are written on every SA change, as one line of JSON', async () => {
    const { gw, read, text } = await start(join(dir, 'small.json'), 0);
    for (let n = 1; n <= 3; n++) {
      gw.command(initiate);
      expect(read().sas).toHaveLength(n);
    }
    expect(text().trimEnd()).not.toContain('\n');
    await gw.stop();
    expect(read()).toMatchObject({ running: false, sas: [] });
  });

  it('large tables: the first change is written at once, a burst after it once at the end of the interval, and stop writes at once', async () => {
    const { gw, engine, read } = await start(join(dir, 'large.json'), 40);
    expect(read().sas).toHaveLength(40);
    // The start wrote the file: a change right after it waits for the interval.
    gw.command(initiate);
    expect(read().sas).toHaveLength(40);
    await Bun.sleep(450);
    expect(read().sas).toHaveLength(41);
    // Quiet for an interval: the next change is written at once.
    await Bun.sleep(350);
    gw.command(initiate);
    expect(read().sas).toHaveLength(42);
    for (let n = 0; n < 5; n++) gw.command(initiate);
    // Coalesced: not yet written.
    expect(read().sas).toHaveLength(42);
    await Bun.sleep(450);
    expect(read().sas).toHaveLength(47);
    expect(engine.sas).toHaveLength(47);
    gw.command(initiate);
    expect(read().sas).toHaveLength(47);
    await gw.stop();
    expect(read()).toMatchObject({ running: false, sas: [] });
    // The pending write was cancelled by stop: the file stays at the stopped state.
    await Bun.sleep(400);
    expect(read()).toMatchObject({ running: false, sas: [] });
  });
});
