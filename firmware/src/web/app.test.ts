// Tests for the web UI app through app.request() (no server): first boot, login, throttling, sessions, CSRF, roles, escaping, SSE.
import { describe, expect, it } from 'vitest';
import type { IkeSaInfo } from '../ike/io.ts';
import type { AuditEvent } from '../store/event-logs.ts';
import type { ConfigMeta, ConnInfo, StreamEvent } from '../control/protocol.ts';
import { createWebApp, SESSION_COOKIE } from './app.ts';
import { LoginThrottle, SessionStore, WebUsers } from './auth.ts';
import type { WebControlApi } from './control-api.ts';

const PASSWORD = 'correct horse battery';

const SA: IkeSaInfo = {
  ikeId: '7',
  conn: 'rw',
  state: 'established',
  initiator: false,
  spiI: '0102030405060708',
  spiR: '1112131415161718',
  local: { addr: '192.0.2.1', port: 500 },
  remote: { addr: '198.51.100.9', port: 4500 },
  remoteId: 'alice@example.com',
  proposal: 'AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519',
  natLocal: false,
  natRemote: true,
  virtualIps: ['203.0.113.5'],
  createdMs: 1_000,
  establishedMs: 2_000,
  children: [{ childId: '3', name: 'net', spiIn: 1, spiOut: 2, proposal: 'AES_GCM_16_256', localTs: ['0.0.0.0/0'], remoteTs: ['203.0.113.5/32'], encap: true, createdMs: 2_000 }],
};

const version = (id: number, current: boolean): ConfigMeta => ({
  id,
  hash: `${id}`.repeat(64).slice(0, 64),
  author: 'file',
  source: 'local',
  createdAt: 1_700_000_000_000 + id,
  status: 'applied',
  signature: null,
  comment: null,
  appliedAt: 1_700_000_000_000 + id,
  confirmBy: null,
  reason: null,
  parentId: null,
  current,
});

function fakeApi(opts: { connName?: string } = {}) {
  const calls: { command: string; args: unknown; actor: string }[] = [];
  const audit: AuditEvent[] = [];
  const listeners = new Set<(e: StreamEvent) => void>();
  const conn: ConnInfo = {
    name: opts.connName ?? 'rw',
    remoteAddrs: [],
    localAddrs: [],
    localId: 'gw.example',
    localAuth: 'psk',
    remoteId: '%any',
    remoteAuth: 'psk',
    pools: ['rw'],
    ikeProposals: ['aes256gcm16-prfsha256-x25519'],
    children: [{ name: 'net', localTs: ['0.0.0.0/0'], remoteTs: ['dynamic'], espProposals: ['aes256gcm16'], startAction: 'none' }],
    ikeSas: 1,
  } as ConnInfo;
  const api: WebControlApi = {
    async request(command, args, actor) {
      calls.push({ command, args, actor });
      switch (command) {
        case 'list-sas':
          return { sas: [SA] } as never;
        case 'list-conns':
          return { conns: [conn] } as never;
        case 'history':
          return { versions: [version(2, true), version(1, false)] } as never;
        case 'rollback':
          return { version: 3, unchanged: false, mode: 'restart', changes: [], warnings: [] } as never;
        default:
          throw new Error(`unexpected ${command}`);
      }
    },
    async subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    audit: async () => audit,
    async recordAudit(e) {
      audit.unshift({ id: audit.length + 1, at: 1_700_000_000_000, target: null, detail: null, ...e });
    },
  };
  return { api, calls, audit, listeners };
}

function memorySettings() {
  const m = new Map<string, string>();
  return {
    get: async <T>(k: string) => (m.has(k) ? (JSON.parse(m.get(k) as string) as T) : undefined),
    set: async (k: string, v: unknown) => void m.set(k, JSON.stringify(v)),
    raw: m,
  };
}

