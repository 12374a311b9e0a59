// Acceptance: IKE fragmentation (RFC 7383) with strongSwan 5.9 at a 576-octet fragment size, both directions.
//
//   netns cl: charon (fragmentation = yes, charon.fragment_size = 576)  ══IKE══▶  netns gw: outpost (fragment_size 576)
//
// Certificates come from strongSwan's `pki`: an RSA-4096 root, an RSA-4096 intermediate and RSA-4096 end entities
// for both sides, so each IKE_AUTH carries two 4096-bit certificates and a 512-octet signature and must travel in
// SKF fragments each way. A second case gives both end entities some 300 subjectAltNames, which pushes each
// IKE_AUTH past 32 fragments (Windows sends that many; libreswan accepts up to 32). The fragment counts are read
// from charon's log ("splitting IKE message … into N fragments", "received fragment #k of N").
import { spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createTopology, type Topology } from '../support/netns.ts';
import { OutpostProcess, outpostCliExists, type YamlValue } from '../support/outpost-process.ts';
import { Charon } from '../support/strongswan.ts';
import { interopSkipReason } from './interop-support.ts';

const skip = interopSkipReason();

const FRAGMENT_SIZE = 576;
const IKE = 'aes256gcm16-prfsha256-x25519';

interface Cert {
  certPem: string;
  keyPem: string;
  pkcs8Pem: string;
}

