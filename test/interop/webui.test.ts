// The web UI in a real headless Chromium: `outpost gateway --db --web-listen` over HTTPS (self-signed), first boot, login, live dashboard.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../firmware/src/config/parse-config.ts';
import { createMockDataplane } from '../../firmware/src/dataplane/mock.ts';
import { startGateway, type Gateway } from '../../firmware/src/runtime/gateway.ts';
import { createLogger } from '../../firmware/src/runtime/logger.ts';
import { ControlClient } from '../../firmware/src/control/client.ts';
import { Browser, findChromium } from '../../firmware/src/web/testing/cdp.ts';

const ROOT = resolve(__dirname, '..', '..');
const BUN = join(ROOT, 'node_modules', '.bin', 'bun');
const CLI = join(ROOT, 'firmware', 'bin', 'outpost.ts');
const SHOT = join(ROOT, 'build', 'webui-dashboard.png');
const G_PORT = 15770;
const WEB_PORT = 15773;
const BASE = `https://127.0.0.1:${WEB_PORT}`;
const SECRET = 'web-ui test secret that must never be shown';
const PASSWORD = 'a long admin password';
const chromium = findChromium();

const dir = mkdtempSync(join(tmpdir(), 'outpost-webui-'));
const SOCK = join(dir, 'run', 'control.sock');
let gw: ChildProcess | undefined;
let gwErr = '';
let peer: Gateway | undefined;
let browser: Browser | undefined;

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

