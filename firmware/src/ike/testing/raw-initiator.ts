// Test-only hand-driven IKEv2 initiator (RFC 7296 §1.2, §2.14, §2.15 PSK): builds and seals arbitrary requests so
// tests can send what a well-behaved engine never would (bad syntax, unknown critical payloads, odd exchanges).
import { AuthMethod, ExchangeType, HeaderFlag, IKE_VERSION, Notify, PayloadType, ProtocolId, TransformType, EncrId, PrfId, DhId } from '../constants.ts';
import type { CryptoSuite, KeyExchange, SkTransform } from '../../crypto/types.ts';
import type { Endpoint } from '../../dataplane/types.ts';
import type { Datagram } from '../io.ts';
import type { IkeHeader, Payload } from '../codec/types.ts';
import { decodeMessage, encodeHeader, encodeMessage, HEADER_LEN, openSk, sealFragments, sealSk } from '../codec/index.ts';
import { padPlaintext, sealBody } from '../codec/protect.ts';
import { deriveIkeSaKeys, type IkeSaKeys } from '../../crypto/ikev2-keys.ts';
import { concatBytes, utf8 } from '../bytes.ts';

export class RawInitiator {
  readonly spiI: Uint8Array;
  spiR: Uint8Array = new Uint8Array(8);
  private nonceI: Uint8Array;
  private nonceR: Uint8Array = new Uint8Array(0);
  private ke: KeyExchange;
  private initReq: Uint8Array = new Uint8Array(0);
  keys: IkeSaKeys | null = null;
  private skOut: SkTransform | null = null;
  private skIn: SkTransform | null = null;
  nextMsgId = 0;

  constructor(
    private readonly crypto: CryptoSuite,
    /** Where our packets come from (a test may move it: MOBIKE). */
    public local: Endpoint,
    readonly remote: Endpoint,
  ) {
    this.spiI = crypto.randomBytes(8);
    this.nonceI = crypto.randomBytes(32);
    this.ke = crypto.keyExchange(DhId.CURVE25519);
  }

  private header(exchange: number, messageId: number): Omit<IkeHeader, 'length' | 'nextPayload'> {
    return { spiI: this.spiI, spiR: this.spiR, version: IKE_VERSION, exchange, flags: HeaderFlag.INITIATOR, messageId };
  }

  private dgram(data: Uint8Array): Datagram {
    return { local: { ...this.remote }, remote: { ...this.local }, data };
  }

  /**
   * IKE_SA_INIT { [N(COOKIE)], SA(aes256gcm16-prfsha256-x25519), KE, Ni, [extra] } as the responder receives it
   * (the same SPIi, KE and Ni each time: a retry after a COOKIE must repeat them, §2.6).
   */
  initRequest(opts: { cookie?: Uint8Array; extra?: Payload[] } = {}): Datagram {
    const proposal = {
      num: 1,
      protocolId: ProtocolId.IKE,
      spi: new Uint8Array(0),
      transforms: [
        { type: TransformType.ENCR, id: EncrId.AES_GCM_16, keyLength: 256 },
        { type: TransformType.PRF, id: PrfId.HMAC_SHA2_256 },
        { type: TransformType.DH, id: DhId.CURVE25519 },
      ],
    };
    this.initReq = encodeMessage(this.header(ExchangeType.IKE_SA_INIT, 0), [
      ...(opts.cookie ? [{ type: PayloadType.NOTIFY, protocolId: 0, spi: new Uint8Array(0), notifyType: Notify.COOKIE, data: opts.cookie } as Payload] : []),
      { type: PayloadType.SA, proposals: [proposal] },
      { type: PayloadType.KE, dhGroup: DhId.CURVE25519, data: this.ke.publicKey },
      { type: PayloadType.NONCE, data: this.nonceI },
      ...(opts.extra ?? []),
    ]);
    this.nextMsgId = 1;
    return this.dgram(this.initReq);
  }

