#!/usr/bin/env bun
// Spoofed-source IKE_SA_INIT flood for DoS tests (RFC 7296 §2.6): builds scripts/ike-flood.c and its request template.
//
//   bun scripts/flood.ts --dst 192.0.2.1 [--rate 25000] [--seconds 10] [--max 250000]   (as root, in a test netns)
//
// test/interop/flood.test.ts uses the exported helpers. The template is what a real initiator sends
// (SA, KE x25519, Ni, NAT-D, fragmentation and redirect support), so the gateway parses a realistic message.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeMessage } from '../firmware/src/ike/codec/index.ts';
import { DhId, EncrId, ExchangeType, HeaderFlag, IKE_VERSION, Notify, PayloadType, PrfId, ProtocolId, TransformType } from '../firmware/src/ike/constants.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const FLOOD_SOURCE = join(ROOT, 'scripts', 'ike-flood.c');

/** Compiles the generator into `outDir` (once; again when the source is newer). Returns its path or the compiler's error. */
export function buildFloodTool(outDir: string): { ok: true; path: string } | { ok: false; reason: string } {
  mkdirSync(outDir, { recursive: true });
  const bin = join(outDir, 'ike-flood');
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(FLOOD_SOURCE).mtimeMs) return { ok: true, path: bin };
  const r = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', bin, FLOOD_SOURCE], { encoding: 'utf8' });
  if (r.error) return { ok: false, reason: `no C compiler (cc): ${r.error.message}` };
  if (r.status !== 0) return { ok: false, reason: `cc failed: ${r.stderr}` };
  return { ok: true, path: bin };
}

/** Writes the IKE_SA_INIT template to `path`; returns the offset of the nonce data the generator varies. */
export function writeFloodTemplate(path: string): { nonceOffset: number; length: number } {
  const nonce = new Uint8Array(32).fill(0xa5);
  const ke = new Uint8Array(32).fill(0x42);
  const bytes = encodeMessage(
    { spiI: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), spiR: new Uint8Array(8), version: IKE_VERSION, exchange: ExchangeType.IKE_SA_INIT, flags: HeaderFlag.INITIATOR, messageId: 0 },
    [
      {
        type: PayloadType.SA,
        proposals: [
          {
            num: 1,
            protocolId: ProtocolId.IKE,
            spi: new Uint8Array(0),
            transforms: [
              { type: TransformType.ENCR, id: EncrId.AES_GCM_16, keyLength: 256 },
              { type: TransformType.PRF, id: PrfId.HMAC_SHA2_256 },
              { type: TransformType.DH, id: DhId.CURVE25519 },
            ],
          },
        ],
      },
      { type: PayloadType.KE, dhGroup: DhId.CURVE25519, data: ke },
      { type: PayloadType.NONCE, data: nonce },
      { type: PayloadType.NOTIFY, protocolId: 0, spi: new Uint8Array(0), notifyType: Notify.NAT_DETECTION_SOURCE_IP, data: new Uint8Array(20).fill(1) },
      { type: PayloadType.NOTIFY, protocolId: 0, spi: new Uint8Array(0), notifyType: Notify.NAT_DETECTION_DESTINATION_IP, data: new Uint8Array(20).fill(2) },
      { type: PayloadType.NOTIFY, protocolId: 0, spi: new Uint8Array(0), notifyType: Notify.IKEV2_FRAGMENTATION_SUPPORTED, data: new Uint8Array(0) },
      { type: PayloadType.NOTIFY, protocolId: 0, spi: new Uint8Array(0), notifyType: Notify.REDIRECT_SUPPORTED, data: new Uint8Array(0) },
    ],
  );
  let nonceOffset = -1;
  for (let off = 28; off + nonce.length <= bytes.length && nonceOffset < 0; off++) {
    if (bytes.subarray(off, off + nonce.length).every((b) => b === 0xa5)) nonceOffset = off;
  }
  if (nonceOffset < 0) throw new Error('nonce not found in the template');
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  return { nonceOffset, length: bytes.length };
}

/** The generator's argv for one run. */
export function floodArgs(bin: string, templatePath: string, nonceOffset: number, opts: { dst: string; rate: number; seconds: number; max: number; srcNet?: string; seed?: number }): string[] {
  return [
    bin, '--template', templatePath, '--nonce-offset', String(nonceOffset), '--dst', opts.dst,
    '--rate', String(opts.rate), '--seconds', String(opts.seconds), '--max', String(opts.max),
    '--src-net', opts.srcNet ?? '198.18.0.0/15', '--seed', String(opts.seed ?? 1),
  ];
}

if (import.meta.main) {
  const arg = (k: string, d: string) => {
    const i = process.argv.indexOf(`--${k}`);
    return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : d;
  };
  const out = join(ROOT, 'build', 'flood');
  const tool = buildFloodTool(out);
  if (!tool.ok) {
    console.error(tool.reason);
    process.exit(1);
  }
  const tmpl = join(out, 'ike-sa-init.bin');
  const { nonceOffset } = writeFloodTemplate(tmpl);
  const argv = floodArgs(tool.path, tmpl, nonceOffset, {
    dst: arg('dst', '192.0.2.1'),
    rate: Number(arg('rate', '25000')),
    seconds: Math.min(10, Number(arg('seconds', '10'))),
    max: Number(arg('max', '250000')),
  });
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
