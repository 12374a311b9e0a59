// Acceptance: Debian's strongSwan 5.9 as a road-warrior client connects to Outpost as responder (RFC 7296, 7427, 4306 CP).
//
//   netns cl: client charon (vips = 0.0.0.0)  ──IKE/ESP-in-UDP──▶  netns gw: outpost gateway (pool 203.0.113.0/24)
//
// One Outpost process serves every case through several connections (PSK, ECDSA P-256, Ed25519, RSA-2048,
// five proposal suites); the client holds one connection per case and each case initiates, checks
// `swanctl --list-sas` and Outpost's JSON log, and terminates. Negative cases check the notify strongSwan
// receives, that Outpost logs one line saying why, and that a good client still connects afterwards.
// OUTPOST_INTEROP_GATEWAY=strongswan runs the same cases against a charon gateway (validates the suite).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createTopology, type Topology } from '../support/netns.ts';
import { outpostCliExists } from '../support/outpost-process.ts';
import { Charon, type SwanSection } from '../support/strongswan.ts';
import { SwanPki, type SwanCert } from '../support/strongswan-pki.ts';
import { gatewayKind, startGateway, type GatewaySpec, type GatewayUnderTest } from './gateway-under-test.ts';
import { interopSkipReason } from './interop-support.ts';

const KIND = gatewayKind();
const skip = interopSkipReason();

/** Client proposal → what strongSwan's `--list-sas` must show once negotiated. */
const PROPOSAL_CASES = [
  { ike: 'aes256gcm16-prfsha256-x25519', esp: 'aes256gcm16', ikeShown: 'AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519', espShown: 'AES_GCM_16_256' },
  { ike: 'aes128gcm16-prfsha256-ecp256', esp: 'aes128gcm16', ikeShown: 'AES_GCM_16_128/PRF_HMAC_SHA2_256/ECP_256', espShown: 'AES_GCM_16_128' },
  { ike: 'aes256gcm16-prfsha384-ecp384', esp: 'aes256gcm16', ikeShown: 'AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384', espShown: 'AES_GCM_16_256' },
  {
    ike: 'chacha20poly1305-prfsha256-curve25519',
    esp: 'chacha20poly1305',
    ikeShown: 'CHACHA20_POLY1305/PRF_HMAC_SHA2_256/CURVE_25519',
    espShown: 'CHACHA20_POLY1305',
  },
  // PFS group in the ESP proposal: strongSwan drops it for the CHILD_SA created with IKE_AUTH (RFC 7296 §1.2).
  {
    ike: 'aes256-sha256-modp2048',
    esp: 'aes256-sha256-modp2048',
    ikeShown: 'AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048',
    espShown: 'AES_CBC_256/HMAC_SHA2_256_128',
  },
] as const;

const GW_PROPOSALS = PROPOSAL_CASES.map((p) => p.ike);
const GW_ESP = ['aes256gcm16', 'aes128gcm16', 'chacha20poly1305', 'aes256-sha256-modp2048'];
const DEFAULT_IKE = 'aes256gcm16-prfsha256-x25519';
const PSK = 'interop-psk-7f3a9c1e5b2d4f60';
const PSK_WRONGCASE = 'interop-psk-the-gateway-knows';
const CERT_TYPES = ['ecdsa256', 'ed25519', 'rsa2048'] as const;

interface ClientCase {
  conn: string;
  child: string;
  clientId: string;
  gwId: string;
}

