// Tests for the web UI's self-signed certificate, its key file and the --web-listen parser.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gatewayCommand } from '../cli/gateway-command.ts';
import { loadOrCreateWebTls, makeSelfSignedCert } from './device-cert.ts';
import { parseWebListen, serveWebApp } from './server.ts';

const dir = mkdtempSync(join(tmpdir(), 'outpost-webcert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('self-signed web certificate', () => {
  it('is a valid ECDSA P-256 certificate for the host, signed by its own key', () => {
    const nowMs = Date.UTC(2026, 10, 23);
    const { certPem, keyPem } = makeSelfSignedCert({ commonName: 'outpost-1', dnsNames: ['outpost-1', 'localhost'], ipv4: ['127.0.0.1'], nowMs });
    const x = new X509Certificate(certPem);
    expect(x.subject).toContain('CN=outpost-1');
    expect(x.issuer).toBe(x.subject);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(x.subjectAltName).toContain('DNS:localhost');
    expect(x.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(x.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(new Date(x.validFrom).getTime()).toBeLessThan(nowMs);
    expect(new Date(x.validTo).getTime()).toBeGreaterThan(nowMs + 800 * 86_400_000);
    expect(x.ca).toBe(false);
  });

  it('is created once with a 0600 key and reused; an installed certificate is used as is', () => {
    const d = join(dir, 'state');
    const first = loadOrCreateWebTls(d, { commonName: 'outpost-test' });
    expect(first.created).toBe(true);
    expect(statSync(join(d, 'web-key.pem')).mode & 0o777).toBe(0o600);
    const again = loadOrCreateWebTls(d);
    expect(again.created).toBe(false);
    expect(again.cert).toBe(first.cert);
    const other = makeSelfSignedCert({ commonName: 'installed', dnsNames: [], ipv4: [] });
    writeFileSync(join(d, 'web-cert.pem'), other.certPem);
    writeFileSync(join(d, 'web-key.pem'), other.keyPem, { mode: 0o600 });
    expect(loadOrCreateWebTls(d).cert).toBe(readFileSync(join(d, 'web-cert.pem'), 'utf8'));
  });

  it('serves HTTPS with it', async () => {
    const tls = loadOrCreateWebTls(join(dir, 'serve'), { commonName: 'localhost' });
    const server = serveWebApp({ fetch: () => new Response('hello') }, { hostname: '127.0.0.1', port: 0 }, tls);
    try {
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const r = await fetch(server.url, { tls: { ca: tls.cert } } as RequestInit);
      expect(await r.text()).toBe('hello');
      // Without trusting it, a client refuses the self-signed certificate.
      await expect(fetch(server.url)).rejects.toThrow();
    } finally {
      await server.stop();
    }
  });
});

describe('--web-listen', () => {
  it('parses ADDR:PORT and [V6]:PORT and names what is wrong', () => {
    expect(parseWebListen('127.0.0.1:8443')).toEqual({ ok: true, value: { hostname: '127.0.0.1', port: 8443 } });
    expect(parseWebListen('[::1]:443')).toEqual({ ok: true, value: { hostname: '::1', port: 443 } });
    expect(parseWebListen('0.0.0.0:0')).toEqual({ ok: true, value: { hostname: '0.0.0.0', port: 0 } });
    for (const bad of ['8443', '127.0.0.1', '127.0.0.1:70000', '::1:443', ':443', '127.0.0.1:x']) expect(parseWebListen(bad).ok, bad).toBe(false);
  });

  it('needs --db', async () => {
    const err: string[] = [];
    const code = await gatewayCommand.run(['--config', '/nonexistent.yaml', '--web-listen', '127.0.0.1:8443'], { out: () => {}, err: (s: string) => err.push(s) } as never);
    expect(code).toBe(2);
    expect(err.join('')).toContain('--web-listen needs --db PATH');
  });
});
