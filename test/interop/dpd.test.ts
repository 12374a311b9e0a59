// Acceptance: dead peer detection between Debian's strongSwan 5.9 (client) and Outpost (responder) (RFC 7296 §2.4).
//
//   netns cl: client charon  ──IKE/ESP-in-UDP──▶  netns gw: outpost gateway (dpd_delay 2 s, retransmit 1 s × 2, base 2)
//
// Cases: the client's charon is frozen (SIGSTOP): Outpost notices within dpd_delay + its retransmit schedule
// (2 s + 1 + 2 + 4 s), removes the SAs (responder connection: DPD action `clear`) and logs ike.down with a reason
// naming DPD; and Outpost is frozen while the client runs DPD with `dpd_action = restart`: once Outpost resumes,
// the client's new IKE SA comes up, and the stale one goes from Outpost (by INITIAL_CONTACT when strongSwan sends
// it, else by Outpost's own overdue liveness check, which the client answers with INVALID_IKE_SPI only).
// Outpost's data plane is still the mock backend, so DPD is driven by IKE traffic only (no ESP activity hook yet).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADDR, createTopology, type Topology } from '../support/netns.ts';
import { OutpostProcess, outpostCliExists, type YamlValue } from '../support/outpost-process.ts';
import { Charon, type SwanSection } from '../support/strongswan.ts';
import { outpostYaml } from './gateway-under-test.ts';
import { interopSkipReason, pskRoadWarriorConn, pskRoadWarriorSpec } from './interop-support.ts';

const skip = interopSkipReason();

