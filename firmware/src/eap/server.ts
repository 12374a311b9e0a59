// The authenticator's EAP conversation (RFC 3748 §2, RFC 7296 §2.16): EAP-Identity when the identity is not yet
// known, then one method, with a bound on the number of rounds.
import { EapCode, EapType, eapTypeName } from './constants.ts';
import { decodeEap, eapFailure, encodeEap, identityFromTypeData } from './packet.ts';
import type { EapAuthenticator, EapOut, RadiusAccessResult } from './types.ts';
import { utf8Text } from '../radius/bytes.ts';

export interface EapMethodContext {
  identity: string;
  /** The peer's EAP-Response/Identity, when an EAP-Identity round took place (a pass-through forwards it). */
  identityResponse?: Uint8Array;
  /** Identifier for the method's first Request (one past the Identity Request). */
  nextIdentifier: number;
}

export interface EapServerOptions {
  /**
   * The identity when it is already known (RFC 7296 §2.16: the IDi); absent = ask with EAP-Identity first
   * (strongSwan's `eap_id = %any`), which is what lets a user's EAP name differ from the device's IKE identity.
   */
  identity?: string;
  method: (ctx: EapMethodContext) => EapAuthenticator;
  random: (n: number) => Uint8Array;
  /** Requests answered before the conversation is failed (EAP-TLS needs dozens; a loop must not run forever). */
  maxRounds?: number;
}

const MAX_IDENTITY_LEN = 253; // it must fit one RADIUS User-Name

export function createEapServer(opts: EapServerOptions): EapAuthenticator {
  const maxRounds = opts.maxRounds ?? 64;
  let rounds = 0;
  let identityId = 0;
  let method: EapAuthenticator | null = null;
  let finished = false;
  let lastResponseId = 0;

  const track = (out: EapOut): EapOut => {
    if (out.done) finished = true;
    return out;
  };

  const fail = (reason: string, identity?: string): EapOut => {
    finished = true;
    return { send: eapFailure(lastResponseId), done: { ok: false, reason, identity } };
  };

  return {
    start() {
      if (method || finished) return {};
      if (opts.identity !== undefined) {
        method = opts.method({ identity: opts.identity, nextIdentifier: opts.random(1)[0] ?? 0 });
        return track(method.start());
      }
      identityId = opts.random(1)[0] ?? 0;
      return { send: encodeEap({ code: EapCode.REQUEST, identifier: identityId, type: EapType.IDENTITY, data: new Uint8Array(0) }) };
    },

    receive(raw) {
      if (finished) return {};
      const dec = decodeEap(raw);
      if (dec.ok && dec.value.code === EapCode.RESPONSE) lastResponseId = dec.value.identifier;
      if (++rounds > maxRounds) return fail(`more than ${maxRounds} EAP rounds`);
      if (method) return track(method.receive(raw));
      if (!dec.ok || dec.value.code !== EapCode.RESPONSE || dec.value.identifier !== identityId) return {};
      const pkt = dec.value;
      if (pkt.type !== EapType.IDENTITY) return fail(`expected an EAP-Identity Response, got ${eapTypeName(pkt.type ?? 0)}`);
      const idBytes = identityFromTypeData(pkt.data);
      if (idBytes.length === 0 || idBytes.length > MAX_IDENTITY_LEN) return fail(`unusable EAP identity (${idBytes.length} octets)`);
      const identity = utf8Text(idBytes);
      method = opts.method({ identity, identityResponse: raw.slice(0, 4 + 1 + pkt.data.length), nextIdentifier: (pkt.identifier + 1) & 0xff });
      return track(method.start());
    },

    resume(result: RadiusAccessResult) {
      if (finished || !method?.resume) return {};
      return track(method.resume(result));
    },
  };
}
