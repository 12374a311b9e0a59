// The one narrow data-plane interface (ARCHITECTURE.md §4, after strongSwan's kernel_ipsec); backends: mock, userspace, xfrm.

export interface Endpoint {
  addr: string; // textual IPv4 or IPv6
  port: number;
}

/** One direction of an ESP SA in tunnel mode (RFC 4303), optionally UDP-encapsulated (RFC 3948). */
export interface SaParams {
  childId: string; // engine's id of the CHILD_SA, shared by both directions
  direction: 'in' | 'out';
  spi: number; // host order, 32 bit, as in the ESP header
  src: string; // outer addresses
  dst: string;
  encap?: { srcPort: number; dstPort: number }; // ESP-in-UDP when NAT was detected (or forced)
  encrId: number; // EncrId
  encrKeyBits?: number;
  encKey: Uint8Array; // incl. salt for AEAD
  integId: number; // IntegId (NONE for AEAD)
  integKey: Uint8Array;
  esn: boolean;
  replayWindow: number; // packets, inbound only
  lifetime: { softSec: number; hardSec: number; softBytes?: number; hardBytes?: number; softPackets?: number; hardPackets?: number };
  localTs: TsRange[]; // what this SA may carry
  remoteTs: TsRange[];
}

/** A traffic selector as the data plane sees it. */
export interface TsRange {
  startAddr: string;
  endAddr: string;
  ipProtocol: number;
  startPort: number;
  endPort: number;
}

export interface PolicyParams {
  childId: string;
  direction: 'in' | 'out' | 'fwd';
  localTs: TsRange;
  remoteTs: TsRange;
  outerSrc: string;
  outerDst: string;
  spi?: number;
}

export interface SaCounters {
  bytes: number;
  packets: number;
  lastUsedMs: number | null;
}

export interface DataplaneFeatures {
  backend: 'mock' | 'userspace' | 'xfrm';
  offload: 'none' | 'crypto' | 'packet';
  esn: boolean;
  udpEncap: boolean;
}

export type DataplaneEvent =
  | { type: 'expire'; kind: 'soft' | 'hard'; spi: number; direction: 'in' | 'out'; childId: string }
  | { type: 'acquire'; localTs: TsRange; remoteTs: TsRange }
  | { type: 'mapping'; spi: number; newRemote: Endpoint };

export interface Dataplane {
  features(): DataplaneFeatures;
  allocSpi(): Promise<number>;
  addSa(sa: SaParams): Promise<void>;
  updateSa(spi: number, direction: 'in' | 'out', change: { src?: string; dst?: string; encap?: SaParams['encap'] }): Promise<void>;
  querySa(spi: number, direction: 'in' | 'out'): Promise<SaCounters | null>;
  delSa(spi: number, direction: 'in' | 'out'): Promise<void>;
  addPolicy(p: PolicyParams): Promise<void>;
  delPolicy(p: PolicyParams): Promise<void>;
  onEvent(listener: (e: DataplaneEvent) => void): void;
  close(): Promise<void>;
}
