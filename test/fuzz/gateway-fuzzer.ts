// Mutation fuzzer against a running Outpost gateway over UDP on loopback (RFC 7296 exchanges, RFC 7383, RFC 4555, RFC 5685).
/*
 * Flow: the gateway under test is the real `outpost gateway` CLI, spawned on 127.0.0.1 with private ports. The
 * fuzzer plays many initiators, one after another. Each walks the exchange states, and in each state sends valid
 * messages and mutants of them:
 *   init        IKE_SA_INIT variants (to the IKE and NAT-T ports), then a valid one (returning the cookie when asked)
 *   half-open   IKE_AUTH mutants that fail the ICV, carry other message IDs, come as fragments, or (sometimes)
 *               pass the ICV with mangled inner payloads (which ends that initiator)
 *   established INFORMATIONAL / CREATE_CHILD_SA / MOBIKE / REDIRECT / DELETE templates, sealed with valid keys
 *               around mutated inner octets (so the payload walker behind a valid ICV is reached), valid ones,
 *               ICV failures, odd message IDs, fragments, unsolicited responses; a liveness probe every so often
 *               checks that the SA still answers (else the initiator moves on)
 *   deleted     DELETE, then junk for the SPI that is gone
 * The gateway must not exit, must log no internal error, and afterwards an Outpost initiator (the real runtime,
 * in this process) must still connect. Only the fuzzer's claims: no crash, no internal error, still serving.
 * FUZZ_DEBUG=1 prints why an initiator did not get through; FUZZ_GATEWAY_LOG=FILE keeps the gateway's debug log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RawInitiator } from '../../firmware/src/ike/testing/raw-initiator.ts';
import { createCryptoSuite } from '../../firmware/src/crypto/suite.ts';
import { decodeMessage, encodePayloads, peekHeader } from '../../firmware/src/ike/codec/index.ts';
import { CertEncoding, DhId, EncrId, ExchangeType, HeaderFlag, Notify, PayloadType, PrfId, ProtocolId, TransformType } from '../../firmware/src/ike/constants.ts';
import type { NotifyPayload, Payload } from '../../firmware/src/ike/codec/types.ts';
import { parseConfigText } from '../../firmware/src/config/parse-config.ts';
import { startGateway } from '../../firmware/src/runtime/gateway.ts';
import { createLogger } from '../../firmware/src/runtime/logger.ts';
import { seededRandom } from '../support/seeded-random.ts';
import { mutate, prng } from './mutate.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUN = join(ROOT, 'node_modules', '.bin', 'bun');
const CLI = join(ROOT, 'firmware', 'bin', 'outpost.ts');
const PSK_TEXT = 'gateway-fuzz-psk-2b7d9e41c6a8';
const PSK = new TextEncoder().encode(PSK_TEXT);
const HOST = '127.0.0.1';

export interface GatewayFuzzStats {
  sent: number;
  received: number;
  initiators: number;
  byState: Record<'init' | 'half-open' | 'established' | 'deleted', number>;
  handshakes: { ok: number; failed: number };
  probes: { ok: number; lost: number };
  gatewayErrors: string[];
  seconds: number;
  packetsPerSecond: number;
}

export interface GatewayFuzzResult extends GatewayFuzzStats {
  ok: boolean;
  /** Why the run failed (empty when ok). */
  problems: string[];
  /** The Outpost initiator's connection afterwards. */
  liveness: { ok: boolean; ms: number; detail: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const notify = (notifyType: number, data: Uint8Array = new Uint8Array(0), spi: Uint8Array = new Uint8Array(0), protocolId = 0): NotifyPayload => ({ type: PayloadType.NOTIFY, protocolId, spi, notifyType, data });

// ---------------------------------------------------------------------------------------------------------
// the gateway under test

interface RunningGateway {
  port: number;
  nattPort: number;
  proc: ChildProcess;
  errors: string[];
  exited: Promise<number | null>;
  running(): boolean;
  stop(): Promise<void>;
}

function gatewayYaml(port: number, nattPort: number): string {
  return `listen: [{ address: ${HOST}, port: ${port}, natt_port: ${nattPort} }]
log: { level: ${process.env.FUZZ_GATEWAY_LOG ? 'debug' : 'warn'}, format: json }
dataplane: { backend: mock }
cookie_threshold: 16
half_open_per_source: 100000
retransmit: { timeout: 2s, tries: 2, base: 2 }
pools: [{ name: rw, cidr: 198.18.0.0/16 }]
connections:
  - name: fuzz
    ike_proposals: [aes256gcm16-prfsha256-x25519, aes256-sha256-modp2048]
    local: { id: fuzz-gw.example, auth: psk }
    remote: { id: "%any", auth: psk }
    psk: "${PSK_TEXT}"
    pools: [rw]
    fragment_size: 576
    children:
      - { name: net, local_ts: [198.51.100.0/24], remote_ts: [dynamic], esp_proposals: [aes256gcm16, aes256-sha256-modp2048] }
`;
}

async function startGatewayCli(dir: string): Promise<RunningGateway> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 20000) * 2;
    const nattPort = port + 1;
    const cfg = join(dir, 'gateway.yaml');
    writeFileSync(cfg, gatewayYaml(port, nattPort));
    const proc = spawn(BUN, [CLI, 'gateway', '--config', cfg, '--log-format', 'json'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    const errors: string[] = [];
    let running = true;
    let ready = false;
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => ((running = false), r(code))));
    let buf = '';
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (process.env.FUZZ_GATEWAY_LOG) appendFileSync(process.env.FUZZ_GATEWAY_LOG, `${line}\n`);
        if (/"event":"ready"/.test(line)) ready = true;
        // Anything at error level is a finding: the engine logs its caught exceptions there, the runtime its crashes.
        if (/"level":"error"/.test(line) || /internal error|threw/.test(line)) errors.push(line.slice(0, 2000));
      }
    });
    // At log level warn there is no ready line: an IKE_SA_INIT that gets an answer says the gateway serves.
    const deadline = Date.now() + 20_000;
    while (!ready && running && Date.now() < deadline) {
      ready = await answers(port);
      if (!ready) await sleep(100);
    }
    if (ready) {
      return {
        port,
        nattPort,
        proc,
        errors,
        exited,
        running: () => running,
        stop: async () => {
          if (!running) return;
          proc.kill('SIGTERM');
          await Promise.race([exited, sleep(3000)]);
          if (running) proc.kill('SIGKILL');
          await exited;
        },
      };
    }
    proc.kill('SIGKILL');
    await exited;
  }
  throw new Error('the gateway under test did not start (5 attempts with random ports)');
}

