// EAP-MSCHAPv2: RFC 2759 §9.2 and RFC 3079 §3.5.3 vectors, then our authenticator against our peer.
import { describe, expect, test } from 'vitest';
import { nodeMschapPrimitives as prim, probeMschapPrimitives, expandDesKey } from './mschap-primitives.ts';
import {
  asymmetricStartKey,
  challengeHash,
  generateAuthenticatorResponse,
  generateNtResponse,
  masterKey,
  mschapV2Msk,
  ntPasswordHash,
} from './mschapv2-crypto.ts';
import { createMschapV2Authenticator, type MschapUserLookup } from './mschapv2.ts';
import { createMschapV2Peer } from './mschapv2-peer.ts';
import { decodeEap, encodeEap } from './packet.ts';
import { EapCode, EapType, MschapV2Op } from './constants.ts';
import type { EapAuthenticator, EapPeer } from './types.ts';
import { concat, fromHex, toHex } from '../radius/bytes.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';

const hex = (s: string) => fromHex(s) as Uint8Array;

// RFC 2759 §9.2.
const USER = 'User';
const PASSWORD = 'clientPass';
const AUTH_CHALLENGE = hex('5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28');
const PEER_CHALLENGE = hex('21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E');
const NT_RESPONSE = '82309ecd8d708b5ea08faa3981cd83544233114a3d85d6df';

describe('RFC 2759 §9.2 / RFC 3079 §3.5.3 vectors', () => {
  test('MD4 and DES are available here', () => {
    expect(probeMschapPrimitives()).toBeNull();
  });
  test('NtPasswordHash, PasswordHashHash', () => {
    const ph = ntPasswordHash(prim, PASSWORD);
    expect(toHex(ph)).toBe('44ebba8d5312b8d611474411f56989ae');
    expect(toHex(prim.md4(ph))).toBe('41c00c584bd2d91c4017a2a12fa59f3f');
  });
  test('ChallengeHash, NT-Response, AuthenticatorResponse', () => {
    expect(toHex(challengeHash(PEER_CHALLENGE, AUTH_CHALLENGE, USER))).toBe('d02e4386bce91226');
    const nt = generateNtResponse(prim, AUTH_CHALLENGE, PEER_CHALLENGE, USER, ntPasswordHash(prim, PASSWORD));
    expect(toHex(nt)).toBe(NT_RESPONSE);
    expect(generateAuthenticatorResponse(prim, ntPasswordHash(prim, PASSWORD), nt, PEER_CHALLENGE, AUTH_CHALLENGE, USER)).toBe('S=407A5589115FD0D6209F510FE9C04566932CDA56');
  });
  test('a DOMAIN\\ prefix does not enter the challenge hash (RFC 2759 §8.2)', () => {
    expect(toHex(challengeHash(PEER_CHALLENGE, AUTH_CHALLENGE, 'ACME\\User'))).toBe('d02e4386bce91226');
  });
  test('MasterKey and the 128-bit send start key (the server side\'s send key)', () => {
    const mk = masterKey(prim.md4(ntPasswordHash(prim, PASSWORD)), hex(NT_RESPONSE));
    expect(toHex(mk)).toBe('fdece3717a8c838cb388e527ae3cdd31');
    expect(toHex(asymmetricStartKey(mk, true, true))).toBe('8b7cdc149b993a1ba118cb153f56dccb');
    // The client's receive key is the server's send key, and the other way round.
    expect(toHex(asymmetricStartKey(mk, false, false))).toBe('8b7cdc149b993a1ba118cb153f56dccb');
    expect(toHex(asymmetricStartKey(mk, true, false))).toBe(toHex(asymmetricStartKey(mk, false, true)));
  });
  test('MSK = server receive key || server send key || 32 zero octets', () => {
    const msk = mschapV2Msk(prim, ntPasswordHash(prim, PASSWORD), hex(NT_RESPONSE));
    const mk = masterKey(prim.md4(ntPasswordHash(prim, PASSWORD)), hex(NT_RESPONSE));
    expect(msk.length).toBe(64);
    expect(toHex(msk)).toBe(toHex(concat(asymmetricStartKey(mk, false, true), hex('8b7cdc149b993a1ba118cb153f56dccb'), new Uint8Array(32))));
  });
  test('DES key expansion spreads 7 octets over 8 (RFC 2759 §8.6)', () => {
    expect(toHex(expandDesKey(hex('ffffffffffffff')))).toBe('fefefefefefefefe');
    expect(toHex(expandDesKey(hex('80000000000001')))).toBe('8000000000000002');
  });
});

