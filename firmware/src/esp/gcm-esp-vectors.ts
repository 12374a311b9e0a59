// AES-GCM ESP packets from draft-mcgrew-gcm-test-01 (the RFC 4106 test vectors): key||salt, SPI, Seq, IV, padded plaintext, packet.
// Named by the draft's page. Plaintexts were recovered by decrypting each vector with its own key. The draft's
// packets carry Next Header 1, which a tunnel-mode gateway drops after decryption; the ESP layer still returns it.

export interface GcmEspVector {
  name: string;
  keyBits: 128 | 192 | 256;
  encKey: string; // hex, key || 4-octet salt
  spi: number;
  esn: boolean;
  seqHigh: number; // upper half of the ESN (AAD), 0 without ESN
  seqLow: number;
  iv: string;
  plaintext: string; // payload || padding || Pad Length || Next Header
  packet: string; // SPI || Seq || IV || ciphertext || ICV
}

export const gcmEspVectors: readonly GcmEspVector[] = [
  {
    name: 'page 6 (ESN, AES-128)',
    keyBits: 128,
    encKey: '4c80cdefbb5d10da906ac73c3613a6342e443b68',
    spi: 0x4321,
    esn: true,
    seqHigh: 0x87654321,
    seqLow: 0x0,
    iv: '4956ed7e3b244cfe',
    plaintext:
      '45000048699a000080114db7c0a80102c0a801010a9bf15638d301000001000000000000045f736970045f7564700373' +
        '69700963796265726369747902646b000021000101020201',
    packet:
      '00004321000000004956ed7e3b244cfefecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34' +
        'cfa2436f14a3f3cf65925bf1f4a13c5d15b21e1884f5ff6247aeabb786b93bce61bc17d768fd9732459018148f6cbe72' +
        '2fd04796562dfdb4',
  },
  {
    name: 'page 7 (AES-128)',
    keyBits: 128,
    encKey: 'feffe9928665731c6d6a8f9467308308cafebabe',
    spi: 0xa5f8,
    esn: false,
    seqHigh: 0x0,
    seqLow: 0xa,
    iv: 'facedbaddecaf888',
    plaintext:
      '4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d0010000010000000000000373697009637962' +
        '65726369747902646b00000100010001',
    packet:
      '0000a5f80000000afacedbaddecaf888deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c' +
        '3de81827c10e9a4f51330d0eec416642cfbb85a5b47e48a4ec3b9ba95d918bd183b70d3aa8bc6ee4c309e9d85a41ad4a',
  },
  {
    name: 'page 8 (AES-256)',
    keyBits: 256,
    encKey: 'abbccddef00112233445566778899aababbccddef00112233445566778899aab11223344',
    spi: 0x4a2cbfe3,
    esn: false,
    seqHigh: 0x0,
    seqLow: 0x2,
    iv: '0102030405060708',
    plaintext:
      '4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee0000000007002400020bf0000020405b401010402' +
        '01020201',
    packet:
      '4a2cbfe3000000020102030405060708ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763' +
        '748a637985771d347f0545659f14e99def842d8eb335f4eecfdbf831824b4c4915956c96',
  },
  {
    name: 'page 12 (ESN, AES-128)',
    keyBits: 128,
    encKey: 'abbccddef00112233445566778899aabdecaf888',
    spi: 0x100,
    esn: true,
    seqHigh: 0x0,
    seqLow: 0x1,
    iv: 'cafedebaceface74',
    plaintext:
      '4500004933ba00007f119106c3fb1d10c2b1d326c02831ce0035dd7b800302d500004e20001e8c18d75b81dc91baa047' +
        '6b91b924b280389d92c963bac046ec959b6266c04722b14923010101',
    packet:
      '0000010000000001cafedebaceface7418a6fd42f72cbf4ab2a2ea901f73d814e3e7f243d95412e1c349c1d2fbec168f' +
        '9190feebaf2cb01984e65863965d7472b79da345e0e780191f0d2f0e0f496c226f2127b27db35724e7845d68651f57e6' +
        '5f354f75ff17015769623436',
  },
  {
    name: 'page 16 (AES-128, empty payload, Seq 2^32-1)',
    keyBits: 128,
    encKey: '7d773d00c144c525ac619d18c84a3f47d9664267',
    spi: 0x335467ae,
    esn: false,
    seqHigh: 0x0,
    seqLow: 0xffffffff,
    iv: '43457e9182443bc6',
    plaintext:
      '01020201',
    packet:
      '335467aeffffffff43457e9182443bc6437f866bcb3f699fe9b0822bac961c4504bef270',
  },
  {
    name: 'page 17 (ESN, AES-256, Seq 2^64-1)',
    keyBits: 256,
    encKey: '6c6567616c697a656d6172696a75616e61616e64646f69746265666f726569617475726e',
    spi: 0x796b6963,
    esn: true,
    seqHigh: 0xffffffff,
    seqLow: 0xffffffff,
    iv: '333021696765746d',
    plaintext:
      '45000030da3a00008001df3bc0a80005c0a800010800c6cd020007006162636465666768696a6b6c6d6e6f7071727374' +
        '01020201',
    packet:
      '796b6963ffffffff333021696765746df97ab2aa356d8edce17644ac8c78e25dd24dedbb29ebf1b64a274b39b49c3a86' +
        '4cd3d78ca4ae68a32b42458fb57dbe821dcc63b9d0937ba2945f669368661a329fb4c053',
  },
  {
    name: 'page 20 (ESN, AES-128)',
    keyBits: 128,
    encKey: '4c80cdefbb5d10da906ac73c3613a63422433c64',
    spi: 0x4321,
    esn: true,
    seqHigh: 0x87654321,
    seqLow: 0x7,
    iv: '4855ec7d3a234bfd',
    plaintext:
      '0800c6cd020007006162636465666768696a6b6c6d6e6f707172737401020201',
    packet:
      '00004321000000074855ec7d3a234bfd74752e8aeb5d873cd7c0f4acc36c4bff84b7d7b98f0ca8b6acda6894bc619069' +
        'ef9cbc28fe1b56a7c4e0d58c86cd2bc0',
  },
];
