// Pseudonyms for stored events: HMAC-SHA256 under a per-device key, so records correlate without naming anyone (GDPR Art. 4(5)).
import { createHmac } from 'node:crypto';

/** 16 hex digits (64 bits): collisions are negligible for one device's sessions, and nothing can be reversed. */
export function pseudonym(key: Uint8Array, kind: string, value: string): string {
  return createHmac('sha256', key).update(`${kind}\0${value}`).digest('hex').slice(0, 16);
}

/**
 * The session pseudonym of an IKE SA: from the initiator's SPI, which stays the same for the SA's life and which
 * an operator holding the device key can compute from a packet capture to find the session's records.
 */
export function sessionPseudonym(key: Uint8Array, spiIHex: string): string {
  return pseudonym(key, 'ike-spi-i', spiIHex.toLowerCase());
}
