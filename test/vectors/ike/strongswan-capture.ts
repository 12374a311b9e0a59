// Captures strongSwan 5.9's IKE_SA_INIT / IKE_AUTH messages and keys as codec/engine fixtures (RFC 7296 §1.2, §2.14).
//
// Run as root: `node_modules/.bin/bun test/vectors/ike/strongswan-capture.ts`. A client charon (namespace cl)
// initiates with PSK and aes256gcm16-prfsha256-x25519 to a gateway charon (namespace gw) while tshark records
// the gateway's interface; the client's log at `ike 4`/`chd 4` yields g^ir, SKEYSEED, SK_* and the child keys.
// Rewrites test/vectors/ike/strongswan-*.hex and strongswan-psk-keys.json (a fresh, different capture each run).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADDR, canRunNetns, createTopology } from '../../support/netns.ts';
import { Charon, ensureStrongswan } from '../../support/strongswan.ts';

const outDir = dirname(fileURLToPath(import.meta.url));
const PSK = 'outpost-interop-vector-psk';
const IKE_PROPOSAL = 'aes256gcm16-prfsha256-x25519';
const ESP_PROPOSAL = 'aes256gcm16';

/** Pulls the first `<label> => N bytes @ 0x…` hex dump out of a charon log. */
export function logDump(log: string, label: string): string {
  const lines = log.split('\n');
  const head = new RegExp(`\\] <[^>]*> ${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} => (\\d+) bytes @`);
  for (let i = 0; i < lines.length; i++) {
    const m = head.exec(lines[i]!);
    if (!m) continue;
    const want = Number(m[1]);
    let hex = '';
    for (let j = i + 1; j < lines.length && hex.length < want * 2; j++) {
      const d = /\] <[^>]*>\s+\d+: ([0-9A-F]{2}(?: [0-9A-F]{2})*)/.exec(lines[j]!);
      if (!d) break;
      hex += d[1]!.replace(/ /g, '').toLowerCase();
    }
    if (hex.length !== want * 2) throw new Error(`truncated dump for ${label}`);
    return hex;
  }
  throw new Error(`no '${label}' dump in log`);
}

