// Whole-message fixtures (RFC 7296 §3.1) and negative fixtures for the message and payload decoders.
import { Notify, PayloadType as P } from '../../../firmware/src/ike/constants.ts';
import type { IkeMessage } from '../../../firmware/src/ike/codec/types.ts';
import { annotatedHex } from './hex.ts';

const h = annotatedHex;
const hexOf = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const seq = (n: number, start = 0) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);

export interface MessageFixture {
  name: string;
  bytes: Uint8Array;
  message: IkeMessage;
}

const SA_PROPOSALS_HEX = `
      02 00 002c 01 01 00 04          # proposal 1 (more), IKE, 4 transforms
      03 00 000c 01 00 000c 800e 0100 #   ENCR AES_CBC-256
      03 00 0008 02 00 0005           #   PRF HMAC_SHA2_256
      03 00 0008 03 00 000c           #   INTEG HMAC_SHA2_256_128
      00 00 0008 04 00 0013           #   DH ECP_256
      00 00 0024 02 01 00 03          # proposal 2 (last), IKE, 3 transforms
      03 00 000c 01 00 0014 800e 0080 #   ENCR AES_GCM_16-128
      03 00 0008 02 00 0006           #   PRF HMAC_SHA2_384
      00 00 0008 04 00 001f           #   DH CURVE25519
`;
const SA_PROPOSALS = [
  { num: 1, protocolId: 1, spi: new Uint8Array(0), transforms: [{ type: 1, id: 12, keyLength: 256 }, { type: 2, id: 5 }, { type: 3, id: 12 }, { type: 4, id: 19 }] },
  { num: 2, protocolId: 1, spi: new Uint8Array(0), transforms: [{ type: 1, id: 20, keyLength: 128 }, { type: 2, id: 6 }, { type: 4, id: 31 }] },
];

const spiI = h('0011223344556677');
const spiR = h('8899aabbccddeeff');
const zero8 = new Uint8Array(8);
const none = new Uint8Array(0);

export const messageFixtures: MessageFixture[] = [
  {
    name: 'IKE_SA_INIT request: SA KE Ni N(NAT_D src) N(NAT_D dst) N(FRAGMENTATION) N(SIGNATURE_HASH)',
    bytes: h(`
      0011223344556677    # SPIi
      0000000000000000    # SPIr: zero in the first request
      21 20 22 08         # next SA, version 2.0, IKE_SA_INIT, flags Initiator
      00000000            # message ID 0
      0000010c            # length 268
      22 00 0054          # SA: next KE, length 84
      ${SA_PROPOSALS_HEX}
      28 00 0028 001f 0000 ${hexOf(seq(32, 0x40))}   # KE: next Ni, CURVE25519
      29 00 0024 ${hexOf(seq(32, 0x10))}             # Ni: next N, 32 octets
      29 00 001c 00 00 4004 ${hexOf(seq(20, 0x60))}  # N(NAT_DETECTION_SOURCE_IP)
      29 00 001c 00 00 4005 ${hexOf(seq(20, 0x80))}  # N(NAT_DETECTION_DESTINATION_IP)
      29 00 0008 00 00 402e                          # N(IKEV2_FRAGMENTATION_SUPPORTED)
      00 00 0010 00 00 402f 0002 0003 0004 0005      # N(SIGNATURE_HASH_ALGORITHMS)
    `),
    message: {
      header: { spiI, spiR: zero8, nextPayload: P.SA, version: 0x20, exchange: 34, flags: 0x08, messageId: 0, length: 268 },
      payloads: [
        { type: P.SA, proposals: SA_PROPOSALS },
        { type: P.KE, dhGroup: 31, data: seq(32, 0x40) },
        { type: P.NONCE, data: seq(32, 0x10) },
        { type: P.NOTIFY, protocolId: 0, spi: none, notifyType: Notify.NAT_DETECTION_SOURCE_IP, data: seq(20, 0x60) },
        { type: P.NOTIFY, protocolId: 0, spi: none, notifyType: Notify.NAT_DETECTION_DESTINATION_IP, data: seq(20, 0x80) },
        { type: P.NOTIFY, protocolId: 0, spi: none, notifyType: Notify.IKEV2_FRAGMENTATION_SUPPORTED, data: none },
        { type: P.NOTIFY, protocolId: 0, spi: none, notifyType: Notify.SIGNATURE_HASH_ALGORITHMS, data: h('0002000300040005') },
      ],
    },
  },
  {
    name: 'IKE_SA_INIT response: N(INVALID_KE_PAYLOAD) only',
    bytes: h(`
      0011223344556677 0000000000000000
      29 20 22 20         # next N, IKE_SA_INIT, flags Response
      00000000 00000026   # message ID 0, length 38
      00 00 000a 00 00 0011 001f   # N(INVALID_KE_PAYLOAD, group 31)
    `),
    message: {
      header: { spiI, spiR: zero8, nextPayload: P.NOTIFY, version: 0x20, exchange: 34, flags: 0x20, messageId: 0, length: 38 },
      payloads: [{ type: P.NOTIFY, protocolId: 0, spi: none, notifyType: Notify.INVALID_KE_PAYLOAD, data: h('001f') }],
    },
  },
  {
    name: 'INFORMATIONAL request: SK only (undecrypted)',
    bytes: h(`
      0011223344556677 8899aabbccddeeff
      2e 20 25 08         # next SK, INFORMATIONAL, Initiator
      00000005 00000038   # message ID 5, length 56
      00 00 001c ${hexOf(seq(24, 0xc0))}   # SK: inner next NONE (empty), IV||ct||ICV
    `),
    message: {
      header: { spiI, spiR, nextPayload: P.SK, version: 0x20, exchange: 37, flags: 0x08, messageId: 5, length: 56 },
      payloads: [{ type: P.SK, innerNext: 0, body: seq(24, 0xc0) }],
    },
  },
  {
    name: 'message with no payloads (minor version 2.1 accepted)',
    bytes: h(`
      0011223344556677 8899aabbccddeeff
      00 21 25 20 00000007 0000001c   # next NONE, version 2.1, INFORMATIONAL response, length 28
    `),
    message: { header: { spiI, spiR, nextPayload: 0, version: 0x21, exchange: 37, flags: 0x20, messageId: 7, length: 28 }, payloads: [] },
  },
];

