// EAP packet codec (RFC 3748 §4), the EAP-Identity front (§5.1), and RADIUS pass-through (RFC 3579) driven by a
// scripted backend, both resumed by hand (as the engine will) and through withExchange.
import { describe, expect, test } from 'vitest';
import { decodeEap, eapSuccess, encodeEap, identityFromTypeData } from './packet.ts';
import { createEapServer } from './server.ts';
import { createEapRadiusAuthenticator } from './radius-passthrough.ts';
import { createMschapV2Authenticator } from './mschapv2.ts';
import { createMschapV2Peer } from './mschapv2-peer.ts';
import { nodeMschapPrimitives } from './mschap-primitives.ts';
import { withExchange } from './drive.ts';
import { EapCode, EapType } from './constants.ts';
import type { RadiusAccessRequest, RadiusAccessResult } from './types.ts';
import { fromHex, toHex, utf8Bytes } from '../radius/bytes.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';

const hex = (s: string) => fromHex(s) as Uint8Array;

describe('EAP codec', () => {
  test('Request/Response carry a type; Success/Failure are 4 octets', () => {
    const req = encodeEap({ code: EapCode.REQUEST, identifier: 5, type: EapType.IDENTITY, data: new Uint8Array(0) });
    expect(toHex(req)).toBe('0105000501');
    expect(decodeEap(hex('0207000a01616c696365'))).toEqual({ ok: true, value: { code: 2, identifier: 7, type: 1, data: utf8Bytes('alice') } });
    expect(toHex(eapSuccess(9))).toBe('03090004');
    expect(decodeEap(hex('04090004'))).toMatchObject({ ok: true, value: { code: 4, identifier: 9 } });
  });
  test('padding past Length is ignored; identity stops at NUL', () => {
    expect(decodeEap(hex('0207000a01616c696365ffff'))).toMatchObject({ ok: true, value: { data: utf8Bytes('alice') } });
    expect(identityFromTypeData(hex('616c69636500 6e6574776f726b'))).toEqual(utf8Bytes('alice'));
  });
  test.each([
    ['3 octets', '010203'],
    ['Length below 4', '01010003'],
    ['Length beyond data', '0101000901'],
    ['Request without type', '01010004'],
    ['unknown code', '05010004'],
  ])('refuses %s', (_n, h) => {
    expect(decodeEap(hex(h)).ok).toBe(false);
  });
  test('mutation fuzz never throws', () => {
    const rnd = seededRandom('eap-fuzz');
    for (let i = 0; i < 2000; i++) {
      const b = rnd((rnd(1)[0] ?? 0) % 12);
      expect(() => decodeEap(b)).not.toThrow();
    }
  });
});

describe('EAP-Identity front', () => {
  const prim = nodeMschapPrimitives;
  test('asks for the identity, then runs the method for it with the next Identifier', () => {
    let seen: { identity: string; nextIdentifier: number } | undefined;
    const server = createEapServer({
      random: () => Uint8Array.of(200),
      method: (ctx) => {
        seen = ctx;
        return createMschapV2Authenticator({ identity: ctx.identity, identifier: ctx.nextIdentifier, lookup: () => ({ password: 'pw' }), random: seededRandom('id'), primitives: prim });
      },
    });
    const first = server.start().send!;
    expect(toHex(first)).toBe('01c8000501');
    const peer = createMschapV2Peer({ identity: 'carol', password: 'pw', random: seededRandom('idp'), primitives: prim });
    let out = server.receive(peer.receive(first).send!);
    expect(seen).toMatchObject({ identity: 'carol', nextIdentifier: 201 });
    for (let i = 0; i < 5 && !out.done; i++) out = server.receive(peer.receive(out.send!).send!);
    expect(out.done).toMatchObject({ ok: true, identity: 'carol' });
    expect(peer.receive(out.send!).done?.ok).toBe(true);
  });
  test('a known identity (IDi) skips EAP-Identity', () => {
    const server = createEapServer({
      identity: 'dave',
      random: seededRandom('known'),
      method: (ctx) => createMschapV2Authenticator({ identity: ctx.identity, lookup: () => undefined, random: seededRandom('k'), primitives: prim }),
    });
    const first = decodeEap(server.start().send!);
    expect(first).toMatchObject({ ok: true, value: { type: EapType.MSCHAPV2 } });
  });
  test('a non-Identity answer, an empty identity, or too many rounds fail with EAP-Failure', () => {
    const mk = (maxRounds?: number) =>
      createEapServer({ random: () => Uint8Array.of(1), maxRounds, method: () => ({ start: () => ({ send: eapSuccess(0) }), receive: () => ({ send: encodeEap({ code: 1, identifier: 2, type: 4, data: new Uint8Array(1) }) }) }) });
    let s = mk();
    s.start();
    expect(s.receive(encodeEap({ code: 2, identifier: 1, type: EapType.NAK, data: Uint8Array.of(26) })).done).toMatchObject({ ok: false, reason: expect.stringContaining('EAP-Identity') });
    s = mk();
    s.start();
    expect(s.receive(encodeEap({ code: 2, identifier: 1, type: EapType.IDENTITY, data: new Uint8Array(0) })).done).toMatchObject({ ok: false, reason: expect.stringContaining('identity') });
    s = mk(3);
    s.start();
    expect(s.receive(encodeEap({ code: 2, identifier: 9, type: EapType.IDENTITY, data: utf8Bytes('x') }))).toEqual({}); // wrong id: discarded
    s.receive(encodeEap({ code: 2, identifier: 1, type: EapType.IDENTITY, data: utf8Bytes('x') }));
    s.receive(encodeEap({ code: 2, identifier: 2, type: 4, data: new Uint8Array(1) }));
    const over = s.receive(encodeEap({ code: 2, identifier: 2, type: 4, data: new Uint8Array(1) }));
    expect(over.done).toMatchObject({ ok: false, reason: 'more than 3 EAP rounds' });
    expect(over.send && decodeEap(over.send)).toMatchObject({ ok: true, value: { code: EapCode.FAILURE } });
  });
});

