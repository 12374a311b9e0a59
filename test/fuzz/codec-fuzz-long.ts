#!/usr/bin/env bun
// The long codec fuzz run for `make fuzz` (RFC 7296 §3, RFC 7383): ≥ 10M mutants, split over worker processes.
//
//   bun test/fuzz/codec-fuzz-long.ts [--inputs 10000000] [--seed 1] [--workers 2]
//
// Each worker runs test/fuzz/codec-fuzz-core.ts with its own seed and prints one JSON line; the parent sums them.
// Exit 0 when nothing threw and nothing hung (one input over 5 s counts as a hang); 1 otherwise, with the input in
// hex to replay (`--replay HEX` decodes just that input and times it).
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CodecFuzzError, runCodecFuzz, type CodecFuzzStats } from './codec-fuzz-core.ts';
import { decodeMessage, decodePayloads, peekHeader } from '../../firmware/src/ike/codec/index.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const inputs = Number(arg('inputs', '10000000'));
const seed = Number(arg('seed', '1'));
const workers = Math.max(1, Number(arg('workers', String(Math.min(2, availableParallelism())))));

if (process.argv.includes('--replay')) {
  const bytes = Uint8Array.from(Buffer.from(arg('replay', ''), 'hex'));
  const t = performance.now();
  peekHeader(bytes);
  const message = decodeMessage(bytes).ok;
  const payloads = decodePayloads(bytes[16] ?? 0, bytes.subarray(28)).ok;
  console.log(JSON.stringify({ octets: bytes.length, message, payloads, ms: Number((performance.now() - t).toFixed(3)) }));
  process.exit(0);
}

if (process.argv.includes('--child')) {
  try {
    const stats = runCodecFuzz({ iterations: inputs, seed, progressEvery: 1_000_000, onProgress: (n) => process.stderr.write(`[codec-fuzz seed ${seed}] ${n} inputs\n`) });
    console.log(JSON.stringify({ ok: true, stats }));
  } catch (e) {
    const detail = e instanceof CodecFuzzError ? { iteration: e.iteration, input: Buffer.from(e.input).toString('hex') } : {};
    console.log(JSON.stringify({ ok: false, error: e instanceof Error ? e.message : String(e), ...detail }));
    process.exit(1);
  }
  process.exit(0);
}

const t0 = performance.now();
const share = Math.ceil(inputs / workers);
const self = fileURLToPath(import.meta.url);
const results = await Promise.all(
  Array.from({ length: workers }, (_, k) =>
    new Promise<{ ok: boolean; stats?: CodecFuzzStats; error?: string }>((resolve) => {
      const child = spawn(process.execPath, [self, '--child', '--inputs', String(Math.min(share, inputs - k * share)), '--seed', String(seed * 1000 + k)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.on('close', (code) => {
        try {
          resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as { ok: boolean; stats?: CodecFuzzStats; error?: string });
        } catch {
          resolve({ ok: false, error: `worker ${k} exited ${code} without a result:\n${out}` });
        }
      });
    }),
  ),
);
const secs = (performance.now() - t0) / 1000;
const failed = results.filter((r) => !r.ok);
const total: Record<string, number> = {};
for (const r of results) {
  for (const [k, v] of Object.entries(r.stats ?? {})) {
    if (typeof v === 'number') total[k] = k === 'slowestMs' ? Math.max(total[k] ?? 0, v) : (total[k] ?? 0) + v;
  }
}
const slowest = results.map((r) => r.stats).filter((x): x is CodecFuzzStats => x !== undefined).sort((a, b) => b.slowestMs - a.slowestMs)[0];
console.log(JSON.stringify({ fuzzer: 'codec', inputs: total.inputs ?? 0, seconds: Number(secs.toFixed(1)), perSecond: Math.round((total.inputs ?? 0) / secs), workers, stats: total, slowestInput: slowest?.slowestInput?.slice(0, 4000), failures: failed }));
if (failed.length > 0 || (total.inputs ?? 0) < inputs) process.exit(1);
