// Parses and validates the YAML gateway config into a GatewayConfig (file format: docs/config.md; RFC 7296 §2.15, §3.3, §3.5).
import { parseIdentity } from '../ike/identity.ts';
import { parseProposal, weakAlgorithms } from '../ike/proposal.ts';
import { parseGateway } from '../ike/redirect.ts';
import { createSignatureOps } from '../pki/signature.ts';
import type { SignatureOps } from '../pki/types.ts';
import { Checker, isPlainObject, type Path } from './checker.ts';
import { decodePsk, keyMismatch, loadCertificates, loadPrivateKey, loadPskFile, resolvePath } from './credentials.ts';
import { DEFAULTS, DEFAULT_ESP_PROPOSALS, DEFAULT_IKE_PROPOSALS, DEFAULT_LISTEN } from './defaults.ts';
import { cidrRange, ipFamily, isDomainName, parseCidr, checkTrafficSelector, type Cidr } from './net.ts';
import type { CaConfig, ChildConfig, ConnectionConfig, GatewayConfig, ListenConfig, PoolConfig } from './types.ts';
import { createYamlLocator, findSyntaxErrorLine } from './yaml-locator.ts';

export type ConfigResult = { ok: true; config: GatewayConfig; warnings: string[] } | { ok: false; errors: string[] };

export interface ParseOptions {
  /** Signature operations used to check that keys and certificates load and belong together. */
  sig?: SignatureOps;
}

const TOP_KEYS = [
  'listen', 'log', 'dataplane', 'cookie_threshold', 'half_open_per_source', 'redirect_to', 'max_sessions', 'retransmit', 'pools', 'cas', 'connections',
] as const;
const LISTEN_KEYS = ['address', 'port', 'natt_port'] as const;
const LOG_KEYS = ['level', 'format'] as const;
const DATAPLANE_KEYS = ['backend', 'offload', 'tun_name', 'mtu', 'path_mtu'] as const;
const RETRANSMIT_KEYS = ['timeout', 'tries', 'base'] as const;
const POOL_KEYS = ['name', 'cidr', 'dns', 'domains'] as const;
const CA_KEYS = ['name', 'cert'] as const;
const CONN_KEYS = [
  'name', 'remote_addrs', 'remote_port', 'local_addrs', 'ike_proposals', 'legacy', 'local', 'remote', 'psk', 'psk_file',
  'pools', 'vips', 'children', 'ike_lifetime', 'ike_rekey', 'dpd_delay', 'encapsulation', 'mobike', 'fragmentation',
  'fragment_size', 'send_certreq', 'redirect_to', 'dpd_timeout', 'dpd_action', 'ike_reauth',
] as const;
const LOCAL_KEYS = ['id', 'auth', 'cert', 'key'] as const;
const REMOTE_KEYS = ['id', 'auth', 'cas'] as const;
const CHILD_KEYS = ['name', 'local_ts', 'remote_ts', 'esp_proposals', 'lifetime', 'rekey', 'life_bytes', 'rekey_bytes', 'life_packets', 'rekey_packets', 'replay_window', 'start_action'] as const;

/** Every key the file format knows, by section (docs/config.md documents each; a test keeps them in step). */
export const CONFIG_KEYS = {
  top: TOP_KEYS,
  listen: LISTEN_KEYS,
  log: LOG_KEYS,
  dataplane: DATAPLANE_KEYS,
  retransmit: RETRANSMIT_KEYS,
  pools: POOL_KEYS,
  cas: CA_KEYS,
  connections: CONN_KEYS,
  local: LOCAL_KEYS,
  remote: REMOTE_KEYS,
  children: CHILD_KEYS,
} as const;

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const FORMATS = ['text', 'json'] as const;
const BACKENDS = ['auto', 'mock', 'userspace', 'xfrm'] as const;
const OFFLOADS = ['auto', 'none', 'crypto', 'packet'] as const;
const DPD_ACTIONS = ['clear', 'restart', 'hold'] as const;

/** `{ [key]: value }` when the file sets `fileKey` and it is valid, else `{}` (the consumer's default applies). */
function optional<K extends string, T>(o: Record<string, unknown>, fileKey: string, key: K, parse: (v: unknown) => T | undefined): { [P in K]?: T } {
  if (o[fileKey] === undefined) return {};
  const v = parse(o[fileKey]);
  return v === undefined ? {} : ({ [key]: v } as { [P in K]?: T });
}
const AUTHS = ['psk', 'pubkey'] as const;
const START_ACTIONS = ['none', 'start'] as const;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const YEAR_SEC = 365 * 86400;

