// RADIUS client on loopback against scripted servers: PAP, retransmission, failover with dead marking and revival,
// response verification (authenticator, Message-Authenticator, source), accounting, identifiers, EAP round trips.
import { afterEach, describe, expect, test } from 'vitest';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { RadiusClient, canonicalIp, type RadiusServer } from './client.ts';
import { radiusEapExchange } from './eap-exchange.ts';
import { signPacket, verifyPacket } from './authenticator.ts';
import { decodePacket, type RadiusAttribute, type RadiusPacket } from './packet.ts';
import { unhideUserPassword, encryptMppeKey } from './hiding.ts';
import { eapMessageAttrs, getAttr, getText, getU32, joinEapMessage, textAttr, vendorAttr } from './attributes.ts';
import { accountingAttributes } from './accounting.ts';
import { MicrosoftAttr, RadiusAttr, RadiusCode, VendorId } from './constants.ts';
import { concat, toHex, utf8Bytes } from './bytes.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';

const SECRET = utf8Bytes('loopback-secret');

type Reply = { code: number; attributes?: RadiusAttribute[]; ma?: boolean; secret?: Uint8Array } | null;

interface FakeServer {
  port: number;
  received: { raw: Uint8Array; packet: RadiusPacket }[];
  handler: (p: RadiusPacket, raw: Uint8Array) => Reply | Promise<Reply>;
  sock: Socket;
}

const open: (Socket | RadiusClient)[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    if (o instanceof RadiusClient) await o.close();
    else await new Promise<void>((r) => o.close(() => r()));
  }
});

async function fakeServer(handler: FakeServer['handler'], address = '127.0.0.1'): Promise<FakeServer> {
  const sock = createSocket(address.includes(':') ? 'udp6' : 'udp4');
  open.push(sock);
  await new Promise<void>((r) => sock.bind(0, address, () => r()));
  const s: FakeServer = { port: sock.address().port, received: [], handler, sock };
  sock.on('message', async (msg: Buffer, rinfo: RemoteInfo) => {
    const raw = new Uint8Array(msg);
    const d = decodePacket(raw);
    if (!d.ok) return;
    s.received.push({ raw, packet: d.value });
    const reply = await s.handler(d.value, raw);
    if (!reply) return;
    const signed = signPacket(
      { code: reply.code, identifier: d.value.identifier, attributes: reply.attributes ?? [] },
      { secret: reply.secret ?? SECRET, requestAuthenticator: d.value.authenticator, messageAuthenticator: reply.ma ?? true },
    );
    if (signed.ok) sock.send(signed.value.bytes, rinfo.port, rinfo.address);
  });
  return s;
}

function server(name: string, s: FakeServer, extra: Partial<RadiusServer> = {}): RadiusServer {
  return { name, address: '127.0.0.1', authPort: s.port, acctPort: s.port, secret: SECRET, ...extra };
}

let clientCount = 0;
async function client(servers: RadiusServer[], opts: Partial<Parameters<typeof RadiusClient.open>[0]> = {}): Promise<RadiusClient> {
  const c = await RadiusClient.open({ servers, timeoutMs: 200, retries: 1, deadTimeMs: 10_000, random: seededRandom(`client-${++clientCount}`), ...opts });
  open.push(c);
  return c;
}