/** An app with a fake clock and a tiny browser: a cookie jar per client and form posts. */
async function setup(o: { users?: boolean; lockoutAfter?: number; connName?: string } = {}) {
  let nowMs = 1_700_000_000_000;
  const clock = { now: () => nowMs, advance: (ms: number) => (nowMs += ms) };
  const settings = memorySettings();
  // Cheap argon2id parameters keep the file fast; the production cost is Bun's default.
  const users = new WebUsers(settings, { memoryCost: 1024, timeCost: 1 });
  if (o.users !== false) {
    expect(await users.set('admin', PASSWORD, 'admin')).toBeNull();
    expect(await users.set('viewer', PASSWORD, 'read-only')).toBeNull();
  }
  const fake = fakeApi(o.connName ? { connName: o.connName } : {});
  const sessions = new SessionStore({ now: clock.now, idleMs: 60_000, maxAgeMs: 3_600_000 });
  const throttle = new LoginThrottle({ now: clock.now, lockoutAfter: o.lockoutAfter ?? 4, lockoutMs: 600_000, baseDelayMs: 1000, maxDelayMs: 8000 });
  const app = createWebApp({ api: fake.api, users, sessions, throttle, now: clock.now, pingMs: 20 });

  const client = (ip = '198.51.100.7') => {
    let cookie: string | undefined;
    const env = { requestIP: () => ({ address: ip }) };
    const send = async (path: string, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      if (cookie) headers.set('Cookie', `${SESSION_COOKIE}=${cookie}`);
      const res = await app.request(path, { ...init, headers }, env);
      const set = res.headers.get('Set-Cookie');
      if (set?.startsWith(`${SESSION_COOKIE}=`)) cookie = set.slice(SESSION_COOKIE.length + 1).split(';')[0] || undefined;
      return res;
    };
    const c = {
      get cookie() {
        return cookie;
      },
      set cookie(v: string | undefined) {
        cookie = v;
      },
      get: (path: string) => send(path),
      post: (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
        send(path, { method: 'POST', body: new URLSearchParams(form), headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers } }),
      /** The CSRF token of the form on `path`. */
      async csrf(path: string): Promise<string> {
        const html = await (await send(path)).text();
        const m = /name="_csrf" value="([^"]+)"/.exec(html);
        if (!m) throw new Error(`no CSRF token on ${path}:\n${html}`);
        return m[1] as string;
      },
      async login(name: string, password = PASSWORD) {
        const token = await c.csrf('/login');
        return c.post('/login', { _csrf: token, username: name, password });
      },
    };
    return c;
  };
  return { app, clock, settings, users, fake, sessions, client };
}

describe('first boot', () => {
  it('sends everything to /setup until an administrator exists, then logs the new admin in', async () => {
    const { client, settings } = await setup({ users: false });
    const b = client();
    const root = await b.get('/');
    expect(root.status).toBe(303);
    expect(root.headers.get('Location')).toBe('/setup');
    expect((await b.get('/login')).headers.get('Location')).toBe('/setup');

    const form = await b.get('/setup');
    expect(form.status).toBe(200);
    const flags = form.headers.get('Set-Cookie') ?? '';
    expect(flags).toMatch(/HttpOnly/);
    expect(flags).toMatch(/Secure/);
    expect(flags).toMatch(/SameSite=Strict/);
    expect(flags).toMatch(/Path=\//);
    const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1] as string;

    expect((await b.post('/setup', { username: 'admin', password: PASSWORD, confirm: PASSWORD })).status).toBe(403);
    const differ = await b.post('/setup', { _csrf: token, username: 'admin', password: PASSWORD, confirm: `${PASSWORD}x` });
    expect(differ.status).toBe(400);
    expect(await differ.text()).toContain('the two passwords differ');
    const short = await b.post('/setup', { _csrf: token, username: 'admin', password: 'short', confirm: 'short' });
    expect(short.status).toBe(400);
    expect(await short.text()).toContain('at least 10 characters');

    const anon = b.cookie;
    const done = await b.post('/setup', { _csrf: token, username: 'admin', password: PASSWORD, confirm: PASSWORD });
    expect(done.status).toBe(303);
    expect(done.headers.get('Location')).toBe('/');
    expect(b.cookie).toBeDefined();
    expect(b.cookie).not.toBe(anon);
    expect((await b.get('/')).status).toBe(200);

    // The password is stored as an argon2id hash only.
    const stored = settings.raw.get('web.users') as string;
    expect(stored).toContain('$argon2id$');
    expect(stored).not.toContain(PASSWORD);

    // Setup is closed once done, for everyone.
    const other = client('198.51.100.8');
    expect((await other.get('/setup')).headers.get('Location')).toBe('/login');
    expect((await other.post('/setup', { _csrf: 'x', username: 'evil', password: PASSWORD, confirm: PASSWORD })).headers.get('Location')).toBe('/login');
  });
});

