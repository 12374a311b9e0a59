// Payload fixtures (RFC 7296 §3.2-§3.16, RFC 7383 §2.5): annotated hex of a payload chain and its decoded form.
import { PayloadType as P } from '../../../firmware/src/ike/constants.ts';
import type { Payload } from '../../../firmware/src/ike/codec/types.ts';
import { annotatedHex } from './hex.ts';

export interface PayloadFixture {
  name: string;
  /** Type of the first payload (what the IKE header or the SK Next Payload octet would say). */
  first: number;
  bytes: Uint8Array;
  payloads: Payload[];
  /** false: a valid but non-canonical encoding that decodes to `payloads` and re-encodes differently. */
  canonical?: boolean;
}

const h = annotatedHex;
const fill = (n: number, v: number) => new Uint8Array(n).fill(v);
const seq = (n: number, start = 0) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);
const hexOf = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const utf8 = (s: string) => new TextEncoder().encode(s);

export const payloadFixtures: PayloadFixture[] = [
  {
    name: 'SA: two IKE proposals, Key Length attributes, last/more flags',
    first: P.SA,
    bytes: h(`
      00 00 0054          # generic header: next NONE, not critical, length 84
      02 00 002c          # proposal: more follow (2), length 44
      01 01 00 04         # proposal 1, protocol IKE, SPI size 0, 4 transforms
      03 00 000c 01 00 000c   # transform (more): ENCR AES_CBC
      800e 0100               #   TV Key Length = 256
      03 00 0008 02 00 0005   # PRF HMAC_SHA2_256
      03 00 0008 03 00 000c   # INTEG HMAC_SHA2_256_128
      00 00 0008 04 00 0013   # last transform: DH ECP_256
      00 00 0024          # last proposal, length 36
      02 01 00 03         # proposal 2, IKE, SPI size 0, 3 transforms
      03 00 000c 01 00 0014 800e 0080   # ENCR AES_GCM_16, Key Length 128
      03 00 0008 02 00 0006             # PRF HMAC_SHA2_384
      00 00 0008 04 00 001f             # DH CURVE25519
    `),
    payloads: [
      {
        type: P.SA,
        proposals: [
          { num: 1, protocolId: 1, spi: new Uint8Array(0), transforms: [{ type: 1, id: 12, keyLength: 256 }, { type: 2, id: 5 }, { type: 3, id: 12 }, { type: 4, id: 19 }] },
          { num: 2, protocolId: 1, spi: new Uint8Array(0), transforms: [{ type: 1, id: 20, keyLength: 128 }, { type: 2, id: 6 }, { type: 4, id: 31 }] },
        ],
      },
    ],
  },
  {
    name: 'SA: two ESP proposals with 4-octet SPI, ESN choices',
    first: P.SA,
    bytes: h(`
      00 00 0054          # generic header, length 84
      02 00 0020          # proposal (more), length 32
      01 03 04 02         # proposal 1, ESP, SPI size 4, 2 transforms
      c0ffee01            # SPI
      03 00 000c 01 00 0014 800e 0100   # ENCR AES_GCM_16, Key Length 256
      00 00 0008 05 00 0000             # ESN: no ESN
      00 00 0030          # last proposal, length 48
      02 03 04 04         # proposal 2, ESP, SPI size 4, 4 transforms
      c0ffee01            # SPI (the same SPI in every proposal)
      03 00 000c 01 00 000c 800e 0080   # ENCR AES_CBC, Key Length 128
      03 00 0008 03 00 000c             # INTEG HMAC_SHA2_256_128
      03 00 0008 05 00 0000             # ESN none
      00 00 0008 05 00 0001             # ESN yes
    `),
    payloads: [
      {
        type: P.SA,
        proposals: [
          { num: 1, protocolId: 3, spi: h('c0ffee01'), transforms: [{ type: 1, id: 20, keyLength: 256 }, { type: 5, id: 0 }] },
          { num: 2, protocolId: 3, spi: h('c0ffee01'), transforms: [{ type: 1, id: 12, keyLength: 128 }, { type: 3, id: 12 }, { type: 5, id: 0 }, { type: 5, id: 1 }] },
        ],
      },
    ],
  },
  {
    name: 'SA: IKE rekey proposal with 8-octet SPI',
    first: P.SA,
    bytes: h(`
      00 00 0030          # generic header, length 48
      00 00 002c          # last proposal, length 44
      01 01 08 03         # proposal 1, IKE, SPI size 8, 3 transforms
      0102030405060708    # new IKE SPI
      03 00 000c 01 00 0014 800e 0100   # ENCR AES_GCM_16-256
      03 00 0008 02 00 0005             # PRF HMAC_SHA2_256
      00 00 0008 04 00 001f             # DH CURVE25519
    `),
    payloads: [
      {
        type: P.SA,
        proposals: [{ num: 1, protocolId: 1, spi: seq(8, 1), transforms: [{ type: 1, id: 20, keyLength: 256 }, { type: 2, id: 5 }, { type: 4, id: 31 }] }],
      },
    ],
  },
  {
    name: 'SA: answer carrying the chosen proposal number 2',
    first: P.SA,
    bytes: h(`
      00 00 0028          # generic header, length 40
      00 00 0024 02 01 00 03            # last proposal, length 36, num 2, IKE, no SPI, 3 transforms
      03 00 000c 01 00 0014 800e 0080   # ENCR AES_GCM_16-128
      03 00 0008 02 00 0006             # PRF HMAC_SHA2_384
      00 00 0008 04 00 001f             # DH CURVE25519
    `),
    payloads: [
      { type: P.SA, proposals: [{ num: 2, protocolId: 1, spi: new Uint8Array(0), transforms: [{ type: 1, id: 20, keyLength: 128 }, { type: 2, id: 6 }, { type: 4, id: 31 }] }] },
    ],
  },
  {
    name: 'SA: unknown TV attribute recorded beside Key Length',
    first: P.SA,
    bytes: h(`
      00 00 001c          # generic header, length 28
      00 00 0018 01 01 00 01            # last proposal, length 24, num 1, IKE, 1 transform
      00 00 0010 01 00 000c             # last transform, length 16: ENCR AES_CBC
      800e 0080                         #   TV Key Length 128
      8123 0000                         #   TV attribute type 0x0123 (unknown), value 0
    `),
    payloads: [{ type: P.SA, proposals: [{ num: 1, protocolId: 1, spi: new Uint8Array(0), transforms: [{ type: 1, id: 12, keyLength: 128, unknownAttributes: [0x123] }] }] }],
  },
  {
    name: 'SA: unknown TLV attribute (non-canonical: re-encoded as TV)',
    first: P.SA,
    canonical: false,
    bytes: h(`
      00 00 001b          # generic header, length 27
      00 00 0017 01 01 00 01            # last proposal, length 23
      00 00 000f 01 00 000c             # last transform, length 15: ENCR AES_CBC
      0005 0003 aabbcc                  #   TLV attribute type 5, length 3
    `),
    payloads: [{ type: P.SA, proposals: [{ num: 1, protocolId: 1, spi: new Uint8Array(0), transforms: [{ type: 1, id: 12, unknownAttributes: [5] }] }] }],
  },
  {
    name: 'KE: CURVE25519 public value',
    first: P.KE,
    bytes: h(`
      00 00 0028          # generic header, length 40
      001f 0000           # DH group 31, RESERVED
      ${hexOf(seq(32, 0x40))}   # 32-octet public value
    `),
    payloads: [{ type: P.KE, dhGroup: 31, data: seq(32, 0x40) }],
  },
  {
    name: 'IDi FQDN then IDr IPv4 (chain)',
    first: P.IDi,
    bytes: h(`
      24 00 0016          # IDi: next IDr (36), length 22
      02 000000           # ID_FQDN, RESERVED
      636c69656e742e6578616d706c65   # "client.example"
      00 00 000c          # IDr: next NONE, length 12
      01 000000           # ID_IPV4_ADDR
      c0000201            # 192.0.2.1
    `),
    payloads: [
      { type: P.IDi, idType: 2, data: utf8('client.example') },
      { type: P.IDr, idType: 1, data: h('c0000201') },
    ],
  },
  {
    name: 'CERT: X.509 signature',
    first: P.CERT,
    bytes: h(`
      00 00 000a          # length 10
      04                  # X509_CERT_SIG
      3003020101          # (a tiny DER SEQUENCE standing in for a certificate)
    `),
    payloads: [{ type: P.CERT, encoding: 4, data: h('3003020101') }],
  },
  {
    name: 'CERTREQ: two CA SPKI SHA-1 hashes',
    first: P.CERTREQ,
    bytes: h(`
      00 00 002d          # length 45
      04                  # X509_CERT_SIG
      ${hexOf(fill(20, 0x11))}   # CA 1 hash
      ${hexOf(fill(20, 0x22))}   # CA 2 hash
    `),
    payloads: [{ type: P.CERTREQ, encoding: 4, data: new Uint8Array([...fill(20, 0x11), ...fill(20, 0x22)]) }],
  },
  {
    name: 'AUTH: shared key MIC',
    first: P.AUTH,
    bytes: h(`
      00 00 0028          # length 40
      02 000000           # SHARED_KEY_MIC, RESERVED
      ${hexOf(seq(32, 0xa0))}
    `),
    payloads: [{ type: P.AUTH, method: 2, data: seq(32, 0xa0) }],
  },
  {
    name: 'NONCE: 16, 32 and 256 octets (chain of the bounds)',
    first: P.NONCE,
    bytes: h(`
      28 00 0014 ${hexOf(fill(16, 1))}    # next NONCE, length 20: 16-octet nonce (minimum)
      28 00 0024 ${hexOf(fill(32, 2))}    # length 36: 32 octets
      00 00 0104 ${hexOf(fill(256, 3))}   # length 260: 256 octets (maximum)
    `),
    payloads: [
      { type: P.NONCE, data: fill(16, 1) },
      { type: P.NONCE, data: fill(32, 2) },
      { type: P.NONCE, data: fill(256, 3) },
    ],
  },
  {
    name: 'NOTIFY: status without SPI, with SPI (REKEY_SA/ESP), error with data, SIGNATURE_HASH_ALGORITHMS',
    first: P.NOTIFY,
    bytes: h(`
      29 00 001c          # N: next N, length 28
      00 00 4004          # protocol 0, SPI size 0, NAT_DETECTION_SOURCE_IP
      ${hexOf(seq(20, 0x30))}   # SHA-1 hash
      29 00 000c          # N, length 12
      03 04 4009          # protocol ESP, SPI size 4, REKEY_SA
      c0ffee01            # SPI
      29 00 000a          # N, length 10
      00 00 0011 001f     # INVALID_KE_PAYLOAD, data: group 31
      00 00 0010          # N: last, length 16
      00 00 402f          # SIGNATURE_HASH_ALGORITHMS
      0002 0003 0004 0005 # SHA2_256, SHA2_384, SHA2_512, IDENTITY
    `),
    payloads: [
      { type: P.NOTIFY, protocolId: 0, spi: new Uint8Array(0), notifyType: 16388, data: seq(20, 0x30) },
      { type: P.NOTIFY, protocolId: 3, spi: h('c0ffee01'), notifyType: 16393, data: new Uint8Array(0) },
      { type: P.NOTIFY, protocolId: 0, spi: new Uint8Array(0), notifyType: 17, data: h('001f') },
      { type: P.NOTIFY, protocolId: 0, spi: new Uint8Array(0), notifyType: 16431, data: h('0002000300040005') },
    ],
  },
  {
    name: 'DELETE: three ESP SPIs, then the IKE SA',
    first: P.DELETE,
    bytes: h(`
      2a 00 0014          # D: next D, length 20
      03 04 0003          # ESP, SPI size 4, 3 SPIs
      c0000001 c0000002 c0000003
      00 00 0008          # D: last, length 8
      01 00 0000          # IKE, SPI size 0, no SPIs
    `),
    payloads: [
      { type: P.DELETE, protocolId: 3, spis: [h('c0000001'), h('c0000002'), h('c0000003')] },
      { type: P.DELETE, protocolId: 1, spis: [] },
    ],
  },
  {
    name: 'VENDOR: strongSwan vendor ID',
    first: P.VENDOR,
    bytes: h(`
      00 00 0014          # length 20
      882fe56d6fd20dbc2251613b2ebe5beb   # MD5("strongSwan")
    `),
    payloads: [{ type: P.VENDOR, data: h('882fe56d6fd20dbc2251613b2ebe5beb') }],
  },
  {
    name: 'TSi IPv4 any, TSr IPv4 TCP/443 + IPv6 UDP range',
    first: P.TSi,
    bytes: h(`
      2d 00 0018          # TSi: next TSr, length 24
      01 000000           # 1 selector
      07 00 0010          # TS_IPV4_ADDR_RANGE, any protocol, selector length 16
      0000 ffff           # ports 0..65535
      00000000 ffffffff   # 0.0.0.0 .. 255.255.255.255
      00 00 0040          # TSr: last, length 64
      02 000000           # 2 selectors
      07 06 0010 01bb 01bb c6336400 c63364ff   # IPv4, TCP, port 443, 198.51.100.0 .. 198.51.100.255
      08 11 0028 0000 ffff                     # IPv6, UDP, selector length 40, all ports
      20010db8000000000000000000000000         # 2001:db8::
      20010db800000000000000000000ffff         # 2001:db8::ffff
    `),
    payloads: [
      { type: P.TSi, selectors: [{ tsType: 7, ipProtocol: 0, startPort: 0, endPort: 65535, startAddr: h('00000000'), endAddr: h('ffffffff') }] },
      {
        type: P.TSr,
        selectors: [
          { tsType: 7, ipProtocol: 6, startPort: 443, endPort: 443, startAddr: h('c6336400'), endAddr: h('c63364ff') },
          { tsType: 8, ipProtocol: 17, startPort: 0, endPort: 65535, startAddr: h('20010db8000000000000000000000000'), endAddr: h('20010db800000000000000000000ffff') },
        ],
      },
    ],
  },
  {
    name: 'TS: OPAQUE ports (65535..0) are kept as they are',
    first: P.TSr,
    bytes: h(`
      00 00 0018 01 000000
      07 11 0010 ffff 0000 cb007100 cb0071ff   # UDP, OPAQUE ports, 203.0.113.0/24
    `),
    payloads: [{ type: P.TSr, selectors: [{ tsType: 7, ipProtocol: 17, startPort: 65535, endPort: 0, startAddr: h('cb007100'), endAddr: h('cb0071ff') }] }],
  },
  {
    name: 'CP: CFG_REQUEST with empty attributes',
    first: P.CP,
    bytes: h(`
      00 00 0014          # length 20
      01 000000           # CFG_REQUEST
      0001 0000           # INTERNAL_IP4_ADDRESS, empty
      0003 0000           # INTERNAL_IP4_DNS, empty
      0008 0000           # INTERNAL_IP6_ADDRESS, empty
    `),
    payloads: [
      {
        type: P.CP,
        cfgType: 1,
        attributes: [
          { type: 1, value: new Uint8Array(0) },
          { type: 3, value: new Uint8Array(0) },
          { type: 8, value: new Uint8Array(0) },
        ],
      },
    ],
  },
  {
    name: 'CP: CFG_REPLY with address, DNS and domain',
    first: P.CP,
    bytes: h(`
      00 00 0027          # length 39
      02 000000           # CFG_REPLY
      0001 0004 cb007105  # INTERNAL_IP4_ADDRESS 203.0.113.5
      0003 0004 c6336401  # INTERNAL_IP4_DNS 198.51.100.1
      0019 000b 6578616d706c652e636f6d   # INTERNAL_DNS_DOMAIN "example.com"
    `),
    payloads: [
      {
        type: P.CP,
        cfgType: 2,
        attributes: [
          { type: 1, value: h('cb007105') },
          { type: 3, value: h('c6336401') },
          { type: 25, value: utf8('example.com') },
        ],
      },
    ],
  },
  {
    name: 'EAP: Request/Identity, Response/Identity, Success',
    first: P.EAP,
    bytes: h(`
      30 00 0009 01 2a 0005 01               # Request, id 42, length 5, Type Identity
      30 00 000e 02 2a 000a 01 616c696365    # Response, id 42, length 10, Identity "alice"
      00 00 0008 03 2b 0004                  # Success, id 43, length 4 (no Type)
    `),
    payloads: [
      { type: P.EAP, code: 1, identifier: 42, eapType: 1, data: new Uint8Array(0) },
      { type: P.EAP, code: 2, identifier: 42, eapType: 1, data: utf8('alice') },
      { type: P.EAP, code: 3, identifier: 43, data: new Uint8Array(0) },
    ],
  },
  {
    name: 'SK: undecrypted body, Next Payload names the first inner payload',
    first: P.SK,
    bytes: h(`
      23 00 001c          # next = IDi (inner), length 28
      ${hexOf(seq(24, 0x90))}   # IV || ciphertext || ICV, opaque here
    `),
    payloads: [{ type: P.SK, innerNext: P.IDi, body: seq(24, 0x90) }],
  },
  {
    name: 'SKF: fragment 1 of 3 (names the first inner payload)',
    first: P.SKF,
    bytes: h(`
      25 00 001c          # next = CERT (inner), length 28
      0001 0003           # Fragment Number 1, Total Fragments 3
      ${hexOf(seq(20, 0x50))}
    `),
    payloads: [{ type: P.SKF, innerNext: P.CERT, fragmentNumber: 1, totalFragments: 3, body: seq(20, 0x50) }],
  },
  {
    name: 'SKF: fragment 3 of 3 (Next Payload 0)',
    first: P.SKF,
    bytes: h(`
      00 00 0018 0003 0003 ${hexOf(seq(16, 0x70))}
    `),
    payloads: [{ type: P.SKF, innerNext: 0, fragmentNumber: 3, totalFragments: 3, body: seq(16, 0x70) }],
  },
  {
    name: 'unknown non-critical payload (type 49) is kept and skipped',
    first: 49,
    bytes: h(`
      28 00 0008 deadbeef      # type 49, next NONCE, not critical, length 8
      00 00 0014 ${hexOf(fill(16, 9))}
    `),
    payloads: [
      { type: 49, unknown: true, critical: false, body: h('deadbeef') },
      { type: P.NONCE, data: fill(16, 9) },
    ],
  },
  {
    name: 'known payload with the critical bit set keeps the bit',
    first: P.NOTIFY,
    bytes: h(`
      00 80 0008          # critical bit set, length 8
      00 00 4016          # REDIRECT_SUPPORTED
    `),
    payloads: [{ type: P.NOTIFY, critical: true, protocolId: 0, spi: new Uint8Array(0), notifyType: 16406, data: new Uint8Array(0) }],
  },
];