/** Reads an optional value through `read`, or returns `fallback` when the key is absent. */
function opt<T>(obj: Record<string, unknown>, key: string, fallback: T, read: (v: unknown) => T | undefined): T {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  return read(v) ?? fallback;
}

class ConfigParser {
  private readonly sig: SignatureOps;
  private poolNames = new Set<string>();
  private caNames = new Set<string>();

  constructor(
    private readonly c: Checker,
    private readonly baseDir: string,
    sig: SignatureOps | undefined,
  ) {
    this.sig = sig ?? createSignatureOps();
  }

  name(path: Path, v: unknown): string | undefined {
    const s = this.c.string(path, v);
    if (s !== undefined && !NAME_RE.test(s)) {
      this.c.error(path, `"${s}" is not a valid name (letters, digits, . _ -; at most 64, starting with a letter or digit)`);
      return undefined;
    }
    return s;
  }

  ip(path: Path, v: unknown): string | undefined {
    const s = this.c.string(path, v);
    if (s === undefined) return undefined;
    if (!ipFamily(s)) {
      this.c.error(path, `"${s}" is not an IPv4 or IPv6 address${/[a-z]/i.test(s) && !s.includes(':') ? ' (DNS names are not resolved; use an address)' : ''}`);
      return undefined;
    }
    return s.toLowerCase();
  }

  /** RFC 5685 redirect targets: IP addresses or DNS names (sent as such; a client resolves a name itself). */
  gateways(path: Path, v: unknown): string[] {
    const l = this.c.stringList(path, v) ?? [];
    return l.flatMap((t, i) => {
      const g = parseGateway(t);
      if (g) return [g.kind === 'ip' ? g.addr : g.name];
      this.c.error([...path, i], `"${t}" is neither an IP address nor a DNS name`);
      return [];
    });
  }

  ipList(path: Path, v: unknown): string[] {
    const l = this.c.list(path, v) ?? [];
    return l.map((item, i) => this.ip([...path, i], item)).filter((x): x is string => x !== undefined);
  }

  parse(doc: Record<string, unknown>): GatewayConfig {
    const c = this.c;
    const listen = doc.listen === undefined ? DEFAULT_LISTEN.map((l) => ({ ...l })) : this.listen(['listen'], doc.listen);

    const logObj = doc.log === undefined ? {} : (c.object(['log'], doc.log, LOG_KEYS) ?? {});
    const log = {
      level: opt(logObj, 'level', DEFAULTS.logLevel, (v) => c.oneOf(['log', 'level'], v, LEVELS)),
      format: opt(logObj, 'format', DEFAULTS.logFormat, (v) => c.oneOf(['log', 'format'], v, FORMATS)),
    };

    const dpObj = doc.dataplane === undefined ? {} : (c.object(['dataplane'], doc.dataplane, DATAPLANE_KEYS) ?? {});
    const dataplane = {
      backend: opt(dpObj, 'backend', DEFAULTS.dataplaneBackend, (v) => c.oneOf(['dataplane', 'backend'], v, BACKENDS)),
      offload: opt(dpObj, 'offload', DEFAULTS.dataplaneOffload, (v) => c.oneOf(['dataplane', 'offload'], v, OFFLOADS)),
      ...optional(dpObj, 'tun_name', 'tunName', (v) => {
        const name = c.string(['dataplane', 'tun_name'], v);
        // Linux interface names: at most 15 octets, no '/', whitespace or ':' (dev_valid_name).
        if (name !== undefined && !/^[A-Za-z0-9_.-]{1,15}$/.test(name)) {
          c.error(['dataplane', 'tun_name'], 'must be 1 to 15 letters, digits, ".", "-" or "_"');
          return undefined;
        }
        return name;
      }),
      ...optional(dpObj, 'mtu', 'mtu', (v) => c.integer(['dataplane', 'mtu'], v, 576, 9000)),
      ...optional(dpObj, 'path_mtu', 'pathMtu', (v) => c.integer(['dataplane', 'path_mtu'], v, 576, 9216)),
    };

    const rtObj = doc.retransmit === undefined ? {} : (c.object(['retransmit'], doc.retransmit, RETRANSMIT_KEYS) ?? {});
    const retransmit = {
      timeoutMs: opt(rtObj, 'timeout', DEFAULTS.retransmitTimeoutMs, (v) => {
        const s = c.duration(['retransmit', 'timeout'], v, 0.1, 60);
        return s === undefined ? undefined : Math.round(s * 1000);
      }),
      tries: opt(rtObj, 'tries', DEFAULTS.retransmitTries, (v) => c.integer(['retransmit', 'tries'], v, 1, 20)),
      base: opt(rtObj, 'base', DEFAULTS.retransmitBase, (v) => c.number(['retransmit', 'base'], v, 1, 4)),
    };

    const pools = this.pools(doc.pools);
    const cas = this.cas(doc.cas);
    const connections = this.connections(doc.connections);

    const redirectTo = this.gateways(['redirect_to'], doc.redirect_to);
    const maxSessions = opt(doc, 'max_sessions', 0, (v) => c.integer(['max_sessions'], v, 0, 10_000_000));
    return {
      listen,
      log,
      dataplane,
      cookieThreshold: opt(doc, 'cookie_threshold', DEFAULTS.cookieThreshold, (v) => c.integer(['cookie_threshold'], v, 0, 1_000_000)),
      halfOpenPerSource: opt(doc, 'half_open_per_source', DEFAULTS.halfOpenPerSource, (v) => c.integer(['half_open_per_source'], v, 1, 1_000_000)),
      ...(redirectTo.length > 0 ? { redirectTo } : {}),
      ...(maxSessions > 0 ? { maxSessions } : {}),
      retransmit,
      pools,
      cas,
      connections,
    };
  }

