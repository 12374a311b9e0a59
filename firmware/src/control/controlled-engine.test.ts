// Tests for the control plane's engine wrapper: draining refuses or redirects new IKE_SA_INIT (RFC 5685 §3), reload passes through.
import { describe, expect, it } from 'vitest';
import type { GatewayConfig } from '../config/types.ts';
import { decodeMessage, encodeMessage } from '../ike/codec/index.ts';
import type { Payload } from '../ike/codec/types.ts';
import { ExchangeType, HeaderFlag, IKE_VERSION, Notify, PayloadType } from '../ike/constants.ts';
import type { Command, Datagram, IkeSaInfo, Output } from '../ike/io.ts';
import type { EngineLike } from '../runtime/gateway.ts';
import { ControlledEngine, createDrainState, redirectData, redirectTargetProblem, RELOAD_COMMAND, type ReloadableEngine } from './controlled-engine.ts';

const empty = (): Output => ({ send: [], effects: [], events: [] });

class Fake implements EngineLike {
  received: Datagram[] = [];
  commands: Command[] = [];
  sas: IkeSaInfo[] = [];
  receive(d: Datagram): Output {
    this.received.push(d);
    return { ...empty(), wakeAtMs: 5 };
  }
  tick(): Output {
    return empty();
  }
  command(c: Command): Output {
    this.commands.push(c);
    return empty();
  }
  listSas(): IkeSaInfo[] {
    return this.sas;
  }
}

const spiI = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
const nonce = new Uint8Array(32).fill(0xab);

function datagram(opts: { exchange?: number; flags?: number; messageId?: number; redirectSupported?: boolean; withNonce?: boolean } = {}): Datagram {
  const payloads: Payload[] = [];
  if (opts.withNonce !== false) payloads.push({ type: PayloadType.NONCE, data: nonce });
  if (opts.redirectSupported) payloads.push({ type: PayloadType.NOTIFY, protocolId: 0, spi: new Uint8Array(0), notifyType: Notify.REDIRECT_SUPPORTED, data: new Uint8Array(0) });
  const data = encodeMessage(
    { spiI, spiR: new Uint8Array(8), version: IKE_VERSION, exchange: opts.exchange ?? ExchangeType.IKE_SA_INIT, flags: opts.flags ?? HeaderFlag.INITIATOR, messageId: opts.messageId ?? 0 },
    payloads,
  );
  return { local: { addr: '192.0.2.1', port: 500 }, remote: { addr: '198.51.100.7', port: 500 }, data };
}

