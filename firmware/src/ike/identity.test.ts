// Tests for IKE identity parsing, formatting and matching (RFC 7296 §3.5).
import { describe, expect, test } from 'vitest';
import { IdType } from './constants.ts';
import { dnEquals, formatIdentity, formatIpv6, identityKey, identityMatches, parseIdentity, parseIpv6, type Identity } from './identity.ts';

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ascii = (s: string) => new TextEncoder().encode(s);

function id(spec: string): Identity {
  const r = parseIdentity(spec);
  if (!r.ok) throw new Error(`${spec}: ${r.error}`);
  return r.value;
}

describe('parseIdentity', () => {
  test.each([
    ['fqdn:gw.example', IdType.ID_FQDN, toHex(ascii('gw.example'))],
    ['gw.example', IdType.ID_FQDN, toHex(ascii('gw.example'))],
    ['@gw.example', IdType.ID_FQDN, toHex(ascii('gw.example'))],
    ['email:alice@example.com', IdType.ID_RFC822_ADDR, toHex(ascii('alice@example.com'))],
    ['rfc822:alice@example.com', IdType.ID_RFC822_ADDR, toHex(ascii('alice@example.com'))],
    ['alice@example.com', IdType.ID_RFC822_ADDR, toHex(ascii('alice@example.com'))],
    ['@@alice@example.com', IdType.ID_RFC822_ADDR, toHex(ascii('alice@example.com'))],
    ['ipv4:192.0.2.1', IdType.ID_IPV4_ADDR, 'c0000201'],
    ['198.51.100.7', IdType.ID_IPV4_ADDR, 'c6336407'],
    ['ipv6:2001:db8::1', IdType.ID_IPV6_ADDR, '20010db8000000000000000000000001'],
    ['2001:db8::1', IdType.ID_IPV6_ADDR, '20010db8000000000000000000000001'],
    ['::ffff:192.0.2.1', IdType.ID_IPV6_ADDR, '00000000000000000000ffffc0000201'],
    ['keyid:0a0B:ff', IdType.ID_KEY_ID, '0a0bff'],
    ['@#0102', IdType.ID_KEY_ID, '0102'],
  ])('%s', (spec, idType, dataHex) => {
    const v = id(spec);
    expect(v.idType).toBe(idType);
    expect(toHex(v.data)).toBe(dataHex);
  });

  test('a DN becomes a DER Name with one RDN per attribute in the given order', () => {
    // SEQUENCE { SET { C PrintableString "CH" } SET { O "Outpost" } SET { CN "gw.example" } }
    const expected =
      '3034' + '310b300906035504061302' + '4348' + '3110300e060355040a1307' + toHex(ascii('Outpost')) + '31133011060355040313' + '0a' + toHex(ascii('gw.example'));
    expect(toHex(id('dn:C=CH, O=Outpost, CN=gw.example').data)).toBe(expected);
    expect(toHex(id('C=CH,O=Outpost,CN=gw.example').data)).toBe(expected);
    expect(id('asn1dn:C=CH, O=Outpost, CN=gw.example').idType).toBe(IdType.ID_DER_ASN1_DN);
  });

  test('DN values that are not PrintableString become UTF8String; emails IA5String; escapes work', () => {
    const utf = id('dn:O=Zürich AG, CN=gw');
    expect(toHex(utf.data)).toContain(`0c0a${toHex(ascii('Zürich AG'))}`);
    const email = id('dn:CN=gw, E=admin@example.com');
    expect(toHex(email.data)).toContain(`16${'11'}${toHex(ascii('admin@example.com'))}`);
    expect(formatIdentity(id('dn:O=Outpost\\, Inc., CN=gw'))).toBe('O=Outpost\\, Inc., CN=gw');
  });

  test.each([
    ['', /empty/],
    ['%any', /pattern/],
    ['*.example.com', /wildcards/],
    ['ipv4:256.1.1.1', /not an IPv4/],
    ['ipv4:1.2.3', /not an IPv4/],
    ['ipv4:01.2.3.4', /not an IPv4/],
    ['ipv6:1::2::3', /not an IPv6/],
    ['ipv6:1:2:3:4:5:6:7:8:9', /not an IPv6/],
    ['ipv6:12345::1', /not an IPv6/],
    ['keyid:abc', /not hex/],
    ['keyid:zz', /not hex/],
    ['dn:XX=1, CN=a', /unknown DN attribute type "XX"/],
    ['dn:C=CH,, CN=a', /empty component/],
    ['dn:CN', /not TYPE=value/],
    ['dn:CN=', /empty value/],
    ['fqdn:gw example', /spaces/],
    ['email:nobody', /has no "@"/],
  ])('rejects %j', (spec, error) => {
    const r = parseIdentity(spec);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(error);
  });
});

