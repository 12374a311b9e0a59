// Seeded mutation primitives shared by the codec and gateway fuzzers (the claim they serve: never throws, never hangs).

/** mulberry32: small, fast, seeded; returns floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function join(...parts: Uint8Array[]): Uint8Array {
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

/**
 * One to four of: bit flip, octet insert/delete, 16-bit length-field corruption (0, tiny, huge, off by one),
 * truncation, splice with `other`'s tail, duplication of a region (repeated payloads, loops in length chains).
 */
export function mutate(src: Uint8Array, other: Uint8Array, rnd: () => number): Uint8Array {
  const int = (n: number) => Math.floor(rnd() * n);
  let b: Uint8Array = src.slice();
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    const pos = int(b.length + 1);
    switch (int(8)) {
      case 0:
        if (b.length > 0) b[pos % b.length]! ^= 1 << int(8);
        break;
      case 1:
        b = join(b.subarray(0, pos), Uint8Array.of(int(256)), b.subarray(pos));
        break;
      case 2:
        if (b.length > 0) b = join(b.subarray(0, pos), b.subarray(pos + 1));
        break;
      case 3:
      case 4: {
        if (b.length < 2) break;
        const at = Math.min(pos, b.length - 2);
        const old = (b[at]! << 8) | b[at + 1]!;
        const v = [0, 1, 3, 4, 7, 8, 0xffff, 0x8000, old + 1, old - 1, int(0x10000)][int(11)]! & 0xffff;
        b[at] = v >>> 8;
        b[at + 1] = v & 0xff;
        break;
      }
      case 5:
        b = b.slice(0, pos);
        break;
      case 6:
        b = join(b.subarray(0, pos), other.subarray(int(other.length + 1)));
        break;
      default: {
        const len = int(Math.min(64, b.length - Math.min(pos, b.length)) + 1);
        b = join(b.subarray(0, pos + len), b.subarray(pos, pos + len), b.subarray(pos + len));
      }
    }
  }
  return b;
}
