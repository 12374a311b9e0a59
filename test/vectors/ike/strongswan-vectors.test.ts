// Checks the strongSwan captures against RFC 7296 §2.14/§2.15/§2.17 and RFC 5282 with node:crypto only.
//
// Deliberately independent of Outpost's codec and crypto code (captured-strongswan.test.ts is the codec's
// view of the same files): it proves the fixtures are consistent (keys derive from the captured nonces and
// SPIs, SK payloads decrypt, AUTH values verify), so a codec, crypto or engine test that fails on them points
// at Outpost, not at the vectors.
import { createDecipheriv, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dir = dirname(fileURLToPath(import.meta.url));
const hexFile = (name: string) => Buffer.from(readFileSync(join(dir, name), 'utf8').trim(), 'hex');
const keys = JSON.parse(readFileSync(join(dir, 'strongswan-psk-keys.json'), 'utf8')) as Record<string, string> & {
  child: { encI: string; encR: string };
};
const k = (name: string) => Buffer.from(keys[name] as string, 'hex');

const initReq = hexFile('strongswan-ike-sa-init-request.hex');
const initResp = hexFile('strongswan-ike-sa-init-response.hex');
const authReq = hexFile('strongswan-ike-auth-request.hex');
const authResp = hexFile('strongswan-ike-auth-response.hex');

interface RawPayload {
  type: number;
  offset: number; // of the generic header
  body: Buffer;
}

function walk(first: number, buf: Buffer, offset: number): RawPayload[] {
  const out: RawPayload[] = [];
  let type = first;
  while (type !== 0) {
    const len = buf.readUInt16BE(offset + 2);
    out.push({ type, offset, body: buf.subarray(offset + 4, offset + len) });
    if (type === 46) break; // SK: what follows is ciphertext
    type = buf[offset]!;
    offset += len;
  }
  return out;
}

const payloads = (msg: Buffer) => walk(msg[16]!, msg, 28);
const body = (msg: Buffer, type: number) => {
  const p = payloads(msg).find((x) => x.type === type);
  if (!p) throw new Error(`payload ${type} missing`);
  return p.body;
};

const prf = (key: Buffer, data: Buffer) => createHmac('sha256', key).update(data).digest();
function prfPlus(key: Buffer, seed: Buffer, len: number): Buffer {
  const out: Buffer[] = [];
  let t = Buffer.alloc(0);
  for (let i = 1; Buffer.concat(out).length < len; i++) {
    t = prf(key, Buffer.concat([t, seed, Buffer.from([i])]));
    out.push(t);
  }
  return Buffer.concat(out).subarray(0, len);
}

/** RFC 5282 AES-GCM-16 SK payload: key‖salt, IV 8, ICV 16, AAD = header through the SK generic header. */
function openSk(msg: Buffer, keyAndSalt: Buffer): { first: number; inner: Buffer } {
  const sk = payloads(msg).find((p) => p.type === 46)!;
  const iv = sk.body.subarray(0, 8);
  const ct = sk.body.subarray(8, sk.body.length - 16);
  const tag = sk.body.subarray(sk.body.length - 16);
  const d = createDecipheriv('aes-256-gcm', keyAndSalt.subarray(0, 32), Buffer.concat([keyAndSalt.subarray(32), iv]));
  d.setAAD(msg.subarray(0, sk.offset + 4));
  d.setAuthTag(tag);
  const plain = Buffer.concat([d.update(ct), d.final()]);
  const padLen = plain[plain.length - 1]!;
  return { first: msg[sk.offset]!, inner: plain.subarray(0, plain.length - padLen - 1) };
}

describe('strongSwan 5.9.8 PSK capture (aes256gcm16-prfsha256-x25519), checked with node:crypto alone', () => {
  const ni = body(initReq, 40);
  const nr = body(initResp, 40);
  const spiI = initReq.subarray(0, 8);
  const spiR = initResp.subarray(8, 16);

  it('has IKE_SA_INIT request/response headers and Curve25519 key exchanges', () => {
    expect(initReq[18]).toBe(34); // IKE_SA_INIT
    expect(initReq[19]).toBe(0x08); // Initiator
    expect(initResp[19]).toBe(0x20); // Response
    expect(initReq.readUInt32BE(24)).toBe(initReq.length);
    expect(initResp.subarray(0, 8)).toEqual(spiI);
    expect(initReq.subarray(8, 16)).toEqual(Buffer.alloc(8));
    for (const m of [initReq, initResp]) {
      const ke = body(m, 34);
      expect(ke.readUInt16BE(0)).toBe(31); // Curve25519
      expect(ke.length).toBe(4 + 32);
    }
    expect(payloads(initReq).map((p) => p.type)).toEqual([33, 34, 40, 41, 41, 41, 41, 41]);
  });

  it('derives SKEYSEED and SK_* from g^ir and the captured nonces and SPIs (RFC 7296 §2.14)', () => {
    const skeyseed = prf(Buffer.concat([ni, nr]), k('gIr'));
    expect(skeyseed.toString('hex')).toBe(keys.skeyseed);
    const km = prfPlus(skeyseed, Buffer.concat([ni, nr, spiI, spiR]), 32 + 36 + 36 + 32 + 32);
    expect(km.subarray(0, 32).toString('hex')).toBe(keys.skD);
    expect(km.subarray(32, 68).toString('hex')).toBe(keys.skEi);
    expect(km.subarray(68, 104).toString('hex')).toBe(keys.skEr);
    expect(km.subarray(104, 136).toString('hex')).toBe(keys.skPi);
    expect(km.subarray(136, 168).toString('hex')).toBe(keys.skPr);
  });

  it('decrypts IKE_AUTH and verifies both PSK AUTH payloads (RFC 7296 §2.15)', () => {
    const padKey = prf(k('psk'), Buffer.from('Key Pad for IKEv2'));
    for (const [msg, key, signed, nonce, skP, idType, id] of [
      [authReq, k('skEi'), initReq, nr, k('skPi'), 35, 'client.example'],
      [authResp, k('skEr'), initResp, ni, k('skPr'), 36, 'gw.example'],
    ] as const) {
      expect(msg[18]).toBe(35); // IKE_AUTH
      expect(msg.readUInt32BE(20)).toBe(1); // message ID 1
      const { first, inner } = openSk(msg, key);
      const list = walk(first, inner, 0);
      const idp = list.find((p) => p.type === idType)!;
      expect(idp.body[0]).toBe(2); // ID_FQDN
      expect(idp.body.subarray(4).toString()).toBe(id);
      const auth = list.find((p) => p.type === 39)!;
      expect(auth.body[0]).toBe(2); // Shared Key Message Integrity Code
      const expected = prf(padKey, Buffer.concat([signed, nonce, prf(skP, idp.body)]));
      expect(auth.body.subarray(4).toString('hex')).toBe(expected.toString('hex'));
    }
  });

  it('rejects a tampered IKE_AUTH request (the ICV covers the header)', () => {
    const bad = Buffer.from(authReq);
    bad[21] = 9; // message ID is in the AAD
    expect(() => openSk(bad, k('skEi'))).toThrow();
  });

  it('derives the CHILD_SA keys from SK_d and the nonces (RFC 7296 §2.17)', () => {
    const keymat = prfPlus(k('skD'), Buffer.concat([ni, nr]), 72);
    expect(keymat.subarray(0, 36).toString('hex')).toBe(keys.child.encI);
    expect(keymat.subarray(36, 72).toString('hex')).toBe(keys.child.encR);
  });
});
