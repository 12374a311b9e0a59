// RADIUS packet codec and authenticators against RFC 2865 §7.1, plus malformed input (never throws).
import { describe, expect, test } from 'vitest';
import { decodePacket, encodePacket } from './packet.ts';
import { signPacket, verifyPacket } from './authenticator.ts';
import { hideUserPassword, unhideUserPassword } from './hiding.ts';
import { RadiusAttr, RadiusCode } from './constants.ts';
import { fromHex, toHex, utf8Bytes } from './bytes.ts';
import { getIpv4, getText, getU32, ipv4Attr, textAttr, u32Attr } from './attributes.ts';
import { md5 } from './md5.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';

const hex = (s: string) => fromHex(s) as Uint8Array;
const secret = utf8Bytes('xyzzy5461');

// RFC 2865 §7.1 "User Telnet to Specified Host": NAS 192.168.1.16 port 3, user nemo, password arctangent.
const RFC_REQUEST = hex(`
  01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb
  98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d
  93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8
  01 10 05 06 00 00 00 03`);
const RFC_REQUEST_AUTH = hex('0f403f9473978057bd83d5cb98f4227a');
// The Access-Accept: Service-Type Login, Login-Service Telnet, Login-IP-Host 192.168.1.3.
const RFC_ACCEPT = hex(`
  02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf
  9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 00
  0e 06 c0 a8 01 03`);

describe('RFC 2865 §7.1 example', () => {
  test('decodes the Access-Request', () => {
    const d = decodePacket(RFC_REQUEST);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.value.code).toBe(RadiusCode.ACCESS_REQUEST);
    expect(d.value.identifier).toBe(0);
    expect(toHex(d.value.authenticator)).toBe(toHex(RFC_REQUEST_AUTH));
    expect(getText(d.value, RadiusAttr.USER_NAME)).toBe('nemo');
    expect(getIpv4(d.value, RadiusAttr.NAS_IP_ADDRESS)).toBe('192.168.1.16');
    expect(getU32(d.value, RadiusAttr.NAS_PORT)).toBe(3);
    const pw = d.value.attributes.find((a) => a.type === RadiusAttr.USER_PASSWORD)?.value;
    expect(toHex(pw ?? new Uint8Array())).toBe('0dbe708d93d413ce3196e43f782a0aee');
    const plain = unhideUserPassword(pw ?? new Uint8Array(), secret, RFC_REQUEST_AUTH);
    expect(plain.ok && new TextDecoder().decode(plain.value)).toBe('arctangent');
  });

  test('hides the password and signs the request to the exact RFC octets', () => {
    const hidden = hideUserPassword(utf8Bytes('arctangent'), secret, RFC_REQUEST_AUTH);
    expect(hidden.ok && toHex(hidden.value)).toBe('0dbe708d93d413ce3196e43f782a0aee');
    if (!hidden.ok) return;
    const s = signPacket(
      {
        code: RadiusCode.ACCESS_REQUEST,
        identifier: 0,
        attributes: [textAttr(RadiusAttr.USER_NAME, 'nemo'), { type: RadiusAttr.USER_PASSWORD, value: hidden.value }, ipv4Attr(RadiusAttr.NAS_IP_ADDRESS, '192.168.1.16')!, u32Attr(RadiusAttr.NAS_PORT, 3)],
      },
      { secret, requestAuthenticator: RFC_REQUEST_AUTH },
    );
    expect(s.ok && toHex(s.value.bytes)).toBe(toHex(RFC_REQUEST));
  });

  test('signs the Access-Accept to the RFC Response Authenticator and verifies it', () => {
    const s = signPacket(
      { code: RadiusCode.ACCESS_ACCEPT, identifier: 0, attributes: [u32Attr(RadiusAttr.SERVICE_TYPE, 1), u32Attr(15, 0), ipv4Attr(14, '192.168.1.3')!] },
      { secret, requestAuthenticator: RFC_REQUEST_AUTH },
    );
    expect(s.ok && toHex(s.value.bytes)).toBe(toHex(RFC_ACCEPT));
    const v = verifyPacket(RFC_ACCEPT, secret, RFC_REQUEST_AUTH);
    expect(v.ok).toBe(true);
  });

  test('a flipped bit, a wrong secret or another request authenticator fail the Response Authenticator', () => {
    for (let i = 0; i < RFC_ACCEPT.length; i++) {
      if (i >= 2 && i < 4) continue; // a changed Length is caught as malformed, checked below
      const bad = RFC_ACCEPT.slice();
      bad[i] = (bad[i] ?? 0) ^ 0x01;
      const v = verifyPacket(bad, secret, RFC_REQUEST_AUTH);
      expect(v.ok, `bit flip at ${i}`).toBe(false);
    }
    expect(verifyPacket(RFC_ACCEPT, utf8Bytes('xyzzy5462'), RFC_REQUEST_AUTH)).toMatchObject({ ok: false, error: expect.stringContaining('Response Authenticator') });
    const otherAuth = RFC_REQUEST_AUTH.slice();
    otherAuth[0] = 0;
    expect(verifyPacket(RFC_ACCEPT, secret, otherAuth).ok).toBe(false);
  });
});

