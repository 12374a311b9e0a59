// Tests for the outpost CLI as a user runs it: a real `bun firmware/bin/outpost.ts` process per case.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArgs } from './args.ts';

const ROOT = resolve(__dirname, '..', '..', '..');
const BUN = join(ROOT, 'node_modules', '.bin', 'bun');
const CLI = join(ROOT, 'firmware', 'bin', 'outpost.ts');
const dir = mkdtempSync(join(tmpdir(), 'outpost-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(BUN, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 20_000, env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const PSK_CONFIG = (port: number, extra = '') => `listen: [{ address: 127.0.0.1, port: ${port}, natt_port: ${port + 1} }]
log: { level: info, format: text }
${extra}connections:
  - name: rw
    local: { id: gw.example, auth: psk }
    remote: { auth: psk }
    psk: "a shared secret of decent length"
    children: [{ name: net, local_ts: [198.51.100.0/24] }]
`;

describe('outpost (no subcommand)', () => {
  it('--help lists the subcommands and exits 0', () => {
    for (const flag of ['--help', '-h']) {
      const r = run(flag);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^Usage: outpost <command> \[options\]/);
      for (const c of ['gateway', 'check-config', 'self-test', 'version']) expect(r.out).toMatch(new RegExp(`^  ${c} +\\S`, 'm'));
    }
  });

  it('no command, an unknown command or an unknown flag: error + usage on stderr, exit 2', () => {
    const none = run();
    expect([none.code, none.out]).toEqual([2, '']);
    expect(none.err).toMatch(/^outpost: missing command\n\nUsage: outpost/);
    const unknown = run('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/^outpost: unknown command "frobnicate"\n\nUsage:/);
    const flag = run('--frob');
    expect(flag.code).toBe(2);
    expect(flag.err).toMatch(/^outpost: unknown option --frob\n\nUsage:/);
  });

  it('version and -V', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const args of [['version'], ['-V']]) {
      const r = run(...args);
      expect(r.code).toBe(0);
      expect(r.out.trim()).toMatch(new RegExp(`^outpost ${pkg.version.replace(/\./g, '\\.')} \\(bun \\d+\\.\\d+\\.\\d+\\)$`));
    }
  });
});

describe('every subcommand', () => {
  it.each(['gateway', 'check-config', 'self-test', 'version'])('%s --help prints its usage and exits 0', (cmd) => {
    const r = run(cmd, '--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^Usage: outpost ${cmd}`));
    expect(r.out).toMatch(/-h, --help/);
    expect(run('help', cmd).out).toBe(r.out);
  });

  it.each(['gateway', 'check-config', 'self-test', 'version'])('%s with an unknown flag: error + usage, exit 2', (cmd) => {
    const r = run(cmd, '--bogus');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`^outpost ${cmd}: unknown option --bogus\\n\\nUsage: outpost ${cmd}`));
  });
});

describe('outpost self-test', () => {
  it('passes on this machine', () => {
    const r = run('self-test');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^crypto self-test: OK \(\d+ ms\)$/m);
  });
});

