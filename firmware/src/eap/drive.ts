// Drives an EAP authenticator's AAA round trips (RFC 3579 §2) through an async function, outside the engine
// (the engine instead turns `backend` into a pause/resume effect, see firmware/src/ike/README.md).
import type { EapAuthenticator, EapOut, RadiusAccessRequest, RadiusAccessResult } from './types.ts';

export type RadiusExchange = (req: RadiusAccessRequest) => Promise<RadiusAccessResult>;

export interface AsyncEapAuthenticator {
  start(): Promise<EapOut>;
  receive(eapPacket: Uint8Array): Promise<EapOut>;
}

export function withExchange(auth: EapAuthenticator, exchange: RadiusExchange): AsyncEapAuthenticator {
  const settle = async (out: EapOut): Promise<EapOut> => {
    while (out.backend) {
      if (!auth.resume) return { done: { ok: false, reason: 'method asked for a backend but cannot resume' } };
      let result: RadiusAccessResult;
      try {
        result = await exchange(out.backend);
      } catch (e) {
        result = { kind: 'error', reason: (e as Error).message };
      }
      out = auth.resume(result);
    }
    return out;
  };
  return {
    start: () => settle(auth.start()),
    receive: (p) => settle(auth.receive(p)),
  };
}
