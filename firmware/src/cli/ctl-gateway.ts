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
  io: CliIo;
}

export async function runControlledGateway(o: ControlledGatewayOptions): Promise<number> {
  let logger: Logger | undefined;
  let plane: ControlPlane;
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
  await plane.stopped;
  return Exit.OK;
}
