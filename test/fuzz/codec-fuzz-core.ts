// The IKEv2 codec mutation fuzzer (RFC 7296 §3, RFC 7383), shared by the vitest run and the long `make fuzz` run.
// Its only claim: decoding, opening and reassembling peer input never throws and never hangs.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeMessage, decodePayloads, encodePayloads, FragmentReassembler, openSk, peekHeader, sealFragments, sealSk, type Payload } from '../../firmware/src/ike/codec/index.ts';
import { ExchangeType, IKE_VERSION, PayloadType } from '../../firmware/src/ike/constants.ts';
import { encodeHeader } from '../../firmware/src/ike/codec/header.ts';
import { padPlaintext, sealBody } from '../../firmware/src/ike/codec/protect.ts';
import type { SkTransform } from '../../firmware/src/crypto/types.ts';
import { messageFixtures } from '../vectors/ike/message-fixtures.ts';
import { payloadFixtures } from '../vectors/ike/payload-fixtures.ts';
import { bothTransforms, counterRandom } from '../vectors/ike/sk-transforms.ts';
import { hexToBytes } from '../vectors/ike/hex.ts';
import { mutate, prng } from './mutate.ts';

export { mutate, prng };

export interface Seed {
  bytes: Uint8Array;
  /** For payload-chain seeds: the first payload type. Absent for whole messages. */
  first?: number;
}

/** Fixtures, sealed messages and fragments, and strongSwan captures: mutants start from deep inside valid input. */
export function corpus(): Seed[] {
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
export function sealRaw(content: Uint8Array, first: number, sk: SkTransform, fragment: boolean): Uint8Array {
  const pt = padPlaintext(content, sk.blockLen);
  const prefix = fragment ? 8 : 4;
  const payloadLen = prefix + sk.ivLen + pt.length + sk.icvLen;
  const head = encodeHeader({ ...fuzzHeader, nextPayload: fragment ? PayloadType.SKF : PayloadType.SK, length: 28 + payloadLen });
  const ph = fragment ? Uint8Array.of(first, 0, payloadLen >>> 8, payloadLen & 0xff, 0, 1, 0, 1) : Uint8Array.of(first, 0, payloadLen >>> 8, payloadLen & 0xff);
  const aad = new Uint8Array(head.length + ph.length);
  aad.set(head, 0);
  aad.set(ph, head.length);
  return sealBody(aad, pt, sk, counterRandom(11));
}

export interface CodecFuzzStats {
  inputs: number;
  decoded: number;
  rejected: number;
  opened: number;
  innerRejected: number;
  fragments: number;
  reencoded: number;
  reencodeRefused: number;
  /** The slowest single input, milliseconds (a hang would show here long before a timeout). */
  slowestMs: number;
  /** That input, hex (replay it with codec-fuzz-long.ts --replay to tell a slow path from a GC pause). */
  slowestInput?: string;
}

export class CodecFuzzError extends Error {
  constructor(
    readonly iteration: number,
    readonly input: Uint8Array,
    cause: unknown,
  ) {
    super(`iteration ${iteration} threw on ${Buffer.from(input).toString('hex')}: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`);
  }
}

/**
 * `iterations` mutants from `seed`; throws CodecFuzzError (with the input, to replay) when anything throws, or
 * when one input takes longer than `hangMs`.
 */
export function runCodecFuzz(opts: { iterations: number; seed: number; hangMs?: number; onProgress?: (done: number, stats: CodecFuzzStats) => void; progressEvery?: number }): CodecFuzzStats {
  const seeds = corpus();
  const transforms = bothTransforms().map((t) => t.sk);
  const rnd = prng(opts.seed);
  // Generous: a GC pause or a busy machine must not read as a hang; a real one (a loop) takes forever.
  const hangMs = opts.hangMs ?? 5000;
  let reassembler = new FragmentReassembler({ maxFragments: 16, maxBytes: 8192 });
  const stats: CodecFuzzStats = { inputs: 0, decoded: 0, rejected: 0, opened: 0, innerRejected: 0, fragments: 0, reencoded: 0, reencodeRefused: 0, slowestMs: 0 };
  const every = opts.progressEvery ?? 100_000;
  for (let i = 0; i < opts.iterations; i++) {
    const seed = seeds[Math.floor(rnd() * seeds.length)]!;
    const other = seeds[Math.floor(rnd() * seeds.length)]!;
    const m = mutate(seed.bytes, other.bytes, rnd);
    const t0 = performance.now();
    try {
      stats.inputs++;
      if (seed.first !== undefined) {
        const r = decodePayloads(seed.first, m);
        if (r.ok) {
          stats.decoded++;
          reencode(r.value, stats);
        } else stats.rejected++;
        if (m.length < 60000 && i % 4 === 0) {
          const sk = transforms[i % transforms.length]!;
          const fragment = i % 8 === 0;
          const raw = sealRaw(m, seed.first, sk, fragment);
          const msg = decodeMessage(raw);
          if (!msg.ok) throw new Error(`a freshly sealed message does not decode: ${msg.error}`);
          const inner = fragment ? new FragmentReassembler().add(raw, msg.value, sk) : openSk(raw, msg.value, sk);
          if (inner.ok) stats.opened++;
          else stats.innerRejected++;
        }
      } else {
        peekHeader(m);
        const msg = decodeMessage(m);
        if (!msg.ok) {
          stats.rejected++;
          decodePayloads(m[16] ?? 0, m.subarray(28));
        } else {
          stats.decoded++;
          const last = msg.value.payloads[msg.value.payloads.length - 1];
          for (const sk of transforms) {
            if (last?.type === PayloadType.SK) {
              const inner = openSk(m, msg.value, sk);
              if (inner.ok) {
                stats.opened++;
                reencode(inner.value, stats);
              }
            } else if (last?.type === PayloadType.SKF) {
              stats.fragments++;
              const r = reassembler.add(m, msg.value, sk);
              if (r.ok && r.value.done) reassembler = new FragmentReassembler({ maxFragments: 16, maxBytes: 8192 });
            }
          }
          if (i % 997 === 0) reassembler.reset();
        }
      }
    } catch (e) {
      throw new CodecFuzzError(i, m, e);
    }
    const dt = performance.now() - t0;
    if (dt > stats.slowestMs) {
      stats.slowestMs = dt;
      stats.slowestInput = Buffer.from(m).toString('hex');
    }
    if (dt > hangMs) throw new CodecFuzzError(i, m, new Error(`took ${dt.toFixed(0)} ms (limit ${hangMs} ms)`));
    if (opts.onProgress && (i + 1) % every === 0) opts.onProgress(i + 1, stats);
  }
  return stats;
}

/** What decoded must encode again or be refused by the encoder's own checks (counted, not an error: peer input). */
function reencode(payloads: Payload[], stats: CodecFuzzStats): void {
  try {
    encodePayloads(payloads);
    stats.reencoded++;
  } catch {
    stats.reencodeRefused++;
  }
}