describe('RADIUS pass-through', () => {
  const challengeEap = encodeEap({ code: EapCode.REQUEST, identifier: 8, type: EapType.MD5_CHALLENGE, data: hex('10' + '11'.repeat(16)) });
  const peerAnswer = encodeEap({ code: EapCode.RESPONSE, identifier: 8, type: EapType.MD5_CHALLENGE, data: hex('10' + '22'.repeat(16)) });

  test('relays Identity → Challenge → Response → Accept, echoes State, yields MSK and AAA attributes', () => {
    const auth = createEapRadiusAuthenticator({ identity: 'erin', identifier: 7, nas: { callingStationId: '192.0.2.2[4500]', nasPort: 3 } });
    const s1 = auth.start();
    expect(s1.backend).toMatchObject({ userName: 'erin', callingStationId: '192.0.2.2[4500]', nasPort: 3 });
    expect(s1.backend?.state).toBeUndefined();
    expect(decodeEap(s1.backend!.eapMessage)).toMatchObject({ ok: true, value: { code: EapCode.RESPONSE, identifier: 7, type: EapType.IDENTITY, data: utf8Bytes('erin') } });
    expect(auth.receive(peerAnswer)).toEqual({}); // nothing outstanding yet
    const s2 = auth.resume!({ kind: 'challenge', eapMessage: challengeEap, state: hex('abcd') });
    expect(s2.send).toEqual(challengeEap);
    const wrongId = peerAnswer.slice();
    wrongId[1] = 9;
    expect(auth.receive(wrongId)).toEqual({});
    const s3 = auth.receive(peerAnswer);
    expect(s3.backend).toMatchObject({ eapMessage: peerAnswer, state: hex('abcd') });
    const msk = new Uint8Array(64).fill(7);
    const s4 = auth.resume!({ kind: 'accept', eapMessage: hex('03080004'), msk, aaa: { framedIp: '203.0.113.9' } });
    expect(s4).toEqual({ send: hex('03080004'), done: { ok: true, identity: 'erin', msk, aaa: { framedIp: '203.0.113.9' } } });
    expect(auth.resume!({ kind: 'reject' })).toEqual({});
  });

  test('Accept without MPPE keys: success without MSK, said so; a missing EAP-Success is made up', () => {
    const auth = createEapRadiusAuthenticator({ identity: 'erin', identifier: 7 });
    auth.start();
    const out = auth.resume!({ kind: 'accept', aaa: {} });
    expect(out.done).toMatchObject({ ok: true, reason: expect.stringContaining('no MSK') });
    expect(out.done?.msk).toBeUndefined();
    expect(toHex(out.send!)).toBe('03070004');
  });

  test.each<[string, RadiusAccessResult, string]>([
    ['reject', { kind: 'reject', replyMessage: 'bad password', server: 'r1', eapMessage: hex('04070004') }, 'rejected by RADIUS server r1 (bad password)'],
    ['timeout', { kind: 'error', reason: 'no RADIUS server answered' }, 'RADIUS: no RADIUS server answered'],
    ['challenge without EAP Request', { kind: 'challenge', eapMessage: hex('03070004') }, 'without an EAP Request'],
  ])('%s ends in EAP-Failure', (_n, result, reason) => {
    const auth = createEapRadiusAuthenticator({ identity: 'erin', identifier: 7 });
    auth.start();
    const out = auth.resume!(result);
    expect(out.done).toMatchObject({ ok: false, reason: expect.stringContaining(reason) });
    expect(toHex(out.send!)).toBe('04070004');
  });

  test('behind EAP-Identity the peer\'s own Identity Response is forwarded; withExchange drives the backend', async () => {
    const seen: RadiusAccessRequest[] = [];
    const script: RadiusAccessResult[] = [
      { kind: 'challenge', eapMessage: challengeEap, state: hex('01') },
      { kind: 'accept', msk: new Uint8Array(32).fill(1), aaa: {} },
    ];
    const server = withExchange(
      createEapServer({ random: () => Uint8Array.of(7), method: (ctx) => createEapRadiusAuthenticator({ identity: ctx.identity, identityResponse: ctx.identityResponse }) }),
      async (req) => {
        seen.push(req);
        return script.shift() ?? { kind: 'error', reason: 'script exhausted' };
      },
    );
    const idReq = (await server.start()).send!;
    const idResp = encodeEap({ code: EapCode.RESPONSE, identifier: idReq[1]!, type: EapType.IDENTITY, data: utf8Bytes('frank') });
    const afterId = await server.receive(idResp);
    expect(afterId.send).toEqual(challengeEap);
    expect(seen[0]?.eapMessage).toEqual(idResp);
    const done = await server.receive(peerAnswer);
    expect(done.done).toMatchObject({ ok: true, identity: 'frank' });
    expect(toHex(done.send!)).toBe('03080004');
    expect(seen[1]?.state).toEqual(hex('01'));
  });

  test('withExchange turns a throwing backend into a clean failure', async () => {
    const a = withExchange(createEapRadiusAuthenticator({ identity: 'g', identifier: 1 }), async () => {
      throw new Error('socket closed');
    });
    expect((await a.start()).done).toMatchObject({ ok: false, reason: 'RADIUS: socket closed' });
  });
});
