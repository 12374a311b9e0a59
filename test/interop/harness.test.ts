// Validates the interop harness itself: strongSwan ↔ strongSwan in namespaces (RFC 7296 PSK and RFC 7427 ECDSA).
//
// If this file fails, the machine or the harness is broken, not Outpost: every other interop suite relies on
// the topology, the charon driver, the `--list-sas` parser and the userspace (libipsec) tunnel shown here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createTopology, type Topology } from '../support/netns.ts';
import { Charon, parseListSas } from '../support/strongswan.ts';
import { SwanPki } from '../support/strongswan-pki.ts';
import { interopSkipReason } from './interop-support.ts';

describe('list-sas parser', () => {
  it('parses the raw vici rendering of an IKE SA with a CHILD SA', () => {
    const raw =
      'list-sa event {home {uniqueid=1 version=2 state=ESTABLISHED local-host=192.0.2.2 local-port=4500 ' +
      'local-id=C=US, O=Outpost Test, CN=client remote-host=192.0.2.1 remote-port=4500 remote-id=gw.example ' +
      'initiator=yes initiator-spi=00c6353bd4c8efdb responder-spi=79a54b869c7507bd nat-remote=yes nat-any=yes ' +
      'encr-alg=AES_GCM_16 encr-keysize=256 prf-alg=PRF_HMAC_SHA2_256 dh-group=CURVE_25519 established=0 ' +
      'rekey-time=13385 local-vips=[203.0.113.1] child-sas {net-1 {name=net uniqueid=1 reqid=1 state=INSTALLED ' +
      'mode=TUNNEL protocol=ESP encap=yes spi-in=d1513ba1 spi-out=fb746746 encr-alg=AES_CBC encr-keysize=256 ' +
      'integ-alg=HMAC_SHA2_256_128 dh-group=MODP_2048 local-ts=[203.0.113.1/32] remote-ts=[198.51.100.0/24 10.0.0.0/8]}}}}\n' +
      'list-sas reply {}\n';
    const [sa, ...rest] = parseListSas(raw);
    expect(rest).toHaveLength(0);
    expect(sa).toMatchObject({
      conn: 'home',
      state: 'ESTABLISHED',
      initiator: true,
      remoteId: 'gw.example',
      localPort: 4500,
      natRemote: true,
      natLocal: false,
      proposal: 'AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519',
      localVips: ['203.0.113.1'],
      remoteVips: [],
    });
    expect(sa!.localId).toBe('C=US, O=Outpost Test, CN=client');
    expect(sa!.children).toHaveLength(1);
    expect(sa!.children[0]).toMatchObject({
      name: 'net',
      state: 'INSTALLED',
      encap: true,
      spiIn: 'd1513ba1',
      proposal: 'AES_CBC_256/HMAC_SHA2_256_128/MODP_2048',
      localTs: ['203.0.113.1/32'],
      remoteTs: ['198.51.100.0/24', '10.0.0.0/8'],
    });
  });

  it('returns nothing for an empty listing', () => {
    expect(parseListSas('list-sas reply {}\n')).toEqual([]);
  });
});

const skip = interopSkipReason();

