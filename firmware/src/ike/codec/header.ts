// The fixed 28-octet IKE header (RFC 7296 §3.1) and its version rules (§2.5).
import { Notify } from '../constants.ts';
import { assertValid, isUint, ok, putU32, syntax, u32 } from './bytes.ts';
import type { Decoded, IkeHeader } from './types.ts';

/*
                        1                   2                   3
    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |                       IKE SA Initiator's SPI                  |
   |                                                               |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |                       IKE SA Responder's SPI                  |
   |                                                               |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |                          Message ID                           |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   |                            Length                             |
   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
*/

export const HEADER_LEN = 28;
const SUPPORTED_MAJOR = 2;

/**
 * Reads the header without looking at the payloads, so a caller can route or answer a datagram cheaply.
 * Minor versions above ours are accepted (§2.5: "ignore the minor version"); a higher major version yields
 * INVALID_MAJOR_VERSION as the notify to answer with; an older one (IKEv1) is dropped without an answer.
 */
export function peekHeader(buf: Uint8Array): Decoded<IkeHeader> {
  if (buf.length < HEADER_LEN) return syntax(`truncated IKE header: ${buf.length} of ${HEADER_LEN} octets`);
  const version = buf[17] ?? 0;
  const major = version >>> 4;
  if (major > SUPPORTED_MAJOR) {
    return { ok: false, error: `unsupported major version ${major}`, notify: Notify.INVALID_MAJOR_VERSION };
  }
  if (major < SUPPORTED_MAJOR) return { ok: false, error: `not IKEv2 (major version ${major})` };
  const length = u32(buf, 24);
  if (length < HEADER_LEN) return syntax(`header length ${length} is shorter than the header`);
  return ok({
    spiI: buf.slice(0, 8),
    spiR: buf.slice(8, 16),
    nextPayload: buf[16] ?? 0,
    version,
    exchange: buf[18] ?? 0,
    flags: buf[19] ?? 0,
    messageId: u32(buf, 20),
    length,
  });
}

/** Like peekHeader, and the datagram must be exactly as long as the header says. */
export function decodeHeader(buf: Uint8Array): Decoded<IkeHeader> {
  const h = peekHeader(buf);
  if (!h.ok) return h;
  if (h.value.length > buf.length) return syntax(`truncated message: header says ${h.value.length}, got ${buf.length}`);
  if (h.value.length < buf.length) {
    return syntax(`trailing octets: header says ${h.value.length}, datagram is ${buf.length}`);
  }
  return h;
}

export function verifyHeader(h: IkeHeader): string | null {
  if (!(h.spiI instanceof Uint8Array) || h.spiI.length !== 8) return 'spiI must be 8 octets';
  if (!(h.spiR instanceof Uint8Array) || h.spiR.length !== 8) return 'spiR must be 8 octets';
  if (!isUint(h.nextPayload, 0xff)) return 'nextPayload out of range';
  if (!isUint(h.version, 0xff)) return 'version out of range';
  if (!isUint(h.exchange, 0xff)) return 'exchange out of range';
  if (!isUint(h.flags, 0xff)) return 'flags out of range';
  if (!isUint(h.messageId, 0xffffffff)) return 'messageId out of range';
  if (!isUint(h.length, 0xffffffff) || h.length < HEADER_LEN) return 'length out of range';
  return null;
}

export function encodeHeader(h: IkeHeader): Uint8Array {
  assertValid(verifyHeader(h), 'IKE header');
  const out = new Uint8Array(HEADER_LEN);
  out.set(h.spiI, 0);
  out.set(h.spiR, 8);
  out[16] = h.nextPayload;
  out[17] = h.version;
  out[18] = h.exchange;
  out[19] = h.flags;
  putU32(out, 20, h.messageId);
  putU32(out, 24, h.length);
  return out;
}

export const header = { decode: decodeHeader, encode: encodeHeader, verify: verifyHeader, peek: peekHeader };
