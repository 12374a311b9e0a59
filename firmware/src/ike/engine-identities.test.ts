// Engine end to end with every ID type of RFC 7296 §3.5 (FQDN, RFC822, IPv4, IPv6, DER_ASN1_DN, KEY_ID), patterns and refusals.
import { describe, expect, test } from 'vitest';
import { certPair, pskPair, testPki } from './testing/pairs.ts';
import { Pair } from './testing/pair.ts';
import { CLIENT_ADDR, GW_ADDR, child, clientConn, conn, gateway } from './testing/config.ts';
import { IdType } from './constants.ts';
import { parseIdentity } from './identity.ts';
import type { ValidateChainRequest } from './io.ts';

const CLIENT_DN = 'C=CH, O=Outpost Test, CN=client.outpost.test';

/** A PSK pair where the client calls itself `clientId` and the gateway accepts `gwAccepts`. */
function idPair(clientId: string, gwAccepts: string, extra: { gwId?: string; clientExpects?: string } = {}): Pair {
  return pskPair({
    client: {
      local: { id: clientId, auth: 'psk' },
      ...(extra.clientExpects ? { remote: { id: extra.clientExpects, auth: 'psk', cas: [] } } : {}),
    },
    gw: {
      remote: { id: gwAccepts, auth: 'psk', cas: [] },
      ...(extra.gwId ? { local: { id: extra.gwId, auth: 'psk' } } : {}),
    },
  });
}

function idOf(spec: string): { idType: number; data: Uint8Array } {
  const p = parseIdentity(spec);
  if (!p.ok) throw new Error(p.error);
  return p.value;
}

function chainRequests(pair: Pair, side: 'a' | 'b'): ValidateChainRequest[] {
  return pair[side].effects.flatMap((e) => (e.type === 'pki.validateChain' ? [e.request] : []));
}

describe('PSK with each identity type', () => {
  const cases: { name: string; id: string; shown: string; idType: number; data: number[] }[] = [
    { name: 'RFC822 (email)', id: 'email:alice@outpost.test', shown: 'email:alice@outpost.test', idType: IdType.ID_RFC822_ADDR, data: [...new TextEncoder().encode('alice@outpost.test')] },
    { name: 'IPv4 address', id: 'ipv4:192.0.2.2', shown: 'ipv4:192.0.2.2', idType: IdType.ID_IPV4_ADDR, data: [192, 0, 2, 2] },
    { name: 'IPv6 address', id: 'ipv6:2001:db8::2', shown: 'ipv6:2001:db8::2', idType: IdType.ID_IPV6_ADDR, data: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2] },
    { name: 'KEY_ID', id: 'keyid:0a0b0c', shown: 'keyid:0a0b0c', idType: IdType.ID_KEY_ID, data: [0x0a, 0x0b, 0x0c] },
    { name: 'FQDN', id: 'fqdn:client.outpost.test', shown: 'fqdn:client.outpost.test', idType: IdType.ID_FQDN, data: [...new TextEncoder().encode('client.outpost.test')] },
  ];
  for (const c of cases) {
    test(`${c.name}: the gateway accepts exactly that identity and both sides report it`, async () => {
      // The identity's bytes as the wire carries them (RFC 7296 §3.5): a sanity check of the config syntax.
      expect(idOf(c.id)).toEqual({ idType: c.idType, data: Uint8Array.from(c.data) });
      const pair = idPair(c.id, c.id);
      await pair.initiate('to-gw');
      expect(pair.b.eventsOf('ike.up')[0]).toMatchObject({ conn: 'rw', remoteId: c.shown, localId: 'fqdn:gw.outpost.test' });
      expect(pair.a.eventsOf('ike.up')[0]).toMatchObject({ localId: c.shown, remoteId: 'fqdn:gw.outpost.test' });
      expect(pair.b.engine.listSas()[0]).toMatchObject({ state: 'established', remoteId: c.shown });
      expect(pair.b.eventsOf('child.up')).toHaveLength(1);
      expect(pair.b.logs('warn')).toEqual([]);
    });
  }

  test('IPv4 and IPv6 identities also work as the gateway identity (IDr) the client insists on', async () => {
    for (const gwId of ['ipv4:192.0.2.1', 'ipv6:2001:db8::1']) {
      const pair = idPair('fqdn:client.outpost.test', '%any', { gwId, clientExpects: gwId });
      await pair.initiate('to-gw');
      expect(pair.a.eventsOf('ike.up')[0]).toMatchObject({ remoteId: gwId });
      expect(pair.b.eventsOf('ike.up')[0]).toMatchObject({ localId: gwId });
    }
  });

  test('a bare IP or "@#hex" spelling means the same identity as the typed one', async () => {
    const pair = idPair('2001:db8::2', 'ipv6:2001:0db8:0:0::2');
    await pair.initiate('to-gw');
    expect(pair.b.eventsOf('ike.up')[0]?.remoteId).toBe('ipv6:2001:db8::2');
    const k = idPair('@#0a0b0c', 'keyid:0A:0B:0C');
    await k.initiate('to-gw');
    expect(k.b.eventsOf('ike.up')[0]?.remoteId).toBe('keyid:0a0b0c');
  });
});

