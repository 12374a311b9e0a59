// The shape every payload codec file implements (RFC 7296 §3.2): body in, typed payload out, and back.
import type { Decoded, Payload } from './types.ts';

/** Octets of the generic payload header (RFC 7296 §3.2). */
export const GENERIC_HEADER_LEN = 4;
/** Largest payload body: the generic header's Payload Length is 16 bits and includes the header. */
export const MAX_BODY_LEN = 0xffff - GENERIC_HEADER_LEN;
export const CRITICAL_BIT = 0x80;

/** The payload without the fields the generic header carries for every payload (`critical`). */
export type Body<P extends Payload> = Omit<P, 'critical'>;

export interface PayloadCodec<P extends Payload> {
  readonly type: number;
  readonly name: string;
  /**
   * body: octets after the generic header. nextField: the generic header's Next Payload octet, which the
   * encrypted payloads (SK, SKF) reinterpret as the type of their first inner payload.
   */
  decode(body: Uint8Array, nextField: number): Decoded<Body<P>>;
  /** The body octets. Throws RangeError when verify() fails: local payloads must be well-formed. */
  encode(p: P): Uint8Array;
  /** null when the payload can be put on the wire, else why not. Decoders apply it to what they parsed. */
  verify(p: P): string | null;
  /** The Next Payload octet this payload writes in its own generic header, when not the following type. */
  nextField?(p: P): number;
}
