// The `make bench` gateway's configuration (RFC 7296 responder, one `bench` connection), the driver's job against it, shared knobs.
import type { ConnectionConfig, GatewayConfig } from '../../firmware/src/config/types.ts';
import type { DriverJob } from './handshake-driver.ts';

export const IKE = 'aes256gcm16-prfsha256-x25519';
export const ESP = 'aes256gcm16';
export const GW_FQDN = 'gw.bench.example';
export const BENCH_PSK = new TextEncoder().encode('bench pre-shared key, long enough for strongSwan');

/** `--name VALUE` from the command line, or `def`. */
export function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

/** The benchmark gateway's configuration (what handshakes.ts writes as YAML), for in-process use. */
export function benchGatewayConfig(o: {
  addr: string;
  auth: 'pubkey' | 'psk';
  caDer: Uint8Array;
  gwCertDer: Uint8Array;
  gwKeyDer: Uint8Array;
  logLevel: 'info' | 'warn';
}): GatewayConfig {
  const conn: ConnectionConfig = {
    name: 'bench',
    remoteAddrs: [],
    remotePort: 500,
    localAddrs: [],
    ikeProposals: [IKE],
    legacy: false,
    local: o.auth === 'pubkey' ? { id: `fqdn:${GW_FQDN}`, auth: 'pubkey', certChain: [o.gwCertDer], privateKey: o.gwKeyDer } : { id: `fqdn:${GW_FQDN}`, auth: 'psk' },
    remote: { id: '%any', auth: o.auth, cas: o.auth === 'pubkey' ? ['bench'] : [] },
    ...(o.auth === 'psk' ? { psk: BENCH_PSK } : {}),
    pools: [],
    children: [{ name: 'net', localTs: ['198.51.100.0/24'], remoteTs: ['203.0.113.0/24'], espProposals: [ESP], lifetimeSec: 3600, rekeySec: 3000, replayWindow: 64, startAction: 'none' }],
    ikeLifetimeSec: 36_000,
    ikeRekeySec: 32_400,
    dpdDelaySec: 0,
    encapsulation: false,
    mobike: true,
    fragmentation: true,
    fragmentSize: 1280,
    sendCertReq: true,
  };
  return {
    listen: [{ address: o.addr, port: 500, nattPort: 4500 }],
    log: { level: o.logLevel, format: 'json' },
    dataplane: { backend: 'mock', offload: 'none' },
    cookieThreshold: 1_000_000,
    halfOpenPerSource: 1_000_000,
    retransmit: { timeoutMs: 4000, tries: 5, base: 1.8 },
    pools: [],
    cas: [{ name: 'bench', certDer: o.caDer }],
    connections: [conn],
  };
}

/** The load generator's job against that gateway (handshake-driver.ts): its LAN and ours swapped, the gateway's FQDN and CA. */
export function benchDriverJob(o: {
  localAddr: string;
  remoteAddr: string;
  auth: 'pubkey' | 'psk';
  caDer: Uint8Array;
  identities: DriverJob['identities'];
  window: number;
  timeoutMs: number;
}): DriverJob {
  return {
    localAddr: o.localAddr,
    remoteAddr: o.remoteAddr,
    ikeProposal: IKE,
    espProposal: ESP,
    localTs: ['203.0.113.0/24'],
    remoteTs: ['198.51.100.0/24'],
    remoteId: `fqdn:${GW_FQDN}`,
    caDerHex: Buffer.from(o.caDer).toString('hex'),
    auth: o.auth,
    pskHex: Buffer.from(BENCH_PSK).toString('hex'),
    identities: o.identities,
    window: o.window,
    timeoutMs: o.timeoutMs,
  };
}
