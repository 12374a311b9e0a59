// Accounting-Request attributes for one session (RFC 2866 §5; RFC 2869 §5.1/§5.2 Gigawords, §5.3 Event-Timestamp).
import { AcctAuthentic, AcctStatusType, NasPortType, RadiusAttr, ServiceType } from './constants.ts';
import { ipv4Attr, octetsAttr, textAttr, u32Attr } from './attributes.ts';
import type { RadiusAttribute } from './packet.ts';

export interface AccountingRecord {
  status: 'start' | 'interim' | 'stop';
  /** Acct-Session-Id: unique per session and the same in Start, Interim-Update and Stop (§5.5). */
  sessionId: string;
  userName: string;
  framedIp?: string;
  callingStationId?: string;
  calledStationId?: string;
  nasPort?: number;
  /** Class values from the Access-Accept, echoed verbatim (RFC 2865 §5.25). */
  classes?: Uint8Array[];
  /** How the user was authenticated (§5.6); RADIUS by default. */
  authentic?: 'radius' | 'local';
  sessionTimeSec?: number;
  inputOctets?: number;
  outputOctets?: number;
  inputPackets?: number;
  outputPackets?: number;
  /** Stop only (§5.10): AcctTerminateCause. */
  terminateCause?: number;
  /** Seconds since the epoch. */
  eventTimestampSec?: number;
}

const TWO32 = 2 ** 32;

/** Counters above 2^32 − 1 wrap into the *-Gigawords attributes (RFC 2869 §5.1, §5.2). */
function octets(type: number, gigaType: number, v: number | undefined): RadiusAttribute[] {
  if (v === undefined) return [];
  const n = Math.max(0, Math.floor(v));
  const giga = Math.floor(n / TWO32);
  return [u32Attr(type, n % TWO32), ...(giga > 0 ? [u32Attr(gigaType, giga)] : [])];
}

export function accountingAttributes(r: AccountingRecord): RadiusAttribute[] {
  const status = r.status === 'start' ? AcctStatusType.START : r.status === 'stop' ? AcctStatusType.STOP : AcctStatusType.INTERIM_UPDATE;
  const a: RadiusAttribute[] = [
    u32Attr(RadiusAttr.ACCT_STATUS_TYPE, status),
    textAttr(RadiusAttr.ACCT_SESSION_ID, r.sessionId),
    textAttr(RadiusAttr.USER_NAME, r.userName),
    u32Attr(RadiusAttr.ACCT_AUTHENTIC, r.authentic === 'local' ? AcctAuthentic.LOCAL : AcctAuthentic.RADIUS),
    u32Attr(RadiusAttr.SERVICE_TYPE, ServiceType.FRAMED),
    u32Attr(RadiusAttr.NAS_PORT_TYPE, NasPortType.VIRTUAL),
  ];
  if (r.framedIp) {
    const ip = ipv4Attr(RadiusAttr.FRAMED_IP_ADDRESS, r.framedIp);
    if (ip) a.push(ip);
  }
  if (r.callingStationId) a.push(textAttr(RadiusAttr.CALLING_STATION_ID, r.callingStationId));
  if (r.calledStationId) a.push(textAttr(RadiusAttr.CALLED_STATION_ID, r.calledStationId));
  if (r.nasPort !== undefined) a.push(u32Attr(RadiusAttr.NAS_PORT, r.nasPort));
  for (const c of r.classes ?? []) a.push(octetsAttr(RadiusAttr.CLASS, c));
  if (r.status !== 'start') {
    if (r.sessionTimeSec !== undefined) a.push(u32Attr(RadiusAttr.ACCT_SESSION_TIME, Math.max(0, Math.floor(r.sessionTimeSec))));
    a.push(...octets(RadiusAttr.ACCT_INPUT_OCTETS, RadiusAttr.ACCT_INPUT_GIGAWORDS, r.inputOctets));
    a.push(...octets(RadiusAttr.ACCT_OUTPUT_OCTETS, RadiusAttr.ACCT_OUTPUT_GIGAWORDS, r.outputOctets));
    if (r.inputPackets !== undefined) a.push(u32Attr(RadiusAttr.ACCT_INPUT_PACKETS, r.inputPackets % TWO32));
    if (r.outputPackets !== undefined) a.push(u32Attr(RadiusAttr.ACCT_OUTPUT_PACKETS, r.outputPackets % TWO32));
  }
  if (r.status === 'stop' && r.terminateCause !== undefined) a.push(u32Attr(RadiusAttr.ACCT_TERMINATE_CAUSE, r.terminateCause));
  if (r.eventTimestampSec !== undefined) a.push(u32Attr(RadiusAttr.EVENT_TIMESTAMP, Math.floor(r.eventTimestampSec)));
  return a;
}