/** Runs authenticator ↔ peer until one side is done; returns both results and the packets seen. */
function converse(auth: EapAuthenticator, peer: EapPeer, tamper?: (pkt: Uint8Array, dir: 'to-peer' | 'to-auth') => Uint8Array) {
  const wire: Uint8Array[] = [];
  let out = auth.start();
  let peerDone;
  for (let i = 0; i < 10 && out.send; i++) {
    const toPeer = tamper ? tamper(out.send, 'to-peer') : out.send;
    wire.push(toPeer);
    const p = peer.receive(toPeer);
    if (p.done) peerDone = p.done;
    if (out.done) return { authDone: out.done, peerDone, wire };
    if (!p.send) return { authDone: undefined, peerDone, wire };
    const toAuth = tamper ? tamper(p.send, 'to-auth') : p.send;
    wire.push(toAuth);
    out = auth.receive(toAuth);
  }
  return { authDone: out.done, peerDone, wire };
}

describe('authenticator ↔ peer', () => {
  const users: Record<string, string> = { alice: 'correct horse', 'bob@example.com': 'hunter2' };
  const lookup: MschapUserLookup = (id) => (users[id] !== undefined ? { password: users[id] } : undefined);
  const make = (identity: string, seed: string, l: MschapUserLookup = lookup) =>
    createMschapV2Authenticator({ identity, lookup: l, random: seededRandom(`auth-${seed}`), primitives: prim, identifier: 10 });
  const peer = (identity: string, password: string, seed: string) => createMschapV2Peer({ identity, password, random: seededRandom(`peer-${seed}`), primitives: prim });

  test('good password: Challenge, Response, Success, Success ack, EAP-Success; both ends hold the same 64-octet MSK', () => {
    const r = converse(make('alice', 'ok'), peer('alice', 'correct horse', 'ok'));
    expect(r.authDone).toMatchObject({ ok: true, identity: 'alice' });
    expect(r.peerDone).toMatchObject({ ok: true });
    expect(r.authDone?.msk?.length).toBe(64);
    expect(toHex(r.authDone!.msk!)).toBe(toHex(r.peerDone!.msk!));
    const kinds = r.wire.map((w) => {
      const d = decodeEap(w);
      return d.ok ? `${d.value.code}/${d.value.identifier}/${d.value.type ?? '-'}/${d.value.data[0] ?? '-'}` : 'bad';
    });
    // Request Challenge id 10 → Response 10 → Request Success id 11 → Response 11 → EAP-Success id 11.
    expect(kinds).toEqual(['1/10/26/1', '2/10/26/2', '1/11/26/3', '2/11/26/3', '3/11/-/-']);
  });

  test('a stored NT hash works like the password', () => {
    const r = converse(make('alice', 'nthash', () => ({ ntHash: ntPasswordHash(prim, 'correct horse') })), peer('alice', 'correct horse', 'nthash'));
    expect(r.authDone?.ok).toBe(true);
  });

  test('DOMAIN\\user in the MS-CHAPv2 name is accepted for identity user', () => {
    const r = converse(make('alice', 'dom'), peer('ACME\\alice', 'correct horse', 'dom'));
    // The peer's EAP identity is ACME\alice, the authenticator's identity alice: names match after stripping.
    expect(r.authDone?.ok).toBe(true);
  });

  test('wrong password and unknown user: EAP-Failure at once, same wire shape, distinct log reasons', () => {
    const wrong = converse(make('alice', 'wrong'), peer('alice', 'Correct horse', 'wrong'));
    const unknown = converse(make('mallory', 'unknown'), peer('mallory', 'x', 'unknown'));
    for (const r of [wrong, unknown]) {
      expect(r.authDone?.ok).toBe(false);
      expect(r.authDone?.msk).toBeUndefined();
      expect(r.peerDone?.ok).toBe(false);
      const last = decodeEap(r.wire[r.wire.length - 1]!);
      expect(last.ok && last.value.code).toBe(EapCode.FAILURE);
      expect(r.wire.length).toBe(3);
    }
    expect(wrong.authDone?.reason).toBe('wrong password');
    expect(unknown.authDone?.reason).toBe('unknown user');
  });

  test('MS-CHAPv2 name must be the EAP identity', () => {
    const r = converse(make('alice', 'name'), peer('bob@example.com', 'hunter2', 'name'));
    expect(r.authDone).toMatchObject({ ok: false, reason: 'MS-CHAPv2 name does not match the EAP identity' });
  });

  test('a Response with another Identifier is silently discarded; the right one still works', () => {
    const auth = make('alice', 'ids');
    const p = peer('alice', 'correct horse', 'ids');
    const ch = auth.start().send!;
    const resp = p.receive(ch).send!;
    const wrongId = resp.slice();
    wrongId[1] = 99;
    expect(auth.receive(wrongId)).toEqual({});
    expect(auth.receive(Uint8Array.of(1, 2, 3))).toEqual({});
    const next = auth.receive(resp);
    expect(next.send && decodeEap(next.send)).toMatchObject({ ok: true, value: { code: EapCode.REQUEST, type: EapType.MSCHAPV2 } });
  });

  test('Nak, other types, malformed Responses and wrong MS-CHAPv2-ID fail cleanly', () => {
    const cases: [string, (resp: Uint8Array) => Uint8Array, string][] = [
      ['nak', (r) => encodeEap({ code: EapCode.RESPONSE, identifier: r[1]!, type: EapType.NAK, data: Uint8Array.of(13) }), 'Nak, wants EAP-TLS'],
      ['md5', (r) => encodeEap({ code: EapCode.RESPONSE, identifier: r[1]!, type: EapType.MD5_CHALLENGE, data: new Uint8Array(17) }), 'unexpected MD5-Challenge'],
      ['short', (r) => r.slice(0, 20).map((x, i) => (i === 3 ? 20 : x)), 'malformed'],
      ['ms-id', (r) => r.map((x, i) => (i === 6 ? x ^ 1 : x)), 'MS-CHAPv2-ID'],
      ['opcode', (r) => r.map((x, i) => (i === 5 ? MschapV2Op.SUCCESS : x)), 'expected an MS-CHAPv2 Response'],
    ];
    for (const [seed, mutate, reason] of cases) {
      const auth = make('alice', seed);
      const resp = peer('alice', 'correct horse', seed).receive(auth.start().send!).send!;
      const out = auth.receive(mutate(resp));
      expect(out.done?.ok, seed).toBe(false);
      expect(out.done?.reason, seed).toContain(reason);
      expect(out.send && decodeEap(out.send)).toMatchObject({ ok: true, value: { code: EapCode.FAILURE } });
      expect(auth.receive(resp), `${seed}: finished`).toEqual({});
    }
  });

  test('the peer refuses a forged authenticator response (mutual authentication)', () => {
    const r = converse(make('alice', 'forge'), peer('alice', 'correct horse', 'forge'), (pkt, dir) => {
      const d = decodeEap(pkt);
      if (dir === 'to-peer' && d.ok && d.value.type === EapType.MSCHAPV2 && d.value.data[0] === MschapV2Op.SUCCESS) {
        const forged = pkt.slice();
        forged[11] = forged[11] === 0x41 ? 0x42 : 0x41; // a hex digit of S=
        return forged;
      }
      return pkt;
    });
    expect(r.peerDone).toMatchObject({ ok: false, reason: 'authenticator response does not verify' });
  });
});
