// The decoded IKEv2 message model (RFC 7296 §3): plain data, shared by the codec, the engine and tests.
import type { PayloadType } from '../constants.ts';

/** Result of decoding peer input: never an exception. `notify` is the error notify to answer with, if any. */
export type Decoded<T> =
  | { ok: true; value: T }
  | { ok: false; error: string; notify?: number; notifyData?: Uint8Array }; // notifyData: e.g. the payload type octet

/** RFC 7296 §3.1: the fixed 28-octet header. */
export interface IkeHeader {
  spiI: Uint8Array; // 8 octets
  spiR: Uint8Array; // 8 octets, all zero in the first IKE_SA_INIT request
  nextPayload: number;
  version: number; // 0x20
  exchange: number; // ExchangeType
  flags: number; // HeaderFlag bits
  messageId: number;
  length: number; // whole message, header included
}

/** RFC 7296 §3.3.2: Key Length is the only attribute; other attributes are kept raw so they can be rejected. */
export interface Transform {
  type: number; // TransformType
  id: number;
  keyLength?: number; // bits, from the KEY_LENGTH attribute
  unknownAttributes?: number[]; // attribute types we do not understand: the whole proposal must be ignored
}

export interface Proposal {
  num: number;
  protocolId: number; // ProtocolId
  spi: Uint8Array; // empty in IKE_SA_INIT, 8 for IKE rekey, 4 for ESP/AH
  transforms: Transform[];
}

export interface TrafficSelector {
  tsType: number; // TsType
  ipProtocol: number; // 0 = any
  startPort: number;
  endPort: number;
  startAddr: Uint8Array; // 4 or 16 octets
  endAddr: Uint8Array;
}

export interface CfgAttribute {
  type: number; // CfgAttr
  value: Uint8Array; // may be empty (a request)
}

interface Base {
  critical?: boolean; // the critical bit as received/sent; only meaningful for unknown payloads
}

export interface SaPayload extends Base { type: typeof PayloadType.SA; proposals: Proposal[] }
export interface KePayload extends Base { type: typeof PayloadType.KE; dhGroup: number; data: Uint8Array }
export interface IdPayload extends Base {
  type: typeof PayloadType.IDi | typeof PayloadType.IDr;
  idType: number; // IdType
  data: Uint8Array;
}
export interface CertPayload extends Base { type: typeof PayloadType.CERT; encoding: number; data: Uint8Array }
/** data: concatenated 20-octet SHA-1 hashes of trusted CAs' SubjectPublicKeyInfo. */
export interface CertReqPayload extends Base { type: typeof PayloadType.CERTREQ; encoding: number; data: Uint8Array }
export interface AuthPayload extends Base { type: typeof PayloadType.AUTH; method: number; data: Uint8Array }
export interface NoncePayload extends Base { type: typeof PayloadType.NONCE; data: Uint8Array }
export interface NotifyPayload extends Base {
  type: typeof PayloadType.NOTIFY;
  protocolId: number; // 0 when no SPI
  spi: Uint8Array;
  notifyType: number; // Notify
  data: Uint8Array;
}
export interface DeletePayload extends Base {
  type: typeof PayloadType.DELETE;
  protocolId: number;
  spis: Uint8Array[]; // empty for IKE (protocol 1)
}
export interface VendorPayload extends Base { type: typeof PayloadType.VENDOR; data: Uint8Array }
export interface TsPayload extends Base {
  type: typeof PayloadType.TSi | typeof PayloadType.TSr;
  selectors: TrafficSelector[];
}
export interface CpPayload extends Base { type: typeof PayloadType.CP; cfgType: number; attributes: CfgAttribute[] }
/** RFC 3748 packet carried whole; eapType present for Request/Response. */
export interface EapPayload extends Base {
  type: typeof PayloadType.EAP;
  code: number;
  identifier: number;
  eapType?: number;
  data: Uint8Array; // type-data after the type octet (or empty)
}
/** Encrypted payload (RFC 7296 §3.14): body = IV || ciphertext || ICV, undecrypted. */
export interface SkPayload extends Base { type: typeof PayloadType.SK; innerNext: number; body: Uint8Array }
/** Encrypted fragment (RFC 7383 §2.5). innerNext is non-zero only in fragment 1. */
export interface SkfPayload extends Base {
  type: typeof PayloadType.SKF;
  innerNext: number;
  fragmentNumber: number;
  totalFragments: number;
  body: Uint8Array;
}
/** A payload type we do not know: kept so the critical bit can be honoured. */
export interface UnknownPayload extends Base { type: number; unknown: true; critical: boolean; body: Uint8Array }

export type Payload =
  | SaPayload
  | KePayload
  | IdPayload
  | CertPayload
  | CertReqPayload
  | AuthPayload
  | NoncePayload
  | NotifyPayload
  | DeletePayload
  | VendorPayload
  | TsPayload
  | CpPayload
  | EapPayload
  | SkPayload
  | SkfPayload
  | UnknownPayload;

export interface IkeMessage {
  header: IkeHeader;
  payloads: Payload[];
}
