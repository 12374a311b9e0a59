// The local control API (ARCHITECTURE.md §8, in the spirit of strongSwan's vici): commands, results and events, in one place.
/*
 * Wire format: newline-delimited JSON over a unix socket (docs/control-api.md).
 *   request   {"id": 1, "command": "list-sas", "args": {...}, "actor": "alice"}
 *   response  {"id": 1, "ok": true, "result": {...}}  |  {"id": 1, "ok": false, "error": {"code", "message", "field"?}}
 *   event     {"id": 7, "event": {...}}               (after a `subscribe` request with id 7)
 * Requests on one connection are answered in order. Everything the server reads is checked here first.
 */
import type { EngineEvent, IkeSaInfo } from '../ike/io.ts';
import type { ConfigSource, ConfigVersionMeta } from '../store/config-versions.ts';
import { array, boolean, int, object, oneOf, optional, string, type Infer, type Schema } from './schema.ts';

export const PROTOCOL_VERSION = 1;
/** A request line longer than this is refused (the config text is the largest thing a request carries). */
export const MAX_REQUEST_BYTES = 1024 * 1024;
export const MAX_CONFIG_BYTES = 512 * 1024;
export const DEFAULT_SOCKET_PATH = '/run/outpost/control.sock';

const name = () => string({ min: 1, max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9._-]*$/, what: 'a name (letters, digits, ".", "_", "-"; at most 64)' });
const handle = () => string({ min: 1, max: 64, pattern: /^[A-Za-z0-9._-]+$/, what: 'an SA handle as list-sas shows it' });
const waitMs = () => optional(int({ min: 0, max: 120_000 }));
const confirmTimeoutSec = () => optional(int({ min: 10, max: 86_400 }));

export const ENGINE_EVENT_TYPES = ['log', 'ike.up', 'ike.down', 'child.up', 'child.down', 'auth.failed', 'ike.failed'] as const satisfies readonly EngineEvent['type'][];
export const CONTROL_EVENT_TYPES = ['config.applied', 'config.pending', 'config.reverted', 'drain'] as const;
export const EVENT_TYPES = [...ENGINE_EVENT_TYPES, ...CONTROL_EVENT_TYPES] as const;

/** Argument schemas, one per command. The command names are the API; keep them backwards compatible. */
export const COMMANDS = {
  'list-sas': object({ conn: optional(name()) }),
  'list-conns': object({}),
  'list-certs': object({}),
  /** Start a connection's CHILD_SA (or the first one); waits up to waitMs (default 10 s, 0 = don't) for it to come up. */
  initiate: object({ conn: name(), child: optional(name()), waitMs: waitMs() }),
  /** Delete an IKE SA (ikeId), every IKE SA of a connection (conn), or one CHILD_SA (ikeId + childId). */
  terminate: object({ ikeId: optional(handle()), conn: optional(name()), childId: optional(handle()), waitMs: waitMs() }),
  rekey: object({ ikeId: handle(), childId: optional(handle()), reauth: optional(boolean()) }),
  'load-config': object({
    yaml: string({ min: 1, max: MAX_CONFIG_BYTES, what: `the config file's text (at most ${MAX_CONFIG_BYTES} characters)` }),
    comment: optional(string({ max: 500 })),
    source: optional(oneOf<ConfigSource>(['local', 'cloud'])),
    signature: optional(string({ max: 8192 })),
    /** Commit-confirm: revert unless `confirm` arrives within this many seconds. */
    confirmTimeoutSec: confirmTimeoutSec(),
  }),
  confirm: object({ id: optional(int({ min: 1 })) }),
  'get-config': object({ id: optional(int({ min: 1 })), showSecrets: optional(boolean()) }),
  history: object({ limit: optional(int({ min: 1, max: 1000 })) }),
  /** Apply an earlier version again (as a new version); default: the one before the current. */
  rollback: object({ id: optional(int({ min: 1 })), comment: optional(string({ max: 500 })), confirmTimeoutSec: confirmTimeoutSec() }),
  stats: object({}),
  drain: object({ on: boolean(), redirectTo: optional(string({ min: 1, max: 253, pattern: /^[A-Za-z0-9.:-]+$/, what: 'an IP address or a DNS name' })) }),
  subscribe: object({ types: optional(array(oneOf(EVENT_TYPES), { max: EVENT_TYPES.length })) }),
} satisfies Record<string, Schema<unknown>>;

export type CommandName = keyof typeof COMMANDS;
export type CommandArgs<C extends CommandName> = Infer<(typeof COMMANDS)[C]>;
export const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];

export interface ConnInfo {
  name: string;
  remoteAddrs: string[];
  localAddrs: string[];
  localId: string;
  localAuth: 'psk' | 'pubkey';
  remoteId: string;
  remoteAuth: 'psk' | 'pubkey';
  pools: string[];
  ikeProposals: string[];
  children: { name: string; localTs: string[]; remoteTs: string[]; espProposals: string[]; startAction: 'none' | 'start' }[];
  /** IKE SAs of this connection right now. */
  ikeSas: number;
}

export interface CertInfo {
  /** `ca:<name>` for a trusted CA, `conn:<name>` for a connection's own certificate (and `#n` for intermediates). */
  use: string;
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  /** Days until notAfter (negative: expired). */
  daysLeft: number;
}