describe('formatIdentity', () => {
  test.each([
    ['gw.example', 'gw.example'],
    ['alice@example.com', 'alice@example.com'],
    ['192.0.2.1', '192.0.2.1'],
    ['ipv6:2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['dn:C=CH,O=Outpost,  CN=gw.example', 'C=CH, O=Outpost, CN=gw.example'],
    ['dn:C=CH, ST=Zug, L=Zug, OU=IT, CN=gw, E=a@b.c, DC=example, UID=u1, 2.5.4.97=VATCH-1', 'C=CH, ST=Zug, L=Zug, OU=IT, CN=gw, E=a@b.c, DC=example, UID=u1, 2.5.4.97=VATCH-1'],
    ['keyid:0a0b', 'keyid:0a0b'],
    // Would parse back as another type without the prefix.
    ['fqdn:192.0.2.1', 'fqdn:192.0.2.1'],
    ['fqdn:a=b', 'fqdn:a=b'],
    ['fqdn:a@b', 'fqdn:a@b'],
    ['email:x=y@example.com', 'email:x=y@example.com'],
  ])('%s → %s and back', (spec, text) => {
    const v = id(spec);
    expect(formatIdentity(v)).toBe(text);
    const back = id(text);
    expect(back.idType).toBe(v.idType);
    expect(toHex(back.data)).toBe(toHex(v.data));
  });

  test('undecodable data is shown as hex, not thrown', () => {
    expect(formatIdentity({ idType: IdType.ID_DER_ASN1_DN, data: new Uint8Array([0x30, 0x05, 1]) })).toBe('dn:#300501');
    expect(formatIdentity({ idType: IdType.ID_IPV4_ADDR, data: new Uint8Array([1, 2]) })).toBe('#0102');
    expect(formatIdentity({ idType: IdType.ID_DER_ASN1_GN, data: new Uint8Array([0xab]) })).toBe('gn:ab');
  });

  test.each([
    ['::', '::'],
    ['::1', '::1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['fe80::', 'fe80::'],
  ])('IPv6 %s is printed per RFC 5952 as %s', (input, out) => {
    expect(formatIpv6(parseIpv6(input) as Uint8Array)).toBe(out);
  });
});

describe('identityMatches', () => {
  test('%any matches every identity', () => {
    expect(identityMatches('%any', id('gw.example'))).toBe(true);
    expect(identityMatches('%any', id('dn:CN=x'))).toBe(true);
  });

  test('exact matches; FQDN and email ignore case; types must agree', () => {
    expect(identityMatches('GW.Example', id('gw.example'))).toBe(true);
    expect(identityMatches('gw.example', id('gw2.example'))).toBe(false);
    expect(identityMatches('Alice@Example.com', id('alice@example.com'))).toBe(true);
    expect(identityMatches('192.0.2.1', id('192.0.2.1'))).toBe(true);
    expect(identityMatches('192.0.2.1', id('192.0.2.2'))).toBe(false);
    expect(identityMatches('fqdn:192.0.2.1', id('192.0.2.1'))).toBe(false);
    expect(identityMatches('keyid:0102', id('keyid:0102'))).toBe(true);
    expect(identityMatches('keyid:0102', id('keyid:0103'))).toBe(false);
  });

  test('leading wildcards for FQDN and email', () => {
    expect(identityMatches('*.example.com', id('a.example.com'))).toBe(true);
    expect(identityMatches('*.example.com', id('a.b.EXAMPLE.com'))).toBe(true);
    expect(identityMatches('*.example.com', id('example.com'))).toBe(false);
    expect(identityMatches('*.example.com', id('badexample.com'))).toBe(false);
    expect(identityMatches('*@example.com', id('bob@example.com'))).toBe(true);
    expect(identityMatches('*@example.com', id('bob@example.org'))).toBe(false);
    expect(identityMatches('*@example.com', id('example.com'))).toBe(false);
  });

  test('DNs compare normalized, and RDN values may be wildcards', () => {
    const dn = id('dn:C=CH, O=Outpost, CN=gw.example');
    expect(identityMatches('C=ch,  o=OUTPOST, CN=GW.example', dn)).toBe(true);
    expect(identityMatches('C=CH, O=Outpost, CN=*', dn)).toBe(true);
    expect(identityMatches('C=CH, O=Other, CN=*', dn)).toBe(false);
    expect(identityMatches('C=CH, CN=gw.example', dn)).toBe(false);
    expect(identityMatches('O=Outpost, C=CH, CN=gw.example', dn)).toBe(false);
    expect(dnEquals(dn.data, id('dn:C=CH, O=Outpost, CN=gw.example').data)).toBe(true);
    expect(dnEquals(dn.data, new Uint8Array([0x30]))).toBe(false);
  });

  test('malformed patterns match nothing', () => {
    expect(identityMatches('ipv4:999.1.1.1', id('192.0.2.1'))).toBe(false);
    expect(identityMatches('', id('gw.example'))).toBe(false);
    expect(identityMatches('*.a.*', id('x.a.b'))).toBe(false);
  });

  test('identityKey is the same for identities that match each other, and differs otherwise', () => {
    expect(identityKey(id('email:Alice@Outpost.test'))).toBe(identityKey(id('email:alice@outpost.test')));
    expect(identityKey(id('fqdn:Client.OUTPOST.test'))).toBe('fqdn:client.outpost.test');
    expect(identityKey(id('dn:C=ch,  O=OUTPOST , CN=GW.example'))).toBe(identityKey(id('dn:C=CH, O=Outpost, CN=gw.example')));
    expect(identityKey(id('dn:C=CH, O=Outpost, CN=gw.example'))).not.toBe(identityKey(id('dn:C=CH, O=Outpost, CN=gw2.example')));
    // Same text, different types: different keys.
    expect(identityKey(id('fqdn:outpost.test'))).not.toBe(identityKey(id('keyid:0x01')));
    expect(identityKey(id('email:a@b.test'))).not.toBe(identityKey(id('fqdn:a@b.test')));
    expect(identityKey(id('192.0.2.1'))).toBe('ipv4:192.0.2.1');
  });
});