  listen(path: Path, v: unknown): ListenConfig[] {
    const c = this.c;
    const items = c.list(path, v) ?? [];
    if (Array.isArray(v) && items.length === 0) c.error(path, 'needs at least one address to listen on');
    const out: ListenConfig[] = [];
    const seen = new Set<string>();
    items.forEach((item, i) => {
      const p = [...path, i];
      const o = c.object(p, item, LISTEN_KEYS, ['address']);
      if (!o) return;
      const address = o.address === undefined ? undefined : this.ip([...p, 'address'], o.address);
      const port = opt(o, 'port', 500, (x) => c.integer([...p, 'port'], x, 1, 65535));
      const nattPort = opt(o, 'natt_port', 4500, (x) => c.integer([...p, 'natt_port'], x, 1, 65535));
      if (port === nattPort) c.error([...p, 'natt_port'], `must differ from port (${port}): NAT-T traffic needs its own socket`);
      if (address === undefined || port === nattPort) return;
      for (const pt of [port, nattPort]) {
        const key = `${address}|${pt}`;
        if (seen.has(key)) c.error(p, `${address} port ${pt} is listed twice`);
        seen.add(key);
      }
      out.push({ address, port, nattPort });
    });
    return out;
  }

  pools(v: unknown): PoolConfig[] {
    const c = this.c;
    const items = c.list(['pools'], v) ?? [];
    const out: PoolConfig[] = [];
    const ranges: { i: number; cidr: Cidr }[] = [];
    items.forEach((item, i) => {
      const p = ['pools', i];
      const o = c.object(p, item, POOL_KEYS, ['name', 'cidr']);
      if (!o) return;
      const name = o.name === undefined ? undefined : this.name([...p, 'name'], o.name);
      const cidrText = o.cidr === undefined ? undefined : c.string([...p, 'cidr'], o.cidr);
      let cidr: Cidr | undefined;
      if (cidrText !== undefined) {
        const r = parseCidr(cidrText);
        if (!r.ok) c.error([...p, 'cidr'], r.error);
        else cidr = r.value;
      }
      if (cidr) {
        const size = cidr.family === 4 ? 32 - cidr.prefix : 128 - cidr.prefix;
        if (size < 1) c.warn([...p, 'cidr'], `${cidr.text} holds a single address: one client at a time`);
        const r = cidrRange(cidr);
        for (const other of ranges) {
          const o2 = cidrRange(other.cidr);
          if (other.cidr.family === cidr.family && r.first <= o2.last && o2.first <= r.last) {
            c.error([...p, 'cidr'], `${cidr.text} overlaps pool ${out[other.i]?.name ?? `pools[${other.i}]`} (${other.cidr.text})`);
          }
        }
        ranges.push({ i: out.length, cidr });
      }
      const dns = this.ipList([...p, 'dns'], o.dns);
      const domains = (c.stringList([...p, 'domains'], o.domains) ?? []).filter((d, j) => {
        if (isDomainName(d)) return true;
        c.error([...p, 'domains', j], `"${d}" is not a domain name`);
        return false;
      });
      if (name !== undefined && cidr) out.push({ name, cidr: cidr.text, dns, domains });
    });
    c.uniqueNames(['pools'], items.map((x) => (isPlainObject(x) && typeof x.name === 'string' ? { name: x.name } : {})), 'pool');
    this.poolNames = new Set(out.map((x) => x.name));
    return out;
  }

