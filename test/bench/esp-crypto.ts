// Single-core ESP (RFC 4303) throughput of the native data path for 1400-octet inner packets: C loop alone and per N-API call.
// Run: node_modules/.bin/bun test/bench/esp-crypto.ts [--seconds 1]
import { randomBytes } from 'node:crypto';
import { EncrId, IntegId } from '../../firmware/src/ike/constants.ts';
import { loadNativeAddon, type NativeSaParams } from '../../firmware/src/dataplane/native-addon.ts';

const addon = loadNativeAddon();
const INNER = 1400;
const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 1;

const suites: Array<{ name: string; p: Omit<NativeSaParams, 'spi' | 'direction'> }> = [
  { name: 'AES-GCM-16-128', p: { encrId: EncrId.AES_GCM_16, encrKeyBits: 128, encKey: new Uint8Array(randomBytes(20)), integId: IntegId.NONE, esn: true, replayWindow: 1024 } },
  { name: 'AES-GCM-16-256', p: { encrId: EncrId.AES_GCM_16, encrKeyBits: 256, encKey: new Uint8Array(randomBytes(36)), integId: IntegId.NONE, esn: true, replayWindow: 1024 } },
  { name: 'ChaCha20-Poly1305', p: { encrId: EncrId.CHACHA20_POLY1305, encKey: new Uint8Array(randomBytes(36)), integId: IntegId.NONE, esn: true, replayWindow: 1024 } },
  {
    name: 'AES-CBC-256/HMAC-SHA2-256-128',
    p: { encrId: EncrId.AES_CBC, encrKeyBits: 256, encKey: new Uint8Array(randomBytes(32)), integId: IntegId.HMAC_SHA2_256_128, integKey: new Uint8Array(randomBytes(32)), esn: true, replayWindow: 1024 },
  },
];

const gbps = (packets: number, ns: number) => ((packets * INNER * 8) / ns).toFixed(2);
const kpps = (packets: number, ns: number) => ((packets / ns) * 1e6).toFixed(0);

function check(rc: number | object, what: string): void {
  if (typeof rc === 'number' && rc < 0) throw new Error(`${what}: ${addon.errnoName(rc)}`);
}

let spi = 0x7e000000 + (randomBytes(2).readUInt16BE(0) << 4);
const rows: string[][] = [['suite', 'C enc Gbit/s', 'C dec Gbit/s', 'C enc kpps', 'C dec kpps', 'N-API enc Gbit/s', 'N-API dec Gbit/s']];

for (const s of suites) {
  const id = spi++;
  check(addon.saAdd({ ...s.p, spi: id, direction: 'out' }), 'saAdd out');
  check(addon.saAdd({ ...s.p, spi: id, direction: 'in' }), 'saAdd in');

  // C path alone: grow the count until one run takes ~SECONDS.
  addon.benchEsp(id, INNER, 2000); // warm-up
  let count = 20000;
  let r = addon.benchEsp(id, INNER, count);
  if (typeof r === 'number') throw new Error(addon.errnoName(r));
  const perPkt = (r.encryptNs + r.decryptNs) / r.packets;
  count = Math.max(20000, Math.floor((SECONDS * 1e9) / perPkt));
  r = addon.benchEsp(id, INNER, count);
  if (typeof r === 'number') throw new Error(addon.errnoName(r));

  // One N-API call per packet, as a JS caller would see it.
  const inner = new Uint8Array(INNER);
  inner[0] = 0x45;
  const packets: Uint8Array[] = [];
  const deadline = performance.now() + SECONDS * 500;
  const e0 = process.hrtime.bigint();
  while (performance.now() < deadline) {
    for (let i = 0; i < 256; i++) {
      const esp = addon.encrypt(id, inner);
      if (typeof esp === 'number') throw new Error(addon.errnoName(esp));
      packets.push(esp);
    }
  }
  const encNs = Number(process.hrtime.bigint() - e0);
  const d0 = process.hrtime.bigint();
  for (const p of packets) check(addon.decrypt(p), 'decrypt');
  const decNs = Number(process.hrtime.bigint() - d0);

  rows.push([s.name, gbps(r.packets, r.encryptNs), gbps(r.packets, r.decryptNs), kpps(r.packets, r.encryptNs), kpps(r.packets, r.decryptNs), gbps(packets.length, encNs), gbps(packets.length, decNs)]);
  addon.saDel(id, 'out');
  addon.saDel(id, 'in');
}

console.log(`ESP throughput, ${INNER}-octet inner packets, one core, ${addon.opensslVersion}, runtime ${typeof Bun !== 'undefined' ? `Bun ${Bun.version}` : `Node ${process.version}`}`);
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
for (const row of rows) console.log(row.map((cell, c) => cell.padStart(widths[c]!)).join('  '));
