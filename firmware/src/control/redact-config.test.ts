// Tests for hiding inline secrets in config text: every form YAML allows, nothing else touched.
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../config/parse-config.ts';
import { redactConfigText } from './redact-config.ts';

describe('redactConfigText', () => {
  it('hides block, flow, quoted, plain and hex PSKs, keeps psk_file and everything else', () => {
    const text = [
      'connections:',
      '  - name: a',
      '    psk: "quoted \\" secret"',
      "  - { name: b, psk: 'single ''quoted''', pools: [x] }",
      '  - name: c',
      '    psk: 0x00112233445566778899  # hex',
      '  - name: d',
      '    psk_file: d.psk',
      '    psk: plain words here',
      '  - name: e',
      '    psk: |',
      '      block secret',
      '      more',
      '    pools: []',
    ].join('\n');
    const r = redactConfigText(text);
    expect(r.redacted).toBe(true);
    expect(r.text).not.toMatch(/secret|quoted|0011|plain words|more/);
    expect(r.text).toBe(
      [
        'connections:',
        '  - name: a',
        '    psk: "[redacted]"',
        '  - { name: b, psk: "[redacted]", pools: [x] }',
        '  - name: c',
        '    psk: "[redacted]"  # hex',
        '  - name: d',
        '    psk_file: d.psk',
        '    psk: "[redacted]"',
        '  - name: e',
        '    psk: "[redacted]"',
        '    pools: []',
      ].join('\n'),
    );
    expect(redactConfigText('log: { level: info }\n')).toEqual({ text: 'log: { level: info }\n', redacted: false });
  });

  it('keeps a real config valid (a redacted PSK still parses)', () => {
    const text = `connections:\n  - name: a\n    local: { id: gw.example, auth: psk }\n    remote: { auth: psk }\n    psk: "a shared secret of decent length"\n    children: [{ name: n }]\n`;
    const r = redactConfigText(text);
    expect(parseConfigText(r.text, '/tmp', 'x.yaml').ok).toBe(true);
  });
});
