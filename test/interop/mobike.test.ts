// Acceptance: MOBIKE (RFC 4555) between Debian's strongSwan 5.9 (roaming client) and Outpost (responder).
//
//   netns cl: charon, eth0 192.0.2.2 → 192.0.2.3 (the old address is removed)  ══IKE/ESP-in-UDP══▶  netns gw: outpost
//
// The client connects from 192.0.2.2, then its address changes under it: 192.0.2.3 is added to eth0 and 192.0.2.2
// deleted (promote_secondaries keeps the new one). charon notices (netlink), finds the old path gone and sends
// INFORMATIONAL { UPDATE_SA_ADDRESSES, NAT-D, … } from 192.0.2.3. The IKE SA must survive with the same SPIs and no
// new IKE_SA_INIT; Outpost logs the move (event ike.moved), checks the new address (return routability) and its
// status file shows the new remote address. With a data plane that carries traffic, a ping crosses the tunnel
// before and after the move. Finally the client moves back.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createTopology, type Topology } from '../support/netns.ts';
import { OutpostProcess, outpostCliExists, type YamlValue } from '../support/outpost-process.ts';
import { Charon, type IkeSaInfo } from '../support/strongswan.ts';
import { outpostYaml } from './gateway-under-test.ts';
import { ping } from './tunnel-traffic.ts';
import { interopSkipReason, pskRoadWarriorClient, pskRoadWarriorConn, pskRoadWarriorSpec } from './interop-support.ts';

const skip = interopSkipReason();