describe('login', () => {
  it('logs in with the right password, rotating the session id', async () => {
    const { client, fake } = await setup();
    const b = client();
    const token = await b.csrf('/login');
    const anon = b.cookie;
    const r = await b.post('/login', { _csrf: token, username: 'admin', password: PASSWORD });
    expect(r.status).toBe(303);
    expect(r.headers.get('Location')).toBe('/');
    expect(b.cookie).not.toBe(anon);
    const dash = await b.get('/');
    expect(dash.status).toBe(200);
    const page = await dash.text();
    expect(page).toContain('alice@example.com');
    expect(page).toContain('203.0.113.5');
    expect(fake.calls.at(-1)).toEqual({ command: 'list-sas', args: {}, actor: 'admin@web' });
    expect(fake.audit[0]).toMatchObject({ actor: 'admin@web', action: 'web.login', outcome: 'ok' });
    // The anonymous id planted before login is dead now.
    b.cookie = anon;
    expect((await b.get('/')).headers.get('Location')).toBe('/login');
  });

  it('refuses a wrong password or an unknown user with the same answer', async () => {
    const { client, fake, clock } = await setup();
    const b = client();
    const wrong = await b.login('admin', 'not the password');
    expect(wrong.status).toBe(401);
    const text = await wrong.text();
    expect(text).toContain('Wrong user name or password.');
    expect((await b.get('/')).headers.get('Location')).toBe('/login');
    clock.advance(10_000);
    const unknown = await client('198.51.100.99').login('nobody', PASSWORD);
    expect(unknown.status).toBe(401);
    expect(await unknown.text()).toContain('Wrong user name or password.');
    expect(fake.audit.filter((e) => e.action === 'web.login' && e.outcome === 'error')).toHaveLength(2);
  });

  it('delays attempts exponentially after failures and locks out after N, even for the right password', async () => {
    const { client, clock, fake } = await setup({ lockoutAfter: 4 });
    const b = client();
    expect((await b.login('admin', 'wrong-1')).status).toBe(401);
    // 1 s after the first failure: the right password is not even checked.
    const early = await b.login('admin');
    expect(early.status).toBe(429);
    expect(await early.text()).toContain('wait 1 s');
    clock.advance(1_000);
    expect((await b.login('admin', 'wrong-2')).status).toBe(401);
    clock.advance(1_000);
    expect((await b.login('admin')).status).toBe(429); // now 2 s
    clock.advance(1_000);
    expect((await b.login('admin', 'wrong-3')).status).toBe(401);
    clock.advance(4_000);
    expect((await b.login('admin', 'wrong-4')).status).toBe(401);
    expect(fake.audit[0]).toMatchObject({ action: 'web.lockout', outcome: 'error' });
    clock.advance(60_000);
    const locked = await b.login('admin');
    expect(locked.status).toBe(429);
    expect(await locked.text()).toContain('locked');
    // Locked per user: another address does not help.
    expect((await client('198.51.100.50').login('admin')).status).toBe(429);
    clock.advance(600_000);
    expect((await b.login('admin')).status).toBe(303);
  });

  it('throttles per client address across user names', async () => {
    const { client, clock } = await setup();
    const attacker = client('198.51.100.66');
    expect((await attacker.login('ghost', 'x'.repeat(12))).status).toBe(401);
    clock.advance(100);
    expect((await attacker.login('admin')).status).toBe(429);
    expect((await client('198.51.100.67').login('admin')).status).toBe(303);
  });
});

