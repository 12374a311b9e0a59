// Web UI accounts, sessions and login throttling (OWASP ASVS V2/V3): argon2id hashes, server-side sessions, exponential back-off.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Settings } from '../store/settings.ts';

export type Role = 'admin' | 'read-only';
export const ROLES: readonly Role[] = ['admin', 'read-only'];

interface StoredUser {
  hash: string;
  role: Role;
}

/** Settings key holding the web accounts (argon2id PHC strings, never the passwords). */
export const USERS_SETTING = 'web.users';
export const MIN_PASSWORD_LENGTH = 10;
export const USERNAME_RE = /^[a-z][a-z0-9._-]{0,31}$/;

/** argon2id cost; Bun's defaults (64 MiB, 2 passes) unless a test asks for less. */
export interface HashCost {
  memoryCost?: number;
  timeCost?: number;
}

export class WebUsers {
  /** Checked when the user does not exist, so a missing user costs as much as a wrong password. */
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly settings: Pick<Settings, 'get' | 'set'>,
    private readonly cost: HashCost = {},
  ) {}

  private async all(): Promise<Record<string, StoredUser>> {
    return (await this.settings.get<Record<string, StoredUser>>(USERS_SETTING)) ?? {};
  }

  async count(): Promise<number> {
    return Object.keys(await this.all()).length;
  }

  async list(): Promise<{ name: string; role: Role }[]> {
    return Object.entries(await this.all()).map(([name, u]) => ({ name, role: u.role }));
  }

  /** Creates or replaces an account. Returns a problem for people, or null. */
  async set(name: string, password: string, role: Role): Promise<string | null> {
    if (!USERNAME_RE.test(name)) return 'the user name must be 1–32 lower-case letters, digits, ".", "_" or "-", starting with a letter';
    if (password.length < MIN_PASSWORD_LENGTH) return `the password must have at least ${MIN_PASSWORD_LENGTH} characters`;
    if (password.length > 1024) return 'the password is too long';
    const hash = await Bun.password.hash(password, { algorithm: 'argon2id', ...this.cost });
    await this.settings.set(USERS_SETTING, { ...(await this.all()), [name]: { hash, role } });
    return null;
  }

  /** The role when name and password match, else null (in about the same time either way). */
  async verify(name: string, password: string): Promise<Role | null> {
    const u = (await this.all())[name];
    if (!u || password.length > 1024) {
      this.dummyHash ??= Bun.password.hash('not a password of anyone', { algorithm: 'argon2id', ...this.cost });
      await Bun.password.verify(password.slice(0, 1024), await this.dummyHash);
      return null;
    }
    return (await Bun.password.verify(password, u.hash)) ? u.role : null;
  }
}

export interface Session {
  /** Only the SHA-256 of the cookie value is kept: a memory dump does not hand out live sessions. */
  readonly key: string;
  user: string | null;
  role: Role | null;
  csrf: string;
  createdMs: number;
  seenMs: number;
  flash?: { text: string; error: boolean };
}

export interface SessionOptions {
  now?: () => number;
  /** Idle timeout; default 30 minutes. */
  idleMs?: number;
  /** Absolute lifetime; default 12 hours. */
  maxAgeMs?: number;
  /** Default 10000; the oldest go first. */
  maxSessions?: number;
}