describe('patterns', () => {
  test('"*@outpost.test" accepts any email address in that domain, case-insensitively', async () => {
    for (const id of ['email:alice@outpost.test', 'email:Bob@OUTPOST.test']) {
      const pair = idPair(id, '*@outpost.test');
      await pair.initiate('to-gw');
      expect(pair.b.eventsOf('ike.up')[0]?.remoteId).toBe(id);
    }
  });

  test('"*.outpost.test" accepts any FQDN below the domain', async () => {
    for (const id of ['fqdn:client.outpost.test', 'fqdn:a.b.outpost.test']) {
      const pair = idPair(id, '*.outpost.test');
      await pair.initiate('to-gw');
      expect(pair.b.eventsOf('ike.up')[0]?.remoteId).toBe(id);
    }
  });

  test('the first connection whose pattern matches is chosen', async () => {
    const pair = new Pair({
      a: gateway(CLIENT_ADDR, [clientConn({ local: { id: 'email:alice@outpost.test', auth: 'psk' } })]),
      b: gateway(GW_ADDR, [
        conn({ name: 'hosts', remote: { id: '*.outpost.test', auth: 'psk', cas: [] } }),
        conn({ name: 'users', remote: { id: '*@outpost.test', auth: 'psk', cas: [] } }),
      ]),
      aAddr: CLIENT_ADDR,
      bAddr: GW_ADDR,
      seed: 'patterns',
    });
    await pair.initiate('to-gw');
    expect(pair.b.eventsOf('ike.up')[0]).toMatchObject({ conn: 'users', remoteId: 'email:alice@outpost.test' });
  });
});