beforeAll(async () => {
  if (!chromium) return;
  writeFileSync(
    join(dir, 'gateway.yaml'),
    `listen: [{ address: 127.0.0.1, port: ${G_PORT}, natt_port: ${G_PORT + 1} }]
log: { level: info, format: json }
dataplane: { backend: mock }
connections:
  - name: branches
    local: { id: hq.example, auth: psk }
    remote: { id: branch.example, auth: psk }
    psk: "${SECRET}"
    children: [{ name: lan, local_ts: [192.0.2.0/24], remote_ts: [dynamic] }]
`,
  );
  gw = spawn(BUN, [CLI, 'gateway', '--config', join(dir, 'gateway.yaml'), '--db', join(dir, 'state', 'outpost.db'), '--control-socket', SOCK, '--web-listen', `127.0.0.1:${WEB_PORT}`, '--log-format', 'json'], { cwd: ROOT });
  gw.stderr?.setEncoding('utf8').on('data', (d: string) => (gwErr += d));
  await until(() => /"event":"web.listening"/.test(gwErr) || gw?.exitCode !== null, 30_000, 'the gateway and its web UI');
  if (gw.exitCode !== null) throw new Error(`the gateway exited:\n${gwErr}`);

  const p = parseConfigText(
    `connections:
  - name: to-hq
    remote_addrs: [127.0.0.1]
    remote_port: ${G_PORT}
    mobike: false
    local: { id: branch.example, auth: psk }
    remote: { id: hq.example, auth: psk }
    psk: "${SECRET}"
    children: [{ name: lan, remote_ts: [192.0.2.0/24] }]
`,
    dir,
    'peer.yaml',
  );
  if (!p.ok) throw new Error(p.errors.join('\n'));
  peer = await startGateway(
    { ...p.config, listen: [{ address: '127.0.0.1', port: 0, nattPort: 0 }] },
    { logger: createLogger({ level: 'error', format: 'json', write: () => {} }), dataplane: createMockDataplane(), stopGraceMs: 200 },
  );
  browser = await Browser.launch(chromium, ['--ignore-certificate-errors', '--window-size=1280,800']);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await peer?.stop();
  if (gw && gw.exitCode === null) {
    gw.kill('SIGTERM');
    await Promise.race([new Promise((r) => gw?.once('exit', r)), Bun.sleep(5000)]);
    if (gw.exitCode === null) gw.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!chromium)('web UI in headless Chromium', () => {
  it('made a self-signed certificate with a private key only its owner can read', () => {
    expect(statSync(join(dir, 'state', 'web-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'state', 'web-cert.pem')).size).toBeGreaterThan(300);
  });

  it('first boot → set the password → log out → log in → the dashboard shows a peer’s SA live', async () => {
    const b = browser as Browser;
    await b.goto(`${BASE}/`);
    expect(await b.eval<string>('location.pathname')).toBe('/setup');
    await b.submitForm({ password: PASSWORD, confirm: PASSWORD });
    expect(await b.eval<string>('location.pathname')).toBe('/');
    // The cookie is HttpOnly: page scripts cannot read it.
    expect(await b.eval<string>('document.cookie')).toBe('');

    await b.submitForm({}, 'header form');
    expect(await b.eval<string>('location.pathname')).toBe('/login');
    await b.submitForm({ username: 'admin', password: 'not the password' });
    expect(await b.eval<string>('document.querySelector(".error")?.textContent ?? ""')).toBe('Wrong user name or password.');
    // The throttle makes the next attempt wait about a second.
    await Bun.sleep(1100);
    await b.submitForm({ username: 'admin', password: PASSWORD });
    expect(await b.eval<string>('location.pathname')).toBe('/');
    expect(await b.eval<string>('document.body.innerText')).toContain('No IKE SAs');
    await b.waitFor(`document.getElementById('live')?.textContent === 'live'`, 'the event stream to open');

    // No reload from here on: the marker survives only if the page updates itself over SSE.
    await b.eval('window.__marker = 42');
    peer?.command({ type: 'initiate', conn: 'to-hq', child: 'lan' });
    await b.waitFor(`document.querySelector('#sas').innerText.includes('branch.example') && document.querySelector('#sas').innerText.includes('established')`, 'the SA to appear on the dashboard', 20_000);
    expect(await b.eval<number>('window.__marker')).toBe(42);
    expect(await b.eval<string>('document.querySelector(".stats").innerText')).toMatch(/^1\s*IKE SAs up/);
    const row = await b.eval<string>('document.querySelector("#sas tbody tr").innerText');
    expect(row).toContain('branches');
    expect(row).toContain('192.0.2.0/24');

    const png = await b.screenshot();
    mkdirSync(join(ROOT, 'build'), { recursive: true });
    writeFileSync(SHOT, png);
    expect(png.length).toBeGreaterThan(5_000);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(statSync(SHOT).size).toBe(png.length);
  }, 90_000);

  it('shows connections, history and audit records, and never the PSK or a private key', async () => {
    const b = browser as Browser;
    const pages = await b.eval<Record<string, string>>(`(async () => {
      const out = {};
      for (const p of ['/', '/connections', '/history', '/audit', '/fragments/sas']) out[p] = await (await fetch(p)).text();
      return out;
    })()`);
    expect(pages['/connections']).toContain('branch.example');
    expect(pages['/history']).toContain('in force');
    expect(pages['/audit']).toContain('web.login');
    expect(pages['/audit']).toContain('web.setup');
    for (const [path, text] of Object.entries(pages)) {
      expect(text, path).not.toContain(SECRET);
      expect(text, path).not.toContain('PRIVATE KEY');
      expect(text, path).not.toMatch(/\$argon2id\$/);
    }
  }, 30_000);

  it('rolls a config back from the history page, through the control API, as the web user', async () => {
    const b = browser as Browser;
    const c = await ControlClient.connect(SOCK, { actor: 'tester' });
    try {
      const text = (await c.request('get-config', { showSecrets: true })).yaml;
      const loaded = await c.request('load-config', { yaml: `# second version\n${text}`, comment: 'comment only' });
      expect(loaded.version).toBe(2);
    } finally {
      c.close();
    }
    await b.goto(`${BASE}/history`);
    expect(await b.eval<string>('document.querySelector("main").innerText')).toContain('comment only');
    await b.submitForm({}, 'main form[action="/history/rollback"]');
    expect(await b.eval<string>('location.pathname')).toBe('/history');
    expect(await b.eval<string>('document.querySelector(".notice")?.textContent ?? document.body.innerText')).toBe('Rolled back: version 3 (the text of version 1) is now in force.');
    const audit = await b.eval<string>(`fetch('/audit').then((r) => r.text())`);
    // config apply audits a rollback as the load-config of a new version
    expect(audit).toMatch(/admin@web<\/td><td>load-config<\/td><td class="mono">version 3</);
  }, 60_000);

  it('refuses a post without the CSRF token even with the session cookie', async () => {
    const b = browser as Browser;
    const status = await b.eval<number>(`fetch('/history/rollback', { method: 'POST', body: new URLSearchParams({ id: '1' }) }).then((r) => r.status)`);
    expect(status).toBe(403);
  });

  it('stops with the gateway on SIGTERM', async () => {
    const g = gw as ChildProcess;
    const exited = new Promise<number | null>((r) => g.once('exit', (code) => r(code)));
    g.kill('SIGTERM');
    expect(await Promise.race([exited, Bun.sleep(10_000).then(() => 'still running')])).toBe(0);
    await expect(fetch(BASE, { tls: { rejectUnauthorized: false } } as RequestInit)).rejects.toThrow();
  }, 20_000);
});
