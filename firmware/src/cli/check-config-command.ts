// `outpost check-config FILE`: validates a gateway config without starting anything (docs/config.md).
import { loadConfigFile } from '../config/load-config.ts';
import { backendProblem } from '../dataplane/select.ts';
import { parseArgs } from './args.ts';
import type { Subcommand } from './command.ts';
import { Exit } from './io.ts';

export const checkConfigCommand: Subcommand = {
  name: 'check-config',
  summary: 'Validate a config file and print its errors and warnings',
  usage: `Usage: outpost check-config FILE

Loads FILE exactly as "outpost gateway --config FILE" would (certificates, keys and PSK files included) and
prints "FILE: OK" with any warnings, or every error as FILE:LINE: field.path: message.
Exit status 0 when the config is usable, 1 when it has errors.

Options:
  -h, --help   Show this help
`,
  async run(argv, io) {
    const args = parseArgs(argv, { help: { value: false, short: 'h' } });
    if (!args.ok) {
      io.err(`outpost check-config: ${args.error}\n\n${this.usage}`);
      return Exit.USAGE;
    }
    if (args.flags.help) {
      io.out(this.usage);
      return Exit.OK;
    }
    if (args.positionals.length !== 1) {
      io.err(`outpost check-config: ${args.positionals.length === 0 ? 'missing FILE' : 'expected exactly one FILE'}\n\n${this.usage}`);
      return Exit.USAGE;
    }
    const file = args.positionals[0] as string;
    const r = await loadConfigFile(file);
    if (!r.ok) {
      for (const e of r.errors) io.err(`error: ${e}`);
      io.err(`${file}: ${r.errors.length} error${r.errors.length === 1 ? '' : 's'}`);
      return Exit.FAILED;
    }
    const warnings = [...r.warnings];
    const dp = backendProblem(r.config.dataplane);
    if (dp) warnings.push(`${file}: dataplane.backend: ${dp}; the gateway will refuse to start`);
    const c = r.config;
    const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
    io.out(`${file}: OK (${count(c.connections.length, 'connection')}, ${count(c.pools.length, 'pool')}, ${count(c.cas.length, 'CA')})`);
    for (const w of warnings) io.out(`warning: ${w}`);
    return Exit.OK;
  },
};
