// `outpost gateway --db PATH --control-socket PATH`: the gateway under the control plane (store, config apply, control socket).
import { startControlPlane, ReconcileError, type ControlPlane } from '../control/attach.ts';
import { createLogger, type Logger, type LogLevel } from '../runtime/logger.ts';
import { startupSummary } from './gateway-command.ts';
import { Exit, type CliIo } from './io.ts';

export interface ControlledGatewayOptions {
  configPath: string;
  dbPath?: string;
  socketPath?: string;
  deviceKeyPath?: string;
  level?: LogLevel;
  format?: 'text' | 'json';
  statusFile?: string;
  /** `ADDR:PORT` for the web UI (firmware/src/web/). */
  webListen?: string;
  io: CliIo;
}

export async function runControlledGateway(o: ControlledGatewayOptions): Promise<number> {
  let logger: Logger | undefined;
  let plane: ControlPlane;
  const { parseWebListen, startWebUi } = o.webListen ? await import('../web/server.ts') : { parseWebListen: undefined, startWebUi: undefined };
  const listen = o.webListen && parseWebListen ? parseWebListen(o.webListen) : undefined;
  if (listen && !listen.ok) {
    o.io.err(`outpost gateway: --web-listen: ${listen.error}`);
    return Exit.USAGE;
  }
  try {
    plane = await startControlPlane({
      configPath: o.configPath,
      ...(o.dbPath ? { dbPath: o.dbPath } : {}),
      ...(o.socketPath ? { socketPath: o.socketPath } : {}),
      ...(o.deviceKeyPath ? { deviceKeyPath: o.deviceKeyPath } : {}),
      signals: true,
      overrides: (c) => {
        if (o.level) c.log.level = o.level;
        if (o.format) c.log.format = o.format;
      },
      logger: (c) => (logger = createLogger({ level: c.log.level, format: c.log.format, write: (line) => o.io.err(line) })),
      gatewayOptions: o.statusFile ? { statusFile: o.statusFile } : {},
    });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (err instanceof ReconcileError) {
      for (const e of err.errors) o.io.err(`error: ${e}`);
      o.io.err(`outpost gateway: ${msg}`);
    } else if (logger) logger.error(`not starting: ${msg}`, { event: 'start.failed' });
    else o.io.err(`outpost gateway: not starting: ${msg}`);
    return Exit.FAILED;
  }
  const log = logger as Logger;
  for (const w of plane.warnings) log.warn(`config: ${w}`);
  const gw = plane.supervisor.current();
  if (gw) {
    const summary = startupSummary(plane.supervisor.config, gw);
    log.info(summary.msg, {
      ...summary.fields,
      ...(plane.bootVersion ? { configVersion: plane.bootVersion.id } : {}),
      ...(o.socketPath ? { controlSocket: o.socketPath } : {}),
    });
  }
  let web: { stop(): Promise<void> } | undefined;
  if (listen?.ok && startWebUi) {
    try {
      web = startWebUi(plane, { listen: listen.value, logger: log });
    } catch (err) {
      log.error(`web UI: not starting: ${err instanceof Error ? err.message : String(err)}`, { event: 'start.failed' });
      await plane.stop();
      return Exit.FAILED;
    }
  }
  await plane.stopped;
  await web?.stop();
  return Exit.OK;
}