  cas(v: unknown): CaConfig[] {
    const c = this.c;
    const items = c.list(['cas'], v) ?? [];
    const out: CaConfig[] = [];
    items.forEach((item, i) => {
      const p = ['cas', i];
      const o = c.object(p, item, CA_KEYS, ['name', 'cert']);
      if (!o) return;
      const name = o.name === undefined ? undefined : this.name([...p, 'name'], o.name);
      const file = o.cert === undefined ? undefined : c.string([...p, 'cert'], o.cert);
      if (file === undefined) return;
      const certs = loadCertificates(resolvePath(this.baseDir, file), this.sig);
      if (!certs.ok) {
        c.error([...p, 'cert'], certs.error);
        return;
      }
      if (certs.value.length > 1) c.warn([...p, 'cert'], `holds ${certs.value.length} certificates; only the first is used as this CA`);
      if (name !== undefined) out.push({ name, certDer: certs.value[0] as Uint8Array });
    });
    c.uniqueNames(['cas'], items.map((x) => (isPlainObject(x) && typeof x.name === 'string' ? { name: x.name } : {})), 'CA');
    this.caNames = new Set(out.map((x) => x.name));
    return out;
  }

  connections(v: unknown): ConnectionConfig[] {
    const c = this.c;
    if (v === undefined || v === null) {
      c.warn([], 'no connections: the gateway will answer no peer');
      return [];
    }
    const items = c.list(['connections'], v) ?? [];
    const out = items.map((item, i) => this.connection(['connections', i], item)).filter((x): x is ConnectionConfig => x !== undefined);
    c.uniqueNames(['connections'], items.map((x) => (isPlainObject(x) && typeof x.name === 'string' ? { name: x.name } : {})), 'connection');
    return out;
  }

  proposals(path: Path, v: unknown, kind: 'ike' | 'esp', legacy: boolean, connLabel: string): string[] {
    const c = this.c;
    const defaults = kind === 'ike' ? DEFAULT_IKE_PROPOSALS : DEFAULT_ESP_PROPOSALS;
    if (v === undefined || v === null) return [...defaults];
    const specs = c.stringList(path, v) ?? [];
    if (Array.isArray(v) && specs.length === 0) c.error(path, 'needs at least one proposal (or leave it out for the defaults)');
    const out: string[] = [];
    specs.forEach((spec, i) => {
      const p = [...path, i];
      const normalized = spec.trim().toLowerCase();
      const r = parseProposal(normalized, kind);
      if (!r.ok) {
        c.error(p, r.error);
        return;
      }
      const weak = weakAlgorithms(r.value);
      if (weak.length > 0 && !legacy) {
        c.error(p, `"${spec}" uses legacy algorithms (${weak.join(', ')}); set "legacy: true" on ${connLabel} to allow them`);
        return;
      }
      if (weak.length > 0) c.warn(p, `"${spec}" uses legacy algorithms (${weak.join(', ')}), allowed by legacy: true`);
      if (out.includes(normalized)) c.warn(p, `"${spec}" is listed twice`);
      else out.push(normalized);
    });
    return out;
  }