describe.skipIf(skip !== undefined)(`strongSwan client → ${KIND === 'outpost' ? 'Outpost' : 'charon (reference)'} responder`, () => {
  let topo: Topology;
  let client: Charon;
  let gw: GatewayUnderTest;
  const pool = { name: 'rw', cidr: ADDR.vipNet };

  beforeAll(async () => {
    if (KIND === 'outpost' && !outpostCliExists()) throw new Error('firmware/bin/outpost.ts does not exist yet');
    topo = await createTopology('responder');
    const pki = new SwanPki(`${topo.dir}/pki`);
    const ecCa = pki.makeCa('Interop EC CA', 'ecdsa256');
    const rsaCa = pki.makeCa('Interop RSA CA', 'rsa2048');
    const rogueCa = pki.makeCa('Rogue CA', 'ecdsa256');
    const caFor = (t: (typeof CERT_TYPES)[number]) => (t === 'rsa2048' ? rsaCa : ecCa);
    const gwCerts = new Map<string, SwanCert>();
    const clCerts = new Map<string, SwanCert>();
    for (const t of CERT_TYPES) {
      gwCerts.set(t, pki.issue(caFor(t), `gw-${t}.example`, t, { flags: ['serverAuth'] }));
      clCerts.set(t, pki.issue(caFor(t), `client-${t}.example`, t, { flags: ['clientAuth'] }));
    }
    const untrusted = pki.issue(rogueCa, 'client-untrusted.example', 'ecdsa256', { flags: ['clientAuth'] });
    const expired = pki.issue(ecCa, 'client-expired.example', 'ecdsa256', {
      flags: ['clientAuth'],
      notBefore: '01.01.20 00:00:00',
      notAfter: '01.01.21 00:00:00',
    });

    const child = (espProposals: string[]) => [{ name: 'net', localTs: [ADDR.innerNet], remoteTs: ['dynamic'], espProposals }];
    const spec: GatewaySpec = {
      pools: [pool],
      cas: [
        { name: 'interop-ec', cert: ecCa },
        { name: 'interop-rsa', cert: rsaCa },
      ],
      conns: [
        {
          name: 'rw-psk',
          localId: 'gw-psk.example',
          localAuth: 'psk',
          remoteId: 'client-psk.example',
          remoteAuth: 'psk',
          psk: PSK,
          ikeProposals: GW_PROPOSALS,
          pools: ['rw'],
          children: child(GW_ESP),
        },
        {
          name: 'rw-psk-b',
          localId: 'gw-psk.example',
          localAuth: 'psk',
          remoteId: 'client-wrongpsk.example',
          remoteAuth: 'psk',
          psk: PSK_WRONGCASE,
          ikeProposals: [DEFAULT_IKE],
          pools: ['rw'],
          children: child(['aes256gcm16']),
        },
        // The usual road-warrior setup: any identity with a certificate from the EC CA.
        {
          name: 'rw-ecdsa',
          localId: 'gw-ecdsa256.example',
          localAuth: 'pubkey',
          cert: gwCerts.get('ecdsa256')!,
          remoteId: '%any',
          remoteAuth: 'pubkey',
          cas: ['interop-ec'],
          ikeProposals: [DEFAULT_IKE],
          pools: ['rw'],
          children: child(['aes256gcm16']),
        },
        {
          name: 'rw-ed25519',
          localId: 'gw-ed25519.example',
          localAuth: 'pubkey',
          cert: gwCerts.get('ed25519')!,
          remoteId: 'client-ed25519.example',
          remoteAuth: 'pubkey',
          cas: ['interop-ec'],
          ikeProposals: [DEFAULT_IKE],
          pools: ['rw'],
          children: child(['aes256gcm16']),
        },
        {
          name: 'rw-rsa',
          localId: 'gw-rsa2048.example',
          localAuth: 'pubkey',
          cert: gwCerts.get('rsa2048')!,
          remoteId: 'client-rsa2048.example',
          remoteAuth: 'pubkey',
          cas: ['interop-rsa'],
          ikeProposals: [DEFAULT_IKE],
          pools: ['rw'],
          children: child(['aes256gcm16']),
        },
      ],
    };

    // Client side: one connection per case.
    const conns: SwanSection = {};
    const conn = (
      name: string,
      o: { ike?: string; esp?: string; local: SwanSection; remote: SwanSection; dpd?: string },
    ): void => {
      conns[name] = {
        version: 2,
        dpd_delay: o.dpd,
        remote_addrs: ADDR.gwOuter,
        vips: '0.0.0.0',
        proposals: o.ike ?? DEFAULT_IKE,
        local: o.local,
        remote: o.remote,
        children: { [`${name}-net`]: { remote_ts: ADDR.innerNet, esp_proposals: o.esp ?? 'aes256gcm16' } },
      };
    };
    const pskPeer = { auth: 'psk', id: 'gw-psk.example' };
    PROPOSAL_CASES.forEach((p, i) => conn(`psk-${i}`, { ike: p.ike, esp: p.esp, local: { auth: 'psk', id: 'client-psk.example' }, remote: pskPeer }));
    conn('psk-dpd', { dpd: '1s', local: { auth: 'psk', id: 'client-psk.example' }, remote: pskPeer });
    for (const t of CERT_TYPES) {
      conn(`cert-${t}`, {
        local: { auth: 'pubkey', id: `client-${t}.example`, certs: `client-${t}.pem` },
        remote: { auth: 'pubkey', id: `gw-${t}.example`, cacerts: t === 'rsa2048' ? 'rsa-ca.pem' : 'ec-ca.pem' },
      });
    }
    conn('neg-wrongpsk', { local: { auth: 'psk', id: 'client-wrongpsk.example' }, remote: pskPeer });
    conn('neg-stranger', { local: { auth: 'psk', id: 'stranger.example' }, remote: pskPeer });
    conn('neg-untrusted', {
      local: { auth: 'pubkey', id: 'client-untrusted.example', certs: 'client-untrusted.pem' },
      remote: { auth: 'pubkey', id: 'gw-ecdsa256.example', cacerts: 'ec-ca.pem' },
    });
    conn('neg-expired', {
      local: { auth: 'pubkey', id: 'client-expired.example', certs: 'client-expired.pem' },
      remote: { auth: 'pubkey', id: 'gw-ecdsa256.example', cacerts: 'ec-ca.pem' },
    });
    conn('neg-legacy', { ike: '3des-sha1-modp1024', esp: '3des-sha1', local: { auth: 'psk', id: 'client-psk.example' }, remote: pskPeer });

    const x509: Record<string, string> = {
      'client-untrusted.pem': untrusted.certPem,
      'client-expired.pem': expired.certPem,
    };
    const priv: Record<string, string> = { 'client-untrusted.key': untrusted.key.pem, 'client-expired.key': expired.key.pem };
    for (const t of CERT_TYPES) {
      x509[`client-${t}.pem`] = clCerts.get(t)!.certPem;
      priv[`client-${t}.key`] = clCerts.get(t)!.key.pem;
    }
    client = await Charon.start(topo, 'cl', { name: 'client' });
    await client.configure(
      {
        connections: conns,
        secrets: {
          'ike-good': { id: 'client-psk.example', id_gw: 'gw-psk.example', secret: PSK },
          'ike-wrong': { id: 'client-wrongpsk.example', id_gw: 'gw-psk.example', secret: 'interop-psk-the-client-thinks' },
          'ike-stranger': { id: 'stranger.example', id_gw: 'gw-psk.example', secret: PSK },
        },
      },
      { x509, x509ca: { 'ec-ca.pem': ecCa.certPem, 'rsa-ca.pem': rsaCa.certPem }, private: priv },
    );
    gw = await startGateway(topo, 'gw', spec, { localAddr: ADDR.gwOuter });
  });

  afterEach(async () => {
    if (client) await client.terminateAll();
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  /** Initiates `c` and checks both ends agree the IKE SA and CHILD SA are up with a pool address. */
  async function expectConnects(c: ClientCase, shown?: { ike: string; esp: string }): Promise<void> {
    const gwMark = gw.mark();
    const clMark = client.logMark();
    const r = await client.initiate(c.child, { ike: c.conn, timeoutSec: 10 });
    const diag = () => `\n--- swanctl ---\n${r.output}\n${client.logSince(clMark).split('\n').slice(-60).join('\n')}\n${gw.tail()}`;
    expect(r.ok, `initiate ${c.conn} failed${diag()}`).toBe(true);

    const sas = await client.listSas({ ike: c.conn });
    expect(sas, diag()).toHaveLength(1);
    const sa = sas[0]!;
    expect(sa.state).toBe('ESTABLISHED');
    expect(sa.remoteId).toBe(c.gwId);
    if (shown) expect(sa.proposal).toBe(shown.ike);
    expect(sa.localVips, 'client got no virtual IP from the pool').toHaveLength(1);
    const vip = sa.localVips[0]!;
    expect(vip).toMatch(/^203\.0\.113\.\d+$/);
    expect(sa.children).toHaveLength(1);
    const ch = sa.children[0]!;
    expect(ch.state).toBe('INSTALLED');
    if (shown) expect(ch.proposal).toBe(shown.esp);
    expect(ch.encap, 'ESP must be UDP-encapsulated (client fakes NAT)').toBe(true);
    expect(ch.localTs, 'TSi must be narrowed to the virtual IP').toEqual([`${vip}/32`]);
    expect(ch.remoteTs).toEqual([ADDR.innerNet]);

    await gw.waitIkeUp(gwMark, c.clientId);
    await gw.waitChildUp(gwMark, vip);
  }

  for (const [i, p] of PROPOSAL_CASES.entries()) {
    it(`PSK with ${p.ike} / ESP ${p.esp}`, async () => {
      await expectConnects(
        { conn: `psk-${i}`, child: `psk-${i}-net`, clientId: 'client-psk.example', gwId: 'gw-psk.example' },
        { ike: p.ikeShown, esp: p.espShown },
      );
    }, 45_000);
  }

  for (const t of CERT_TYPES) {
    it(`certificates: ${t} on both sides, gateway sends its certificate, client trusts the CA`, async () => {
      const clMark = client.logMark();
      await expectConnects(
        { conn: `cert-${t}`, child: `cert-${t}-net`, clientId: `client-${t}.example`, gwId: `gw-${t}.example` },
        { ike: 'AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519', esp: 'AES_GCM_16_256' },
      );
      const log = client.logSince(clMark);
      // strongSwan has no copy of the gateway's certificate: it must have arrived in a CERT payload.
      expect(log).toMatch(new RegExp(`received end entity cert "[^"]*CN=gw-${t}\\.example"`));
      expect(log).toMatch(new RegExp(`authentication of 'gw-${t}\\.example' with (RFC 7427 signature scheme|ED25519|RSA|ECDSA)`));
    }, 45_000);
  }

  it('the IKE SA is removed on the gateway when the client deletes it', async () => {
    await expectConnects({ conn: 'psk-0', child: 'psk-0-net', clientId: 'client-psk.example', gwId: 'gw-psk.example' });
    const mark = gw.mark();
    const t = await client.terminate({ ike: 'psk-0' });
    expect(t.ok, t.output).toBe(true);
    // A clean delete: the client got the gateway's DELETE response, it did not time out.
    expect(t.output).not.toMatch(/timed out|retransmit/i);
    await gw.waitIkeDown(mark);
  }, 45_000);

  it('answers the client’s DPD (empty INFORMATIONAL) and keeps the SAs', async () => {
    await expectConnects({ conn: 'psk-dpd', child: 'psk-dpd-net', clientId: 'client-psk.example', gwId: 'gw-psk.example' });
    const mark = client.logMark();
    // dpd_delay = 1s on this client connection: with no traffic, charon probes the gateway every second.
    await client.waitForLog(/generating INFORMATIONAL request \d+ \[ \]/, 5000, mark);
    await client.waitForLog(/parsed INFORMATIONAL response \d+ \[ \]/, 5000, mark);
    await new Promise((r) => setTimeout(r, 1500));
    const log = client.logSince(mark);
    expect(log, log).not.toMatch(/retransmit \d+ of request|giving up after \d+ retransmits|INVALID_SYNTAX|UNSUPPORTED_CRITICAL/);
    const sas = await client.listSas({ ike: 'psk-dpd' });
    expect(sas[0]?.state).toBe('ESTABLISHED');
    expect(sas[0]?.children[0]?.state).toBe('INSTALLED');
  }, 45_000);

  // Whether the gateway rekeys in place (CREATE_CHILD_SA) or declines and strongSwan falls back to
  // reauthentication, the client must end up with fresh SAs and never without service for long.
  for (const [what, args] of [
    ['CHILD_SA rekey', ['--rekey', '--child', 'psk-0-net']],
    ['IKE_SA rekey', ['--rekey', '--ike', 'psk-0']],
    ['reauthentication', ['--rekey', '--ike', 'psk-0', '--reauth']],
  ] as const) {
    it(`client-initiated ${what} leaves fresh, working SAs`, async () => {
      await expectConnects({ conn: 'psk-0', child: 'psk-0-net', clientId: 'client-psk.example', gwId: 'gw-psk.example' });
      const before = (await client.listSas({ ike: 'psk-0' }))[0]!;
      const clMark = client.logMark();
      const r = await client.swanctl([...args]);
      expect(r.ok, r.output).toBe(true);
      const deadline = Date.now() + 10_000;
      for (;;) {
        const sa = (await client.listSas({ ike: 'psk-0' })).find((x) => x.state === 'ESTABLISHED');
        const ch = sa?.children.find((c) => c.state === 'INSTALLED');
        const fresh = what === 'CHILD_SA rekey' ? ch && ch.spiIn !== before.children[0]!.spiIn : sa && sa.uniqueId !== before.uniqueId || sa?.raw['responder-spi'] !== before.raw['responder-spi'];
        if (sa && ch && fresh) break;
        if (Date.now() > deadline) {
          throw new Error(`no fresh SAs 10 s after ${what}\n${client.logSince(clMark).split('\n').slice(-40).join('\n')}\n${gw.tail()}`);
        }
        await new Promise((res) => setTimeout(res, 200));
      }
      expect(client.logSince(clMark)).not.toMatch(/giving up after \d+ retransmits|INVALID_SYNTAX|UNSUPPORTED_CRITICAL/);
      expect(gw.isRunning()).toBe(true);
    }, 45_000);
  }

  describe('rejections (then a good client still connects)', () => {
    const NEGATIVES = [
      {
        name: 'wrong PSK',
        conn: 'neg-wrongpsk',
        notify: /received AUTHENTICATION_FAILED notify error/,
        outpostWhy: /psk|pre-?shared|auth(entication)? (data|payload|value)|mac|mismatch|invalid auth/i,
        swanWhy: /tried \d+ shared keys? for .* but MAC mismatched/,
      },
      {
        name: 'unknown identity',
        conn: 'neg-stranger',
        notify: /received AUTHENTICATION_FAILED notify error/,
        outpostWhy: /stranger\.example|no (matching )?(connection|config|peer)|identity/i,
        swanWhy: /no matching peer config found/,
      },
      {
        name: 'client certificate from an untrusted CA',
        conn: 'neg-untrusted',
        notify: /received AUTHENTICATION_FAILED notify error/,
        outpostWhy: /trust|issuer|chain|untrusted|unknown ca|path/i,
        swanWhy: /no issuer certificate found|no trusted .* public key found/,
      },
      {
        name: 'expired client certificate',
        conn: 'neg-expired',
        notify: /received AUTHENTICATION_FAILED notify error/,
        outpostWhy: /expired|not valid|validity|notAfter/i,
        swanWhy: /subject certificate invalid \(valid from .* to .*\)/,
      },
      {
        name: 'client offering only 3DES/SHA-1/MODP1024',
        conn: 'neg-legacy',
        notify: /received NO_PROPOSAL_CHOSEN notify error/,
        outpostWhy: /proposal/i,
        swanWhy: /received proposals unacceptable/,
      },
    ] as const;

    for (const n of NEGATIVES) {
      it(`${n.name}: strongSwan gets the right notify, the gateway logs why, service continues`, async () => {
        const gwMark = gw.mark();
        const clMark = client.logMark();
        const r = await client.initiate(`${n.conn}-net`, { ike: n.conn, timeoutSec: 10 });
        const clLog = client.logSince(clMark);
        const diag = `\n--- client ---\n${r.output}\n${clLog.split('\n').slice(-40).join('\n')}\n--- gateway since case start ---\n${gw.logSince(gwMark)}`;
        expect(r.ok, `the gateway accepted a client it must refuse${diag}`).toBe(false);
        expect(clLog, `strongSwan did not receive the expected notify${diag}`).toMatch(n.notify);
        const why = await gw.waitFailure(gwMark, KIND === 'outpost' ? n.outpostWhy : n.swanWhy, 5000).catch((e: Error) => {
          throw new Error(`${e.message.split('\n')[0]}${diag}`);
        });
        if (process.env.OUTPOST_INTEROP_VERBOSE) console.log(`[${n.name}] gateway: ${why}`);
        expect(await client.listSas({ ike: n.conn })).toEqual([]);
        expect(gw.isRunning(), 'the gateway process died').toBe(true);
        await expectConnects({ conn: 'psk-0', child: 'psk-0-net', clientId: 'client-psk.example', gwId: 'gw-psk.example' });
      }, 60_000);
    }
  });
});