/** RSA-4096 certificates from strongSwan's `pki` (root → intermediate → end entities). */
class Pki4096 {
  private readonly conf: string;
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.conf = join(dir, 'pki.conf');
    writeFileSync(this.conf, 'pki {\n  load = pem pkcs1 pkcs8 x509 pubkey openssl random nonce sha1 sha2 gmp\n}\n');
  }

  private run(args: string[]): string {
    const r = spawnSync('pki', args, { env: { ...process.env, STRONGSWAN_CONF: this.conf }, encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`pki ${args.slice(0, 3).join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  }

  private key(name: string): { path: string; pem: string } {
    const pem = this.run(['--gen', '--type', 'rsa', '--size', '4096', '--outform', 'pem']);
    const path = join(this.dir, `${name}.key.pem`);
    writeFileSync(path, pem, { mode: 0o600 });
    return { path, pem };
  }

  private save(name: string, certPem: string, key: { path: string; pem: string }): Cert & { certPath: string; keyPath: string } {
    const certPath = join(this.dir, `${name}.cert.pem`);
    writeFileSync(certPath, certPem);
    return { certPem, keyPem: key.pem, pkcs8Pem: createPrivateKey(key.pem).export({ type: 'pkcs8', format: 'pem' }).toString(), certPath, keyPath: key.path };
  }

  root(cn: string) {
    const key = this.key(cn);
    return this.save(cn, this.run(['--self', '--ca', '--in', key.path, '--type', 'priv', '--dn', `C=US, O=Outpost Test, CN=${cn}`, '--lifetime', '3650', '--outform', 'pem']), key);
  }

  issue(ca: { certPath: string; keyPath: string }, cn: string, opts: { ca?: boolean; sans?: string[]; flag?: string } = {}) {
    const key = this.key(cn);
    const pubPath = join(this.dir, `${cn}.pub.pem`);
    writeFileSync(pubPath, this.run(['--pub', '--in', key.path, '--type', 'priv', '--outform', 'pem']));
    const args = ['--issue', '--cacert', ca.certPath, '--cakey', ca.keyPath, '--type', 'pub', '--in', pubPath, '--dn', `C=US, O=Outpost Test, CN=${cn}`, '--lifetime', '365'];
    if (opts.ca) args.push('--ca');
    for (const san of opts.sans ?? []) args.push('--san', san);
    if (opts.flag) args.push('--flag', opts.flag);
    args.push('--outform', 'pem');
    return this.save(cn, this.run(args), key);
  }
}

/** `n` long DNS names: what makes a certificate (and so an IKE_AUTH) large. */
function manySans(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}.fragmentation-test.outpost.example`);
}

interface FragCounts {
  sent: number[];
  received: number;
  reassembled: number[];
}

/** What charon logged about fragments since `mark`: totals of messages it split, fragments it received. */
function fragCounts(log: string): FragCounts {
  const sent = [...log.matchAll(/splitting IKE message \((\d+) bytes\) into (\d+) fragments/g)].map((m) => Number(m[2]));
  const recv = [...log.matchAll(/received fragment #(\d+) of (\d+)/g)].map((m) => Number(m[2]));
  const reassembled = [...log.matchAll(/reassembled fragmented IKE message \((\d+) bytes\)/g)].map((m) => Number(m[1]));
  return { sent, received: recv.length > 0 ? Math.max(...recv) : 0, reassembled };
}

describe.skipIf(skip !== undefined)('IKE fragmentation: strongSwan ↔ Outpost at fragment_size 576 with RSA-4096 chains', () => {
  let topo: Topology;
  let client: Charon;
  let outpost: OutpostProcess;

  beforeAll(async () => {
    if (!outpostCliExists()) throw new Error('firmware/bin/outpost.ts does not exist yet');
    topo = await createTopology('fragmentation');
    const pki = new Pki4096(join(topo.dir, 'pki'));
    const root = pki.root('Frag Root CA');
    const inter = pki.issue(root, 'Frag Intermediate CA', { ca: true });
    const gw = pki.issue(inter, 'gw-frag.example', { sans: ['gw-frag.example'], flag: 'serverAuth' });
    const cl = pki.issue(inter, 'client-frag.example', { sans: ['client-frag.example'], flag: 'clientAuth' });
    const gwBig = pki.issue(inter, 'gw-big.example', { sans: ['gw-big.example', ...manySans('gw', 300)], flag: 'serverAuth' });
    const clBig = pki.issue(inter, 'client-big.example', { sans: ['client-big.example', ...manySans('client', 300)], flag: 'clientAuth' });

    const dir = join(topo.dir, 'outpost-files');
    mkdirSync(dir, { recursive: true });
    const file = (name: string, text: string) => {
      const p = join(dir, name);
      writeFileSync(p, text, { mode: 0o600 });
      return p;
    };
    const conn = (name: string, id: string, peer: string, cert: Cert) => ({
      name,
      ike_proposals: [IKE],
      // The end entity and the intermediate: Outpost always sends both (the client only trusts the root).
      local: { id, auth: 'pubkey', cert: file(`${name}.chain.pem`, cert.certPem + inter.certPem), key: file(`${name}.key.pem`, cert.pkcs8Pem) },
      remote: { id: peer, auth: 'pubkey', cas: ['root'] },
      pools: ['rw'],
      fragmentation: true,
      fragment_size: FRAGMENT_SIZE,
      children: [{ name: 'net', local_ts: [ADDR.innerNet], remote_ts: ['dynamic'], esp_proposals: ['aes256gcm16'] }],
    });
    const yaml = {
      listen: [{ address: '0.0.0.0', port: 500, natt_port: 4500 }],
      log: { level: 'debug', format: 'json' },
      dataplane: { backend: 'mock' },
      pools: [{ name: 'rw', cidr: ADDR.vipNet }],
      cas: [{ name: 'root', cert: file('root.pem', root.certPem) }],
      connections: [conn('rw-rsa4096', 'gw-frag.example', 'client-frag.example', gw), conn('rw-big', 'gw-big.example', 'client-big.example', gwBig)],
    };
    outpost = await OutpostProcess.start(topo, 'gw', { name: 'gateway', config: yaml as unknown as YamlValue });

    // strongSwan: IKE messages above 576 octets are fragmented; reassembled ones may be up to 64 KB (max_packet).
    client = await Charon.start(topo, 'cl', { name: 'client', charon: { fragment_size: FRAGMENT_SIZE, max_packet: 65000 }, debug: { enc: 1, ike: 2 } });
    const swanConn = (child: string, id: string, peer: string, certFile: string) => ({
      version: 2,
      remote_addrs: ADDR.gwOuter,
      vips: '0.0.0.0',
      proposals: IKE,
      fragmentation: 'yes',
      send_cert: 'always',
      local: { auth: 'pubkey', id, certs: certFile },
      remote: { auth: 'pubkey', id: peer },
      children: { [child]: { remote_ts: ADDR.innerNet, esp_proposals: 'aes256gcm16' } },
    });
    await client.configure(
      { connections: { small: swanConn('small-net', 'client-frag.example', 'gw-frag.example', 'client.pem'), big: swanConn('big-net', 'client-big.example', 'gw-big.example', 'client-big.pem') } },
      {
        x509: { 'client.pem': cl.certPem, 'client-big.pem': clBig.certPem },
        x509ca: { 'root.pem': root.certPem, 'intermediate.pem': inter.certPem },
        private: { 'client.key': cl.keyPem, 'client-big.key': clBig.keyPem },
      },
    );
  }, 120_000);

  afterAll(async () => {
    await topo?.destroy();
  });

  it('three RSA-4096 certificates (root → intermediate → end entity): IKE_AUTH fragmented both ways, the SA comes up', async () => {
    const mark = client.logMark();
    const outMark = outpost.mark();
    const r = await client.initiate('small-net', { ike: 'small', timeoutSec: 20 });
    expect(r.ok, `${r.output}\n${outpost.tail()}`).toBe(true);
    await outpost.waitFor((l) => l.event === 'ike.up' && String(l.raw.remoteId).includes('client-frag.example'), 10_000, 'ike.up', outMark);
    const sa = (await client.listSas({ ike: 'small' }))[0]!;
    expect(sa.state).toBe('ESTABLISHED');
    expect(sa.children[0]?.state).toBe('INSTALLED');
    const f = fragCounts(client.logSince(mark));
    // The client's IKE_AUTH request went out in fragments, Outpost's response came back in fragments.
    expect(Math.max(...f.sent)).toBeGreaterThanOrEqual(6);
    expect(f.received).toBeGreaterThanOrEqual(6);
    console.log(`[interop] fragmentation (3 × RSA-4096): strongSwan → Outpost ${Math.max(...f.sent)} fragments, Outpost → strongSwan ${f.received} fragments (reassembled ${f.reassembled.join(', ')} bytes)`);
    await client.terminate({ ike: 'small' });
  }, 60_000);

  it('certificates with ~300 subjectAltNames: more than 32 fragments each way are accepted', async () => {
    const mark = client.logMark();
    const outMark = outpost.mark();
    const r = await client.initiate('big-net', { ike: 'big', timeoutSec: 30 });
    expect(r.ok, `${r.output}\n${outpost.tail()}`).toBe(true);
    await outpost.waitFor((l) => l.event === 'ike.up' && String(l.raw.remoteId).includes('client-big.example'), 10_000, 'ike.up', outMark);
    const f = fragCounts(client.logSince(mark));
    expect(Math.max(...f.sent)).toBeGreaterThanOrEqual(32);
    expect(f.received).toBeGreaterThanOrEqual(32);
    // Every fragment Outpost sent fit the configured size (IKE on 4500: 576 − 20 IP − 8 UDP − 4 marker).
    const sizes = [...client.logSince(mark).matchAll(/received packet: from 192\.0\.2\.1\[4500\] to [\d.]+\[4500\] \((\d+) bytes\)/g)].map((m) => Number(m[1]));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(FRAGMENT_SIZE - 28);
    console.log(`[interop] fragmentation (300 SANs): strongSwan → Outpost ${Math.max(...f.sent)} fragments, Outpost → strongSwan ${f.received} fragments, largest packet ${Math.max(...sizes)} bytes`);
    await client.terminate({ ike: 'big' });
  }, 60_000);
});
