// Byte helpers for the RADIUS and EAP codecs (RFC 2865 §3: network byte order throughout).

export const EMPTY = new Uint8Array(0);

// One concatenation for the whole firmware; crypto/bytes.ts is pure (no I/O), so the codec stays sans-IO.
export { concatBytes as concat } from '../crypto/bytes.ts';

/** Constant time in the length of the inputs: for authenticators, MACs and password hashes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return d === 0;
}

export function readU16(b: Uint8Array, off: number): number {
  return ((b[off] ?? 0) << 8) | (b[off + 1] ?? 0);
}

export function readU32(b: Uint8Array, off: number): number {
  return (((b[off] ?? 0) << 24) | ((b[off + 1] ?? 0) << 16) | ((b[off + 2] ?? 0) << 8) | (b[off + 3] ?? 0)) >>> 0;
}

export function u16(v: number): Uint8Array {
  return Uint8Array.of((v >>> 8) & 0xff, v & 0xff);
}

export function u32(v: number): Uint8Array {
  return Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

export function xorInto(dst: Uint8Array, src: Uint8Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] = (dst[i] ?? 0) ^ (src[i] ?? 0);
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/** Lenient on whitespace, strict on digits: null for anything that is not an even run of hex digits. */
export function fromHex(text: string): Uint8Array | null {
  const h = text.replace(/\s+/g, '');
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) return null;
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const utf8 = new TextEncoder();
const utf8Lenient = new TextDecoder('utf-8', { fatal: false });

export function utf8Bytes(s: string): Uint8Array {
  return utf8.encode(s);
}

/** Peer-supplied text: invalid UTF-8 becomes U+FFFD instead of throwing. */
export function utf8Text(b: Uint8Array): string {
  return utf8Lenient.decode(b);
}
