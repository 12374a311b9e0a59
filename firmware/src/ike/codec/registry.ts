// Payload type → codec table (RFC 7296 §3.2, RFC 7383 §2.5): the one place that lists what we understand.
import { auth } from './auth.ts';
import { cert } from './cert.ts';
import { certreq } from './certreq.ts';
import { cp } from './cp.ts';
import { del } from './delete.ts';
import { eap } from './eap.ts';
import { idi, idr } from './id.ts';
import { ke } from './ke.ts';
import { nonce } from './nonce.ts';
import { notify } from './notify.ts';
import type { PayloadCodec } from './payload-codec.ts';
import { sa } from './sa.ts';
import { sk } from './sk.ts';
import { skf } from './skf.ts';
import { tsi, tsr } from './ts.ts';
import type { Payload } from './types.ts';
import { vendor } from './vendor.ts';

const codecs = [sa, ke, idi, idr, cert, certreq, auth, nonce, notify, del, vendor, tsi, tsr, sk, cp, eap, skf] as const;

const byType = new Map<number, PayloadCodec<Payload>>();
for (const c of codecs) byType.set(c.type, c as unknown as PayloadCodec<Payload>);

export function codecFor(type: number): PayloadCodec<Payload> | undefined {
  return byType.get(type);
}

/** Short RFC notation (SA, KE, Ni...) for logs and errors; IDi/IDr and TSi/TSr keep their suffix. */
export function payloadName(type: number): string {
  return byType.get(type)?.name ?? `payload ${type}`;
}
