#!/usr/bin/env bun
// Test driver for redirect.test.ts: the Outpost gateway (the runtime `outpost gateway` runs) plus engine commands
// read as JSON lines on stdin, for what the control API does not offer yet (RFC 5685 §5 REDIRECT of one SA).
//
//   bun test/interop/redirect-gateway.ts CONFIG.yaml     stdin: {"type":"redirect-all","to":"203.0.113.1"}
//
// Logs like `outpost gateway --log-format json` (one JSON object per line on stderr, `event: ready` when serving).
import { createInterface } from 'node:readline';
import { loadConfigFile } from '../../firmware/src/config/index.ts';
import type { Command } from '../../firmware/src/ike/io.ts';
import { startGateway } from '../../firmware/src/runtime/gateway.ts';
import { createLogger } from '../../firmware/src/runtime/logger.ts';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: redirect-gateway.ts CONFIG.yaml\n');
  process.exit(2);
}
const loaded = await loadConfigFile(file);
if (!loaded.ok) {
  process.stderr.write(`${loaded.errors.join('\n')}\n`);
  process.exit(1);
}
const config = loaded.config;
const logger = createLogger({ level: config.log.level, format: 'json', write: (line) => process.stderr.write(`${line}\n`) });
const gw = await startGateway(config, { logger, signals: true });
logger.info('redirect test gateway ready', { event: 'ready', dataplane: gw.dataplane.features().backend });

type DriverCommand = Command | { type: 'redirect-all'; to: string };

createInterface({ input: process.stdin }).on('line', (line) => {
  let c: DriverCommand;
  try {
    c = JSON.parse(line) as DriverCommand;
  } catch {
    logger.error('not a JSON command', { line });
    return;
  }
  if (c.type === 'redirect-all') {
    const sas = gw.engine.listSas().filter((s) => s.state === 'established');
    for (const sa of sas) gw.command({ type: 'redirect', ikeId: sa.ikeId, to: c.to });
    logger.info(`redirect-all: ${sas.length} IKE_SA(s) to ${c.to}`, { event: 'command.done', count: sas.length });
    return;
  }
  gw.command(c);
  logger.info(`command ${c.type} done`, { event: 'command.done' });
});

await gw.stopped;
process.exit(0);
