// SA proposals: strongSwan-syntax parsing, responder selection (RFC 7296 §2.7, §3.3; RFC 5282 §8 for AEAD).
import { algorithmByName, algorithmFor, isAeadEncr, prfForInteg, type AlgorithmInfo, type ProposalKind } from '../crypto/algorithms.ts';
import { DhId, EsnId, IntegId, ProtocolId, TransformType } from './constants.ts';
import type { Proposal, Transform } from './codec/types.ts';

export type { ProposalKind } from '../crypto/algorithms.ts';

const T = TransformType;
const TYPE_ORDER = [T.ENCR, T.PRF, T.INTEG, T.DH, T.ESN] as const;
/** Transform types that may appear per protocol (RFC 7296 §3.3.3). */
const ALLOWED_TYPES: Readonly<Record<ProposalKind, readonly number[]>> = {
  ike: [T.ENCR, T.PRF, T.INTEG, T.DH],
  esp: [T.ENCR, T.INTEG, T.DH, T.ESN],
};

function protocolOf(kind: ProposalKind): number {
  return kind === 'ike' ? ProtocolId.IKE : ProtocolId.ESP;
}

function toTransform(a: AlgorithmInfo): Transform {
  return a.keyBits !== undefined ? { type: a.type, id: a.id, keyLength: a.keyBits } : { type: a.type, id: a.id };
}

function sameTransform(a: Transform, b: Transform): boolean {
  return a.type === b.type && a.id === b.id && a.keyLength === b.keyLength;
}

export type ParseProposalResult = { ok: true; value: Proposal } | { ok: false; error: string };

/**
 * Parse one proposal such as `aes256gcm16-prfsha256-x25519` (IKE) or `aes256-sha256-modp2048-esn` (ESP).
 * Several algorithms of a type may be listed; their order is our preference. IKE without a PRF takes the PRFs
 * matching its integrity algorithms, as strongSwan does. ESP defaults to `noesn`; `modpnone` makes PFS optional.
 */
export function parseProposal(spec: string, kind: ProposalKind): ParseProposalResult {
  const where = `${kind.toUpperCase()} proposal '${spec}'`;
  const text = spec.trim();
  if (text === '') return { ok: false, error: `empty ${kind.toUpperCase()} proposal` };
  const byType = new Map<number, AlgorithmInfo[]>(TYPE_ORDER.map((t) => [t, []]));
  for (const token of text.split('-')) {
    if (token === '') return { ok: false, error: `empty algorithm name in ${where}` };
    const info = algorithmByName(token);
    if (!info) return { ok: false, error: `unknown algorithm '${token}' in ${where}` };
    if (!info.kinds.includes(kind)) return { ok: false, error: `'${token}' is not allowed in ${where}` };
    const list = byType.get(info.type)!;
    if (list.includes(info)) return { ok: false, error: `duplicate algorithm '${token}' in ${where}` };
    list.push(info);
  }
  const encr = byType.get(T.ENCR)!;
  const integ = byType.get(T.INTEG)!;
  const prf = byType.get(T.PRF)!;
  const dh = byType.get(T.DH)!;
  const esn = byType.get(T.ESN)!;

  if (encr.length === 0) return { ok: false, error: `no encryption algorithm in ${where}` };
  const aead = encr.filter((e) => e.aead);
  const classic = encr.filter((e) => !e.aead);
  if (aead.length > 0 && classic.length > 0) {
    return { ok: false, error: `AEAD '${aead[0]!.name}' and non-AEAD '${classic[0]!.name}' must be separate proposals in ${where}` };
  }
  if (aead.length > 0 && integ.length > 0) {
    return { ok: false, error: `AEAD '${aead[0]!.name}' cannot be combined with integrity algorithm '${integ[0]!.name}' in ${where}` };
  }
  if (classic.length > 0 && integ.length === 0) {
    return { ok: false, error: `'${classic[0]!.name}' needs an integrity algorithm (e.g. sha256) in ${where}` };
  }

  if (kind === 'ike') {
    if (prf.length === 0) {
      if (integ.length === 0) return { ok: false, error: `no PRF (e.g. prfsha256) in ${where}` };
      for (const i of integ) {
        const prfId = prfForInteg(i.id);
        const p = prfId === undefined ? undefined : algorithmFor(T.PRF, prfId);
        if (!p) return { ok: false, error: `no PRF matches '${i.name}'; name one explicitly in ${where}` };
        if (!prf.includes(p)) prf.push(p);
      }
    }
    if (dh.length === 0) return { ok: false, error: `no key exchange method (e.g. x25519) in ${where}` };
  } else {
    if (esn.length === 0) esn.push(algorithmFor(T.ESN, EsnId.NO_ESN)!);
    // A lone `modpnone` is the same as no PFS: omit the transform, as RFC 7296 §1.2 prefers.
    if (dh.length === 1 && dh[0]!.id === DhId.NONE) dh.length = 0;
  }

  const transforms: Transform[] = [];
  for (const t of TYPE_ORDER) for (const a of byType.get(t)!) transforms.push(toTransform(a));
  return { ok: true, value: { num: 1, protocolId: protocolOf(kind), spi: new Uint8Array(0), transforms } };
}

