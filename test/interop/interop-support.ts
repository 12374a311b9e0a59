// Shared setup for the interop suites: skip reason, and the PSK road-warrior pair (RFC 7296 §2.15 PSK auth, §3.15 virtual IP).
//
// Both ends use AES-GCM-256 with X25519; the gateway hands out a virtual IP from pool `rw` (ADDR.vipNet) and the
// child `net` carries ADDR.innerNet ↔ that address.
import { ADDR, netnsSkipReason } from '../support/netns.ts';
import { ensureStrongswan, type SwanSection } from '../support/strongswan.ts';
import type { GatewaySpec, GwConn } from './gateway-under-test.ts';

const IKE = 'aes256gcm16-prfsha256-x25519';
const ESP = 'aes256gcm16';

/** Why the interop suites cannot run here (no root / netns, no strongSwan), or undefined; warns once when strongSwan is the reason. */
export function interopSkipReason(): string | undefined {
  return (
    netnsSkipReason() ??
    (() => {
      const s = ensureStrongswan();
      if (!s.ok) console.warn(`[interop] skipped: ${s.reason}`);
      return s.ok ? undefined : s.reason;
    })()
  );
}

/** A gateway connection for one PSK client: its virtual IP from pool `rw`, child `net` to ADDR.innerNet. */
export function pskRoadWarriorConn(name: string, localId: string, remoteId: string, psk: string): GwConn {
  return {
    name,
    localId,
    localAuth: 'psk',
    remoteId,
    remoteAuth: 'psk',
    psk,
    ikeProposals: [IKE],
    pools: ['rw'],
    children: [{ name: 'net', localTs: [ADDR.innerNet], remoteTs: ['dynamic'], espProposals: [ESP] }],
  };
}

/** The gateway around such connections: pool `rw` on ADDR.vipNet, no CAs. */
export function pskRoadWarriorSpec(conns: GwConn[]): GatewaySpec {
  return { pools: [{ name: 'rw', cidr: ADDR.vipNet }], cas: [], conns };
}

/** swanctl config for the matching client: IKE SA `ike` to ADDR.gwOuter asking for a virtual IP, child `net`. */
export function pskRoadWarriorClient(p: { ike: string; localId: string; remoteId: string; psk: string; mobike?: boolean }): {
  connections: SwanSection;
  secrets: SwanSection;
} {
  return {
    connections: {
      [p.ike]: {
        version: 2,
        remote_addrs: ADDR.gwOuter,
        vips: '0.0.0.0',
        ...(p.mobike === undefined ? {} : { mobike: p.mobike }),
        proposals: IKE,
        local: { auth: 'psk', id: p.localId },
        remote: { auth: 'psk', id: p.remoteId },
        children: { net: { remote_ts: ADDR.innerNet, esp_proposals: ESP } },
      },
    },
    secrets: { 'ike-1': { id: p.localId, id_gw: p.remoteId, secret: p.psk } },
  };
}
