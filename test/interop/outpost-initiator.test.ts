// Acceptance: Outpost initiates (children with start_action: start) to Debian's strongSwan 5.9 as responder (RFC 7296).
//
//   netns gw: outpost gateway 192.0.2.1  ──IKE_SA_INIT/IKE_AUTH──▶  netns cl: responder charon 192.0.2.2
//   site-to-site tunnel: 198.51.100.0/24 (behind Outpost) === 203.0.113.128/25 (a site on strongSwan's host,
//   203.0.113.129 on its loopback; a TS covering the peer's own IKE address would swallow the IKE traffic)
//
// strongSwan runs kernel-libipsec and so fakes NAT-D: Outpost sees "responder behind NAT" and must move to
// port 4500 for IKE_AUTH and ask for UDP-encapsulated ESP. Cases: PSK, ECDSA P-256 and Ed25519 certificates
// (Outpost sends its certificate, strongSwan trusts the CA), and a wrong PSK that strongSwan must refuse.
// OUTPOST_INTEROP_GATEWAY=strongswan runs the same cases with charon as the initiator (validates the suite).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createTopology, type Topology } from '../support/netns.ts';
import { outpostCliExists } from '../support/outpost-process.ts';
import { Charon, type IkeSaInfo } from '../support/strongswan.ts';
import { SwanPki } from '../support/strongswan-pki.ts';
import { gatewayKind, startGateway, type GatewaySpec, type GatewayUnderTest } from './gateway-under-test.ts';
import { interopSkipReason } from './interop-support.ts';

const KIND = gatewayKind();
const skip = interopSkipReason();

const PSK = 'interop-initiator-psk-5e0c2a7d';
const IKE = 'aes256gcm16-prfsha256-x25519';
const PEER_TS = '203.0.113.128/25';
const PEER_SITE_ADDR = '203.0.113.129';

