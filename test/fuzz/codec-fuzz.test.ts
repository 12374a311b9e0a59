// Deterministic mutation fuzzer for the IKEv2 codec (RFC 7296 §3, RFC 7383). Its only claim: never throws, never hangs.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  decodeMessage,
  decodePayloads,
  FragmentReassembler,
  openSk,
  peekHeader,
  sealFragments,
  sealSk,
  type Payload,
} from '../../firmware/src/ike/codec/index.ts';
import { ExchangeType, IKE_VERSION, PayloadType } from '../../firmware/src/ike/constants.ts';
import { encodeHeader } from '../../firmware/src/ike/codec/header.ts';
import { padPlaintext, sealBody } from '../../firmware/src/ike/codec/protect.ts';
import type { SkTransform } from '../../firmware/src/crypto/types.ts';
import { messageFixtures } from '../vectors/ike/message-fixtures.ts';
import { payloadFixtures } from '../vectors/ike/payload-fixtures.ts';
import { bothTransforms, counterRandom } from '../vectors/ike/sk-transforms.ts';
import { hexToBytes } from '../vectors/ike/hex.ts';

const ITERATIONS = 24_000;

/** mulberry32: small, fast, seeded. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Seed {
  bytes: Uint8Array;
  /** For payload-chain seeds: the first payload type. Absent for whole messages. */
  first?: number;
}

function corpus(): Seed[] {
  const seeds: Seed[] = [];
  for (const f of messageFixtures) seeds.push({ bytes: f.bytes });
  for (const f of payloadFixtures) seeds.push({ bytes: f.bytes, first: f.first });
  const header = { spiI: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), spiR: Uint8Array.of(8, 7, 6, 5, 4, 3, 2, 1), version: IKE_VERSION, exchange: ExchangeType.IKE_AUTH, flags: 0x08, messageId: 3 };
  const inner = payloadFixtures.flatMap((f) => f.payloads).filter((p) => p.type !== PayloadType.SK && p.type !== PayloadType.SKF) as Payload[];
  for (const { sk } of bothTransforms()) {
    seeds.push({ bytes: sealSk(header, inner.slice(0, 8), sk, counterRandom(3)) });
    seeds.push({ bytes: sealSk(header, [], sk, counterRandom(4)) });
    for (const f of sealFragments(header, inner, sk, counterRandom(5), 400).slice(0, 4)) seeds.push({ bytes: f });
  }
  const dir = join(dirname(fileURLToPath(import.meta.url)), '../vectors/ike');
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).filter((n) => n.startsWith('strongswan-') && n.endsWith('.hex'))) {
      seeds.push({ bytes: hexToBytes(readFileSync(join(dir, name), 'utf8').trim()) });
    }
  }
  return seeds;
}

const fuzzHeader = { spiI: new Uint8Array(8).fill(1), spiR: new Uint8Array(8).fill(2), version: IKE_VERSION, exchange: ExchangeType.INFORMATIONAL, flags: 0, messageId: 9 };

/**
 * Seals arbitrary octets as the content of a valid SK (or SKF 1/1) payload, bypassing the encoder, so the
 * authenticated-but-malformed path (inner payload walk after decryption) is fuzzed too.
 */
function sealRaw(content: Uint8Array, first: number, sk: SkTransform, fragment: boolean): Uint8Array {
  const pt = padPlaintext(content, sk.blockLen);
  const prefix = fragment ? 8 : 4;
  const payloadLen = prefix + sk.ivLen + pt.length + sk.icvLen;
  const head = encodeHeader({ ...fuzzHeader, nextPayload: fragment ? PayloadType.SKF : PayloadType.SK, length: 28 + payloadLen });
  const ph = fragment ? Uint8Array.of(first, 0, payloadLen >>> 8, payloadLen & 0xff, 0, 1, 0, 1) : Uint8Array.of(first, 0, payloadLen >>> 8, payloadLen & 0xff);
  return sealBody(Uint8Array.of(...head, ...ph), pt, sk, counterRandom(11));
}

