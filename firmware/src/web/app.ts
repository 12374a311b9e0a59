// The local web UI as a Hono app (server-rendered; works without JavaScript, the dashboard goes live over SSE): routes, sessions, CSRF, roles.
/*
 * Request flow: security headers → session from the cookie → setup gate (no account yet: only /setup) →
 * authentication (everything but /login, /setup and /static needs a logged-in session) → on POST: Origin
 * check, CSRF synchronizer token bound to the session, and role (read-only may only log out).
 * Mutations go through the control API as actor `NAME@web`, so they land in the same audit log as `outpost ctl`.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import { ControlError } from '../control/errors.ts';
import { ControlRequestError } from '../control/client.ts';
import type { StreamEvent } from '../control/protocol.ts';
import { LIVE_JS, STYLE_CSS } from './assets.ts';
import { LoginThrottle, safeEqual, SessionStore, USERNAME_RE, type Session, type WebUsers } from './auth.ts';
import type { WebControlApi } from './control-api.ts';
import { auditPage, connectionsPage, dashboard, historyPage, layout, loginForm, saSection, setupForm, type Viewer } from './views.ts';

export const SESSION_COOKIE = '__Host-outpost-session';

export interface WebAppOptions {
  api: WebControlApi;
  users: WebUsers;
  sessions?: SessionStore;
  throttle?: LoginThrottle;
  now?: () => number;
  /** SSE keep-alive period (default 15 s; below Bun.serve's idle timeout). */
  pingMs?: number;
  /** Aborted when the server stops: open event streams end, so nothing keeps the process alive. */
  shutdown?: AbortSignal;
}

type Env = { Variables: { session: Session | undefined }; Bindings: { requestIP?: (r: Request) => { address: string } | null } | undefined };

const SA_EVENTS = new Set<StreamEvent['type']>(['ike.up', 'ike.down', 'child.up', 'child.down', 'ike.failed', 'auth.failed', 'config.applied', 'config.reverted']);
const PUBLIC = new Set(['/login', '/setup']);

const errorText = (err: unknown): string => (err instanceof ControlError || err instanceof ControlRequestError ? err.message : 'the request failed (see the gateway log)');

