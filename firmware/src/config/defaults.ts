// Defaults for everything a config file may leave out (docs/config.md lists them; RFC 7296 §2.4 for DPD/retransmit).
import type { ListenConfig } from './types.ts';

/** Modern suites first; the last IKE entry keeps CBC+HMAC/MODP-2048 for older Windows and Android clients. */
export const DEFAULT_IKE_PROPOSALS = [
  'aes256gcm16-prfsha256-x25519',
  'aes128gcm16-prfsha256-ecp256',
  'aes256gcm16-prfsha384-ecp384',
  'chacha20poly1305-prfsha256-curve25519',
  'aes256-sha256-modp2048',
] as const;

export const DEFAULT_ESP_PROPOSALS = ['aes256gcm16', 'aes128gcm16', 'chacha20poly1305', 'aes256-sha256'] as const;

export const DEFAULT_LISTEN: readonly ListenConfig[] = [
  { address: '0.0.0.0', port: 500, nattPort: 4500 },
  { address: '::', port: 500, nattPort: 4500 },
];

export const DEFAULTS = {
  logLevel: 'info',
  logFormat: 'text',
  dataplaneBackend: 'auto',
  dataplaneOffload: 'auto',
  cookieThreshold: 100,
  halfOpenPerSource: 20,
  retransmitTimeoutMs: 4000,
  retransmitTries: 5,
  retransmitBase: 1.8,
  remotePort: 500,
  ikeLifetimeSec: 24 * 3600,
  ikeRekeySec: 23 * 3600,
  childLifetimeSec: 8 * 3600,
  childRekeySec: 7 * 3600,
  dpdDelaySec: 30,
  encapsulation: false,
  mobike: true,
  fragmentation: true,
  fragmentSize: 1280,
  sendCertReq: true,
  replayWindow: 64,
  startAction: 'none',
  /** PSKs shorter than this are refused: a few octets fall to an offline dictionary attack on one captured AUTH. */
  pskMinOctets: 8,
  /** PSKs shorter than this load with a warning (128 bits, the strength of the weakest default cipher). */
  pskWarnOctets: 16,
} as const;
