// Maps a key path in a YAML config to its source line (YAML 1.2 block and flow style subset, §6–§8), for error messages.
//
// Bun.YAML.parse gives values but no positions, so this is a second, structural-only pass over the text. It
// understands what config files use: block mappings and sequences (incl. `- key: v` and a sequence at the same
// indentation as its key), flow collections (possibly across lines), quoted and plain scalars, comments, block
// scalars (skipped). It never throws; anything it cannot follow simply has no recorded line, and callers fall
// back to the nearest ancestor that has one.

export type PathSeg = string | number;

/** `connections[0].ike_proposals[1]`: the form used in error messages and as the lookup key. */
export function formatPath(path: readonly PathSeg[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

export interface YamlLocator {
  /** 1-based line of the key (mapping entry) or item (sequence entry) at `path`, if recorded. */
  line(path: readonly PathSeg[]): number | undefined;
  /** The line of `path` or of its nearest recorded ancestor; undefined only for the empty document. */
  nearestLine(path: readonly PathSeg[]): number | undefined;
  /** The scalar's source text (quotes kept, comment stripped), e.g. to recover `0x…` that YAML read as a number. */
  raw(path: readonly PathSeg[]): string | undefined;
  /** Keys that occur twice in one mapping (YAML forbids it; Bun keeps the last one silently). */
  duplicates: { path: string; line: number; firstLine: number }[];
}

interface Logical {
  no: number; // 1-based physical line
  indent: number; // column where `text` starts
  text: string; // comment-stripped, right-trimmed
}

interface Entry {
  line: number;
  raw?: string;
}

/** Strips a trailing comment (`#` preceded by whitespace, outside quotes). */
function stripComment(s: string): string {
  let quote: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (quote === "'" && c === "'" && s[i + 1] === "'") i++;
      else if (quote === '"' && c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      // A quote only opens a quoted scalar at the start of a token.
      if (i === 0 || /[\s[{,:-]/.test(s[i - 1] ?? '')) quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(s[i - 1] ?? ''))) {
      return s.slice(0, i).trimEnd();
    }
  }
  return s.trimEnd();
}

/** Splits physical lines into logical ones: `- - key: v` at column 2 becomes `-`@2, `-`@4, `key: v`@6. */
function toLogical(lines: string[]): Logical[] {
  const out: Logical[] = [];
  lines.forEach((physical, i) => {
    const text = stripComment(physical.replace(/\t/g, ' '));
    let col = text.length - text.trimStart().length;
    let rest = text.trimStart();
    if (rest === '' || rest === '---' || rest === '...' || rest.startsWith('%')) return;
    while (rest === '-' || rest.startsWith('- ')) {
      out.push({ no: i + 1, indent: col, text: '-' });
      const after = rest.slice(1);
      const trimmed = after.trimStart();
      col += 1 + (after.length - trimmed.length);
      rest = trimmed;
      if (rest === '') return;
    }
    out.push({ no: i + 1, indent: col, text: rest });
  });
  return out;
}

const KEY_RE = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s"'#[\]{},&*!|>%@`-][^#]*?|-[^\s#][^#]*?)\s*:(?:\s+|$)/;

function unquoteKey(k: string): string {
  if (k.startsWith('"')) {
    try {
      return JSON.parse(k) as string;
    } catch {
      return k.slice(1, -1);
    }
  }
  if (k.startsWith("'")) return k.slice(1, -1).replace(/''/g, "'");
  return k;
}

/** Drops a leading anchor (`&a`) or tag (`!!str`) before a value. */
function stripProps(s: string): string {
  let r = s;
  for (;;) {
    const m = /^([&!][^\s]*)\s*/.exec(r);
    if (!m) return r;
    r = r.slice(m[0].length);
  }
}

export function createYamlLocator(text: string): YamlLocator {
  const physical = text.split(/\r?\n/);
  const logical = toLogical(physical);
  const entries = new Map<string, Entry>();
  const duplicates: YamlLocator['duplicates'] = [];
  let pos = 0;

  const record = (path: PathSeg[], line: number, raw?: string): void => {
    const key = formatPath(path);
    if (!entries.has(key)) entries.set(key, { line, raw });
  };

  const peek = (): Logical | undefined => logical[pos];

  /** Skips the continuation lines of a scalar or block scalar (everything indented deeper than `indent`). */
  const skipDeeper = (indent: number): void => {
    while (pos < logical.length && (logical[pos] as Logical).indent > indent) pos++;
  };

  /** A flow collection starting at `startLine`/`startText`; consumes further physical lines until balanced. */
  const parseFlowFrom = (path: PathSeg[], startLine: number, startText: string): void => {
    // Collect characters with their line numbers, joining physical lines as needed.
    const chars: string[] = [];
    const lineOf: number[] = [];
    const push = (s: string, no: number): void => {
      for (const c of s) {
        chars.push(c);
        lineOf.push(no);
      }
    };
    let depth = 0;
    let quote: string | null = null;
    const scan = (s: string): void => {
      for (let i = 0; i < s.length; i++) {
        const c = s[i];
        if (quote) {
          if (quote === '"' && c === '\\') i++;
          else if (c === quote) quote = null;
        } else if (c === '"' || c === "'") quote = c;
        else if (c === '[' || c === '{') depth++;
        else if (c === ']' || c === '}') depth--;
      }
    };
    push(startText, startLine);
    scan(startText);
    let lastLine = startLine;
    while (depth > 0 && lastLine < physical.length) {
      const next = stripComment(physical[lastLine] ?? '');
      lastLine++;
      push('\n' + next, lastLine);
      scan(next);
    }
    // Consume the logical lines the flow collection spanned.
    while (pos < logical.length && (logical[pos] as Logical).no <= lastLine) pos++;

    let i = 0;
    const ws = (): void => {
      while (i < chars.length && /\s/.test(chars[i] as string)) i++;
    };
    const scalar = (): string => {
      const start = i;
      const c = chars[i];
      if (c === '"' || c === "'") {
        i++;
        while (i < chars.length && chars[i] !== c) {
          if (c === '"' && chars[i] === '\\') i++;
          i++;
        }
        i++;
      } else {
        while (i < chars.length) {
          const d = chars[i] as string;
          if (d === ',' || d === ']' || d === '}') break;
          if (d === ':' && /[\s,\]}]/.test(chars[i + 1] ?? ' ')) break;
          i++;
        }
      }
      return chars.slice(start, i).join('').trim();
    };
    const node = (p: PathSeg[], line: number): void => {
      ws();
      const c = chars[i];
      if (c === '[') {
        i++;
        let idx = 0;
        for (;;) {
          ws();
          if (i >= chars.length) return;
          if (chars[i] === ']') {
            i++;
            return;
          }
          const itemLine = lineOf[i] ?? line;
          const itemPath = [...p, idx];
          const before = i;
          if (chars[i] === '[' || chars[i] === '{') {
            record(itemPath, itemLine);
            node(itemPath, itemLine);
          } else {
            const s = scalar();
            record(itemPath, itemLine, s);
          }
          idx++;
          ws();
          if (chars[i] === ',') i++;
          else if (chars[i] !== ']' && i === before) i++; // never loop on garbage
        }
      } else if (c === '{') {
        i++;
        for (;;) {
          ws();
          if (i >= chars.length) return;
          if (chars[i] === '}') {
            i++;
            return;
          }
          const keyLine = lineOf[i] ?? line;
          const before = i;
          const k = unquoteKey(scalar());
          ws();
          const kp = [...p, k];
          if (entries.has(formatPath(kp))) {
            duplicates.push({ path: formatPath(kp), line: keyLine, firstLine: (entries.get(formatPath(kp)) as Entry).line });
          }
          if (chars[i] === ':') {
            i++;
            ws();
            if (chars[i] === '[' || chars[i] === '{') {
              record(kp, keyLine);
              node(kp, keyLine);
            } else {
              record(kp, keyLine, scalar());
            }
          } else {
            record(kp, keyLine);
          }
          ws();
          if (chars[i] === ',') i++;
          else if (chars[i] !== '}' && i === before) i++;
        }
      } else {
        record(p, line, scalar());
      }
    };
    node(path, startLine);
  };

  /** The value that follows a key or a `-` on the line `parentIndent` owns; `compactSeq`: `key:` then `- x` at the key's column. */
  const parseValue = (path: PathSeg[], parentIndent: number, compactSeq: boolean): void => {
    const next = peek();
    if (!next) return;
    if (next.indent > parentIndent || (compactSeq && next.indent === parentIndent && next.text === '-')) {
      parseNode(path);
    }
  };

  /** A block node whose first logical line is the next one. */
  const parseNode = (path: PathSeg[]): void => {
    const first = peek();
    if (!first) return;
    const indent = first.indent;
    const text = stripProps(first.text);
    if (first.text === '-') {
      let idx = 0;
      while (pos < logical.length) {
        const l = logical[pos] as Logical;
        if (l.indent !== indent || l.text !== '-') break;
        const itemPath = [...path, idx++];
        record(itemPath, l.no);
        pos++;
        const value = peek();
        if (value && value.indent > indent && value.no === l.no && !KEY_RE.test(value.text) && value.text !== '-') {
          // `- scalar` or `- [flow]` on the dash's own line.
          const v = stripProps(value.text);
          if (v.startsWith('[') || v.startsWith('{')) {
            parseFlowFrom(itemPath, value.no, v);
          } else {
            entries.set(formatPath(itemPath), { line: l.no, raw: v });
            pos++;
            skipDeeper(indent);
          }
        } else {
          parseValue(itemPath, indent, false);
        }
      }
      return;
    }
    if (KEY_RE.test(first.text)) {
      while (pos < logical.length) {
        const l = logical[pos] as Logical;
        if (l.indent !== indent) break;
        const m = KEY_RE.exec(l.text);
        if (!m) break;
        const key = unquoteKey((m[1] as string).trim());
        const kp = [...path, key];
        const existing = entries.get(formatPath(kp));
        if (existing) duplicates.push({ path: formatPath(kp), line: l.no, firstLine: existing.line });
        pos++;
        const rest = stripProps(l.text.slice(m[0].length).trim());
        if (rest === '') {
          record(kp, l.no);
          parseValue(kp, indent, true);
        } else if (rest.startsWith('[') || rest.startsWith('{')) {
          record(kp, l.no);
          parseFlowFrom(kp, l.no, rest);
        } else {
          record(kp, l.no, rest.startsWith('|') || rest.startsWith('>') ? undefined : rest);
          skipDeeper(indent);
        }
      }
      return;
    }
    if (text.startsWith('[') || text.startsWith('{')) {
      parseFlowFrom(path, first.no, text);
      return;
    }
    record(path, first.no, text);
    pos++;
    skipDeeper(indent);
  };

  // Top level: a document may continue with nodes the structure above does not understand; skip a line and go on.
  while (pos < logical.length) {
    const before = pos;
    parseNode([]);
    if (pos === before) pos++;
  }

  const line = (path: readonly PathSeg[]): number | undefined => entries.get(formatPath(path))?.line;
  return {
    line,
    nearestLine(path) {
      for (let n = path.length; n > 0; n--) {
        const l = line(path.slice(0, n));
        if (l !== undefined) return l;
      }
      return logical[0]?.no;
    },
    raw: (path) => entries.get(formatPath(path))?.raw,
    // A repeated mapping repeats its keys too; report only the outermost duplicate.
    duplicates: duplicates.filter((d) => !duplicates.some((o) => o !== d && (d.path.startsWith(`${o.path}.`) || d.path.startsWith(`${o.path}[`)))),
  };
}

/**
 * Best-effort line of a YAML syntax error (Bun's parser reports none): the first line at which the text up to
 * and including it stops parsing, among lines after which the prefix parsed before.
 */
export function findSyntaxErrorLine(text: string, parse: (s: string) => unknown): number | undefined {
  const lines = text.split(/\r?\n/);
  let lastGood = 0;
  for (let n = 1; n <= lines.length; n++) {
    try {
      parse(lines.slice(0, n).join('\n'));
      lastGood = n;
    } catch {
      // An unfinished flow collection or quoted scalar fails until it closes; only a failure that never
      // recovers points at the error.
    }
  }
  return lastGood < lines.length ? lastGood + 1 : undefined;
}
