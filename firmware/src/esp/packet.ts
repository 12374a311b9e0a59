// ESP packet encode/decode (RFC 4303 §2, §3.3, §3.4), a test oracle for the native data path; sans-IO, crypto injected.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |               Security Parameters Index (SPI)                 |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                      Sequence Number                          |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    IV (8 octets AEAD, 16 CBC)                 |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                    Payload Data (encrypted)                   ~
// +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |               |     Padding (0-255 octets, 1, 2, 3, ...)      |
// +-+-+-+-+-+-+-+-+               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                               |  Pad Length   | Next Header   |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                 Integrity Check Value (ICV)                   ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
import type { Decoded } from '../ike/codec/types.ts';
import type { EspPrimitives } from './primitives.ts';
import { espSuite, type EspSuite } from './suite.ts';

export const ESP_HEADER_LEN = 8;

/** The keys and options of one ESP SA direction, as IKEv2 negotiated them. */
export interface EspSaKeys {
  spi: number;
  encrId: number;
  encrKeyBits?: number;
  encKey: Uint8Array; // key || 4-octet salt for AEAD
  integId: number;
  integKey: Uint8Array;
  esn: boolean;
}

export interface EspEncodeInput {
  seq: bigint; // full 64-bit number; only the low half goes on the wire
  iv: Uint8Array;
  payload: Uint8Array;
  nextHeader: number;
  /** Extra padding blocks beyond the minimum (RFC 4303 §2.4 allows up to 255 octets); tests only. */
  extraPadBlocks?: number;
  /** Replaces the padding octets; tests use it to build packets with bad padding. */
  paddingOverride?: Uint8Array;
  /** Replaces the Pad Length octet; tests only. */
  padLenOverride?: number;
}

export interface EspDecoded {
  spi: number;
  seqLow: number;
  iv: Uint8Array;
  payload: Uint8Array;
  padLen: number;
  nextHeader: number;
}

interface Keyed {
  suite: EspSuite;
  key: Uint8Array;
  salt: Uint8Array;
}

function keyed(sa: EspSaKeys): Keyed {
  const s = espSuite(sa.encrId, sa.encrKeyBits, sa.integId);
  if (!s.ok) throw new RangeError(s.error);
  const suite = s.value;
  if (suite.kind === 'aead') {
    if (sa.encKey.length !== suite.keyLen + suite.saltLen) throw new RangeError(`encKey must be ${suite.keyLen}+${suite.saltLen} octets`);
    return { suite, key: sa.encKey.subarray(0, suite.keyLen), salt: sa.encKey.subarray(suite.keyLen) };
  }
  if (sa.encKey.length !== suite.keyLen) throw new RangeError(`encKey must be ${suite.keyLen} octets`);
  if (sa.integKey.length !== suite.integKeyLen) throw new RangeError(`integKey must be ${suite.integKeyLen} octets`);
  return { suite, key: sa.encKey, salt: new Uint8Array(0) };
}

function be32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** RFC 4106 §5 / RFC 7634 §2.1: SPI || Seq, or SPI || Seq-high || Seq-low with ESN. */
function aeadAad(header: Uint8Array, esn: boolean, seqHigh: number): Uint8Array {
  return esn ? concat(header.subarray(0, 4), be32(seqHigh), header.subarray(4, 8)) : header.subarray(0, 8);
}

/** The IV the native path uses for AEAD transforms: the 64-bit sequence number, big-endian. */
export function ivFromSeq(seq: bigint): Uint8Array {
  const iv = new Uint8Array(8);
  new DataView(iv.buffer).setBigUint64(0, seq);
  return iv;
}

