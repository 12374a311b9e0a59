// PEM armour (RFC 7468 textual encoding) for certificates, keys and CRLs; used at config load time only.

export const PEM_LABELS = ['CERTIFICATE', 'PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY', 'X509 CRL', 'PUBLIC KEY'] as const;

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

const BEGIN = /^-----BEGIN ([A-Z0-9 ]+)-----$/;
const END = /^-----END ([A-Z0-9 ]+)-----$/;
// RFC 7468 §3: base64 with optional whitespace; the legacy "Proc-Type:" headers of encrypted OpenSSL keys are refused.
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes every PEM block in `text` (text outside blocks is ignored, as OpenSSL does).
 * Throws an Error naming the line when a block is malformed, unterminated or has an unknown label,
 * and when the text holds no block at all.
 */
export function pemDecode(text: string): PemBlock[] {
  const lines = text.split(/\r\n|\r|\n/);
  const blocks: PemBlock[] = [];
  let current: { label: string; startLine: number; body: string[] } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    const lineNo = i + 1;
    if (current === null) {
      const begin = BEGIN.exec(line);
      if (!begin) continue;
      const label = begin[1] as string;
      if (!(PEM_LABELS as readonly string[]).includes(label)) {
        throw new Error(`PEM line ${lineNo}: unsupported block "${label}" (expected one of ${PEM_LABELS.join(', ')})`);
      }
      current = { label, startLine: lineNo, body: [] };
      continue;
    }
    const end = END.exec(line);
    if (end) {
      if (end[1] !== current.label) throw new Error(`PEM line ${lineNo}: END ${end[1]} does not close BEGIN ${current.label} (line ${current.startLine})`);
      const b64 = current.body.join('');
      if (b64.length === 0 || b64.length % 4 !== 0 || !BASE64.test(b64)) {
        throw new Error(`PEM line ${current.startLine}: ${current.label} block is not valid base64`);
      }
      blocks.push({ label: current.label, der: Uint8Array.from(Buffer.from(b64, 'base64')) });
      current = null;
      continue;
    }
    if (BEGIN.test(line)) throw new Error(`PEM line ${lineNo}: BEGIN inside ${current.label} block opened at line ${current.startLine}`);
    if (line.includes(':')) throw new Error(`PEM line ${lineNo}: encrypted or header-carrying PEM is not supported`);
    current.body.push(line.replace(/\s+/g, ''));
  }
  if (current !== null) throw new Error(`PEM line ${current.startLine}: ${current.label} block has no END line`);
  if (blocks.length === 0) throw new Error('no PEM block found');
  return blocks;
}

/** Encodes DER as a PEM block with 64-character lines and a trailing newline. */
export function pemEncode(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