describe('Access-Request', () => {
  test('PAP: password hidden per server, MA on the request, NAS-Identifier added; Accept accepted', async () => {
    let password = '';
    const s = await fakeServer((p, raw) => {
      const v = verifyPacket(raw, SECRET);
      if (!v.ok || !v.hasMessageAuthenticator) return null;
      const pw = unhideUserPassword(getAttr(p, RadiusAttr.USER_PASSWORD) ?? new Uint8Array(), SECRET, p.authenticator);
      password = pw.ok ? new TextDecoder().decode(pw.value) : '?';
      return { code: password === 'pw1' ? RadiusCode.ACCESS_ACCEPT : RadiusCode.ACCESS_REJECT, attributes: [textAttr(RadiusAttr.FILTER_ID, 'staff')] };
    });
    const c = await client([server('r1', s)], { nasIdentifier: 'gw-test' });
    const ok = await c.access([textAttr(RadiusAttr.USER_NAME, 'alice')], { userPassword: 'pw1' });
    expect(ok).toMatchObject({ ok: true, packet: { code: RadiusCode.ACCESS_ACCEPT }, server: { name: 'r1' } });
    expect(password).toBe('pw1');
    expect(getText(s.received[0]!.packet, RadiusAttr.NAS_IDENTIFIER)).toBe('gw-test');
    const no = await c.access([textAttr(RadiusAttr.USER_NAME, 'alice')], { userPassword: 'nope' });
    expect(no).toMatchObject({ ok: true, packet: { code: RadiusCode.ACCESS_REJECT } });
  });

  test('retransmits the identical packet (same Identifier and authenticator) until answered', async () => {
    const s = await fakeServer(() => (s.received.length < 2 ? null : { code: RadiusCode.ACCESS_ACCEPT }));
    const c = await client([server('r1', s)]);
    const r = await c.access([textAttr(RadiusAttr.USER_NAME, 'alice')]);
    expect(r.ok).toBe(true);
    expect(s.received.length).toBe(2);
    expect(toHex(s.received[0]!.raw)).toBe(toHex(s.received[1]!.raw));
    expect(c.stats.retransmits).toBe(1);
  });

  test('fails over from a silent server, skips it while dead, and tries it first again once revived', async () => {
    let clock = 1_000_000;
    let aAnswers = false;
    const a = await fakeServer(() => (aAnswers ? { code: RadiusCode.ACCESS_ACCEPT } : null));
    const b = await fakeServer(() => ({ code: RadiusCode.ACCESS_ACCEPT }));
    const logs: string[] = [];
    const c = await client([server('A', a), server('B', b)], { now: () => clock, log: (_l, m) => logs.push(m) });

    const r1 = await c.access([textAttr(RadiusAttr.USER_NAME, 'u')]);
    expect(r1.ok && r1.server.name).toBe('B');
    expect(a.received.length).toBe(2); // first try + 1 retransmission
    expect(c.stats.failovers).toBe(1);
    expect(c.serverStatus().map((s) => [s.name, s.alive])).toEqual([
      ['A', false],
      ['B', true],
    ]);
    expect(logs.some((l) => l.includes('RADIUS server A') && l.includes('marked dead') && l.includes('failing over to B'))).toBe(true);

    const r2 = await c.access([textAttr(RadiusAttr.USER_NAME, 'u')]);
    expect(r2.ok && r2.server.name).toBe('B');
    expect(a.received.length).toBe(2); // dead: not tried

    clock += 10_001;
    aAnswers = true;
    const r3 = await c.access([textAttr(RadiusAttr.USER_NAME, 'u')]);
    expect(r3.ok && r3.server.name).toBe('A');
    expect(c.serverStatus()[0]?.alive).toBe(true);
    expect(logs.some((l) => l.includes('A') && l.includes('answers again'))).toBe(true);
  });

  test('every server silent: a clean error naming them', async () => {
    const a = await fakeServer(() => null);
    const b = await fakeServer(() => null);
    const c = await client([server('A', a), server('B', b)]);
    const r = await c.access([textAttr(RadiusAttr.USER_NAME, 'u')]);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/no RADIUS server answered \(tried A .*, B .*\)/);
  });

  test('a response with a bad authenticator is dropped and the request keeps waiting', async () => {
    const s = await fakeServer(() => (s.received.length === 1 ? { code: RadiusCode.ACCESS_ACCEPT, secret: utf8Bytes('wrong') } : { code: RadiusCode.ACCESS_REJECT }));
    const logs: string[] = [];
    const c = await client([server('r1', s)], { log: (_l, m) => logs.push(m) });
    const r = await c.access([textAttr(RadiusAttr.USER_NAME, 'u')]);
    expect(r).toMatchObject({ ok: true, packet: { code: RadiusCode.ACCESS_REJECT } });
    expect(c.stats.dropped.verification).toBe(1);
    expect(logs.some((l) => l.includes('bad Response Authenticator'))).toBe(true);
  });

  test('only bad answers: times out like silence, never accepts the forgery', async () => {
    const s = await fakeServer(() => ({ code: RadiusCode.ACCESS_ACCEPT, secret: utf8Bytes('wrong') }));
    const c = await client([server('r1', s)]);
    const r = await c.access([textAttr(RadiusAttr.USER_NAME, 'u')]);
    expect(r.ok).toBe(false);
    expect(c.stats.dropped.verification).toBe(2);
  });

  test('Message-Authenticator required for EAP (RFC 3579) and when configured (Blast-RADIUS)', async () => {
    const s = await fakeServer(() => ({ code: RadiusCode.ACCESS_ACCEPT, ma: false }));
    const plain = await client([server('r1', s)]);
    expect((await plain.access([textAttr(RadiusAttr.USER_NAME, 'u')])).ok).toBe(true);
    const eap = await plain.access([textAttr(RadiusAttr.USER_NAME, 'u'), ...eapMessageAttrs(utf8Bytes('\x02\x01\x00\x06\x01u'))]);
    expect(eap.ok).toBe(false);
    expect(plain.stats.dropped['no-message-authenticator']).toBe(2);
    const strict = await client([server('r1', s, { requireMessageAuthenticator: true })]);
    expect((await strict.access([textAttr(RadiusAttr.USER_NAME, 'u')])).ok).toBe(false);
  });

  test('a correctly signed answer from another port is ignored', async () => {
    const spoofer = createSocket('udp4');
    open.push(spoofer);
    await new Promise<void>((r) => spoofer.bind(0, '127.0.0.1', () => r()));
    let sent = false;
    const s = await fakeServer(async (p, _raw) => {
      if (!sent) {
        sent = true;
        const forged = signPacket({ code: RadiusCode.ACCESS_ACCEPT, identifier: p.identifier, attributes: [] }, { secret: SECRET, requestAuthenticator: p.authenticator });
        const clientPort = (c as unknown as { sockets: { v4: Socket } }).sockets.v4.address().port;
        if (forged.ok) spoofer.send(forged.value.bytes, clientPort, '127.0.0.1');
        await new Promise((r) => setTimeout(r, 30));
        return { code: RadiusCode.ACCESS_REJECT };
      }
      return null;
    });
    const c = await client([server('r1', s)]);
    const r = await c.access([textAttr(RadiusAttr.USER_NAME, 'u')]);
    expect(r).toMatchObject({ ok: true, packet: { code: RadiusCode.ACCESS_REJECT } });
    expect(c.stats.dropped.unexpected).toBe(1);
  });

  test('300 concurrent requests to one server: Identifiers never collide while in flight', async () => {
    const inFlight = new Map<number, string>();
    let collisions = 0;
    const s = await fakeServer(async (p) => {
      const auth = toHex(p.authenticator);
      const prev = inFlight.get(p.identifier);
      if (prev !== undefined && prev !== auth) collisions++;
      inFlight.set(p.identifier, auth);
      await new Promise((r) => setTimeout(r, 20));
      inFlight.delete(p.identifier);
      return { code: RadiusCode.ACCESS_ACCEPT };
    });
    const c = await client([server('r1', s)], { timeoutMs: 2000 });
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => c.access([textAttr(RadiusAttr.USER_NAME, `u${i}`)])));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(collisions).toBe(0);
    expect(new Set(s.received.map((x) => x.packet.identifier)).size).toBe(256);
  });

  test('an IPv6 server written long-hand matches the address its answers come from', async () => {
    const s = await fakeServer(() => ({ code: RadiusCode.ACCESS_ACCEPT }), '::1');
    const c = await client([{ ...server('v6', s), address: '0:0:0:0:0:0:0:1' }]);
    expect((await c.access([textAttr(RadiusAttr.USER_NAME, 'u')])).ok).toBe(true);
    expect(canonicalIp('2001:DB8:0:0::1')).toBe('2001:db8::1');
    expect(canonicalIp('::ffff:198.51.100.10')).toBe('198.51.100.10');
    expect(canonicalIp('198.51.100.10')).toBe('198.51.100.10');
  });

  test('a closed client answers with an error', async () => {
    const s = await fakeServer(() => null);
    const c = await client([server('r1', s)], { timeoutMs: 5000 });
    const pending = c.access([textAttr(RadiusAttr.USER_NAME, 'u')]);
    await new Promise((r) => setTimeout(r, 20));
    await c.close();
    expect((await pending).ok).toBe(false);
    expect((await c.access([])).ok).toBe(false);
  });
});

