// Certificate summaries for list-certs: subject, issuer, serial and validity of the CAs and own certificates in force (RFC 5280 §4.1).
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { GatewayConfig } from '../config/types.ts';
import { formatDn } from '../ike/identity.ts';
import type { CertInfo } from './protocol.ts';

const DAY_MS = 86_400_000;

function nameText(name: pkijs.RelativeDistinguishedNames): string {
  const der = name.valueBeforeDecode.byteLength > 0 ? new Uint8Array(name.valueBeforeDecode) : new Uint8Array(name.toSchema().toBER(false));
  return formatDn(der) ?? '(unprintable)';
}

export function describeCertificate(use: string, der: Uint8Array, nowMs: number): CertInfo {
  try {
    const asn = asn1js.fromBER(der.slice().buffer);
    if (asn.offset === -1) throw new Error('not DER');
    const c = new pkijs.Certificate({ schema: asn.result });
    const notAfter = c.notAfter.value;
    return {
      use,
      subject: nameText(c.subject),
      issuer: nameText(c.issuer),
      serial: Array.from(new Uint8Array(c.serialNumber.valueBlock.valueHexView), (b) => b.toString(16).padStart(2, '0')).join(':'),
      notBefore: c.notBefore.value.toISOString(),
      notAfter: notAfter.toISOString(),
      daysLeft: Math.floor((notAfter.getTime() - nowMs) / DAY_MS),
    };
  } catch {
    return { use, subject: '(unparsable certificate)', issuer: '', serial: '', notBefore: '', notAfter: '', daysLeft: 0 };
  }
}

/** Every certificate the config puts in force: trusted CAs, then each connection's own chain. */
export function listCertificates(config: GatewayConfig, nowMs: number): CertInfo[] {
  const out = config.cas.map((ca) => describeCertificate(`ca:${ca.name}`, ca.certDer, nowMs));
  for (const c of config.connections) {
    (c.local.certChain ?? []).forEach((der, i) => out.push(describeCertificate(i === 0 ? `conn:${c.name}` : `conn:${c.name}#${i}`, der, nowMs)));
  }
  return out;
}
