// Checks the test PKI with independent tools: OpenSSL's verifier and strongSwan's pki.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { pemDecode } from '../../firmware/src/pki/pem.ts';
import { createSignatureOps } from '../../firmware/src/pki/signature.ts';
import { KEY_FILE_SUFFIX, makeTestPki, TEST_KEY_TYPES } from './certs.ts';

const pki = makeTestPki();
const dir = mkdtempSync(join(tmpdir(), 'outpost-pki-'));
const files = pki.writePem(dir);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const hasOpenssl = has('openssl');
const hasPki = has('pki');
if (!hasOpenssl) console.log('certs.test: openssl not installed, skipping OpenSSL checks');
if (!hasPki) console.log('certs.test: strongSwan pki not installed, skipping pki checks');

function openssl(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

function pkiPrint(args: string[]): string {
  // The tpm plugin complains on stderr on machines without a TPM; only stdout matters.
  return execFileSync('pki', ['--print', ...args], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

describe('makeTestPki', () => {
  test('is cached per process', () => {
    expect(makeTestPki()).toBe(pki);
  });

  test('writes predictable file names with PKCS#8 keys', () => {
    for (const name of ['ca.pem', 'ca.key', 'ca-other.pem', 'ca-intermediate.pem', 'gw-ecdsa.pem', 'gw-ecdsa.key', 'gw-rsa.pem', 'gw-ecdsa384.pem', 'gw-ed25519.key', 'client-rsa.pem', 'gw-expired.pem', 'gw-notyet.pem', 'gw-wrongsan.pem', 'gw-untrusted.pem', 'gw-intermediate.pem']) {
      expect(files[name], name).toBe(join(dir, name));
    }
    const key = pemDecode(readFileSync(files['gw-ecdsa.key'] as string, 'utf8'));
    expect(key.map((b) => b.label)).toEqual(['PRIVATE KEY']);
    expect(key[0]?.der).toEqual(pki.gw['ecdsa-p256'].keyDer);
    const cert = pemDecode(readFileSync(files['gw-ecdsa.pem'] as string, 'utf8'));
    expect(cert[0]?.der).toEqual(pki.gw['ecdsa-p256'].der);
  });
});

describe.skipIf(!hasOpenssl)('OpenSSL accepts the test PKI', () => {
  test.each(TEST_KEY_TYPES)('gateway and client %s certificates verify against ca.pem', (t) => {
    for (const who of ['gw', 'client']) {
      const r = openssl(['verify', '-CAfile', 'ca.pem', `${who}-${KEY_FILE_SUFFIX[t]}.pem`]);
      expect(r.out).toContain(': OK');
      expect(r.ok).toBe(true);
    }
    const server = openssl(['verify', '-purpose', 'sslserver', '-CAfile', 'ca.pem', `gw-${KEY_FILE_SUFFIX[t]}.pem`]);
    expect(server.ok).toBe(true);
    const client = openssl(['verify', '-purpose', 'sslclient', '-CAfile', 'ca.pem', `client-${KEY_FILE_SUFFIX[t]}.pem`]);
    expect(client.ok).toBe(true);
  });

  test('keys load in OpenSSL and match their certificates', () => {
    for (const t of TEST_KEY_TYPES) {
      const base = `gw-${KEY_FILE_SUFFIX[t]}`;
      const fromKey = openssl(['pkey', '-in', `${base}.key`, '-pubout']);
      const fromCert = openssl(['x509', '-in', `${base}.pem`, '-noout', '-pubkey']);
      expect(fromKey.ok).toBe(true);
      expect(fromKey.out).toBe(fromCert.out);
    }
  });

  test('the gateway SAN carries the FQDN, the IP as dNSName and as iPAddress; EKU serverAuth + ipsecIKE', () => {
    const r = openssl(['x509', '-noout', '-ext', 'subjectAltName,extendedKeyUsage,basicConstraints,keyUsage', '-in', 'gw-ecdsa.pem']);
    expect(r.out).toContain('DNS:gw.outpost.test, DNS:192.0.2.1, IP Address:192.0.2.1');
    expect(r.out).toContain('TLS Web Server Authentication, ipsec Internet Key Exchange');
    expect(r.out).toContain('CA:FALSE');
    expect(r.out).toContain('Digital Signature');
    const c = openssl(['x509', '-noout', '-ext', 'subjectAltName', '-in', 'client-rsa.pem']);
    expect(c.out).toContain('DNS:client.outpost.test, email:client@outpost.test');
  });

  test('broken variants fail for the intended reason', () => {
    expect(openssl(['verify', '-CAfile', 'ca.pem', 'gw-expired.pem']).out).toContain('certificate has expired');
    expect(openssl(['verify', '-CAfile', 'ca.pem', 'gw-notyet.pem']).out).toContain('certificate is not yet valid');
    expect(openssl(['verify', '-CAfile', 'ca.pem', 'gw-untrusted.pem']).out).toContain('unable to get local issuer certificate');
    expect(openssl(['verify', '-CAfile', 'ca.pem', 'gw-intermediate.pem']).ok).toBe(false);
    expect(openssl(['verify', '-CAfile', 'ca.pem', '-untrusted', 'ca-intermediate.pem', 'gw-intermediate.pem']).ok).toBe(true);
    expect(openssl(['verify', '-CAfile', 'ca.pem', 'gw-wrongsan.pem']).ok).toBe(true);
    expect(openssl(['x509', '-noout', '-ext', 'subjectAltName', '-in', 'gw-wrongsan.pem']).out).not.toContain('gw.outpost.test');
  });
});

describe.skipIf(!hasPki)('strongSwan pki reads the test PKI', () => {
  test('certificates print with their SANs, and the keyid equals caKeyHash', () => {
    const out = pkiPrint(['--in', 'gw-ecdsa.pem']);
    expect(out).toContain('subject:  "C=CH, O=Outpost Test, CN=gw.outpost.test"');
    expect(out).toContain('altNames:  gw.outpost.test, 192.0.2.1, 192.0.2.1');
    expect(out).toContain('flags:     serverAuth');
    const ca = pkiPrint(['--in', 'ca.pem']);
    expect(ca).toMatch(/flags:\s+CA CRLSign self-signed/);
    const keyid = /keyid:\s+([0-9a-f:]+)/.exec(ca)?.[1]?.replace(/:/g, '');
    const hash = createSignatureOps().caKeyHash(pki.ca.der) as Uint8Array;
    expect(keyid).toBe(Buffer.from(hash).toString('hex'));
  });

  test.each(TEST_KEY_TYPES)('the %s private key loads', (t) => {
    const out = pkiPrint(['--type', 'priv', '--in', `gw-${KEY_FILE_SUFFIX[t]}.key`]);
    expect(out).toMatch({ rsa: /RSA 2048 bits/, 'ecdsa-p256': /ECDSA 256 bits/, 'ecdsa-p384': /ECDSA 384 bits/, ed25519: /ED25519 256 bits/ }[t]);
  });
});