describe('outpost check-config', () => {
  it('prints OK and the warnings of a usable file', () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, PSK_CONFIG(15300).replace('a shared secret of decent length', 'short-psk'));
    const r = run('check-config', file);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}: OK \\(1 connection, 0 pools, 0 CAs\\)$`, 'm'));
    expect(r.out).toMatch(/^warning: ok\.yaml:7: connections\[0\]\.psk: PSK is only 9 octets/m);
  });

  it('warns that a data-plane backend this machine cannot run will stop the gateway', () => {
    const file = join(dir, 'xfrm.yaml');
    writeFileSync(file, PSK_CONFIG(15300, 'dataplane: { backend: xfrm }\n'));
    const r = run('check-config', file);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^warning: .*dataplane\.backend: data plane backend "xfrm" cannot start: kernel has no ESP.*refuse to start$/m);
  });

  it('prints every error with file, line and field, exit 1', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, `${PSK_CONFIG(15300)}    ike_proposals: [aes256gcm16-prfsha256-x25519, aes256gcm7]\n    mobike: perhaps\n`);
    const r = run('check-config', file);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    const lines = r.err.trim().split('\n');
    expect(lines[0]).toMatch(/^error: bad\.yaml:9: connections\[0\]\.ike_proposals\[1\]: .*aes256gcm7/);
    expect(lines[1]).toBe('error: bad.yaml:10: connections[0].mobike: must be true or false (got "perhaps")');
    expect(lines[2]).toBe(`${file}: 2 errors`);
  });

  it('a missing file is an error (1), a missing argument a usage error (2)', () => {
    const missing = run('check-config', join(dir, 'nope.yaml'));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nope\.yaml: cannot read config: no such file/);
    const noArg = run('check-config');
    expect(noArg.code).toBe(2);
    expect(noArg.err).toMatch(/^outpost check-config: missing FILE\n\nUsage: outpost check-config FILE/);
  });
});

describe('outpost gateway', () => {
  it('usage errors exit 2', () => {
    expect(run('gateway').err).toMatch(/^outpost gateway: --config FILE is required\n\nUsage: outpost gateway/);
    expect(run('gateway').code).toBe(2);
    const file = join(dir, 'gw.yaml');
    writeFileSync(file, PSK_CONFIG(15300));
    const lvl = run('gateway', '--config', file, '--log-level', 'loud');
    expect([lvl.code, lvl.err.split('\n')[0]]).toEqual([2, 'outpost gateway: --log-level must be one of debug, info, warn, error']);
    const fmt = run('gateway', '--config', file, '--log-format=xml');
    expect([fmt.code, fmt.err.split('\n')[0]]).toEqual([2, 'outpost gateway: --log-format must be one of text, json']);
    const noValue = run('gateway', '--config');
    expect([noValue.code, noValue.err.split('\n')[0]]).toEqual([2, 'outpost gateway: option --config needs a value']);
  });

  it('an invalid config or an unavailable backend: errors, not starting, exit 1', () => {
    const bad = join(dir, 'gw-bad.yaml');
    writeFileSync(bad, 'log: { level: loud }\n');
    const r = run('gateway', '-c', bad);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: gw-bad\.yaml:1: log\.level: must be one of/m);
    expect(r.err).toMatch(/has 1 error, not starting/);
    const xfrm = join(dir, 'gw-xfrm.yaml');
    writeFileSync(xfrm, PSK_CONFIG(15310, 'dataplane: { backend: xfrm }\n'));
    const x = run('gateway', '--config', xfrm, '--log-format', 'json');
    expect(x.code).toBe(1);
    const last = JSON.parse(x.err.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(last).toMatchObject({ level: 'error', event: 'start.failed' });
    expect(String(last.msg)).toMatch(/not starting: data plane backend "xfrm" cannot start: kernel has no ESP/);
  });

  it('starts, logs a one-line JSON summary, writes the status file, and exits 0 on SIGTERM', async () => {
    const file = join(dir, 'gw-run.yaml');
    const status = join(dir, 'status.json');
    writeFileSync(file, PSK_CONFIG(15320, 'dataplane: { backend: mock }\n'));
    const child = spawn(BUN, [CLI, 'gateway', '--config', file, '--log-format', 'json', '--log-level', 'debug', '--status-file', status], { cwd: ROOT });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 15_000;
      while (!/"event":"ready"/.test(stderr)) {
        if (Date.now() > deadline) throw new Error(`no ready line:\n${stderr}`);
        await Bun.sleep(20);
      }
      const lines = stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const ready = lines.find((l) => l.event === 'ready')!;
      expect(ready).toMatchObject({
        level: 'info',
        listen: [
          { address: '127.0.0.1', port: 15320, natt: false },
          { address: '127.0.0.1', port: 15321, natt: true },
        ],
        connections: ['rw'],
        dataplane: 'mock',
      });
      expect(ready.msg).toMatch(/^outpost \S+ ready: listening on 127\.0\.0\.1 \(15320, nat-t 15321\); connections: rw \(psk\); data plane: mock$/);
      expect(lines.filter((l) => /^data plane: mock/.test(String(l.msg)))).toHaveLength(1);
      expect(JSON.parse(readFileSync(status, 'utf8'))).toMatchObject({ running: true, sas: [] });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/"event":"stopped"/);
      expect(JSON.parse(readFileSync(status, 'utf8'))).toMatchObject({ running: false });
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('parseArgs', () => {
  const spec = { config: { value: true, short: 'c' }, help: { value: false, short: 'h' } };
  it('reads --flag value, --flag=value, short flags, switches and positionals', () => {
    expect(parseArgs(['-c', 'a.yaml', 'x', '--help'], spec)).toEqual({ ok: true, flags: { config: 'a.yaml', help: true }, positionals: ['x'] });
    expect(parseArgs(['--config=b.yaml', '--', '--help'], spec)).toEqual({ ok: true, flags: { config: 'b.yaml' }, positionals: ['--help'] });
  });
  it('rejects unknown options, missing values and values on switches', () => {
    expect(parseArgs(['-x'], spec)).toEqual({ ok: false, error: 'unknown option -x' });
    expect(parseArgs(['--config', '--help'], spec)).toEqual({ ok: false, error: 'option --config needs a value' });
    expect(parseArgs(['--help=yes'], spec)).toEqual({ ok: false, error: 'option --help takes no value' });
  });
});