function mutate(src: Uint8Array, other: Uint8Array, rnd: () => number): Uint8Array {
  const int = (n: number) => Math.floor(rnd() * n);
  let b = src.slice();
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    const pos = int(b.length + 1);
    switch (int(8)) {
      case 0: // bit flip
        if (b.length > 0) b[pos % b.length]! ^= 1 << int(8);
        break;
      case 1: // byte insert
        b = Uint8Array.of(...b.subarray(0, pos), int(256), ...b.subarray(pos));
        break;
      case 2: // byte delete
        if (b.length > 0) b = Uint8Array.of(...b.subarray(0, pos), ...b.subarray(pos + 1));
        break;
      case 3: // 16-bit length-like field corruption: 0, tiny, huge, off by one
      case 4: {
        if (b.length < 2) break;
        const at = Math.min(pos, b.length - 2);
        const old = (b[at]! << 8) | b[at + 1]!;
        const v = [0, 1, 3, 4, 7, 8, 0xffff, 0x8000, old + 1, old - 1, int(0x10000)][int(11)]! & 0xffff;
        b[at] = v >>> 8;
        b[at + 1] = v & 0xff;
        break;
      }
      case 5: // truncation
        b = b.slice(0, pos);
        break;
      case 6: {
        // splice: our prefix with another seed's suffix
        const cut = int(other.length + 1);
        b = Uint8Array.of(...b.subarray(0, pos), ...other.subarray(cut));
        break;
      }
      default: {
        // duplicate a region (repeated payloads, loops in length chains)
        const len = int(Math.min(64, b.length - Math.min(pos, b.length)) + 1);
        b = Uint8Array.of(...b.subarray(0, pos + len), ...b.subarray(pos, pos + len), ...b.subarray(pos + len));
      }
    }
  }
  return b;
}

describe('codec mutation fuzzer', () => {
  it(`decodeMessage, decodePayloads, openSk and the reassembler never throw over ${ITERATIONS} mutants`, () => {
    const seeds = corpus();
    const transforms = bothTransforms().map((t) => t.sk);
    const rnd = prng(0x1ce2);
    let reassembler = new FragmentReassembler({ maxFragments: 16, maxBytes: 8192 });
    const stats = { decoded: 0, opened: 0, fragments: 0, rejected: 0, innerRejected: 0 };
    for (let i = 0; i < ITERATIONS; i++) {
      const seed = seeds[Math.floor(rnd() * seeds.length)]!;
      const other = seeds[Math.floor(rnd() * seeds.length)]!;
      const m = mutate(seed.bytes, other.bytes, rnd);
      try {
        if (seed.first !== undefined) {
          const r = decodePayloads(seed.first, m);
          if (r.ok) stats.decoded++;
          else stats.rejected++;
          if (m.length < 60000 && i % 4 === 0) {
            // The same mutant as authenticated SK / SKF content.
            const sk = transforms[i % transforms.length]!;
            const fragment = i % 8 === 0;
            const raw = sealRaw(m, seed.first, sk, fragment);
            const msg = decodeMessage(raw);
            expect(msg.ok).toBe(true);
            if (!msg.ok) continue;
            const inner = fragment ? new FragmentReassembler().add(raw, msg.value, sk) : openSk(raw, msg.value, sk);
            if (inner.ok) stats.opened++;
            else stats.innerRejected++;
          }
          continue;
        }
        peekHeader(m);
        const msg = decodeMessage(m);
        if (!msg.ok) {
          stats.rejected++;
          // Reading the same bytes as a bare payload chain exercises the walker past header checks.
          decodePayloads(m[16] ?? 0, m.subarray(28));
          continue;
        }
        stats.decoded++;
        const last = msg.value.payloads[msg.value.payloads.length - 1];
        for (const sk of transforms) {
          if (last?.type === PayloadType.SK) {
            if (openSk(m, msg.value, sk).ok) stats.opened++;
          } else if (last?.type === PayloadType.SKF) {
            stats.fragments++;
            const r = reassembler.add(m, msg.value, sk);
            if (r.ok && r.value.done) reassembler = new FragmentReassembler({ maxFragments: 16, maxBytes: 8192 });
          }
        }
        if (i % 997 === 0) reassembler.reset();
      } catch (e) {
        throw new Error(`iteration ${i} threw on ${Buffer.from(m).toString('hex')}: ${String(e)}`);
      }
    }
    // The fuzzer must reach deep code, not only the header checks.
    expect(stats.decoded).toBeGreaterThan(ITERATIONS / 10);
    expect(stats.rejected).toBeGreaterThan(ITERATIONS / 10);
    expect(stats.fragments).toBeGreaterThan(100);
    expect(stats.opened).toBeGreaterThan(100);
    expect(stats.innerRejected).toBeGreaterThan(100);
  });

  it('feeds the unmodified fragments and sealed messages through open and the reassembler', () => {
    // Guards the fuzzer's corpus: the seeds themselves are valid, so mutants start from deep inside.
    const seeds = corpus().filter((s) => s.first === undefined);
    for (const s of seeds) expect(decodeMessage(s.bytes).ok).toBe(true);
  });
});
