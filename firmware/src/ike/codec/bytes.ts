// Byte helpers and error constructors shared by the IKEv2 payload codecs (RFC 7296 §3: network byte order).
import { Notify } from '../constants.ts';
import type { Decoded } from './types.ts';

export type DecodeError = { ok: false; error: string; notify?: number; notifyData?: Uint8Array };

/** Malformed peer input: RFC 7296 §3 says answer (if at all) with INVALID_SYNTAX. */
export function syntax(error: string): DecodeError {
  return { ok: false, error, notify: Notify.INVALID_SYNTAX };
}

export function ok<T>(value: T): Decoded<T> {
  return { ok: true, value };
}

export function u16(b: Uint8Array, off: number): number {
  return ((b[off] ?? 0) << 8) | (b[off + 1] ?? 0);
}

export function u32(b: Uint8Array, off: number): number {
  return (((b[off] ?? 0) << 24) | ((b[off + 1] ?? 0) << 16) | ((b[off + 2] ?? 0) << 8) | (b[off + 3] ?? 0)) >>> 0;
}

export function putU16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

export function putU32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Fixed-size prefix followed by variable data: the shape of most IKEv2 payload bodies. */
export function withPrefix(prefix: readonly number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + data.length);
  out.set(prefix, 0);
  out.set(data, prefix.length);
  return out;
}

export function isUint(v: unknown, max: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/** Throws on a programming error in local input (encoders never see peer input). */
export function assertValid(err: string | null, what: string): void {
  if (err !== null) throw new RangeError(`${what}: ${err}`);
}
