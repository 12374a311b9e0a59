// Typed readers over the parsed YAML that collect every problem as `file:line: path: message` (docs/config.md).
import { formatPath, type PathSeg, type YamlLocator } from './yaml-locator.ts';

export type Path = readonly PathSeg[];

export function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] as number;
}

/** The closest candidate for a misspelt key or value (camelCase → snake_case first), or undefined. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const snake = word.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/-/g, '_').toLowerCase();
  if (snake !== word && candidates.includes(snake)) return snake;
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = levenshtein(snake, c);
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best !== undefined && bestDist <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (isPlainObject(v)) return 'a mapping';
  if (typeof v === 'string') return `"${v}"`;
  return String(v);
}

interface Issue {
  line: number; // 0 = the file as a whole
  text: string;
}

/** In file order, so a user can fix them top to bottom; file-level messages first. */
function byLine(issues: Issue[]): string[] {
  return issues
    .map((x, i) => ({ ...x, i }))
    .sort((a, b) => a.line - b.line || a.i - b.i)
    .map((x) => x.text);
}

export class Checker {
  private readonly errorList: Issue[] = [];
  private readonly warningList: Issue[] = [];

  constructor(
    private readonly fileName: string,
    readonly locator: YamlLocator,
  ) {}

  private format(path: Path, message: string): Issue {
    const line = this.locator.nearestLine(path);
    const where = line === undefined ? this.fileName : `${this.fileName}:${line}`;
    return { line: line ?? 0, text: path.length === 0 ? `${where}: ${message}` : `${where}: ${formatPath(path)}: ${message}` };
  }

  get errors(): readonly Issue[] {
    return this.errorList;
  }

  error(path: Path, message: string): void {
    this.errorList.push(this.format(path, message));
  }

  errorAtLine(line: number, message: string): void {
    this.errorList.push({ line, text: `${this.fileName}:${line}: ${message}` });
  }

  warn(path: Path, message: string): void {
    this.warningList.push(this.format(path, message));
  }

  sortedErrors(): string[] {
    return byLine(this.errorList);
  }

  sortedWarnings(): string[] {
    return byLine(this.warningList);
  }

  /** A mapping with only `allowed` keys; unknown keys are errors with a suggestion. */
  object(path: Path, v: unknown, allowed: readonly string[], required: readonly string[] = []): Record<string, unknown> | undefined {
    if (!isPlainObject(v)) {
      this.error(path, `must be a mapping (got ${describe(v)})`);
      return undefined;
    }
    for (const key of Object.keys(v)) {
      if (allowed.includes(key)) continue;
      const hint = suggest(key, allowed);
      this.error([...path, key], `unknown key${hint ? `; did you mean "${hint}"?` : ` (known keys: ${allowed.join(', ')})`}`);
    }
    for (const key of required) {
      if (v[key] === undefined || v[key] === null) this.error(path, `missing required key "${key}"`);
    }
    return v;
  }

  list(path: Path, v: unknown): unknown[] | undefined {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) {
      this.error(path, `must be a list (got ${describe(v)})`);
      return undefined;
    }
    return v;
  }

  string(path: Path, v: unknown): string | undefined {
    if (typeof v === 'string' && v.length > 0) return v;
    // YAML reads `500` or `true` as non-strings; a config value like `name: 500` is still meant as text.
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    this.error(path, `must be a non-empty string (got ${describe(v)})`);
    return undefined;
  }

  stringList(path: Path, v: unknown): string[] | undefined {
    const l = this.list(path, v);
    if (!l) return undefined;
    const out: string[] = [];
    l.forEach((item, i) => {
      const s = this.string([...path, i], item);
      if (s !== undefined) out.push(s);
    });
    return out;
  }

  oneOf<T extends string>(path: Path, v: unknown, choices: readonly T[]): T | undefined {
    if (typeof v === 'string' && (choices as readonly string[]).includes(v)) return v as T;
    const hint = typeof v === 'string' ? suggest(v, choices) : undefined;
    this.error(path, `must be one of ${choices.join(', ')} (got ${describe(v)})${hint ? `; did you mean "${hint}"?` : ''}`);
    return undefined;
  }

  integer(path: Path, v: unknown, min: number, max: number): number | undefined {
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    this.error(path, `must be an integer in ${min}..${max} (got ${describe(v)})`);
    return undefined;
  }

  number(path: Path, v: unknown, min: number, max: number): number | undefined {
    if (typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max) return v;
    this.error(path, `must be a number in ${min}..${max} (got ${describe(v)})`);
    return undefined;
  }

  boolean(path: Path, v: unknown): boolean | undefined {
    if (typeof v === 'boolean') return v;
    this.error(path, `must be true or false (got ${describe(v)})`);
    return undefined;
  }

  /** Seconds: a number, or a string of number+unit groups (`90s`, `8h`, `1h30m`, `1d`, `500ms`). */
  duration(path: Path, v: unknown, minSec: number, maxSec: number): number | undefined {
    let sec: number | undefined;
    if (typeof v === 'number' && Number.isFinite(v)) sec = v;
    else if (typeof v === 'string' && /^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(v.trim())) {
      const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
      sec = 0;
      for (const m of v.trim().matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) sec += Number(m[1]) * (unit[m[2] as string] as number);
    }
    if (sec === undefined) {
      this.error(path, `must be a duration like 30s, 8h, 1h30m or a number of seconds (got ${describe(v)})`);
      return undefined;
    }
    if (sec < minSec || sec > maxSec) {
      this.error(path, `must be between ${minSec}s and ${maxSec}s (got ${describe(v)})`);
      return undefined;
    }
    return sec;
  }

  /** Names in a list of named items must be unique; returns the index of the first duplicate or -1. */
  uniqueNames(path: Path, items: { name?: string }[], what: string): void {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      if (item.name === undefined) return;
      const first = seen.get(item.name);
      if (first !== undefined) this.error([...path, i, 'name'], `duplicate ${what} name "${item.name}" (first at ${formatPath([...path, first])})`);
      else seen.set(item.name, i);
    });
  }
}
