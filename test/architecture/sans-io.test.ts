// Enforces ARCHITECTURE.md §1: the IKE and ESP cores import no I/O, timers, storage, MQTT, native code or runtime.
import { describe, expect, test } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const cores = ['firmware/src/ike', 'firmware/src/esp', 'firmware/src/eap'];

const forbiddenModules = [
  /^(node:)?(dgram|net|tls|fs|fs\/promises|child_process|worker_threads|http|https|timers|os|cluster)$/,
  /^sqlite3$/,
  /^mqtt/,
  /^hono/,
  /\.node$/,
  /\/runtime\//,
  /\/dataplane\/(?!types\.ts$)/,
  /\/store\//,
];
const forbiddenCalls = [/\bsetTimeout\(/, /\bsetInterval\(/, /\bDate\.now\(/, /\bMath\.random\(/, /\bBun\.(?!password)\w+/, /\bprocess\.\w+/, /\bperformance\.now\(/];

function sources(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(sources(p));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !p.includes(`${join('ike', 'testing')}`)) out.push(p);
  }
  return out;
}

describe('sans-IO cores', () => {
  const files = cores.flatMap((c) => sources(join(root, c)));

  test('the cores have source files to check', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  test('no forbidden imports or ambient I/O in firmware/src/ike and firmware/src/esp', () => {
    const violations: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
      for (const m of code.matchAll(/(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const spec = m[1] ?? m[2] ?? m[3] ?? '';
        if (forbiddenModules.some((re) => re.test(spec))) violations.push(`${relative(root, file)}: imports ${spec}`);
      }
      for (const re of forbiddenCalls) {
        if (re.test(code)) violations.push(`${relative(root, file)}: uses ${re.source}`);
      }
    }
    expect(violations).toEqual([]);
  });
});
