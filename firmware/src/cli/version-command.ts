// `outpost version`: the firmware version and the runtime it runs on.
import pkg from '../../../package.json' with { type: 'json' };
import { parseArgs } from './args.ts';
import type { Subcommand } from './command.ts';
import { Exit } from './io.ts';

export const OUTPOST_VERSION: string = pkg.version;

export const versionCommand: Subcommand = {
  name: 'version',
  summary: 'Print the version',
  usage: `Usage: outpost version

Prints "outpost <version> (bun <version>)".

Options:
  -h, --help   Show this help
`,
  async run(argv, io) {
    const args = parseArgs(argv, { help: { value: false, short: 'h' } });
    if (!args.ok || args.positionals.length > 0) {
      io.err(`outpost version: ${args.ok ? `unexpected argument "${args.positionals[0]}"` : args.error}\n\n${this.usage}`);
      return Exit.USAGE;
    }
    if (args.flags.help) {
      io.out(this.usage);
      return Exit.OK;
    }
    io.out(`outpost ${OUTPOST_VERSION} (bun ${typeof Bun !== 'undefined' ? Bun.version : 'n/a'})`);
    return Exit.OK;
  },
};
