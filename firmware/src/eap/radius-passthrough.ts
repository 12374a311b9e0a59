// EAP pass-through to a RADIUS server (RFC 3579 §2, RFC 7296 §2.16): the gateway relays EAP between the peer and
// the server, one Access-Request per peer Response, and takes the MSK from the Access-Accept's MS-MPPE keys
// (decrypted by the runtime, which holds the shared secret). Any method the server speaks works unchanged.
import { EapCode, EapType } from './constants.ts';
import { decodeEap, eapFailure, eapSuccess, encodeEap } from './packet.ts';
import type { EapAuthenticator, EapOut, RadiusAccessRequest, RadiusAccessResult } from './types.ts';
import { utf8Bytes } from '../radius/bytes.ts';

export interface EapRadiusOptions {
  identity: string;
  /** The peer's own EAP-Response/Identity when there was an EAP-Identity round; else one is made from `identity`. */
  identityResponse?: Uint8Array;
  /** Identifier for the made-up Identity Response. */
  identifier?: number;
  /** NAS attributes copied into every Access-Request (see RadiusAccessRequest). */
  nas?: Pick<RadiusAccessRequest, 'callingStationId' | 'calledStationId' | 'nasPort'>;
}

export function createEapRadiusAuthenticator(opts: EapRadiusOptions): EapAuthenticator {
  let state: 'init' | 'waiting' | 'challenged' | 'done' = 'init';
  let radiusState: Uint8Array | undefined;
  /** Identifier of the Request the peer must answer; also the one our final Success/Failure carries. */
  let requestId = opts.identifier ?? 0;

  const request = (eapMessage: Uint8Array): EapOut => {
    state = 'waiting';
    return { backend: { userName: opts.identity, eapMessage, ...(radiusState ? { state: radiusState } : {}), ...opts.nas } };
  };

  const finish = (ok: boolean, serverEap: Uint8Array | undefined, done: Omit<NonNullable<EapOut['done']>, 'ok'>): EapOut => {
    state = 'done';
    const want = ok ? EapCode.SUCCESS : EapCode.FAILURE;
    const dec = serverEap ? decodeEap(serverEap) : undefined;
    // The server's own Success/Failure when it sent one (its Identifier), else ours for the last Response.
    const send = dec?.ok && dec.value.code === want ? serverEap : ok ? eapSuccess(requestId) : eapFailure(requestId);
    return { send, done: { ok, identity: opts.identity, ...done } };
  };

  return {
    start() {
      if (state !== 'init') return {};
      const first = opts.identityResponse ?? encodeEap({ code: EapCode.RESPONSE, identifier: requestId, type: EapType.IDENTITY, data: utf8Bytes(opts.identity) });
      const dec = decodeEap(first);
      if (dec.ok) requestId = dec.value.identifier;
      return request(first);
    },

    receive(raw) {
      if (state !== 'challenged') return {};
      const dec = decodeEap(raw);
      // RFC 3748 §4.1: only a Response to the outstanding Request goes on; the server would reject others anyway.
      if (!dec.ok || dec.value.code !== EapCode.RESPONSE || dec.value.identifier !== requestId) return {};
      return request(raw.slice(0, 4 + 1 + dec.value.data.length));
    },

    resume(result: RadiusAccessResult) {
      if (state !== 'waiting') return {};
      switch (result.kind) {
        case 'challenge': {
          const dec = decodeEap(result.eapMessage);
          if (!dec.ok || dec.value.code !== EapCode.REQUEST) {
            return finish(false, undefined, { reason: `RADIUS server${result.server ? ` ${result.server}` : ''} sent an Access-Challenge without an EAP Request` });
          }
          requestId = dec.value.identifier;
          radiusState = result.state;
          state = 'challenged';
          return { send: result.eapMessage };
        }
        case 'accept':
          return finish(true, result.eapMessage, { msk: result.msk, aaa: result.aaa, ...(result.msk ? {} : { reason: 'Access-Accept without MS-MPPE keys: no MSK' }) });
        case 'reject':
          return finish(false, result.eapMessage, {
            reason: `rejected by RADIUS server${result.server ? ` ${result.server}` : ''}${result.replyMessage ? ` (${result.replyMessage})` : ''}`,
          });
        case 'error':
          return finish(false, undefined, { reason: `RADIUS: ${result.reason}` });
      }
    },
  };
}
