// EAP wire constants with their IANA names (RFC 3748 §4, §5; draft-kamath-pppext-eap-mschapv2 §2).

export const EapCode = {
  REQUEST: 1,
  RESPONSE: 2,
  SUCCESS: 3,
  FAILURE: 4,
} as const;

export const EapType = {
  IDENTITY: 1,
  NOTIFICATION: 2,
  NAK: 3,
  MD5_CHALLENGE: 4,
  OTP: 5,
  GTC: 6,
  TLS: 13,
  TTLS: 21,
  PEAP: 25,
  MSCHAPV2: 26,
  EXPANDED: 254,
} as const;

const typeNames: Record<number, string> = {
  1: 'Identity',
  2: 'Notification',
  3: 'Nak',
  4: 'MD5-Challenge',
  5: 'OTP',
  6: 'GTC',
  13: 'EAP-TLS',
  21: 'EAP-TTLS',
  25: 'PEAP',
  26: 'EAP-MSCHAPv2',
  254: 'Expanded',
};

export function eapTypeName(t: number): string {
  return typeNames[t] ?? `type ${t}`;
}

/** MS-CHAP-v2 OpCodes inside EAP type 26 (draft-kamath §2). */
export const MschapV2Op = {
  CHALLENGE: 1,
  RESPONSE: 2,
  SUCCESS: 3,
  FAILURE: 4,
  CHANGE_PASSWORD: 7,
} as const;

/** MS-CHAP error codes sent in a Failure request (RFC 2759 §6). */
export const MschapError = {
  RESTRICTED_LOGON_HOURS: 646,
  ACCT_DISABLED: 647,
  PASSWD_EXPIRED: 648,
  NO_DIALIN_PERMISSION: 649,
  AUTHENTICATION_FAILURE: 691,
  CHANGING_PASSWORD: 709,
} as const;