const token = (): string => randomBytes(32).toString('base64url');
const digest = (v: string): string => createHash('sha256').update(v).digest('base64url');

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Server-side sessions (memory only: a restart logs everyone out). Anonymous sessions carry the login/setup CSRF token. */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  readonly now: () => number;
  readonly idleMs: number;
  readonly maxAgeMs: number;
  private readonly max: number;

  constructor(o: SessionOptions = {}) {
    this.now = o.now ?? Date.now;
    this.idleMs = o.idleMs ?? 30 * 60_000;
    this.maxAgeMs = o.maxAgeMs ?? 12 * 3_600_000;
    this.max = o.maxSessions ?? 10_000;
  }

  /** A new session; returns it with the cookie value (256 random bits). */
  create(user: string | null, role: Role | null): { id: string; session: Session } {
    const id = token();
    const now = this.now();
    const session: Session = { key: digest(id), user, role, csrf: token(), createdMs: now, seenMs: now };
    if (this.sessions.size >= this.max) {
      const oldest = this.sessions.keys().next();
      if (!oldest.done) this.sessions.delete(oldest.value);
    }
    this.sessions.set(session.key, session);
    return { id, session };
  }

  /** The live session for a cookie value, refreshing its idle timer; expired ones are removed. */
  get(id: string | undefined): Session | undefined {
    if (!id || id.length > 128) return undefined;
    const key = digest(id);
    const s = this.sessions.get(key);
    if (!s) return undefined;
    const now = this.now();
    if (now - s.seenMs > this.idleMs || now - s.createdMs > this.maxAgeMs) {
      this.sessions.delete(key);
      return undefined;
    }
    s.seenMs = now;
    return s;
  }

  /** Still stored and not expired (without counting as activity). */
  alive(s: Session): boolean {
    const now = this.now();
    return this.sessions.get(s.key) === s && now - s.seenMs <= this.idleMs && now - s.createdMs <= this.maxAgeMs;
  }

  destroy(s: Session): void {
    this.sessions.delete(s.key);
  }

  /** Ends every session of a user (password change). */
  destroyUser(user: string): void {
    for (const [k, s] of this.sessions) if (s.user === user) this.sessions.delete(k);
  }

  get size(): number {
    return this.sessions.size;
  }
}

export interface ThrottleOptions {
  now?: () => number;
  /** Failures (per user or per IP) that lock further attempts for lockoutMs; default 10. */
  lockoutAfter?: number;
  /** Default 15 minutes. */
  lockoutMs?: number;
  /** Wait after the first failure, doubled after each further one (capped at maxDelayMs); default 1 s. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

interface Failures {
  count: number;
  lastMs: number;
}

/**
 * Login throttling, per user name and per client address: after n failures the next attempt is refused for
 * base·2^(n−1) ms, and after `lockoutAfter` failures for `lockoutMs`. A refused attempt does not check the
 * password (so it costs the attacker a try without telling them anything), and a success clears both counters.
 */
export class LoginThrottle {
  private readonly byKey = new Map<string, Failures>();
  private readonly now: () => number;
  readonly lockoutAfter: number;
  readonly lockoutMs: number;
  private readonly base: number;
  private readonly maxDelay: number;

  constructor(o: ThrottleOptions = {}) {
    this.now = o.now ?? Date.now;
    this.lockoutAfter = o.lockoutAfter ?? 10;
    this.lockoutMs = o.lockoutMs ?? 15 * 60_000;
    this.base = o.baseDelayMs ?? 1000;
    this.maxDelay = o.maxDelayMs ?? 60_000;
  }

  private waitFor(key: string): number {
    const f = this.byKey.get(key);
    if (!f) return 0;
    const delay = f.count >= this.lockoutAfter ? this.lockoutMs : Math.min(this.maxDelay, this.base * 2 ** (f.count - 1));
    const left = f.lastMs + delay - this.now();
    if (left <= 0 && f.count >= this.lockoutAfter) this.byKey.delete(key); // lockout over: start afresh
    return Math.max(0, left);
  }

  /** Milliseconds until an attempt for this user from this address may be checked (0 = now), and whether it is a lockout. */
  check(user: string, ip: string): { waitMs: number; locked: boolean } {
    const keys = [`u:${user}`, `ip:${ip}`];
    const locked = keys.some((k) => (this.byKey.get(k)?.count ?? 0) >= this.lockoutAfter);
    return { waitMs: Math.max(...keys.map((k) => this.waitFor(k))), locked: locked && keys.some((k) => this.waitFor(k) > 0) };
  }

  fail(user: string, ip: string): void {
    for (const k of [`u:${user}`, `ip:${ip}`]) {
      const f = this.byKey.get(k) ?? { count: 0, lastMs: 0 };
      f.count++;
      f.lastMs = this.now();
      this.byKey.set(k, f);
    }
    if (this.byKey.size > 100_000) this.byKey.delete(this.byKey.keys().next().value as string);
  }

  succeed(user: string, ip: string): void {
    this.byKey.delete(`u:${user}`);
    this.byKey.delete(`ip:${ip}`);
  }
}
