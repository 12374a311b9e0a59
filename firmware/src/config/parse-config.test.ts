// Tests for the YAML gateway config: the documented example, defaults, and every class of error with its line.
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from '../../../test/support/certs.ts';
import { pemEncode } from '../pki/pem.ts';
import { DEFAULT_ESP_PROPOSALS, DEFAULT_IKE_PROPOSALS } from './defaults.ts';
import { loadConfigFile } from './load-config.ts';
import { parseConfigText, type ConfigResult } from './parse-config.ts';
import type { GatewayConfig } from './types.ts';

let dir: string;
let pki: TestPki;
const EXAMPLE = join(__dirname, '..', '..', '..', 'docs', 'examples', 'gateway.yaml');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-config-'));
  pki = makeTestPki();
  pki.writePem(dir);
  writeFileSync(join(dir, 'not-a-cert.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  writeFileSync(join(dir, 'only-key.pem'), readFileSync(join(dir, 'gw-ecdsa.key')));
  writeFileSync(join(dir, 'branch.psk'), 'a-long-random-branch-secret\n', { mode: 0o600 });
  writeFileSync(join(dir, 'open.psk'), '0x00112233445566778899aabbccddeeff\n', { mode: 0o644 });
  chmodSync(join(dir, 'open.psk'), 0o644);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const parse = (text: string): ConfigResult => parseConfigText(text, dir, 'outpost.yaml');

function errorsOf(text: string): string[] {
  const r = parse(text);
  if (r.ok) throw new Error(`expected errors, got a config (warnings: ${r.warnings.join('; ')})`);
  return r.errors;
}

function configOf(text: string): { config: GatewayConfig; warnings: string[] } {
  const r = parse(text);
  if (!r.ok) throw new Error(`expected a config, got:\n${r.errors.join('\n')}`);
  return r;
}

/** A valid PSK responder connection, to embed below `connections:` with the given extra lines. */
const PSK_CONN = (extra = '') => `connections:
  - name: psk
    local: { id: gw.example, auth: psk }
    remote: { auth: psk }
    psk: "a shared secret of decent length"
    children: [{ name: net, local_ts: [198.51.100.0/24] }]
${extra}`;

describe('the documented example (docs/examples/gateway.yaml)', () => {
  it('loads into the expected GatewayConfig', async () => {
    const exDir = join(dir, 'example');
    mkdirSync(join(exDir, 'certs'), { recursive: true });
    mkdirSync(join(exDir, 'private'), { recursive: true });
    copyFileSync(EXAMPLE, join(exDir, 'gateway.yaml'));
    copyFileSync(join(dir, 'ca.pem'), join(exDir, 'certs', 'ca.pem'));
    copyFileSync(join(dir, 'gw-ecdsa.pem'), join(exDir, 'certs', 'gw.pem'));
    writeFileSync(join(exDir, 'private', 'gw.key'), readFileSync(join(dir, 'gw-ecdsa.key')), { mode: 0o600 });
    writeFileSync(join(exDir, 'private', 'branch.psk'), 'a-long-random-branch-secret\n', { mode: 0o600 });

    // Relative paths resolve against the file's directory, not the working directory.
    const r = await loadConfigFile(relative(process.cwd(), join(exDir, 'gateway.yaml')));
    if (!r.ok) throw new Error(r.errors.join('\n'));
    expect(r.warnings).toEqual([]);
    const expected: GatewayConfig = {
      listen: [
        { address: '0.0.0.0', port: 500, nattPort: 4500 },
        { address: '::', port: 500, nattPort: 4500 },
      ],
      log: { level: 'info', format: 'text' },
      dataplane: { backend: 'auto', offload: 'auto' },
      cookieThreshold: 100,
      halfOpenPerSource: 20,
      retransmit: { timeoutMs: 4000, tries: 5, base: 1.8 },
      pools: [{ name: 'rw', cidr: '203.0.113.0/24', dns: ['198.51.100.53'], domains: ['corp.example'] }],
      cas: [{ name: 'corp', certDer: pki.ca.der }],
      connections: [
        {
          name: 'roadwarrior',
          remoteAddrs: [],
          remotePort: 500,
          localAddrs: [],
          ikeProposals: ['aes256gcm16-prfsha256-x25519', 'aes256gcm16-prfsha384-ecp384'],
          legacy: false,
          local: { id: 'fqdn:vpn.example.com', auth: 'pubkey', certChain: [pki.gw['ecdsa-p256'].der], privateKey: pki.gw['ecdsa-p256'].keyDer },
          remote: { id: '%any', auth: 'pubkey', cas: ['corp'] },
          pools: ['rw'],
          children: [
            { name: 'net', localTs: ['198.51.100.0/24'], remoteTs: ['dynamic'], espProposals: ['aes256gcm16'], lifetimeSec: 28800, rekeySec: 25200, replayWindow: 64, startAction: 'none' },
          ],
          ikeLifetimeSec: 86400,
          ikeRekeySec: 82800,
          dpdDelaySec: 30,
          encapsulation: false,
          mobike: true,
          fragmentation: true,
          fragmentSize: 1280,
          sendCertReq: true,
        },
        {
          name: 'branch',
          remoteAddrs: ['192.0.2.200'],
          remotePort: 500,
          localAddrs: [],
          ikeProposals: [...DEFAULT_IKE_PROPOSALS],
          legacy: false,
          local: { id: 'fqdn:vpn.example.com', auth: 'psk' },
          remote: { id: 'fqdn:branch.example.com', auth: 'psk', cas: [] },
          psk: new TextEncoder().encode('a-long-random-branch-secret'),
          pools: [],
          children: [
            { name: 'lan', localTs: ['198.51.100.0/24'], remoteTs: ['192.0.2.128/25'], espProposals: [...DEFAULT_ESP_PROPOSALS], lifetimeSec: 3600, rekeySec: 3000, replayWindow: 64, startAction: 'start' },
          ],
          ikeLifetimeSec: 28800,
          ikeRekeySec: 25200,
          dpdDelaySec: 30,
          encapsulation: false,
          mobike: true,
          fragmentation: true,
          fragmentSize: 1280,
          sendCertReq: true,
        },
      ],
    };
    expect(r.config).toEqual(expected);
  });
});

describe('defaults', () => {
  it('fill in everything a minimal file leaves out', () => {
    const { config, warnings } = configOf(PSK_CONN());
    expect(warnings).toEqual([]);
    expect(config.listen).toEqual([
      { address: '0.0.0.0', port: 500, nattPort: 4500 },
      { address: '::', port: 500, nattPort: 4500 },
    ]);
    expect(config.log).toEqual({ level: 'info', format: 'text' });
    expect(config.dataplane).toEqual({ backend: 'auto', offload: 'auto' });
    expect(config.retransmit).toEqual({ timeoutMs: 4000, tries: 5, base: 1.8 });
    expect([config.cookieThreshold, config.halfOpenPerSource]).toEqual([100, 20]);
    const c = config.connections[0]!;
    expect(c.ikeProposals).toEqual([
      'aes256gcm16-prfsha256-x25519',
      'aes128gcm16-prfsha256-ecp256',
      'aes256gcm16-prfsha384-ecp384',
      'chacha20poly1305-prfsha256-curve25519',
      'aes256-sha256-modp2048',
    ]);
    expect(c.children[0]!.espProposals).toEqual(['aes256gcm16', 'aes128gcm16', 'chacha20poly1305', 'aes256-sha256']);
    expect(c.children[0]!.remoteTs).toEqual(['dynamic']);
    expect([c.ikeLifetimeSec, c.ikeRekeySec, c.children[0]!.lifetimeSec, c.children[0]!.rekeySec]).toEqual([86400, 82800, 28800, 25200]);
    expect([c.dpdDelaySec, c.fragmentation, c.fragmentSize, c.children[0]!.replayWindow]).toEqual([30, true, 1280, 64]);
    expect(c.remote.id).toBe('%any');
  });

  it('derives the rekey time from a shorter lifetime', () => {
    const { config } = configOf(PSK_CONN('    ike_lifetime: 1h\n'));
    expect(config.connections[0]!.ikeRekeySec).toBe(3450); // 23/24 of the lifetime, as with the defaults
  });

  it('accepts durations as unit strings and plain seconds', () => {
    const { config } = configOf(`retransmit: { timeout: 500ms, tries: 3, base: 2 }\n${PSK_CONN('    ike_lifetime: 1h30m\n    ike_rekey: 3600\n    dpd_delay: 0\n')}`);
    expect(config.retransmit.timeoutMs).toBe(500);
    expect(config.connections[0]).toMatchObject({ ikeLifetimeSec: 5400, ikeRekeySec: 3600, dpdDelaySec: 0 });
  });
});

describe('DPD, reauthentication and TUN settings', () => {
  it('are absent unless set, so the engine and data plane defaults apply', () => {
    const { config } = configOf(PSK_CONN());
    expect(config.connections[0]).not.toHaveProperty('dpdTimeoutSec');
    expect(config.connections[0]).not.toHaveProperty('dpdAction');
    expect(config.connections[0]).not.toHaveProperty('ikeReauth');
  });

  it('parse when set', () => {
    const { config } = configOf(`dataplane: { backend: userspace, tun_name: vpn0, mtu: 1380, path_mtu: 1492 }\n${PSK_CONN('    dpd_timeout: 45s\n    dpd_action: hold\n    ike_reauth: true\n')}`);
    expect(config.dataplane).toEqual({ backend: 'userspace', offload: 'auto', tunName: 'vpn0', mtu: 1380, pathMtu: 1492 });
    expect(config.connections[0]).toMatchObject({ dpdTimeoutSec: 45, dpdAction: 'hold', ikeReauth: true });
  });

  it('name the field and line when wrong', () => {
    expect(errorsOf(`${PSK_CONN('    dpd_action: panic\n')}`)).toEqual(['outpost.yaml:7: connections[0].dpd_action: must be one of clear, restart, hold (got "panic")']);
    expect(errorsOf(`dataplane: { tun_name: "bad name/0" }\n${PSK_CONN()}`)).toEqual(['outpost.yaml:1: dataplane.tun_name: must be 1 to 15 letters, digits, ".", "-" or "_"']);
    expect(errorsOf(`dataplane: { mtu: 100 }\n${PSK_CONN()}`)[0]).toMatch(/^outpost\.yaml:1: dataplane\.mtu: must be an integer in 576\.\.9000/);
  });
});

describe('CHILD_SA volume limits', () => {
  const withChild = (extra: string) => PSK_CONN().replace(/children: \[\{ name: (\w+)/, `children: [{ name: $1${extra}`);

  it('parse when set and are absent otherwise', () => {
    expect(configOf(PSK_CONN()).config.connections[0]!.children[0]).not.toHaveProperty('lifeBytes');
    const { config } = configOf(withChild(', rekey_bytes: 1000000, life_bytes: 2000000, rekey_packets: 900, life_packets: 1000'));
    expect(config.connections[0]!.children[0]).toMatchObject({ rekeyBytes: 1000000, lifeBytes: 2000000, rekeyPackets: 900, lifePackets: 1000 });
  });

  it('a soft limit at or above the hard one is refused, naming the field', () => {
    expect(errorsOf(withChild(', rekey_bytes: 5000, life_bytes: 5000'))[0]).toMatch(/children\[0\]\.rekey_bytes: must be below life_bytes \(5000\)$/);
    expect(errorsOf(withChild(', life_packets: 0'))[0]).toMatch(/children\[0\]\.life_packets: must be an integer/);
  });
});

describe('errors name the field path and its line', () => {
  it('wrong type / value', () => {
    expect(errorsOf(`log: { level: verbose }\n${PSK_CONN()}`)).toEqual([
      'outpost.yaml:1: log.level: must be one of debug, info, warn, error (got "verbose")',
    ]);
    expect(errorsOf(`cookie_threshold: lots\n${PSK_CONN()}`)).toEqual([
      'outpost.yaml:1: cookie_threshold: must be an integer in 0..1000000 (got "lots")',
    ]);
    expect(errorsOf(`${PSK_CONN('    mobike: maybe\n')}`)).toEqual(['outpost.yaml:7: connections[0].mobike: must be true or false (got "maybe")']);
    expect(errorsOf('connections: { name: x }\n')).toEqual(['outpost.yaml:1: connections: must be a list (got a mapping)']);
  });

  it('unknown keys, with a suggestion when one is close', () => {
    const errs = errorsOf(`${PSK_CONN('    ike_proposal: [aes256gcm16-prfsha256-x25519]\n    ikeLifetime: 8h\n    frobnicate: 1\n')}`);
    expect(errs).toEqual([
      'outpost.yaml:7: connections[0].ike_proposal: unknown key; did you mean "ike_proposals"?',
      'outpost.yaml:8: connections[0].ikeLifetime: unknown key; did you mean "ike_lifetime"?',
      expect.stringMatching(/^outpost\.yaml:9: connections\[0\]\.frobnicate: unknown key \(known keys: name, remote_addrs, .*\)$/),
    ]);
    expect(errorsOf(`lisen: []\n${PSK_CONN()}`)).toEqual(['outpost.yaml:1: lisen: unknown key; did you mean "listen"?']);
  });

  it('an unknown algorithm in a proposal, block and flow style', () => {
    const block = `connections:
  - name: a
    local: { id: gw.example, auth: psk }
    remote: { auth: psk }
    psk: "a shared secret of decent length"
    ike_proposals:
      - aes256gcm16-prfsha256-x25519
      - aes256gcm7-prfsha256-x25519
    children:
      - name: net
        esp_proposals: [aes256gcm16, blowfish]
`;
    const errs = errorsOf(block);
    expect(errs).toHaveLength(2);
    expect(errs[0]).toMatch(/^outpost\.yaml:8: connections\[0\]\.ike_proposals\[1\]: .*aes256gcm7/);
    expect(errs[1]).toMatch(/^outpost\.yaml:11: connections\[0\]\.children\[0\]\.esp_proposals\[1\]: .*blowfish/);
  });

  it('legacy algorithms are refused unless the connection says legacy: true', () => {
    const text = (legacy: string) => `connections:
  - name: old
    local: { id: gw.example, auth: psk }
    remote: { auth: psk }
    psk: "a shared secret of decent length"
${legacy}    ike_proposals: [aes256gcm16-prfsha256-x25519, 3des-sha1-modp1024]
    children: [{ name: net, esp_proposals: [aes128-sha1] }]
`;
    const errs = errorsOf(text(''));
    expect(errs).toEqual([
      expect.stringMatching(/^outpost\.yaml:6: connections\[0\]\.ike_proposals\[1\]: "3des-sha1-modp1024" uses legacy algorithms \(.*sha1.*modp1024.*\); set "legacy: true" on connection "old" to allow them$/),
      expect.stringMatching(/^outpost\.yaml:7: connections\[0\]\.children\[0\]\.esp_proposals\[0\]: "aes128-sha1" uses legacy algorithms .*legacy: true/),
    ]);
    const ok = configOf(text('    legacy: true\n'));
    expect(ok.config.connections[0]!.legacy).toBe(true);
    expect(ok.config.connections[0]!.ikeProposals).toEqual(['aes256gcm16-prfsha256-x25519', '3des-sha1-modp1024']);
    expect(ok.warnings).toHaveLength(2);
    expect(ok.warnings[0]).toMatch(/^outpost\.yaml:7: connections\[0\]\.ike_proposals\[1\]: .*allowed by legacy: true/);
  });

  it('identities go through parseIdentity; %any and patterns only on the remote side', () => {
    const errs = errorsOf(`connections:
  - name: a
    local: { id: "ipv4:300.1.1.1", auth: psk }
    remote: { id: "email:nobody", auth: psk }
    psk: "a shared secret of decent length"
    children: [{ name: net }]
  - name: b
    local: { id: "%any", auth: psk }
    remote: { id: "*.example.com", auth: psk }
    psk: "a shared secret of decent length"
    children: [{ name: net }]
`);
    expect(errs).toEqual([
      'outpost.yaml:3: connections[0].local.id: "300.1.1.1" is not an IPv4 address',
      'outpost.yaml:4: connections[0].remote.id: email address "nobody" has no "@"',
      'outpost.yaml:8: connections[1].local.id: "%any" is only valid for the remote identity',
    ]);
  });

  it('CIDRs, addresses and traffic selectors', () => {
    const errs = errorsOf(`pools:
  - { name: a, cidr: 203.0.113.1/24, dns: [dns.example] }
  - { name: b, cidr: 203.0.113.0/33 }
  - { name: c, cidr: 198.51.100.0/24 }
  - { name: d, cidr: 198.51.100.128/25 }
listen: [{ address: 192.0.2.300 }]
${PSK_CONN('    remote_addrs: [branch.example]\n    children: [{ name: net, local_ts: [198.51.100.0/24/tcp/99999, 10.0.0.1/8] }]\n').replace('    children: [{ name: net, local_ts: [198.51.100.0/24] }]\n', '')}`);
    expect(errs).toEqual([
      'outpost.yaml:2: pools[0].cidr: "203.0.113.1/24" has host bits set; did you mean 203.0.113.0/24?',
      'outpost.yaml:2: pools[0].dns[0]: "dns.example" is not an IPv4 or IPv6 address (DNS names are not resolved; use an address)',
      'outpost.yaml:3: pools[1].cidr: prefix length "33" must be 0..32',
      'outpost.yaml:5: pools[3].cidr: 198.51.100.128/25 overlaps pool c (198.51.100.0/24)',
      'outpost.yaml:6: listen[0].address: "192.0.2.300" is not an IPv4 or IPv6 address',
      'outpost.yaml:12: connections[0].remote_addrs[0]: "branch.example" is not an IPv4 or IPv6 address (DNS names are not resolved; use an address)',
      expect.stringMatching(/^outpost\.yaml:13: connections\[0\]\.children\[0\]\.local_ts\[0\]: .*port 99999/),
      'outpost.yaml:13: connections[0].children[0].local_ts[1]: "10.0.0.1/8" has host bits set; did you mean 10.0.0.0/8?',
    ]);
  });

  it('pool and CA names must exist', () => {
    const errs = errorsOf(`pools: [{ name: rw, cidr: 203.0.113.0/24 }]
cas: [{ name: corp, cert: ca.pem }]
connections:
  - name: a
    local: { id: gw.example, auth: psk }
    remote: { auth: pubkey, cas: [corp, crop] }
    psk: "a shared secret of decent length"
    pools: [rw, vpn]
    children: [{ name: net }]
`);
    expect(errs).toEqual([
      'outpost.yaml:6: connections[0].remote.cas[1]: unknown CA "crop" (defined: corp)',
      'outpost.yaml:8: connections[0].pools[1]: unknown pool "vpn" (defined: rw)',
    ]);
  });

  it('pubkey peers need a CA', () => {
    const errs = errorsOf(`connections:
  - name: a
    local: { id: gw.example, auth: psk }
    remote: { auth: pubkey }
    psk: "a shared secret of decent length"
    children: [{ name: net }]
`);
    expect(errs).toEqual(['outpost.yaml:4: connections[0].remote.auth: pubkey authentication of the peer needs a trusted CA: add one under top-level cas:']);
  });

  it('required keys name the enclosing mapping and its line', () => {
    expect(errorsOf('connections:\n  - name: a\n    remote: { auth: psk }\n    children: [{ name: net }]\n')).toEqual([
      'outpost.yaml:2: connections[0]: missing required key "local"',
      'outpost.yaml:2: connections[0]: auth psk needs a secret: add "psk:" or "psk_file:"',
    ]);
    expect(errorsOf('connections:\n  - name: a\n    local: { id: gw.example, auth: pubkey }\n    remote: { auth: psk }\n    psk: "a shared secret of decent length"\n')).toEqual([
      'outpost.yaml:2: connections[0]: needs at least one entry under "children"',
      'outpost.yaml:3: connections[0].local: auth pubkey needs "cert" (our certificate file)',
      'outpost.yaml:3: connections[0].local: auth pubkey needs "key" (our private key file)',
    ]);
  });

  it('duplicate names and duplicate keys', () => {
    const errs = errorsOf(`connections:
  - name: a
    local: { id: gw.example, auth: psk }
    remote: { auth: psk }
    psk: "a shared secret of decent length"
    children: [{ name: net }, { name: net }]
  - name: a
    local: { id: gw.example, auth: psk }
    local: { id: gw2.example, auth: psk }
    remote: { auth: psk }
    psk: "a shared secret of decent length"
    children: [{ name: net }]
`);
    expect(errs).toEqual([
      'outpost.yaml:6: connections[0].children[1].name: duplicate child name "net" (first at connections[0].children[0])',
      'outpost.yaml:7: connections[1].name: duplicate connection name "a" (first at connections[0])',
      'outpost.yaml:9: connections[1].local: duplicate key (first set at line 8)',
    ]);
  });

  it('lifetimes and start_action', () => {
    const errs = errorsOf(PSK_CONN('    ike_lifetime: 2h\n    ike_rekey: 3h\n').replace('{ name: net, local_ts: [198.51.100.0/24] }', '{ name: net, lifetime: 1h, rekey: 1h, start_action: start }'));
    expect(errs).toEqual([
      'outpost.yaml:6: connections[0].children[0].rekey: rekey (3600s) must be shorter than lifetime (3600s)',
      'outpost.yaml:6: connections[0].children[0].start_action: start needs remote_addrs on the connection (whom to initiate to)',
      'outpost.yaml:8: connections[0].ike_rekey: ike_rekey (10800s) must be shorter than ike_lifetime (7200s)',
    ]);
    expect(errorsOf(PSK_CONN('    dpd_delay: soon\n'))).toEqual([
      'outpost.yaml:7: connections[0].dpd_delay: must be a duration like 30s, 8h, 1h30m or a number of seconds (got "soon")',
    ]);
  });

  it('listen port and NAT-T port must differ', () => {
    expect(errorsOf(`listen: [{ address: 127.0.0.1, port: 4500, natt_port: 4500 }]\n${PSK_CONN()}`)).toEqual([
      'outpost.yaml:1: listen[0].natt_port: must differ from port (4500): NAT-T traffic needs its own socket',
    ]);
  });

  it('YAML syntax errors carry the line', () => {
    const errs = errorsOf('log: { level: info }\nconnections:\n  - name: [a, b\n  - name: c\n');
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^outpost\.yaml:3: YAML syntax error/);
  });

  it('an empty file or a non-mapping document', () => {
    expect(errorsOf('')).toEqual(['outpost.yaml: the file is empty']);
    expect(errorsOf('# only a comment\n')).toEqual(['outpost.yaml: the file is empty']);
    expect(errorsOf('- a\n- b\n')).toEqual(['outpost.yaml:1: must be a mapping (got a list)']);
  });
});

describe('pre-shared keys', () => {
  const withPsk = (line: string) =>
    `connections:\n  - name: a\n    local: { id: gw.example, auth: psk }\n    remote: { auth: psk }\n${line}\n    children: [{ name: net }]\n`;

  it('text, hex (even unquoted, which YAML reads as a number) and base64', () => {
    expect(configOf(withPsk('    psk: "correct horse battery"')).config.connections[0]!.psk).toEqual(new TextEncoder().encode('correct horse battery'));
    expect(configOf(withPsk('    psk: 0x00112233445566778899aabbccddeeff')).config.connections[0]!.psk).toEqual(
      Uint8Array.from([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]),
    );
    expect(configOf(withPsk('    psk: 0x0123456789abcdef')).config.connections[0]!.psk).toEqual(Uint8Array.from([1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]));
    expect(configOf(withPsk('    psk: 0sAAECAwQFBgcICQoLDA0ODw==')).config.connections[0]!.psk).toEqual(Uint8Array.from({ length: 16 }, (_, i) => i));
  });

  it('from a file (trailing newline dropped), with a warning when others can read it', () => {
    const a = configOf(withPsk('    psk_file: branch.psk'));
    expect(a.config.connections[0]!.psk).toEqual(new TextEncoder().encode('a-long-random-branch-secret'));
    expect(a.warnings).toEqual([]);
    const b = configOf(withPsk('    psk_file: open.psk'));
    expect(b.config.connections[0]!.psk).toHaveLength(16);
    expect(b.warnings).toEqual([expect.stringMatching(/^outpost\.yaml:5: connections\[0\]\.psk_file: PSK file .*open\.psk is readable by other users \(mode 0644\); chmod 600 it$/)]);
  });

  it('length policy: under 8 octets refused, under 16 a warning', () => {
    expect(errorsOf(withPsk('    psk: "1234567"'))).toEqual([
      'outpost.yaml:5: connections[0].psk: PSK is 7 octets; at least 8 are required (16+ random octets recommended)',
    ]);
    const short = configOf(withPsk('    psk: "12345678"'));
    expect(short.warnings).toEqual([expect.stringMatching(/^outpost\.yaml:5: connections\[0\]\.psk: PSK is only 8 octets/)]);
  });

  it('malformed, missing, doubled or unused secrets', () => {
    expect(errorsOf(withPsk('    psk: 0x123'))).toEqual(['outpost.yaml:5: connections[0].psk: hex PSK (0x…) must have an even number of hex digits']);
    expect(errorsOf(withPsk('    psk_file: nope.psk'))).toEqual([expect.stringMatching(/^outpost\.yaml:5: connections\[0\]\.psk_file: cannot read .*nope\.psk: no such file$/)]);
    expect(errorsOf(withPsk('    psk: "correct horse battery"\n    psk_file: branch.psk'))).toEqual(['outpost.yaml:6: connections[0].psk_file: set either psk or psk_file, not both']);
    const unused = configOf(`cas: [{ name: corp, cert: ca.pem }]
connections:
  - name: a
    local: { id: gw.example, auth: pubkey, cert: gw-ecdsa.pem, key: gw-ecdsa.key }
    remote: { auth: pubkey }
    psk: "correct horse battery"
    children: [{ name: net }]
`);
    expect(unused.warnings).toEqual(['outpost.yaml:6: connections[0].psk: ignored: neither side uses auth psk']);
    expect(unused.config.connections[0]!.psk).toBeUndefined();
  });
});

describe('certificates and keys', () => {
  const withLocal = (cert: string, key: string) => `cas: [{ name: corp, cert: ca.pem }]
connections:
  - name: a
    local:
      id: gw.outpost.test
      auth: pubkey
      cert: ${cert}
      key: ${key}
    remote: { auth: pubkey }
    children: [{ name: net }]
`;

  it.each(['rsa', 'ecdsa', 'ecdsa384', 'ed25519'])('a matching %s pair loads', (suffix) => {
    const { config } = configOf(withLocal(`gw-${suffix}.pem`, `gw-${suffix}.key`));
    const local = config.connections[0]!.local;
    expect(local.certChain).toHaveLength(1);
    expect(local.privateKey?.length).toBeGreaterThan(0);
  });

  it('a key of another type or another key of the same type is refused', () => {
    expect(errorsOf(withLocal('gw-ecdsa.pem', 'gw-rsa.key'))).toEqual([
      expect.stringMatching(/^outpost\.yaml:8: connections\[0\]\.local\.key: private key is rsa but the certificate's key is ecdsa-p256 \(gw-ecdsa\.pem\)$/),
    ]);
    expect(errorsOf(withLocal('gw-ecdsa.pem', 'client-ecdsa.key'))).toEqual([
      "outpost.yaml:8: connections[0].local.key: private key does not match the certificate's public key (gw-ecdsa.pem)",
    ]);
  });

  it('missing and unparseable files', () => {
    expect(errorsOf(withLocal('missing.pem', 'gw-ecdsa.key'))).toEqual([
      expect.stringMatching(/^outpost\.yaml:7: connections\[0\]\.local\.cert: cannot read .*missing\.pem: no such file$/),
    ]);
    expect(errorsOf(withLocal('not-a-cert.pem', 'gw-ecdsa.key'))).toEqual([
      expect.stringMatching(/^outpost\.yaml:7: connections\[0\]\.local\.cert: .*not-a-cert\.pem: certificate 1 is not a parseable X\.509 certificate$/),
    ]);
    expect(errorsOf(withLocal('only-key.pem', 'gw-ecdsa.pem'))).toEqual([
      expect.stringMatching(/local\.cert: .*only-key\.pem: no CERTIFICATE block in PEM \(found: PRIVATE KEY\)$/),
      expect.stringMatching(/local\.key: .*gw-ecdsa\.pem: no PRIVATE KEY block in PEM$/),
    ]);
    expect(errorsOf(`cas: [{ name: corp, cert: nothing.pem }]\n${PSK_CONN()}`)).toEqual([
      expect.stringMatching(/^outpost\.yaml:1: cas\[0\]\.cert: cannot read .*nothing\.pem: no such file$/),
    ]);
  });

  it('PKCS#1 and SEC1 keys (as strongSwan pki writes them) are converted; encrypted keys are refused', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'sec1.key'), ec.privateKey.export({ format: 'pem', type: 'sec1' }) as string);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'pkcs1.key'), rsa.privateKey.export({ format: 'pem', type: 'pkcs1' }) as string);
    writeFileSync(join(dir, 'encrypted.key'), pemEncode('ENCRYPTED PRIVATE KEY', new Uint8Array([0x30, 0])));
    // They load (and then do not match the test certificate, which proves they were parsed as keys).
    expect(errorsOf(withLocal('gw-ecdsa.pem', 'sec1.key'))).toEqual([expect.stringMatching(/local\.key: private key does not match the certificate's public key/)]);
    expect(errorsOf(withLocal('gw-rsa.pem', 'pkcs1.key'))).toEqual([expect.stringMatching(/local\.key: private key does not match the certificate's public key/)]);
    expect(errorsOf(withLocal('gw-ecdsa.pem', 'encrypted.key'))).toEqual([expect.stringMatching(/local\.key: .*encrypted private keys are not supported/)]);
  });

  it('a chain file: the end-entity certificate first, intermediates after it', () => {
    writeFileSync(join(dir, 'chain.pem'), readFileSync(join(dir, 'gw-intermediate.pem'), 'utf8') + readFileSync(join(dir, 'ca-intermediate.pem'), 'utf8'));
    const { config } = configOf(withLocal('chain.pem', 'gw-intermediate.key'));
    expect(config.connections[0]!.local.certChain).toEqual([pki.gwViaIntermediate.der, pki.intermediate.der]);
  });
});

describe('loadConfigFile', () => {
  it('reports a missing file', async () => {
    expect(await loadConfigFile(join(dir, 'nope.yaml'))).toEqual({ ok: false, errors: [`${join(dir, 'nope.yaml')}: cannot read config: no such file`] });
  });

  it('prefixes messages with the file name', async () => {
    writeFileSync(join(dir, 'bad.yaml'), 'log: { level: loud }\n');
    const r = await loadConfigFile(join(dir, 'bad.yaml'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toMatch(/^bad\.yaml:1: log\.level: /);
  });
});

describe('docs/config.md', () => {
  it('documents every key the parser accepts, in the table of its section', async () => {
    const { CONFIG_KEYS } = await import('./parse-config.ts');
    const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'config.md'), 'utf8');
    const sections = doc.split(/\n#{2,4} /);
    const heading: Record<string, string> = {
      top: 'Top level', listen: 'listen', log: 'log', dataplane: 'dataplane', retransmit: 'retransmit', pools: 'pools',
      cas: 'cas', connections: 'connections', local: 'local', remote: 'remote', children: 'children',
    };
    for (const [section, keys] of Object.entries(CONFIG_KEYS)) {
      const text = sections.find((s) => s.startsWith(`${heading[section]}\n`));
      expect(text, `section "${heading[section]}"`).toBeDefined();
      for (const key of keys) expect(text, `${section}.${key}`).toContain(`| \`${key}\` |`);
    }
  });
});

describe('redirect (RFC 5685)', () => {
  it('redirect_to (addresses and DNS names) and max_sessions at top level, redirect_to per connection', () => {
    const { config } = configOf(`redirect_to: [192.0.2.4, "2001:DB8::4", gw2.example.net]\nmax_sessions: 500\n${PSK_CONN('    redirect_to: [203.0.113.9]\n')}`);
    expect(config.redirectTo).toEqual(['192.0.2.4', '2001:db8::4', 'gw2.example.net']);
    expect(config.maxSessions).toBe(500);
    expect(config.connections[0]?.redirectTo).toEqual(['203.0.113.9']);
    const plain = configOf(PSK_CONN()).config;
    expect(plain.redirectTo).toBeUndefined();
    expect(plain.maxSessions).toBeUndefined();
    expect(plain.connections[0]?.redirectTo).toBeUndefined();
  });

  it('targets that are neither an address nor a DNS name, and a negative limit, are errors with their line', () => {
    expect(errorsOf(`redirect_to: [192.0.2.4, "not a host!"]\nmax_sessions: -1\n${PSK_CONN('    redirect_to: ["_bad_"]\n')}`)).toEqual([
      'outpost.yaml:1: redirect_to[1]: "not a host!" is neither an IP address nor a DNS name',
      'outpost.yaml:2: max_sessions: must be an integer in 0..10000000 (got -1)',
      'outpost.yaml:9: connections[0].redirect_to[0]: "_bad_" is neither an IP address nor a DNS name',
    ]);
  });
});