describe('draining', () => {
  it('passes everything through while not draining', () => {
    const inner = new Fake();
    const e = new ControlledEngine(inner, createDrainState(), 0);
    expect(e.receive(datagram(), 1)).toEqual({ ...empty(), wakeAtMs: 5 });
    expect(inner.received).toHaveLength(1);
  });

  it('drops new IKE_SA_INIT requests, counting them, but not responses, other exchanges or retransmits of known SAs', () => {
    const inner = new Fake();
    const drain = createDrainState();
    const e = new ControlledEngine(inner, drain, 0);
    drain.draining = true;
    const out = e.receive(datagram({ redirectSupported: true }), 1);
    expect(out.send).toEqual([]);
    expect(out.events).toEqual([{ type: 'log', level: 'debug', msg: 'draining: IKE_SA_INIT from 198.51.100.7 refused' }]);
    expect(drain.refused).toBe(1);
    expect(inner.received).toHaveLength(0);
    // Our own IKE_SA_INIT's response, an IKE_AUTH, CREATE_CHILD_SA (rekeys): all reach the engine.
    e.receive(datagram({ flags: HeaderFlag.RESPONSE }), 2);
    e.receive(datagram({ exchange: ExchangeType.IKE_AUTH, messageId: 1 }), 3);
    e.receive(datagram({ exchange: ExchangeType.CREATE_CHILD_SA, messageId: 2 }), 4);
    // A retransmitted IKE_SA_INIT of a half-open SA from before the drain, and garbage (the engine counts it).
    inner.sas = [{ ikeId: 'h', initiator: false, spiI: '0102030405060708' } as IkeSaInfo];
    e.receive(datagram(), 5);
    e.receive({ ...datagram(), data: Uint8Array.from([1, 2, 3]) }, 6);
    expect(inner.received).toHaveLength(5);
    expect(drain.refused).toBe(1);
  });

  it('redirects clients that announced REDIRECT_SUPPORTED, with the gateway identity and their nonce (RFC 5685 §8.1)', () => {
    const inner = new Fake();
    const drain = { ...createDrainState(), draining: true, redirectTo: '203.0.113.9' };
    const e = new ControlledEngine(inner, drain, 0);
    const out = e.receive(datagram({ redirectSupported: true }), 1);
    expect(out.send).toHaveLength(1);
    const reply = out.send[0] as Datagram;
    expect(reply.remote).toEqual({ addr: '198.51.100.7', port: 500 });
    const msg = decodeMessage(reply.data);
    if (!msg.ok) throw new Error(msg.error);
    expect(msg.value.header).toMatchObject({ spiI, spiR: new Uint8Array(8), exchange: ExchangeType.IKE_SA_INIT, flags: HeaderFlag.RESPONSE, messageId: 0 });
    expect(msg.value.payloads).toEqual([
      expect.objectContaining({ type: PayloadType.NOTIFY, notifyType: Notify.REDIRECT, data: Uint8Array.from([1, 4, 203, 0, 113, 9, ...nonce]) }),
    ]);
    expect(drain).toMatchObject({ redirected: 1, refused: 0 });
    // Without REDIRECT_SUPPORTED (or without a nonce) the client is refused instead.
    expect(e.receive(datagram(), 2).send).toEqual([]);
    expect(e.receive(datagram({ redirectSupported: true, withNonce: false }), 3).send).toEqual([]);
    expect(drain).toMatchObject({ redirected: 1, refused: 2 });
    expect(inner.received).toHaveLength(0);
  });

  it('rate-limits redirects so forged requests cannot turn the gateway into a reflector', () => {
    const drain = { ...createDrainState(), draining: true, redirectTo: 'gw2.example' };
    const e = new ControlledEngine(new Fake(), drain, 0);
    let sent = 0;
    for (let i = 0; i < 200; i++) sent += e.receive(datagram({ redirectSupported: true }), 1000).send.length;
    expect(sent).toBe(50);
    expect(drain.refused).toBe(150);
  });

  it('encodes each kind of gateway identity', () => {
    const n = Uint8Array.from([9, 9]);
    expect(redirectData('gw2.example', n)).toEqual(Uint8Array.from([3, 11, ...new TextEncoder().encode('gw2.example'), 9, 9]));
    expect(redirectData('2001:db8::1', n)).toEqual(Uint8Array.from([2, 16, 0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1, 9, 9]));
    expect(redirectTargetProblem('gw2.example')).toBeNull();
    expect(redirectTargetProblem('::1')).toBeNull();
    expect(redirectTargetProblem('bad..name')).toBe('not an IP address or DNS name');
    expect(redirectTargetProblem('-x.example')).toBe('not an IP address or DNS name');
  });
});

describe('reload', () => {
  it('reaches an engine that can reload, and is refused by one that cannot', () => {
    const plain = new ControlledEngine(new Fake(), createDrainState(), 0);
    expect(plain.canReload).toBe(false);
    expect(() => plain.command({ type: RELOAD_COMMAND, config: {} as GatewayConfig }, 1)).toThrow(/cannot reload/);
    const got: GatewayConfig[] = [];
    const inner = Object.assign(new Fake(), {
      reload(config: GatewayConfig): Output {
        got.push(config);
        return { ...empty(), wakeAtMs: 42 };
      },
    }) satisfies ReloadableEngine;
    const e = new ControlledEngine(inner, createDrainState(), 0);
    expect(e.canReload).toBe(true);
    const cfg = { connections: [] } as unknown as GatewayConfig;
    expect(e.command({ type: RELOAD_COMMAND, config: cfg }, 1)).toMatchObject({ wakeAtMs: 42 });
    expect(got).toEqual([cfg]);
    e.command({ type: 'initiate', conn: 'x' }, 2);
    expect(inner.commands).toEqual([{ type: 'initiate', conn: 'x' }]);
    expect(e.stats).toBeUndefined();
  });
});
