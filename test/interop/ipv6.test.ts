// Interop: strongSwan 5.9 → Outpost over IPv6 outer addresses, with IPv4 + IPv6 virtual IPs, DNS and a DNS domain (RFC 7296 §2.19, §3.15; RFC 8598).
//
//   netns cl  2001:db8:1::2 ── veth ── 2001:db8:1::1  netns gw (outpost, listen ::)
//   client charon: vips = 0.0.0.0, ::            pools 203.0.113.0/24 + 2001:db8:ff::/112
//
// The fixed IPv4 topology from netns.ts gets IPv6 addresses added without DAD (so they are usable at once).
// IKE runs between the IPv6 addresses with IPv6 address identities on both sides. strongSwan asks for one
// address of each family; TSi must come back narrowed to the /32 and the /128. The DNS servers and the domain are
// read from strongSwan itself: its updown plugin hands the received servers to a script (PLUTO_DNS4_1 /
// PLUTO_DNS6_1), and its log names every CP attribute it processed. Leases stick to the identity: a reconnect
// gets the same pair, another identity the next one. OUTPOST_INTEROP_GATEWAY=strongswan runs the same against charon.
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, type Topology } from '../support/netns.ts';
import { outpostCliExists } from '../support/outpost-process.ts';
import { Charon, type SwanSection } from '../support/strongswan.ts';
import { gatewayKind, startGateway, swanctlFor, type GatewaySpec, type GatewayUnderTest } from './gateway-under-test.ts';
import { interopSkipReason } from './interop-support.ts';

const KIND = gatewayKind();
const skip = interopSkipReason();

const GW6 = '2001:db8:1::1';
const CL6 = '2001:db8:1::2';
const INNER4 = '198.51.100.0/24';
const INNER6 = '2001:db8:2::/64';
const POOL4 = { name: 'v4', cidr: '203.0.113.0/24', dns: ['198.51.100.53'], domains: ['corp.outpost.test'] };
const POOL6 = { name: 'v6', cidr: '2001:db8:ff::/112', dns: ['2001:db8:2::53'], domains: ['corp.outpost.test'] };
const IKE = 'aes256gcm16-prfsha256-x25519';
const ESP = 'aes256gcm16';
const PSK = 'ipv6-interop-5d1e8f2a9c07b364';
/** The plugin list of support/strongswan.ts plus `updown`, which reports received DNS servers to a script. */
const CLIENT_PLUGINS =
  'random nonce openssl pem pkcs1 pkcs8 x509 pubkey constraints aes sha1 sha2 md5 hmac gcm chapoly ' +
  'curve25519 kdf drbg gcrypt kernel-libipsec kernel-netlink socket-default vici updown';