const PSK = 'interop-mobike-psk-5e21c0d9a7';
const NEW_ADDR = '192.0.2.3';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skip !== undefined)('MOBIKE: a strongSwan client changes its address under an Outpost gateway', () => {
  let topo: Topology;
  let client: Charon;
  let outpost: OutpostProcess;
  let statusPath: string;
  let dataplane = 'mock';
  let before: IkeSaInfo;

  const ipCl = async (...args: string[]) => {
    const r = await topo.exec('cl', ['ip', ...args]);
    if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  };

  const status = (): { sas: { remote: { addr: string; port: number }; spiI: string; spiR: string; children: { spiIn: number; spiOut: number }[] }[] } =>
    JSON.parse(readFileSync(statusPath, 'utf8')) as ReturnType<typeof status>;

  async function waitFor<T>(what: string, get: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await get();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${client.tail(40)}\n${outpost.tail(30)}`);
      await sleep(200);
    }
  }

  beforeAll(async () => {
    if (!outpostCliExists()) throw new Error('firmware/bin/outpost.ts does not exist yet');
    topo = await createTopology('mobike');
    // Deleting the primary address would take the secondary one with it; roaming clients keep the new one.
    const sysctl = await topo.exec('cl', ['sysctl', '-q', '-w', 'net.ipv4.conf.eth0.promote_secondaries=1']);
    if (sysctl.code !== 0) throw new Error(sysctl.stderr);
    const spec = pskRoadWarriorSpec([pskRoadWarriorConn('rw', 'gw-mobike.example', 'client-mobike.example', PSK)]);
    const dir = join(topo.dir, 'outpost-files');
    mkdirSync(dir, { recursive: true });
    statusPath = join(dir, 'status.json');
    const yaml = outpostYaml(spec, dir, { dataplane: { backend: 'auto' }, retransmit: { timeout: '1s', tries: 3, base: 2 } });
    outpost = await OutpostProcess.start(topo, 'gw', { name: 'gateway', config: yaml as YamlValue, args: ['--status-file', statusPath] });
    dataplane = String(outpost.events('ready')[0]?.raw.dataplane ?? 'mock');
    client = await Charon.start(topo, 'cl', { name: 'client', debug: { knl: 2 } });
    await client.configure(pskRoadWarriorClient({ ike: 'roam', localId: 'client-mobike.example', remoteId: 'gw-mobike.example', psk: PSK, mobike: true }));
    const r = await client.initiate('net', { ike: 'roam', timeoutSec: 10 });
    if (!r.ok) throw new Error(`client could not connect:\n${r.output}\n${outpost.tail()}`);
    before = (await client.listSas({ ike: 'roam' }))[0]!;
    // strongSwan sends its address list (NO_ADDITIONAL_ADDRESSES) about a second after setup; let it pass.
    await sleep(1500);
  }, 60_000);

  afterAll(async () => {
    await topo?.destroy();
  });

  const traffic = () => dataplane === 'userspace' || dataplane === 'xfrm';

  it('the SA is up with MOBIKE; traffic flows when the data plane carries it', async () => {
    expect(before.state).toBe('ESTABLISHED');
    expect(before.localHost).toBe(ADDR.cl);
    const sas = status().sas;
    expect(sas).toHaveLength(1);
    expect(sas[0]!.remote.addr).toBe(ADDR.cl);
    if (!traffic()) {
      console.warn(`[interop] mobike: data plane is ${dataplane}, no traffic checks`);
      return;
    }
    const p = await ping(topo, 'cl', ADDR.lan, { count: 3, intervalSec: 0.2 });
    expect(p.received, p.output).toBe(3);
  }, 30_000);

  it('the client moves to 192.0.2.3: UPDATE_SA_ADDRESSES, same SPIs, no new IKE_SA_INIT, Outpost logs and shows the new address', async () => {
    const outMark = outpost.mark();
    const clMark = client.logMark();
    await ipCl('addr', 'add', `${NEW_ADDR}/24`, 'dev', 'eth0');
    await ipCl('addr', 'del', `${ADDR.cl}/24`, 'dev', 'eth0');
    const t0 = Date.now();
    const moved = await outpost.waitFor((l) => l.event === 'ike.moved', 20_000, 'ike.moved', outMark);
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    expect(moved.raw).toMatchObject({ from: `${ADDR.cl}:4500`, to: `${NEW_ADDR}:4500` });
    // strongSwan sent the update (and did not reauthenticate).
    expect(client.logSince(clMark)).toMatch(/generating INFORMATIONAL request \d+ \[ N\(UPD_SA_ADDR\)/);
    const after = await waitFor('the client to show its new address', async () => {
      const sa = (await client.listSas({ ike: 'roam' }))[0];
      return sa && sa.localHost === NEW_ADDR && sa.state === 'ESTABLISHED' ? sa : undefined;
    });
    expect(after.uniqueId).toBe(before.uniqueId);
    expect(after.raw['initiator-spi']).toBe(before.raw['initiator-spi']);
    expect(after.raw['responder-spi']).toBe(before.raw['responder-spi']);
    // kernel-libipsec cannot move an ESP SA in place, so charon rekeys its CHILD_SA after the update (its choice,
    // logged as "queueing CHILD_REKEY task"); the CHILD_SA is there, installed, under the same IKE SA.
    await waitFor('the CHILD_SA installed after the move', async () => {
      const sa = (await client.listSas({ ike: 'roam' }))[0];
      return sa?.children.some((c) => c.state === 'INSTALLED') ? true : undefined;
    });
    expect(client.logSince(clMark)).not.toMatch(/initiating IKE_SA/);
    expect(outpost.since(outMark).filter((l) => /IKE_SA_INIT from/.test(l.msg ?? ''))).toEqual([]);
    expect(outpost.since(outMark).some((l) => /return routability of 192\.0\.2\.3:4500 confirmed/.test(l.msg ?? ''))).toBe(true);
    const st = await waitFor('the status file to show 192.0.2.3', () => {
      const sa = status().sas[0];
      return sa?.remote.addr === NEW_ADDR ? sa : undefined;
    });
    expect(st.spiI).toBe(String(before.raw['initiator-spi']).padStart(16, '0'));
    console.log(`[interop] mobike: Outpost logged the move ${secs} s after the address change; data plane ${dataplane}`);
  }, 60_000);

  it('traffic resumes over the new address', async () => {
    if (!traffic()) return;
    const p = await ping(topo, 'cl', ADDR.lan, { count: 5, intervalSec: 0.2 });
    expect(p.received, `${p.output}\n${outpost.tail(20)}`).toBeGreaterThanOrEqual(4);
    const back = await ping(topo, 'lan', (await client.listSas({ ike: 'roam' }))[0]!.localVips[0]!, { count: 3, intervalSec: 0.2 });
    expect(back.received, back.output).toBe(3);
  }, 30_000);

  it('and back to 192.0.2.2: the SA follows again', async () => {
    const outMark = outpost.mark();
    await ipCl('addr', 'add', `${ADDR.cl}/24`, 'dev', 'eth0');
    await ipCl('addr', 'del', `${NEW_ADDR}/24`, 'dev', 'eth0');
    const moved = await outpost.waitFor((l) => l.event === 'ike.moved', 20_000, 'ike.moved back', outMark);
    expect(moved.raw).toMatchObject({ from: `${NEW_ADDR}:4500`, to: `${ADDR.cl}:4500` });
    const sa = await waitFor('the client back at 192.0.2.2', async () => {
      const s = (await client.listSas({ ike: 'roam' }))[0];
      return s && s.localHost === ADDR.cl ? s : undefined;
    });
    expect(sa.uniqueId).toBe(before.uniqueId);
    expect(outpost.since(outMark).filter((l) => l.event === 'ike.down' || l.event === 'ike.up')).toEqual([]);
  }, 60_000);
});
