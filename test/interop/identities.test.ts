// Interop: strongSwan 5.9 clients → Outpost with RFC 7296 §3.5 identity types other than FQDN (RFC822, IPv4, KEY_ID, DER_ASN1_DN).
//
//   netns cl: client charon (vips = 0.0.0.0)  ──IKE──▶  netns gw: outpost gateway (pool 203.0.113.0/24)
//
// One Outpost process holds a connection per identity type; each case initiates from strongSwan, checks that
// `swanctl --list-sas` shows the IKE SA ESTABLISHED with the expected identities on both ends, and that
// Outpost's ike.up record names the client's identity with its type. The gateway's own identity is of the same
// type where that is meaningful (IPv4 for the IPv4 case, a DN for the DN case), so IDr is exercised as well.
// Certificates come from strongSwan's `pki`. OUTPOST_INTEROP_GATEWAY=strongswan runs the cases against charon.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createTopology, type Topology } from '../support/netns.ts';
import { outpostCliExists } from '../support/outpost-process.ts';
import { Charon, type SwanSection } from '../support/strongswan.ts';
import { SwanPki } from '../support/strongswan-pki.ts';
import { gatewayKind, startGateway, type GatewaySpec, type GatewayUnderTest } from './gateway-under-test.ts';
import { interopSkipReason } from './interop-support.ts';

const KIND = gatewayKind();
const skip = interopSkipReason();

const IKE = 'aes256gcm16-prfsha256-x25519';
const ESP = 'aes256gcm16';
const CLIENT_DN = 'C=CH, O=Outpost, CN=client';
const GW_DN = 'C=CH, O=Outpost, CN=gateway';

/** The same identity in Outpost's typed config syntax and in strongSwan's (for the reference gateway). */
function gwSideId(outpost: string, swan: string): string {
  return KIND === 'outpost' ? outpost : swan;
}

interface Case {
  name: string;
  conn: string;
  /** What strongSwan's list-sas shows as local-id (the client) and remote-id (the gateway). */
  clientShown: string;
  gwShown: string;
  /** Outpost's ike.up remoteId (type-prefixed) for the client. */
  outpostRemoteId: string;
  outpostLocalId: string;
}

const CASES: Case[] = [
  {
    name: 'PSK with an RFC822 (email) identity',
    conn: 'email',
    clientShown: 'alice@outpost.test',
    gwShown: 'gw.outpost.test',
    outpostRemoteId: 'email:alice@outpost.test',
    outpostLocalId: 'fqdn:gw.outpost.test',
  },
  {
    name: 'PSK with IPv4 address identities on both sides',
    conn: 'ipv4',
    clientShown: ADDR.cl,
    gwShown: ADDR.gwOuter,
    outpostRemoteId: `ipv4:${ADDR.cl}`,
    outpostLocalId: `ipv4:${ADDR.gwOuter}`,
  },
  {
    name: 'PSK with a KEY_ID identity',
    conn: 'keyid',
    clientShown: '0a:0b:0c', // strongSwan prints a binary KEY_ID as colon-separated hex
    gwShown: 'gw.outpost.test',
    outpostRemoteId: 'keyid:0a0b0c',
    outpostLocalId: 'fqdn:gw.outpost.test',
  },
  {
    name: 'certificates with DER_ASN1_DN identities (the subjects) on both sides',
    conn: 'dn',
    clientShown: CLIENT_DN,
    gwShown: GW_DN,
    outpostRemoteId: `dn:${CLIENT_DN}`,
    outpostLocalId: `dn:${GW_DN}`,
  },
  {
    name: 'a certificate with the email identity in its SAN',
    conn: 'certmail',
    clientShown: 'carol@outpost.test',
    gwShown: 'gw.outpost.test',
    outpostRemoteId: 'email:carol@outpost.test',
    outpostLocalId: 'fqdn:gw.outpost.test',
  },
];

