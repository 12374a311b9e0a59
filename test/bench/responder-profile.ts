// Profiler: where a responder's CPU goes per IKEv2 handshake (RFC 7296 IKE_SA_INIT + IKE_AUTH with CHILD_SA), in-process.
//
//   node_modules/.bin/bun test/bench/responder-profile.ts [--k 500] [--auth pubkey|psk] [--log info|warn] [--no-cache] [--no-primitives]
//
// Two engines in one process with no sockets: Outpost's initiator (the benchmark driver's configuration) and a
// responder configured like the `make bench` gateway. Each handshake runs to completion before the next, so
// every responder step can be timed on its own: IKE_SA_INIT, IKE_AUTH up to the validation effect, certificate
// chain validation, the resume that signs and answers, and the runtime's share (JSON logging of the events,
// the effect runner). Initiator work is excluded. Then primitives are timed in isolation (DH, KDF, sign,
// verify, SK seal/open, decode, certificate parsing, pkijs path validation with and without the cache), and
// memory per established IKE SA is read from the responder engine (heap after full GC, with K SAs up).
// Add `--cpu-prof-md` before the script path for a function-level profile of the whole run.
import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { createCryptoSuite } from '../../firmware/src/crypto/suite.ts';
import { deriveIkeSaKeys } from '../../firmware/src/crypto/ikev2-keys.ts';
import { decodeMessage, openSk, sealSk } from '../../firmware/src/ike/codec/index.ts';
import type { Payload } from '../../firmware/src/ike/codec/types.ts';
import { DhId, EncrId, IntegId, PayloadType, PrfId } from '../../firmware/src/ike/constants.ts';
import { createEngine, type Engine } from '../../firmware/src/ike/engine.ts';
import type { Datagram, Output, ValidateChainRequest } from '../../firmware/src/ike/io.ts';
import { clearChainCache, validateChain } from '../../firmware/src/pki/chain.ts';
import { createSignatureOps } from '../../firmware/src/pki/signature.ts';
import { createEffectRunner } from '../../firmware/src/runtime/effect-runner.ts';
import { logEngineEvent } from '../../firmware/src/runtime/gateway.ts';
import { createLogger } from '../../firmware/src/runtime/logger.ts';
import { createMockDataplane } from '../../firmware/src/dataplane/mock.ts';
import { arg, benchDriverJob, benchGatewayConfig, ESP, GW_FQDN, IKE } from './bench-gateway-config.ts';
import { issueBenchCert, makeBenchCa } from './bench-pki.ts';
import { buildConfig } from './handshake-driver.ts';

const GW = '192.0.2.1';
const CL = '192.0.2.2';

type Phase = 'init' | 'auth' | 'validate' | 'resume' | 'runtime';
const PHASES: Phase[] = ['init', 'auth', 'validate', 'resume', 'runtime'];

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/** Mean µs per call of fn over n calls (after a warm-up). */
function micro(n: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(50, n); i++) fn(i);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  return ((performance.now() - t0) * 1000) / n;
}

async function microAsync(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(20, n); i++) await fn(i);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return ((performance.now() - t0) * 1000) / n;
}

function gc(): void {
  Bun.gc(true);
  Bun.gc(true);
}

