// Tests for atomic file replacement: content switches whole, modes are kept or 0600, a failure leaves the old file and no debris.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'outpost-atomic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('creates new files 0600 and keeps the mode of an existing one', () => {
    const a = join(dir, 'a.yaml');
    writeFileAtomic(a, 'one\n');
    expect([readFileSync(a, 'utf8'), statSync(a).mode & 0o777]).toEqual(['one\n', 0o600]);
    chmodSync(a, 0o640);
    writeFileAtomic(a, 'two\n');
    expect([readFileSync(a, 'utf8'), statSync(a).mode & 0o777]).toEqual(['two\n', 0o640]);
  });

  it('leaves the old content and no temporary file when interrupted before the rename', () => {
    const b = join(dir, 'b.yaml');
    writeFileSync(b, 'old\n');
    let tmpContent: string[] = [];
    expect(() =>
      writeFileAtomic(b, 'new\n', {
        beforeRename: () => {
          // By now the new text is complete and durable beside the old file.
          tmpContent = readdirSync(dir).filter((f) => f.startsWith('.b.yaml.') && f.endsWith('.tmp')).map((f) => readFileSync(join(dir, f), 'utf8'));
          throw new Error('power cut');
        },
      }),
    ).toThrow('power cut');
    expect(tmpContent).toEqual(['new\n']);
    expect(readFileSync(b, 'utf8')).toBe('old\n');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