  psk(path: Path, o: Record<string, unknown>): Uint8Array | undefined {
    const c = this.c;
    if (o.psk !== undefined && o.psk_file !== undefined) {
      c.error([...path, 'psk_file'], 'set either psk or psk_file, not both');
      return undefined;
    }
    let psk: Uint8Array | undefined;
    let where: Path = [...path, 'psk'];
    if (o.psk !== undefined && o.psk !== null) {
      // YAML reads an unquoted 0x… as a number: take the text as written instead.
      const text = typeof o.psk === 'string' ? o.psk : (c.locator.raw(where) ?? String(o.psk));
      if (text === '') {
        c.error(where, 'must not be empty');
        return undefined;
      }
      const r = decodePsk(text);
      if (!r.ok) {
        c.error(where, r.error);
        return undefined;
      }
      psk = r.value;
    } else if (o.psk_file !== undefined && o.psk_file !== null) {
      where = [...path, 'psk_file'];
      const file = c.string(where, o.psk_file);
      if (file === undefined) return undefined;
      const r = loadPskFile(resolvePath(this.baseDir, file));
      if (!r.ok) {
        c.error(where, r.error);
        return undefined;
      }
      r.warnings.forEach((w) => c.warn(where, w));
      psk = r.value;
    }
    if (psk === undefined) return undefined;
    if (psk.length < DEFAULTS.pskMinOctets) {
      c.error(where, `PSK is ${psk.length} octets; at least ${DEFAULTS.pskMinOctets} are required (${DEFAULTS.pskWarnOctets}+ random octets recommended)`);
      return undefined;
    }
    if (psk.length < DEFAULTS.pskWarnOctets) {
      c.warn(where, `PSK is only ${psk.length} octets: one captured IKE_AUTH allows an offline guessing attack; use ${DEFAULTS.pskWarnOctets}+ random octets`);
    }
    return psk;
  }

  /** Local: a concrete identity. Remote: also `%any`/`%any6` and wildcard patterns (`*.example.com`, `dn:CN=*, O=X`). */
  identity(path: Path, v: unknown, remote: boolean): string | undefined {
    const c = this.c;
    const spec = c.string(path, v)?.trim();
    if (spec === undefined) return undefined;
    if (spec === '%any' || spec === '%any6') {
      if (!remote) c.error(path, `"${spec}" is only valid for the remote identity`);
      return remote ? spec : undefined;
    }
    let r = parseIdentity(spec);
    if (!r.ok && remote && spec.includes('*')) {
      // A pattern is well-formed when the same text with the wildcards filled in is a valid identity.
      r = parseIdentity(spec.replace(/\*/g, 'x'));
    }
    if (!r.ok) {
      c.error(path, r.error);
      return undefined;
    }
    return spec;
  }