describe('mismatches are refused with a one-line reason', () => {
  const refusals: { name: string; client: string; gw: string; shown: string }[] = [
    { name: 'an email in another domain', client: 'email:alice@elsewhere.test', gw: '*@outpost.test', shown: 'email:alice@elsewhere.test' },
    { name: 'an email one level below the domain', client: 'email:alice@sub.outpost.test', gw: '*@outpost.test', shown: 'email:alice@sub.outpost.test' },
    { name: 'an FQDN that only ends in the same letters', client: 'fqdn:evil-outpost.test', gw: '*.outpost.test', shown: 'fqdn:evil-outpost.test' },
    { name: 'the bare domain for a "*." pattern', client: 'fqdn:outpost.test', gw: '*.outpost.test', shown: 'fqdn:outpost.test' },
    { name: 'an email where an FQDN pattern is configured', client: 'email:client@outpost.test', gw: '*.outpost.test', shown: 'email:client@outpost.test' },
    { name: 'another IPv4 address', client: 'ipv4:192.0.2.3', gw: 'ipv4:192.0.2.2', shown: 'ipv4:192.0.2.3' },
    { name: 'the right address as an FQDN', client: 'fqdn:192.0.2.2', gw: 'ipv4:192.0.2.2', shown: 'fqdn:192.0.2.2' },
    { name: 'another IPv6 address', client: 'ipv6:2001:db8::3', gw: 'ipv6:2001:db8::2', shown: 'ipv6:2001:db8::3' },
    { name: 'another key id', client: 'keyid:0a0b0d', gw: 'keyid:0a0b0c', shown: 'keyid:0a0b0d' },
    { name: 'a key id that is a prefix of the configured one', client: 'keyid:0a0b', gw: 'keyid:0a0b0c', shown: 'keyid:0a0b' },
  ];
  for (const r of refusals) {
    test(`${r.name} (${r.client} vs ${r.gw})`, async () => {
      const pair = idPair(r.client, r.gw);
      await pair.initiate('to-gw');
      // IKE_AUTH { IDi, IDr, AUTH, ... } -->   <-- IKE_AUTH { N(AUTHENTICATION_FAILED) }
      expect(pair.trace()).toEqual(['a>IKE_SA_INIT', 'b<IKE_SA_INIT', 'a>IKE_AUTH', 'b<IKE_AUTH']);
      expect(pair.b.logs('warn')).toEqual([`auth failed: no connection accepts PSK auth to fqdn:gw.outpost.test for peer ${r.shown} from ${CLIENT_ADDR}`]);
      expect(pair.b.eventsOf('auth.failed')).toHaveLength(1);
      expect(pair.a.eventsOf('ike.failed')[0]).toMatchObject({ notify: 24 });
      expect(pair.a.engine.listSas()).toEqual([]);
      expect(pair.b.engine.listSas()).toEqual([]);
      expect(pair.b.dp.sas.size).toBe(0);
    });
  }

  test('a gateway with another IPv4 identity than the client expects is refused by the client', async () => {
    const pair = idPair('fqdn:client.outpost.test', '%any', { gwId: 'ipv4:192.0.2.1', clientExpects: 'ipv4:192.0.2.9' });
    await pair.initiate('to-gw');
    // The client names 192.0.2.9 in IDr; the gateway is 192.0.2.1, so it finds no connection.
    expect(pair.b.logs('warn')).toEqual([`auth failed: no connection accepts PSK auth to ipv4:192.0.2.9 for peer fqdn:client.outpost.test from ${CLIENT_ADDR}`]);
    expect(pair.a.engine.listSas()).toEqual([]);
  });

  test('an IDr of another type than the gateway’s identity is refused (email vs FQDN)', async () => {
    const pair = idPair('fqdn:client.outpost.test', '%any', { clientExpects: 'email:gw@outpost.test' });
    await pair.initiate('to-gw');
    expect(pair.b.logs('warn')).toEqual([`auth failed: no connection accepts PSK auth to email:gw@outpost.test for peer fqdn:client.outpost.test from ${CLIENT_ADDR}`]);
  });
});

