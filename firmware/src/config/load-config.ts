// Reads a gateway config file from disk and validates it (docs/config.md).
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { parseConfigText, type ConfigResult, type ParseOptions } from './parse-config.ts';

/** Relative paths inside the file resolve against the file's own directory; messages carry the file's base name. */
export async function loadConfigFile(path: string, opts: ParseOptions = {}): Promise<ConfigResult> {
  const abs = resolve(path);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
    return { ok: false, errors: [`${path}: cannot read config: ${why}`] };
  }
  return parseConfigText(text, dirname(abs), basename(abs), opts);
}