describe('sessions', () => {
  it('expires an idle session', async () => {
    const { client, clock } = await setup();
    const b = client();
    await b.login('admin');
    expect((await b.get('/')).status).toBe(200);
    clock.advance(59_000);
    expect((await b.get('/')).status).toBe(200); // activity refreshes the idle timer
    clock.advance(61_000);
    const r = await b.get('/');
    expect(r.status).toBe(303);
    expect(r.headers.get('Location')).toBe('/login');
  });

  it('expires a session at its absolute lifetime despite activity', async () => {
    const { client, clock } = await setup();
    const b = client();
    await b.login('admin');
    for (let i = 0; i < 70; i++) {
      clock.advance(55_000);
      if ((await b.get('/connections')).status !== 200) break;
    }
    expect((await b.get('/')).headers.get('Location')).toBe('/login');
  });

  it('ignores a tampered or invented cookie', async () => {
    const { client } = await setup();
    const b = client();
    await b.login('admin');
    const good = b.cookie as string;
    const flipped = good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A');
    for (const forged of [flipped, `${good}x`, 'x'.repeat(43), '', 'a'.repeat(5000)]) {
      b.cookie = forged;
      expect((await b.get('/')).status).toBe(303);
      expect((await b.post('/history/rollback', { _csrf: 'x', id: '1' })).status).toBe(403);
    }
  });

  it('logs out: the session id stops working', async () => {
    const { client } = await setup();
    const b = client();
    await b.login('admin');
    const id = b.cookie;
    const token = await b.csrf('/');
    const r = await b.post('/logout', { _csrf: token });
    expect(r.status).toBe(303);
    expect(r.headers.get('Set-Cookie')).toMatch(/Max-Age=0/);
    b.cookie = id;
    expect((await b.get('/')).headers.get('Location')).toBe('/login');
  });
});

describe('CSRF and roles', () => {
  it('refuses a POST with a missing, wrong or another session’s token, or from another origin', async () => {
    const { client, fake } = await setup();
    const a = client();
    await a.login('admin');
    const token = await a.csrf('/history');
    const b = client('198.51.100.8');
    await b.login('admin');
    const other = await b.csrf('/history');
    expect((await a.post('/history/rollback', { id: '1' })).status).toBe(403);
    expect((await a.post('/history/rollback', { _csrf: `${token.slice(0, -2)}xx`, id: '1' })).status).toBe(403);
    expect((await a.post('/history/rollback', { _csrf: other, id: '1' })).status).toBe(403);
    expect((await a.post('/history/rollback', { _csrf: token, id: '1' }, { Origin: 'https://evil.example' })).status).toBe(403);
    expect((await a.post('/logout', {})).status).toBe(403);
    expect(fake.calls.some((c) => c.command === 'rollback')).toBe(false);
    // Login itself needs the token of the login form's session.
    const fresh = client('198.51.100.9');
    expect((await fresh.post('/login', { username: 'admin', password: PASSWORD })).status).toBe(403);
    // With the right token it works, and goes through the control API as the web user.
    const ok = await a.post('/history/rollback', { _csrf: token, id: '1' });
    expect(ok.status).toBe(303);
    expect(fake.calls.at(-1)).toMatchObject({ command: 'rollback', args: { id: 1 }, actor: 'admin@web' });
    expect(await (await a.get('/history')).text()).toContain('Rolled back: version 3 (the text of version 1) is now in force.');
  });

  it('rejects a malformed version id', async () => {
    const { client, fake } = await setup();
    const a = client();
    await a.login('admin');
    const token = await a.csrf('/history');
    for (const id of ['0', '-1', '1.5', 'abc', '1 OR 1=1', '']) expect((await a.post('/history/rollback', { _csrf: token, id })).status).toBe(400);
    expect(fake.calls.some((c) => c.command === 'rollback')).toBe(false);
  });

  it('lets a read-only user look but not change anything', async () => {
    const { client, fake } = await setup();
    const v = client();
    expect((await v.login('viewer')).status).toBe(303);
    const history = await (await v.get('/history')).text();
    expect(history).toContain('Config history');
    expect(history).not.toContain('/history/rollback');
    const token = await v.csrf('/history');
    const r = await v.post('/history/rollback', { _csrf: token, id: '1' });
    expect(r.status).toBe(403);
    expect(fake.calls.some((c) => c.command === 'rollback')).toBe(false);
    expect((await v.post('/logout', { _csrf: token })).status).toBe(303);
  });
});