  connection(path: Path, item: unknown): ConnectionConfig | undefined {
    const c = this.c;
    const o = c.object(path, item, CONN_KEYS, ['name', 'local', 'remote']);
    if (!o) return undefined;
    const errorsBefore = c.errors.length;
    const name = o.name === undefined ? undefined : this.name([...path, 'name'], o.name);
    const legacy = opt(o, 'legacy', false, (v) => c.boolean([...path, 'legacy'], v));

    const localObj = o.local === undefined ? undefined : c.object([...path, 'local'], o.local, LOCAL_KEYS, ['id', 'auth']);
    const remoteObj = o.remote === undefined ? undefined : c.object([...path, 'remote'], o.remote, REMOTE_KEYS, ['auth']);
    const lp: Path = [...path, 'local'];
    const rp: Path = [...path, 'remote'];
    const localAuth = localObj?.auth === undefined ? undefined : c.oneOf([...lp, 'auth'], localObj.auth, AUTHS);
    const remoteAuth = remoteObj?.auth === undefined ? undefined : c.oneOf([...rp, 'auth'], remoteObj.auth, AUTHS);
    const localId = localObj?.id === undefined ? undefined : this.identity([...lp, 'id'], localObj.id, false);
    const remoteId = remoteObj === undefined ? undefined : remoteObj.id === undefined ? '%any' : this.identity([...rp, 'id'], remoteObj.id, true);

    // Local credentials.
    let certChain: Uint8Array[] | undefined;
    let privateKey: Uint8Array | undefined;
    if (localObj && localAuth === 'pubkey') {
      if (localObj.cert === undefined) c.error(lp, 'auth pubkey needs "cert" (our certificate file)');
      if (localObj.key === undefined) c.error(lp, 'auth pubkey needs "key" (our private key file)');
      const certFile = localObj.cert === undefined ? undefined : c.string([...lp, 'cert'], localObj.cert);
      const keyFile = localObj.key === undefined ? undefined : c.string([...lp, 'key'], localObj.key);
      if (certFile !== undefined) {
        const r = loadCertificates(resolvePath(this.baseDir, certFile), this.sig);
        if (r.ok) certChain = r.value;
        else c.error([...lp, 'cert'], r.error);
      }
      if (keyFile !== undefined) {
        const r = loadPrivateKey(resolvePath(this.baseDir, keyFile), this.sig);
        if (r.ok) {
          privateKey = r.value.pkcs8;
          r.warnings.forEach((w) => c.warn([...lp, 'key'], w));
          const mismatch = certChain?.[0] ? keyMismatch(certChain[0], r.value.signer, this.sig) : null;
          if (mismatch) c.error([...lp, 'key'], `${mismatch} (${certFile})`);
        } else c.error([...lp, 'key'], r.error);
      }
    } else if (localObj && localAuth === 'psk') {
      for (const k of ['cert', 'key'] as const) if (localObj[k] !== undefined) c.warn([...lp, k], 'ignored: local auth is psk');
    }

    // Remote trust.
    let remoteCas: string[] = [];
    if (remoteObj && remoteObj.cas !== undefined) {
      remoteCas = c.stringList([...rp, 'cas'], remoteObj.cas) ?? [];
      remoteCas.forEach((ca, i) => {
        if (!this.caNames.has(ca)) {
          const known = [...this.caNames];
          c.error([...rp, 'cas', i], `unknown CA "${ca}"${known.length ? ` (defined: ${known.join(', ')})` : ' (no cas: defined at top level)'}`);
        }
      });
      if (remoteAuth === 'psk') c.warn([...rp, 'cas'], 'ignored: remote auth is psk');
    }
    if (remoteAuth === 'pubkey' && remoteObj?.cas === undefined && this.caNames.size === 0) {
      c.error([...rp, 'auth'], 'pubkey authentication of the peer needs a trusted CA: add one under top-level cas:');
    }

    const usesPsk = localAuth === 'psk' || remoteAuth === 'psk';
    const psk = this.psk(path, o);
    if (usesPsk && psk === undefined && o.psk === undefined && o.psk_file === undefined) {
      c.error(path, `auth psk needs a secret: add "psk:" or "psk_file:"`);
    }
    if (!usesPsk && (o.psk !== undefined || o.psk_file !== undefined)) c.warn([...path, o.psk !== undefined ? 'psk' : 'psk_file'], 'ignored: neither side uses auth psk');

    const ikeProposals = this.proposals([...path, 'ike_proposals'], o.ike_proposals, 'ike', legacy, connLabel(path, name));

    const pools = c.stringList([...path, 'pools'], o.pools) ?? [];
    pools.forEach((pool, i) => {
      if (!this.poolNames.has(pool)) {
        const known = [...this.poolNames];
        c.error([...path, 'pools', i], `unknown pool "${pool}"${known.length ? ` (defined: ${known.join(', ')})` : ' (no pools: defined at top level)'}`);
      }
    });

    const remoteAddrs = this.ipList([...path, 'remote_addrs'], o.remote_addrs);
    const localAddrs = this.ipList([...path, 'local_addrs'], o.local_addrs);
    const vips = this.ipList([...path, 'vips'], o.vips);
    if (vips.length > 0 && remoteAddrs.length === 0) c.warn([...path, 'vips'], 'ignored: only an initiator (remote_addrs set) requests virtual IPs');
    const remotePort = opt(o, 'remote_port', DEFAULTS.remotePort, (v) => c.integer([...path, 'remote_port'], v, 1, 65535));
    const redirectTo = this.gateways([...path, 'redirect_to'], o.redirect_to);

    const ikeLifetimeSec = opt(o, 'ike_lifetime', DEFAULTS.ikeLifetimeSec, (v) => roundSec(c.duration([...path, 'ike_lifetime'], v, 60, YEAR_SEC)));
    const ikeRekeySec = opt(o, 'ike_rekey', Math.min(DEFAULTS.ikeRekeySec, Math.floor((ikeLifetimeSec * DEFAULTS.ikeRekeySec) / DEFAULTS.ikeLifetimeSec)), (v) =>
      roundSec(c.duration([...path, 'ike_rekey'], v, 0, YEAR_SEC)),
    );
    if (ikeRekeySec >= ikeLifetimeSec) {
      c.error([...path, o.ike_rekey !== undefined ? 'ike_rekey' : 'ike_lifetime'], `ike_rekey (${ikeRekeySec}s) must be shorter than ike_lifetime (${ikeLifetimeSec}s)`);
    }

    const childrenRaw = c.list([...path, 'children'], o.children);
    if (!childrenRaw || childrenRaw.length === 0) c.error(path, 'needs at least one entry under "children"');
    const children = (childrenRaw ?? [])
      .map((ch, i) => this.child([...path, 'children', i], ch, legacy, connLabel(path, name), remoteAddrs.length > 0, pools.length > 0))
      .filter((x): x is ChildConfig => x !== undefined);
    c.uniqueNames([...path, 'children'], (childrenRaw ?? []).map((x) => (isPlainObject(x) && typeof x.name === 'string' ? { name: x.name } : {})), 'child');

    const conn: Partial<ConnectionConfig> = {
      name,
      remoteAddrs,
      remotePort,
      localAddrs,
      ikeProposals,
      legacy,
      local: localId !== undefined && localAuth !== undefined ? { id: localId, auth: localAuth, ...(certChain ? { certChain } : {}), ...(privateKey ? { privateKey } : {}) } : undefined,
      remote: remoteId !== undefined && remoteAuth !== undefined ? { id: remoteId, auth: remoteAuth, cas: remoteCas } : undefined,
      ...(usesPsk && psk ? { psk } : {}),
      pools,
      ...(vips.length > 0 ? { vips } : {}),
      children,
      ikeLifetimeSec,
      ikeRekeySec,
      dpdDelaySec: opt(o, 'dpd_delay', DEFAULTS.dpdDelaySec, (v) => roundSec(c.duration([...path, 'dpd_delay'], v, 0, 86400))),
      ...optional(o, 'dpd_timeout', 'dpdTimeoutSec', (v) => roundSec(c.duration([...path, 'dpd_timeout'], v, 0, 86400))),
      ...optional(o, 'dpd_action', 'dpdAction', (v) => c.oneOf([...path, 'dpd_action'], v, DPD_ACTIONS)),
      ...optional(o, 'ike_reauth', 'ikeReauth', (v) => c.boolean([...path, 'ike_reauth'], v)),
      encapsulation: opt(o, 'encapsulation', DEFAULTS.encapsulation, (v) => c.boolean([...path, 'encapsulation'], v)),
      mobike: opt(o, 'mobike', DEFAULTS.mobike, (v) => c.boolean([...path, 'mobike'], v)),
      fragmentation: opt(o, 'fragmentation', DEFAULTS.fragmentation, (v) => c.boolean([...path, 'fragmentation'], v)),
      fragmentSize: opt(o, 'fragment_size', DEFAULTS.fragmentSize, (v) => c.integer([...path, 'fragment_size'], v, 576, 65535)),
      sendCertReq: opt(o, 'send_certreq', DEFAULTS.sendCertReq, (v) => c.boolean([...path, 'send_certreq'], v)),
      ...(redirectTo.length > 0 ? { redirectTo } : {}),
    };
    return c.errors.length === errorsBefore ? (conn as ConnectionConfig) : undefined;
  }