/** Builds a complete ESP packet (SPI onward). Throws only on caller mistakes (key lengths, IV length). */
export function encodeEsp(sa: EspSaKeys, prims: EspPrimitives, input: EspEncodeInput): Uint8Array {
  const { suite, key, salt } = keyed(sa);
  if (input.iv.length !== suite.ivLen) throw new RangeError(`IV must be ${suite.ivLen} octets`);
  const seqHigh = Number(input.seq >> 32n);
  const header = concat(be32(sa.spi), be32(Number(input.seq & 0xffffffffn)));
  const minPad = (suite.blockLen - ((input.payload.length + 2) % suite.blockLen)) % suite.blockLen;
  const padLen = minPad + (input.extraPadBlocks ?? 0) * suite.blockLen;
  if (padLen > 255) throw new RangeError('padding exceeds 255 octets');
  const padding = input.paddingOverride ?? Uint8Array.from({ length: padLen }, (_, i) => i + 1);
  const plaintext = concat(input.payload, padding, Uint8Array.of(input.padLenOverride ?? padding.length, input.nextHeader));
  if (suite.kind === 'aead') {
    const nonce = concat(salt, input.iv);
    const sealed = prims.aeadSeal(suite.aead, key, nonce, aeadAad(header, sa.esn, seqHigh), plaintext, suite.icvLen);
    return concat(header, input.iv, sealed);
  }
  const ct = prims.aesCbcEncrypt(key, input.iv, plaintext);
  const covered = concat(header, input.iv, ct);
  // RFC 4303 §2.2.1: with ESN the high half is authenticated as if appended after the ciphertext, never sent.
  const mac = prims.hmac(suite.hash, sa.integKey, sa.esn ? concat(covered, be32(seqHigh)) : covered);
  return concat(covered, mac.subarray(0, suite.icvLen));
}

/** The SPI and low sequence number, for demultiplexing before any SA is chosen. */
export function peekEsp(packet: Uint8Array): Decoded<{ spi: number; seqLow: number }> {
  if (packet.length < ESP_HEADER_LEN) return { ok: false, error: 'ESP packet shorter than its header' };
  const dv = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  return { ok: true, value: { spi: dv.getUint32(0), seqLow: dv.getUint32(4) } };
}

/** Verifies and decrypts one packet; seqHigh is the receiver's reconstruction of the ESN's upper half. */
export function decodeEsp(sa: EspSaKeys, prims: EspPrimitives, packet: Uint8Array, seqHigh = 0): Decoded<EspDecoded> {
  let k: Keyed;
  try {
    k = keyed(sa);
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  const { suite, key, salt } = k;
  const head = peekEsp(packet);
  if (!head.ok) return head;
  if (head.value.spi !== sa.spi >>> 0) return { ok: false, error: 'SPI does not match the SA' };
  const minCt = suite.kind === 'aead' ? 2 : suite.blockLen;
  if (packet.length < ESP_HEADER_LEN + suite.ivLen + minCt + suite.icvLen) return { ok: false, error: 'ESP packet truncated' };
  const header = packet.subarray(0, ESP_HEADER_LEN);
  const iv = packet.subarray(ESP_HEADER_LEN, ESP_HEADER_LEN + suite.ivLen);
  const body = packet.subarray(ESP_HEADER_LEN + suite.ivLen);
  let plaintext: Uint8Array | null;
  if (suite.kind === 'aead') {
    plaintext = prims.aeadOpen(suite.aead, key, concat(salt, iv), aeadAad(header, sa.esn, seqHigh), body, suite.icvLen);
    if (!plaintext) return { ok: false, error: 'ICV mismatch' };
  } else {
    const ct = body.subarray(0, body.length - suite.icvLen);
    const icv = body.subarray(body.length - suite.icvLen);
    if (ct.length % suite.blockLen !== 0) return { ok: false, error: 'ciphertext is not a whole number of blocks' };
    const covered = packet.subarray(0, packet.length - suite.icvLen);
    const mac = prims.hmac(suite.hash, sa.integKey, sa.esn ? concat(covered, be32(seqHigh)) : covered).subarray(0, suite.icvLen);
    if (!prims.equal(mac, icv)) return { ok: false, error: 'ICV mismatch' };
    plaintext = prims.aesCbcDecrypt(key, iv, ct);
  }
  const padLen = plaintext[plaintext.length - 2] ?? 0;
  const nextHeader = plaintext[plaintext.length - 1] ?? 0;
  if (padLen + 2 > plaintext.length) return { ok: false, error: 'Pad Length exceeds the payload' };
  const payloadLen = plaintext.length - 2 - padLen;
  for (let i = 0; i < padLen; i++) {
    if (plaintext[payloadLen + i] !== i + 1) return { ok: false, error: 'padding is not 1, 2, 3, ... (RFC 4303 §2.4)' };
  }
  return {
    ok: true,
    value: { spi: head.value.spi, seqLow: head.value.seqLow, iv: iv.slice(), payload: plaintext.slice(0, payloadLen), padLen, nextHeader },
  };
}
