// Protecting and opening IKE messages for one SA: SK (RFC 7296 §3.14), fragments (RFC 7383 §2.5–2.6), payload order.
import { ExchangeType, HeaderFlag, IKE_PORT, IKE_VERSION, Notify, PayloadType } from './constants.ts';
import { decodePayloads, encodeMessage, FragmentReassembler, sealFragments, sealSk } from './codec/index.ts';
import { openBody } from './codec/protect.ts';
import type { IkeMessage, Payload } from './codec/types.ts';
import type { Endpoint } from '../dataplane/types.ts';
import type { Datagram } from './io.ts';
import type { EngineContext } from './context.ts';
import type { IkeSa } from './ike-sa.ts';
import { orderPayloads } from './message.ts';

export type Opened =
  | { kind: 'ok'; payloads: Payload[] }
  | { kind: 'drop'; reason: string }
  | { kind: 'incomplete' }
  | { kind: 'syntax'; error: string; notify: number; notifyData?: Uint8Array };

/** IP + UDP header octets (+ the non-ESP marker on 4500): fragmentSize is an IP packet size (RFC 7383 §2.5.1). */
function overhead(local: Endpoint): number {
  return (local.addr.includes(':') ? 40 : 20) + 8 + (local.port !== IKE_PORT ? 4 : 0);
}

function notifyDataOf(d: { ok: false; error: string; notify?: number }): Uint8Array | undefined {
  const x = (d as { notifyData?: Uint8Array }).notifyData;
  return x instanceof Uint8Array ? x : undefined;
}

/**
 * The payloads of a received message. IKE_SA_INIT is plain; everything else must end in SK or SKF and pass the
 * integrity check. Failing integrity is a silent drop; a syntax error behind a valid ICV is reported so the
 * request can be answered with INVALID_SYNTAX (§2.21.2).
 */
/** Where fragments of requests and of responses collect (made on demand: most SAs never see a fragment). */
export interface Reassemblers {
  reassembler(forResponses: boolean): FragmentReassembler;
}

export function openMessage(sa: IkeSa, d: Datagram, msg: IkeMessage, owner: Reassemblers, isResponse: boolean): Opened {
  if (msg.header.exchange === ExchangeType.IKE_SA_INIT) {
    if (msg.payloads.some((p) => p.type === PayloadType.SK || p.type === PayloadType.SKF)) return { kind: 'drop', reason: 'encrypted-ike-sa-init' };
    return { kind: 'ok', payloads: msg.payloads };
  }
  const sk = sa.skIn;
  const last = msg.payloads[msg.payloads.length - 1];
  if (!sk || !last) return { kind: 'drop', reason: 'unprotected' };
  if (last.type === PayloadType.SK && 'innerNext' in last) {
    const body = openBody(d.data, last.body.length, sk);
    if (!body.ok) return { kind: 'drop', reason: 'integrity' };
    const inner = decodePayloads(last.innerNext, body.value);
    if (!inner.ok) return { kind: 'syntax', error: inner.error, notify: inner.notify ?? Notify.INVALID_SYNTAX, notifyData: notifyDataOf(inner) };
    if (inner.value.some((p) => p.type === PayloadType.SK || p.type === PayloadType.SKF)) {
      return { kind: 'syntax', error: 'encrypted payload inside SK', notify: Notify.INVALID_SYNTAX };
    }
    return { kind: 'ok', payloads: inner.value };
  }
  if (last.type === PayloadType.SKF) {
    if (!sa.conn.fragmentation) return { kind: 'drop', reason: 'fragment-unsupported' };
    const frags = owner.reassembler(isResponse);
    if (frags.messageId !== undefined && frags.messageId !== msg.header.messageId) frags.reset();
    const r = frags.add(d.data, msg, sk);
    if (!r.ok) {
      // Reassembled, but the whole does not parse: a syntax error behind valid ICVs. Anything else (a forged or
      // stale fragment) is dropped alone: it must not cost the fragments already collected (§2.6.1).
      if (frags.done) {
        frags.reset();
        return { kind: 'syntax', error: r.error, notify: r.notify ?? Notify.INVALID_SYNTAX, notifyData: notifyDataOf(r) };
      }
      return { kind: 'drop', reason: 'fragment' };
    }
    if (!r.value.done) return { kind: 'incomplete' };
    frags.reset();
    return { kind: 'ok', payloads: r.value.payloads };
  }
  return { kind: 'drop', reason: 'unprotected' };
}

export function encodeMessageFor(sa: IkeSa, ctx: EngineContext, exchange: number, msgId: number, isResponse: boolean, payloads: Payload[], zeroSpiR = false): Uint8Array[] {
  const header = {
    spiI: sa.spiI,
    spiR: zeroSpiR ? new Uint8Array(8) : sa.spiR,
    version: IKE_VERSION,
    exchange,
    flags: (sa.initiator ? HeaderFlag.INITIATOR : 0) | (isResponse ? HeaderFlag.RESPONSE : 0),
    messageId: msgId,
  };
  const ordered = orderPayloads(payloads, exchange);
  if (exchange === ExchangeType.IKE_SA_INIT) return [encodeMessage(header, ordered)];
  const sk = sa.skOut;
  if (!sk) throw new Error('no SK_e for an encrypted message');
  const random = (n: number) => ctx.crypto.randomBytes(n);
  const canFragment = sa.peerFragmentation && sa.conn.fragmentation;
  const maxLen = sa.conn.fragmentSize - overhead(sa.local);
  let whole: Uint8Array | null = null;
  try {
    whole = sealSk(header, ordered, sk, random);
  } catch (e) {
    if (!canFragment) throw e;
  }
  if (whole && (!canFragment || whole.length <= maxLen)) return [whole];
  ctx.count('fragmented-sent');
  return sealFragments(header, ordered, sk, random, maxLen);
}
