// Tests for PEM decoding/encoding (RFC 7468).
import { describe, expect, test } from 'vitest';
import { pemDecode, pemEncode } from './pem.ts';

const der1 = Uint8Array.from({ length: 100 }, (_, i) => i);
const der2 = Uint8Array.from({ length: 7 }, (_, i) => 255 - i);

describe('pemEncode', () => {
  test('wraps base64 at 64 columns with BEGIN/END lines', () => {
    const text = pemEncode('CERTIFICATE', der1);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('-----BEGIN CERTIFICATE-----');
    expect(lines.at(-1)).toBe('-----END CERTIFICATE-----');
    expect(lines[1]?.length).toBe(64);
    expect(lines.slice(1, -1).join('')).toBe(Buffer.from(der1).toString('base64'));
    expect(text.endsWith('\n')).toBe(true);
  });
});

describe('pemDecode', () => {
  test('several blocks of the supported labels, with text around them', () => {
    const text = [
      'subject=CN=x',
      pemEncode('CERTIFICATE', der1),
      'junk between blocks',
      pemEncode('PRIVATE KEY', der2),
      pemEncode('EC PRIVATE KEY', der2),
      pemEncode('RSA PRIVATE KEY', der2),
      pemEncode('X509 CRL', der1),
    ].join('\n');
    const blocks = pemDecode(text);
    expect(blocks.map((b) => b.label)).toEqual(['CERTIFICATE', 'PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY', 'X509 CRL']);
    expect(blocks[0]?.der).toEqual(der1);
    expect(blocks[1]?.der).toEqual(der2);
  });

  test('CRLF line ends, indentation, blank lines and odd wrapping are tolerated', () => {
    const b64 = Buffer.from(der1).toString('base64');
    const text = `  -----BEGIN CERTIFICATE-----\r\n  ${b64.slice(0, 10)}\r\n\r\n\t${b64.slice(10, 50)} ${b64.slice(50)}  \r\n-----END CERTIFICATE-----  \r\n`;
    expect(pemDecode(text)).toEqual([{ label: 'CERTIFICATE', der: der1 }]);
  });

  test.each([
    ['no block', 'hello world', /no PEM block found/],
    ['empty text', '', /no PEM block found/],
    ['unknown label', '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n', /line 1: unsupported block "OPENSSH PRIVATE KEY"/],
    ['missing END', '-----BEGIN CERTIFICATE-----\nAAAA\n', /CERTIFICATE block has no END line/],
    ['mismatched END', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n', /line 3: END PRIVATE KEY does not close BEGIN CERTIFICATE/],
    ['bad base64', '-----BEGIN CERTIFICATE-----\nA*AA\n-----END CERTIFICATE-----\n', /not valid base64/],
    ['bad base64 length', '-----BEGIN CERTIFICATE-----\nAAAAA\n-----END CERTIFICATE-----\n', /not valid base64/],
    ['empty body', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n', /not valid base64/],
    ['encrypted key headers', '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAAAA\n-----END RSA PRIVATE KEY-----\n', /line 2: encrypted/],
    ['nested BEGIN', '-----BEGIN CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n', /line 2: BEGIN inside CERTIFICATE/],
  ])('%s throws a clear error', (_name, text, message) => {
    expect(() => pemDecode(text)).toThrow(message);
  });
});
