// Structured logger (text or JSON lines) with a redaction guard: fields named like secrets never reach the log (ARCHITECTURE.md §6).

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';
export type Fields = Record<string, unknown>;

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  readonly level: LogLevel;
  enabled(level: LogLevel): boolean;
  log(level: LogLevel, msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** A logger that adds `fields` to every record (shares level and output). */
  child(fields: Fields): Logger;
  /** How many field values the guard replaced so far. */
  readonly redactions: number;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** One complete line without the trailing newline (default: stderr). */
  write?: (line: string) => void;
  now?: () => Date;
  /** Throw instead of redacting (tests: a secret-named field is a bug to find, not to hide). */
  strict?: boolean;
}

/** Words that mark a field as secret, wherever they appear in a camelCase/snake_case name. */
const SECRET_WORDS = new Set(['key', 'keys', 'keymat', 'secret', 'secrets', 'psk', 'nonce', 'nonces', 'password', 'passwd', 'passphrase', 'token', 'privkey', 'pkcs8', 'msk']);
/** RFC 7296 §2.14 key names: SK_d, SK_ai, SK_ar, SK_ei, SK_er, SK_pi, SK_pr. */
const SK_NAME = /^sk_?(d|[aep]_?[ir])$/i;

// Field names repeat on every line: remember each verdict (bounded, names come from code, not peers).
const secretNameCache = new Map<string, boolean>();

export function isSecretFieldName(name: string): boolean {
  const known = secretNameCache.get(name);
  if (known !== undefined) return known;
  const verdict = classifyFieldName(name);
  if (secretNameCache.size < 4096) secretNameCache.set(name, verdict);
  return verdict;
}

function classifyFieldName(name: string): boolean {
  if (SK_NAME.test(name)) return true;
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/);
  return words.some((w) => SECRET_WORDS.has(w));
}

export const REDACTED = '[redacted]';

export class SecretFieldError extends Error {
  constructor(path: string) {
    super(`refusing to log field "${path}": its name marks it as secret`);
    this.name = 'SecretFieldError';
  }
}

/** A JSON-safe copy of `v` with secret-named fields replaced and byte arrays shown only by length. */
function sanitize(v: unknown, path: string, onSecret: (path: string) => void, depth: number): unknown {
  if (v instanceof Uint8Array) return `<${v.length} octets>`;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Error) return v.message;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'function' || typeof v === 'symbol') return String(v);
  if (v === null || typeof v !== 'object') return v;
  if (depth > 5) return '[…]';
  if (Array.isArray(v)) return v.map((x, i) => sanitize(x, `${path}[${i}]`, onSecret, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const p = path ? `${path}.${k}` : k;
    if (isSecretFieldName(k)) {
      onSecret(p);
      out[k] = REDACTED;
    } else {
      out[k] = sanitize(x, p, onSecret, depth + 1);
    }
  }
  return out;
}

/** `key=value` rendering: bare words stay bare, text with spaces or quotes is JSON-quoted, structures are JSON. */
function textValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return String(v);
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const state = {
    level: opts.level ?? 'info',
    format: opts.format ?? 'text',
    write: opts.write ?? ((line: string) => void process.stderr.write(`${line}\n`)),
    now: opts.now ?? (() => new Date()),
    redactions: 0,
  };

  const emit = (level: LogLevel, msg: string, base: Fields, fields: Fields | undefined): void => {
    if (RANK[level] < RANK[state.level]) return;
    const onSecret = (path: string) => {
      if (opts.strict) throw new SecretFieldError(path);
      state.redactions++;
    };
    const all = sanitize({ ...base, ...fields }, '', onSecret, 0) as Record<string, unknown>;
    const time = state.now().toISOString();
    let line: string;
    if (state.format === 'json') {
      // Record keys win over same-named fields so every line parses the same way.
      line = JSON.stringify({ ...all, time, level, msg });
    } else {
      const kv = Object.entries(all)
        .filter(([, x]) => x !== undefined)
        .map(([k, x]) => `${k}=${textValue(x)}`)
        .join(' ');
      line = `${time} ${level.toUpperCase().padEnd(5)} ${msg}${kv ? ` ${kv}` : ''}`;
    }
    try {
      state.write(line);
    } catch {
      // A closed stderr must not take the gateway down.
    }
  };

  const make = (base: Fields): Logger => ({
    get level() {
      return state.level;
    },
    get redactions() {
      return state.redactions;
    },
    enabled: (level) => RANK[level] >= RANK[state.level],
    log: (level, msg, fields) => emit(level, msg, base, fields),
    debug: (msg, fields) => emit('debug', msg, base, fields),
    info: (msg, fields) => emit('info', msg, base, fields),
    warn: (msg, fields) => emit('warn', msg, base, fields),
    error: (msg, fields) => emit('error', msg, base, fields),
    child: (fields) => make({ ...base, ...fields }),
  });
  return make({});
}

/** A logger that drops everything (for callers that do not care). */
export function silentLogger(): Logger {
  return createLogger({ write: () => {}, level: 'error' });
}