  child(path: Path, item: unknown, legacy: boolean, connLabel: string, canInitiate: boolean, hasPools: boolean): ChildConfig | undefined {
    const c = this.c;
    const o = c.object(path, item, CHILD_KEYS, ['name']);
    if (!o) return undefined;
    const name = o.name === undefined ? undefined : this.name([...path, 'name'], o.name);
    const ts = (key: 'local_ts' | 'remote_ts'): string[] => {
      if (o[key] === undefined || o[key] === null) return ['dynamic'];
      const list = c.stringList([...path, key], o[key]) ?? [];
      if (Array.isArray(o[key]) && list.length === 0) c.error([...path, key], 'needs at least one traffic selector (or leave it out for "dynamic")');
      return list.flatMap((s, i) => {
        const r = checkTrafficSelector(s);
        if (r.ok) return [r.value];
        c.error([...path, key, i], r.error);
        return [];
      });
    };
    const localTs = ts('local_ts');
    const remoteTs = ts('remote_ts');
    if (hasPools && !remoteTs.includes('dynamic')) {
      c.warn([...path, 'remote_ts'], 'the connection hands out virtual IPs but remote_ts lacks "dynamic", so clients cannot use them');
    }
    const espProposals = this.proposals([...path, 'esp_proposals'], o.esp_proposals, 'esp', legacy, connLabel);
    const lifetimeSec = opt(o, 'lifetime', DEFAULTS.childLifetimeSec, (v) => roundSec(c.duration([...path, 'lifetime'], v, 60, YEAR_SEC)));
    const rekeySec = opt(o, 'rekey', Math.min(DEFAULTS.childRekeySec, Math.floor((lifetimeSec * DEFAULTS.childRekeySec) / DEFAULTS.childLifetimeSec)), (v) => roundSec(c.duration([...path, 'rekey'], v, 0, YEAR_SEC)));
    if (rekeySec >= lifetimeSec) {
      c.error([...path, o.rekey !== undefined ? 'rekey' : 'lifetime'], `rekey (${rekeySec}s) must be shorter than lifetime (${lifetimeSec}s)`);
    }
    const replayWindow = opt(o, 'replay_window', DEFAULTS.replayWindow, (v) => c.integer([...path, 'replay_window'], v, 0, 4096));
    const startAction = opt(o, 'start_action', DEFAULTS.startAction, (v) => c.oneOf([...path, 'start_action'], v, START_ACTIONS));
    if (startAction === 'start' && !canInitiate) c.error([...path, 'start_action'], 'start needs remote_addrs on the connection (whom to initiate to)');
    const volume = (key: string) => optionalCount(o, key, (v) => c.integer([...path, key], v, 1, Number.MAX_SAFE_INTEGER));
    const limits = { ...pick('rekeyBytes', volume('rekey_bytes')), ...pick('lifeBytes', volume('life_bytes')), ...pick('rekeyPackets', volume('rekey_packets')), ...pick('lifePackets', volume('life_packets')) };
    for (const [soft, hard, softKey] of [['rekeyBytes', 'lifeBytes', 'rekey_bytes'], ['rekeyPackets', 'lifePackets', 'rekey_packets']] as const) {
      const s = limits[soft];
      const h = limits[hard];
      if (s !== undefined && h !== undefined && s >= h) c.error([...path, softKey], `must be below ${hard === 'lifeBytes' ? 'life_bytes' : 'life_packets'} (${h})`);
    }
    if (name === undefined) return undefined;
    return { name, localTs, remoteTs, espProposals, lifetimeSec, rekeySec, ...limits, replayWindow, startAction };
  }
}