export interface ConfigMeta extends ConfigVersionMeta {
  /** This version is the one in force (committed). */
  current: boolean;
}

export interface ApplySummary {
  version: number;
  /** The text equals the current version's: nothing was stored or applied. */
  unchanged: boolean;
  /** How it was applied: `reload` keeps SAs of unaffected connections, `restart` replaces the gateway. */
  mode: 'none' | 'reload' | 'restart';
  changes: string[];
  warnings: string[];
  /** Commit-confirm: the deadline (ms since the epoch) after which it reverts unless confirmed. */
  confirmBy?: number;
}

export interface StatsResult {
  uptimeSec: number;
  configVersion: number | null;
  draining: boolean;
  redirectTo: string | null;
  sas: { ike: number; child: number; halfOpen: number };
  drain: { refused: number; redirected: number };
  gateway: Record<string, unknown>;
  control: { clients: number; subscribers: number; requests: number; errors: number };
  store: { path: string; outbox: number } | null;
}

export interface CommandResults {
  'list-sas': { sas: IkeSaInfo[] };
  'list-conns': { conns: ConnInfo[] };
  'list-certs': { certs: CertInfo[] };
  initiate: { ikeId: string | null; state: 'up' | 'started' | 'failed'; reason?: string };
  terminate: { terminated: string[]; state: 'down' | 'started' };
  rekey: { ikeId: string; started: true };
  'load-config': ApplySummary;
  confirm: { version: number };
  'get-config': { version: ConfigMeta; yaml: string; redacted: boolean };
  history: { versions: ConfigMeta[] };
  rollback: ApplySummary;
  stats: StatsResult;
  drain: { draining: boolean; redirectTo: string | null };
  subscribe: { subscribed: string[] };
}

export type ControlEvent =
  | { type: 'config.applied'; version: number; hash: string; mode: 'none' | 'reload' | 'restart' }
  | { type: 'config.pending'; version: number; confirmBy: number }
  | { type: 'config.reverted'; version: number; reason: string }
  | { type: 'drain'; draining: boolean; redirectTo: string | null };
export type StreamEvent = EngineEvent | ControlEvent;

export type ErrorCode =
  | 'bad-json' // the line is not JSON
  | 'bad-request' // JSON, but not a valid request (error.field says which field)
  | 'unknown-command'
  | 'too-large' // the request line exceeds MAX_REQUEST_BYTES
  | 'not-found' // a connection, SA or config version that does not exist
  | 'invalid-config' // load-config: the config does not validate (message lists the errors)
  | 'conflict' // e.g. load-config while another change awaits confirmation
  | 'failed' // the command ran and failed (health check, engine refused)
  | 'unavailable' // needs something this gateway was started without (the store)
  | 'internal';

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  field?: string;
  /** invalid-config: one line per error, as check-config prints them. */
  details?: string[];
}

export type RequestId = string | number | null;
export type ControlResponse<C extends CommandName = CommandName> =
  | { id: RequestId; ok: true; result: CommandResults[C] }
  | { id: RequestId; ok: false; error: ErrorBody };

export type ParsedRequest = { [C in CommandName]: { id: RequestId; command: C; args: CommandArgs<C>; actor: string } }[CommandName];

/** Checks one parsed JSON value as a request. The id is echoed even for bad requests when it can be read. */
export function parseRequest(v: unknown): { ok: true; request: ParsedRequest } | { ok: false; id: RequestId; error: ErrorBody } {
  const rec = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  const rawId = rec?.id;
  const id: RequestId = typeof rawId === 'string' && rawId.length <= 64 ? rawId : typeof rawId === 'number' && Number.isSafeInteger(rawId) ? rawId : null;
  const bad = (field: string, message: string, code: ErrorCode = 'bad-request') => ({ ok: false as const, id, error: { code, message: `${field}: ${message}`, field } });
  if (!rec) return bad('request', 'must be a JSON object');
  for (const k of Object.keys(rec)) if (!['id', 'command', 'args', 'actor'].includes(k)) return bad(k, 'unknown field (expected id, command, args, actor)');
  if (rawId !== undefined && id === null) return bad('id', 'must be a string of at most 64 characters or an integer');
  if (typeof rec.command !== 'string') return bad('command', rec.command === undefined ? 'is required' : 'must be a string');
  const command = rec.command;
  if (!Object.hasOwn(COMMANDS, command)) return bad('command', `unknown command "${command.slice(0, 64)}" (known: ${COMMAND_NAMES.join(', ')})`, 'unknown-command');
  const actor = rec.actor === undefined ? 'ctl' : rec.actor;
  if (typeof actor !== 'string' || !/^[\w.@-]{1,64}$/.test(actor)) return bad('actor', 'must be a user or client name (letters, digits, "_", ".", "@", "-"; at most 64)');
  const schema = COMMANDS[command as CommandName] as Schema<unknown>;
  const r = schema.check(rec.args ?? {}, 'args');
  if (!r.ok) return bad(r.field, r.message);
  return { ok: true, request: { id, command, args: r.value, actor } as ParsedRequest };
}
