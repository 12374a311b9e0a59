// `outpost self-test`: the crypto known-answer self-test the gateway runs at boot (ARCHITECTURE.md §6).
import { createCryptoSuite } from '../crypto/suite.ts';
import { runSelfTest } from '../crypto/self-test.ts';
import { parseArgs } from './args.ts';
import type { Subcommand } from './command.ts';
import { Exit } from './io.ts';

export const selfTestCommand: Subcommand = {
  name: 'self-test',
  summary: 'Run the crypto known-answer self-test',
  usage: `Usage: outpost self-test

Runs the known-answer and pairwise tests of every algorithm the gateway can negotiate, as the gateway does
before it starts. Exit status 0 when all pass, 1 when any fails (each failure is printed).

Options:
  -h, --help   Show this help
`,
  async run(argv, io) {
    const args = parseArgs(argv, { help: { value: false, short: 'h' } });
    if (!args.ok || args.positionals.length > 0) {
      io.err(`outpost self-test: ${args.ok ? `unexpected argument "${args.positionals[0]}"` : args.error}\n\n${this.usage}`);
      return Exit.USAGE;
    }
    if (args.flags.help) {
      io.out(this.usage);
      return Exit.OK;
    }
    const started = performance.now();
    const r = runSelfTest(createCryptoSuite());
    const ms = Math.round(performance.now() - started);
    if (r.ok) {
      io.out(`crypto self-test: OK (${ms} ms)`);
      return Exit.OK;
    }
    io.err(`crypto self-test: FAILED (${r.failures.length} failure${r.failures.length === 1 ? '' : 's'})`);
    for (const f of r.failures) io.err(`  ${f}`);
    return Exit.FAILED;
  },
};
