// Test PKI made with strongSwan's own `pki` tool (RFC 5280 certificates from an implementation independent of ours).
//
// Interop tests use this rather than our own certificate code on purpose: if Outpost accepts and produces
// certificates that strongSwan's tooling made and checks, the two implementations agree on X.509.
import { spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type SwanKeyType = 'rsa2048' | 'ecdsa256' | 'ecdsa384' | 'ed25519';

export interface SwanKey {
  type: SwanKeyType;
  /** PEM as `pki --gen` writes it (PKCS#1 / SEC1 / PKCS#8 depending on type); path on disk. */
  pem: string;
  path: string;
  /** The same key as PKCS#8 PEM (`PRIVATE KEY`), what Outpost's config loads. */
  pkcs8Pem: string;
}

export interface SwanCert {
  name: string;
  dn: string;
  key: SwanKey;
  certPem: string;
  certPath: string;
}

export interface IssueOptions {
  dn?: string;
  sans?: string[];
  /** `pki` date format `%d.%m.%y %T`, e.g. `01.01.20 00:00:00`. */
  notBefore?: string;
  notAfter?: string;
  flags?: ('serverAuth' | 'clientAuth')[];
  ca?: boolean;
}

const GEN_ARGS: Record<SwanKeyType, string[]> = {
  rsa2048: ['--type', 'rsa', '--size', '2048'],
  ecdsa256: ['--type', 'ecdsa', '--size', '256'],
  ecdsa384: ['--type', 'ecdsa', '--size', '384'],
  ed25519: ['--type', 'ed25519'],
};

/** A little CA factory writing everything under `dir`. */
export class SwanPki {
  private readonly conf: string;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.conf = join(dir, 'pki.conf');
    writeFileSync(this.conf, 'pki {\n  load = pem pkcs1 pkcs8 x509 pubkey openssl random nonce sha1 sha2 gmp curve25519\n}\n');
  }

  private pki(args: string[]): string {
    const r = spawnSync('pki', args, { env: { ...process.env, STRONGSWAN_CONF: this.conf }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`pki ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  }

  genKey(name: string, type: SwanKeyType): SwanKey {
    const pem = this.pki(['--gen', ...GEN_ARGS[type], '--outform', 'pem']);
    const path = join(this.dir, `${name}.key.pem`);
    writeFileSync(path, pem, { mode: 0o600 });
    const pkcs8Pem = createPrivateKey(pem).export({ type: 'pkcs8', format: 'pem' }).toString();
    return { type, pem, path, pkcs8Pem };
  }

  /** Self-signed CA certificate. */
  makeCa(name: string, type: SwanKeyType, dn = `C=US, O=Outpost Test, CN=${name}`): SwanCert {
    const key = this.genKey(name, type);
    const certPem = this.pki(['--self', '--ca', '--in', key.path, '--type', 'priv', '--dn', dn, '--lifetime', '3650', '--outform', 'pem']);
    const certPath = join(this.dir, `${name}.cert.pem`);
    writeFileSync(certPath, certPem);
    return { name, dn, key, certPem, certPath };
  }

  /** End-entity certificate for a fresh key of `type`, signed by `ca`. */
  issue(ca: SwanCert, name: string, type: SwanKeyType, opts: IssueOptions = {}): SwanCert {
    const key = this.genKey(name, type);
    const pubPath = join(this.dir, `${name}.pub.pem`);
    writeFileSync(pubPath, this.pki(['--pub', '--in', key.path, '--type', 'priv', '--outform', 'pem']));
    const dn = opts.dn ?? `C=US, O=Outpost Test, CN=${name}`;
    const args = ['--issue', '--cacert', ca.certPath, '--cakey', ca.key.path, '--type', 'pub', '--in', pubPath, '--dn', dn];
    for (const san of opts.sans ?? [name]) args.push('--san', san);
    for (const f of opts.flags ?? []) args.push('--flag', f);
    if (opts.notBefore) args.push('--not-before', opts.notBefore);
    if (opts.notAfter) args.push('--not-after', opts.notAfter);
    if (!opts.notBefore && !opts.notAfter) args.push('--lifetime', '365');
    if (opts.ca) args.push('--ca');
    args.push('--outform', 'pem');
    const certPem = this.pki(args);
    const certPath = join(this.dir, `${name}.cert.pem`);
    writeFileSync(certPath, certPem);
    return { name, dn, key, certPem, certPath };
  }
}
