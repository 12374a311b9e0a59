// Acceptance: traffic through Outpost's userspace data plane (RFC 4303 ESP in RFC 3948 UDP) to and from a strongSwan client.
//
//   cl: strongSwan (libipsec TUN, VIP 203.0.113.x) ══ESP-in-UDP 4500══ gw: outpost (backend userspace) ── lan 198.51.100.2
//
// The other interop files run Outpost with the mock data plane (control plane only). This one needs the
// userspace backend; until the build has it, it skips and says so. OUTPOST_INTEROP_GATEWAY=strongswan runs
// the same pings through a charon gateway (kernel-libipsec).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AVAILABLE_BACKENDS } from '../../firmware/src/dataplane/select.ts';
import { ADDR, createTopology, type Topology } from '../support/netns.ts';
import { Charon } from '../support/strongswan.ts';
import { gatewayKind, startGateway, type GatewayUnderTest } from './gateway-under-test.ts';
import { interopSkipReason, pskRoadWarriorClient, pskRoadWarriorConn, pskRoadWarriorSpec } from './interop-support.ts';

const KIND = gatewayKind();
const skip =
  interopSkipReason() ??
  (() => {
    if (KIND !== 'outpost' || (AVAILABLE_BACKENDS as readonly string[]).includes('userspace')) return undefined;
    const why = `Outpost's userspace data plane is not in this build (available: ${AVAILABLE_BACKENDS.join(', ')})`;
    console.warn(`[interop] outpost-dataplane skipped: ${why}`);
    return why;
  })();

const PSK = 'interop-dataplane-psk-0b9d3e71';

describe.skipIf(skip !== undefined)(`traffic through ${KIND === 'outpost' ? 'Outpost (userspace data plane)' : 'charon (reference)'}`, () => {
  let topo: Topology;
  let client: Charon;
  let gw: GatewayUnderTest;
  let vip = '';

  beforeAll(async () => {
    topo = await createTopology('dataplane');
    client = await Charon.start(topo, 'cl', { name: 'client' });
    await client.configure(pskRoadWarriorClient({ ike: 'home', localId: 'client.example', remoteId: 'gw.example', psk: PSK }));
    gw = await startGateway(
      topo,
      'gw',
      pskRoadWarriorSpec([pskRoadWarriorConn('rw', 'gw.example', 'client.example', PSK)]),
      { localAddr: ADDR.gwOuter, outpostExtra: { dataplane: { backend: 'userspace' } } },
    );
    const r = await client.initiate('net', { ike: 'home', timeoutSec: 10 });
    if (!r.ok) throw new Error(`client could not connect:\n${r.output}\n${gw.tail()}`);
    vip = (await client.listSas())[0]?.localVips[0] ?? '';
  });

  afterAll(async () => {
    await topo?.destroy();
  });

  const ping = (from: 'cl' | 'lan', to: string, size = 56, count = 3) =>
    topo.exec(from, ['ping', '-n', '-c', String(count), '-i', '0.2', '-W', '2', '-s', String(size), to], { timeoutMs: 15_000 });

  it('the client reaches the LAN host through the tunnel', async () => {
    expect(vip).toMatch(/^203\.0\.113\.\d+$/);
    const r = await ping('cl', ADDR.lan);
    expect(r.code, `${r.stdout}${r.stderr}\n${gw.tail()}`).toBe(0);
    expect(r.stdout).toMatch(/3 received/);
  }, 30_000);

  it('the LAN host reaches the client’s virtual IP (gateway → client direction)', async () => {
    const r = await ping('lan', vip);
    expect(r.code, `${r.stdout}${r.stderr}\n${gw.tail()}`).toBe(0);
    expect(r.stdout).toMatch(/3 received/);
  }, 30_000);

  it('carries 1200-byte packets (ESP-in-UDP overhead on a 1500-byte path)', async () => {
    const r = await ping('cl', ADDR.lan, 1200);
    expect(r.code, `${r.stdout}${r.stderr}\n${gw.tail()}`).toBe(0);
  }, 30_000);

  it('counts the traffic on the client’s CHILD_SA (it went through ESP, not around it)', async () => {
    const child = (await client.listSas())[0]?.children[0];
    expect(Number(child?.raw['packets-out'])).toBeGreaterThanOrEqual(6);
    expect(Number(child?.raw['packets-in'])).toBeGreaterThanOrEqual(6);
  });

  it('stops forwarding once the client has deleted the SA', async () => {
    const t = await client.terminate({ ike: 'home' });
    expect(t.ok, t.output).toBe(true);
    const r = await ping('lan', vip, 56, 1);
    expect(r.code).not.toBe(0);
  }, 30_000);
});
