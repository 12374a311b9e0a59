// Annotated hex for test vectors: hex digits with `#` comments and free whitespace, one field per line.

/** Strips `# comments` and whitespace, then parses the hex; throws on an odd digit count or a stray character. */
export function annotatedHex(text: string): Uint8Array {
  const digits = text
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join('')
    .replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(digits)) throw new Error(`bad annotated hex: ${digits.slice(0, 40)}…`);
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function hexToBytes(hex: string): Uint8Array {
  return annotatedHex(hex);
}

export function bytesToHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