function ip(ns: string, args: string[]): void {
  const r = spawnSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip -n ${ns} ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** Adds the IPv6 addresses (nodad: no duplicate address detection, usable immediately) and waits until none is tentative. */
async function addIpv6(topo: Topology): Promise<void> {
  for (const ns of [topo.ns.cl, topo.ns.gw]) {
    const r = spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.all.disable_ipv6=0'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`sysctl in ${ns}: ${r.stderr.trim()}`);
  }
  ip(topo.ns.cl, ['-6', 'addr', 'add', `${CL6}/64`, 'dev', 'eth0', 'nodad']);
  ip(topo.ns.gw, ['-6', 'addr', 'add', `${GW6}/64`, 'dev', 'eth0', 'nodad']);
  ip(topo.ns.gw, ['-6', 'addr', 'add', '2001:db8:2::1/64', 'dev', 'eth1', 'nodad']);
  const deadline = Date.now() + 5000;
  for (;;) {
    const out = [topo.ns.cl, topo.ns.gw].map((ns) => spawnSync('ip', ['-n', ns, '-6', 'addr', 'show'], { encoding: 'utf8' }).stdout).join('\n');
    if (out.includes(CL6) && out.includes(GW6) && !/tentative/.test(out)) return;
    if (Date.now() > deadline) throw new Error(`IPv6 addresses not ready:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(skip !== undefined)(`IPv6: strongSwan client → ${KIND === 'outpost' ? 'Outpost' : 'charon (reference)'} over IPv6, dual-stack virtual IPs`, () => {
  let topo: Topology;
  let client: Charon;
  let gw: GatewayUnderTest;
  let updownDir: string;

  beforeAll(async () => {
    if (KIND === 'outpost' && !outpostCliExists()) throw new Error('firmware/bin/outpost.ts does not exist yet');
    topo = await createTopology('ipv6');
    await addIpv6(topo);

    const spec: GatewaySpec = {
      pools: [POOL4, POOL6].map((p) => ({ name: p.name, cidr: p.cidr })),
      cas: [],
      conns: [
        {
          name: 'rw6',
          localId: KIND === 'outpost' ? `ipv6:${GW6}` : GW6,
          localAuth: 'psk',
          remoteId: '%any',
          remoteAuth: 'psk',
          psk: PSK,
          ikeProposals: [IKE],
          pools: ['v4', 'v6'],
          children: [{ name: 'net', localTs: [INNER4, INNER6], remoteTs: ['dynamic'], espProposals: [ESP] }],
        },
      ],
    };

    // The updown script records what charon tells it, one file per invocation (verb + family + SA).
    updownDir = join(topo.dir, 'updown');
    const script = join(topo.dir, 'updown.sh');
    writeFileSync(script, `#!/bin/sh\nmkdir -p '${updownDir}'\nenv | grep '^PLUTO_' | sort > '${updownDir}'/"$PLUTO_VERB-$PLUTO_UNIQUEID-$$.env"\nexit 0\n`);
    chmodSync(script, 0o755);

    const conns: SwanSection = {};
    for (const [name, id] of [
      ['alice', CL6],
      ['bob', 'bob@outpost.test'],
    ] as const) {
      conns[name] = {
        version: 2,
        local_addrs: CL6,
        remote_addrs: GW6,
        vips: ['0.0.0.0', '::'],
        proposals: IKE,
        local: { auth: 'psk', id },
        remote: { auth: 'psk', id: GW6 },
        children: { [`${name}-net`]: { remote_ts: [INNER4, INNER6], esp_proposals: ESP, updown: script } },
      };
    }
    client = await Charon.start(topo, 'cl', {
      name: 'client',
      charon: { load: CLIENT_PLUGINS, plugins: { updown: { dns_handler: true } } },
    });
    await client.configure({
      connections: conns,
      secrets: {
        'ike-alice': { id: CL6, id_gw: GW6, secret: PSK },
        'ike-bob': { id: 'bob@outpost.test', id_gw: GW6, secret: PSK },
      },
    });

    gw = await startGateway(topo, 'gw', spec, {
      localAddr: GW6,
      outpostExtra: {
        listen: [{ address: '::', port: 500, natt_port: 4500 }],
        pools: [POOL4, POOL6].map((p) => ({ ...p })),
      },
    });
    if (KIND === 'strongswan') {
      // The shared spec has no DNS attributes: give the reference charon's pools the same ones Outpost has.
      const charon = (gw as unknown as { charon: Charon }).charon;
      const { conf, files } = swanctlFor(spec, GW6);
      for (const p of [POOL4, POOL6]) conf.pools[p.name] = { addrs: p.cidr, dns: p.dns };
      await charon.configure(conf, files);
    }
  });

  afterEach(async () => {
    if (client) await client.terminateAll();
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  function updownRecords(): Record<string, string>[] {
    if (!existsSync(updownDir)) return [];
    return readdirSync(updownDir).map((f) => {
      const env: Record<string, string> = { FILE: f };
      for (const line of readFileSync(join(updownDir, f), 'utf8').split('\n')) {
        const eq = line.indexOf('=');
        if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
      }
      return env;
    });
  }

  /** Connects `conn`, checks both families end to end, returns the two virtual IPs. */
  async function connect(conn: 'alice' | 'bob', clientIdShown: string, outpostId: string): Promise<{ v4: string; v6: string; clLog: string }> {
    rmSync(updownDir, { recursive: true, force: true });
    const gwMark = gw.mark();
    const clMark = client.logMark();
    const r = await client.initiate(`${conn}-net`, { ike: conn, timeoutSec: 10 });
    const clLog = client.logSince(clMark);
    const diag = () => `\n--- swanctl ---\n${r.output}\n${clLog.split('\n').slice(-60).join('\n')}\n${gw.tail()}`;
    expect(r.ok, `initiate ${conn} failed${diag()}`).toBe(true);

    const sas = await client.listSas({ ike: conn });
    expect(sas, diag()).toHaveLength(1);
    const sa = sas[0]!;
    expect(sa.state).toBe('ESTABLISHED');
    expect(sa.localHost).toBe(CL6);
    expect(sa.remoteHost).toBe(GW6);
    expect(sa.localId).toBe(clientIdShown);
    expect(sa.remoteId).toBe(GW6);
    expect(sa.localVips, `one virtual IP of each family${diag()}`).toHaveLength(2);
    const v4 = sa.localVips.find((v) => !v.includes(':'));
    const v6 = sa.localVips.find((v) => v.includes(':'));
    expect(v4).toMatch(/^203\.0\.113\.\d+$/);
    expect(v6).toMatch(/^2001:db8:ff::[0-9a-f]+$/);
    expect(sa.children).toHaveLength(1);
    const ch = sa.children[0]!;
    expect(ch.state).toBe('INSTALLED');
    expect([...ch.localTs].sort(), 'TSi narrowed to the /32 and the /128').toEqual([`${v4}/32`, `${v6}/128`].sort());
    expect([...ch.remoteTs].sort()).toEqual([INNER4, INNER6].sort());

    const up = await gw.waitIkeUp(gwMark, KIND === 'outpost' ? outpostId : clientIdShown);
    if (KIND === 'outpost') {
      const rec = JSON.parse(up) as { remoteId: string; localId: string; remote: { addr: string }; local: { addr: string } };
      expect(rec.remoteId).toBe(outpostId);
      expect(rec.localId).toBe(`ipv6:${GW6}`);
      expect(rec.remote.addr).toBe(CL6);
      expect(rec.local.addr).toBe(GW6);
      const childUp = JSON.parse(await gw.waitChildUp(gwMark, v6!)) as { virtualIp: string[]; remoteTs: string[] };
      expect(childUp.virtualIp).toEqual([v4, v6]);
      expect([...childUp.remoteTs].sort()).toEqual([`${v4}/32`, `${v6}/128`].sort());
    } else {
      await gw.waitChildUp(gwMark);
    }
    return { v4: v4!, v6: v6!, clLog };
  }

  it('IKE over IPv6 with IPv6 identities: one virtual IP per family, TSi narrowed to /32 and /128', async () => {
    const { v4, v6 } = await connect('alice', CL6, `ipv6:${CL6}`);
    expect(v4).toBe('203.0.113.1');
    expect(v6).toBe('2001:db8:ff::1');
  }, 45_000);

  it('the DNS servers of both families and the DNS domain reach strongSwan', async () => {
    const { clLog } = await connect('alice', CL6, `ipv6:${CL6}`);
    // charon summarises the CP payload of the IKE_AUTH response, e.g. CPRP(ADDR ADDR6 DNS DOMAIN DNS6): one
    // address and one server per family, and (Outpost; charon's pools have no domain) the domain once, since
    // both pools name the same one.
    const cprp = /parsed IKE_AUTH response \d+ \[[^\]]*CPRP\(([^)]*)\)/.exec(clLog);
    expect(cprp, clLog).not.toBeNull();
    const expected = ['ADDR', 'ADDR6', 'DNS', 'DNS6', ...(KIND === 'outpost' ? ['DOMAIN'] : [])];
    expect(cprp![1]!.split(' ').sort()).toEqual(expected.sort());
    for (const attr of ['INTERNAL_IP4_DNS', 'INTERNAL_IP6_DNS']) expect(clLog).toContain(`processing ${attr} attribute`);
    // strongSwan 5.9 has no handler for INTERNAL_DNS_DOMAIN (RFC 8598) but parses and names it.
    if (KIND === 'outpost') expect(clLog).toContain('processing INTERNAL_DNS_DOMAIN attribute');
    // The updown plugin's DNS handler took the servers; every up-client call sees them.
    const deadline = Date.now() + 5000;
    let ups = updownRecords().filter((e) => e.PLUTO_VERB?.startsWith('up-client'));
    while (ups.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      ups = updownRecords().filter((e) => e.PLUTO_VERB?.startsWith('up-client'));
    }
    expect(ups.length, `no updown call recorded in ${updownDir}`).toBeGreaterThan(0);
    for (const e of ups) {
      expect(e.PLUTO_DNS4_1, e.FILE).toBe(POOL4.dns[0]);
      expect(e.PLUTO_DNS6_1, e.FILE).toBe(POOL6.dns[0]);
      expect(e.PLUTO_DNS4_2, e.FILE).toBeUndefined();
      expect(e.PLUTO_MY_SOURCEIP4_1, e.FILE).toBe('203.0.113.1');
      expect(e.PLUTO_MY_SOURCEIP6_1, e.FILE).toBe('2001:db8:ff::1');
      expect(e.PLUTO_PEER, e.FILE).toBe(GW6);
    }
    expect(new Set(ups.map((e) => e.PLUTO_VERB))).toEqual(new Set(['up-client', 'up-client-v6']));
  }, 45_000);

  it('leases stick to the identity: a reconnect gets the same pair, another identity the next one', async () => {
    const first = await connect('alice', CL6, `ipv6:${CL6}`);
    await client.terminateAll();
    const other = await connect('bob', 'bob@outpost.test', 'email:bob@outpost.test');
    await client.terminateAll();
    const again = await connect('alice', CL6, `ipv6:${CL6}`);
    expect([first.v4, first.v6]).toEqual(['203.0.113.1', '2001:db8:ff::1']);
    expect([other.v4, other.v6]).toEqual(['203.0.113.2', '2001:db8:ff::2']);
    expect([again.v4, again.v6]).toEqual([first.v4, first.v6]);
  }, 60_000);
});
