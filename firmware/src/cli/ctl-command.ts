// `outpost ctl <command>`: the control API from the shell, tables for people and --json for scripts (docs/cli.md, docs/control-api.md).
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { ControlClient, ControlRequestError } from '../control/client.ts';
import { DEFAULT_SOCKET_PATH, EVENT_TYPES, type CommandArgs, type CommandName, type CommandResults, type StreamEvent } from '../control/protocol.ts';
import { parseArgs, type FlagSpec, type ParsedArgs } from './args.ts';
import type { Subcommand } from './command.ts';
import { formatApply, formatCerts, formatConns, formatEvent, formatHistory, formatSas, formatStats } from './ctl-format.ts';
import { Exit, type CliIo } from './io.ts';

type Flags = Extract<ParsedArgs, { ok: true }>['flags'];
type Built<C extends CommandName> = { ok: true; args: CommandArgs<C> } | { ok: false; error: string };

interface Verb<C extends CommandName> {
  name: C;
  synopsis: string;
  summary: string;
  details?: string;
  flags?: Record<string, FlagSpec & { help: string }>;
  positionals: [min: number, max: number];
  build(flags: Flags, pos: string[]): Built<C> | Promise<Built<C>>;
  print(result: CommandResults[C], io: CliIo): void;
}

const COMMON: Record<string, FlagSpec & { help: string }> = {
  socket: { value: true, short: 's', help: `control socket (default $OUTPOST_CONTROL_SOCKET or ${DEFAULT_SOCKET_PATH})` },
  json: { value: false, help: 'print the result as JSON (for scripts); errors too, on stdout' },
  help: { value: false, short: 'h', help: 'show this help' },
};

/** `90`, `30s`, `10m`, `1h30m` → seconds. */
export function parseDurationSec(text: string): number | null {
  if (/^\d+$/.test(text)) return Number(text);
  const m = text.match(/^(?:\d+(?:ms|s|m|h|d))+$/);
  if (!m) return null;
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 } as const;
  let sec = 0;
  for (const g of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) sec += Number(g[1]) * unit[g[2] as keyof typeof unit];
  return Math.round(sec);
}

const int = (s: string): number | null => (/^\d+$/.test(s) ? Number(s) : null);
const str = (f: Flags, k: string): string | undefined => (typeof f[k] === 'string' ? (f[k] as string) : undefined);

function waitFlag(f: Flags, defaultSec: number): { ok: true; waitMs: number } | { ok: false; error: string } {
  if (f['no-wait'] && f.timeout !== undefined) return { ok: false, error: '--timeout and --no-wait exclude each other' };
  if (f['no-wait']) return { ok: true, waitMs: 0 };
  const t = str(f, 'timeout');
  if (t === undefined) return { ok: true, waitMs: defaultSec * 1000 };
  const sec = parseDurationSec(t);
  if (sec === null || sec > 120) return { ok: false, error: '--timeout must be a duration of at most 120s (e.g. 30, 30s, 2m)' };
  return { ok: true, waitMs: sec * 1000 };
}

function confirmFlag(f: Flags): { ok: true; sec?: number } | { ok: false; error: string } {
  const t = str(f, 'confirm-timeout');
  if (t === undefined) return { ok: true };
  const sec = parseDurationSec(t);
  if (sec === null || sec < 10 || sec > 86400) return { ok: false, error: '--confirm-timeout must be a duration from 10s to 1d (e.g. 5m)' };
  return { ok: true, sec };
}

const WAIT_FLAGS = {
  timeout: { value: true, help: 'wait at most this long (default %s; at most 120s)' },
  'no-wait': { value: false, help: 'return once started' },
};

const CONFIRM_FLAGS = {
  'confirm-timeout': { value: true, help: 'commit-confirm: revert unless "outpost ctl confirm" follows within this long (10s..1d)' },
  comment: { value: true, help: 'a note kept in the history' },
};

