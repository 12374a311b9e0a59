// Test-only config builders for engine tests: a gateway (responder) and a client (initiator) in RFC 5737 ranges.
import type { ChildConfig, ConnectionConfig, GatewayConfig } from '../../config/types.ts';

export const GW_ADDR = '192.0.2.1';
export const CLIENT_ADDR = '192.0.2.2';
export const PSK = new TextEncoder().encode('correct horse battery staple');

export function child(over: Partial<ChildConfig> = {}): ChildConfig {
  return {
    name: 'net',
    localTs: ['198.51.100.0/24'],
    remoteTs: ['dynamic'],
    espProposals: ['aes256gcm16', 'aes128-sha256'],
    lifetimeSec: 3600,
    rekeySec: 3000,
    replayWindow: 64,
    startAction: 'none',
    ...over,
  };
}

export function conn(over: Partial<ConnectionConfig> = {}): ConnectionConfig {
  return {
    name: 'rw',
    remoteAddrs: [],
    remotePort: 500,
    localAddrs: [],
    ikeProposals: ['aes256gcm16-prfsha256-x25519', 'aes256-sha256-modp2048'],
    legacy: false,
    local: { id: 'fqdn:gw.outpost.test', auth: 'psk' },
    remote: { id: '%any', auth: 'psk', cas: [] },
    psk: PSK,
    pools: [],
    children: [child()],
    ikeLifetimeSec: 36000,
    ikeRekeySec: 32400,
    dpdDelaySec: 0,
    encapsulation: false,
    mobike: false,
    fragmentation: true,
    fragmentSize: 1280,
    sendCertReq: true,
    ...over,
  };
}

export function gateway(addr: string, connections: ConnectionConfig[], over: Partial<GatewayConfig> = {}): GatewayConfig {
  return {
    listen: [{ address: addr, port: 500, nattPort: 4500 }],
    log: { level: 'debug', format: 'text' },
    dataplane: { backend: 'mock', offload: 'none' },
    cookieThreshold: 1000,
    halfOpenPerSource: 100,
    retransmit: { timeoutMs: 1000, tries: 3, base: 2 },
    pools: [],
    cas: [],
    connections,
    ...over,
  };
}

/** A client connection to the gateway mirroring `conn()` (site-to-site style: selectors from config). */
export function clientConn(over: Partial<ConnectionConfig> = {}): ConnectionConfig {
  return conn({
    name: 'to-gw',
    remoteAddrs: [GW_ADDR],
    local: { id: 'fqdn:client.outpost.test', auth: 'psk' },
    remote: { id: 'fqdn:gw.outpost.test', auth: 'psk', cas: [] },
    children: [child({ name: 'net', localTs: ['dynamic'], remoteTs: ['198.51.100.0/24'] })],
    ...over,
  });
}