  handleInitResponse(data: Uint8Array): void {
    const dec = decodeMessage(data);
    if (!dec.ok) throw new Error(dec.error);
    this.spiR = dec.value.header.spiR;
    const ke = dec.value.payloads.find((p) => p.type === PayloadType.KE);
    const nonce = dec.value.payloads.find((p) => p.type === PayloadType.NONCE);
    if (!ke || !('dhGroup' in ke) || !nonce || !('data' in nonce)) throw new Error('IKE_SA_INIT response without KE/Nr');
    this.nonceR = nonce.data;
    const secret = this.ke.computeSecret(ke.data);
    if (!secret) throw new Error('bad KE');
    const keys = deriveIkeSaKeys(this.crypto, {
      prfId: PrfId.HMAC_SHA2_256,
      encrId: EncrId.AES_GCM_16,
      encrKeyBits: 256,
      integId: 0,
      nonceI: this.nonceI,
      nonceR: this.nonceR,
      sharedSecret: secret,
      spiI: this.spiI,
      spiR: this.spiR,
    });
    this.keys = keys;
    this.skOut = this.crypto.sk(EncrId.AES_GCM_16, 256, 0, keys.skEi, keys.skAi);
    this.skIn = this.crypto.sk(EncrId.AES_GCM_16, 256, 0, keys.skEr, keys.skAr);
  }

  /** IDi + AUTH (PSK) payloads for IKE_AUTH; add SA/TSi/TSr yourself for a CHILD_SA. */
  authPayloads(psk: Uint8Array, fqdn: string): Payload[] {
    if (!this.keys) throw new Error('no keys');
    const idData = utf8(fqdn);
    const prf = this.crypto.prf(PrfId.HMAC_SHA2_256);
    const idBody = concatBytes(Uint8Array.of(2, 0, 0, 0), idData);
    const octets = concatBytes(this.initReq, this.nonceR, prf.compute(this.keys.skPi, idBody));
    const auth = prf.compute(prf.compute(psk, utf8('Key Pad for IKEv2')), octets);
    return [
      { type: PayloadType.IDi, idType: 2, data: idData },
      { type: PayloadType.AUTH, method: AuthMethod.SHARED_KEY_MIC, data: auth },
    ];
  }

  /** A sealed request with the next message ID (or `messageId`). */
  request(exchange: number, inner: Payload[], messageId?: number): Datagram {
    if (!this.skOut) throw new Error('no keys');
    const id = messageId ?? this.nextMsgId++;
    return this.dgram(sealSk(this.header(exchange, id), inner, this.skOut, (n) => this.crypto.randomBytes(n)));
  }

  /** A request sealed as RFC 7383 fragments of at most `maxMessageLen` octets each (IKE header included). */
  requestFragments(exchange: number, inner: Payload[], maxMessageLen: number, messageId?: number): Datagram[] {
    if (!this.skOut) throw new Error('no keys');
    const id = messageId ?? this.nextMsgId++;
    return sealFragments(this.header(exchange, id), inner, this.skOut, (n) => this.crypto.randomBytes(n), maxMessageLen).map((b) => this.dgram(b));
  }

  /** A sealed response (we are still the original initiator) to the responder's request `messageId`. */
  response(exchange: number, inner: Payload[], messageId: number): Datagram {
    if (!this.skOut) throw new Error('no keys');
    const header = { ...this.header(exchange, messageId), flags: HeaderFlag.INITIATOR | HeaderFlag.RESPONSE };
    return this.dgram(sealSk(header, inner, this.skOut, (n) => this.crypto.randomBytes(n)));
  }

  /** Like request(), with arbitrary inner octets (for fuzzing what lies behind a valid ICV). */
  requestRaw(exchange: number, firstPayload: number, inner: Uint8Array, messageId?: number): Datagram {
    if (!this.skOut) throw new Error('no keys');
    const id = messageId ?? this.nextMsgId++;
    const sk = this.skOut;
    const plaintext = padPlaintext(inner, sk.blockLen);
    const skLen = 4 + sk.ivLen + plaintext.length + sk.icvLen;
    const head = encodeHeader({ ...this.header(exchange, id), nextPayload: PayloadType.SK, length: HEADER_LEN + skLen });
    const skHead = Uint8Array.of(firstPayload, 0, skLen >> 8, skLen & 0xff);
    return this.dgram(sealBody(concatBytes(head, skHead), plaintext, sk, (n) => this.crypto.randomBytes(n)));
  }

  /** Decrypt a response from the responder. */
  open(data: Uint8Array): { header: IkeHeader; payloads: Payload[] } {
    if (!this.skIn) throw new Error('no keys');
    const dec = decodeMessage(data);
    if (!dec.ok) throw new Error(dec.error);
    const inner = openSk(data, dec.value, this.skIn);
    if (!inner.ok) throw new Error(inner.error);
    return { header: dec.value.header, payloads: inner.value };
  }
}
