// Static assets of the web UI: the style sheet and the small script that makes the dashboard live (SSE, progressive enhancement).
export const STYLE_CSS = `:root { --fg: #1d2330; --muted: #5d6677; --line: #d9dee7; --bg: #f5f7fa; --accent: #1f5fbf; --bad: #b3261e; --ok: #1e7b34; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.5rem; background: #17202f; color: #fff; }
header .brand { font-weight: 700; letter-spacing: .04em; }
header nav a { color: #cfd8e6; text-decoration: none; margin-right: 1rem; }
header nav a[aria-current="page"] { color: #fff; border-bottom: 2px solid #fff; }
header form { margin-left: auto; }
header .who { color: #cfd8e6; font-size: .9em; }
main { max-width: 72rem; margin: 1.5rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.4rem; margin: 0 0 1rem; }
table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f6; font-weight: 600; font-size: .9em; }
td.mono, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: .88em; }
.empty { color: var(--muted); padding: 1rem; background: #fff; border: 1px dashed var(--line); }
.badge { display: inline-block; padding: 0 .45rem; border-radius: .6rem; font-size: .82em; background: #e4e8ef; }
.badge.ok { background: #dcefe0; color: var(--ok); } .badge.bad { background: #f6dcda; color: var(--bad); }
.card { background: #fff; border: 1px solid var(--line); padding: 1.5rem; max-width: 26rem; margin: 3rem auto; }
label { display: block; margin: .8rem 0 .25rem; font-weight: 600; }
input[type=text], input[type=password] { width: 100%; padding: .45rem .5rem; border: 1px solid #aab3c2; font: inherit; }
button { font: inherit; padding: .4rem .9rem; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button.link { background: none; border: none; color: #cfd8e6; padding: 0; }
.error { color: var(--bad); background: #fbeceb; border: 1px solid #efc2bf; padding: .5rem .7rem; margin: 0 0 1rem; }
.notice { color: var(--ok); background: #e9f5ec; border: 1px solid #bfe0c7; padding: .5rem .7rem; margin: 0 0 1rem; }
.stats { display: flex; gap: 1rem; margin-bottom: 1rem; }
.stats div { background: #fff; border: 1px solid var(--line); padding: .6rem 1rem; min-width: 9rem; }
.stats b { display: block; font-size: 1.5rem; }
.live { color: var(--muted); font-size: .85em; }
`;

/** Reloads the SA table whenever the server's event stream says something changed. Without it the page still works. */
export const LIVE_JS = `(() => {
  const table = document.getElementById('sas');
  const status = document.getElementById('live');
  if (!table || !window.EventSource) return;
  let pending = false;
  const refresh = async () => {
    if (pending) return;
    pending = true;
    try {
      const r = await fetch('/fragments/sas', { credentials: 'same-origin' });
      if (r.ok) table.innerHTML = await r.text();
    } finally { pending = false; }
  };
  const es = new EventSource('/events');
  es.addEventListener('open', () => { if (status) status.textContent = 'live'; refresh(); });
  es.addEventListener('sa', refresh);
  es.addEventListener('error', () => { if (status) status.textContent = 'reconnecting…'; });
})();
`;