function optionalCount(o: Record<string, unknown>, key: string, parse: (v: unknown) => number | undefined): number | undefined {
  return o[key] === undefined ? undefined : parse(o[key]);
}

function pick<K extends string>(key: K, v: number | undefined): { [P in K]?: number } {
  return v === undefined ? {} : ({ [key]: v } as { [P in K]?: number });
}

function roundSec(s: number | undefined): number | undefined {
  return s === undefined ? undefined : Math.round(s);
}

function connLabel(path: Path, name: string | undefined): string {
  return name === undefined ? `connections[${String(path[1])}]` : `connection "${name}"`;
}

/** Parses config text; relative file names in it resolve against `baseDir`; `fileName` prefixes every message. */
export function parseConfigText(text: string, baseDir: string, fileName = 'config', opts: ParseOptions = {}): ConfigResult {
  let doc: unknown;
  try {
    doc = Bun.YAML.parse(text);
  } catch (e) {
    const line = findSyntaxErrorLine(text, (s) => Bun.YAML.parse(s));
    const msg = (e as Error).message.replace(/^YAML Parse error:\s*/, '');
    return { ok: false, errors: [`${fileName}${line ? `:${line}` : ''}: YAML syntax error: ${msg}`] };
  }
  const locator = createYamlLocator(text);
  const c = new Checker(fileName, locator);
  for (const d of locator.duplicates) c.errorAtLine(d.line, `${d.path}: duplicate key (first set at line ${d.firstLine})`);
  if (doc === null || doc === undefined) return { ok: false, errors: [`${fileName}: the file is empty`] };
  const top = c.object([], doc, TOP_KEYS);
  if (!top) return { ok: false, errors: c.sortedErrors() };
  const config = new ConfigParser(c, baseDir, opts.sig).parse(top);
  if (c.errors.length > 0) return { ok: false, errors: c.sortedErrors() };
  return { ok: true, config, warnings: c.sortedWarnings() };
}
