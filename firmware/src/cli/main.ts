// The outpost command line: dispatches to one subcommand module per verb (docs/cli.md).
import { parseArgs } from './args.ts';
import { checkConfigCommand } from './check-config-command.ts';
import type { Subcommand } from './command.ts';
import { ctlCommand } from './ctl-command.ts';
import { gatewayCommand } from './gateway-command.ts';
import { Exit, processIo, type CliIo } from './io.ts';
import { selfTestCommand } from './self-test-command.ts';
import { versionCommand } from './version-command.ts';

export const SUBCOMMANDS: readonly Subcommand[] = [gatewayCommand, ctlCommand, checkConfigCommand, selfTestCommand, versionCommand];

export function mainUsage(): string {
  const width = Math.max(...SUBCOMMANDS.map((c) => c.name.length));
  return `Usage: outpost <command> [options]

Commands:
${SUBCOMMANDS.map((c) => `  ${c.name.padEnd(width)}   ${c.summary}`).join('\n')}

Options:
  -h, --help      Show this help
  -V, --version   Same as "outpost version"

Run "outpost <command> --help" for a command's options.
`;
}

export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.err(`outpost: missing command\n\n${mainUsage()}`);
    return Exit.USAGE;
  }
  if (first.startsWith('-')) {
    const args = parseArgs(argv, { help: { value: false, short: 'h' }, version: { value: false, short: 'V' } });
    if (args.ok && args.positionals.length === 0 && args.flags.help) {
      io.out(mainUsage());
      return Exit.OK;
    }
    if (args.ok && args.positionals.length === 0 && args.flags.version) return versionCommand.run([], io);
    io.err(`outpost: ${args.ok ? `unexpected argument "${args.positionals[0]}"` : args.error}\n\n${mainUsage()}`);
    return Exit.USAGE;
  }
  if (first === 'help') {
    const target = SUBCOMMANDS.find((c) => c.name === rest[0]);
    io.out(target ? target.usage : mainUsage());
    return Exit.OK;
  }
  const cmd = SUBCOMMANDS.find((c) => c.name === first);
  if (!cmd) {
    io.err(`outpost: unknown command "${first}"\n\n${mainUsage()}`);
    return Exit.USAGE;
  }
  return cmd.run(rest, io);
}
