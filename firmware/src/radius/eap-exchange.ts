// One EAP pass-through round trip over RADIUS (RFC 3579 §2.1, §3), runtime side: turns the plain
// RadiusAccessRequest an EAP method emits into an Access-Request and the answer into a RadiusAccessResult,
// decrypting the MS-MPPE keys into the MSK here, where the shared secret lives.
import type { RadiusAccessRequest, RadiusAccessResult } from '../eap/types.ts';
import type { RadiusExchange } from '../eap/drive.ts';
import { NasPortType, RadiusAttr, RadiusCode, ServiceType, radiusCodeName } from './constants.ts';
import { eapMessageAttrs, getAttr, getText, joinEapMessage, octetsAttr, textAttr, u32Attr } from './attributes.ts';
import { aaaAttributes } from './aaa.ts';
import { mskFromMppeKeys } from './hiding.ts';
import type { RadiusClient } from './client.ts';
import type { RadiusAttribute } from './packet.ts';

export interface EapExchangeOptions {
  /** Framed-MTU hint for the server's EAP fragment size (RFC 3579 §2.2); absent = not sent. */
  framedMtu?: number;
}

export function accessRequestAttributes(req: RadiusAccessRequest, opts: EapExchangeOptions = {}): RadiusAttribute[] {
  const a: RadiusAttribute[] = [
    textAttr(RadiusAttr.USER_NAME, req.userName),
    u32Attr(RadiusAttr.SERVICE_TYPE, ServiceType.FRAMED),
    u32Attr(RadiusAttr.NAS_PORT_TYPE, NasPortType.VIRTUAL),
  ];
  if (req.nasPort !== undefined) a.push(u32Attr(RadiusAttr.NAS_PORT, req.nasPort));
  if (req.callingStationId) a.push(textAttr(RadiusAttr.CALLING_STATION_ID, req.callingStationId));
  if (req.calledStationId) a.push(textAttr(RadiusAttr.CALLED_STATION_ID, req.calledStationId));
  if (opts.framedMtu) a.push(u32Attr(RadiusAttr.FRAMED_MTU, opts.framedMtu));
  if (req.state) a.push(octetsAttr(RadiusAttr.STATE, req.state));
  a.push(...eapMessageAttrs(req.eapMessage));
  return a;
}

export function radiusEapExchange(client: RadiusClient, opts: EapExchangeOptions = {}): RadiusExchange {
  return async (req) => {
    const r = await client.access(accessRequestAttributes(req, opts));
    if (!r.ok) return { kind: 'error', reason: r.error };
    const p = r.packet;
    const server = r.server.name;
    const eap = joinEapMessage(p);
    if (eap && !eap.ok) return { kind: 'error', reason: `${radiusCodeName(p.code)} from ${server}: ${eap.error}` };
    const eapMessage = eap?.value;
    switch (p.code) {
      case RadiusCode.ACCESS_CHALLENGE: {
        if (!eapMessage) return { kind: 'error', reason: `Access-Challenge from ${server} without EAP-Message` };
        const state = getAttr(p, RadiusAttr.STATE);
        return { kind: 'challenge', eapMessage, server, ...(state ? { state } : {}) } satisfies RadiusAccessResult;
      }
      case RadiusCode.ACCESS_ACCEPT: {
        const msk = mskFromMppeKeys(p, r.server.secret, r.requestAuthenticator);
        if (msk && !msk.ok) return { kind: 'error', reason: `Access-Accept from ${server}: ${msk.error}` };
        return { kind: 'accept', server, aaa: aaaAttributes(p), ...(eapMessage ? { eapMessage } : {}), ...(msk ? { msk: msk.value } : {}) };
      }
      default: {
        const replyMessage = getText(p, RadiusAttr.REPLY_MESSAGE);
        return { kind: 'reject', server, ...(eapMessage ? { eapMessage } : {}), ...(replyMessage ? { replyMessage } : {}) };
      }
    }
  };
}
