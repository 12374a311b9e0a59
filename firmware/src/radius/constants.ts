// RADIUS wire constants with their IANA names (RFC 2865 §3/§5, RFC 2866 §5, RFC 2548, RFC 3579, RFC 5176).

/** Packet codes (RFC 2865 §3, RFC 2866 §3, RFC 5997, RFC 5176 §2.3). */
export const RadiusCode = {
  ACCESS_REQUEST: 1,
  ACCESS_ACCEPT: 2,
  ACCESS_REJECT: 3,
  ACCOUNTING_REQUEST: 4,
  ACCOUNTING_RESPONSE: 5,
  ACCESS_CHALLENGE: 11,
  STATUS_SERVER: 12,
  STATUS_CLIENT: 13,
  DISCONNECT_REQUEST: 40,
  DISCONNECT_ACK: 41,
  DISCONNECT_NAK: 42,
  COA_REQUEST: 43,
  COA_ACK: 44,
  COA_NAK: 45,
} as const;

const codeNames: Record<number, string> = {
  1: 'Access-Request',
  2: 'Access-Accept',
  3: 'Access-Reject',
  4: 'Accounting-Request',
  5: 'Accounting-Response',
  11: 'Access-Challenge',
  12: 'Status-Server',
  13: 'Status-Client',
  40: 'Disconnect-Request',
  41: 'Disconnect-ACK',
  42: 'Disconnect-NAK',
  43: 'CoA-Request',
  44: 'CoA-ACK',
  45: 'CoA-NAK',
};

/** The RFC's spelling, for logs: `Access-Accept`, `CoA-NAK`, or `code N`. */
export function radiusCodeName(code: number): string {
  return codeNames[code] ?? `code ${code}`;
}

/** Attribute types (RFC 2865 §5, RFC 2866 §5, RFC 2869, RFC 3162, RFC 3579, RFC 5176, RFC 6911). */
export const RadiusAttr = {
  USER_NAME: 1,
  USER_PASSWORD: 2,
  CHAP_PASSWORD: 3,
  NAS_IP_ADDRESS: 4,
  NAS_PORT: 5,
  SERVICE_TYPE: 6,
  FRAMED_PROTOCOL: 7,
  FRAMED_IP_ADDRESS: 8,
  FRAMED_IP_NETMASK: 9,
  FILTER_ID: 11,
  FRAMED_MTU: 12,
  REPLY_MESSAGE: 18,
  STATE: 24,
  CLASS: 25,
  VENDOR_SPECIFIC: 26,
  SESSION_TIMEOUT: 27,
  IDLE_TIMEOUT: 28,
  CALLED_STATION_ID: 30,
  CALLING_STATION_ID: 31,
  NAS_IDENTIFIER: 32,
  PROXY_STATE: 33,
  ACCT_STATUS_TYPE: 40,
  ACCT_DELAY_TIME: 41,
  ACCT_INPUT_OCTETS: 42,
  ACCT_OUTPUT_OCTETS: 43,
  ACCT_SESSION_ID: 44,
  ACCT_AUTHENTIC: 45,
  ACCT_SESSION_TIME: 46,
  ACCT_INPUT_PACKETS: 47,
  ACCT_OUTPUT_PACKETS: 48,
  ACCT_TERMINATE_CAUSE: 49,
  ACCT_MULTI_SESSION_ID: 50,
  ACCT_LINK_COUNT: 51,
  ACCT_INPUT_GIGAWORDS: 52,
  ACCT_OUTPUT_GIGAWORDS: 53,
  EVENT_TIMESTAMP: 55,
  NAS_PORT_TYPE: 61,
  TUNNEL_TYPE: 64,
  TUNNEL_MEDIUM_TYPE: 65,
  TUNNEL_CLIENT_ENDPOINT: 66,
  TUNNEL_SERVER_ENDPOINT: 67,
  CONNECT_INFO: 77,
  EAP_MESSAGE: 79,
  MESSAGE_AUTHENTICATOR: 80,
  ACCT_INTERIM_INTERVAL: 85,
  NAS_PORT_ID: 87,
  FRAMED_POOL: 88,
  NAS_IPV6_ADDRESS: 95,
  FRAMED_INTERFACE_ID: 96,
  FRAMED_IPV6_PREFIX: 97,
  ERROR_CAUSE: 101,
  FRAMED_IPV6_ADDRESS: 168,
  DNS_SERVER_IPV6_ADDRESS: 169,
} as const;

