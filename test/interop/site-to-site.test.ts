// Acceptance: Outpost ↔ Outpost site-to-site, both on the userspace data plane (RFC 7296 IKEv2, RFC 4303 ESP, RFC 3948 ESP-in-UDP).
//
//   lanA 198.51.100.2 ── gwA outpost (responder) ══ 192.0.2.1 ═ 192.0.2.2 ══ gwB outpost (start_action: start) ── lanB 203.0.113.2
//
// Four cases: PSK and ECDSA certificates, each with plain ESP (no NAT, so IP protocol 50 between the gateways)
// and with forced encapsulation (`encapsulation: true`: ESP-in-UDP on 4500). B brings the tunnel up by itself;
// then lanA pings lanB 20 times and lanB pings lanA, without loss, while the link between the gateways is captured:
// it must carry only IKE and the expected kind of ESP. An iperf3 TCP run lanA → lanB follows (10 s with PSK,
// 3 s with certificates). Both gateways' status files show the traffic on the CHILD_SA and on the right socket
// (raw ESP vs UDP).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsSkipReason } from '../support/netns.ts';
import { outpostCliExists } from '../support/outpost-process.ts';
import { countKinds, startCapture, tcpdumpAvailable } from './tunnel-capture.ts';
import { createSiteTopology, makeSitePki, readStatus, SITE, startSitePair, waitStatus, type SitePki, type SiteTopology } from './tunnel-site-to-site.ts';
import { iperf3, iperf3Available, mbit, ping } from './tunnel-traffic.ts';

const skip =
  netnsSkipReason() ??
  (() => {
    if (iperf3Available() && tcpdumpAvailable()) return undefined;
    console.warn('[interop] site-to-site skipped: iperf3 or tcpdump is not installed (scripts/install-test-deps.sh)');
    return 'iperf3 or tcpdump missing';
  })();

const CASES = [
  { auth: 'psk', encap: false, esp: 'aes256gcm16', seconds: 10 },
  { auth: 'psk', encap: true, esp: 'chacha20poly1305', seconds: 10 },
  { auth: 'cert', encap: false, esp: 'aes256-sha256', seconds: 3 },
  { auth: 'cert', encap: true, esp: 'aes256gcm16', seconds: 3 },
] as const;

describe.skipIf(skip !== undefined)('Outpost ↔ Outpost site-to-site (userspace data plane on both ends)', () => {
  let site: SiteTopology;
  let pki: SitePki;
  const results: string[] = [];

  beforeAll(async () => {
    if (!outpostCliExists()) throw new Error('firmware/bin/outpost.ts is missing');
    site = await createSiteTopology('site');
    pki = makeSitePki(`${site.topo.dir}/pki`);
  }, 30_000);

  afterAll(async () => {
    if (results.length) console.log(`[site-to-site] iperf3 TCP lanA → lanB:\n  ${results.join('\n  ')}`);
    await site?.destroy();
  });

  for (const c of CASES) {
    const name = `${c.auth}-${c.encap ? 'encap' : 'plain'}-${c.esp}`;
    const wireKind = c.encap ? 'esp-in-udp' : 'esp';
    it(`${c.auth === 'psk' ? 'PSK' : 'ECDSA certificates'}, ${c.encap ? 'forced ESP-in-UDP' : 'plain ESP (IP protocol 50)'}, ${c.esp}: B initiates, LANs ping both ways, only ${wireKind} between the gateways, iperf3 ${c.seconds} s`, async () => {
      const pair = await startSitePair(site, { auth: c.auth, encap: c.encap, esp: c.esp, name, pki });
      try {
        const capture = await startCapture(site.topo, 'gw', 'eth0', name);
        const there = await ping(site.topo, 'lan', SITE.lanB, { count: 20, intervalSec: 0.05 });
        expect(there.received, `${there.output}\n${pair.tail()}`).toBe(20);
        const back = await ping(site.topo, site.ns.lanB, SITE.lanA, { count: 5, intervalSec: 0.05 });
        expect(back.received, `${back.output}\n${pair.tail()}`).toBe(5);
        const wire = await capture.stop();

        // Between the gateways: IKE (UDP 500, or 4500 with the marker) and ESP of the agreed kind, nothing else.
        const ipFrames = wire.filter((p) => p.kind !== 'arp' && p.kind !== 'ipv6-nd');
        const summary = `${JSON.stringify(countKinds(wire))}\n${ipFrames.slice(0, 12).map((p) => p.text).join('\n')}`;
        expect(ipFrames.filter((p) => p.kind !== wireKind && p.kind !== 'ike' && p.kind !== 'nat-keepalive').map((p) => p.text), summary).toEqual([]);
        for (const p of ipFrames) expect([p.src, p.dst].sort(), p.text).toEqual([SITE.gwAOuter, SITE.gwBOuter].sort());
        expect(ipFrames.filter((p) => p.kind === wireKind).length, summary).toBeGreaterThanOrEqual(50);
        expect(new Set(ipFrames.filter((p) => p.kind === wireKind).map((p) => p.spi)).size, summary).toBe(2);

        // Each gateway counted the packets on its CHILD_SA, and its worker read them from the expected socket.
        for (const status of [pair.statusA, pair.statusB]) {
          const s = await waitStatus(
            status,
            (x) => (x.sas[0]?.children[0]?.traffic?.in?.packets ?? 0) >= 25 && (x.sas[0]?.children[0]?.traffic?.out?.packets ?? 0) >= 25,
            '25 packets each way on the CHILD_SA',
          );
          expect(s.dataplane.backend).toBe('userspace');
          expect(s.sas[0]!.children[0]!.encap).toBe(c.encap);
          const w = s.dataplane.worker!;
          // IKE may use 4500 without NAT (MOBIKE moves there, RFC 4555 §3.3): ESP-in-UDP is what is left of udpRx.
          const espInUdp = w.udpRx! - w.ikeRx! - w.keepaliveRx!;
          expect(c.encap ? espInUdp : w.rawRx, JSON.stringify(w)).toBeGreaterThanOrEqual(25);
          expect(c.encap ? w.rawRx : espInUdp, JSON.stringify(w)).toBe(0);
          expect(w.espDrops, JSON.stringify(w)).toBe(0);
        }

        const perf = await iperf3(site.topo, { serverRole: site.ns.lanB, serverAddr: SITE.lanB, clientRole: 'lan', seconds: c.seconds });
        results.push(`${name}: ${mbit(perf.bitsPerSecond)} over ${c.seconds} s (${perf.retransmits} retransmits)`);
        expect(perf.bitsPerSecond).toBeGreaterThan(1e6);
        const after = await waitStatus(pair.statusB, (x) => (x.sas[0]?.children[0]?.traffic?.in?.bytes ?? 0) >= perf.bytes, `B received the ${perf.bytes} iperf3 octets`);
        expect(after.sas[0]!.children[0]!.traffic!.in!.bytes).toBeGreaterThanOrEqual(perf.bytes);
        expect(pair.a.isRunning() && pair.b.isRunning()).toBe(true);
      } finally {
        await pair.stop();
      }
      // Stopping sent DELETEs: neither side keeps an SA.
      expect(readStatus(pair.statusA)?.sas ?? []).toEqual([]);
    }, 90_000);
  }
});