export interface NegativeFixture {
  name: string;
  bytes: Uint8Array;
  /** 'message': decodeMessage(bytes); otherwise decodePayloads(first, bytes). */
  first?: number;
  notify?: number;
  notifyData?: Uint8Array;
  error: RegExp;
}

const HDR = (next: string, len: string) => `0011223344556677 8899aabbccddeeff ${next} 20 25 08 00000001 ${len}`;

export const negativeFixtures: NegativeFixture[] = [
  { name: 'truncated header (27 octets)', bytes: h(HDR('00', '0000001c')).subarray(0, 27), notify: Notify.INVALID_SYNTAX, error: /truncated IKE header/ },
  { name: 'empty datagram', bytes: new Uint8Array(0), notify: Notify.INVALID_SYNTAX, error: /truncated IKE header/ },
  {
    name: 'major version 3 → INVALID_MAJOR_VERSION',
    bytes: h('0011223344556677 8899aabbccddeeff 00 30 25 08 00000001 0000001c'),
    notify: Notify.INVALID_MAJOR_VERSION,
    error: /major version 3/,
  },
  { name: 'IKEv1 (major 1) dropped without a notify', bytes: h('0011223344556677 0000000000000000 01 10 02 00 00000000 0000001c'), error: /not IKEv2/ },
  { name: 'header length smaller than the header', bytes: h(HDR('00', '00000010')), notify: Notify.INVALID_SYNTAX, error: /shorter than the header/ },
  { name: 'header length beyond the datagram', bytes: h(HDR('00', '00000020')), notify: Notify.INVALID_SYNTAX, error: /truncated message/ },
  { name: 'datagram longer than the header length', bytes: h(`${HDR('00', '0000001c')} 00000000`), notify: Notify.INVALID_SYNTAX, error: /trailing octets/ },
  { name: 'next payload named but nothing follows', bytes: h(HDR('28', '0000001c')), notify: Notify.INVALID_SYNTAX, error: /header truncated/ },
  {
    name: 'payload length overruns the message',
    bytes: h(`${HDR('28', '00000030')} 00 00 0015 ${'01'.repeat(16)}`),
    notify: Notify.INVALID_SYNTAX,
    error: /overruns the message/,
  },
  { name: 'zero payload length (would loop)', bytes: h(`${HDR('29', '00000020')} 29 00 0000`), notify: Notify.INVALID_SYNTAX, error: /length 0 too small/ },
  { name: 'payload length 3', bytes: h(`${HDR('2b', '00000020')} 00 00 0003`), notify: Notify.INVALID_SYNTAX, error: /length 3 too small/ },
  {
    name: 'octets after the last payload',
    bytes: h(`${HDR('2b', '00000024')} 00 00 0004 deadbeef`),
    notify: Notify.INVALID_SYNTAX,
    error: /after the last payload/,
  },
  {
    name: 'unknown critical payload → UNSUPPORTED_CRITICAL_PAYLOAD with its type',
    bytes: h(`${HDR('2b', '00000028')} 31 00 0004 00 80 0008 cafebabe`), // V, then type 49 critical
    notify: Notify.UNSUPPORTED_CRITICAL_PAYLOAD,
    notifyData: Uint8Array.of(49),
    error: /unsupported critical payload type 49/,
  },
  {
    name: 'SK not the last payload',
    bytes: h(`${HDR('2e', '00000030')} 00 00 000c ${'aa'.repeat(8)} 00 00 0008 cafebabe`),
    notify: Notify.INVALID_SYNTAX,
    error: /SK is not the last payload/,
  },
  {
    name: 'SKF with fragment number 0',
    bytes: h(`${HDR('35', '00000030')} 00 00 0014 0000 0002 ${'aa'.repeat(12)}`),
    notify: Notify.INVALID_SYNTAX,
    error: /Fragment Number 0/,
  },
  {
    name: 'SKF with fragment number above total',
    bytes: h(`${HDR('35', '00000030')} 00 00 0014 0003 0002 ${'aa'.repeat(12)}`),
    notify: Notify.INVALID_SYNTAX,
    error: /Fragment Number 3 outside 1..2/,
  },
  // Payload-level negatives (decodePayloads).
  { name: 'transform length 7', first: P.SA, bytes: h('00 00 0014 00 00 0010 01 01 00 01 00 00 0007 01 00 000c'), notify: Notify.INVALID_SYNTAX, error: /transform length 7 too small/ },
  {
    name: 'transform length overruns the proposal',
    first: P.SA,
    bytes: h('00 00 0014 00 00 0010 01 01 00 01 00 00 000c 01 00 000c'),
    notify: Notify.INVALID_SYNTAX,
    error: /overruns the proposal/,
  },
  {
    name: 'proposal length overruns the SA payload',
    first: P.SA,
    bytes: h('00 00 0014 00 00 0011 01 01 00 01 00 00 0008 01 00 000c'),
    notify: Notify.INVALID_SYNTAX,
    error: /overruns the SA payload/,
  },
  {
    name: 'fewer transforms than Num Transforms',
    first: P.SA,
    bytes: h('00 00 0014 00 00 0010 01 01 00 02 00 00 0008 01 00 000c'),
    notify: Notify.INVALID_SYNTAX,
    error: /transform 2 of 2 truncated|Last Substruc/,
  },
  {
    name: 'transform Last Substruc says more on the last transform',
    first: P.SA,
    bytes: h('00 00 0014 00 00 0010 01 01 00 01 03 00 0008 01 00 000c'),
    notify: Notify.INVALID_SYNTAX,
    error: /Last Substruc 3/,
  },
  {
    name: 'proposal Last Substruc 0 with another proposal following',
    first: P.SA,
    bytes: h('00 00 0024 00 00 0010 01 01 00 01 00 00 0008 01 00 000c 00 00 0010 02 01 00 01 00 00 0008 01 00 000c'),
    notify: Notify.INVALID_SYNTAX,
    error: /Last Substruc 0 does not match/,
  },
  {
    name: 'proposal numbers out of sequence',
    first: P.SA,
    bytes: h('00 00 0024 02 00 0010 01 01 00 01 00 00 0008 01 00 000c 00 00 0010 03 01 00 01 00 00 0008 01 00 000c'),
    notify: Notify.INVALID_SYNTAX,
    error: /Proposal Num 3 out of sequence/,
  },
  { name: 'SA without proposals', first: P.SA, bytes: h('00 00 0004'), notify: Notify.INVALID_SYNTAX, error: /without proposals/ },
  {
    name: 'duplicate Key Length attribute',
    first: P.SA,
    bytes: h('00 00 001c 00 00 0018 01 01 00 01 00 00 0010 01 00 000c 800e 0080 800e 0100'),
    notify: Notify.INVALID_SYNTAX,
    error: /duplicate Key Length/,
  },
  {
    name: 'TLV attribute length overruns the transform',
    first: P.SA,
    bytes: h('00 00 0018 00 00 0014 01 01 00 01 00 00 000c 01 00 000c 0005 0009'),
    notify: Notify.INVALID_SYNTAX,
    error: /attribute 5 length 9 overruns/,
  },
  { name: 'nonce of 15 octets', first: P.NONCE, bytes: h(`00 00 0013 ${'01'.repeat(15)}`), notify: Notify.INVALID_SYNTAX, error: /nonce of 15 octets/ },
  { name: 'nonce of 257 octets', first: P.NONCE, bytes: h(`00 00 0105 ${'01'.repeat(257)}`), notify: Notify.INVALID_SYNTAX, error: /nonce of 257 octets/ },
  { name: 'KE body of 3 octets', first: P.KE, bytes: h('00 00 0007 001f00'), notify: Notify.INVALID_SYNTAX, error: /KE payload body too short/ },
  { name: 'Notify SPI size overruns', first: P.NOTIFY, bytes: h('00 00 000a 03 04 4009 c0ff'), notify: Notify.INVALID_SYNTAX, error: /SPI size 4 overruns/ },
  { name: 'Delete SPI count does not fill', first: P.DELETE, bytes: h('00 00 0010 03 04 0003 c0000001 c0000002'), notify: Notify.INVALID_SYNTAX, error: /do not fill/ },
  { name: 'Delete with SPIs of size 0', first: P.DELETE, bytes: h('00 00 0008 03 00 0002'), notify: Notify.INVALID_SYNTAX, error: /SPIs of size 0/ },
  {
    name: 'TS selector length wrong for IPv4',
    first: P.TSi,
    bytes: h('00 00 0018 01 000000 07 00 0011 0000 ffff 00000000 ffffffff'),
    notify: Notify.INVALID_SYNTAX,
    error: /selector length 17/,
  },
  { name: 'TS count larger than the selectors present', first: P.TSi, bytes: h('00 00 0018 02 000000 07 00 0010 0000 ffff 00000000 ffffffff'), notify: Notify.INVALID_SYNTAX, error: /selector 2 of 2 truncated/ },
  { name: 'TS of unsupported type', first: P.TSi, bytes: h('00 00 0018 01 000000 09 00 0010 0000 ffff 00000000 ffffffff'), notify: Notify.INVALID_SYNTAX, error: /unsupported TS type 9/ },
  { name: 'CP attribute overruns', first: P.CP, bytes: h('00 00 000c 01 000000 0001 0004'), notify: Notify.INVALID_SYNTAX, error: /overruns/ },
  { name: 'EAP Length differs from the payload', first: P.EAP, bytes: h('00 00 0009 01 2a 0006 01'), notify: Notify.INVALID_SYNTAX, error: /EAP Length 6/ },
  { name: 'EAP Request without a Type', first: P.EAP, bytes: h('00 00 0008 01 2a 0004'), notify: Notify.INVALID_SYNTAX, error: /without a Type/ },
  { name: 'ID payload body of 2 octets', first: P.IDi, bytes: h('00 00 0006 0200'), notify: Notify.INVALID_SYNTAX, error: /IDi payload body too short/ },
  { name: 'AUTH payload body of 3 octets', first: P.AUTH, bytes: h('00 00 0007 020000'), notify: Notify.INVALID_SYNTAX, error: /AUTH payload body too short/ },
  { name: 'CERT without encoding', first: P.CERT, bytes: h('00 00 0004'), notify: Notify.INVALID_SYNTAX, error: /without Cert Encoding/ },
  { name: 'CERTREQ without encoding', first: P.CERTREQ, bytes: h('00 00 0004'), notify: Notify.INVALID_SYNTAX, error: /without Cert Encoding/ },
];