describe.skipIf(skip !== undefined)('strongSwan ↔ strongSwan through the namespace topology', () => {
  let topo: Topology;
  let gw: Charon;
  let cl: Charon;

  beforeAll(async () => {
    topo = await createTopology('harness');
    const pki = new SwanPki(`${topo.dir}/pki`);
    const ca = pki.makeCa('Harness CA', 'ecdsa256');
    const gwCert = pki.issue(ca, 'gw.example', 'ecdsa256', { flags: ['serverAuth'] });
    const clCert = pki.issue(ca, 'client-ecdsa.example', 'ecdsa256', { flags: ['clientAuth'] });
    [gw, cl] = await Promise.all([Charon.start(topo, 'gw', { name: 'gw' }), Charon.start(topo, 'cl', { name: 'cl' })]);
    const proposals = 'aes256gcm16-prfsha256-x25519';
    await gw.configure(
      {
        connections: {
          'rw-psk': {
            version: 2,
            local_addrs: ADDR.gwOuter,
            pools: 'vip',
            proposals,
            local: { auth: 'psk', id: 'gw-psk.example' },
            remote: { auth: 'psk', id: 'client-psk.example' },
            children: { net: { local_ts: ADDR.innerNet, esp_proposals: 'aes256gcm16' } },
          },
          'rw-cert': {
            version: 2,
            local_addrs: ADDR.gwOuter,
            pools: 'vip',
            proposals,
            local: { auth: 'pubkey', id: 'gw.example', certs: 'gw.pem' },
            remote: { auth: 'pubkey', id: 'client-ecdsa.example', cacerts: 'ca.pem' },
            children: { net: { local_ts: ADDR.innerNet, esp_proposals: 'aes256gcm16' } },
          },
        },
        secrets: { 'ike-psk': { id: 'client-psk.example', secret: 'harness-psk-0123456789' } },
        pools: { vip: { addrs: ADDR.vipNet } },
      },
      { x509: { 'gw.pem': gwCert.certPem }, x509ca: { 'ca.pem': ca.certPem }, private: { 'gw.key': gwCert.key.pem } },
    );
    await cl.configure(
      {
        connections: {
          psk: {
            version: 2,
            remote_addrs: ADDR.gwOuter,
            vips: '0.0.0.0',
            proposals,
            local: { auth: 'psk', id: 'client-psk.example' },
            remote: { auth: 'psk', id: 'gw-psk.example' },
            children: { 'psk-net': { remote_ts: ADDR.innerNet, esp_proposals: 'aes256gcm16' } },
          },
          ecdsa: {
            version: 2,
            remote_addrs: ADDR.gwOuter,
            vips: '0.0.0.0',
            proposals,
            local: { auth: 'pubkey', id: 'client-ecdsa.example', certs: 'client.pem' },
            remote: { auth: 'pubkey', id: 'gw.example', cacerts: 'ca.pem' },
            children: { 'ecdsa-net': { remote_ts: ADDR.innerNet, esp_proposals: 'aes256gcm16' } },
          },
        },
        secrets: { 'ike-psk': { id: 'gw-psk.example', secret: 'harness-psk-0123456789' } },
      },
      { x509: { 'client.pem': clCert.certPem }, x509ca: { 'ca.pem': ca.certPem }, private: { 'client.key': clCert.key.pem } },
    );
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  it('has no route to the LAN before a tunnel exists', async () => {
    const r = await topo.exec('cl', ['ping', '-n', '-c', '1', '-W', '1', ADDR.lan], { timeoutMs: 5000 });
    expect(r.code).not.toBe(0);
  });

  for (const [conn, child, remoteId] of [
    ['psk', 'psk-net', 'client-psk.example'],
    ['ecdsa', 'ecdsa-net', 'client-ecdsa.example'],
  ] as const) {
    it(`${conn}: establishes, narrows TSi to the virtual IP, and carries pings to the LAN`, async () => {
      const r = await cl.initiate(child, { ike: conn, timeoutSec: 10 });
      expect(r.ok, `${r.output}\n${cl.tail()}\n${gw.tail()}`).toBe(true);

      const sas = await cl.listSas({ ike: conn });
      expect(sas).toHaveLength(1);
      const sa = sas[0]!;
      expect(sa.state).toBe('ESTABLISHED');
      expect(sa.proposal).toBe('AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519');
      // kernel-libipsec fakes NAT-D, so the gateway sees a NATed client and both sides float to 4500.
      expect(sa.remotePort).toBe(4500);
      expect(sa.localVips).toHaveLength(1);
      const vip = sa.localVips[0]!;
      expect(vip).toMatch(/^203\.0\.113\.\d+$/);
      expect(sa.children).toHaveLength(1);
      expect(sa.children[0]).toMatchObject({ name: child, state: 'INSTALLED', encap: true, localTs: [`${vip}/32`], remoteTs: [ADDR.innerNet] });

      const gwSas = await gw.listSas();
      const mine = gwSas.find((s) => s.remoteId === remoteId);
      expect(mine?.state).toBe('ESTABLISHED');
      expect(mine?.remoteVips).toEqual([vip]);
      expect(mine?.children[0]?.spiOut).toBe(sa.children[0]!.spiIn);

      const ping = await topo.exec('cl', ['ping', '-n', '-c', '2', '-i', '0.2', '-W', '2', ADDR.lan], { timeoutMs: 10_000 });
      expect(ping.code, ping.stdout + ping.stderr).toBe(0);
      expect(ping.stdout).toMatch(/2 received/);

      const t = await cl.terminate({ ike: conn });
      expect(t.ok, t.output).toBe(true);
      expect(await cl.listSas({ ike: conn })).toEqual([]);
    });
  }

  it('refuses a wrong PSK with AUTHENTICATION_FAILED (negative control for the harness)', async () => {
    const mark = cl.logMark();
    await cl.configure({
      connections: {
        badpsk: {
          version: 2,
          remote_addrs: ADDR.gwOuter,
          vips: '0.0.0.0',
          proposals: 'aes256gcm16-prfsha256-x25519',
          local: { auth: 'psk', id: 'client-psk.example' },
          remote: { auth: 'psk', id: 'gw-psk.example' },
          children: { 'bad-net': { remote_ts: ADDR.innerNet, esp_proposals: 'aes256gcm16' } },
        },
      },
      secrets: { 'ike-psk': { id: 'gw-psk.example', secret: 'not-the-right-secret' } },
    });
    const r = await cl.initiate('bad-net', { ike: 'badpsk', timeoutSec: 10 });
    expect(r.ok).toBe(false);
    expect(cl.logSince(mark)).toMatch(/received AUTHENTICATION_FAILED notify error/);
    expect(await cl.listSas()).toEqual([]);
  });
});