async function main(): Promise<void> {
  const probe = canRunNetns();
  if (!probe.ok) throw new Error(probe.reason);
  const sw = ensureStrongswan();
  if (!sw.ok) throw new Error(sw.reason);
  const topo = await createTopology('capture');
  try {
    const gw = await Charon.start(topo, 'gw', { name: 'gw' });
    const cl = await Charon.start(topo, 'cl', { name: 'cl', debug: { ike: 4, chd: 4 } });
    await gw.configure({
      connections: {
        rw: {
          version: 2,
          local_addrs: ADDR.gwOuter,
          pools: 'vip',
          proposals: IKE_PROPOSAL,
          local: { auth: 'psk', id: 'gw.example' },
          remote: { auth: 'psk', id: 'client.example' },
          children: { net: { local_ts: ADDR.innerNet, esp_proposals: ESP_PROPOSAL } },
        },
      },
      secrets: { 'ike-1': { id: 'client.example', secret: PSK } },
      pools: { vip: { addrs: ADDR.vipNet } },
    });
    await cl.configure({
      connections: {
        home: {
          version: 2,
          remote_addrs: ADDR.gwOuter,
          vips: '0.0.0.0',
          proposals: IKE_PROPOSAL,
          local: { auth: 'psk', id: 'client.example' },
          remote: { auth: 'psk', id: 'gw.example' },
          children: { net: { remote_ts: ADDR.innerNet, esp_proposals: ESP_PROPOSAL } },
        },
      },
      secrets: { 'ike-1': { id: 'gw.example', secret: PSK } },
    });

    const pcap = join(topo.dir, 'ike.pcapng');
    // -P -l: also print a flushed summary line per packet, so we can see when capturing has really begun
    // ("Capturing on" is printed before the filter is active) and when the IKE_AUTH response went out.
    const cap = topo.spawn('gw', ['tshark', '-P', '-l', '-i', 'eth0', '-w', pcap, '-f', 'udp port 500 or udp port 4500 or udp port 9']);
    let capOut = '';
    cap.child.stdout?.setEncoding('utf8').on('data', (d: string) => (capOut += d));
    cap.child.stderr?.resume();
    const waitFor = async (re: RegExp, what: string, poke?: () => Promise<unknown>) => {
      const deadline = Date.now() + 15_000;
      while (!re.test(capOut)) {
        if (Date.now() > deadline || !cap.isRunning()) throw new Error(`tshark: no ${what} seen:\n${capOut}`);
        if (poke) await poke();
        await new Promise((res) => setTimeout(res, 100));
      }
    };
    await waitFor(/\b9\b/, 'probe packet', () => topo.exec('cl', ['bash', '-c', `echo probe > /dev/udp/${ADDR.gwOuter}/9`]));
    const r = await cl.initiate('net', { ike: 'home', timeoutSec: 10 });
    if (!r.ok) throw new Error(`initiate failed:\n${r.output}\n${cl.tail()}`);
    await waitFor(/IKE_AUTH MID=01 Responder Response/, 'IKE_AUTH response');
    await cap.stop();

    const fields = await topo.exec('gw', ['tshark', '-r', pcap, '-T', 'fields', '-e', 'ip.src', '-e', 'udp.dstport', '-e', 'udp.payload']);
    const packets = fields.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t'))
      .map(([src, dport, payload]) => ({ src: src!, dport: Number(dport), hex: (payload ?? '').replace(/:/g, '') }))
      .filter((p) => p.dport === 500 || p.dport === 4500);
    // Port 4500 carries a 4-byte non-ESP marker (RFC 3948 §2.2) before the IKE header; fixtures hold IKE only.
    const ike = packets.map((p) => ({ ...p, hex: p.dport === 4500 ? p.hex.replace(/^00000000/, '') : p.hex }));
    const pick = (src: string, exchange: number, response: boolean) => {
      const p = ike.find((x) => {
        if (x.src !== src) return false;
        const exch = parseInt(x.hex.slice(36, 38), 16);
        const flags = parseInt(x.hex.slice(38, 40), 16);
        return exch === exchange && Boolean(flags & 0x20) === response;
      });
      if (!p) throw new Error(`packet ${exchange}/${response} from ${src} not captured; tshark: ${fields.stdout} ${fields.stderr}`);
      return p.hex;
    };
    const files: Record<string, string> = {
      'strongswan-ike-sa-init-request.hex': pick(ADDR.cl, 34, false),
      'strongswan-ike-sa-init-response.hex': pick(ADDR.gwOuter, 34, true),
      'strongswan-ike-auth-request.hex': pick(ADDR.cl, 35, false),
      'strongswan-ike-auth-response.hex': pick(ADDR.gwOuter, 35, true),
    };
    for (const [name, hex] of Object.entries(files)) writeFileSync(join(outDir, name), `${hex}\n`);

    const log = cl.log();
    const keys = {
      description:
        'strongSwan 5.9.8 initiator (client.example) -> responder (gw.example), PSK, IKE aes256gcm16-prfsha256-x25519, ' +
        'ESP aes256gcm16; values from the initiator charon log at ike/chd level 4. Hex, lowercase.',
      ikeProposal: IKE_PROPOSAL,
      espProposal: ESP_PROPOSAL,
      psk: Buffer.from(PSK, 'utf8').toString('hex'),
      idI: 'fqdn:client.example',
      idR: 'fqdn:gw.example',
      gIr: logDump(log, 'shared Diffie Hellman secret'),
      skeyseed: logDump(log, 'SKEYSEED'),
      skD: logDump(log, 'Sk_d secret'),
      skEi: logDump(log, 'Sk_ei secret'),
      skEr: logDump(log, 'Sk_er secret'),
      skPi: logDump(log, 'Sk_pi secret'),
      skPr: logDump(log, 'Sk_pr secret'),
      child: {
        encI: logDump(log, 'encryption initiator key'),
        encR: logDump(log, 'encryption responder key'),
      },
    };
    writeFileSync(join(outDir, 'strongswan-psk-keys.json'), `${JSON.stringify(keys, null, 2)}\n`);
    console.log(`wrote ${Object.keys(files).join(', ')}, strongswan-psk-keys.json to ${outDir}`);
  } finally {
    await topo.destroy();
  }
}

if (import.meta.main) await main();
