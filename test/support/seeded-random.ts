// Deterministic random stream for tests: the ChaCha20 keystream (RFC 8439 §2.4) keyed by SHA-256(seed).
import { chacha20 } from '@noble/ciphers/chacha.js';
import { sha256 } from '@noble/hashes/sha2.js';

const BLOCK = 64;
const CHUNK = 64 * BLOCK;

/** Same seed, same octets, call after call; different seeds give independent streams. Never use outside tests. */
export function seededRandom(seed: number | string): (n: number) => Uint8Array {
  const key = sha256(new TextEncoder().encode(`outpost-seeded-random:${typeof seed}:${String(seed)}`));
  const nonce = new Uint8Array(12);
  let counter = 0;
  let buf = new Uint8Array(0);
  let pos = 0;
  return (n: number) => {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`bad length ${n}`);
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (pos === buf.length) {
        buf = chacha20(key, nonce, new Uint8Array(CHUNK), undefined, counter);
        counter += CHUNK / BLOCK;
        pos = 0;
      }
      const take = Math.min(n - filled, buf.length - pos);
      out.set(buf.subarray(pos, pos + take), filled);
      filled += take;
      pos += take;
    }
    return out;
  };
}
