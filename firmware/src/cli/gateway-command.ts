// `outpost gateway --config FILE`: runs the IKEv2 gateway until SIGTERM/SIGINT (docs/cli.md).
import { loadConfigFile } from '../config/load-config.ts';
import type { GatewayConfig } from '../config/types.ts';
import type { Gateway } from '../runtime/gateway.ts';
import { createLogger, LOG_LEVELS, type LogLevel } from '../runtime/logger.ts';
import type { BoundSocket } from '../runtime/udp.ts';
import { parseArgs } from './args.ts';
import type { Subcommand } from './command.ts';
import { Exit } from './io.ts';
import { OUTPOST_VERSION } from './version-command.ts';

const FORMATS = ['text', 'json'] as const;

/** `127.0.0.1 (500, nat-t 4500), [::1] (500, nat-t 4500)`. */
export function describeListen(ports: readonly BoundSocket[]): string {
  const byAddr = new Map<string, BoundSocket[]>();
  for (const p of ports) byAddr.set(p.address, [...(byAddr.get(p.address) ?? []), p]);
  return [...byAddr.entries()]
    .map(([addr, ps]) => {
      const shown = addr.includes(':') ? `[${addr}]` : addr;
      const list = ps.sort((a, b) => Number(a.natt) - Number(b.natt)).map((p) => (p.natt ? `nat-t ${p.port}` : String(p.port)));
      return `${shown} (${list.join(', ')})`;
    })
    .join(', ');
}

export function startupSummary(config: GatewayConfig, gw: Pick<Gateway, 'ports' | 'dataplane'>): { msg: string; fields: Record<string, unknown> } {
  const conns = config.connections.map((c) => `${c.name} (${c.local.auth === c.remote.auth ? c.local.auth : `${c.local.auth}/${c.remote.auth}`})`);
  const backend = gw.dataplane.features().backend;
  return {
    msg: `outpost ${OUTPOST_VERSION} ready: listening on ${describeListen(gw.ports)}; connections: ${conns.length ? conns.join(', ') : 'none'}; data plane: ${backend}`,
    fields: {
      event: 'ready',
      version: OUTPOST_VERSION,
      listen: gw.ports.map((p) => ({ address: p.address, port: p.port, natt: p.natt })),
      connections: config.connections.map((c) => c.name),
      dataplane: backend,
    },
  };
}

export const gatewayCommand: Subcommand = {
  name: 'gateway',
  summary: 'Run the IKEv2 gateway',
  usage: `Usage: outpost gateway --config FILE [options]

Loads FILE (see docs/config.md), runs the crypto self-test, opens the IKE sockets and serves until SIGTERM or
SIGINT, then deletes its IKE SAs and exits 0. Exits 1 when the config is invalid or the gateway cannot start.

Options:
  -c, --config FILE        Gateway config (YAML), required
      --log-level LEVEL    debug, info, warn or error (overrides log.level)
      --log-format FORMAT  text or json (overrides log.format); json writes one object per line with
                           "event" set on SA records (ike.up, child.up, ike.down, child.down, auth.failed,
                           ike.failed) and on the startup line ("ready")
      --status-file PATH   Rewrite PATH with the IKE/CHILD SA list (JSON) whenever an SA comes or goes
      --db PATH            Keep config versions, audit and SA events in this SQLite store; the store is then
                           authoritative for the config in force (docs/control-api.md)
      --control-socket PATH  Serve the control API ("outpost ctl") on this unix socket (mode 0600)
      --web-listen ADDR:PORT  Serve the local web UI over HTTPS there (needs --db; docs/web-ui.md)
  -h, --help               Show this help
`,
  async run(argv, io) {
    const args = parseArgs(argv, {
      config: { value: true, short: 'c' },
      'log-level': { value: true },
      'log-format': { value: true },
      'status-file': { value: true },
      db: { value: true },
      'control-socket': { value: true },
      'web-listen': { value: true },
      help: { value: false, short: 'h' },
    });
    const usageError = (msg: string) => {
      io.err(`outpost gateway: ${msg}\n\n${this.usage}`);
      return Exit.USAGE;
    };
    if (!args.ok) return usageError(args.error);
    if (args.flags.help) {
      io.out(this.usage);
      return Exit.OK;
    }
    if (args.positionals.length > 0) return usageError(`unexpected argument "${args.positionals[0]}"`);
    const file = args.flags.config;
    if (typeof file !== 'string') return usageError('--config FILE is required');
    const level = args.flags['log-level'];
    if (level !== undefined && !(LOG_LEVELS as readonly unknown[]).includes(level)) return usageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
    const format = args.flags['log-format'];
    if (format !== undefined && !(FORMATS as readonly unknown[]).includes(format)) return usageError(`--log-format must be one of ${FORMATS.join(', ')}`);
    const statusFile = args.flags['status-file'];
    // --- control plane integration (docs/control-api.md): with a store or a control socket, run supervised ---
    const db = args.flags.db;
    const controlSocket = args.flags['control-socket'];
    const webListen = args.flags['web-listen'];
    if (typeof webListen === 'string' && typeof db !== 'string') return usageError('--web-listen needs --db PATH (the web accounts live in the store)');
    if (typeof db === 'string' || typeof controlSocket === 'string') {
      const { runControlledGateway } = await import('./ctl-gateway.ts');
      return runControlledGateway({
        configPath: file,
        io,
        ...(typeof db === 'string' ? { dbPath: db } : {}),
        ...(typeof controlSocket === 'string' ? { socketPath: controlSocket } : {}),
        ...(typeof level === 'string' ? { level: level as LogLevel } : {}),
        ...(typeof format === 'string' ? { format: format as (typeof FORMATS)[number] } : {}),
        ...(typeof statusFile === 'string' ? { statusFile } : {}),
        ...(typeof webListen === 'string' ? { webListen } : {}),
      });
    }
    // --- end control plane integration ---

    const loaded = await loadConfigFile(file);
    if (!loaded.ok) {
      for (const e of loaded.errors) io.err(`error: ${e}`);
      io.err(`outpost gateway: ${file} has ${loaded.errors.length} error${loaded.errors.length === 1 ? '' : 's'}, not starting`);
      return Exit.FAILED;
    }
    const config = loaded.config;
    if (typeof level === 'string') config.log.level = level as LogLevel;
    if (typeof format === 'string') config.log.format = format as (typeof FORMATS)[number];
    const logger = createLogger({ level: config.log.level, format: config.log.format, write: (line) => io.err(line) });
    for (const w of loaded.warnings) logger.warn(`config: ${w}`);

    let gw: Gateway;
    try {
      // Loaded here so that version, self-test and check-config do not depend on the engine's module graph.
      const { startGateway } = await import('../runtime/gateway.ts');
      gw = await startGateway(config, { logger, signals: true, ...(typeof statusFile === 'string' ? { statusFile } : {}) });
    } catch (err) {
      logger.error(`not starting: ${err instanceof Error ? err.message : String(err)}`, { event: 'start.failed' });
      return Exit.FAILED;
    }
    const summary = startupSummary(config, gw);
    logger.info(summary.msg, summary.fields);
    await gw.stopped;
    return Exit.OK;
  },
};