const PSK = 'interop-dpd-psk-90c3e1a6b4';
const IKE = 'aes256gcm16-prfsha256-x25519';
const DPD_DELAY_SEC = 2;
/** Outpost's retransmit schedule for the liveness check: 1 s, then ×2, 2 retransmits → gives up 1+2+4 = 7 s after sending. */
const RETRANSMIT_GIVE_UP_SEC = 7;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skip !== undefined)('dead peer detection: strongSwan client ↔ Outpost', () => {
  let topo: Topology;
  let client: Charon;
  let outpost: OutpostProcess;
  const frozen = new Set<number>();

  function freeze(pid: number | undefined): void {
    if (pid === undefined) throw new Error('no PID');
    process.kill(pid, 'SIGSTOP');
    frozen.add(pid);
  }

  function thaw(pid: number | undefined): void {
    if (pid === undefined || !frozen.has(pid)) return;
    process.kill(pid, 'SIGCONT');
    frozen.delete(pid);
  }

  beforeAll(async () => {
    if (!outpostCliExists()) throw new Error('firmware/bin/outpost.ts does not exist yet');
    topo = await createTopology('dpd');
    const gwConn = (name: string, remoteId: string) => pskRoadWarriorConn(name, 'gw-dpd.example', remoteId, PSK);
    const spec = pskRoadWarriorSpec([gwConn('rw-dpd', 'client-dpd.example'), gwConn('rw-restart', 'client-restart.example')]);
    const dir = join(topo.dir, 'outpost-files');
    mkdirSync(dir, { recursive: true });
    const yaml = outpostYaml(spec, dir, { retransmit: { timeout: '1s', tries: 2, base: 2 } }) as { connections: Record<string, YamlValue>[] };
    // The shared YAML writer has no dpd_delay key: patched in here.
    for (const c of yaml.connections) c.dpd_delay = `${DPD_DELAY_SEC}s`;
    outpost = await OutpostProcess.start(topo, 'gw', { name: 'gateway', config: yaml as unknown as YamlValue });

    const conns: SwanSection = {
      frozen: {
        version: 2,
        remote_addrs: ADDR.gwOuter,
        vips: '0.0.0.0',
        proposals: IKE,
        local: { auth: 'psk', id: 'client-dpd.example' },
        remote: { auth: 'psk', id: 'gw-dpd.example' },
        children: { 'frozen-net': { remote_ts: ADDR.innerNet, esp_proposals: 'aes256gcm16' } },
      },
      restart: {
        version: 2,
        remote_addrs: ADDR.gwOuter,
        vips: '0.0.0.0',
        proposals: IKE,
        dpd_delay: '2s',
        local: { auth: 'psk', id: 'client-restart.example' },
        remote: { auth: 'psk', id: 'gw-dpd.example' },
        children: { 'restart-net': { remote_ts: ADDR.innerNet, esp_proposals: 'aes256gcm16', dpd_action: 'restart' } },
      },
    };
    client = await Charon.start(topo, 'cl', { name: 'client' });
    await client.configure({
      connections: conns,
      secrets: {
        'ike-dpd': { id: 'client-dpd.example', id_gw: 'gw-dpd.example', secret: PSK },
        'ike-restart': { id: 'client-restart.example', id_gw: 'gw-dpd.example', secret: PSK },
      },
    });
  });

  afterEach(async () => {
    for (const pid of [...frozen]) thaw(pid);
    if (client?.isRunning()) await client.terminateAll();
  });

  afterAll(async () => {
    for (const pid of [...frozen]) thaw(pid);
    await topo?.destroy();
  });

  it('the client freezes (SIGSTOP): Outpost clears its SAs within dpd_delay + timeout, ike.down names DPD', async () => {
    const r = await client.initiate('frozen-net', { ike: 'frozen', timeoutSec: 10 });
    expect(r.ok, r.output).toBe(true);
    const mark = outpost.mark();
    const t0 = Date.now();
    freeze(client.pid);
    const limitMs = (DPD_DELAY_SEC + RETRANSMIT_GIVE_UP_SEC) * 1000;
    const down = await outpost.waitFor((l) => l.event === 'ike.down', limitMs + 3000, 'ike.down after the client froze', mark);
    const elapsed = Date.now() - t0;
    expect(String(down.raw.reason)).toMatch(/DPD/);
    expect(down.raw.conn).toBe('rw-dpd');
    expect(elapsed).toBeLessThanOrEqual(limitMs + 2000);
    expect(elapsed).toBeGreaterThanOrEqual(DPD_DELAY_SEC * 1000);
    // The liveness check went out (empty INFORMATIONAL) and was retransmitted before giving up.
    expect(outpost.since(mark).some((l) => /checking liveness/.test(l.msg ?? ''))).toBe(true);
    expect(outpost.since(mark).some((l) => l.event === 'child.down')).toBe(true);
    thaw(client.pid);
  }, 45_000);

  it('Outpost freezes while the client runs DPD with dpd_action = restart: the client reconnects once Outpost resumes', async () => {
    const r = await client.initiate('restart-net', { ike: 'restart', timeoutSec: 10 });
    expect(r.ok, r.output).toBe(true);
    const before = (await client.listSas({ ike: 'restart' }))[0]!;
    const clMark = client.logMark();
    freeze(outpost.pid);
    // strongSwan gives up on the frozen gateway and restarts (a new IKE_SA_INIT that waits in Outpost's socket).
    await client.waitForLog(/<restart\|\d+> (giving up after \d+ retransmits|restarting CHILD_SA restart-net)/, 30_000, clMark);
    await sleep(500);
    const mark = outpost.mark();
    thaw(outpost.pid);
    const up = await outpost.waitFor((l) => l.event === 'ike.up' && String(l.raw.remoteId).includes('client-restart.example'), 20_000, 'ike.up of the restarted SA', mark);
    expect(up).toBeDefined();
    const deadline = Date.now() + 20_000;
    for (;;) {
      const sas = await client.listSas({ ike: 'restart' });
      const sa = sas.find((s) => s.state === 'ESTABLISHED' && s.uniqueId !== before.uniqueId);
      if (sa && sa.children.some((c) => c.state === 'INSTALLED')) break;
      if (Date.now() > deadline) throw new Error(`the client did not re-establish: ${JSON.stringify(sas.map((s) => [s.uniqueId, s.state]))}\n${client.tail(60)}\n${outpost.tail(40)}`);
      await sleep(200);
    }
    // The stale SA on Outpost went (INITIAL_CONTACT from the new one, or Outpost's own DPD).
    const stale = await outpost.waitFor((l) => l.event === 'ike.down', 20_000, 'ike.down of the stale SA', mark);
    expect(String(stale.raw.reason)).toMatch(/INITIAL_CONTACT|DPD/);
  }, 90_000);
});
