#!/usr/bin/env bun
// `make fuzz` gateway run: ≥ 1M valid and mutated IKE messages at every exchange state against a running Outpost
// gateway on loopback, then an Outpost initiator must still connect (RFC 7296; test/fuzz/gateway-fuzzer.ts).
//
//   bun test/fuzz/gateway-fuzz.ts [--packets 1000000] [--seed 1] [--rate 15000]
//
// Prints progress every 10 s and one JSON summary line; exit 1 when the gateway crashed, logged an internal
// error, or stopped serving.
import { fuzzGateway } from './gateway-fuzzer.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const packets = Number(arg('packets', '1000000'));
const result = await fuzzGateway({
  packets,
  seed: Number(arg('seed', '1')),
  ratePerSec: Number(arg('rate', '15000')),
  progress: (s) => process.stderr.write(`[gateway-fuzz] ${s.sent} packets sent, ${s.received} answers, ${s.initiators} initiators, ${s.handshakes.ok} established\n`),
});
console.log(JSON.stringify({ fuzzer: 'gateway', ...result }));
process.exit(result.ok && result.sent >= packets ? 0 : 1);