/** Parse a comma-separated list (swanctl `proposals = a, b`), numbering the proposals 1..n. */
export function parseProposals(list: string, kind: ProposalKind): { ok: true; value: Proposal[] } | { ok: false; error: string } {
  const out: Proposal[] = [];
  for (const spec of list.split(',')) {
    const r = parseProposal(spec, kind);
    if (!r.ok) return r;
    out.push({ ...r.value, num: out.length + 1 });
  }
  return { ok: true, value: out };
}

export interface SelectOptions {
  kind: ProposalKind;
  /** Allow algorithms flagged legacy (SHA-1, MD5, (3)DES, MODP < 2048). */
  legacy: boolean;
  /**
   * Ignore key exchange transforms entirely: for the Child SA created in IKE_AUTH, which has no KE payloads
   * (RFC 7296 §1.2). strongSwan's responder does the same (PROPOSAL_SKIP_KE). The result then has no DH.
   */
  skipDh?: boolean;
}

function isLegacy(t: Transform): boolean {
  return algorithmFor(t.type, t.id, t.keyLength)?.legacy ?? false;
}

/**
 * Responder choice (RFC 7296 §2.7): our proposals in our order, then the peer's in theirs; the first pair
 * where every transform type has a common algorithm wins, each type taking our most preferred one.
 * Returns exactly one transform per type, with the peer's proposal number and SPI; null = NO_PROPOSAL_CHOSEN.
 */
export function selectProposal(local: Proposal[], offered: Proposal[], opts: SelectOptions): Proposal | null {
  const protocolId = protocolOf(opts.kind);
  for (const mine of local) {
    if (mine.protocolId !== protocolId) continue;
    for (const theirs of offered) {
      const chosen = matchProposal(mine, theirs, opts);
      if (chosen) return chosen;
    }
  }
  return null;
}

