// Hides secret values (inline PSKs) in config text shown by get-config, keeping every other byte and the line numbers.

const SECRET_KEYS = ['psk', 'password', 'secret', 'token'];
const SCALAR = String.raw`"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s,}#][^,}#]*?`;
const INLINE = new RegExp(String.raw`(^|[\s{,-])(${SECRET_KEYS.join('|')})(\s*:[ \t]*)(${SCALAR})(?=\s*(?:[,}#]|$))`, 'gm');
const BLOCK = new RegExp(String.raw`^(\s*(?:-\s+)?)(${SECRET_KEYS.join('|')})(\s*:[ \t]*)[|>][-+0-9]*\s*$`);

export const REDACTED_VALUE = '"[redacted]"';

/** Returns the text with secret values replaced, and whether anything was replaced. */
export function redactConfigText(yaml: string): { text: string; redacted: boolean } {
  let redacted = false;
  const lines = yaml.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const block = BLOCK.exec(line);
    if (block) {
      // A block scalar: drop its more-indented lines, so that the value leaves no trace (line numbers shift).
      const indent = (line.match(/^\s*/)?.[0].length ?? 0) + (block[1]?.includes('-') ? 2 : 0);
      out.push(`${block[1]}${block[2]}${block[3]}${REDACTED_VALUE}`);
      while (i + 1 < lines.length && ((lines[i + 1] as string).trim() === '' || ((lines[i + 1] as string).match(/^\s*/)?.[0].length ?? 0) > indent)) i++;
      redacted = true;
      continue;
    }
    out.push(
      line.replace(INLINE, (_m, pre: string, key: string, colon: string) => {
        redacted = true;
        return `${pre}${key}${colon}${REDACTED_VALUE}`;
      }),
    );
  }
  return { text: out.join('\n'), redacted };
}
