// Tasks ike-cert-pre / ike-cert-post: CERTREQ and CERT payloads (RFC 7296 §3.6, §3.7; RFC 4945 §3.2).
import { CertEncoding, ExchangeType, PayloadType } from '../constants.ts';
import type { ConnectionConfig } from '../../config/types.ts';
import type { EngineContext } from '../context.ts';
import type { IkeSa } from '../ike-sa.ts';
import type { InMessage, OutMessage } from '../message.ts';
import type { Task, TaskStatus } from '../task.ts';
import { caHashes } from '../codec/index.ts';
import { concatBytes, hex } from '../bytes.ts';

/** SHA-1 SPKI hashes of the CAs we trust for these connections' peers, without duplicates. */
function certReqData(ctx: EngineContext, conns: readonly ConnectionConfig[]): Uint8Array {
  const seen = new Set<string>();
  const hashes: Uint8Array[] = [];
  for (const conn of conns) {
    if (conn.remote.auth !== 'pubkey' || !conn.sendCertReq) continue;
    for (const der of ctx.trustAnchors(conn)) {
      const h = ctx.sig.caKeyHash(der);
      if (h && !seen.has(hex(h))) {
        seen.add(hex(h));
        hashes.push(h);
      }
    }
  }
  return concatBytes(...hashes);
}

/**
 * Before authentication: CERTREQ out (responder in IKE_SA_INIT, initiator in IKE_AUTH, as strongSwan does),
 * and the peer's CERTREQ and CERT payloads in. Requests are only hints: we always send our chain (clients.md:
 * iOS never sends CERTREQ).
 */
export class IkeCertPre implements Task {
  readonly name = 'ike-cert-pre';

  constructor(
    private readonly sa: IkeSa,
    private readonly ctx: EngineContext,
  ) {}

  build(msg: OutMessage): TaskStatus {
    const sa = this.sa;
    const wanted =
      (!sa.initiator && msg.exchange === ExchangeType.IKE_SA_INIT) || (sa.initiator && msg.exchange === ExchangeType.IKE_AUTH);
    if (!wanted) return 'done';
    const data = certReqData(this.ctx, sa.initiator ? [sa.conn] : sa.candidates);
    if (data.length > 0) msg.add({ type: PayloadType.CERTREQ, encoding: CertEncoding.X509_CERT_SIG, data });
    return 'done';
  }

  process(msg: InMessage): TaskStatus {
    const sa = this.sa;
    for (const req of msg.all(PayloadType.CERTREQ)) {
      if (req.encoding === CertEncoding.X509_CERT_SIG) sa.peerCertReqs.push(...caHashes(req));
    }
    if (msg.exchange === ExchangeType.IKE_AUTH) {
      // RFC 4945 §3.2: the first CERT is the end entity; the rest help build the path.
      sa.peerCerts = msg.all(PayloadType.CERT).filter((c) => c.encoding === CertEncoding.X509_CERT_SIG).map((c) => c.data);
    }
    return 'done';
  }
}

/** After authentication: our certificate chain in IKE_AUTH whenever we authenticate with a public key. */
export class IkeCertPost implements Task {
  readonly name = 'ike-cert-post';

  constructor(
    private readonly sa: IkeSa,
    _ctx: EngineContext,
  ) {}

  build(msg: OutMessage): TaskStatus {
    const local = this.sa.conn.local;
    if (msg.exchange !== ExchangeType.IKE_AUTH || local.auth !== 'pubkey') return 'done';
    for (const der of local.certChain ?? []) msg.add({ type: PayloadType.CERT, encoding: CertEncoding.X509_CERT_SIG, data: der });
    return 'done';
  }

  process(_msg: InMessage): TaskStatus {
    return 'done';
  }
}