describe('Message-Authenticator (RFC 3579 §3.2)', () => {
  const random = seededRandom('radius-ma');
  const attrs = [textAttr(RadiusAttr.USER_NAME, 'alice'), { type: RadiusAttr.EAP_MESSAGE, value: hex('0201000a01616c696365') }];

  test.each([
    ['Access-Request', RadiusCode.ACCESS_REQUEST],
    ['Accounting-Request', RadiusCode.ACCOUNTING_REQUEST],
    ['Disconnect-Request', RadiusCode.DISCONNECT_REQUEST],
    ['CoA-Request', RadiusCode.COA_REQUEST],
  ])('%s: placed first, verifies, and a tampered one fails', (_name, code) => {
    const ra = random(16);
    const s = signPacket({ code, identifier: 7, attributes: attrs }, { secret, requestAuthenticator: ra, messageAuthenticator: true });
    expect(s.ok).toBe(true);
    if (!s.ok) return;
    expect(s.value.bytes[20]).toBe(RadiusAttr.MESSAGE_AUTHENTICATOR);
    const v = verifyPacket(s.value.bytes, secret);
    expect(v).toMatchObject({ ok: true, hasMessageAuthenticator: true });
    if (code === RadiusCode.ACCESS_REQUEST) {
      // Nothing but the MA protects an Access-Request: tampering with an attribute must show there.
      const bad = s.value.bytes.slice();
      bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0xff;
      expect(verifyPacket(bad, secret)).toMatchObject({ ok: false, error: 'bad Message-Authenticator' });
    } else {
      // Recompute the MD5 authenticator after tampering with the MA only, so the MA check itself is what fails.
      const bad = s.value.bytes.slice();
      bad[22] = (bad[22] ?? 0) ^ 0x01;
      expect(verifyPacket(bad, secret)).toMatchObject({ ok: false, error: expect.stringContaining('Request Authenticator') });
      expect(verifyPacket(withResponseAuthenticator(bad, new Uint8Array(16)), secret)).toMatchObject({ ok: false, error: 'bad Message-Authenticator' });
    }
  });

  test('responses: MA computed over the request authenticator; a forged MA fails even with a correct MD5', () => {
    const ra = random(16);
    const s = signPacket({ code: RadiusCode.ACCESS_CHALLENGE, identifier: 9, attributes: attrs }, { secret, requestAuthenticator: ra, messageAuthenticator: true });
    expect(s.ok && verifyPacket(s.value.bytes, secret, ra)).toMatchObject({ ok: true, hasMessageAuthenticator: true });
    if (!s.ok) return;
    const forged = s.value.bytes.slice();
    forged.fill(0xaa, 22, 38);
    expect(verifyPacket(withResponseAuthenticator(forged, ra), secret, ra)).toMatchObject({ ok: false, error: 'bad Message-Authenticator' });
  });

  test('two Message-Authenticators or a short one are refused', () => {
    const ra = random(16);
    const two = encodePacket({
      code: RadiusCode.ACCESS_ACCEPT,
      identifier: 1,
      authenticator: ra,
      attributes: [
        { type: RadiusAttr.MESSAGE_AUTHENTICATOR, value: new Uint8Array(16) },
        { type: RadiusAttr.MESSAGE_AUTHENTICATOR, value: new Uint8Array(16) },
      ],
    });
    expect(two.ok && verifyPacket(withResponseAuthenticator(two.value, ra), secret, ra)).toMatchObject({ ok: false, error: 'more than one Message-Authenticator' });
    const short = encodePacket({ code: RadiusCode.ACCESS_ACCEPT, identifier: 1, authenticator: ra, attributes: [{ type: RadiusAttr.MESSAGE_AUTHENTICATOR, value: new Uint8Array(8) }] });
    expect(short.ok && verifyPacket(withResponseAuthenticator(short.value, ra), secret, ra)).toMatchObject({ ok: false, error: 'Message-Authenticator is not 16 octets' });
  });
});