describe('Accounting-Request', () => {
  test('hashed Request Authenticator verifies at the server; Acct-Delay-Time after a failover', async () => {
    let clock = 5_000_000;
    const a = await fakeServer(() => {
      clock += 1500;
      return null;
    });
    const b = await fakeServer((_p, raw) => (verifyPacket(raw, SECRET).ok ? { code: RadiusCode.ACCOUNTING_RESPONSE, ma: false } : null));
    const c = await client([server('A', a), server('B', b)], { now: () => clock });
    const r = await c.accounting(accountingAttributes({ status: 'start', sessionId: 'abc', userName: 'alice' }));
    expect(r).toMatchObject({ ok: true, server: { name: 'B' }, packet: { code: RadiusCode.ACCOUNTING_RESPONSE } });
    expect(getU32(a.received[0]!.packet, RadiusAttr.ACCT_DELAY_TIME)).toBeUndefined();
    expect(getU32(b.received[0]!.packet, RadiusAttr.ACCT_DELAY_TIME)).toBe(3);
  });
  test('an Access-Accept to an Accounting-Request is dropped', async () => {
    const s = await fakeServer(() => ({ code: RadiusCode.ACCESS_ACCEPT }));
    const c = await client([server('r1', s)]);
    expect((await c.accounting(accountingAttributes({ status: 'stop', sessionId: 'x', userName: 'u' }))).ok).toBe(false);
    expect(c.stats.dropped.code).toBe(2);
  });
});

