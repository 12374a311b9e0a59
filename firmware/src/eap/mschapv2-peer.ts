// EAP-MSCHAPv2, peer side (draft-kamath-pppext-eap-mschapv2 §2, RFC 2759 §8): answers EAP-Identity and the
// MS-CHAPv2 Challenge, checks the authenticator's "S=" response before accepting Success, and derives the MSK.
import { EapCode, EapType, MschapV2Op } from './constants.ts';
import { decodeEap, encodeEap } from './packet.ts';
import type { EapPeer } from './types.ts';
import type { MschapPrimitives } from './mschap-primitives.ts';
import { generateAuthenticatorResponse, generateNtResponse, mschapV2Msk, ntPasswordHash } from './mschapv2-crypto.ts';
import { concat, u16, utf8Bytes, utf8Text } from '../radius/bytes.ts';

export interface MschapV2PeerOptions {
  identity: string;
  password: string;
  random: (n: number) => Uint8Array;
  primitives: MschapPrimitives;
}

export function createMschapV2Peer(opts: MschapV2PeerOptions): EapPeer {
  const p = opts.primitives;
  const passwordHash = ntPasswordHash(p, opts.password);
  let expectedAuthResponse: string | undefined;
  let msk: Uint8Array | undefined;
  let verified = false;

  const response = (identifier: number, type: number, data: Uint8Array) => encodeEap({ code: EapCode.RESPONSE, identifier, type, data });

  return {
    receive(raw) {
      const dec = decodeEap(raw);
      if (!dec.ok) return {};
      const pkt = dec.value;
      if (pkt.code === EapCode.SUCCESS) {
        // RFC 3748 §4.2 / RFC 2759 §5: an EAP-Success before our check of the authenticator is not mutual auth.
        return verified ? { done: { ok: true, msk, identity: opts.identity } } : { done: { ok: false, reason: 'EAP-Success without MS-CHAPv2 Success' } };
      }
      if (pkt.code === EapCode.FAILURE) return { done: { ok: false, reason: 'EAP-Failure' } };
      if (pkt.code !== EapCode.REQUEST) return {};
      if (pkt.type === EapType.IDENTITY) return { send: response(pkt.identifier, EapType.IDENTITY, utf8Bytes(opts.identity)) };
      if (pkt.type !== EapType.MSCHAPV2) return { send: response(pkt.identifier, EapType.NAK, Uint8Array.of(EapType.MSCHAPV2)) };
      const d = pkt.data;
      const op = d[0];
      const msId = d[1] ?? 0;
      if (op === MschapV2Op.CHALLENGE) {
        if (d.length < 5 + 16 || d[4] !== 16) return { done: { ok: false, reason: 'malformed MS-CHAPv2 Challenge' } };
        const authChallenge = d.slice(5, 21);
        const peerChallenge = opts.random(16);
        const nt = generateNtResponse(p, authChallenge, peerChallenge, opts.identity, passwordHash);
        expectedAuthResponse = generateAuthenticatorResponse(p, passwordHash, nt, peerChallenge, authChallenge, opts.identity);
        msk = mschapV2Msk(p, passwordHash, nt);
        const body = concat(Uint8Array.of(49), peerChallenge, new Uint8Array(8), nt, Uint8Array.of(0), utf8Bytes(opts.identity));
        return { send: response(pkt.identifier, EapType.MSCHAPV2, concat(Uint8Array.of(MschapV2Op.RESPONSE, msId), u16(4 + body.length), body)) };
      }
      if (op === MschapV2Op.SUCCESS) {
        const text = utf8Text(d.slice(4));
        const s = /(?:^|\s)(S=[0-9A-Fa-f]{40})(?:\s|$)/.exec(text)?.[1];
        if (!s || expectedAuthResponse === undefined || s.toUpperCase() !== expectedAuthResponse) {
          return { done: { ok: false, reason: 'authenticator response does not verify' } };
        }
        verified = true;
        return { send: response(pkt.identifier, EapType.MSCHAPV2, Uint8Array.of(MschapV2Op.SUCCESS)) };
      }
      if (op === MschapV2Op.FAILURE) {
        // draft-kamath §2: acknowledge; the authenticator then ends with EAP-Failure.
        return { send: response(pkt.identifier, EapType.MSCHAPV2, Uint8Array.of(MschapV2Op.FAILURE)) };
      }
      return { done: { ok: false, reason: `unexpected MS-CHAPv2 OpCode ${op ?? 'none'}` } };
    },
  };
}
