// Gateway configuration: the validated, resolved form the engine and runtime consume (file format: docs/config.md).

/**
 * An IKE identity as written in config: `fqdn:vpn.example.com`, `email:alice@example.com`, `ipv4:192.0.2.1`,
 * `ipv6:2001:db8::1`, `dn:CN=gw, O=Example`, `keyid:hex…`, or a bare value whose type is inferred
 * (IP → ipv4/ipv6, contains '@' → email, contains '=' → dn, else fqdn). `%any` matches every peer identity.
 */
export type IdentitySpec = string;

/** strongSwan-style proposal string, e.g. `aes256gcm16-prfsha256-x25519` (IKE) or `aes256gcm16-x25519` (ESP). */
export type ProposalSpec = string;

export interface LocalAuthConfig {
  id: IdentitySpec;
  auth: 'psk' | 'pubkey';
  /** pubkey: the end-entity certificate (DER) followed by intermediates to always send. */
  certChain?: Uint8Array[];
  /** pubkey: PKCS#8 DER private key. */
  privateKey?: Uint8Array;
}

export interface RemoteAuthConfig {
  id: IdentitySpec; // '%any' to accept any authenticated identity
  auth: 'psk' | 'pubkey';
  /** pubkey: names of trusted CAs from GatewayConfig.cas; empty = every configured CA. */
  cas: string[];
}

export interface ChildConfig {
  name: string;
  localTs: string[]; // CIDR[/proto[/port]] strings, e.g. `198.51.100.0/24`, `0.0.0.0/0`, `::/0`
  remoteTs: string[]; // `dynamic` = the peer's virtual IP or outer address
  espProposals: ProposalSpec[]; // with a DH group = PFS required; several may be listed
  lifetimeSec: number;
  rekeySec: number;
  /** Volume limits per SA direction, enforced by the data plane: rekey (soft) and delete (hard); absent = none. */
  rekeyBytes?: number;
  lifeBytes?: number;
  rekeyPackets?: number;
  lifePackets?: number;
  replayWindow: number;
  startAction: 'none' | 'start'; // initiator: bring up at start
}

export interface ConnectionConfig {
  name: string;
  /** Remote peer address(es) to initiate to; empty for a responder-only connection. */
  remoteAddrs: string[];
  remotePort: number;
  /** Local addresses this connection applies to; empty = any. */
  localAddrs: string[];
  ikeProposals: ProposalSpec[];
  /** Permit legacy algorithms (SHA-1, MODP < 2048 …) in this connection's proposals; off by default. */
  legacy: boolean;
  local: LocalAuthConfig;
  remote: RemoteAuthConfig;
  /** PSK secret (octets) when either side uses psk. */
  psk?: Uint8Array;
  /** Virtual IP pools (names from GatewayConfig.pools) handed out via CP. */
  pools: string[];
  /**
   * Initiator: virtual IPs to request via CP (RFC 7296 §2.19): `0.0.0.0` / `::` = any from the responder's pool,
   * or a specific address to ask for. Absent or empty = request none (site-to-site).
   */
  vips?: string[];
  children: ChildConfig[];
  ikeLifetimeSec: number;
  ikeRekeySec: number;
  dpdDelaySec: number; // 0 = off
  /**
   * Give up on a liveness check after this long, even if retransmits remain (RFC 7296 §2.4); absent or 0 =
   * when the retransmits run out.
   */
  dpdTimeoutSec?: number;
  /**
   * When the peer stops answering (DPD or any retransmitted request): `clear` removes the SAs, `restart`
   * re-initiates the connection with its CHILD_SAs, `hold` removes them and re-initiates on matching traffic
   * (a data-plane acquire). Default: `restart` for connections that initiate (remoteAddrs set), else `clear`.
   */
  dpdAction?: 'clear' | 'restart' | 'hold';
  /** At ikeRekeySec, reauthenticate (new IKE_SA_INIT/IKE_AUTH, then delete the old SA) instead of rekeying; initiators only. */
  ikeReauth?: boolean;
  encapsulation: boolean; // force UDP encapsulation even without NAT
  mobike: boolean;
  fragmentation: boolean;
  /** Maximum IKE message size before fragmenting (RFC 7383), IP packet size. */
  fragmentSize: number;
  /** Send CERTREQ for our CAs; send our certificate always (many clients send no CERTREQ). */
  sendCertReq: boolean;
  /**
   * RFC 5685: send peers of this connection to these gateways (IP addresses or DNS names) at IKE_SA_INIT, when every
   * connection matching the peer's address says so; absent or empty = serve them here.
   */
  redirectTo?: string[];
}

export interface PoolConfig {
  name: string;
  cidr: string; // IPv4 or IPv6 range, network/prefix
  dns: string[];
  domains: string[];
}

export interface CaConfig {
  name: string;
  certDer: Uint8Array;
}

export interface ListenConfig {
  address: string; // '0.0.0.0', '::' or a specific address
  port: number; // 500
  nattPort: number; // 4500
}

export interface GatewayConfig {
  listen: ListenConfig[];
  log: { level: 'debug' | 'info' | 'warn' | 'error'; format: 'text' | 'json' };
  dataplane: {
    backend: 'auto' | 'mock' | 'userspace' | 'xfrm';
    offload: 'none' | 'crypto' | 'packet' | 'auto';
    /** userspace: TUN device name (default outpost0), its MTU (default 1400), the outer path MTU (default 1500). */
    tunName?: string;
    mtu?: number;
    pathMtu?: number;
  };
  /** Half-open IKE SAs above which IKE_SA_INIT requires a cookie (RFC 7296 §2.6). */
  cookieThreshold: number;
  /** Half-open IKE SAs allowed per source address. */
  halfOpenPerSource: number;
  /**
   * RFC 5685 redirect at IKE_SA_INIT: the other gateways of the fleet (IP addresses or DNS names). Alone, every new
   * client that supports redirects is sent there; with maxSessions, only those beyond it.
   */
  redirectTo?: string[];
  /** IKE SAs this gateway serves at most; beyond, new clients are redirected (redirectTo) or refused. 0/absent = no limit. */
  maxSessions?: number;
  retransmit: { timeoutMs: number; tries: number; base: number };
  pools: PoolConfig[];
  cas: CaConfig[];
  connections: ConnectionConfig[];
}
