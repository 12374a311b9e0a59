// Where CLI subcommands write, injectable so tests can capture it; exit codes shared by every subcommand.

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CliIo = {
  out: (t) => void process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => void process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

/** 0 success, 1 the command ran and failed (bad config, failed self-test), 2 the command line itself is wrong. */
export const Exit = { OK: 0, FAILED: 1, USAGE: 2 } as const;