describe('pages', () => {
  it('require a session on every route but login, setup and static assets', async () => {
    const { app, client } = await setup();
    const routes = app.routes.filter((r) => r.method !== 'ALL');
    expect(routes.length).toBeGreaterThan(8);
    const anon = client();
    for (const r of routes) {
      const res = r.method === 'POST' ? await anon.post(r.path, {}) : await anon.get(r.path);
      if (r.path.startsWith('/static/')) expect(res.status, r.path).toBe(200);
      else if (r.path === '/login') expect([200, 403], r.path).toContain(res.status);
      else if (r.path === '/setup') expect(res.headers.get('Location'), r.path).toBe('/login');
      else {
        expect([303, 401, 403], `${r.method} ${r.path}`).toContain(res.status);
        if (res.status === 303) expect(res.headers.get('Location')).toBe('/login');
      }
    }
  });

  it('renders a user-supplied name escaped', async () => {
    const { client } = await setup({ connName: '<script>alert(1)</script>' });
    const b = client();
    await b.login('admin');
    const page = await (await b.get('/connections')).text();
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).not.toContain('<script>alert(1)');
  });

  it('sets security headers', async () => {
    const { client } = await setup();
    const r = await client().get('/login');
    expect(r.headers.get('Content-Security-Policy')).toContain("default-src 'none'");
    expect(r.headers.get('X-Frame-Options')).toBe('DENY');
    expect(r.headers.get('Cache-Control')).toBe('no-store');
  });

  it('lists connections, history and audit records; the audit log shows logins', async () => {
    const { client } = await setup();
    const b = client();
    await b.login('admin');
    expect(await (await b.get('/connections')).text()).toContain('0.0.0.0/0 ⇄ dynamic');
    const history = await (await b.get('/history')).text();
    expect(history).toContain('in force');
    expect(history).toContain('Roll back to 1');
    expect(history).not.toContain('Roll back to 2');
    expect(await (await b.get('/audit')).text()).toContain('web.login');
  });

  it('streams SA changes as server-sent events and unsubscribes when the client goes', async () => {
    const { client, fake } = await setup();
    const b = client();
    await b.login('admin');
    const res = await b.get('/events');
    expect(res.headers.get('Content-Type')).toContain('text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const dec = new TextDecoder();
    let got = '';
    const readUntil = async (needle: string) => {
      while (!got.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${needle}: ${got}`);
        got += dec.decode(value);
      }
    };
    await readUntil('event: ready');
    expect(fake.listeners.size).toBe(1);
    for (const l of fake.listeners) l({ type: 'ike.up', ikeId: '7', conn: 'rw' } as StreamEvent);
    await readUntil('event: sa');
    expect(got).toContain('data: ike.up');
    await reader.cancel();
    for (let i = 0; i < 50 && fake.listeners.size > 0; i++) await Bun.sleep(10);
    expect(fake.listeners.size).toBe(0);
  });
});