const VERBS: { [C in CommandName]: Verb<C> } = {
  'list-sas': {
    name: 'list-sas',
    synopsis: 'list-sas [--conn NAME]',
    summary: 'List IKE SAs and their CHILD SAs',
    flags: { conn: { value: true, help: 'only SAs of this connection' } },
    positionals: [0, 0],
    build: (f) => ({ ok: true, args: str(f, 'conn') ? { conn: str(f, 'conn') as string } : {} }),
    print: (r, io) => io.out(formatSas(r.sas, Date.now())),
  },
  'list-conns': {
    name: 'list-conns',
    synopsis: 'list-conns',
    summary: 'List configured connections',
    positionals: [0, 0],
    build: () => ({ ok: true, args: {} }),
    print: (r, io) => io.out(formatConns(r.conns)),
  },
  'list-certs': {
    name: 'list-certs',
    synopsis: 'list-certs',
    summary: 'List trusted CAs and the certificates the gateway presents',
    positionals: [0, 0],
    build: () => ({ ok: true, args: {} }),
    print: (r, io) => io.out(formatCerts(r.certs)),
  },
  initiate: {
    name: 'initiate',
    synopsis: 'initiate CONN [--child NAME] [--timeout DURATION | --no-wait]',
    summary: "Bring up a connection's CHILD_SA (the first one unless --child)",
    details: 'Waits until the CHILD_SA is up; exit status 1 when it fails or is not up in time.',
    flags: { child: { value: true, help: 'the child to initiate' }, timeout: { ...WAIT_FLAGS.timeout, help: WAIT_FLAGS.timeout.help.replace('%s', '10s') }, 'no-wait': WAIT_FLAGS['no-wait'] },
    positionals: [1, 1],
    build: (f, [conn]) => {
      const w = waitFlag(f, 10);
      if (!w.ok) return w;
      return { ok: true, args: { conn: conn as string, ...(str(f, 'child') ? { child: str(f, 'child') as string } : {}), waitMs: w.waitMs } };
    },
    print: (r, io) => io.out(r.state === 'up' ? `IKE SA ${r.ikeId} up` : `initiating${r.ikeId ? ` (IKE SA ${r.ikeId})` : ''}`),
  },
  terminate: {
    name: 'terminate',
    synopsis: 'terminate (IKE_SA | --conn NAME) [--child CHILD_SA] [--timeout DURATION | --no-wait]',
    summary: 'Delete an IKE SA, every IKE SA of a connection, or one CHILD_SA',
    flags: { conn: { value: true, help: 'every IKE SA of this connection' }, child: { value: true, help: 'only this CHILD_SA of the IKE SA' }, timeout: { ...WAIT_FLAGS.timeout, help: WAIT_FLAGS.timeout.help.replace('%s', '5s') }, 'no-wait': WAIT_FLAGS['no-wait'] },
    positionals: [0, 1],
    build: (f, [ikeId]) => {
      const w = waitFlag(f, 5);
      if (!w.ok) return w;
      const conn = str(f, 'conn');
      if ((ikeId === undefined) === (conn === undefined)) return { ok: false, error: 'give an IKE SA handle or --conn NAME (not both)' };
      return { ok: true, args: { ...(ikeId ? { ikeId } : {}), ...(conn ? { conn } : {}), ...(str(f, 'child') ? { childId: str(f, 'child') as string } : {}), waitMs: w.waitMs } };
    },
    print: (r, io) => io.out(`${r.state === 'down' ? 'terminated' : 'terminating'}: ${r.terminated.join(', ')}`),
  },
  rekey: {
    name: 'rekey',
    synopsis: 'rekey IKE_SA [--child CHILD_SA] [--reauth]',
    summary: 'Rekey an IKE SA or one CHILD_SA, or reauthenticate the IKE SA',
    flags: { child: { value: true, help: 'rekey only this CHILD_SA' }, reauth: { value: false, help: 'reauthenticate (new IKE_SA_INIT/IKE_AUTH) instead of rekeying' } },
    positionals: [1, 1],
    build: (f, [ikeId]) => ({ ok: true, args: { ikeId: ikeId as string, ...(str(f, 'child') ? { childId: str(f, 'child') as string } : {}), ...(f.reauth ? { reauth: true } : {}) } }),
    print: (r, io) => io.out(`rekeying IKE SA ${r.ikeId}`),
  },
  'load-config': {
    name: 'load-config',
    synopsis: 'load-config FILE [--confirm-timeout DURATION] [--comment TEXT]',
    summary: 'Validate, store and apply a new gateway config',
    details:
      'FILE is read here and sent as text; file names inside it (cert, key, psk_file) resolve on the gateway,\nagainst the directory of its --config file. On a failed health check the previous config stays in force.',
    flags: CONFIRM_FLAGS,
    positionals: [1, 1],
    build: async (f, [file]) => {
      const c = confirmFlag(f);
      if (!c.ok) return c;
      let yaml: string;
      try {
        yaml = await readFile(file as string, 'utf8');
      } catch (err) {
        return { ok: false, error: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}` };
      }
      return { ok: true, args: { yaml, ...(str(f, 'comment') ? { comment: str(f, 'comment') as string } : {}), ...(c.sec !== undefined ? { confirmTimeoutSec: c.sec } : {}) } };
    },
    print: (r, io) => io.out(formatApply(r, r.confirmBy !== undefined ? 'applied, awaiting confirmation' : 'applied')),
  },
  confirm: {
    name: 'confirm',
    synopsis: 'confirm [VERSION]',
    summary: 'Commit a config applied with --confirm-timeout',
    positionals: [0, 1],
    build: (_f, [v]) => {
      if (v === undefined) return { ok: true, args: {} };
      const id = int(v);
      return id && id > 0 ? { ok: true, args: { id } } : { ok: false, error: `VERSION must be a positive integer (got "${v}")` };
    },
    print: (r, io) => io.out(`config version ${r.version} confirmed`),
  },
  'get-config': {
    name: 'get-config',
    synopsis: 'get-config [VERSION] [--show-secrets]',
    summary: 'Print the config in force (or an earlier version)',
    details: 'Inline PSKs are shown as "[redacted]" unless --show-secrets.',
    flags: { 'show-secrets': { value: false, help: 'print inline PSKs as they are' } },
    positionals: [0, 1],
    build: (f, [v]) => {
      const id = v === undefined ? undefined : int(v);
      if (id === null || id === 0) return { ok: false, error: `VERSION must be a positive integer (got "${v}")` };
      return { ok: true, args: { ...(id !== undefined ? { id } : {}), ...(f['show-secrets'] ? { showSecrets: true } : {}) } };
    },
    print: (r, io) => io.out(r.yaml.endsWith('\n') ? r.yaml.slice(0, -1) : r.yaml),
  },
  history: {
    name: 'history',
    synopsis: 'history [--limit N]',
    summary: 'List config versions, newest first (* = in force)',
    flags: { limit: { value: true, help: 'at most N versions (default 50)' } },
    positionals: [0, 0],
    build: (f) => {
      const l = str(f, 'limit');
      if (l === undefined) return { ok: true, args: {} };
      const n = int(l);
      return n && n <= 1000 ? { ok: true, args: { limit: n } } : { ok: false, error: '--limit must be an integer from 1 to 1000' };
    },
    print: (r, io) => io.out(formatHistory(r.versions)),
  },
  rollback: {
    name: 'rollback',
    synopsis: 'rollback [VERSION] [--confirm-timeout DURATION] [--comment TEXT]',
    summary: 'Apply an earlier config version again (default: the one before the current)',
    flags: CONFIRM_FLAGS,
    positionals: [0, 1],
    build: (f, [v]) => {
      const c = confirmFlag(f);
      if (!c.ok) return c;
      const id = v === undefined ? undefined : int(v);
      if (id === null || id === 0) return { ok: false, error: `VERSION must be a positive integer (got "${v}")` };
      return { ok: true, args: { ...(id !== undefined ? { id } : {}), ...(str(f, 'comment') ? { comment: str(f, 'comment') as string } : {}), ...(c.sec !== undefined ? { confirmTimeoutSec: c.sec } : {}) } };
    },
    print: (r, io) => io.out(formatApply(r, 'applied (rollback)')),
  },
  stats: {
    name: 'stats',
    synopsis: 'stats',
    summary: 'Show gateway counters',
    positionals: [0, 0],
    build: () => ({ ok: true, args: {} }),
    print: (r, io) => io.out(formatStats(r)),
  },
  drain: {
    name: 'drain',
    synopsis: 'drain on|off [--redirect-to ADDRESS]',
    summary: 'Refuse (or redirect, RFC 5685) new IKE SAs; existing ones stay',
    flags: { 'redirect-to': { value: true, help: 'send clients that support REDIRECT to this gateway (IP address or DNS name)' } },
    positionals: [1, 1],
    build: (f, [onOff]) => {
      if (onOff !== 'on' && onOff !== 'off') return { ok: false, error: `expected "on" or "off" (got "${onOff}")` };
      const to = str(f, 'redirect-to');
      if (to !== undefined && onOff === 'off') return { ok: false, error: '--redirect-to only with "on"' };
      return { ok: true, args: { on: onOff === 'on', ...(to ? { redirectTo: to } : {}) } };
    },
    print: (r, io) => io.out(r.draining ? `draining: new IKE SAs are ${r.redirectTo ? `redirected to ${r.redirectTo}` : 'refused'}` : 'not draining'),
  },
  subscribe: {
    name: 'subscribe',
    synopsis: 'subscribe [--types TYPE,…] [--count N]',
    summary: 'Print events as they happen, one per line, until interrupted',
    details: `TYPE: ${EVENT_TYPES.join(', ')} (default: all but log).`,
    flags: { types: { value: true, help: 'comma-separated event types' }, count: { value: true, help: 'exit after N events' } },
    positionals: [0, 0],
    build: (f) => {
      const t = str(f, 'types');
      if (t === undefined) return { ok: true, args: {} };
      const types = t.split(',').map((x) => x.trim());
      const bad = types.find((x) => !(EVENT_TYPES as readonly string[]).includes(x));
      if (bad !== undefined) return { ok: false, error: `unknown event type "${bad}" (known: ${EVENT_TYPES.join(', ')})` };
      return { ok: true, args: { types: types as (typeof EVENT_TYPES)[number][] } };
    },
    print: () => {},
  },
};

function verbUsage(v: Verb<CommandName>): string {
  const flags = { ...v.flags, ...COMMON };
  const rows = Object.entries(flags).map(([name, s]) => [`${s.short ? `-${s.short}, ` : '    '}--${name}${s.value ? ` ${name === 'socket' ? 'PATH' : 'VALUE'}` : ''}`, s.help] as const);
  const w = Math.max(...rows.map((r) => r[0].length));
  return `Usage: outpost ctl ${v.synopsis} [--socket PATH] [--json]

${v.summary}.${v.details ? `\n${v.details}` : ''}

Options:
${rows.map(([a, b]) => `  ${a.padEnd(w)}  ${b}`).join('\n')}
`;
}

const SUMMARY_WIDTH = Math.max(...Object.values(VERBS).map((v) => v.name.length));

export const ctlUsage = `Usage: outpost ctl <command> [arguments] [--socket PATH] [--json]

Talks to a running gateway over its control socket ("outpost gateway --control-socket PATH").
Exit status: 0 success, 1 the gateway refused or the command failed, 2 the command line is wrong.

Commands:
${Object.values(VERBS)
  .map((v) => `  ${v.name.padEnd(SUMMARY_WIDTH)}  ${v.summary}`)
  .join('\n')}

Options:
  -s, --socket PATH   ${COMMON.socket?.help}
      --json          ${COMMON.json?.help}
  -h, --help          show this help ("outpost ctl <command> --help" for a command's)
`;

function actorName(): string | undefined {
  let u = process.env.SUDO_USER || process.env.USER || process.env.LOGNAME;
  if (!u) {
    try {
      u = userInfo().username;
    } catch {
      u = undefined;
    }
  }
  return u && /^[\w.@-]{1,64}$/.test(u) ? u : undefined;
}

export const ctlCommand: Subcommand = {
  name: 'ctl',
  summary: 'Query and control a running gateway (control socket)',
  usage: ctlUsage,
  async run(argv, io) {
    const [name, ...rest] = argv;
    if (name === undefined || name === '-h' || name === '--help') {
      if (name === undefined) {
        io.err(`outpost ctl: missing command\n\n${ctlUsage}`);
        return Exit.USAGE;
      }
      io.out(ctlUsage);
      return Exit.OK;
    }
    if (!Object.hasOwn(VERBS, name)) {
      io.err(`outpost ctl: unknown command "${name}"\n\n${ctlUsage}`);
      return Exit.USAGE;
    }
    const verb = VERBS[name as CommandName] as Verb<CommandName>;
    const usage = verbUsage(verb);
    const usageError = (msg: string) => {
      io.err(`outpost ctl ${name}: ${msg}\n\n${usage}`);
      return Exit.USAGE;
    };
    const args = parseArgs(rest, { ...verb.flags, ...COMMON });
    if (!args.ok) return usageError(args.error);
    if (args.flags.help) {
      io.out(usage);
      return Exit.OK;
    }
    const [min, max] = verb.positionals;
    if (args.positionals.length < min) return usageError('missing argument');
    if (args.positionals.length > max) return usageError(`unexpected argument "${args.positionals[max]}"`);
    const count = name === 'subscribe' && str(args.flags, 'count') !== undefined ? int(str(args.flags, 'count') as string) : undefined;
    if (count === null || count === 0) return usageError('--count must be a positive integer');
    const built = await verb.build(args.flags, args.positionals);
    if (!built.ok) return usageError(built.error);
    const json = args.flags.json === true;
    const socket = str(args.flags, 'socket') ?? process.env.OUTPOST_CONTROL_SOCKET ?? DEFAULT_SOCKET_PATH;

    let client: ControlClient;
    try {
      const actor = actorName();
      client = await ControlClient.connect(socket, actor ? { actor } : {});
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such socket (is the gateway running with --control-socket?)' : code === 'EACCES' ? 'permission denied (the socket is 0600: run as its owner)' : code === 'ECONNREFUSED' ? 'nothing is listening' : (err as Error).message;
      if (json) io.out(JSON.stringify({ error: { code: 'unavailable', message: `cannot connect to ${socket}: ${why}` } }));
      else io.err(`outpost ctl: cannot connect to ${socket}: ${why}`);
      return Exit.FAILED;
    }
    try {
      if (name === 'subscribe') return await runSubscribe(client, built.args as CommandArgs<'subscribe'>, { json, io, ...(count !== undefined ? { count } : {}) });
      // Longer than any wait the API allows (initiate: 120 s), so a wedged gateway cannot hang a script forever.
      const result = await client.request(verb.name, built.args, { timeoutMs: 180_000 });
      if (json) io.out(JSON.stringify(result, null, 2));
      else verb.print(result, io);
      return Exit.OK;
    } catch (err) {
      if (err instanceof ControlRequestError) {
        if (json) io.out(JSON.stringify({ error: err.body }, null, 2));
        else {
          io.err(`outpost ctl ${name}: ${err.body.message}`);
          for (const d of err.body.details ?? []) io.err(`error: ${d}`);
        }
      } else io.err(`outpost ctl ${name}: ${err instanceof Error ? err.message : String(err)}`);
      return Exit.FAILED;
    } finally {
      client.close();
    }
  },
};

async function runSubscribe(client: ControlClient, args: CommandArgs<'subscribe'>, o: { json: boolean; io: CliIo; count?: number }): Promise<number> {
  let seen = 0;
  let finish!: (code: number) => void;
  const done = new Promise<number>((r) => (finish = r));
  const onEvent = (e: StreamEvent): void => {
    o.io.out(o.json ? JSON.stringify(e) : formatEvent(e));
    if (o.count !== undefined && ++seen >= o.count) finish(Exit.OK);
  };
  const stop = () => finish(Exit.OK);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  client.onClose(() => finish(o.count !== undefined ? Exit.FAILED : Exit.OK));
  try {
    await client.request('subscribe', args, { onEvent });
    return await done;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
