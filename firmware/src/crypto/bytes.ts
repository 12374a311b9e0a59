// Byte helpers shared by the crypto adapters: concatenation and Buffer↔Uint8Array at the node:crypto boundary.

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A Buffer view over the same memory, for node:crypto calls that want a Buffer. */
export function asBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** A plain Uint8Array copy, so Buffers (pooled memory, different slice semantics) never leak out of crypto/. */
export function toBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

export function bytesToBigInt(b: Uint8Array): bigint {
  let hex = '';
  for (const x of b) hex += x.toString(16).padStart(2, '0');
  return hex.length === 0 ? 0n : BigInt('0x' + hex);
}

/** Big-endian, left-padded with zeros to exactly len octets (value must fit). */
export function bigIntToBytes(v: bigint, len: number): Uint8Array {
  const hex = v.toString(16);
  if (hex.length > len * 2) throw new RangeError('value does not fit');
  const padded = hex.padStart(len * 2, '0');
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = parseInt(padded.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (const x of b) acc |= x;
  return acc === 0;
}
