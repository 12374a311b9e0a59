// Outpost's RADIUS client, EAP pass-through and Dynamic Authorization listener against Debian's FreeRADIUS 3.2 and
// radclient on loopback (RFC 2865, 2866, 2548, 3579, 5176).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createSocket } from 'node:dgram';
import { RadiusClient, type RadiusServer } from '../../firmware/src/radius/client.ts';
import { radiusEapExchange } from '../../firmware/src/radius/eap-exchange.ts';
import { DynAuthServer, type DynAuthRequest } from '../../firmware/src/radius/dynauth-server.ts';
import { aaaAttributes } from '../../firmware/src/radius/aaa.ts';
import { accountingAttributes } from '../../firmware/src/radius/accounting.ts';
import { getAllAttrs, textAttr } from '../../firmware/src/radius/attributes.ts';
import { AcctTerminateCause, ErrorCause, RadiusAttr, RadiusCode } from '../../firmware/src/radius/constants.ts';
import { toHex, utf8Bytes } from '../../firmware/src/radius/bytes.ts';
import { createEapServer } from '../../firmware/src/eap/server.ts';
import { createEapRadiusAuthenticator } from '../../firmware/src/eap/radius-passthrough.ts';
import { createMschapV2Peer } from '../../firmware/src/eap/mschapv2-peer.ts';
import { nodeMschapPrimitives } from '../../firmware/src/eap/mschap-primitives.ts';
import { withExchange } from '../../firmware/src/eap/drive.ts';
import type { EapDone } from '../../firmware/src/eap/types.ts';
import { ensureFreeRadius, freeUdpPort, radclient, startFreeRadius, type FreeRadius } from '../support/freeradius.ts';

const SECRET = 'outpost-test-secret';
const USERS = `alice Cleartext-Password := "alice-pw"
\tFramed-IP-Address = 203.0.113.77,
\tFilter-Id = "staff",
\tClass = 0x6f7574706f73742d636c617373,
\tSession-Timeout = 3600

bob Cleartext-Password := "bob-Pw.2026"
\tFramed-IP-Address = 203.0.113.78,
\tFilter-Id = "contractors"
`;

/** UDP relay to a server that flips one octet in the authenticator of every answer. */
async function tamperingRelay(address: string, port: number) {
  const front = createSocket('udp4');
  const back = createSocket('udp4');
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => back.bind(0, '127.0.0.1', () => r()));
  const state = { port: front.address().port, relayed: 0, close: async () => {} };
  let lastClient: { address: string; port: number } | undefined;
  front.on('message', (m, rinfo) => {
    lastClient = { address: rinfo.address, port: rinfo.port };
    back.send(m, port, address);
  });
  back.on('message', (m) => {
    if (!lastClient) return;
    const bad = Buffer.from(m);
    bad[4] = (bad[4] ?? 0) ^ 0x01;
    state.relayed++;
    front.send(bad, lastClient.port, lastClient.address);
  });
  state.close = async () => {
    await new Promise<void>((r) => front.close(() => r()));
    await new Promise<void>((r) => back.close(() => r()));
  };
  return state;
}

const avail = ensureFreeRadius();
if (!avail.ok) console.warn(`[interop] radius suite skipped: ${avail.reason}`);

