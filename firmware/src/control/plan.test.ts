// Tests for the apply plan: which connections a new config touches, and what only a restart can apply.
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/parse-config.ts';
import type { GatewayConfig } from '../config/types.ts';
import { planApply } from './plan.ts';

const conn = (name: string, extra = '') => `  - name: ${name}
    local: { id: gw.example, auth: psk }
    remote: { auth: psk }
    psk: "a shared secret of decent length"
${extra}    children: [{ name: net, local_ts: [198.51.100.0/24] }]
`;

function cfg(text: string): GatewayConfig {
  const r = parseConfigText(text, '/tmp', 'x.yaml');
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.config;
}

const base = `listen: [{ address: 127.0.0.1, port: 500, natt_port: 4500 }]
pools: [{ name: p1, cidr: 203.0.113.0/24 }, { name: p2, cidr: 192.0.2.0/24 }]
connections:
${conn('a', '    pools: [p1]\n')}${conn('b', '    pools: [p2]\n')}${conn('c')}`;

describe('planApply', () => {
  it('finds nothing to do for the same config', () => {
    expect(planApply(cfg(base), cfg(base))).toEqual({ changes: [], restartReasons: [], affected: [], unaffected: ['a', 'b', 'c'] });
  });

  it('names added, removed and changed connections (a changed PSK by name only) and leaves the rest alone', () => {
    const next = base.replace(conn('c'), conn('d')).replace(/(name: b\n[\s\S]*?)a shared secret of decent length/, '$1another secret of decent length');
    const p = planApply(cfg(base), cfg(next));
    expect(p.changes).toEqual(['connection b: changed (psk)', 'connection d: added', 'connection c: removed']);
    expect(p.affected.sort()).toEqual(['b', 'c', 'd']);
    expect(p.unaffected).toEqual(['a']);
    expect(p.restartReasons).toEqual([]);
    expect(JSON.stringify(p)).not.toContain('another secret');
  });

  it('counts a connection whose pool changed as affected', () => {
    const p = planApply(cfg(base), cfg(base.replace('cidr: 192.0.2.0/24', 'cidr: 192.0.2.0/25')));
    expect(p.changes).toEqual(['pool p2: changed (cidr)', 'connection b: affected by a changed pool or CA']);
    expect(p.unaffected).toEqual(['a', 'c']);
  });

  it('needs a restart for new sockets or another data plane', () => {
    const p = planApply(cfg(base), cfg(`${base.replace('port: 500,', 'port: 1500,')}dataplane: { backend: mock }\n`));
    expect(p.restartReasons).toEqual(['listen addresses/ports changed (sockets must be reopened)', 'data-plane backend or offload changed']);
    expect(p.unaffected).toEqual(['a', 'b', 'c']);
  });

  it('needs a restart for new or changed pools (TUN routes) and for new initiators without local_addrs', () => {
    const pool = planApply(cfg(base), cfg(base.replace('cidr: 192.0.2.0/24', 'cidr: 192.0.2.0/25')));
    expect(pool.restartReasons).toEqual(['virtual-IP pools added or changed (data-plane routes are set at start)']);
    const initiator = planApply(cfg(base), cfg(base.replace(conn('c'), conn('c', '    remote_addrs: [192.0.2.9]\n'))));
    expect(initiator.restartReasons).toEqual(['initiating connection(s) c without local_addrs (source address is resolved at start)']);
    const pinned = planApply(cfg(base), cfg(base.replace(conn('c'), conn('c', '    remote_addrs: [192.0.2.9]\n    local_addrs: [127.0.0.1]\n'))));
    expect(pinned.restartReasons).toEqual([]);
  });
});