/** Acct-Status-Type values (RFC 2866 §5.1). */
export const AcctStatusType = {
  START: 1,
  STOP: 2,
  INTERIM_UPDATE: 3,
  ACCOUNTING_ON: 7,
  ACCOUNTING_OFF: 8,
} as const;

/** Acct-Terminate-Cause values (RFC 2866 §5.10). */
export const AcctTerminateCause = {
  USER_REQUEST: 1,
  LOST_CARRIER: 2,
  LOST_SERVICE: 3,
  IDLE_TIMEOUT: 4,
  SESSION_TIMEOUT: 5,
  ADMIN_RESET: 6,
  ADMIN_REBOOT: 7,
  PORT_ERROR: 8,
  NAS_ERROR: 9,
  NAS_REQUEST: 10,
  NAS_REBOOT: 11,
  PORT_UNNEEDED: 12,
  PORT_PREEMPTED: 13,
  PORT_SUSPENDED: 14,
  SERVICE_UNAVAILABLE: 15,
  CALLBACK: 16,
  USER_ERROR: 17,
  HOST_REQUEST: 18,
} as const;

/** Acct-Authentic values (RFC 2866 §5.6). */
export const AcctAuthentic = { RADIUS: 1, LOCAL: 2, REMOTE: 3 } as const;

/** Service-Type values used by a VPN NAS (RFC 2865 §5.6). */
export const ServiceType = { LOGIN: 1, FRAMED: 2 } as const;

/** NAS-Port-Type values (RFC 2865 §5.41): IKEv2 remote access is Virtual. */
export const NasPortType = { VIRTUAL: 5 } as const;

/** Tunnel-Type (RFC 2868 §3.1, value 9 = ESP per RFC 2868 / IANA) and Tunnel-Medium-Type (§3.2). */
export const TunnelType = { ESP: 9 } as const;
export const TunnelMediumType = { IPV4: 1, IPV6: 2 } as const;

/** Error-Cause values (RFC 5176 §3.5). */
export const ErrorCause = {
  RESIDUAL_SESSION_CONTEXT_REMOVED: 201,
  INVALID_EAP_PACKET: 202,
  UNSUPPORTED_ATTRIBUTE: 401,
  MISSING_ATTRIBUTE: 402,
  NAS_IDENTIFICATION_MISMATCH: 403,
  INVALID_REQUEST: 404,
  UNSUPPORTED_SERVICE: 405,
  UNSUPPORTED_EXTENSION: 406,
  INVALID_ATTRIBUTE_VALUE: 407,
  ADMINISTRATIVELY_PROHIBITED: 501,
  REQUEST_NOT_ROUTABLE: 502,
  SESSION_CONTEXT_NOT_FOUND: 503,
  SESSION_CONTEXT_NOT_REMOVABLE: 504,
  OTHER_PROXY_PROCESSING_ERROR: 505,
  RESOURCES_UNAVAILABLE: 506,
  REQUEST_INITIATED: 507,
  MULTIPLE_SESSION_SELECTION_UNSUPPORTED: 508,
} as const;

/** SMI Private Enterprise Numbers of vendors whose attributes we read. */
export const VendorId = { MICROSOFT: 311 } as const;

/** Microsoft vendor attributes (RFC 2548 §2). */
export const MicrosoftAttr = {
  MS_CHAP_RESPONSE: 1,
  MS_CHAP_ERROR: 2,
  MS_MPPE_ENCRYPTION_POLICY: 7,
  MS_MPPE_ENCRYPTION_TYPES: 8,
  MS_CHAP_CHALLENGE: 11,
  MS_MPPE_SEND_KEY: 16,
  MS_MPPE_RECV_KEY: 17,
  MS_CHAP2_RESPONSE: 25,
  MS_CHAP2_SUCCESS: 26,
} as const;

/** RFC 2865 §3: a packet is 20..4096 octets; an attribute carries at most 253 octets of value. */
export const RADIUS_HEADER_LEN = 20;
export const RADIUS_MAX_PACKET_LEN = 4096;
export const RADIUS_MAX_ATTR_VALUE_LEN = 253;
export const AUTHENTICATOR_LEN = 16;
