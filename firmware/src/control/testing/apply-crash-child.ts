// Test helper run as a child process: starts the control plane on a config file + store, applies a new config and SIGKILLs itself at one step.
import { startControlPlane } from '../attach.ts';
import { createMockDataplane } from '../../dataplane/mock.ts';
import { createLogger } from '../../runtime/logger.ts';
import { readFileSync } from 'node:fs';
import type { ApplyStep } from '../apply.ts';

const [configPath, dbPath, newConfigPath, crashAt, confirm] = process.argv.slice(2) as [string, string, string, ApplyStep | 'never', string | undefined];
const plane = await startControlPlane({
  configPath,
  dbPath,
  logger: createLogger({ level: 'warn', format: 'json' }),
  gatewayOptions: { stopGraceMs: 0 },
  startGateway: async (config, opts) => (await import('../../runtime/gateway.ts')).startGateway(config, { ...opts, dataplane: createMockDataplane() }),
  onApplyStep: (step) => {
    if (step === crashAt) process.kill(process.pid, 'SIGKILL');
  },
});
await plane.applier!.load({ yaml: readFileSync(newConfigPath, 'utf8'), author: 'crash-test', ...(confirm ? { confirmTimeoutMs: 60_000 } : {}) });
if (confirm === 'hold') process.kill(process.pid, 'SIGKILL');
await plane.stop();
