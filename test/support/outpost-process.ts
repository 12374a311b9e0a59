// Runs the real `outpost gateway` CLI in a test namespace and collects its JSON log events (for RFC 7296 interop).
//
// The repository root comes from this file's location, so the same code works in /work/main and in a fresh CI
// clone. Outpost is started with absolute paths (Bun binary, CLI, config) and stopped by its own PID.
import { createWriteStream, existsSync, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Role, Spawned, Topology } from './netns.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUN_BIN = join(REPO_ROOT, 'node_modules', '.bin', 'bun');
export const OUTPOST_CLI = join(REPO_ROOT, 'firmware', 'bin', 'outpost.ts');

/** One parsed JSON log line. `event` is the normalised name (`ike.up`, `auth.failed`, `ready`…). */
export interface OutpostLogLine {
  event: string;
  level?: string;
  msg?: string;
  raw: Record<string, unknown>;
  text: string;
}

// ---------------------------------------------------------------------------------------------------------
// YAML writer (block style only, which every YAML reader accepts, including small hand-written ones)

export type YamlValue = string | number | boolean | null | YamlValue[] | { [k: string]: YamlValue | undefined };

function yamlScalar(v: string | number | boolean | null): string {
  if (v === null) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v); // a JSON string is a valid YAML double-quoted scalar
}

/** Serialises plain data as block-style YAML (keys as given: use snake_case). */
export function toYaml(value: YamlValue, indent = ''): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return `${indent}[]\n`;
    let out = '';
    for (const item of value) {
      if (item !== null && typeof item === 'object') {
        const body = toYaml(item, `${indent}  `);
        out += `${indent}- ${body.slice(indent.length + 2)}`;
      } else {
        out += `${indent}- ${yamlScalar(item)}\n`;
      }
    }
    return out;
  }
  if (value !== null && typeof value === 'object') {
    let out = '';
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      if (Array.isArray(v)) {
        out += v.length === 0 ? `${indent}${k}: []\n` : `${indent}${k}:\n${toYaml(v, `${indent}  `)}`;
      } else if (v !== null && typeof v === 'object') {
        out += Object.keys(v).length === 0 ? `${indent}${k}: {}\n` : `${indent}${k}:\n${toYaml(v, `${indent}  `)}`;
      } else {
        out += `${indent}${k}: ${yamlScalar(v)}\n`;
      }
    }
    return out;
  }
  return `${indent}${yamlScalar(value)}\n`;
}

// ---------------------------------------------------------------------------------------------------------
// the process

export interface OutpostOptions {
  /** Name used for the instance directory and messages. */
  name?: string;
  /** Config as plain data (written as YAML) or the text of a YAML file. */
  config: YamlValue | string;
  /** Extra CLI arguments after `gateway --config FILE --log-format json`. */
  args?: string[];
  /** The log line that means "ready to serve" (default: the CLI's `event: ready` startup line). */
  readyMatch?: (l: OutpostLogLine) => boolean;
  readyTimeoutMs?: number;
  env?: Record<string, string>;
}

/** Whether the CLI exists yet (the interop suites fail, not skip, when it does not: it is the product). */
export function outpostCliExists(): boolean {
  return existsSync(OUTPOST_CLI);
}

const defaultReady = (l: OutpostLogLine) => l.event === 'ready';

export class OutpostProcess {
  readonly dir: string;
  readonly configPath: string;
  /** Everything Outpost wrote (stdout and stderr), kept for post-mortems with OUTPOST_TEST_KEEP=1. */
  readonly logPath: string;
  private logFile: WriteStream | undefined;
  readonly lines: OutpostLogLine[] = [];
  /** Non-JSON output (stack traces, Bun errors) to show when something fails. */
  readonly other: string[] = [];
  private proc: Spawned | undefined;
  private listeners = new Set<() => void>();