describe.skipIf(!avail.ok)('RADIUS against FreeRADIUS', () => {
  let fr: FreeRadius;
  const clients: RadiusClient[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    fr = await startFreeRadius({ name: 'radius', users: USERS, secret: SECRET });
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await fr?.stop();
  });

  const server = (over: Partial<RadiusServer> = {}): RadiusServer => ({ name: 'freeradius', address: fr.address, authPort: fr.authPort, acctPort: fr.acctPort, secret: utf8Bytes(SECRET), ...over });
  async function client(servers: RadiusServer[], opts: Partial<Parameters<typeof RadiusClient.open>[0]> = {}) {
    const c = await RadiusClient.open({ servers, timeoutMs: 300, retries: 1, nasIdentifier: 'outpost-test', log: (l, m) => logs.push(`${l} ${m}`), ...opts });
    clients.push(c);
    return c;
  }

  /** Relays EAP between our pass-through authenticator and our MS-CHAPv2 peer until both are done. */
  async function eapLogin(c: RadiusClient, user: string, password: string): Promise<{ auth: EapDone | undefined; peer: EapDone | undefined; rounds: number }> {
    const peer = createMschapV2Peer({ identity: user, password, random: (n) => crypto.getRandomValues(new Uint8Array(n)), primitives: nodeMschapPrimitives });
    const auth = withExchange(
      createEapServer({
        random: (n) => crypto.getRandomValues(new Uint8Array(n)),
        method: (ctx) => createEapRadiusAuthenticator({ identity: ctx.identity, identityResponse: ctx.identityResponse, nas: { callingStationId: '192.0.2.2[4500]', nasPort: 1 } }),
      }),
      radiusEapExchange(c),
    );
    let out = await auth.start();
    let peerDone: EapDone | undefined;
    let rounds = 0;
    while (out.send && rounds < 20) {
      rounds++;
      const p = peer.receive(out.send);
      if (p.done) peerDone = p.done;
      if (out.done || !p.send) break;
      out = await auth.receive(p.send);
    }
    return { auth: out.done, peer: peerDone, rounds };
  }

  test('PAP: Access-Accept with Framed-IP-Address, Filter-Id, Class, Session-Timeout; Access-Reject for a wrong password', async () => {
    const c = await client([server()]);
    const ok = await c.access([textAttr(RadiusAttr.USER_NAME, 'alice')], { userPassword: 'alice-pw' });
    expect(ok.ok && ok.packet.code).toBe(RadiusCode.ACCESS_ACCEPT);
    if (!ok.ok) return;
    expect(aaaAttributes(ok.packet)).toEqual({ framedIp: '203.0.113.77', filterIds: ['staff'], classes: [utf8Bytes('outpost-class')], sessionTimeoutSec: 3600 });
    const no = await c.access([textAttr(RadiusAttr.USER_NAME, 'alice')], { userPassword: 'alice-PW' });
    expect(no.ok && no.packet.code).toBe(RadiusCode.ACCESS_REJECT);
    expect(no.ok && aaaAttributes(no.packet).framedIp).toBeUndefined();
    const unknown = await c.access([textAttr(RadiusAttr.USER_NAME, 'mallory')], { userPassword: 'x' });
    expect(unknown.ok && unknown.packet.code).toBe(RadiusCode.ACCESS_REJECT);
    await fr.waitForLog(/Login OK: \[alice\]/);
    await fr.waitForLog(/Login incorrect .*\[alice\]/);
  });

  test('EAP-MSCHAPv2 pass-through: Access-Accept with MS-MPPE keys; our MSK equals the one the peer derives', async () => {
    const c = await client([server()]);
    const r = await eapLogin(c, 'bob', 'bob-Pw.2026');
    expect(r.auth).toMatchObject({ ok: true, identity: 'bob', aaa: { framedIp: '203.0.113.78', filterIds: ['contractors'] } });
    expect(r.peer?.ok).toBe(true);
    // FreeRADIUS sends the 16-octet MS-MPPE-Recv-Key and -Send-Key: MSK = Recv || Send. The peer derives it from
    // the password (RFC 3079) as 64 octets with 32 zero octets at the end, as strongSwan's client does.
    expect(r.auth?.msk?.length).toBe(32);
    expect(toHex(r.auth!.msk!)).toBe(toHex(r.peer!.msk!.slice(0, 32)));
    expect(toHex(r.peer!.msk!.slice(32))).toBe('00'.repeat(32));
    expect(r.rounds).toBe(4); // Identity, MSCHAPv2 Challenge, MSCHAPv2 Success, EAP-Success
  });

  test('EAP-MSCHAPv2 with a wrong password: rejected by the server, EAP-Failure to the peer', async () => {
    const c = await client([server()]);
    const r = await eapLogin(c, 'bob', 'bob-pw.2026');
    expect(r.auth).toMatchObject({ ok: false, reason: expect.stringContaining('rejected by RADIUS server freeradius') });
    expect(r.auth?.msk).toBeUndefined();
    expect(r.peer?.ok).toBe(false);
  });

  test('failover: a dead server first, FreeRADIUS second; the dead one is skipped afterwards', async () => {
    const deadPort = await freeUdpPort();
    const c = await client([server({ name: 'dead', authPort: deadPort, acctPort: deadPort }), server({ name: 'live' })]);
    const first = await eapLogin(c, 'bob', 'bob-Pw.2026');
    expect(first.auth?.ok).toBe(true);
    expect(c.stats.failovers).toBe(1);
    expect(c.serverStatus().find((s) => s.name === 'dead')?.alive).toBe(false);
    const before = c.stats.timeouts;
    const second = await c.access([textAttr(RadiusAttr.USER_NAME, 'alice')], { userPassword: 'alice-pw' });
    expect(second.ok && second.server.name).toBe('live');
    expect(c.stats.timeouts).toBe(before);
    expect(logs.some((l) => l.includes('RADIUS server dead') && l.includes('failing over to live'))).toBe(true);
  });

  test('RADIUS unreachable and RADIUS answering with a bad authenticator: clean EAP failure, clear reason', async () => {
    const deadPort = await freeUdpPort();
    const none = await client([server({ name: 'gone', authPort: deadPort })]);
    const r1 = await eapLogin(none, 'bob', 'bob-Pw.2026');
    expect(r1.auth).toMatchObject({ ok: false, reason: expect.stringMatching(/^RADIUS: no RADIUS server answered \(tried gone/) });

    // A relay that corrupts one octet of FreeRADIUS's answers (a forged or damaged response on the path).
    const relay = await tamperingRelay(fr.address, fr.authPort);
    try {
      const tampered = await client([server({ name: 'tampered', authPort: relay.port })]);
      const r2 = await eapLogin(tampered, 'bob', 'bob-Pw.2026');
      expect(r2.auth).toMatchObject({ ok: false, reason: expect.stringContaining('no RADIUS server answered') });
      expect(relay.relayed).toBeGreaterThanOrEqual(2);
      expect(tampered.stats.dropped.verification).toBe(relay.relayed);
      expect(logs.some((l) => l.includes('dropped RADIUS response from tampered') && l.includes('bad Response Authenticator'))).toBe(true);
    } finally {
      await relay.close();
    }
    // The same server, reached directly, still serves others.
    const direct = await client([server()]);
    expect((await eapLogin(direct, 'bob', 'bob-Pw.2026')).auth?.ok).toBe(true);
  });

  test('accounting Start, Interim-Update and Stop are recorded in FreeRADIUS\'s detail file', async () => {
    const c = await client([server()]);
    const sessionId = `outpost-${Date.now().toString(16)}`;
    const base = { sessionId, userName: 'alice', framedIp: '203.0.113.77', callingStationId: '192.0.2.2[4500]', classes: [utf8Bytes('outpost-class')] };
    for (const rec of [
      accountingAttributes({ ...base, status: 'start' }),
      accountingAttributes({ ...base, status: 'interim', sessionTimeSec: 60, inputOctets: 123_456, outputOctets: 654_321, inputPackets: 100, outputPackets: 200 }),
      accountingAttributes({ ...base, status: 'stop', sessionTimeSec: 125, inputOctets: 2 ** 32 + 5000, outputOctets: 999_999, inputPackets: 4_000_000, outputPackets: 3_000_000, terminateCause: AcctTerminateCause.ADMIN_RESET }),
    ]) {
      const r = await c.accounting(rec);
      expect(r.ok && r.packet.code).toBe(RadiusCode.ACCOUNTING_RESPONSE);
    }
    const text = await fr.waitForDetail((t) => t.includes('Acct-Status-Type = Stop') && t.includes(sessionId));
    const records = text.split(/\n\n+/).filter((r) => r.includes(sessionId));
    expect(records.map((r) => /Acct-Status-Type = ([\w-]+)/.exec(r)?.[1])).toEqual(['Start', 'Interim-Update', 'Stop']);
    const [start, interim, stop] = records as [string, string, string];
    for (const r of records) {
      expect(r).toContain('User-Name = "alice"');
      expect(r).toContain('Framed-IP-Address = 203.0.113.77');
      expect(r).toContain('Class = 0x6f7574706f73742d636c617373');
      expect(r).toContain('NAS-Identifier = "outpost-test"');
    }
    expect(start).not.toContain('Acct-Input-Octets');
    expect(interim).toContain('Acct-Input-Octets = 123456');
    expect(interim).toContain('Acct-Output-Octets = 654321');
    expect(interim).toContain('Acct-Session-Time = 60');
    expect(stop).toContain('Acct-Input-Octets = 5000');
    expect(stop).toContain('Acct-Input-Gigawords = 1');
    expect(stop).toContain('Acct-Input-Packets = 4000000');
    expect(stop).toContain('Acct-Terminate-Cause = Admin-Reset');
  });

  test('Disconnect-Request and CoA-Request from radclient reach our listener and are ACKed; unknown session → NAK; wrong secret → silence', async () => {
    const requests: DynAuthRequest[] = [];
    const das = await DynAuthServer.open({
      address: '127.0.0.1',
      port: 0,
      nasIdentifier: 'outpost-test',
      clients: [{ name: 'freeradius', address: '127.0.0.1', secret: utf8Bytes(SECRET) }],
      handler: (req) => {
        requests.push(req);
        return req.selector.acctSessionId === 'sess-live' ? { ack: true } : { ack: false, errorCause: ErrorCause.SESSION_CONTEXT_NOT_FOUND };
      },
      log: (l, m) => logs.push(`${l} ${m}`),
    });
    try {
      const target = `127.0.0.1:${das.port}`;
      const d = await radclient('disconnect', target, SECRET, ['User-Name = "alice"', 'Acct-Session-Id = "sess-live"', 'NAS-Identifier = "outpost-test"']);
      expect(d.out).toMatch(/Received Disconnect-ACK/);
      expect(d.status).toBe(0);
      expect(requests[0]).toMatchObject({ kind: 'disconnect', client: 'freeradius', selector: { userName: 'alice', acctSessionId: 'sess-live' } });

      const coa = await radclient('coa', target, SECRET, ['User-Name = "alice"', 'Acct-Session-Id = "sess-live"', 'Filter-Id = "quarantine"']);
      expect(coa.out).toMatch(/Received CoA-ACK/);
      expect(requests[1]?.kind).toBe('coa');
      expect(getAllAttrs(requests[1]!.packet, RadiusAttr.FILTER_ID).map((v) => new TextDecoder().decode(v))).toEqual(['quarantine']);

      const nak = await radclient('disconnect', target, SECRET, ['User-Name = "alice"', 'Acct-Session-Id = "sess-gone"']);
      expect(nak.out).toMatch(/Received Disconnect-NAK/);
      expect(nak.out).toMatch(/Error-Cause = Session-Context-Not-Found/);

      const n = requests.length;
      const bad = await radclient('disconnect', target, 'wrong-secret', ['User-Name = "alice"', 'Acct-Session-Id = "sess-live"'], { retries: 1, timeoutSec: 1 });
      expect(bad.status).not.toBe(0);
      expect(bad.out).not.toMatch(/Received Disconnect/);
      expect(requests.length).toBe(n);
      expect(das.stats.dropped.verification).toBeGreaterThanOrEqual(1);
    } finally {
      await das.close();
    }
  });
});
