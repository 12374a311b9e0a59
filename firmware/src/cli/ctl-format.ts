// How `outpost ctl` shows control API results to people: aligned tables and short lines (scripts use --json).
import type { IkeSaInfo } from '../ike/io.ts';
import type { ApplySummary, CertInfo, ConfigMeta, ConnInfo, StatsResult, StreamEvent } from '../control/protocol.ts';

/** Left-aligned columns, two spaces apart, header first; empty cells shown as "-". */
export function table(headers: readonly string[], rows: readonly (readonly (string | number | null | undefined)[])[]): string {
  const cells = rows.map((r) => headers.map((_, i) => (r[i] === null || r[i] === undefined || r[i] === '' ? '-' : String(r[i]))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] as string).length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ');
  return [line(headers), ...cells.map(line)].join('\n');
}

/** `3s`, `5m12s`, `2h03m`, `4d07h`. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

const ep = (e: { addr: string; port: number }) => (e.addr.includes(':') ? `[${e.addr}]:${e.port}` : `${e.addr}:${e.port}`);
const spi = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
const when = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));

export function formatSas(sas: readonly IkeSaInfo[], nowMs: number): string {
  if (sas.length === 0) return 'no IKE SAs';
  const out = [
    table(
      ['IKE SA', 'CONN', 'STATE', 'LOCAL', 'REMOTE', 'REMOTE ID', 'VIRTUAL IP', 'UP'],
      sas.map((s) => [s.ikeId, s.conn, s.state, ep(s.local), ep(s.remote), s.remoteId, s.virtualIps.join(','), s.establishedMs === null ? null : age(nowMs - s.establishedMs)]),
    ),
  ];
  for (const s of sas) {
    for (const c of s.children) {
      out.push(`  ${s.ikeId} child ${c.childId} ${c.name} ${c.state ?? 'installed'} ${c.proposal} in ${spi(c.spiIn)} out ${spi(c.spiOut)}${c.encap ? ' udp-encap' : ''}: ${c.localTs.join(',')} === ${c.remoteTs.join(',')}`);
    }
  }
  return out.join('\n');
}

export function formatConns(conns: readonly ConnInfo[]): string {
  if (conns.length === 0) return 'no connections';
  return table(
    ['CONN', 'REMOTE ADDRS', 'LOCAL ID', 'AUTH', 'REMOTE ID', 'POOLS', 'CHILDREN', 'IKE SAS'],
    conns.map((c) => [
      c.name,
      c.remoteAddrs.join(',') || 'any (responder)',
      c.localId,
      c.localAuth === c.remoteAuth ? c.localAuth : `${c.localAuth}/${c.remoteAuth}`,
      c.remoteId,
      c.pools.join(','),
      c.children.map((ch) => `${ch.name}${ch.startAction === 'start' ? '(start)' : ''}`).join(','),
      c.ikeSas,
    ]),
  );
}

export function formatCerts(certs: readonly CertInfo[]): string {
  if (certs.length === 0) return 'no certificates';
  return table(
    ['USE', 'SUBJECT', 'ISSUER', 'NOT AFTER', 'DAYS LEFT'],
    certs.map((c) => [c.use, c.subject, c.issuer, c.notAfter.replace(/\.\d+Z$/, 'Z'), c.daysLeft < 0 ? `expired ${-c.daysLeft}d ago` : c.daysLeft]),
  );
}

export function formatHistory(versions: readonly ConfigMeta[]): string {
  if (versions.length === 0) return 'no config versions';
  return table(
    ['VERSION', 'STATUS', 'CREATED', 'AUTHOR', 'SOURCE', 'HASH', 'COMMENT'],
    versions.map((v) => [`${v.id}${v.current ? ' *' : ''}`, v.status === 'pending' && v.confirmBy ? `pending (confirm by ${when(v.confirmBy)})` : v.status, when(v.createdAt), v.author, v.source, v.hash.slice(0, 12), [v.comment, v.reason].filter(Boolean).join('; ')]),
  );
}

export function formatApply(r: ApplySummary, verb: string): string {
  if (r.unchanged) return `config unchanged (version ${r.version} is in force)`;
  const lines = [`config version ${r.version} ${verb} (${r.mode === 'restart' ? 'gateway restarted' : r.mode === 'reload' ? 'reloaded in place' : 'nothing to change in the running gateway'})`];
  for (const c of r.changes) lines.push(`  ${c}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  if (r.confirmBy !== undefined) lines.push(`it reverts at ${when(r.confirmBy)} unless confirmed: outpost ctl confirm ${r.version}`);
  return lines.join('\n');
}

export function formatStats(s: StatsResult): string {
  const g = s.gateway as { udp?: Record<string, number>; engine?: { received?: number; sent?: number; drops?: Record<string, number> } };
  const drops = Object.entries(g.engine?.drops ?? {}).map(([k, v]) => `${k}=${v}`);
  return [
    `uptime          ${age(s.uptimeSec * 1000)}`,
    `config version  ${s.configVersion ?? '- (no store)'}`,
    `draining        ${s.draining ? `yes${s.redirectTo ? ` (redirect to ${s.redirectTo})` : ''}, refused ${s.drain.refused}, redirected ${s.drain.redirected}` : 'no'}`,
    `IKE SAs         ${s.sas.ike} (half-open ${s.sas.halfOpen}), CHILD SAs ${s.sas.child}`,
    `IKE messages    received ${g.engine?.received ?? '-'}, sent ${g.engine?.sent ?? '-'}${drops.length ? `, dropped ${drops.join(' ')}` : ''}`,
    `control         ${s.control.clients} client(s), ${s.control.subscribers} subscriber(s), ${s.control.requests} request(s), ${s.control.errors} error(s)`,
    `store           ${s.store ? `${s.store.path}, telemetry outbox ${s.store.outbox}` : 'none'}`,
  ].join('\n');
}

/** One line per event: time, type, then its fields as key=value. */
export function formatEvent(e: StreamEvent, now: Date = new Date()): string {
  const { type, ...rest } = e;
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/[\s"]/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
    .join(' ');
  return `${now.toISOString()} ${type} ${fields}`;
}
