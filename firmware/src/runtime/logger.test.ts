// Tests for the structured logger: formats, levels, and the guard that keeps secret-named fields out of logs.
import { describe, expect, it } from 'vitest';
import { createLogger, isSecretFieldName, REDACTED, SecretFieldError } from './logger.ts';

const FIXED = new Date('2026-11-23T10:00:00.000Z');

function capture(opts: Parameters<typeof createLogger>[0] = {}) {
  const lines: string[] = [];
  const logger = createLogger({ now: () => FIXED, write: (l) => lines.push(l), ...opts });
  return { logger, lines };
}

describe('isSecretFieldName', () => {
  it.each(['psk', 'key', 'encKey', 'integ_key', 'privateKey', 'sharedSecret', 'nonceI', 'nonce_r', 'skD', 'SK_ai', 'skEr', 'password', 'apiToken', 'keymat', 'PSK'])(
    '%s is secret',
    (name) => expect(isSecretFieldName(name)).toBe(true),
  );
  it.each(['ikeId', 'spiIn', 'remoteId', 'monkey', 'keepalive', 'skip', 'sky', 'proposal', 'childId', 'natKeepaliveMs', 'spiI'])('%s is not', (name) =>
    expect(isSecretFieldName(name)).toBe(false),
  );
});

describe('createLogger', () => {
  it('writes text lines with level, message and key=value fields', () => {
    const { logger, lines } = capture();
    logger.info('IKE_SA up', { ikeId: 'ab12', remote: { addr: '192.0.2.2', port: 4500 }, reason: 'deleted by peer', spi: 42, nat: false });
    expect(lines).toEqual(['2026-11-23T10:00:00.000Z INFO  IKE_SA up ikeId=ab12 remote={"addr":"192.0.2.2","port":4500} reason="deleted by peer" spi=42 nat=false']);
  });

  it('writes one JSON object per line; time, level and msg cannot be overridden by fields', () => {
    const { logger, lines } = capture({ format: 'json' });
    logger.warn('auth failed', { event: 'auth.failed', msg: 'spoof', level: 'debug' });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({ event: 'auth.failed', time: FIXED.toISOString(), level: 'warn', msg: 'auth failed' });
  });

  it('filters by level and exposes enabled()', () => {
    const { logger, lines } = capture({ level: 'warn' });
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(lines.map((l) => l.split(/ +/)[2])).toEqual(['w', 'e']);
    expect([logger.enabled('info'), logger.enabled('error')]).toEqual([false, true]);
  });

  it('child loggers add their fields', () => {
    const { logger, lines } = capture({ format: 'json' });
    logger.child({ conn: 'rw' }).info('x', { ikeId: '1' });
    expect(JSON.parse(lines[0]!)).toMatchObject({ conn: 'rw', ikeId: '1' });
  });

  it('redacts secret-named fields at any depth and never prints byte arrays', () => {
    const { logger, lines } = capture({ format: 'json' });
    const secret = 'hunter2-hunter2';
    logger.info('config', {
      psk: secret,
      conn: { name: 'rw', psk: new TextEncoder().encode(secret), local: { privateKey: new Uint8Array([1, 2, 3]) } },
      list: [{ nonceI: 'abcd' }],
      blob: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
    });
    const line = lines[0]!;
    expect(line).not.toContain(secret);
    expect(line).not.toMatch(/deadbeef|222,173/i);
    expect(JSON.parse(line)).toMatchObject({
      psk: REDACTED,
      conn: { name: 'rw', psk: REDACTED, local: { privateKey: REDACTED } },
      list: [{ nonceI: REDACTED }],
      blob: '<4 octets>',
    });
    expect(logger.redactions).toBe(4);
  });

  it('in strict mode refuses a secret-named field by throwing', () => {
    const { logger, lines } = capture({ strict: true });
    expect(() => logger.info('oops', { skEi: 'x' })).toThrow(SecretFieldError);
    expect(() => logger.info('oops', { nested: { sharedSecret: 1 } })).toThrow(/nested\.sharedSecret/);
    expect(lines).toEqual([]);
  });

  it('survives a failing writer', () => {
    const logger = createLogger({ write: () => { throw new Error('EPIPE'); } });
    expect(() => logger.error('x')).not.toThrow();
  });
});
