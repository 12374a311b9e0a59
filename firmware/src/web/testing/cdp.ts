// A minimal Chrome DevTools Protocol driver for tests (headless Debian chromium over a loopback WebSocket; no playwright).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function findChromium(): string | undefined {
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
}

interface Pending {
  resolve(v: Record<string, unknown>): void;
  reject(e: Error): void;
}

export class Browser {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private sessionId = '';
  stderr = '';

  private constructor(
    private readonly proc: ChildProcess,
    private readonly ws: WebSocket,
    private readonly profile: string,
  ) {
    ws.addEventListener('message', (ev) => {
      const msg = JSON.parse(String(ev.data)) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
      if (msg.id === undefined) return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result ?? {});
    });
  }

  /** Starts chromium with a fresh profile and opens one page. `extraFlags` e.g. --ignore-certificate-errors. */
  static async launch(executable: string, extraFlags: string[] = []): Promise<Browser> {
    const profile = mkdtempSync(join(tmpdir(), 'outpost-chromium-'));
    const proc = spawn(executable, [...CHROMIUM_FLAGS, ...extraFlags, `--user-data-dir=${profile}`, '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0', 'about:blank'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const portFile = join(profile, 'DevToolsActivePort');
    const end = Date.now() + 30_000;
    while (!existsSync(portFile) || readFileSync(portFile, 'utf8').split('\n').length < 2) {
      if (proc.exitCode !== null || Date.now() > end) {
        proc.kill('SIGKILL');
        throw new Error(`chromium did not start:\n${stderr}`);
      }
      await Bun.sleep(50);
    }
    const [port, path] = readFileSync(portFile, 'utf8').split('\n');
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve());
      ws.addEventListener('error', () => reject(new Error('could not connect to chromium')));
    });
    const b = new Browser(proc, ws, profile);
    b.stderr = stderr;
    const { targetId } = (await b.send('Target.createTarget', { url: 'about:blank' }, false)) as { targetId: string };
    const { sessionId } = (await b.send('Target.attachToTarget', { targetId, flatten: true }, false)) as { sessionId: string };
    b.sessionId = sessionId;
    await b.send('Page.enable');
    await b.send('Runtime.enable');
    return b;
  }

  send(method: string, params: Record<string, unknown> = {}, onPage = true): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params, ...(onPage ? { sessionId: this.sessionId } : {}) }));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`CDP ${method} timed out`));
      }, 20_000);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(t);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
    });
  }

  /** Evaluates an expression in the page (awaiting promises) and returns its JSON value. */
  async eval<T>(expression: string): Promise<T> {
    const r = (await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true })) as { result: { value?: T }; exceptionDetails?: { text: string } };
    if (r.exceptionDetails) throw new Error(`page error: ${r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  async waitFor(expression: string, what: string, ms = 15_000): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      try {
        if (await this.eval<boolean>(expression)) return;
      } catch {
        // navigation in progress: the context went away
      }
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; page: ${await this.eval<string>('location.href + "\\n" + document.body?.innerText').catch(() => '?')}`);
      await Bun.sleep(50);
    }
  }

  async goto(url: string): Promise<void> {
    await this.send('Page.navigate', { url });
    await this.waitFor(`document.readyState === 'complete' && location.href !== 'about:blank'`, `${url} to load`);
  }

  /** Fills the named inputs of the form containing them and submits it like a user would (button click). */
  async submitForm(fields: Record<string, string>, formSelector = 'main form'): Promise<void> {
    await this.eval(`(() => {
      const form = document.querySelector(${JSON.stringify(formSelector)});
      const values = ${JSON.stringify(fields)};
      for (const [k, v] of Object.entries(values)) form.querySelector('[name="' + k + '"]').value = v;
      window.__submitted = true;
      form.querySelector('button[type=submit]').click();
    })()`);
    await this.waitFor(`window.__submitted !== true && document.readyState === 'complete'`, 'the form submission to load a new page');
  }

  async screenshot(): Promise<Uint8Array> {
    const { data } = (await this.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true })) as { data: string };
    return new Uint8Array(Buffer.from(data, 'base64'));
  }

  async close(): Promise<void> {
    try {
      await this.send('Browser.close', {}, false);
    } catch {
      // already gone
    }
    this.ws.close();
    if (this.proc.exitCode === null) {
      await Promise.race([new Promise((r) => this.proc.once('exit', r)), Bun.sleep(3000)]);
      if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
    }
    rmSync(this.profile, { recursive: true, force: true });
  }
}
