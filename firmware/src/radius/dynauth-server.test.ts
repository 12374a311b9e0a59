// Dynamic Authorization listener on loopback (RFC 5176): ACK/NAK, duplicates answered from cache, unknown
// clients and bad secrets ignored.
import { afterEach, describe, expect, test } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { DynAuthServer, type DynAuthRequest } from './dynauth-server.ts';
import { signPacket, verifyPacket } from './authenticator.ts';
import { ErrorCause, RadiusAttr, RadiusCode } from './constants.ts';
import { getU32, textAttr } from './attributes.ts';
import type { RadiusAttribute } from './packet.ts';
import { utf8Bytes } from './bytes.ts';

const SECRET = utf8Bytes('das-secret');
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function sender(address = '127.0.0.1'): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  closers.push(() => new Promise((r) => s.close(() => r())));
  return s;
}

/** Sends raw and waits up to `ms` for one answer. */
function ask(s: Socket, raw: Uint8Array, port: number, ms = 300): Promise<Uint8Array | null> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      s.off('message', on);
      resolve(null);
    }, ms);
    const on = (m: Buffer) => {
      clearTimeout(t);
      s.off('message', on);
      resolve(new Uint8Array(m));
    };
    s.on('message', on);
    s.send(raw, port, '127.0.0.1');
  });
}

function disconnect(attrs: RadiusAttribute[], id = 5, secret = SECRET) {
  const s = signPacket({ code: RadiusCode.DISCONNECT_REQUEST, identifier: id, attributes: attrs }, { secret, messageAuthenticator: true });
  if (!s.ok) throw new Error(s.error);
  return s.value;
}

async function listener(handler: (r: DynAuthRequest) => Promise<{ ack: true } | { ack: false; errorCause: number }>) {
  const srv = await DynAuthServer.open({ address: '127.0.0.1', port: 0, clients: [{ name: 'radius1', address: '127.0.0.1', secret: SECRET }], handler });
  closers.push(() => srv.close());
  return srv;
}

describe('DynAuthServer', () => {
  test('Disconnect-Request → handler → Disconnect-ACK; a retransmission gets the same ACK without a second call', async () => {
    const calls: DynAuthRequest[] = [];
    const srv = await listener(async (r) => {
      calls.push(r);
      await new Promise((res) => setTimeout(res, 20));
      return { ack: true };
    });
    const s = await sender();
    const req = disconnect([textAttr(RadiusAttr.USER_NAME, 'alice'), textAttr(RadiusAttr.ACCT_SESSION_ID, 'sess-9')]);
    const reply = await ask(s, req.bytes, srv.port);
    expect(reply).not.toBeNull();
    const v = verifyPacket(reply!, SECRET, req.authenticator);
    expect(v).toMatchObject({ ok: true, packet: { code: RadiusCode.DISCONNECT_ACK, identifier: 5 }, hasMessageAuthenticator: true });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ kind: 'disconnect', client: 'radius1', selector: { userName: 'alice', acctSessionId: 'sess-9' } });
    const again = await ask(s, req.bytes, srv.port);
    expect(again).toEqual(reply);
    expect(calls).toHaveLength(1);
    expect(srv.stats).toMatchObject({ requests: 1, acks: 1, duplicates: 1 });
  });

  test('the handler\'s NAK carries its Error-Cause; a throwing handler gives NAK 506', async () => {
    let mode: 'nak' | 'throw' = 'nak';
    const srv = await listener(async () => {
      if (mode === 'throw') throw new Error('boom');
      return { ack: false, errorCause: ErrorCause.SESSION_CONTEXT_NOT_FOUND };
    });
    const s = await sender();
    const req = disconnect([textAttr(RadiusAttr.USER_NAME, 'nobody')], 6);
    const r = await ask(s, req.bytes, srv.port);
    const v = r ? verifyPacket(r, SECRET, req.authenticator) : null;
    expect(v).toMatchObject({ ok: true, packet: { code: RadiusCode.DISCONNECT_NAK } });
    expect(v?.ok && getU32(v.packet, RadiusAttr.ERROR_CAUSE)).toBe(503);
    mode = 'throw';
    const req2 = disconnect([textAttr(RadiusAttr.USER_NAME, 'nobody')], 7);
    const r2 = await ask(s, req2.bytes, srv.port);
    const v2 = r2 ? verifyPacket(r2, SECRET, req2.authenticator) : null;
    expect(v2?.ok && getU32(v2.packet, RadiusAttr.ERROR_CAUSE)).toBe(506);
  });

  test('silence for an unknown source address and for a wrong secret; the handler never runs', async () => {
    let calls = 0;
    const srv = await listener(async () => {
      calls++;
      return { ack: true };
    });
    const stranger = await sender('127.0.0.2');
    expect(await ask(stranger, disconnect([textAttr(RadiusAttr.USER_NAME, 'a')]).bytes, srv.port, 200)).toBeNull();
    const s = await sender();
    expect(await ask(s, disconnect([textAttr(RadiusAttr.USER_NAME, 'a')], 8, utf8Bytes('guess')).bytes, srv.port, 200)).toBeNull();
    expect(calls).toBe(0);
    expect(srv.stats.dropped).toMatchObject({ 'unknown-client': 1, verification: 1 });
  });
});