function matchProposal(mine: Proposal, theirs: Proposal, opts: SelectOptions): Proposal | null {
  if (theirs.protocolId !== protocolOf(opts.kind)) return null;
  const spiOk = opts.kind === 'ike' ? theirs.spi.length === 0 || theirs.spi.length === 8 : theirs.spi.length === 4;
  if (!spiOk) return null;
  const allowed = ALLOWED_TYPES[opts.kind];
  for (const t of theirs.transforms) {
    // §3.3.6: a transform type or attribute we do not understand makes the whole proposal unacceptable.
    if (!allowed.includes(t.type)) return null;
    if (t.unknownAttributes && t.unknownAttributes.length > 0) return null;
  }
  const usable = (t: Transform) => opts.legacy || !isLegacy(t);
  const ours = (type: number) => mine.transforms.filter((t) => t.type === type && usable(t));
  const peers = (type: number) => theirs.transforms.filter((t) => t.type === type && usable(t));
  const firstCommon = (a: Transform[], b: Transform[]) => a.find((x) => b.some((y) => sameTransform(x, y)));

  // ENCR decides whether INTEG is needed, so try our ciphers in order until one completes with an INTEG.
  const peerInteg = peers(T.INTEG);
  let encr: Transform | undefined;
  let integ: Transform | undefined;
  for (const e of ours(T.ENCR)) {
    if (!peers(T.ENCR).some((y) => sameTransform(e, y))) continue;
    if (isAeadEncr(e.id)) {
      // RFC 5282 §8: an AEAD cipher takes no INTEG. Any INTEG the peer listed (for a non-AEAD cipher mixed into
      // the same proposal) is simply not selected, as strongSwan's select_algos does; integrity is the AEAD's.
      encr = e;
      integ = undefined;
      break;
    }
    const i = firstCommon(
      ours(T.INTEG).filter((t) => t.id !== IntegId.NONE),
      peerInteg,
    );
    if (i) {
      encr = e;
      integ = i;
      break;
    }
  }
  if (!encr) return null;

  let prf: Transform | undefined;
  if (opts.kind === 'ike') {
    prf = firstCommon(ours(T.PRF), peers(T.PRF));
    if (!prf) return null;
  }

  let dh: Transform | undefined;
  if (opts.kind === 'ike') {
    dh = firstCommon(
      ours(T.DH).filter((t) => t.id !== DhId.NONE),
      peers(T.DH),
    );
    if (!dh) return null;
  } else if (!opts.skipDh) {
    // ESP in CREATE_CHILD_SA. A proposal without a DH transform means "no PFS" (= NONE, RFC 7296 §3.3.3).
    // Our side without PFS matches a peer offering no DH (macOS, Android) or offering NONE among its groups
    // (PFS optional). It does NOT match a peer that offers only real groups (strongSwan with PFS configured):
    // that peer sent KEi and requires KEr, so answering without PFS would be refused; NO_PROPOSAL_CHOSEN is
    // the honest answer. The reverse also holds: our PFS-only proposal refuses a peer without PFS; configure
    // `modpnone` after the groups (e.g. `aes256gcm16-x25519-modpnone`) to make PFS optional for such clients.
    const NONE: Transform = { type: T.DH, id: DhId.NONE };
    const mineDh = ours(T.DH);
    const peerDh = peers(T.DH);
    const chosen = firstCommon(
      mineDh.length > 0 ? mineDh : [NONE],
      theirs.transforms.some((t) => t.type === T.DH) ? peerDh : [NONE],
    );
    if (!chosen) return null;
    if (chosen.id !== DhId.NONE) dh = chosen;
  }

  let esn: Transform | undefined;
  if (opts.kind === 'esp') {
    // ESN is mandatory for ESP, but like strongSwan we read a missing one as "no ESN" and answer with it.
    const NO_ESN: Transform = { type: T.ESN, id: EsnId.NO_ESN };
    const mineEsn = ours(T.ESN);
    const peerEsn = peers(T.ESN);
    esn = firstCommon(mineEsn.length > 0 ? mineEsn : [NO_ESN], peerEsn.length > 0 ? peerEsn : [NO_ESN]);
    if (!esn) return null;
  }

  const transforms = [encr, prf, integ, dh, esn]
    .filter((t): t is Transform => t !== undefined)
    .map((t) => (t.keyLength !== undefined ? { type: t.type, id: t.id, keyLength: t.keyLength } : { type: t.type, id: t.id }));
  return { num: theirs.num, protocolId: theirs.protocolId, spi: theirs.spi.slice(), transforms };
}

function transformName(t: Transform): string {
  const a = algorithmFor(t.type, t.id, t.keyLength);
  if (a) return a.name;
  return `unknown${t.type}_${t.id}${t.keyLength !== undefined ? `_${t.keyLength}` : ''}`;
}

/** Names of the legacy algorithms in a proposal (for warnings and the `legacy` policy switch). */
export function weakAlgorithms(p: Proposal): string[] {
  const out: string[] = [];
  for (const t of p.transforms) {
    if (isLegacy(t)) {
      const name = transformName(t);
      if (!out.includes(name)) out.push(name);
    }
  }
  return out;
}

/** strongSwan short syntax, ENCR-INTEG-PRF-DH-ESN; `noesn` alone is the default and left out, so it parses back. */
export function proposalToString(p: Proposal): string {
  const order = [T.ENCR, T.INTEG, T.PRF, T.DH, T.ESN];
  const parts: string[] = [];
  for (const type of order) {
    const ts = p.transforms.filter((t) => t.type === type);
    if (type === T.ESN && ts.length === 1 && ts[0]!.id === EsnId.NO_ESN) continue;
    for (const t of ts) parts.push(transformName(t));
  }
  for (const t of p.transforms) if (!order.includes(t.type as (typeof order)[number])) parts.push(transformName(t));
  return parts.join('-');
}
