// A small flag parser for the outpost CLI: `--name value`, `--name=value`, boolean flags, `-h`, positionals.

export interface FlagSpec {
  /** Takes a value (`--config FILE`) or is a switch (`--help`). */
  value: boolean;
  short?: string;
}

export type ParsedArgs =
  | { ok: true; flags: Record<string, string | true>; positionals: string[] }
  | { ok: false; error: string };

export function parseArgs(argv: readonly string[], spec: Record<string, FlagSpec>): ParsedArgs {
  const flags: Record<string, string | true> = {};
  const positionals: string[] = [];
  const byShort = new Map(Object.entries(spec).flatMap(([name, s]) => (s.short ? [[s.short, name] as const] : [])));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      inline = eq >= 0 ? a.slice(eq + 1) : undefined;
    } else if (a.startsWith('-') && a.length > 1) {
      name = byShort.get(a.slice(1));
      if (name === undefined) return { ok: false, error: `unknown option ${a}` };
    } else {
      positionals.push(a);
      continue;
    }
    const s = spec[name];
    if (!s) return { ok: false, error: `unknown option --${name}` };
    if (!s.value) {
      if (inline !== undefined) return { ok: false, error: `option --${name} takes no value` };
      flags[name] = true;
      continue;
    }
    const v = inline ?? argv[++i];
    if (v === undefined || (inline === undefined && v.startsWith('--'))) return { ok: false, error: `option --${name} needs a value` };
    flags[name] = v;
  }
  return { ok: true, flags, positionals };
}
