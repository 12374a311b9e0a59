// IKEv2 message fragmentation (RFC 7383 §2.5 sending, §2.6 receiving and reassembly).
import type { SkTransform } from '../../crypto/types.ts';
import { PayloadType } from '../constants.ts';
import { concat, ok, putU16, syntax } from './bytes.ts';
import { encodeHeader, HEADER_LEN } from './header.ts';
import { encodePayloads, walkPayloads, type HeaderFields } from './message.ts';
import { encryptedPayloadLen, openBody, padPlaintext, sealBody } from './protect.ts';
import { SKF_HEADER_LEN } from './skf.ts';
import type { Decoded, IkeMessage, Payload, SkfPayload } from './types.ts';

const MAX_TOTAL_FRAGMENTS = 0xffff;

/**
 * Splits `inner` into SKF messages of at most `maxMessageLen` octets each (IKE header included, UDP/IP and
 * the non-ESP marker excluded: the caller subtracts those). Each fragment is sealed on its own with
 * aad = IKE header || SKF header incl. Fragment Number and Total Fragments (§2.5).
 * Throws RangeError when maxMessageLen leaves no room for content or needs more than 65535 fragments.
 */
export function sealFragments(
  header: HeaderFields,
  inner: readonly Payload[],
  sk: SkTransform,
  random: (n: number) => Uint8Array,
  maxMessageLen: number,
): Uint8Array[] {
  const { first, bytes } = encodePayloads(inner);
  const bl = Math.max(1, sk.blockLen);
  const room = Math.floor(maxMessageLen) - HEADER_LEN - SKF_HEADER_LEN - sk.ivLen - sk.icvLen;
  const maxChunk = Math.floor(room / bl) * bl - 1; // one octet is the Pad Length
  if (!(maxChunk >= 1)) throw new RangeError(`maxMessageLen ${maxMessageLen} leaves no room for fragment content`);
  const total = Math.max(1, Math.ceil(bytes.length / maxChunk));
  if (total > MAX_TOTAL_FRAGMENTS) throw new RangeError(`message needs ${total} fragments, more than ${MAX_TOTAL_FRAGMENTS}`);
  const out: Uint8Array[] = [];
  for (let n = 1; n <= total; n++) {
    const plaintext = padPlaintext(bytes.subarray((n - 1) * maxChunk, n * maxChunk), bl);
    const skfLen = encryptedPayloadLen(SKF_HEADER_LEN, plaintext.length, sk);
    const head = encodeHeader({ ...header, nextPayload: PayloadType.SKF, length: HEADER_LEN + skfLen });
    const skfHead = new Uint8Array(SKF_HEADER_LEN);
    skfHead[0] = n === 1 ? first : PayloadType.NONE;
    putU16(skfHead, 2, skfLen);
    putU16(skfHead, 4, n);
    putU16(skfHead, 6, total);
    out.push(sealBody(concat([head, skfHead]), plaintext, sk, random));
  }
  return out;
}

export interface ReassemblerLimits {
  /** Largest Total Fragments accepted (default 64): more is refused before any decryption. */
  maxFragments?: number;
  /** Largest reassembled plaintext in octets (default 64 KiB). */
  maxBytes?: number;
}

export type ReassemblyResult = { done: false } | { done: true; payloads: Payload[] };

/**
 * Collects the fragments of one message (one IKE SA, one message ID). Fragments are authenticated one by
 * one before they are kept (§2.6.1), so a forged fragment can neither fill the buffer nor restart it.
 */
export class FragmentReassembler {
  readonly maxFragments: number;
  readonly maxBytes: number;
  private chunks: (Uint8Array | undefined)[] = [];
  private count = 0;
  private bytes = 0;
  private innerNext = 0;
  private id: number | undefined;
  private exchange: number | undefined;
  private complete = false;

  constructor(limits: ReassemblerLimits = {}) {
    this.maxFragments = Math.min(limits.maxFragments ?? 64, MAX_TOTAL_FRAGMENTS);
    this.maxBytes = limits.maxBytes ?? 64 * 1024;
  }

  /** Message ID being reassembled, once a fragment has been accepted. */
  get messageId(): number | undefined {
    return this.id;
  }
  get received(): number {
    return this.count;
  }
  get total(): number {
    return this.chunks.length;
  }
  get done(): boolean {
    return this.complete;
  }

  reset(): void {
    this.chunks = [];
    this.count = 0;
    this.bytes = 0;
    this.innerNext = 0;
    this.id = undefined;
    this.exchange = undefined;
    this.complete = false;
  }

  /** `msg` is `raw` decoded by decodeMessage; its last payload must be SKF. Never throws on peer input. */
  add(raw: Uint8Array, msg: IkeMessage, sk: SkTransform): Decoded<ReassemblyResult> {
    const last = msg.payloads[msg.payloads.length - 1];
    if (last === undefined || last.type !== PayloadType.SKF || !('fragmentNumber' in last)) {
      return syntax('message does not end with an SKF payload');
    }
    const frag = last as SkfPayload;
    if (msg.header.length !== raw.length) return syntax('raw octets do not match the decoded header');
    if (this.complete) return { ok: false, error: 'message already reassembled' };
    const { messageId, exchange } = msg.header;
    if (this.id !== undefined && (messageId !== this.id || exchange !== this.exchange)) {
      return { ok: false, error: `fragment of message ${messageId} while reassembling message ${this.id}` };
    }
    const total = frag.totalFragments;
    if (total > this.maxFragments) return { ok: false, error: `${total} fragments exceed the limit of ${this.maxFragments}` };
    // §2.6.2: a smaller total is a stale retransmission; a larger one means the peer re-fragmented smaller.
    if (total < this.chunks.length) return { ok: false, error: `fragment of a ${total}-fragment set while collecting ${this.chunks.length}` };
    if (total === this.chunks.length && this.chunks[frag.fragmentNumber - 1] !== undefined) return ok({ done: false });

    const content = openBody(raw, frag.body.length, sk);
    if (!content.ok) return content;

    if (total > this.chunks.length) {
      this.reset();
      this.chunks = new Array<Uint8Array | undefined>(total).fill(undefined);
      this.id = messageId;
      this.exchange = exchange;
    }
    if (this.bytes + content.value.length > this.maxBytes) {
      this.reset();
      return { ok: false, error: `reassembled message exceeds ${this.maxBytes} octets` };
    }
    this.chunks[frag.fragmentNumber - 1] = content.value.slice();
    this.count++;
    this.bytes += content.value.length;
    if (frag.fragmentNumber === 1) this.innerNext = frag.innerNext;
    if (this.count < total) return ok({ done: false });

    this.complete = true;
    const whole = concat(this.chunks as Uint8Array[]);
    const payloads = walkPayloads(this.innerNext, whole, false);
    return payloads.ok ? ok({ done: true, payloads: payloads.value }) : payloads;
  }
}
