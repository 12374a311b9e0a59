// Tests for the YAML key-path → line locator used in config error messages.
import { describe, expect, it } from 'vitest';
import { createYamlLocator, findSyntaxErrorLine, formatPath } from './yaml-locator.ts';

const TEXT = `# comment line
listen: [{ address: 0.0.0.0, port: 500, natt_port: 4500 }]
log: { level: info, format: text }   # trailing comment
pools:
  - name: rw
    cidr: 203.0.113.0/24
    dns: [198.51.100.53,
          198.51.100.54]
connections:
- name: roadwarrior
  local: { id: fqdn:vpn.example.com, auth: pubkey }
  remote:
    id: "%any"
    cas:
      - corp
  psk: 0x1234
  ike_proposals:
    - aes256gcm16-prfsha256-x25519
    - aes256gcm7
  children: [{ name: net, local_ts: [198.51.100.0/24], remote_ts: [dynamic] }]
  notes: |
    a: b
    - c
  legacy: false
- - nested
  - seq
`;

describe('createYamlLocator', () => {
  const loc = createYamlLocator(TEXT);

  it.each([
    [['listen'], 2],
    [['listen', 0, 'natt_port'], 2],
    [['log', 'format'], 3],
    [['pools', 0], 5],
    [['pools', 0, 'cidr'], 6],
    [['pools', 0, 'dns', 0], 7],
    [['pools', 0, 'dns', 1], 8], // a flow sequence continued on the next line
    [['connections'], 9],
    [['connections', 0, 'name'], 10], // sequence at the same indentation as its key
    [['connections', 0, 'local', 'auth'], 11],
    [['connections', 0, 'remote', 'id'], 13],
    [['connections', 0, 'remote', 'cas', 0], 15],
    [['connections', 0, 'ike_proposals', 1], 19],
    [['connections', 0, 'children', 0, 'remote_ts', 0], 20],
    [['connections', 0, 'legacy'], 24], // after a block scalar whose text looks like keys and items
    [['connections', 1, 0], 25],
    [['connections', 1, 1], 26],
  ] as const)('%j is on line %i', (path, line) => {
    expect(loc.line(path)).toBe(line);
  });

  it('does not mistake block scalar content for keys', () => {
    expect(loc.line(['connections', 0, 'notes', 'a'])).toBeUndefined();
    expect(loc.line(['a'])).toBeUndefined();
  });

  it('falls back to the nearest recorded ancestor', () => {
    expect(loc.line(['connections', 0, 'remote', 'auth'])).toBeUndefined();
    expect(loc.nearestLine(['connections', 0, 'remote', 'auth'])).toBe(12);
    expect(loc.nearestLine(['nothing', 'here'])).toBe(2); // first content line
  });

  it('keeps the raw scalar text (a 0x value YAML reads as a number)', () => {
    expect(loc.raw(['connections', 0, 'psk'])).toBe('0x1234');
    expect(loc.raw(['connections', 0, 'remote', 'id'])).toBe('"%any"');
    expect(loc.raw(['listen', 0, 'address'])).toBe('0.0.0.0');
  });

  it('reports duplicate keys with both lines', () => {
    const l = createYamlLocator('a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\nx: { y: 1, y: 2 }\n');
    expect(l.duplicates).toEqual([
      { path: 'b.c', line: 5, firstLine: 3 },
      { path: 'x.y', line: 6, firstLine: 6 },
    ]);
  });

  it('handles quoted keys, comments with # inside quotes and CRLF line ends', () => {
    const l = createYamlLocator('"quoted key": 1\r\nurl: "http://x/#frag" # real comment\r\n\'k\': v\r\n');
    expect(l.line(['quoted key'])).toBe(1);
    expect(l.raw(['url'])).toBe('"http://x/#frag"');
    expect(l.line(['k'])).toBe(3);
  });

  it('never throws on garbage', () => {
    for (const t of ['', '---\n', ': : :', '- [', '{{{', 'a:\n  - b: [1, {c: ]', '\t- x\n  y: z']) {
      expect(() => createYamlLocator(t)).not.toThrow();
    }
  });
});

describe('formatPath', () => {
  it('formats keys and indices like the error messages', () => {
    expect(formatPath(['connections', 0, 'ike_proposals', 1])).toBe('connections[0].ike_proposals[1]');
    expect(formatPath([])).toBe('');
  });
});

describe('findSyntaxErrorLine', () => {
  const parse = (s: string) => Bun.YAML.parse(s);
  it('points at the first line after which the text never parses again', () => {
    expect(findSyntaxErrorLine('a: 1\nb: 2\nc: [1, 2\nd: 4\n', parse)).toBe(3);
    expect(findSyntaxErrorLine('a: 1\nb: [x,\n y]\nc: "unterminated\nd: 3', parse)).toBe(4);
  });
  it('returns undefined when the text parses', () => {
    expect(findSyntaxErrorLine('a: 1\n', parse)).toBeUndefined();
  });
});