  private constructor(
    readonly topo: Topology,
    readonly role: Role | string,
    readonly opts: OutpostOptions,
  ) {
    this.dir = join(topo.dir, `outpost-${opts.name ?? 'gw'}`);
    this.configPath = join(this.dir, 'gateway.yaml');
    this.logPath = join(this.dir, 'outpost.log');
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts `outpost gateway` in namespace `role` and waits for its ready log line. */
  static async start(topo: Topology, role: Role | string, opts: OutpostOptions): Promise<OutpostProcess> {
    const o = new OutpostProcess(topo, role, opts);
    await o.launch();
    return o;
  }

  private async launch(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(this.configPath, typeof this.opts.config === 'string' ? this.opts.config : toYaml(this.opts.config));
    this.logFile = createWriteStream(this.logPath);
    this.proc = this.topo.spawn(
      this.role,
      [BUN_BIN, OUTPOST_CLI, 'gateway', '--config', this.configPath, '--log-format', 'json', ...(this.opts.args ?? [])],
      { cwd: REPO_ROOT, env: { NO_COLOR: '1', ...this.opts.env } },
    );
    for (const stream of [this.proc.child.stdout, this.proc.child.stderr]) {
      let buf = '';
      stream?.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          this.onLine(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      });
      stream?.on('end', () => {
        if (buf) this.onLine(buf);
        buf = '';
      });
    }
    try {
      await this.waitFor(this.opts.readyMatch ?? defaultReady, this.opts.readyTimeoutMs ?? 15_000, 'ready');
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  private onLine(text: string): void {
    const t = text.trim();
    if (!t) return;
    this.logFile?.write(`${t}\n`);
    if (t.startsWith('{')) {
      try {
        const raw = JSON.parse(t) as Record<string, unknown>;
        const event = String(raw.event ?? raw.type ?? raw.evt ?? raw.msg ?? raw.message ?? '');
        const msg = typeof raw.msg === 'string' ? raw.msg : typeof raw.message === 'string' ? raw.message : undefined;
        const level = typeof raw.level === 'string' ? raw.level : undefined;
        this.lines.push({ event, msg, level, raw, text: t });
      } catch {
        this.other.push(t);
      }
    } else {
      this.other.push(t);
    }
    for (const l of this.listeners) l();
  }

  /** Log lines matching an event name (exact) or predicate. */
  events(match: string | ((l: OutpostLogLine) => boolean)): OutpostLogLine[] {
    const f = typeof match === 'string' ? (l: OutpostLogLine) => l.event === match : match;
    return this.lines.filter(f);
  }

  /** Index into `lines`: pass to `since` to look only at what one step logged. */
  mark(): number {
    return this.lines.length;
  }

  since(mark: number): OutpostLogLine[] {
    return this.lines.slice(mark);
  }

  /** Resolves with the first line (at or after `fromMark`) that matches; rejects on timeout or exit. */
  async waitFor(match: string | ((l: OutpostLogLine) => boolean), timeoutMs = 10_000, what?: string, fromMark = 0): Promise<OutpostLogLine> {
    const f = typeof match === 'string' ? (l: OutpostLogLine) => l.event === match : match;
    const found = () => this.lines.slice(fromMark).find(f);
    const hit = found();
    if (hit) return hit;
    return await new Promise<OutpostLogLine>((resolvePromise, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      const check = () => {
        const l = found();
        if (l) {
          done();
          resolvePromise(l);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`outpost: timed out after ${timeoutMs} ms waiting for ${what ?? String(match)}\n${this.tail()}`));
      }, timeoutMs);
      this.listeners.add(check);
      void this.proc?.exited.then(({ code, signal }) => {
        if (found()) return;
        done();
        reject(new Error(`outpost exited (code ${code}, signal ${signal}) while waiting for ${what ?? String(match)}\n${this.tail()}`));
      });
    });
  }

  /** Last log lines, JSON and other, for failure messages. */
  tail(n = 40): string {
    const json = this.lines.slice(-n).map((l) => l.text);
    const other = this.other.slice(-20);
    return `--- outpost ${this.opts.name ?? 'gw'} log (last ${json.length} JSON lines) ---\n${json.join('\n')}${
      other.length ? `\n--- other output ---\n${other.join('\n')}` : ''
    }`;
  }

  isRunning(): boolean {
    return this.proc?.isRunning() ?? false;
  }

  async stop(): Promise<void> {
    await this.proc?.stop(3000);
    await new Promise<void>((r) => (this.logFile ? this.logFile.end(() => r()) : r()));
  }
}
