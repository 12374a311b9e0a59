// The shape every outpost subcommand module exports.
import type { CliIo } from './io.ts';

export interface Subcommand {
  name: string;
  /** One line for `outpost --help`. */
  summary: string;
  /** The full `outpost <name> --help` text. */
  usage: string;
  run(argv: readonly string[], io: CliIo): Promise<number>;
}
