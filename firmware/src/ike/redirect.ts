// Redirect notification data (RFC 5685 §8, §9): GW Ident Type | GW Ident Len | New Responder GW Identity | Nonce Data.
import { RedirectGatewayIdType } from './constants.ts';
import { formatIp, parseIp } from './ip.ts';
import { concatBytes, EMPTY } from './bytes.ts';

/** A gateway a client is sent to (or came from): an address we can use, or a DNS name we cannot resolve here. */
export type RedirectGateway = { kind: 'ip'; addr: string } | { kind: 'fqdn'; name: string };

/** strongSwan's limit too: a client follows at most this many redirects in a row (RFC 5685 §10 loops). */
export const MAX_REDIRECTS = 5;

const FQDN_RE = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** Config text (an IP address or a DNS name) → gateway; null when it is neither. */
export function parseGateway(text: string): RedirectGateway | null {
  const t = text.trim();
  if (parseIp(t)) return { kind: 'ip', addr: formatIp(parseIp(t)!) };
  return FQDN_RE.test(t) && /[A-Za-z]/.test(t) ? { kind: 'fqdn', name: t.replace(/\.$/, '') } : null;
}

export function gatewayText(g: RedirectGateway): string {
  return g.kind === 'ip' ? g.addr : g.name;
}

/** §8: the REDIRECT data; `nonce` is the initiator's Ni in an IKE_SA_INIT response, empty otherwise. */
export function encodeRedirectData(g: RedirectGateway, nonce: Uint8Array = EMPTY): Uint8Array {
  const ident = g.kind === 'ip' ? parseIp(g.addr)! : new TextEncoder().encode(g.name);
  const type = g.kind === 'fqdn' ? RedirectGatewayIdType.FQDN : ident.length === 4 ? RedirectGatewayIdType.IPV4 : RedirectGatewayIdType.IPV6;
  return concatBytes(Uint8Array.of(type, ident.length), ident, nonce);
}

/** REDIRECT or REDIRECTED_FROM data → gateway and trailing nonce; null when malformed (peer input: never throws). */
export function decodeRedirectData(data: Uint8Array): { gateway: RedirectGateway; nonce: Uint8Array } | null {
  if (data.length < 2) return null;
  const type = data[0]!;
  const len = data[1]!;
  if (data.length < 2 + len) return null;
  const ident = data.subarray(2, 2 + len);
  const nonce = data.subarray(2 + len);
  if (type === RedirectGatewayIdType.IPV4 || type === RedirectGatewayIdType.IPV6) {
    if (len !== (type === RedirectGatewayIdType.IPV4 ? 4 : 16)) return null;
    return { gateway: { kind: 'ip', addr: formatIp(ident) }, nonce };
  }
  if (type === RedirectGatewayIdType.FQDN) {
    let name: string;
    try {
      name = new TextDecoder('utf-8', { fatal: true }).decode(ident);
    } catch {
      return null;
    }
    const g = parseGateway(name);
    return g && g.kind === 'fqdn' ? { gateway: g, nonce } : null;
  }
  return null;
}

/** Which of `targets` a client at `source` goes to: the same one every time (a stable hash), so retries land together. */
export function pickGateway(targets: readonly RedirectGateway[], source: string): RedirectGateway | undefined {
  if (targets.length === 0) return undefined;
  let h = 2166136261;
  for (let i = 0; i < source.length; i++) h = Math.imul(h ^ source.charCodeAt(i), 16777619) >>> 0;
  return targets[h % targets.length];
}