/** Whether something on 127.0.0.1:port answers an IKE_SA_INIT within 200 ms. */
async function answers(port: number): Promise<boolean> {
  const raw = new RawInitiator(createCryptoSuite(), { addr: HOST, port: 0 }, { addr: HOST, port });
  let got = false;
  const sock = (await Bun.udpSocket({ hostname: HOST, socket: { data: () => void (got = true), error: () => {} } })) as unknown as UdpSock;
  try {
    sock.send(raw.initRequest().data, port, HOST);
    for (let i = 0; i < 20 && !got; i++) await sleep(10);
    return got;
  } finally {
    sock.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// the wire

/** The part of Bun's unconnected UDP socket the wire uses. */
interface UdpSock {
  readonly port: number;
  send(data: Uint8Array, port: number, address: string): boolean;
  close(): void;
}

class Wire {
  sent = 0;
  received = 0;
  private ike!: UdpSock;
  private natt!: UdpSock;
  private readonly waiters = new Map<string, (data: Uint8Array) => void>();
  private budgetStart = performance.now();
  private budgetSent = 0;

  constructor(
    readonly port: number,
    readonly nattPort: number,
    private readonly ratePerSec: number,
  ) {}

  async open(): Promise<void> {
    const data = (natt: boolean) => (_s: unknown, buf: Uint8Array) => {
      this.received++;
      let b = new Uint8Array(buf);
      if (natt) {
        if (b.length < 4 || b[0] !== 0 || b[1] !== 0 || b[2] !== 0 || b[3] !== 0) return;
        b = b.subarray(4);
      }
      const h = peekHeader(b);
      if (!h.ok || (h.value.flags & HeaderFlag.RESPONSE) === 0) return;
      const key = `${hex(h.value.spiI)}:${h.value.exchange}:${h.value.messageId}`;
      const w = this.waiters.get(key);
      if (w) {
        this.waiters.delete(key);
        w(b);
      }
    };
    this.ike = (await Bun.udpSocket({ hostname: HOST, socket: { data: data(false), error: () => {} } })) as unknown as UdpSock;
    this.natt = (await Bun.udpSocket({ hostname: HOST, socket: { data: data(true), error: () => {} } })) as unknown as UdpSock;
  }

  get ikePort(): number {
    return this.ike.port;
  }

  get localNattPort(): number {
    return this.natt.port;
  }

  /** Paced: at most ratePerSec on average; yields to the event loop so answers are read. */
  async send(data: Uint8Array, natt: boolean): Promise<void> {
    if (natt) {
      const m = new Uint8Array(data.length + 4);
      m.set(data, 4);
      this.natt.send(m, this.nattPort, HOST);
    } else {
      this.ike.send(data, this.port, HOST);
    }
    this.sent++;
    this.budgetSent++;
    if (this.budgetSent % 32 === 0) {
      const due = (this.budgetSent / this.ratePerSec) * 1000 - (performance.now() - this.budgetStart);
      if (due > 1) await sleep(due);
      else await new Promise((r) => setImmediate(r));
    }
  }

  /** Send and wait for the response with this SPIi, exchange and message ID (retransmitting once). */
  waitedMs = 0;

  async exchange(data: Uint8Array, natt: boolean, spiI: Uint8Array, exchange: number, messageId: number, timeoutMs = 600): Promise<Uint8Array | null> {
    const t0 = performance.now();
    try {
      return await this.exchangeOnce(data, natt, spiI, exchange, messageId, timeoutMs);
    } finally {
      this.waitedMs += performance.now() - t0;
    }
  }

  private async exchangeOnce(data: Uint8Array, natt: boolean, spiI: Uint8Array, exchange: number, messageId: number, timeoutMs: number): Promise<Uint8Array | null> {
    const key = `${hex(spiI)}:${exchange}:${messageId}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      const got = new Promise<Uint8Array | null>((resolve) => {
        const timer = setTimeout(() => {
          this.waiters.delete(key);
          resolve(null);
        }, timeoutMs);
        this.waiters.set(key, (b) => {
          clearTimeout(timer);
          resolve(b);
        });
      });
      await this.send(data, natt);
      const r = await got;
      if (r) return r;
    }
    return null;
  }

  close(): void {
    this.ike.close();
    this.natt.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// one initiator at a time

const IKE_PROPOSAL = {
  num: 1,
  protocolId: ProtocolId.IKE,
  spi: new Uint8Array(8).fill(0x11),
  transforms: [
    { type: TransformType.ENCR, id: EncrId.AES_GCM_16, keyLength: 256 },
    { type: TransformType.PRF, id: PrfId.HMAC_SHA2_256 },
    { type: TransformType.DH, id: DhId.CURVE25519 },
  ],
};

function espProposal(spi: number) {
  return {
    num: 1,
    protocolId: ProtocolId.ESP,
    spi: Uint8Array.of(spi >>> 24, (spi >>> 16) & 0xff, (spi >>> 8) & 0xff, spi & 0xff),
    transforms: [{ type: TransformType.ENCR, id: EncrId.AES_GCM_16, keyLength: 256 }, { type: TransformType.ESN, id: 0 }],
  };
}

const anyTs = { tsType: 7, ipProtocol: 0, startPort: 0, endPort: 65535, startAddr: new Uint8Array(4), endAddr: Uint8Array.of(255, 255, 255, 255) };
const lanTs = { ...anyTs, startAddr: Uint8Array.of(198, 51, 100, 0), endAddr: Uint8Array.of(198, 51, 100, 255) };

/** Inner payload lists of valid requests in the established state; mutants are made from their encodings. */
function establishedTemplates(rand: (n: number) => Uint8Array): { exchange: number; payloads: Payload[]; unanswered?: boolean }[] {
  const spi = () => (((rand(4)[0]! << 24) >>> 0) | 0x100) >>> 0;
  return [
    { exchange: ExchangeType.INFORMATIONAL, payloads: [] },
    { exchange: ExchangeType.INFORMATIONAL, payloads: [notify(Notify.UPDATE_SA_ADDRESSES), notify(Notify.NAT_DETECTION_SOURCE_IP, rand(20)), notify(Notify.NAT_DETECTION_DESTINATION_IP, rand(20)), notify(Notify.COOKIE2, rand(16))] },
    { exchange: ExchangeType.INFORMATIONAL, payloads: [notify(Notify.ADDITIONAL_IP4_ADDRESS, Uint8Array.of(192, 0, 2, 77)), notify(Notify.ADDITIONAL_IP6_ADDRESS, rand(16)), notify(Notify.NO_NATS_ALLOWED, rand(12))] },
    { exchange: ExchangeType.INFORMATIONAL, payloads: [{ type: PayloadType.DELETE, protocolId: ProtocolId.ESP, spis: [rand(4), rand(4)] }] },
    { exchange: ExchangeType.INFORMATIONAL, payloads: [notify(Notify.REDIRECT, Uint8Array.of(1, 4, 192, 0, 2, 9)), notify(Notify.REDIRECTED_FROM, Uint8Array.of(3, 3, 0x61, 0x62, 0x63)), notify(40001, rand(5))] },
    { exchange: ExchangeType.INFORMATIONAL, payloads: [{ type: PayloadType.VENDOR, data: rand(16) }, { type: PayloadType.CP, cfgType: 1, attributes: [{ type: 1, value: new Uint8Array(0) }] }] },
    { exchange: ExchangeType.CREATE_CHILD_SA, payloads: [{ type: PayloadType.SA, proposals: [espProposal(spi())] }, { type: PayloadType.NONCE, data: rand(32) }, { type: PayloadType.TSi, selectors: [anyTs] }, { type: PayloadType.TSr, selectors: [lanTs] }] },
    {
      exchange: ExchangeType.CREATE_CHILD_SA,
      payloads: [notify(Notify.REKEY_SA, new Uint8Array(0), rand(4), ProtocolId.ESP), { type: PayloadType.SA, proposals: [espProposal(spi())] }, { type: PayloadType.NONCE, data: rand(32) }, { type: PayloadType.TSi, selectors: [anyTs] }, { type: PayloadType.TSr, selectors: [lanTs] }],
    },
    { exchange: ExchangeType.CREATE_CHILD_SA, payloads: [{ type: PayloadType.SA, proposals: [{ ...IKE_PROPOSAL, spi: rand(8) }] }, { type: PayloadType.NONCE, data: rand(32) }, { type: PayloadType.KE, dhGroup: DhId.CURVE25519, data: rand(32) }] },
    // Not answered once established (dropped as an unexpected exchange): sent without using up a message ID.
    { exchange: ExchangeType.IKE_AUTH, payloads: [{ type: PayloadType.IDi, idType: 2, data: new TextEncoder().encode('again.example') }], unanswered: true },
  ];
}

export class Fuzzer {
  readonly stats: GatewayFuzzStats = {
    sent: 0,
    received: 0,
    initiators: 0,
    byState: { init: 0, 'half-open': 0, established: 0, deleted: 0 },
    handshakes: { ok: 0, failed: 0 },
    probes: { ok: 0, lost: 0 },
    gatewayErrors: [],
    seconds: 0,
    packetsPerSecond: 0,
  };
  private readonly rnd: () => number;
  private corpus: Uint8Array[] = [];

  constructor(
    private readonly wire: Pick<Wire, 'send' | 'exchange' | 'sent' | 'ikePort' | 'port'>,
    private readonly seed: number,
    private readonly budget: number,
  ) {
    this.rnd = prng(seed);
  }

  private int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  private chance(p: number): boolean {
    return this.rnd() < p;
  }

  private remaining(): number {
    return this.budget - this.wire.sent;
  }

  private async put(state: keyof GatewayFuzzStats['byState'], data: Uint8Array, natt = this.chance(0.3)): Promise<void> {
    this.stats.byState[state]++;
    if (this.corpus.length < 64) this.corpus.push(data);
    else this.corpus[this.int(64)] = data;
    await this.wire.send(data, natt);
  }

  private mutant(data: Uint8Array): Uint8Array {
    const other = this.corpus.length > 0 ? this.corpus[this.int(this.corpus.length)]! : data;
    return mutate(data, other, this.rnd);
  }

  async run(): Promise<void> {
    for (let k = 0; this.remaining() > 0; k++) {
      this.stats.initiators++;
      await this.initiator(k);
    }
  }

  private async initiator(k: number): Promise<void> {
    const rand = seededRandom(`gwfuzz-${this.seed}-${k}`);
    const crypto = createCryptoSuite({ randomBytes: rand });
    const raw = new RawInitiator(crypto, { addr: HOST, port: this.wire.ikePort }, { addr: HOST, port: this.wire.port });
    const extra: Payload[] = [
      notify(Notify.NAT_DETECTION_SOURCE_IP, rand(20)),
      notify(Notify.NAT_DETECTION_DESTINATION_IP, rand(20)),
      notify(Notify.IKEV2_FRAGMENTATION_SUPPORTED),
      notify(Notify.SIGNATURE_HASH_ALGORITHMS, Uint8Array.of(0, 2, 0, 3, 0, 4)),
      notify(this.chance(0.8) ? Notify.REDIRECT_SUPPORTED : Notify.REDIRECTED_FROM, this.chance(0.5) ? new Uint8Array(0) : Uint8Array.of(1, 4, 192, 0, 2, 8)),
    ];

    // -- init (mutants under other SPIs: one that parses would otherwise make the valid request a duplicate)
    const otherSpi = (m: Uint8Array) => {
      if (m.length >= 8) m.set(rand(8), 0);
      return m;
    };
    let init = raw.initRequest({ extra }).data;
    for (let i = 0, n = 10 + this.int(30); i < n && this.remaining() > 0; i++) await this.put('init', otherSpi(this.mutant(init)));
    if (this.remaining() <= 0) return;
    // Let the answers to the mutants (same SPIi) pass before waiting for the one to the valid request.
    await sleep(5);
    let resp = await this.wire.exchange(init, false, raw.spiI, ExchangeType.IKE_SA_INIT, 0);
    for (let round = 0; round < 3 && resp && cookieOf(resp); round++) {
      const withCookie = raw.initRequest({ cookie: cookieOf(resp)!, extra }).data;
      if (round === 0) for (let i = 0, n = 5 + this.int(10); i < n && this.remaining() > 0; i++) await this.put('init', otherSpi(this.mutant(withCookie)));
      await sleep(5);
      init = withCookie;
      resp = await this.wire.exchange(init, false, raw.spiI, ExchangeType.IKE_SA_INIT, 0);
    }
    if (!resp || cookieOf(resp)) {
      if (process.env.FUZZ_DEBUG) console.error('init failed', resp ? 'cookie loop' : 'timeout');
      this.stats.handshakes.failed++;
      return;
    }
    try {
      raw.handleInitResponse(resp);
    } catch {
      this.stats.handshakes.failed++;
      return;
    }

    // -- half-open: IKE_AUTH mutants that keep the SA alive (bad ICV, other message IDs, odd exchanges)
    const childPayloads: Payload[] = [
      { type: PayloadType.CP, cfgType: 1, attributes: [{ type: 1, value: new Uint8Array(0) }] },
      { type: PayloadType.SA, proposals: [espProposal(0x1000 + k)] },
      { type: PayloadType.TSi, selectors: [anyTs] },
      { type: PayloadType.TSr, selectors: [lanTs] },
      notify(Notify.MOBIKE_SUPPORTED),
      notify(Notify.INITIAL_CONTACT),
    ];
    const authInner = [...raw.authPayloads(PSK, `fuzz-${k}.example`), ...childPayloads];
    const authSealed = raw.request(ExchangeType.IKE_AUTH, authInner, 1);
    for (let i = 0, n = 10 + this.int(40); i < n && this.remaining() > 0; i++) {
      const pick = this.int(5);
      if (pick <= 1) await this.put('half-open', this.mutant(authSealed.data), true);
      else if (pick === 2) await this.put('half-open', raw.request(ExchangeType.IKE_AUTH, authInner, 2 + this.int(5)).data, true);
      else if (pick === 3) {
        const frags = raw.requestFragments(ExchangeType.IKE_AUTH, [...authInner, { type: PayloadType.CERTREQ, encoding: CertEncoding.X509_CERT_SIG, data: rand(20 * (1 + this.int(40))) }], 300, 1);
        const f = frags[this.int(frags.length)]!;
        await this.put('half-open', this.chance(0.5) ? this.mutant(f.data) : f.data, true);
      } else await this.put('half-open', raw.request([ExchangeType.INFORMATIONAL, ExchangeType.CREATE_CHILD_SA, 0, 255][this.int(4)]!, [], 1 + this.int(3)).data, true);
    }
    if (this.remaining() <= 0) return;
    if (this.chance(0.15)) {
      // An IKE_AUTH with a valid ICV around mangled payloads: answered with an error, the SA goes.
      const { first, bytes } = encodePayloads(authInner);
      await this.put('half-open', raw.requestRaw(ExchangeType.IKE_AUTH, first, this.mutant(bytes), 1).data, true);
      return;
    }
    raw.nextMsgId = 1;
    const authResp = await this.wire.exchange(raw.request(ExchangeType.IKE_AUTH, authInner).data, true, raw.spiI, ExchangeType.IKE_AUTH, 1);
    let established = false;
    if (authResp) {
      try {
        established = raw.open(authResp).payloads.some((p) => p.type === PayloadType.AUTH);
      } catch {
        established = false;
      }
    }
    if (!established) {
      if (process.env.FUZZ_DEBUG) console.error('auth failed', authResp ? `no AUTH in response: ${(() => { try { return JSON.stringify(raw.open(authResp).payloads.map((p) => (p as NotifyPayload).notifyType ?? p.type)); } catch (e) { return String(e); } })()}` : 'timeout');
      this.stats.handshakes.failed++;
      return;
    }
    this.stats.handshakes.ok++;

    // -- established
    const templates = establishedTemplates(rand);
    for (let i = 0, n = 100 + this.int(500); i < n && this.remaining() > 0; i++) {
      if (i > 0 && i % 40 === 0) {
        // A mutant may have deleted or rekeyed the SA (valid ICV, plausible payloads): check it still answers.
        const id = raw.nextMsgId;
        const probe = await this.wire.exchange(raw.request(ExchangeType.INFORMATIONAL, []).data, true, raw.spiI, ExchangeType.INFORMATIONAL, id, 250);
        if (probe) this.stats.probes.ok++;
        else {
          this.stats.probes.lost++;
          break; // out of step or deleted by a mutant: the next initiator
        }
      }
      const t = templates[this.int(templates.length)]!;
      const r = this.rnd();
      if (t.unanswered) {
        const { first, bytes } = encodePayloads(t.payloads);
        await this.put('established', this.chance(0.5) ? raw.request(t.exchange, t.payloads, raw.nextMsgId).data : raw.requestRaw(t.exchange, first, this.mutant(bytes), raw.nextMsgId).data, true);
      } else if (r < 0.55) {
        const { first, bytes } = encodePayloads(t.payloads);
        await this.put('established', raw.requestRaw(t.exchange, this.chance(0.9) ? first : this.int(256), this.mutant(bytes)).data, true);
      } else if (r < 0.7) {
        await this.put('established', raw.request(t.exchange, t.payloads).data, true);
      } else if (r < 0.82) {
        await this.put('established', this.mutant(raw.request(t.exchange, t.payloads, raw.nextMsgId).data), true);
      } else if (r < 0.88) {
        await this.put('established', raw.request(t.exchange, t.payloads, this.int(0x10000)).data, true);
      } else if (r < 0.94) {
        // A fragment's mutant fails its ICV; the original follows, so the message (and the message IDs) complete.
        const frags = raw.requestFragments(t.exchange, [...t.payloads, { type: PayloadType.VENDOR, data: rand(this.int(3000)) }], 300 + this.int(400));
        for (const f of frags) {
          if (this.chance(0.1)) await this.put('established', this.mutant(f.data), true);
          await this.put('established', f.data, true);
        }
      } else {
        await this.put('established', raw.response(t.exchange, t.payloads, this.int(4)).data, true);
      }
    }
    if (this.remaining() <= 0) return;

    // -- deleted
    await this.put('deleted', raw.request(ExchangeType.INFORMATIONAL, [{ type: PayloadType.DELETE, protocolId: ProtocolId.IKE, spis: [] }]).data, true);
    const last = raw.request(ExchangeType.INFORMATIONAL, [], raw.nextMsgId);
    for (let i = 0, n = 5 + this.int(15); i < n && this.remaining() > 0; i++) await this.put('deleted', this.chance(0.5) ? this.mutant(last.data) : last.data, true);
  }
}

function cookieOf(resp: Uint8Array): Uint8Array | null {
  const dec = decodeMessage(resp);
  if (!dec.ok) return null;
  const n = dec.value.payloads.find((p) => p.type === PayloadType.NOTIFY && (p as NotifyPayload).notifyType === Notify.COOKIE) as NotifyPayload | undefined;
  return n ? n.data : null;
}

// ---------------------------------------------------------------------------------------------------------
// liveness: an Outpost initiator (the real runtime, in this process) connects afterwards

async function outpostInitiatorConnects(port: number): Promise<{ ok: boolean; ms: number; detail: string }> {
  const myPort = port + 1000 + Math.floor(Math.random() * 1000) * 2;
  const yaml = `listen: [{ address: 127.0.0.2, port: ${myPort}, natt_port: ${myPort + 1} }]
log: { level: warn, format: json }
dataplane: { backend: mock }
connections:
  - name: probe
    remote_addrs: [${HOST}]
    remote_port: ${port}
    vips: [0.0.0.0]
    ike_proposals: [aes256gcm16-prfsha256-x25519]
    local: { id: fuzz-probe.example, auth: psk }
    remote: { id: fuzz-gw.example, auth: psk }
    psk: "${PSK_TEXT}"
    children: [{ name: net, remote_ts: [198.51.100.0/24], local_ts: [dynamic], start_action: start }]
`;
  const parsed = parseConfigText(yaml, ROOT, 'probe.yaml');
  if (!parsed.ok) return { ok: false, ms: 0, detail: parsed.errors.join('; ') };
  const lines: string[] = [];
  const t0 = performance.now();
  const gw = await startGateway(parsed.config, { logger: createLogger({ level: 'warn', format: 'json', write: (l) => lines.push(l) }), stopGraceMs: 500 });
  try {
    for (;;) {
      const sa = gw.engine.listSas().find((s) => s.state === 'established' && s.children.length > 0);
      if (sa) return { ok: true, ms: Math.round(performance.now() - t0), detail: `IKE_SA ${sa.spiI}/${sa.spiR} with CHILD_SA ${sa.children[0]!.spiOut.toString(16)}` };
      if (performance.now() - t0 > 15_000) return { ok: false, ms: Math.round(performance.now() - t0), detail: `no SA after 15 s: ${lines.slice(-5).join(' | ')}` };
      await sleep(50);
    }
  } finally {
    await gw.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------

/** The whole run: gateway CLI up, `packets` fuzz packets, liveness check, gateway down. */
export async function fuzzGateway(opts: { packets: number; seed?: number; ratePerSec?: number; progress?: (s: GatewayFuzzStats) => void }): Promise<GatewayFuzzResult> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-gwfuzz-'));
  let gw: RunningGateway;
  try {
    gw = await startGatewayCli(dir);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const wire = new Wire(gw.port, gw.nattPort, opts.ratePerSec ?? 15_000);
  await wire.open();
  const fuzzer = new Fuzzer(wire, opts.seed ?? 1, opts.packets);
  const t0 = performance.now();
  const ticker = opts.progress ? setInterval(() => opts.progress!({ ...fuzzer.stats, sent: wire.sent, received: wire.received }), 10_000) : undefined;
  const problems: string[] = [];
  try {
    await fuzzer.run();
  } catch (e) {
    problems.push(`the fuzzer itself failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  } finally {
    if (ticker) clearInterval(ticker);
  }
  const seconds = (performance.now() - t0) / 1000;
  if (process.env.FUZZ_DEBUG) console.error(`waited for answers ${(wire.waitedMs / 1000).toFixed(1)} s of ${seconds.toFixed(1)} s`);
  await sleep(500);
  const stillRunning = gw.running();
  const liveness = stillRunning ? await outpostInitiatorConnects(gw.port) : { ok: false, ms: 0, detail: 'the gateway is not running' };
  wire.close();
  const errors = [...gw.errors];
  await gw.stop();
  rmSync(dir, { recursive: true, force: true });
  if (!stillRunning) problems.push(`the gateway exited during the fuzz run (code ${await gw.exited})`);
  if (errors.length > 0) problems.push(`${errors.length} error line(s) from the gateway, first: ${errors[0]}`);
  if (!liveness.ok) problems.push(`an Outpost initiator could not connect afterwards: ${liveness.detail}`);
  if (fuzzer.stats.handshakes.ok === 0) problems.push('no initiator reached the established state: the fuzz stayed shallow');
  const stats: GatewayFuzzStats = { ...fuzzer.stats, sent: wire.sent, received: wire.received, gatewayErrors: errors, seconds: Number(seconds.toFixed(1)), packetsPerSecond: Math.round(wire.sent / seconds) };
  return { ...stats, ok: problems.length === 0, problems, liveness };
}
