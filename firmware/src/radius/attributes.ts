// RADIUS attribute values (RFC 2865 §5: text, string, address, integer; §5.26 Vendor-Specific; RFC 3579 §3.1 EAP-Message).
import type { Decoded } from '../ike/codec/types.ts';
import { RADIUS_MAX_ATTR_VALUE_LEN, RadiusAttr } from './constants.ts';
import type { RadiusAttribute, RadiusPacket } from './packet.ts';
import { concat, readU32, u32, utf8Bytes, utf8Text } from './bytes.ts';

export function textAttr(type: number, s: string): RadiusAttribute {
  return { type, value: utf8Bytes(s) };
}

export function octetsAttr(type: number, b: Uint8Array): RadiusAttribute {
  return { type, value: b };
}

export function u32Attr(type: number, v: number): RadiusAttribute {
  return { type, value: u32(v >>> 0) };
}

/** Dotted IPv4 text to 4 octets; null when it is not one. */
export function ipv4Bytes(addr: string): Uint8Array | null {
  const parts = addr.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] ?? '';
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return null;
    out[i] = Number(p);
  }
  return out;
}

export function ipv4Attr(type: number, addr: string): RadiusAttribute | null {
  const b = ipv4Bytes(addr);
  return b ? { type, value: b } : null;
}

export function getAttr(p: RadiusPacket, type: number): Uint8Array | undefined {
  return p.attributes.find((a) => a.type === type)?.value;
}

export function getAllAttrs(p: RadiusPacket, type: number): Uint8Array[] {
  return p.attributes.filter((a) => a.type === type).map((a) => a.value);
}

export function getText(p: RadiusPacket, type: number): string | undefined {
  const v = getAttr(p, type);
  return v === undefined ? undefined : utf8Text(v);
}

/** An integer attribute; undefined when absent or not exactly 4 octets (RFC 2865 §5: such an attribute is invalid). */
export function getU32(p: RadiusPacket, type: number): number | undefined {
  const v = getAttr(p, type);
  return v && v.length === 4 ? readU32(v, 0) : undefined;
}

export function getIpv4(p: RadiusPacket, type: number): string | undefined {
  const v = getAttr(p, type);
  return v && v.length === 4 ? Array.from(v).join('.') : undefined;
}

export interface VendorSubAttribute {
  vendorId: number;
  vendorType: number;
  value: Uint8Array;
}

/**
 * One Vendor-Specific attribute with the usual one-octet type/length layout (§5.26; Microsoft, RFC 2548 §2).
 * Several sub-attributes may share one VSA.
 */
export function vendorAttr(vendorId: number, subs: { vendorType: number; value: Uint8Array }[]): Decoded<RadiusAttribute> {
  const parts: Uint8Array[] = [u32(vendorId)];
  for (const s of subs) {
    if (s.value.length > 253 - 4 - 2) return { ok: false, error: `vendor attribute ${vendorId}/${s.vendorType} too long` };
    parts.push(Uint8Array.of(s.vendorType, s.value.length + 2), s.value);
  }
  const value = concat(...parts);
  if (value.length > RADIUS_MAX_ATTR_VALUE_LEN) return { ok: false, error: 'Vendor-Specific attribute too long' };
  return { ok: true, value: { type: RadiusAttr.VENDOR_SPECIFIC, value } };
}

/**
 * Every sub-attribute of every Vendor-Specific attribute. A VSA whose inner layout is not type/length/value
 * (some vendors use other formats) is skipped rather than failing the packet.
 */
export function vendorAttrs(p: RadiusPacket): VendorSubAttribute[] {
  const out: VendorSubAttribute[] = [];
  for (const a of p.attributes) {
    if (a.type !== RadiusAttr.VENDOR_SPECIFIC || a.value.length < 4) continue;
    const vendorId = readU32(a.value, 0);
    const subs: VendorSubAttribute[] = [];
    let off = 4;
    let wellFormed = true;
    while (off < a.value.length) {
      const vt = a.value[off] ?? 0;
      const vl = a.value[off + 1] ?? 0;
      if (off + 2 > a.value.length || vl < 2 || off + vl > a.value.length) {
        wellFormed = false;
        break;
      }
      subs.push({ vendorId, vendorType: vt, value: a.value.slice(off + 2, off + vl) });
      off += vl;
    }
    if (wellFormed) out.push(...subs);
  }
  return out;
}

export function getVendorAttr(p: RadiusPacket, vendorId: number, vendorType: number): Uint8Array | undefined {
  return vendorAttrs(p).find((s) => s.vendorId === vendorId && s.vendorType === vendorType)?.value;
}

/** RFC 3579 §3.1: an EAP packet longer than 253 octets spans consecutive EAP-Message attributes. */
export function eapMessageAttrs(eap: Uint8Array): RadiusAttribute[] {
  const out: RadiusAttribute[] = [];
  for (let off = 0; off < eap.length; off += RADIUS_MAX_ATTR_VALUE_LEN) {
    out.push({ type: RadiusAttr.EAP_MESSAGE, value: eap.slice(off, off + RADIUS_MAX_ATTR_VALUE_LEN) });
  }
  return out;
}

/**
 * The EAP packet carried in a RADIUS packet: its EAP-Message attributes joined in order. undefined when there
 * are none; an error when they are not consecutive (RFC 3579 §3.1 MUST) or the EAP Length does not match.
 */
export function joinEapMessage(p: RadiusPacket): Decoded<Uint8Array> | undefined {
  const idx: number[] = [];
  p.attributes.forEach((a, i) => {
    if (a.type === RadiusAttr.EAP_MESSAGE) idx.push(i);
  });
  if (idx.length === 0) return undefined;
  for (let i = 1; i < idx.length; i++) {
    if ((idx[i] ?? 0) !== (idx[i - 1] ?? 0) + 1) return { ok: false, error: 'EAP-Message attributes are not consecutive' };
  }
  const eap = concat(...idx.map((i) => p.attributes[i]?.value ?? new Uint8Array(0)));
  if (eap.length < 4) return { ok: false, error: `EAP-Message of ${eap.length} octets is shorter than an EAP header` };
  const eapLen = ((eap[2] ?? 0) << 8) | (eap[3] ?? 0);
  if (eapLen !== eap.length) return { ok: false, error: `EAP-Message holds ${eap.length} octets, EAP Length says ${eapLen}` };
  return { ok: true, value: eap };
}