async function main(): Promise<void> {
  const k = Number(arg('k', '500'));
  const auth = arg('auth', 'pubkey') as 'pubkey' | 'psk';
  const logLevel = arg('log', 'info') as 'info' | 'warn';
  const useCache = !process.argv.includes('--no-cache');
  console.log(`responder-profile: K=${k}, ${auth}, ${IKE}, ESP ${ESP}, responder log level ${logLevel}, chain cache ${useCache ? 'on' : 'off'}`);

  const ca = makeBenchCa();
  const gw = issueBenchCert(ca, GW_FQDN);
  const clients = Array.from({ length: k }, (_, i) => issueBenchCert(ca, `c${String(i).padStart(5, '0')}.bench.example`));
  const job = benchDriverJob({
    localAddr: CL,
    remoteAddr: GW,
    auth,
    caDer: ca.certDer,
    identities: clients.map((c) => ({ fqdn: c.fqdn, certDerHex: Buffer.from(c.certDer).toString('hex'), keyDerHex: Buffer.from(c.keyDer).toString('hex') })),
    window: 1,
    timeoutMs: 60_000,
  });
  const validate = useCache ? validateChain : (req: ValidateChainRequest) => (clearChainCache(), validateChain(req));

  const now = () => Date.now();
  const ini = createEngine({ config: buildConfig(job), crypto: createCryptoSuite(), sig: createSignatureOps(), nowMs: now() });
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  const res = createEngine({ config: benchGatewayConfig({ addr: GW, auth, caDer: ca.certDer, gwCertDer: gw.certDer, gwKeyDer: gw.keyDer, logLevel }), crypto: createCryptoSuite(), sig: createSignatureOps(), nowMs: now() });

  // The runtime's share: the gateway logs every engine event as one JSON line (to a pipe in `make bench`).
  let logBytes = 0;
  const logger = createLogger({ level: logLevel, format: 'json', write: (l) => (logBytes += l.length + 1) });
  const dataplane = createMockDataplane();
  const runner = createEffectRunner({ dataplane, logger, validateChain: async () => ({ ok: false, reason: 'unused' }), resume: () => {} });

  const spent: Record<Phase, number[]> = { init: [], auth: [], validate: [], resume: [], runtime: [] };
  const total: number[] = [];
  const toGw = (d: Datagram): Datagram => ({ local: d.remote, remote: d.local, data: d.data });

  for (let i = 0; i < k; i++) {
    const cost: Record<Phase, number> = { init: 0, auth: 0, validate: 0, resume: 0, runtime: 0 };
    let childUp = false;
    // Responder-side routing, timed: what the gateway's route() does with an Output besides sending.
    const routeRes = (out: Output): Datagram[] => {
      const t = performance.now();
      runner.run(out.effects.filter((e) => e.type !== 'pki.validateChain'));
      for (const e of out.events) {
        logEngineEvent(logger, e);
        if (e.type === 'child.up') childUp = true;
      }
      cost.runtime += performance.now() - t;
      return out.send;
    };
    const iniOut = (out: Output): Datagram[] => {
      const sends = [...out.send];
      return sends;
    };
    let toResponder = iniOut(ini.command({ type: 'initiate', conn: `b${i}` }, now()));
    let rounds = 0;
    while (toResponder.length > 0 && rounds++ < 10) {
      const back: Datagram[] = [];
      for (const d of toResponder) {
        const isInit = d.data[18] === 34; // exchange type octet: IKE_SA_INIT
        const t = performance.now();
        const out = res.receive(toGw(d), now());
        cost[isInit ? 'init' : 'auth'] += performance.now() - t;
        back.push(...routeRes(out));
        for (const e of out.effects) {
          if (e.type !== 'pki.validateChain') continue;
          const tv = performance.now();
          const result = await validate(e.request);
          cost.validate += performance.now() - tv;
          const tr = performance.now();
          const o2 = res.command({ type: 'resume', ref: e.ref, result }, now());
          cost.resume += performance.now() - tr;
          back.push(...routeRes(o2));
        }
      }
      toResponder = [];
      for (const d of back) {
        const out = ini.receive(toGw(d), now());
        toResponder.push(...out.send);
        for (const e of out.effects) {
          if (e.type !== 'pki.validateChain') continue;
          const result = await validateChain(e.request);
          toResponder.push(...ini.command({ type: 'resume', ref: e.ref, result }, now()).send);
        }
      }
    }
    if (!childUp) throw new Error(`handshake ${i} did not bring the CHILD_SA up on the responder`);
    for (const p of PHASES) spent[p].push(cost[p]);
    total.push(PHASES.reduce((a, p) => a + cost[p], 0));
  }
  await runner.idle();

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const skip = Math.min(20, Math.floor(k / 10)); // JIT warm-up
  console.log('');
  console.log(`responder time per handshake (mean of ${k - skip}, after ${skip} warm-up):`);
  const tot = mean(total.slice(skip));
  for (const p of PHASES) {
    const m = mean(spent[p].slice(skip));
    console.log(`  ${p.padEnd(9)} ${(m * 1000).toFixed(0).padStart(6)} µs  ${((m / tot) * 100).toFixed(0).padStart(3)} %`);
  }
  console.log(`  ${'total'.padEnd(9)} ${(tot * 1000).toFixed(0).padStart(6)} µs  (p50 ${(percentile(total.slice(skip), 50) * 1000).toFixed(0)} µs, p99 ${(percentile(total.slice(skip), 99) * 1000).toFixed(0)} µs); log ${(logBytes / k).toFixed(0)} bytes/handshake`);

  gc();
  const st = res.stats();
  const heap1 = process.memoryUsage().heapUsed;
  const rss1 = process.memoryUsage().rss;
  console.log(`responder: ${st.established} IKE SAs established, ${st.childSas} CHILD_SAs; heap ${((heap1 - heap0) / 1024 / k).toFixed(1)} KiB per IKE SA (incl. initiator engine: ${((rss1 - rss0) / 1024 / k).toFixed(1)} KiB RSS)`);

  if (!process.argv.includes('--no-primitives')) await primitives(auth, ca.certDer, clients[0]!, gw);
}