describe('certificates with DN, email and IP identities', () => {
  test('DER_ASN1_DN: the client uses its certificate subject as identity; the gateway matches the DN', async () => {
    const pki = testPki();
    expect(pki.client['ecdsa-p256'].subject).toBe(CLIENT_DN);
    const pair = certPair('ecdsa-p256', {
      client: { local: { id: `dn:${CLIENT_DN}`, auth: 'pubkey', certChain: [pki.client['ecdsa-p256'].der], privateKey: pki.client['ecdsa-p256'].keyDer } },
      // Spelled differently (case, spacing): DNs compare by attribute type and normalized value.
      gw: { remote: { id: 'dn:c=CH,o=outpost test,  cn=CLIENT.outpost.test', auth: 'pubkey', cas: [] } },
    });
    await pair.initiate('to-gw');
    expect(pair.b.eventsOf('ike.up')[0]).toMatchObject({ remoteId: `dn:${CLIENT_DN}` });
    expect(pair.a.eventsOf('ike.up')[0]).toMatchObject({ localId: `dn:${CLIENT_DN}` });
    const [req] = chainRequests(pair, 'b');
    expect(req?.identity).toEqual(idOf(`dn:${CLIENT_DN}`));
    expect(req?.identity.idType).toBe(IdType.ID_DER_ASN1_DN);
  });

  test('a DN pattern with "*" values accepts any CN under the organisation', async () => {
    const pki = testPki();
    const pair = certPair('ecdsa-p256', {
      client: { local: { id: `dn:${CLIENT_DN}`, auth: 'pubkey', certChain: [pki.client['ecdsa-p256'].der], privateKey: pki.client['ecdsa-p256'].keyDer } },
      gw: { remote: { id: 'dn:C=CH, O=Outpost Test, CN=*', auth: 'pubkey', cas: [] } },
    });
    await pair.initiate('to-gw');
    expect(pair.b.eventsOf('ike.up')[0]?.remoteId).toBe(`dn:${CLIENT_DN}`);
  });

  test('a DN pattern for another organisation is refused before the certificate is even checked', async () => {
    const pki = testPki();
    const pair = certPair('ecdsa-p256', {
      client: { local: { id: `dn:${CLIENT_DN}`, auth: 'pubkey', certChain: [pki.client['ecdsa-p256'].der], privateKey: pki.client['ecdsa-p256'].keyDer } },
      gw: { remote: { id: 'dn:C=CH, O=Elsewhere, CN=*', auth: 'pubkey', cas: [] } },
    });
    await pair.initiate('to-gw');
    expect(pair.b.logs('warn')).toEqual([`auth failed: no connection accepts signature auth to fqdn:gw.outpost.test for peer dn:${CLIENT_DN} from ${CLIENT_ADDR}`]);
    expect(chainRequests(pair, 'b')).toEqual([]);
    expect(pair.a.engine.listSas()).toEqual([]);
  });

  test('a DN the certificate’s subject does not carry is refused by chain validation', async () => {
    const pki = testPki();
    const claimed = 'C=CH, O=Outpost Test, CN=admin.outpost.test';
    const pair = certPair('ecdsa-p256', {
      client: { local: { id: `dn:${claimed}`, auth: 'pubkey', certChain: [pki.client['ecdsa-p256'].der], privateKey: pki.client['ecdsa-p256'].keyDer } },
    });
    await pair.initiate('to-gw');
    expect(pair.b.logs('warn')).toEqual([
      `auth failed: certificate not accepted (identity dn:${claimed} does not match certificate subject ${CLIENT_DN}) for peer dn:${claimed} from ${CLIENT_ADDR}`,
    ]);
    expect(pair.a.eventsOf('ike.failed')[0]).toMatchObject({ notify: 24 });
    expect(pair.b.engine.listSas()).toEqual([]);
  });

  test('RFC822: the email in the certificate SAN is an accepted identity', async () => {
    const pki = testPki();
    const pair = certPair('ed25519', {
      client: { local: { id: 'email:client@outpost.test', auth: 'pubkey', certChain: [pki.client.ed25519.der], privateKey: pki.client.ed25519.keyDer } },
      gw: { remote: { id: '*@outpost.test', auth: 'pubkey', cas: [] } },
    });
    await pair.initiate('to-gw');
    expect(pair.b.eventsOf('ike.up')[0]).toMatchObject({ remoteId: 'email:client@outpost.test' });
    expect(chainRequests(pair, 'b')[0]?.identity.idType).toBe(IdType.ID_RFC822_ADDR);
  });

  test('an email not in the certificate SAN is refused', async () => {
    const pki = testPki();
    const pair = certPair('ecdsa-p256', {
      client: { local: { id: 'email:mallory@outpost.test', auth: 'pubkey', certChain: [pki.client['ecdsa-p256'].der], privateKey: pki.client['ecdsa-p256'].keyDer } },
    });
    await pair.initiate('to-gw');
    expect(pair.b.logs('warn')).toEqual([
      `auth failed: certificate not accepted (identity email:mallory@outpost.test not in certificate SAN) for peer email:mallory@outpost.test from ${CLIENT_ADDR}`,
    ]);
  });

  test('IPv4: the gateway authenticates as its address, which its certificate carries as an iPAddress SAN', async () => {
    const pki = testPki();
    const pair = certPair('ecdsa-p256', {
      gw: { local: { id: 'ipv4:192.0.2.1', auth: 'pubkey', certChain: [pki.gw['ecdsa-p256'].der], privateKey: pki.gw['ecdsa-p256'].keyDer } },
      client: { remote: { id: '192.0.2.1', auth: 'pubkey', cas: [] } },
    });
    await pair.initiate('to-gw');
    expect(pair.a.eventsOf('ike.up')[0]).toMatchObject({ remoteId: 'ipv4:192.0.2.1' });
    expect(chainRequests(pair, 'a')[0]?.identity).toEqual({ idType: IdType.ID_IPV4_ADDR, data: Uint8Array.of(192, 0, 2, 1) });
  });

  test('an IPv4 identity the certificate has no iPAddress SAN for is refused by the client, which tells the gateway', async () => {
    const pki = testPki();
    const pair = certPair('ecdsa-p256', {
      gw: { local: { id: 'ipv4:192.0.2.9', auth: 'pubkey', certChain: [pki.gw['ecdsa-p256'].der], privateKey: pki.gw['ecdsa-p256'].keyDer } },
      client: { remote: { id: '%any', auth: 'pubkey', cas: [] } },
    });
    await pair.initiate('to-gw');
    expect(pair.a.logs('warn')).toEqual([`auth failed: certificate not accepted (identity ipv4:192.0.2.9 not in certificate SAN) for peer ipv4:192.0.2.9 from ${GW_ADDR}`]);
    expect(pair.trace().slice(4)).toEqual(['a>INFORMATIONAL', 'b<INFORMATIONAL']);
    expect(pair.b.engine.listSas()).toEqual([]);
  });

  test('a KEY_ID cannot be bound to a certificate: refused with that reason', async () => {
    const pki = testPki();
    const pair = certPair('ecdsa-p256', {
      client: { local: { id: 'keyid:0a0b0c', auth: 'pubkey', certChain: [pki.client['ecdsa-p256'].der], privateKey: pki.client['ecdsa-p256'].keyDer } },
    });
    await pair.initiate('to-gw');
    expect(pair.b.logs('warn')).toEqual([
      `auth failed: certificate not accepted (identity keyid:0a0b0c is a key id, which no certificate can carry) for peer keyid:0a0b0c from ${CLIENT_ADDR}`,
    ]);
  });
});

