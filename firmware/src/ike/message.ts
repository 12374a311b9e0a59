// Engine-side views of IKE messages: the request/response being built and the one received (RFC 7296 §3).
import { ExchangeType, HeaderFlag, NOTIFY_ERROR_MAX, Notify, PayloadType } from './constants.ts';
import type { Datagram } from './io.ts';
import type { IkeHeader, NotifyPayload, Payload, UnknownPayload } from './codec/types.ts';
import { EMPTY } from './bytes.ts';

type Known = Exclude<Payload, UnknownPayload>;
/** The payload interface(s) whose `type` admits T (TsPayload covers TSi and TSr, IdPayload IDi and IDr). */
type PayloadOf<T extends number> = Known extends infer P ? (P extends { type: infer U } ? (T extends U ? P : never) : never) : never;

/** A message under construction: tasks add inner payloads, the task manager orders, protects and sends it. */
export class OutMessage {
  readonly payloads: Payload[] = [];
  constructor(
    readonly exchange: number,
    readonly isResponse: boolean,
  ) {}

  add(p: Payload): void {
    this.payloads.push(p);
  }

  notify(notifyType: number, data: Uint8Array = EMPTY, protocolId = 0, spi: Uint8Array = EMPTY): void {
    this.payloads.push({ type: PayloadType.NOTIFY, protocolId, spi, notifyType, data });
  }

  /** Drop everything added so far (an error response carries only the error notify). */
  clear(): void {
    this.payloads.length = 0;
  }
}

/** A received, authenticated (or, for IKE_SA_INIT, plain) message with its payloads decoded. */
export class InMessage {
  constructor(
    readonly header: IkeHeader,
    readonly payloads: readonly Payload[],
    readonly datagram: Datagram,
  ) {}

  get exchange(): number {
    return this.header.exchange;
  }

  get isResponse(): boolean {
    return (this.header.flags & HeaderFlag.RESPONSE) !== 0;
  }

  get<T extends number>(type: T): PayloadOf<T> | undefined {
    return this.payloads.find((p) => p.type === type) as PayloadOf<T> | undefined;
  }

  all<T extends number>(type: T): PayloadOf<T>[] {
    return this.payloads.filter((p) => p.type === type) as PayloadOf<T>[];
  }

  notify(notifyType: number): NotifyPayload | undefined {
    return this.notifies().find((n) => n.notifyType === notifyType);
  }

  notifies(): NotifyPayload[] {
    return this.all(PayloadType.NOTIFY);
  }

  /** The first error notify (type <= 16383), if any. */
  errorNotify(): NotifyPayload | undefined {
    return this.notifies().find((n) => n.notifyType <= NOTIFY_ERROR_MAX);
  }
}

/*
 * Payload order on the wire. Receivers must accept any order, but some implementations are picky, so we
 * follow the order strongSwan uses (its message.c order tables): the cookie first (§2.6 requires it),
 * errors early, identities before AUTH, SA before the selectors, status notifies last.
 */
const NOTIFY_EARLY = new Set<number>([Notify.COOKIE]);
const NOTIFY_AFTER_ID = new Set<number>([Notify.INITIAL_CONTACT]);
const NOTIFY_BEFORE_SA = new Set<number>([
  Notify.IPCOMP_SUPPORTED,
  Notify.USE_TRANSPORT_MODE,
  Notify.ESP_TFC_PADDING_NOT_SUPPORTED,
  Notify.NON_FIRST_FRAGMENTS_ALSO,
]);

function rank(p: Payload, exchange: number): number {
  if (p.type === PayloadType.NOTIFY) {
    const n = (p as NotifyPayload).notifyType;
    if (NOTIFY_EARLY.has(n)) return 0;
    if (n <= NOTIFY_ERROR_MAX) return 1;
    if (NOTIFY_AFTER_ID.has(n)) return 4;
    if (NOTIFY_BEFORE_SA.has(n)) return 10;
    if (exchange === ExchangeType.INFORMATIONAL) return 20;
    return n === Notify.NAT_DETECTION_SOURCE_IP ? 14 : n === Notify.NAT_DETECTION_DESTINATION_IP ? 15 : 16;
  }
  switch (p.type) {
    case PayloadType.IDi: return 2;
    case PayloadType.CERT: return 3;
    case PayloadType.IDr: return 5;
    case PayloadType.CERTREQ: return exchange === ExchangeType.IKE_SA_INIT ? 17 : 6;
    case PayloadType.AUTH: return 7;
    case PayloadType.EAP: return 8;
    case PayloadType.CP: return 9;
    case PayloadType.SA: return 11;
    case PayloadType.KE: return 12;
    case PayloadType.NONCE: return 12;
    case PayloadType.TSi: return 13;
    case PayloadType.TSr: return 13;
    case PayloadType.DELETE: return 19;
    case PayloadType.VENDOR: return 30;
    default: return 25;
  }
}

/** Stable sort into wire order; ties keep the order in which tasks added them (KE before Nonce, TSi before TSr). */
export function orderPayloads(payloads: readonly Payload[], exchange: number): Payload[] {
  return payloads
    .map((p, i) => ({ p, i, r: rank(p, exchange) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.p);
}

export function notifyName(type: number): string {
  for (const [k, v] of Object.entries(Notify)) if (v === type) return k;
  return `NOTIFY_${type}`;
}

export function exchangeName(type: number): string {
  for (const [k, v] of Object.entries(ExchangeType)) if (v === type) return k;
  return `EXCHANGE_${type}`;
}