async function primitives(auth: string, caDer: Uint8Array, client: ReturnType<typeof issueBenchCert>, gw: ReturnType<typeof issueBenchCert>): Promise<void> {
  const suite = createCryptoSuite();
  const sig = createSignatureOps();
  console.log('');
  console.log('primitives (µs per call):');
  const row = (name: string, us: number) => console.log(`  ${name.padEnd(52)} ${us.toFixed(1).padStart(8)}`);

  const peer = suite.keyExchange(DhId.CURVE25519);
  row('x25519 key pair', micro(2000, () => void suite.keyExchange(DhId.CURVE25519)));
  row('x25519 shared secret', micro(2000, () => void suite.keyExchange(DhId.CURVE25519).computeSecret(peer.publicKey)));
  const ni = suite.randomBytes(32);
  const nr = suite.randomBytes(32);
  const shared = peer.computeSecret(suite.keyExchange(DhId.CURVE25519).publicKey)!;
  row('SKEYSEED + prf+ (7 keys, AES-GCM-256/SHA-256)', micro(2000, () =>
    void deriveIkeSaKeys(suite, { prfId: PrfId.HMAC_SHA2_256, encrId: EncrId.AES_GCM_16, encrKeyBits: 256, integId: IntegId.NONE, sharedSecret: shared, nonceI: ni, nonceR: nr, spiI: suite.randomBytes(8), spiR: suite.randomBytes(8) }),
  ));
  row('prf HMAC-SHA-256 (one call, 100 bytes)', micro(20000, () => void suite.prf(PrfId.HMAC_SHA2_256).compute(ni, nr.subarray(0, 32))));

  const signer = sig.createSigner(client.keyDer);
  const data = suite.randomBytes(600);
  const signature = signer.sign('ecdsa-sha256', data);
  const spki = sig.spkiOf(client.certDer)!;
  row('ECDSA P-256 sign (AUTH)', micro(2000, () => void signer.sign('ecdsa-sha256', data)));
  row('ECDSA P-256 verify (AUTH)', micro(2000, () => void sig.verify(spki, 'ecdsa-sha256', data, signature)));
  row('sig.spkiOf(cert)', micro(2000, () => void sig.spkiOf(client.certDer)));
  row('sig.caKeyHash(cert)', micro(2000, () => void sig.caKeyHash(caDer)));

  const sk = suite.sk(EncrId.AES_GCM_16, 256, IntegId.NONE, suite.randomBytes(36), new Uint8Array());
  const header = { spiI: suite.randomBytes(8), spiR: suite.randomBytes(8), version: 0x20, exchange: 35, flags: 0x08, messageId: 1 };
  const inner = [
    { type: PayloadType.IDi, idType: 2, data: new TextEncoder().encode(client.fqdn) },
    { type: PayloadType.CERT, encoding: 4, data: client.certDer },
    { type: PayloadType.AUTH, method: 14, data: suite.randomBytes(80) },
  ] satisfies Payload[];
  const sealed = sealSk(header, inner, sk, suite.randomBytes);
  const dec = decodeMessage(sealed);
  if (!dec.ok) throw new Error('decode');
  row(`sealSk (IKE_AUTH-sized, ${sealed.length} bytes)`, micro(5000, () => void sealSk(header, inner, sk, suite.randomBytes)));
  row('decodeMessage (same)', micro(5000, () => void decodeMessage(sealed)));
  row('openSk (same)', micro(5000, () => void openSk(sealed, dec.value, sk)));

  const ab = (u: Uint8Array) => u.buffer.slice(u.byteOffset, u.byteOffset + u.byteLength) as ArrayBuffer;
  row('asn1js fromBER (EE certificate)', micro(1000, () => void asn1js.fromBER(client.certDer)));
  row('asn1js fromBER, parseEmbedded: false', micro(1000, () => void asn1js.fromBER(client.certDer, { parseEmbedded: false })));
  row('pkijs Certificate parse (EE)', micro(1000, () => void new pkijs.Certificate({ schema: asn1js.fromBER(ab(client.certDer)).result })));
  row('pkijs Certificate parse, parseEmbedded: false', micro(1000, () => void new pkijs.Certificate({ schema: asn1js.fromBER(client.certDer, { parseEmbedded: false }).result })));
  {
    // Only the lazy SAN parse is timed: each round needs a freshly parsed certificate (pkijs caches parsedValue).
    const certs = Array.from({ length: 300 }, () => new pkijs.Certificate({ schema: asn1js.fromBER(client.certDer, { parseEmbedded: false }).result }));
    const t = performance.now();
    for (const c of certs) void c.extensions?.find((e) => e.extnID === '2.5.29.17')?.parsedValue;
    row('pkijs SAN extension parsedValue (AltName, 1 dNSName)', ((performance.now() - t) * 1000) / certs.length);
  }
  const eeCert = new pkijs.Certificate({ schema: asn1js.fromBER(ab(client.certDer)).result });
  const caCert = new pkijs.Certificate({ schema: asn1js.fromBER(ab(caDer)).result });
  row('pkijs Name.isEqual (issuer vs CA subject)', micro(5000, () => void eeCert.issuer.isEqual(caCert.subject)));
  row('pkijs subjectPublicKeyInfo.toSchema().toBER()', micro(5000, () => void caCert.subjectPublicKeyInfo.toSchema().toBER(false)));
  row('pkijs subject.toSchema().toBER()', micro(5000, () => void eeCert.subject.toSchema().toBER(false)));
  row('sha256 over EE DER', micro(20000, () => void createHash('sha256').update(client.certDer).digest()));
  const engineRun = async () => {
    const e = new pkijs.CertificateChainValidationEngine({ trustedCerts: [caCert], certs: [eeCert], checkDate: new Date(), findIssuer: async () => [caCert] });
    return e.verify();
  };
  row('pkijs CertificateChainValidationEngine.verify (issuer given)', await microAsync(300, engineRun));
  const req = (i: number): ValidateChainRequest => ({ endEntityDer: client.certDer, intermediatesDer: [], trustAnchorsDer: [caDer], identity: { idType: 2, data: new TextEncoder().encode(client.fqdn) }, nowMs: Date.now() + i });
  row('validateChain, cold (cache cleared each call)', await microAsync(300, (i) => (clearChainCache(), validateChain(req(i)))));
  row('validateChain, cache hit', await microAsync(5000, (i) => validateChain(req(i))));
  void auth;
  void gw;
}

if (import.meta.main) await main();