describe('EAP round trips (eap-exchange)', () => {
  test('Challenge with State; after a failover the MSK is decrypted with the answering server\'s request authenticator', async () => {
    const silent = await fakeServer(() => null);
    const recv = seededRandom('keys')(16);
    const send = seededRandom('keys2')(16);
    const eapReq = utf8Bytes('\x01\x05\x00\x06\x04\x00');
    const s = await fakeServer((p) => {
      const st = getAttr(p, RadiusAttr.STATE);
      if (!st) return { code: RadiusCode.ACCESS_CHALLENGE, attributes: [{ type: RadiusAttr.STATE, value: utf8Bytes('st1') }, ...eapMessageAttrs(eapReq)] };
      const r = encryptMppeKey(recv, SECRET, p.authenticator, Uint8Array.of(0x81, 1));
      const se = encryptMppeKey(send, SECRET, p.authenticator, Uint8Array.of(0x81, 2));
      if (!r.ok || !se.ok) return null;
      const vsa = vendorAttr(VendorId.MICROSOFT, [
        { vendorType: MicrosoftAttr.MS_MPPE_RECV_KEY, value: r.value },
        { vendorType: MicrosoftAttr.MS_MPPE_SEND_KEY, value: se.value },
      ]);
      return vsa.ok ? { code: RadiusCode.ACCESS_ACCEPT, attributes: [vsa.value, ...eapMessageAttrs(utf8Bytes('\x03\x05\x00\x04')), { type: RadiusAttr.FRAMED_IP_ADDRESS, value: Uint8Array.of(203, 0, 113, 5) }] } : null;
    });
    const c = await client([server('dead', silent), server('live', s)]);
    const ex = radiusEapExchange(c);
    const first = await ex({ userName: 'alice', eapMessage: utf8Bytes('\x02\x04\x00\x0a\x01alice'), callingStationId: '192.0.2.2[4500]' });
    expect(first).toMatchObject({ kind: 'challenge', eapMessage: eapReq, state: utf8Bytes('st1'), server: 'live' });
    const sent = s.received[0]!.packet;
    expect(getText(sent, RadiusAttr.CALLING_STATION_ID)).toBe('192.0.2.2[4500]');
    expect(getU32(sent, RadiusAttr.SERVICE_TYPE)).toBe(2);
    expect(joinEapMessage(sent)).toMatchObject({ ok: true });
    const second = await ex({ userName: 'alice', eapMessage: utf8Bytes('\x02\x05\x00\x06\x04\x00'), state: utf8Bytes('st1') });
    expect(second.kind).toBe('accept');
    if (second.kind !== 'accept') return;
    expect(toHex(second.msk!)).toBe(toHex(concat(recv, send)));
    expect(second.aaa.framedIp).toBe('203.0.113.5');
  });

  test('an Access-Accept with a malformed MPPE key is an error, not a success without keys', async () => {
    const s = await fakeServer(() => {
      // 2 octets of salt + 15: not a whole number of 16-octet blocks.
      const bogus = vendorAttr(VendorId.MICROSOFT, [
        { vendorType: MicrosoftAttr.MS_MPPE_RECV_KEY, value: new Uint8Array(17).fill(0xff) },
        { vendorType: MicrosoftAttr.MS_MPPE_SEND_KEY, value: new Uint8Array(17).fill(0xff) },
      ]);
      return bogus.ok ? { code: RadiusCode.ACCESS_ACCEPT, attributes: [bogus.value] } : null;
    });
    const c = await client([server('r1', s)]);
    const r = await radiusEapExchange(c)({ userName: 'x', eapMessage: utf8Bytes('\x02\x01\x00\x06\x01x') });
    expect(r).toMatchObject({ kind: 'error', reason: expect.stringContaining('MS-MPPE') });
  });
});
