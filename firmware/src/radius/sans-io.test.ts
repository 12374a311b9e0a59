// The EAP methods and the RADIUS codec are sans-IO like the IKE core (ARCHITECTURE.md §1): only the three runtime
// files (client, Dynamic Authorization listener, EAP round-trip glue) may touch sockets and timers.
import { describe, expect, test } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const here = import.meta.dirname;
const runtimeFiles = new Set(['client.ts', 'dynauth-server.ts', 'eap-exchange.ts']);
const forbiddenModules = /^(node:)?(dgram|net|tls|fs|fs\/promises|child_process|worker_threads|http|https|timers|os|cluster)$|^sqlite3$|^mqtt|\/runtime\/|\/store\//;
const forbiddenCalls = [/\bsetTimeout\(/, /\bsetInterval\(/, /\bDate\.now\(/, /\bMath\.random\(/, /\bprocess\.\w+/, /\bperformance\.now\(/];

function sources(dir: string, skip: Set<string>): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.ts') && !n.endsWith('.test.ts') && !skip.has(n))
    .map((n) => join(dir, n));
}

describe('sans-IO: firmware/src/eap and the RADIUS codec', () => {
  const files = [...sources(join(here, '..', 'eap'), new Set()), ...sources(here, runtimeFiles)];

  test('there is something to check', () => {
    expect(files.length).toBeGreaterThan(15);
  });

  test('no socket, file, timer, clock or ambient randomness', () => {
    const violations: string[] = [];
    for (const file of files) {
      const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
      for (const m of code.matchAll(/(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const spec = m[1] ?? m[2] ?? '';
        if (forbiddenModules.test(spec)) violations.push(`${file}: imports ${spec}`);
        if (/radius\/(client|dynauth-server|eap-exchange)\.ts$/.test(spec) && !/^import type/.test(m[0])) violations.push(`${file}: imports runtime ${spec}`);
      }
      for (const re of forbiddenCalls) if (re.test(code)) violations.push(`${file}: uses ${re.source}`);
    }
    expect(violations).toEqual([]);
  });
});