describe.skipIf(skip !== undefined)(`identity types: strongSwan client → ${KIND === 'outpost' ? 'Outpost' : 'charon (reference)'}`, () => {
  let topo: Topology;
  let client: Charon;
  let gw: GatewayUnderTest;

  beforeAll(async () => {
    if (KIND === 'outpost' && !outpostCliExists()) throw new Error('firmware/bin/outpost.ts does not exist yet');
    topo = await createTopology('identities');
    const pki = new SwanPki(`${topo.dir}/pki`);
    const ca = pki.makeCa('Identities CA', 'ecdsa256');
    const gwFqdnCert = pki.issue(ca, 'gw.outpost.test', 'ecdsa256', { flags: ['serverAuth'] });
    const gwDnCert = pki.issue(ca, 'gw-dn', 'ecdsa256', { dn: GW_DN, sans: [], flags: ['serverAuth'] });
    // Subject only, no SAN: the DN identity can only be bound through the subject.
    const clientDnCert = pki.issue(ca, 'client-dn', 'ecdsa256', { dn: CLIENT_DN, sans: [], flags: ['clientAuth'] });
    const clientMailCert = pki.issue(ca, 'client-mail', 'ed25519', {
      dn: 'C=CH, O=Outpost, CN=Carol',
      sans: ['carol@outpost.test'],
      flags: ['clientAuth'],
    });

    const child = [{ name: 'net', localTs: [ADDR.innerNet], remoteTs: ['dynamic'], espProposals: [ESP] }];
    const base = { ikeProposals: [IKE], pools: ['rw'], children: child };
    const spec: GatewaySpec = {
      pools: [{ name: 'rw', cidr: ADDR.vipNet }],
      cas: [{ name: 'ids', cert: ca }],
      conns: [
        {
          name: 'rw-email',
          localId: gwSideId('fqdn:gw.outpost.test', 'gw.outpost.test'),
          localAuth: 'psk',
          remoteId: gwSideId('email:alice@outpost.test', 'alice@outpost.test'),
          remoteAuth: 'psk',
          psk: 'identities-email-3c1f9a7e52',
          ...base,
        },
        {
          name: 'rw-ipv4',
          localId: gwSideId(`ipv4:${ADDR.gwOuter}`, ADDR.gwOuter),
          localAuth: 'psk',
          remoteId: gwSideId(`ipv4:${ADDR.cl}`, ADDR.cl),
          remoteAuth: 'psk',
          psk: 'identities-ipv4-8b2d6e0f41',
          ...base,
        },
        {
          name: 'rw-keyid',
          localId: gwSideId('fqdn:gw.outpost.test', 'gw.outpost.test'),
          localAuth: 'psk',
          remoteId: gwSideId('keyid:0a0b0c', '@#0a0b0c'),
          remoteAuth: 'psk',
          psk: 'identities-keyid-5e7a0c9d13',
          ...base,
        },
        {
          name: 'rw-dn',
          localId: gwSideId(`dn:${GW_DN}`, GW_DN),
          localAuth: 'pubkey',
          cert: gwDnCert,
          remoteId: gwSideId(`dn:${CLIENT_DN}`, CLIENT_DN),
          remoteAuth: 'pubkey',
          cas: ['ids'],
          ...base,
        },
        {
          name: 'rw-certmail',
          localId: gwSideId('fqdn:gw.outpost.test', 'gw.outpost.test'),
          localAuth: 'pubkey',
          cert: gwFqdnCert,
          remoteId: '*@outpost.test',
          remoteAuth: 'pubkey',
          cas: ['ids'],
          ...base,
        },
      ],
    };

    const conns: SwanSection = {};
    const conn = (name: string, local: SwanSection, remote: SwanSection): void => {
      conns[name] = {
        version: 2,
        remote_addrs: ADDR.gwOuter,
        vips: '0.0.0.0',
        proposals: IKE,
        local,
        remote,
        children: { [`${name}-net`]: { remote_ts: ADDR.innerNet, esp_proposals: ESP } },
      };
    };
    conn('email', { auth: 'psk', id: 'alice@outpost.test' }, { auth: 'psk', id: 'gw.outpost.test' });
    conn('ipv4', { auth: 'psk', id: ADDR.cl }, { auth: 'psk', id: ADDR.gwOuter });
    conn('keyid', { auth: 'psk', id: '@#0a0b0c' }, { auth: 'psk', id: 'gw.outpost.test' });
    conn('dn', { auth: 'pubkey', id: CLIENT_DN, certs: 'client-dn.pem' }, { auth: 'pubkey', id: GW_DN, cacerts: 'ca.pem' });
    conn('certmail', { auth: 'pubkey', id: 'carol@outpost.test', certs: 'client-mail.pem' }, { auth: 'pubkey', id: 'gw.outpost.test', cacerts: 'ca.pem' });
    // Refusals: an email outside the accepted one, and a KEY_ID one octet off.
    conn('neg-email', { auth: 'psk', id: 'mallory@outpost.test' }, { auth: 'psk', id: 'gw.outpost.test' });
    conn('neg-keyid', { auth: 'psk', id: '@#0a0b0d' }, { auth: 'psk', id: 'gw.outpost.test' });

    client = await Charon.start(topo, 'cl', { name: 'client' });
    await client.configure(
      {
        connections: conns,
        secrets: {
          'ike-email': { id: 'alice@outpost.test', id_gw: 'gw.outpost.test', secret: 'identities-email-3c1f9a7e52' },
          'ike-ipv4': { id: ADDR.cl, id_gw: ADDR.gwOuter, secret: 'identities-ipv4-8b2d6e0f41' },
          'ike-keyid': { id: '@#0a0b0c', id_gw: 'gw.outpost.test', secret: 'identities-keyid-5e7a0c9d13' },
          'ike-neg-email': { id: 'mallory@outpost.test', id_gw: 'gw.outpost.test', secret: 'identities-email-3c1f9a7e52' },
          'ike-neg-keyid': { id: '@#0a0b0d', id_gw: 'gw.outpost.test', secret: 'identities-keyid-5e7a0c9d13' },
        },
      },
      {
        x509: { 'client-dn.pem': clientDnCert.certPem, 'client-mail.pem': clientMailCert.certPem },
        x509ca: { 'ca.pem': ca.certPem },
        private: { 'client-dn.key': clientDnCert.key.pem, 'client-mail.key': clientMailCert.key.pem },
      },
    );
    gw = await startGateway(topo, 'gw', spec, { localAddr: ADDR.gwOuter });
  });

  afterEach(async () => {
    if (client) await client.terminateAll();
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  for (const c of CASES) {
    it(`${c.name}: IKE SA established, both ends report the identities`, async () => {
      const gwMark = gw.mark();
      const clMark = client.logMark();
      const r = await client.initiate(`${c.conn}-net`, { ike: c.conn, timeoutSec: 10 });
      const diag = () => `\n--- swanctl ---\n${r.output}\n${client.logSince(clMark).split('\n').slice(-60).join('\n')}\n${gw.tail()}`;
      expect(r.ok, `initiate ${c.conn} failed${diag()}`).toBe(true);

      const sas = await client.listSas({ ike: c.conn });
      expect(sas, diag()).toHaveLength(1);
      const sa = sas[0]!;
      expect(sa.state).toBe('ESTABLISHED');
      expect(sa.localId, 'strongSwan’s own identity').toBe(c.clientShown);
      expect(sa.remoteId, 'the gateway identity strongSwan authenticated').toBe(c.gwShown);
      expect(sa.localVips).toHaveLength(1);
      expect(sa.children[0]?.state).toBe('INSTALLED');
      expect(sa.children[0]?.localTs).toEqual([`${sa.localVips[0]}/32`]);

      const up = await gw.waitIkeUp(gwMark, KIND === 'outpost' ? c.outpostRemoteId : c.clientShown);
      if (KIND === 'outpost') {
        const rec = JSON.parse(up) as Record<string, unknown>;
        expect(rec.remoteId, up).toBe(c.outpostRemoteId);
        expect(rec.localId, up).toBe(c.outpostLocalId);
        expect(rec.conn, up).toBe(`rw-${c.conn}`);
      }
      await gw.waitChildUp(gwMark, sa.localVips[0]);
    }, 45_000);
  }

  it('the DN case authenticated with the certificate strongSwan sent (subject, no SAN)', async () => {
    const clMark = client.logMark();
    const r = await client.initiate('dn-net', { ike: 'dn', timeoutSec: 10 });
    expect(r.ok, r.output).toBe(true);
    const log = client.logSince(clMark);
    expect(log).toMatch(/sending end entity cert "C=CH, O=Outpost, CN=client"/);
    expect(log).toMatch(/received end entity cert "C=CH, O=Outpost, CN=gateway"/);
    expect(log).toMatch(/authentication of 'C=CH, O=Outpost, CN=gateway' with/);
  }, 45_000);

  for (const n of [
    { conn: 'neg-email', what: 'an email the gateway does not accept', outpostId: 'email:mallory@outpost.test', swanId: 'mallory@outpost.test' },
    { conn: 'neg-keyid', what: 'a KEY_ID one octet off', outpostId: 'keyid:0a0b0d', swanId: '0a:0b:0d' },
  ]) {
    it(`${n.what} is refused with AUTHENTICATION_FAILED and a reason naming the identity`, async () => {
      const gwMark = gw.mark();
      const clMark = client.logMark();
      const r = await client.initiate(`${n.conn}-net`, { ike: n.conn, timeoutSec: 10 });
      const clLog = client.logSince(clMark);
      const diag = `\n${r.output}\n${clLog.split('\n').slice(-30).join('\n')}\n--- gateway ---\n${gw.logSince(gwMark)}`;
      expect(r.ok, `accepted a client it must refuse${diag}`).toBe(false);
      expect(clLog, diag).toMatch(/received AUTHENTICATION_FAILED notify error/);
      if (KIND === 'outpost') {
        await gw.waitFailure(gwMark, /no connection accepts PSK auth/, 5000);
        // The auth.failed record carries the reason; the one warn line also names the identity that was refused.
        const warns = gw
          .logSince(gwMark)
          .split('\n')
          .map((l) => JSON.parse(l) as { level?: string; msg?: string })
          .filter((l) => l.level === 'warn' && l.msg?.startsWith('auth failed:'));
        expect(warns.map((l) => l.msg), diag).toEqual([`auth failed: no connection accepts PSK auth to fqdn:gw.outpost.test for peer ${n.outpostId} from ${ADDR.cl}`]);
      } else {
        await gw.waitFailure(gwMark, new RegExp(`looking for peer configs matching .*\\[${n.swanId.replace(/[.]/g, '\\.')}\\]`), 5000);
        // charon may pick the certificate connection by identity first and refuse it for the auth class.
        await gw.waitFailure(gwMark, /no matching peer config found|no alternative config found/, 5000);
      }
      expect(await client.listSas({ ike: n.conn })).toEqual([]);
      expect(gw.isRunning()).toBe(true);
    }, 45_000);
  }
});