export function createWebApp(o: WebAppOptions): Hono<Env> {
  const sessions = o.sessions ?? new SessionStore(o.now ? { now: o.now } : {});
  const throttle = o.throttle ?? new LoginThrottle(o.now ? { now: o.now } : {});
  const now = o.now ?? Date.now;
  const pingMs = o.pingMs ?? 15_000;
  const app = new Hono<Env>();

  const clientIp = (c: Context<Env>): string => {
    try {
      return c.env?.requestIP?.(c.req.raw)?.address ?? 'unknown';
    } catch {
      return 'unknown';
    }
  };
  const startSession = (c: Context<Env>, user: string | null, role: Session['role']): Session => {
    const { id, session } = sessions.create(user, role);
    setCookie(c, SESSION_COOKIE, id, { httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
    c.set('session', session);
    return session;
  };
  /** The anonymous session carrying the login/setup form's CSRF token. */
  const anonSession = (c: Context<Env>): Session => c.get('session') ?? startSession(c, null, null);
  const viewer = (c: Context<Env>): Viewer => {
    const s = c.get('session') as Session;
    return { user: s.user as string, role: s.role as Viewer['role'], csrf: s.csrf };
  };
  const takeFlash = (s: Session): { notice?: string; error?: string } => {
    const f = s.flash;
    delete s.flash;
    return f ? (f.error ? { error: f.text } : { notice: f.text }) : {};
  };

  app.use('*', async (c, next) => {
    await next();
    c.header('Content-Security-Policy', "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    c.header('X-Frame-Options', 'DENY');
    c.header('X-Content-Type-Options', 'nosniff');
    // same-origin, not no-referrer: with no-referrer Chromium sends "Origin: null" on our own form posts.
    c.header('Referrer-Policy', 'same-origin');
    c.header('Strict-Transport-Security', 'max-age=31536000');
    if (!c.req.path.startsWith('/static/')) c.header('Cache-Control', 'no-store');
  });

  app.get('/static/style.css', (c) => c.body(STYLE_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'max-age=3600' }));
  app.get('/static/live.js', (c) => c.body(LIVE_JS, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'max-age=3600' }));

  app.use('*', bodyLimit({ maxSize: 64 * 1024, onError: (c) => c.text('request too large', 413) }));

  app.use('*', async (c, next) => {
    c.set('session', sessions.get(getCookie(c, SESSION_COOKIE)));
    const path = c.req.path;
    const firstBoot = (await o.users.count()) === 0;
    if (firstBoot && path !== '/setup') return c.redirect('/setup', 303);
    if (!firstBoot && path === '/setup') return c.redirect('/login', 303);
    const s = c.get('session');
    if (!PUBLIC.has(path) && !s?.user) {
      if (c.req.method === 'GET' && !path.startsWith('/fragments/') && path !== '/events') return c.redirect('/login', 303);
      return c.text('authentication required', c.req.method === 'GET' ? 401 : 403);
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      // A browser names the page's origin on every POST; one from elsewhere is a forged request whatever its token.
      const origin = c.req.header('Origin');
      if (origin !== undefined && origin !== 'null' && origin !== new URL(c.req.url).origin) return c.text('cross-origin request refused', 403);
      if (origin === 'null') return c.text('cross-origin request refused', 403);
      const body = await c.req.parseBody();
      const token = typeof body._csrf === 'string' ? body._csrf : '';
      if (!s || !token || !safeEqual(token, s.csrf)) return c.text('invalid or missing CSRF token: reload the page and try again', 403);
      if (s.user && s.role !== 'admin' && path !== '/logout') return c.text('your account is read-only', 403);
    }
    return next();
  });

  // --- first boot ---
  app.get('/setup', (c) => c.html(layout({ title: 'Set up', body: setupForm(anonSession(c).csrf) })));
  app.post('/setup', async (c) => {
    const body = await c.req.parseBody();
    const name = typeof body.username === 'string' ? body.username.trim() : '';
    const pw = typeof body.password === 'string' ? body.password : '';
    const again = typeof body.confirm === 'string' ? body.confirm : '';
    const s = c.get('session') as Session;
    const problem = pw !== again ? 'the two passwords differ' : await o.users.set(name, pw, 'admin');
    if (problem) return c.html(layout({ title: 'Set up', error: problem, body: setupForm(s.csrf, name) }), 400);
    sessions.destroy(s);
    startSession(c, name, 'admin');
    await o.api.recordAudit({ actor: `${name}@web`, action: 'web.setup', target: name, outcome: 'ok' });
    return c.redirect('/', 303);
  });

  // --- login / logout ---
  app.get('/login', (c) => {
    const s = c.get('session');
    if (s?.user) return c.redirect('/', 303);
    return c.html(layout({ title: 'Log in', body: loginForm(anonSession(c).csrf) }));
  });
  app.post('/login', async (c) => {
    const body = await c.req.parseBody();
    const name = typeof body.username === 'string' ? body.username.trim().slice(0, 64) : '';
    const pw = typeof body.password === 'string' ? body.password : '';
    const s = c.get('session') as Session;
    const ip = clientIp(c);
    const gate = throttle.check(name, ip);
    if (gate.waitMs > 0) {
      const msg = gate.locked
        ? `Too many failed attempts: login is locked for ${Math.ceil(gate.waitMs / 60_000)} min.`
        : `Too many failed attempts: wait ${Math.ceil(gate.waitMs / 1000)} s before trying again.`;
      c.header('Retry-After', String(Math.ceil(gate.waitMs / 1000)));
      return c.html(layout({ title: 'Log in', error: msg, body: loginForm(s.csrf, name) }), 429);
    }
    const role = await o.users.verify(name, pw);
    if (!role) {
      throttle.fail(name, ip);
      const after = throttle.check(name, ip);
      await o.api.recordAudit({ actor: `${USERNAME_RE.test(name) ? name : '?'}@web`, action: after.locked ? 'web.lockout' : 'web.login', target: ip, outcome: 'error' });
      return c.html(layout({ title: 'Log in', error: 'Wrong user name or password.', body: loginForm(s.csrf, name) }), 401);
    }
    throttle.succeed(name, ip);
    // A fresh id at login: a session id planted before it (fixation) is worth nothing after.
    sessions.destroy(s);
    startSession(c, name, role);
    await o.api.recordAudit({ actor: `${name}@web`, action: 'web.login', target: ip, outcome: 'ok' });
    return c.redirect('/', 303);
  });
  app.post('/logout', (c) => {
    const s = c.get('session') as Session;
    sessions.destroy(s);
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure: true });
    return c.redirect('/login', 303);
  });

  // --- pages ---
  app.get('/', async (c) => {
    const v = viewer(c);
    try {
      const { sas } = await o.api.request('list-sas', {}, `${v.user}@web`);
      return c.html(layout({ title: 'Dashboard', path: '/', viewer: v, body: dashboard(sas, now()), script: true }));
    } catch (err) {
      return c.html(layout({ title: 'Dashboard', path: '/', viewer: v, error: errorText(err), body: '' }), 502);
    }
  });
  app.get('/fragments/sas', async (c) => {
    const v = viewer(c);
    const { sas } = await o.api.request('list-sas', {}, `${v.user}@web`);
    return c.html(saSection(sas, now()));
  });
  app.get('/events', (c) => {
    const s = c.get('session') as Session;
    return streamSSE(c, async (stream) => {
      let off: (() => void) | undefined;
      stream.onAbort(() => off?.());
      off = await o.api.subscribe((e) => {
        if (SA_EVENTS.has(e.type)) void stream.writeSSE({ event: 'sa', data: e.type }).catch(() => off?.());
      });
      await stream.writeSSE({ event: 'ready', data: '' });
      // Ends with the session (logout, expiry) or the server.
      while (!stream.aborted && !stream.closed && sessions.alive(s) && !o.shutdown?.aborted) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, pingMs);
          function done(): void {
            clearTimeout(t);
            o.shutdown?.removeEventListener('abort', done);
            resolve();
          }
          o.shutdown?.addEventListener('abort', done);
        });
        if (!o.shutdown?.aborted) await stream.write(': ping\n\n');
      }
      off?.();
    });
  });

  app.get('/connections', async (c) => {
    const v = viewer(c);
    try {
      const { conns } = await o.api.request('list-conns', {}, `${v.user}@web`);
      return c.html(layout({ title: 'Connections', path: '/connections', viewer: v, body: connectionsPage(conns) }));
    } catch (err) {
      return c.html(layout({ title: 'Connections', path: '/connections', viewer: v, error: errorText(err), body: '' }), 502);
    }
  });
  app.get('/history', async (c) => {
    const v = viewer(c);
    const flash = takeFlash(c.get('session') as Session);
    try {
      const { versions } = await o.api.request('history', { limit: 50 }, `${v.user}@web`);
      return c.html(layout({ title: 'Config history', path: '/history', viewer: v, ...flash, body: historyPage(versions, v) }));
    } catch (err) {
      return c.html(layout({ title: 'Config history', path: '/history', viewer: v, notice: flash.notice, error: flash.error ?? errorText(err), body: '' }), 502);
    }
  });
  app.post('/history/rollback', async (c) => {
    const v = viewer(c);
    const body = await c.req.parseBody();
    const id = typeof body.id === 'string' && /^[1-9][0-9]{0,9}$/.test(body.id) ? Number(body.id) : null;
    if (id === null) return c.text('id: a config version number is required', 400);
    const s = c.get('session') as Session;
    try {
      const r = await o.api.request('rollback', { id, comment: `rollback to ${id} from the web UI` }, `${v.user}@web`);
      s.flash = { text: r.unchanged ? `Version ${id} is already in force.` : `Rolled back: version ${r.version} (the text of version ${id}) is now in force.`, error: false };
    } catch (err) {
      s.flash = { text: `Rollback failed: ${errorText(err)}`, error: true };
    }
    return c.redirect('/history', 303);
  });
  app.get('/audit', async (c) => {
    const v = viewer(c);
    return c.html(layout({ title: 'Audit log', path: '/audit', viewer: v, body: auditPage(await o.api.audit(200)) }));
  });

  app.notFound((c) => c.text('not found', 404));
  app.onError((err, c) => {
    console.error('web UI error', err instanceof Error ? err.message : String(err));
    return c.text('internal error', 500);
  });
  return app;
}