describe.skipIf(skip !== undefined)(`${KIND === 'outpost' ? 'Outpost' : 'charon (reference)'} initiator → strongSwan responder`, () => {
  let topo: Topology;
  let responder: Charon;
  let gw: GatewayUnderTest;
  let gwMark = 0;

  beforeAll(async () => {
    if (KIND === 'outpost' && !outpostCliExists()) throw new Error('firmware/bin/outpost.ts does not exist yet');
    topo = await createTopology('initiator');
    const pki = new SwanPki(`${topo.dir}/pki`);
    const ca = pki.makeCa('Initiator Interop CA', 'ecdsa256');
    const outEc = pki.issue(ca, 'outpost-ecdsa.example', 'ecdsa256', { flags: ['serverAuth', 'clientAuth'] });
    const outEd = pki.issue(ca, 'outpost-ed25519.example', 'ed25519', { flags: ['serverAuth', 'clientAuth'] });
    const peerEc = pki.issue(ca, 'peer-ecdsa.example', 'ecdsa256', { flags: ['serverAuth'] });
    const peerEd = pki.issue(ca, 'peer-ed25519.example', 'ed25519', { flags: ['serverAuth'] });

    const addr = await topo.exec('cl', ['ip', 'addr', 'add', `${PEER_SITE_ADDR}/32`, 'dev', 'lo']);
    expect(addr.code, addr.stderr).toBe(0);
    responder = await Charon.start(topo, 'cl', { name: 'responder' });
    const conn = (localId: string, remoteId: string, auth: 'psk' | 'pubkey', cert?: string) => ({
      version: 2,
      local_addrs: ADDR.cl,
      proposals: IKE,
      local: { auth, id: localId, certs: cert },
      remote: { auth, id: remoteId, cacerts: auth === 'pubkey' ? 'ca.pem' : undefined },
      children: { [`net-${remoteId.split('.')[0]}`]: { local_ts: PEER_TS, remote_ts: ADDR.innerNet, esp_proposals: 'aes256gcm16' } },
    });
    await responder.configure(
      {
        connections: {
          'from-psk': conn('peer.example', 'outpost-psk.example', 'psk'),
          'from-badpsk': conn('peer.example', 'outpost-badpsk.example', 'psk'),
          'from-ecdsa': conn('peer-ecdsa.example', 'outpost-ecdsa.example', 'pubkey', 'peer-ecdsa.pem'),
          'from-ed25519': conn('peer-ed25519.example', 'outpost-ed25519.example', 'pubkey', 'peer-ed25519.pem'),
        },
        secrets: {
          'ike-good': { id: 'peer.example', id_peer: 'outpost-psk.example', secret: PSK },
          'ike-bad': { id: 'peer.example', id_peer: 'outpost-badpsk.example', secret: 'what-strongswan-expects' },
        },
      },
      {
        x509: { 'peer-ecdsa.pem': peerEc.certPem, 'peer-ed25519.pem': peerEd.certPem },
        x509ca: { 'ca.pem': ca.certPem },
        private: { 'peer-ecdsa.key': peerEc.key.pem, 'peer-ed25519.key': peerEd.key.pem },
      },
    );

    const child = (name: string) => [
      { name, localTs: [ADDR.innerNet], remoteTs: [PEER_TS], espProposals: ['aes256gcm16'], startAction: 'start' as const },
    ];
    const base = { remoteAddrs: [ADDR.cl], ikeProposals: [IKE] };
    const spec: GatewaySpec = {
      pools: [],
      cas: [{ name: 'interop', cert: ca }],
      conns: [
        { ...base, name: 'to-psk', localId: 'outpost-psk.example', localAuth: 'psk', remoteId: 'peer.example', remoteAuth: 'psk', psk: PSK, children: child('psk-net') },
        {
          ...base,
          name: 'to-ecdsa',
          localId: 'outpost-ecdsa.example',
          localAuth: 'pubkey',
          cert: outEc,
          remoteId: 'peer-ecdsa.example',
          remoteAuth: 'pubkey',
          cas: ['interop'],
          children: child('ecdsa-net'),
        },
        {
          ...base,
          name: 'to-ed25519',
          localId: 'outpost-ed25519.example',
          localAuth: 'pubkey',
          cert: outEd,
          remoteId: 'peer-ed25519.example',
          remoteAuth: 'pubkey',
          cas: ['interop'],
          children: child('ed25519-net'),
        },
        {
          ...base,
          name: 'to-badpsk',
          localId: 'outpost-badpsk.example',
          localAuth: 'psk',
          remoteId: 'peer.example',
          remoteAuth: 'psk',
          psk: 'what-outpost-thinks',
          children: child('badpsk-net'),
        },
      ],
    };
    gw = await startGateway(topo, 'gw', spec, { localAddr: ADDR.gwOuter });
    gwMark = 0;
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  /** Polls strongSwan's `--list-sas` until the SA from `outpostId` has an installed CHILD_SA. */
  async function waitForSa(outpostId: string, timeoutMs = 15_000): Promise<IkeSaInfo> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const sa = (await responder.listSas()).find((s) => s.remoteId === outpostId);
      if (sa?.state === 'ESTABLISHED' && sa.children.some((c) => c.state === 'INSTALLED')) return sa;
      if (Date.now() > deadline) {
        throw new Error(
          `no established SA from ${outpostId} on strongSwan (last: ${JSON.stringify(sa ? { state: sa.state, children: sa.children.map((c) => c.state) } : null)})\n` +
            `${responder.tail(80)}\n${gw.tail()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  for (const [name, outpostId, peerId] of [
    ['PSK', 'outpost-psk.example', 'peer.example'],
    ['ECDSA P-256 certificates', 'outpost-ecdsa.example', 'peer-ecdsa.example'],
    ['Ed25519 certificates', 'outpost-ed25519.example', 'peer-ed25519.example'],
  ] as const) {
    it(`${name}: the CHILD_SA Outpost starts is installed on strongSwan`, async () => {
      const sa = await waitForSa(outpostId);
      expect(sa.initiator).toBe(false);
      expect(sa.localId).toBe(peerId);
      expect(sa.remoteHost).toBe(ADDR.gwOuter);
      expect(sa.proposal).toBe('AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519');
      // strongSwan faked NAT-D, so the initiator had to float to 4500 and encapsulate ESP.
      expect(sa.localPort).toBe(4500);
      expect(sa.remotePort).toBe(4500);
      const child = sa.children.find((c) => c.state === 'INSTALLED')!;
      expect(child.proposal).toBe('AES_GCM_16_256');
      expect(child.encap).toBe(true);
      expect(child.localTs).toEqual([PEER_TS]);
      expect(child.remoteTs).toEqual([ADDR.innerNet]);
      if (name !== 'PSK') {
        // strongSwan has no copy of Outpost's certificate: it arrived in a CERT payload and chains to the CA.
        expect(responder.log()).toMatch(new RegExp(`received end entity cert "[^"]*CN=${outpostId.replace(/\./g, '\\.')}"`));
      }
      await gw.waitIkeUp(gwMark, peerId);
      await gw.waitChildUp(gwMark, PEER_TS);
    }, 45_000);
  }

  it('wrong PSK: strongSwan refuses with AUTHENTICATION_FAILED, Outpost logs why and keeps its other SAs', async () => {
    await responder.waitForLog(/tried \d+ shared keys? for 'peer\.example' - 'outpost-badpsk\.example', but MAC mismatched/, 15_000);
    await gw.waitFailure(gwMark, KIND === 'outpost' ? /AUTHENTICATION_FAILED|auth/i : /received AUTHENTICATION_FAILED notify error/);
    expect((await responder.listSas()).find((s) => s.remoteId === 'outpost-badpsk.example')).toBeUndefined();
    expect(gw.isRunning()).toBe(true);
    expect((await waitForSa('outpost-psk.example')).state).toBe('ESTABLISHED');
  }, 45_000);

  it('the responder deleting the IKE SA is seen by Outpost', async () => {
    const sa = await waitForSa('outpost-psk.example');
    const mark = gw.mark();
    const t = await responder.terminate({ ikeId: sa.uniqueId });
    expect(t.ok, t.output).toBe(true);
    expect(t.output).not.toMatch(/timed out|retransmit/i);
    await gw.waitIkeDown(mark);
  }, 45_000);
});
