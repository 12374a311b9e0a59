// Test-only ready-made engine pairs: a client (a, initiator) and a gateway (b, responder), PSK or certificates.
import type { ConnectionConfig, GatewayConfig } from '../../config/types.ts';
import { Pair, T0 } from './pair.ts';
import type { EngineOptions } from '../engine.ts';
import { CLIENT_ADDR, GW_ADDR, child, clientConn, conn, gateway } from './config.ts';
import { makeTestPki, type TestCert, type TestKeyType, type TestPki } from '../../../../test/support/certs.ts';

export interface PairOverrides {
  gw?: Partial<ConnectionConfig>;
  client?: Partial<ConnectionConfig>;
  gwCfg?: Partial<GatewayConfig>;
  clientCfg?: Partial<GatewayConfig>;
  natAddr?: string;
  seed?: string;
  engineA?: Partial<EngineOptions>;
  engineB?: Partial<EngineOptions>;
}

export function pskPair(over: PairOverrides = {}): Pair {
  return new Pair({
    a: gateway(CLIENT_ADDR, [clientConn(over.client)], over.clientCfg),
    b: gateway(GW_ADDR, [conn(over.gw)], over.gwCfg),
    aAddr: CLIENT_ADDR,
    bAddr: GW_ADDR,
    ...(over.natAddr ? { natAddr: over.natAddr } : {}),
    ...(over.engineA ? { engineA: over.engineA } : {}),
    ...(over.engineB ? { engineB: over.engineB } : {}),
    seed: over.seed ?? 'psk',
  });
}

/** The test PKI valid at T0 (built once per process). */
export function testPki(): TestPki {
  return makeTestPki({ nowMs: T0 });
}

/** Certificates on both sides: the gateway cert `gwCert`, the client cert `clientCert`, both from the test CA. */
export function certPair(
  keyType: TestKeyType,
  over: PairOverrides & { gwCert?: TestCert; clientCert?: TestCert; clientTrusts?: TestCert[]; gwTrusts?: TestCert[] } = {},
): Pair {
  const pki = testPki();
  const gwCert = over.gwCert ?? pki.gw[keyType];
  const clientCert = over.clientCert ?? pki.client[keyType];
  const cas = (list: TestCert[]) => list.map((c, i) => ({ name: `ca${i}`, certDer: c.der }));
  const gw = conn({
    local: { id: 'fqdn:gw.outpost.test', auth: 'pubkey', certChain: [gwCert.der], privateKey: gwCert.keyDer },
    remote: { id: '%any', auth: 'pubkey', cas: [] },
    ...over.gw,
  });
  const client = clientConn({
    local: { id: 'fqdn:client.outpost.test', auth: 'pubkey', certChain: [clientCert.der], privateKey: clientCert.keyDer },
    remote: { id: 'fqdn:gw.outpost.test', auth: 'pubkey', cas: [] },
    children: [child({ localTs: ['dynamic'], remoteTs: ['198.51.100.0/24'] })],
    ...over.client,
  });
  return new Pair({
    a: gateway(CLIENT_ADDR, [client], { cas: cas(over.clientTrusts ?? [pki.ca]), ...over.clientCfg }),
    b: gateway(GW_ADDR, [gw], { cas: cas(over.gwTrusts ?? [pki.ca]), ...over.gwCfg }),
    aAddr: CLIENT_ADDR,
    bAddr: GW_ADDR,
    ...(over.natAddr ? { natAddr: over.natAddr } : {}),
    seed: over.seed ?? `cert-${keyType}`,
  });
}
