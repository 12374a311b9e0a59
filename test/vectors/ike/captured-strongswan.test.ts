// strongSwan 5.9.8's own IKE_SA_INIT / IKE_AUTH messages (captured by strongswan-capture.ts): decode, re-encode
// byte-exactly, and open/re-seal the SK payloads with the logged SK_e keys (RFC 7296 §3.14, RFC 5282).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, openSk, sealSk, type IkeMessage, type Payload } from '../../../firmware/src/ike/codec/index.ts';
import { Notify, PayloadType as P } from '../../../firmware/src/ike/constants.ts';
import { hexToBytes } from './hex.ts';
import { aesGcm16 } from './sk-transforms.ts';

const dir = dirname(fileURLToPath(import.meta.url));
const files = {
  initReq: 'strongswan-ike-sa-init-request.hex',
  initRes: 'strongswan-ike-sa-init-response.hex',
  authReq: 'strongswan-ike-auth-request.hex',
  authRes: 'strongswan-ike-auth-response.hex',
} as const;
const keysFile = join(dir, 'strongswan-psk-keys.json');
const present = Object.values(files).every((f) => existsSync(join(dir, f))) && existsSync(keysFile);
if (!present) console.log('strongSwan vectors absent: run test/vectors/ike/strongswan-capture.ts as root to capture them');

function load(name: string): Uint8Array {
  return hexToBytes(readFileSync(join(dir, name), 'utf8').trim());
}

function mustDecode(raw: Uint8Array): IkeMessage {
  const m = decodeMessage(raw);
  if (!m.ok) throw new Error(m.error);
  return m.value;
}

function reencode(m: IkeMessage): Uint8Array {
  const { nextPayload: _n, length: _l, ...fields } = m.header;
  return encodeMessage(fields, m.payloads);
}

const notifies = (ps: Payload[]) => ps.flatMap((p) => (p.type === P.NOTIFY && 'notifyType' in p ? [p.notifyType] : []));

describe.skipIf(!present)('strongSwan 5.9.8 captured messages', () => {
  it.each([files.initReq, files.initRes, files.authReq, files.authRes])('%s decodes and re-encodes byte-exactly', (name) => {
    const raw = load(name);
    expect(reencode(mustDecode(raw))).toEqual(raw);
  });

  it('IKE_SA_INIT request carries SA KE Ni and the notifies strongSwan always sends', () => {
    const m = mustDecode(load(files.initReq));
    expect(m.header.exchange).toBe(34);
    expect(m.payloads.slice(0, 3).map((p) => p.type)).toEqual([P.SA, P.KE, P.NONCE]);
    expect(notifies(m.payloads)).toEqual(
      expect.arrayContaining([Notify.NAT_DETECTION_SOURCE_IP, Notify.NAT_DETECTION_DESTINATION_IP, Notify.IKEV2_FRAGMENTATION_SUPPORTED, Notify.SIGNATURE_HASH_ALGORITHMS]),
    );
    const sa = m.payloads[0]!;
    expect(sa.type === P.SA && 'proposals' in sa && sa.proposals[0]?.transforms).toEqual([
      { type: 1, id: 20, keyLength: 256 },
      { type: 2, id: 5 },
      { type: 4, id: 31 },
    ]);
  });

  it('opens both IKE_AUTH messages with SK_ei / SK_er and re-seals them byte-exactly with the same IV', () => {
    const keys = JSON.parse(readFileSync(keysFile, 'utf8')) as { skEi: string; skEr: string; idI: string };
    for (const [name, key, idType] of [
      [files.authReq, keys.skEi, P.IDi],
      [files.authRes, keys.skEr, P.IDr],
    ] as const) {
      const raw = load(name);
      const m = mustDecode(raw);
      const sk = aesGcm16(hexToBytes(key));
      const inner = openSk(raw, m, sk);
      expect(inner.ok, name).toBe(true);
      if (!inner.ok) continue;
      expect(inner.value[0]?.type).toBe(idType);
      if (idType === P.IDi) {
        // strongswan-captures.md: IDi N(INITIAL_CONTACT) IDr AUTH CP(CFG_REQUEST) SA TSi TSr N...
        expect(inner.value.slice(0, 8).map((p) => p.type)).toEqual([P.IDi, P.NOTIFY, P.IDr, P.AUTH, P.CP, P.SA, P.TSi, P.TSr]);
        expect(inner.value[4]).toEqual({ type: P.CP, cfgType: 1, attributes: [{ type: 1, value: new Uint8Array(0) }] });
        expect(notifies(inner.value)).toContain(Notify.MOBIKE_SUPPORTED);
      }
      expect(inner.value.some((p) => p.type === P.AUTH)).toBe(true);
      expect(inner.value.some((p) => p.type === P.TSi) && inner.value.some((p) => p.type === P.TSr)).toBe(true);
      const skp = m.payloads[m.payloads.length - 1]!;
      const iv = 'body' in skp ? skp.body.slice(0, sk.ivLen) : new Uint8Array(0);
      const { nextPayload: _n, length: _l, ...fields } = m.header;
      expect(sealSk(fields, inner.value, sk, () => iv)).toEqual(raw);
      // The other direction's key must not open it.
      expect(openSk(raw, m, aesGcm16(hexToBytes(key === keys.skEi ? keys.skEr : keys.skEi))).ok).toBe(false);
    }
  });
});