describe('IPv6 outer addresses', () => {
  test('IKE over IPv6 with IPv6 identities on both sides, IPv4 and IPv6 virtual IPs, leases per identity', async () => {
    const GW6 = '2001:db8:1::1';
    const CL6 = '2001:db8:1::2';
    const clientChild = child({ localTs: ['dynamic'], remoteTs: ['0.0.0.0/0', '::/0'] });
    const mkClient = (name: string, id: string) =>
      conn({
        name,
        remoteAddrs: [GW6],
        local: { id, auth: 'psk' },
        remote: { id: `ipv6:${GW6}`, auth: 'psk', cas: [] },
        vips: ['0.0.0.0', '::'],
        children: [clientChild],
      });
    const pair = new Pair({
      a: gateway(CL6, [mkClient('to-gw', `ipv6:${CL6}`), mkClient('to-gw-2', 'email:bob@outpost.test')]),
      b: gateway(
        GW6,
        [
          conn({
            local: { id: `ipv6:${GW6}`, auth: 'psk' },
            remote: { id: '%any', auth: 'psk', cas: [] },
            pools: ['v4', 'v6'],
            children: [child({ localTs: ['198.51.100.0/24', '2001:db8:2::/64'], remoteTs: ['dynamic'] })],
          }),
        ],
        {
          pools: [
            { name: 'v4', cidr: '203.0.113.0/24', dns: ['198.51.100.53'], domains: ['corp.outpost.test'] },
            { name: 'v6', cidr: '2001:db8:ff::/112', dns: ['2001:db8:2::53'], domains: [] },
          ],
        },
      ),
      aAddr: CL6,
      bAddr: GW6,
      seed: 'ipv6',
    });
    await pair.initiate('to-gw');
    expect(pair.b.eventsOf('ike.up')[0]).toMatchObject({ remoteId: `ipv6:${CL6}`, localId: `ipv6:${GW6}`, remote: { addr: CL6 } });
    const [childA] = pair.a.eventsOf('child.up');
    expect(childA?.virtualIp).toEqual(['203.0.113.1', '2001:db8:ff::1']);
    expect(childA?.localTs).toEqual(['203.0.113.1/32', '2001:db8:ff::1/128']);
    expect(pair.a.logs('info')).toContain('received virtual IP 203.0.113.1, 2001:db8:ff::1 (DNS 198.51.100.53, 2001:db8:2::53; domain corp.outpost.test)');
    const out = pair.a.dp.outbound()[0];
    expect(out).toMatchObject({ src: CL6, dst: GW6 });
    // Another identity gets the next addresses; the first one reconnecting gets its own back.
    for (const sa of pair.a.engine.listSas()) pair.absorb(pair.a, pair.a.engine.command({ type: 'terminate', ikeId: sa.ikeId }, pair.clock));
    await pair.run();
    expect(pair.b.engine.listSas()).toEqual([]);
    await pair.initiate('to-gw-2');
    await pair.initiate('to-gw');
    const vips = pair.a.eventsOf('child.up').map((c) => c.virtualIp);
    expect(vips).toEqual([
      ['203.0.113.1', '2001:db8:ff::1'],
      ['203.0.113.2', '2001:db8:ff::2'],
      ['203.0.113.1', '2001:db8:ff::1'],
    ]);
  });
});
