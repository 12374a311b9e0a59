// Replies sent without an IKE SA (RFC 7296 §1.5, §2.6 cookies, §2.21.4 INVALID_IKE_SPI): plain, unprotected.
import { ExchangeType, HeaderFlag, IKE_VERSION, PayloadType } from './constants.ts';
import { encodeMessage } from './codec/index.ts';
import type { IkeHeader } from './codec/types.ts';
import type { Datagram } from './io.ts';
import { EMPTY } from './bytes.ts';

/**
 * A response to `req` holding one notify, from where the request arrived to where it came from. The responder
 * SPI is zero for IKE_SA_INIT (no state kept), else both SPIs are copied (§2.21.4).
 */
export function notifyReply(d: Datagram, req: IkeHeader, notifyType: number, data: Uint8Array = EMPTY): Datagram {
  const fromInitiator = (req.flags & HeaderFlag.INITIATOR) !== 0;
  const bytes = encodeMessage(
    {
      spiI: req.spiI,
      spiR: req.exchange === ExchangeType.IKE_SA_INIT ? new Uint8Array(8) : req.spiR,
      version: IKE_VERSION,
      exchange: req.exchange,
      flags: HeaderFlag.RESPONSE | (fromInitiator ? 0 : HeaderFlag.INITIATOR),
      messageId: req.messageId,
    },
    [{ type: PayloadType.NOTIFY, protocolId: 0, spi: EMPTY, notifyType, data }],
  );
  return { local: { ...d.local }, remote: { ...d.remote }, data: bytes };
}

/** A token bucket: at most `perSecond` replies per second, so forged packets cannot make us a reflector. */
export class RateLimit {
  private tokens: number;
  private lastMs: number;

  constructor(
    private readonly perSecond: number,
    nowMs: number,
  ) {
    this.tokens = perSecond;
    this.lastMs = nowMs;
  }

  take(nowMs: number): boolean {
    const elapsed = Math.max(0, nowMs - this.lastMs);
    this.lastMs = nowMs;
    this.tokens = Math.min(this.perSecond, this.tokens + (elapsed * this.perSecond) / 1000);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
