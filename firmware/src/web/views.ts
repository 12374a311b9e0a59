// Server-rendered pages of the web UI (hono/html: every interpolation is HTML-escaped; nothing user-supplied is marked raw).
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { IkeSaInfo } from '../ike/io.ts';
import type { AuditEvent } from '../store/event-logs.ts';
import type { ConfigMeta, ConnInfo } from '../control/protocol.ts';
import type { Role } from './auth.ts';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export interface Viewer {
  user: string;
  role: Role;
  csrf: string;
}

const NAV = [
  ['/', 'Dashboard'],
  ['/connections', 'Connections'],
  ['/history', 'Config history'],
  ['/audit', 'Audit log'],
] as const;

export const fmtTime = (ms: number | null | undefined): string => (ms ? `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC` : '—');

function fmtAge(ms: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

export function layout(o: { title: string; path?: string; viewer?: Viewer; notice?: string | undefined; error?: string | undefined; body: Html | string; script?: boolean }): Html {
  const v = o.viewer;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · Outpost</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<header>
<span class="brand">OUTPOST</span>
${v
  ? html`<nav>${NAV.map(([href, label]) => html`<a href="${href}"${o.path === href ? html` aria-current="page"` : ''}>${label}</a>`)}</nav>
<form method="post" action="/logout"><span class="who">${v.user} (${v.role})</span> <input type="hidden" name="_csrf" value="${v.csrf}"><button class="link" type="submit">Log out</button></form>`
  : ''}
</header>
<main>
${o.notice ? html`<p class="notice" role="status">${o.notice}</p>` : ''}
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
${o.body}
</main>
${o.script ? html`<script src="/static/live.js" defer></script>` : ''}
</body>
</html>`;
}

export function setupForm(csrf: string, name = 'admin'): Html {
  return html`<div class="card">
<h1>Welcome: set the administrator password</h1>
<p>This appliance has no administrator yet. Choose the account that manages it.</p>
<form method="post" action="/setup">
<input type="hidden" name="_csrf" value="${csrf}">
<label for="username">User name</label><input type="text" id="username" name="username" value="${name}" autocomplete="username" required>
<label for="password">Password (at least 10 characters)</label><input type="password" id="password" name="password" autocomplete="new-password" required>
<label for="confirm">Password again</label><input type="password" id="confirm" name="confirm" autocomplete="new-password" required>
<p><button type="submit">Set password</button></p>
</form>
</div>`;
}

export function loginForm(csrf: string, name = ''): Html {
  return html`<div class="card">
<h1>Log in</h1>
<form method="post" action="/login">
<input type="hidden" name="_csrf" value="${csrf}">
<label for="username">User name</label><input type="text" id="username" name="username" value="${name}" autocomplete="username" required>
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<p><button type="submit">Log in</button></p>
</form>
</div>`;
}

export function sasTable(sas: IkeSaInfo[], nowMs: number): Html {
  if (sas.length === 0) return html`<p class="empty">No IKE SAs.</p>`;
  return html`<table>
<thead><tr><th>Connection</th><th>IKE SA</th><th>State</th><th>Remote</th><th>Identity</th><th>Virtual IP</th><th>Up for</th><th>CHILD SAs</th></tr></thead>
<tbody>
${sas.map(
  (sa) => html`<tr data-ike-id="${sa.ikeId}">
<td>${sa.conn}</td>
<td class="mono">#${sa.ikeId}${sa.initiator ? ' (initiator)' : ''}</td>
<td><span class="badge${sa.state === 'established' ? ' ok' : ''}">${sa.state}</span></td>
<td class="mono">${sa.remote.addr}:${sa.remote.port}${sa.natRemote ? ' (NAT)' : ''}</td>
<td>${sa.remoteId ?? '—'}</td>
<td class="mono">${sa.virtualIps.join(', ') || '—'}</td>
<td>${sa.establishedMs ? fmtAge(sa.establishedMs, nowMs) : '—'}</td>
<td>${sa.children.map((ch) => html`<div><b>${ch.name}</b> <span class="mono">${ch.localTs.join(', ')} ⇄ ${ch.remoteTs.join(', ')}</span> <span class="badge">${ch.state ?? 'installed'}</span></div>`)}</td>
</tr>`,
)}
</tbody>
</table>`;
}

export function dashboard(sas: IkeSaInfo[], nowMs: number): Html {
  return html`<h1>Dashboard <span id="live" class="live"></span></h1>
<div id="sas">${saSection(sas, nowMs)}</div>`;
}

/** The live part of the dashboard: counters and the SA table (also served alone as /fragments/sas). */
export function saSection(sas: IkeSaInfo[], nowMs: number): Html {
  const children = sas.reduce((n, s) => n + s.children.length, 0);
  return html`<div class="stats"><div><b>${sas.filter((s) => s.state === 'established').length}</b>IKE SAs up</div><div><b>${children}</b>CHILD SAs</div><div><b>${sas.filter((s) => s.state === 'connecting').length}</b>connecting</div></div>
<h2>Security associations</h2>
${sasTable(sas, nowMs)}`;
}

export function connectionsPage(conns: ConnInfo[]): Html {
  return html`<h1>Connections</h1>
${
  conns.length === 0
    ? html`<p class="empty">No connections configured.</p>`
    : html`<table>
<thead><tr><th>Name</th><th>Remote</th><th>Local identity / auth</th><th>Remote identity / auth</th><th>Pools</th><th>Children</th><th>IKE SAs</th></tr></thead>
<tbody>
${conns.map(
  (c) => html`<tr>
<td><b>${c.name}</b></td>
<td class="mono">${c.remoteAddrs.join(', ') || 'any (responder)'}</td>
<td>${c.localId ?? '(address)'} <span class="badge">${c.localAuth}</span></td>
<td>${c.remoteId ?? '%any'} <span class="badge">${c.remoteAuth}</span></td>
<td>${c.pools.join(', ') || '—'}</td>
<td>${c.children.map((ch) => html`<div><b>${ch.name}</b> <span class="mono">${ch.localTs.join(', ')} ⇄ ${ch.remoteTs.join(', ')}</span></div>`)}</td>
<td>${c.ikeSas}</td>
</tr>`,
)}
</tbody>
</table>`
}
<p class="live">Read-only here; edit the configuration with <span class="mono">outpost ctl load-config</span>.</p>`;
}

export function historyPage(versions: ConfigMeta[], viewer: Viewer): Html {
  return html`<h1>Config history</h1>
${
  versions.length === 0
    ? html`<p class="empty">No config versions stored.</p>`
    : html`<table>
<thead><tr><th>Version</th><th>Created</th><th>Author</th><th>Source</th><th>Status</th><th>Comment</th><th>Hash</th>${viewer.role === 'admin' ? html`<th></th>` : ''}</tr></thead>
<tbody>
${versions.map(
  (v) => html`<tr>
<td>${v.id}${v.current ? html` <span class="badge ok">in force</span>` : ''}</td>
<td>${fmtTime(v.createdAt)}</td>
<td>${v.author}</td>
<td>${v.source}</td>
<td><span class="badge${v.status === 'rolled_back' ? ' bad' : ''}">${v.status}</span>${v.reason ? html`<div class="live">${v.reason}</div>` : ''}</td>
<td>${v.comment ?? ''}</td>
<td class="mono">${v.hash.slice(0, 12)}</td>
${
  viewer.role === 'admin'
    ? html`<td>${
        v.current
          ? ''
          : html`<form method="post" action="/history/rollback"><input type="hidden" name="_csrf" value="${viewer.csrf}"><input type="hidden" name="id" value="${v.id}"><button type="submit">Roll back to ${v.id}</button></form>`
      }</td>`
    : ''
}
</tr>`,
)}
</tbody>
</table>`
}`;
}

export function auditPage(events: AuditEvent[]): Html {
  return html`<h1>Audit log</h1>
${
  events.length === 0
    ? html`<p class="empty">No audit records.</p>`
    : html`<table>
<thead><tr><th>Time</th><th>Actor</th><th>Action</th><th>Target</th><th>Outcome</th></tr></thead>
<tbody>
${events.map(
  (e) => html`<tr><td>${fmtTime(e.at)}</td><td>${e.actor}</td><td>${e.action}</td><td class="mono">${e.target ?? ''}</td><td><span class="badge ${e.outcome === 'ok' ? 'ok' : 'bad'}">${e.outcome}</span></td></tr>`,
)}
</tbody>
</table>`
}`;
}
