// EAP-MSCHAPv2, authenticator side (draft-kamath-pppext-eap-mschapv2 §2, RFC 2759): verifies the peer against a
// local user lookup and yields the MSK (RFC 3079 §3.4).
//
//   Request  [26] Challenge  (MS-CHAPv2-ID, 16-octet challenge, our name)      -->
//   <-- Response [26] Response (peer challenge, NT-Response, user name)
//   Request  [26] Success    ("S=<authenticator response> M=...")              -->
//   <-- Response [26] Success
//   EAP-Success                                                                 -->
// A wrong password or an unknown user ends with EAP-Failure at once, the same way for both so a peer cannot tell
// which it was.
import { EapCode, EapType, MschapV2Op, eapTypeName } from './constants.ts';
import { decodeEap, eapFailure, eapSuccess, encodeEap } from './packet.ts';
import type { EapAuthenticator, EapOut } from './types.ts';
import type { MschapPrimitives } from './mschap-primitives.ts';
import { challengeHash, challengeResponse, generateAuthenticatorResponse, mschapV2Msk, ntPasswordHash, stripDomain } from './mschapv2-crypto.ts';
import { concat, equalBytes, u16, utf8Bytes } from '../radius/bytes.ts';

/** A stored NT hash (MD4 of the UTF-16LE password) is preferred: it is what a user database should keep. */
export type MschapCredential = { ntHash: Uint8Array } | { password: string };

/** Synchronous on purpose (sans-IO): the runtime keeps the user table in memory. undefined = no such user. */
export type MschapUserLookup = (identity: string) => MschapCredential | undefined;

export interface MschapV2AuthenticatorOptions {
  /** The EAP identity (from EAP-Identity or the IKE IDi). */
  identity: string;
  lookup: MschapUserLookup;
  random: (n: number) => Uint8Array;
  primitives: MschapPrimitives;
  /** Name sent in the Challenge (RFC 2759 §4); informational for the peer. */
  serverName?: string;
  /** Identifier of our first Request; random when absent. */
  identifier?: number;
}

const CHALLENGE_LEN = 16;
const RESPONSE_VALUE_LEN = 49;

/** MS-CHAPv2 packet inside EAP: OpCode, MS-CHAPv2-ID, MS-Length (= EAP Length − 5), then the body. */
function mschapRequest(identifier: number, op: number, msId: number, body: Uint8Array): Uint8Array {
  const typeData = concat(Uint8Array.of(op, msId), u16(4 + body.length), body);
  return encodeEap({ code: EapCode.REQUEST, identifier, type: EapType.MSCHAPV2, data: typeData });
}

export function createMschapV2Authenticator(opts: MschapV2AuthenticatorOptions): EapAuthenticator {
  const p = opts.primitives;
  let state: 'init' | 'challenge-sent' | 'success-sent' | 'done' = 'init';
  let identifier = opts.identifier ?? (opts.random(1)[0] ?? 0);
  let msId = 0;
  let authChallenge: Uint8Array = new Uint8Array(0);
  let msk: Uint8Array | undefined;

  const fail = (reason: string, respId: number): EapOut => {
    state = 'done';
    return { send: eapFailure(respId), done: { ok: false, identity: opts.identity, reason } };
  };

  const start = (): EapOut => {
    if (state !== 'init') return {};
    authChallenge = opts.random(CHALLENGE_LEN);
    msId = identifier;
    const name = utf8Bytes(opts.serverName ?? 'outpost');
    state = 'challenge-sent';
    return { send: mschapRequest(identifier, MschapV2Op.CHALLENGE, msId, concat(Uint8Array.of(CHALLENGE_LEN), authChallenge, name)) };
  };

  const onResponse = (id: number, data: Uint8Array): EapOut => {
    // data: OpCode, MS-CHAPv2-ID, MS-Length(2), Value-Size, Response(49), Name
    if (data[0] !== MschapV2Op.RESPONSE) return fail(`expected an MS-CHAPv2 Response, got OpCode ${data[0] ?? 'none'}`, id);
    if (data.length < 5 + RESPONSE_VALUE_LEN || data[4] !== RESPONSE_VALUE_LEN) return fail('malformed MS-CHAPv2 Response', id);
    if (data[1] !== msId) return fail('MS-CHAPv2-ID of the Response does not match the Challenge', id);
    const value = data.subarray(5, 5 + RESPONSE_VALUE_LEN);
    const peerChallenge = value.slice(0, 16);
    const ntResponse = value.slice(24, 48);
    const name = new TextDecoder('utf-8', { fatal: false }).decode(data.subarray(5 + RESPONSE_VALUE_LEN));
    // The name enters the hash as the peer sent it; the credentials are those of the EAP identity, so the two
    // must name the same user (else a peer could authenticate as one user and be accounted as another).
    if (stripDomain(name).toLowerCase() !== stripDomain(opts.identity).toLowerCase()) {
      return fail(`MS-CHAPv2 name does not match the EAP identity`, id);
    }
    const cred = opts.lookup(opts.identity);
    // Unknown users still cost one hash and get the same Failure, so timing and replies do not reveal them.
    const passwordHash = cred === undefined ? p.md4(opts.random(16)) : 'ntHash' in cred ? cred.ntHash : ntPasswordHash(p, cred.password);
    const expected = challengeResponse(p, challengeHash(peerChallenge, authChallenge, name), passwordHash);
    if (cred === undefined) return fail('unknown user', id);
    if (!equalBytes(expected, ntResponse)) return fail('wrong password', id);
    const authResponse = generateAuthenticatorResponse(p, passwordHash, ntResponse, peerChallenge, authChallenge, name);
    msk = mschapV2Msk(p, passwordHash, ntResponse);
    identifier = (id + 1) & 0xff;
    state = 'success-sent';
    return { send: mschapRequest(identifier, MschapV2Op.SUCCESS, msId, utf8Bytes(`${authResponse} M=Welcome`)) };
  };

  const receive = (raw: Uint8Array): EapOut => {
    if (state !== 'challenge-sent' && state !== 'success-sent') return {};
    const dec = decodeEap(raw);
    // §4.1 (RFC 3748): what is not a Response to our outstanding Request is silently discarded.
    if (!dec.ok || dec.value.code !== EapCode.RESPONSE || dec.value.identifier !== identifier) return {};
    const pkt = dec.value;
    if (pkt.type === EapType.NAK) {
      const wanted = Array.from(pkt.data).map(eapTypeName).join(', ') || 'none';
      return fail(`peer refused EAP-MSCHAPv2 (Nak, wants ${wanted})`, pkt.identifier);
    }
    if (pkt.type !== EapType.MSCHAPV2) return fail(`unexpected ${eapTypeName(pkt.type ?? 0)} Response`, pkt.identifier);
    if (state === 'challenge-sent') return onResponse(pkt.identifier, pkt.data);
    if (pkt.data[0] !== MschapV2Op.SUCCESS) return fail('peer did not accept our authenticator response', pkt.identifier);
    state = 'done';
    return { send: eapSuccess(pkt.identifier), done: { ok: true, msk, identity: opts.identity } };
  };

  return { start, receive };
}
