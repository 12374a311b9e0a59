// What an Access-Accept says about the session (RFC 2865 §5.1, §5.8, §5.11, §5.25, §5.27, §5.28; RFC 2869 §5.16).
import type { AaaAttributes } from '../eap/types.ts';
import { RadiusAttr } from './constants.ts';
import { getAllAttrs, getIpv4, getText, getU32 } from './attributes.ts';
import type { RadiusPacket } from './packet.ts';
import { utf8Text } from './bytes.ts';

/** 255.255.255.254 / 255.255.255.255 are "let the NAS choose" / "let the user choose" (§5.8), not addresses. */
const NOT_AN_ADDRESS = new Set(['255.255.255.254', '255.255.255.255', '0.0.0.0']);

export function aaaAttributes(accept: RadiusPacket): AaaAttributes {
  const out: AaaAttributes = {};
  const ip = getIpv4(accept, RadiusAttr.FRAMED_IP_ADDRESS);
  if (ip && !NOT_AN_ADDRESS.has(ip)) out.framedIp = ip;
  const filters = getAllAttrs(accept, RadiusAttr.FILTER_ID).map(utf8Text);
  if (filters.length) out.filterIds = filters;
  const classes = getAllAttrs(accept, RadiusAttr.CLASS);
  if (classes.length) out.classes = classes;
  const st = getU32(accept, RadiusAttr.SESSION_TIMEOUT);
  if (st !== undefined) out.sessionTimeoutSec = st;
  const it = getU32(accept, RadiusAttr.IDLE_TIMEOUT);
  if (it !== undefined) out.idleTimeoutSec = it;
  const ii = getU32(accept, RadiusAttr.ACCT_INTERIM_INTERVAL);
  if (ii !== undefined) out.acctInterimIntervalSec = ii;
  const un = getText(accept, RadiusAttr.USER_NAME);
  if (un !== undefined) out.userName = un;
  return out;
}