/**
 * A correct MD5 authenticator over the octets as they are (with `field` in the Authenticator: the request's for a
 * response, zeros for a hashed request), so only the Message-Authenticator rules can fail.
 */
function withResponseAuthenticator(raw: Uint8Array, field: Uint8Array): Uint8Array {
  const out = raw.slice();
  out.set(field, 4);
  out.set(md5(out, secret), 4);
  return out;
}

describe('malformed packets never throw and are refused', () => {
  test.each([
    ['empty', ''],
    ['19 octets', '01'.repeat(19)],
    ['Length below 20', '0100001300000000000000000000000000000000'],
    ['Length beyond the datagram', '0100001500000000000000000000000000000000'],
    ['Length above 4096', '01001001' + '00'.repeat(16)],
    ['attribute length 0', '01000016' + '00'.repeat(16) + '0100'],
    ['attribute length 1', '01000016' + '00'.repeat(16) + '0101'],
    ['attribute past the end', '01000017' + '00'.repeat(16) + '010500'],
    ['lone attribute type octet', '01000015' + '00'.repeat(16) + '01'],
  ])('%s', (_n, h) => {
    const d = decodePacket(hex(h));
    expect(d.ok).toBe(false);
  });

  test('octets beyond Length are padding and ignored', () => {
    const padded = new Uint8Array(RFC_ACCEPT.length + 10);
    padded.set(RFC_ACCEPT);
    expect(decodePacket(padded).ok).toBe(true);
    expect(verifyPacket(padded, secret, RFC_REQUEST_AUTH).ok).toBe(true);
  });

  test('mutation fuzz: decode and verify never throw', () => {
    const rnd = seededRandom('radius-fuzz');
    for (let i = 0; i < 3000; i++) {
      const b = RFC_ACCEPT.slice(0, (rnd(1)[0] ?? 0) % (RFC_ACCEPT.length + 1));
      const flips = (rnd(1)[0] ?? 0) % 4;
      for (let f = 0; f < flips && b.length; f++) {
        const pos = ((rnd(2)[0] ?? 0) << 8 | (rnd(1)[0] ?? 0)) % b.length;
        b[pos] = rnd(1)[0] ?? 0;
      }
      expect(() => {
        decodePacket(b);
        verifyPacket(b, secret, RFC_REQUEST_AUTH);
      }).not.toThrow();
    }
  });
});

describe('encoding limits', () => {
  const ra = new Uint8Array(16);
  test('an attribute value over 253 octets is refused', () => {
    expect(encodePacket({ code: 1, identifier: 0, authenticator: ra, attributes: [{ type: 1, value: new Uint8Array(254) }] })).toMatchObject({ ok: false });
    expect(encodePacket({ code: 1, identifier: 0, authenticator: ra, attributes: [{ type: 1, value: new Uint8Array(253) }] }).ok).toBe(true);
  });
  test('a packet over 4096 octets is refused, 4096 is fine', () => {
    const attrs = (n: number) => Array.from({ length: n }, () => ({ type: 79, value: new Uint8Array(253) }));
    // 20 + 16 × 255 = 4100 > 4096; 20 + 15 × 255 + 2 + 249 = 4096.
    expect(encodePacket({ code: 1, identifier: 0, authenticator: ra, attributes: attrs(16) })).toMatchObject({ ok: false, error: expect.stringContaining('4096') });
    const fits = encodePacket({ code: 1, identifier: 0, authenticator: ra, attributes: [...attrs(15), { type: 79, value: new Uint8Array(249) }] });
    expect(fits.ok && fits.value.length).toBe(4096);
  });
  test('User-Password: 128 octets at most, padded to 16', () => {
    expect(hideUserPassword(new Uint8Array(129), secret, ra).ok).toBe(false);
    const h = hideUserPassword(utf8Bytes('a'.repeat(40)), secret, ra);
    expect(h.ok && h.value.length).toBe(48);
    const back = h.ok ? unhideUserPassword(h.value, secret, ra) : null;
    expect(back?.ok && new TextDecoder().decode(back.value)).toBe('a'.repeat(40));
    const empty = hideUserPassword(new Uint8Array(0), secret, ra);
    expect(empty.ok && empty.value.length).toBe(16);
    expect(unhideUserPassword(new Uint8Array(17), secret, ra).ok).toBe(false);
  });
});
