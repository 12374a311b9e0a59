// Proposal parsing (strongSwan syntax) and responder selection (RFC 7296 §2.7, §3.3.6; RFC 5282 §8).
import { describe, expect, it } from 'vitest';
import { DhId, EncrId, EsnId, IntegId, PrfId, ProtocolId, TransformType as T } from './constants.ts';
import type { Proposal, Transform } from './codec/types.ts';
import { parseProposal, parseProposals, proposalToString, selectProposal, weakAlgorithms } from './proposal.ts';

function p(spec: string, kind: 'ike' | 'esp' = 'ike'): Proposal {
  const r = parseProposal(spec, kind);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

/** A proposal as a peer would send it: numbered, with an SPI for ESP. */
function offer(spec: string, kind: 'ike' | 'esp', num: number, extra: Transform[] = []): Proposal {
  const base = p(spec, kind);
  return { ...base, num, spi: kind === 'esp' ? new Uint8Array([0xc0, 0, 0, num]) : new Uint8Array(0), transforms: [...base.transforms, ...extra] };
}

const names = (x: Proposal | null) => (x ? proposalToString(x) : null);

describe('parseProposal', () => {
  it('IKE AEAD with explicit PRF', () => {
    expect(p('aes256gcm16-prfsha256-x25519')).toEqual({
      num: 1,
      protocolId: ProtocolId.IKE,
      spi: new Uint8Array(0),
      transforms: [
        { type: T.ENCR, id: EncrId.AES_GCM_16, keyLength: 256 },
        { type: T.PRF, id: PrfId.HMAC_SHA2_256 },
        { type: T.DH, id: DhId.CURVE25519 },
      ],
    });
  });

  it('IKE CBC: the integrity algorithm implies the PRF when none is given', () => {
    expect(p('aes256-sha256-modp2048').transforms).toEqual([
      { type: T.ENCR, id: EncrId.AES_CBC, keyLength: 256 },
      { type: T.PRF, id: PrfId.HMAC_SHA2_256 },
      { type: T.INTEG, id: IntegId.HMAC_SHA2_256_128 },
      { type: T.DH, id: DhId.MODP_2048 },
    ]);
    expect(p('aes128-sha384-sha256-ecp256').transforms.filter((t) => t.type === T.PRF).map((t) => t.id)).toEqual([
      PrfId.HMAC_SHA2_384,
      PrfId.HMAC_SHA2_256,
    ]);
    // An explicit PRF wins.
    expect(p('aes128-sha256-prfsha512-ecp256').transforms.filter((t) => t.type === T.PRF).map((t) => t.id)).toEqual([PrfId.HMAC_SHA2_512]);
  });

  it('curve25519 alias, ChaCha20-Poly1305 without a key length, case-insensitive', () => {
    expect(p('CHACHA20POLY1305-prfsha256-curve25519').transforms).toEqual([
      { type: T.ENCR, id: EncrId.CHACHA20_POLY1305 },
      { type: T.PRF, id: PrfId.HMAC_SHA2_256 },
      { type: T.DH, id: DhId.CURVE25519 },
    ]);
  });

  it('several algorithms of one type keep their order', () => {
    expect(p('aes256gcm16-aes128gcm16-prfsha256-x25519-ecp256').transforms).toEqual([
      { type: T.ENCR, id: EncrId.AES_GCM_16, keyLength: 256 },
      { type: T.ENCR, id: EncrId.AES_GCM_16, keyLength: 128 },
      { type: T.PRF, id: PrfId.HMAC_SHA2_256 },
      { type: T.DH, id: DhId.CURVE25519 },
      { type: T.DH, id: DhId.ECP_256 },
    ]);
  });

  it('ESP: no PFS, PFS, CBC, ESN default and explicit', () => {
    expect(p('aes256gcm16', 'esp')).toEqual({
      num: 1,
      protocolId: ProtocolId.ESP,
      spi: new Uint8Array(0),
      transforms: [
        { type: T.ENCR, id: EncrId.AES_GCM_16, keyLength: 256 },
        { type: T.ESN, id: EsnId.NO_ESN },
      ],
    });
    expect(p('aes256gcm16-x25519', 'esp').transforms).toContainEqual({ type: T.DH, id: DhId.CURVE25519 });
    expect(p('aes256-sha256-modp2048', 'esp').transforms).toEqual([
      { type: T.ENCR, id: EncrId.AES_CBC, keyLength: 256 },
      { type: T.INTEG, id: IntegId.HMAC_SHA2_256_128 },
      { type: T.DH, id: DhId.MODP_2048 },
      { type: T.ESN, id: EsnId.NO_ESN },
    ]);
    expect(p('aes128gcm16-esn-noesn', 'esp').transforms.filter((t) => t.type === T.ESN).map((t) => t.id)).toEqual([1, 0]);
    // `modpnone` alone = no PFS; after groups it keeps NONE as an acceptable choice.
    expect(p('aes128gcm16-modpnone', 'esp').transforms.some((t) => t.type === T.DH)).toBe(false);
    expect(p('aes128gcm16-x25519-modpnone', 'esp').transforms.filter((t) => t.type === T.DH).map((t) => t.id)).toEqual([31, 0]);
  });

  it.each([
    ['aes256gcm16-prfsha256-x25519-foo', 'ike', "unknown algorithm 'foo'"],
    ['aes256gcm16-sha256-prfsha256-x25519', 'ike', "'aes256gcm16' cannot be combined with integrity algorithm 'sha256'"],
    ['aes256gcm16-sha256', 'esp', "cannot be combined with integrity algorithm 'sha256'"],
    ['aes256gcm16-aes256-sha256-prfsha256-x25519', 'ike', 'must be separate proposals'],
    ['aes256-prfsha256-x25519', 'ike', "'aes256' needs an integrity algorithm"],
    ['aes256gcm16-x25519', 'ike', 'no PRF'],
    ['aes256gcm16-prfsha256', 'ike', 'no key exchange method'],
    ['prfsha256-x25519', 'ike', 'no encryption algorithm'],
    ['aes256gcm16-prfsha256', 'esp', "'prfsha256' is not allowed"],
    ['aes256gcm16-prfsha256-x25519-esn', 'ike', "'esn' is not allowed"],
    ['aes256gcm16-prfsha256-modpnone', 'ike', "'modpnone' is not allowed"],
    ['aes256gcm16--prfsha256-x25519', 'ike', 'empty algorithm name'],
    ['aes256gcm16-prfsha256-x25519-x25519', 'ike', "duplicate algorithm 'x25519'"],
    ['  ', 'ike', 'empty IKE proposal'],
  ] as const)('%s (%s) -> error naming the problem', (spec, kind, msg) => {
    const r = parseProposal(spec, kind);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(msg);
  });

  it('parseProposals numbers a comma-separated list and stops at the first error', () => {
    const r = parseProposals('aes256gcm16-prfsha256-x25519, aes256-sha256-modp2048', 'ike');
    expect(r.ok && r.value.map((x) => x.num)).toEqual([1, 2]);
    const bad = parseProposals('aes256gcm16-prfsha256-x25519,aes256-shaa256-modp2048', 'ike');
    expect(!bad.ok && bad.error).toContain("'shaa256'");
  });
});

describe('proposalToString / weakAlgorithms', () => {
  it.each([
    ['aes256gcm16-prfsha256-x25519', 'ike'],
    ['aes256-sha256-prfsha256-modp2048', 'ike'],
    ['chacha20poly1305-prfsha512-x448-ecp521', 'ike'],
    ['aes256gcm16', 'esp'],
    ['aes128-sha1-modp1024-esn', 'esp'],
    ['aes256gcm16-x25519-modpnone-esn-noesn', 'esp'],
  ] as const)('%s round-trips', (spec, kind) => {
    expect(proposalToString(p(spec, kind))).toBe(spec);
  });

  it('names unknown transforms instead of failing', () => {
    expect(proposalToString({ num: 1, protocolId: 1, spi: new Uint8Array(0), transforms: [{ type: 1, id: 99, keyLength: 7 }, { type: 9, id: 1 }] })).toBe(
      'unknown1_99_7-unknown9_1',
    );
  });

  it('lists legacy algorithms only', () => {
    expect(weakAlgorithms(p('aes256gcm16-prfsha256-x25519'))).toEqual([]);
    expect(weakAlgorithms(p('3des-aes128-sha1-md5-modp1024-modp2048'))).toEqual(['3des', 'prfsha1', 'prfmd5', 'sha1', 'md5', 'modp1024']);
  });
});

describe('selectProposal: IKE', () => {
  const local = [p('aes256gcm16-prfsha256-x25519-ecp256'), p('aes256-sha256-modp2048')];
  const opts = { kind: 'ike' as const, legacy: false };

  it('takes our order, not the peer order', () => {
    const offered = [offer('aes128-sha256-modp2048', 'ike', 1), offer('aes128gcm16-aes256gcm16-prfsha384-prfsha256-ecp256-x25519', 'ike', 2)];
    const chosen = selectProposal(local, offered, opts);
    expect(names(chosen)).toBe('aes256gcm16-prfsha256-x25519');
    expect(chosen!.num).toBe(2);
  });

  it('falls back to our next proposal; returns exactly one transform per type', () => {
    const chosen = selectProposal(local, [offer('aes128-aes256-sha384-sha256-modp3072-modp2048', 'ike', 3)], opts);
    expect(names(chosen)).toBe('aes256-sha256-prfsha256-modp2048');
    expect(chosen!.transforms.map((t) => t.type)).toEqual([T.ENCR, T.PRF, T.INTEG, T.DH]);
    expect(chosen!.num).toBe(3);
  });

  it('key length is part of the match', () => {
    expect(selectProposal(local, [offer('aes128gcm16-prfsha256-x25519', 'ike', 1)], opts)).toBeNull();
  });

  it('refuses peers offering only legacy algorithms unless legacy is allowed', () => {
    const legacyLocal = [...local, p('3des-sha1-modp1024'), p('aes256-sha1-modp2048')];
    const offered = [offer('3des-sha1-modp1024', 'ike', 1)];
    expect(selectProposal(legacyLocal, offered, opts)).toBeNull();
    expect(names(selectProposal(legacyLocal, offered, { kind: 'ike', legacy: true }))).toBe('3des-sha1-prfsha1-modp1024');
    // A mixed offer: the modern group is chosen even though modp1024 comes first on the peer's side.
    const mixed = [offer('aes256-sha1-sha256-modp1024-modp2048', 'ike', 1)];
    expect(names(selectProposal(legacyLocal, mixed, opts))).toBe('aes256-sha256-prfsha256-modp2048');
  });

  it('skips proposals with unknown transform types or unknown attributes, but not unknown ids', () => {
    const unknownType = offer('aes256gcm16-prfsha256-x25519', 'ike', 1, [{ type: 9, id: 1 }]);
    const unknownAttr: Proposal = {
      ...offer('aes256gcm16-prfsha256-x25519', 'ike', 2),
      transforms: [{ type: T.ENCR, id: EncrId.AES_GCM_16, keyLength: 256, unknownAttributes: [99] }, { type: T.PRF, id: 5 }, { type: T.DH, id: 31 }],
    };
    expect(selectProposal(local, [unknownType, unknownAttr], opts)).toBeNull();
    const unknownId = offer('aes256gcm16-prfsha256-x25519', 'ike', 3, [{ type: T.DH, id: 1234 }, { type: T.ENCR, id: 250 }]);
    expect(selectProposal(local, [unknownType, unknownAttr, unknownId], opts)?.num).toBe(3);
  });

  it('AEAD selection leaves INTEG out, whether the peer sent NONE or (mixing ciphers) a real one', () => {
    const withNone = offer('aes256gcm16-prfsha256-x25519', 'ike', 1, [{ type: T.INTEG, id: IntegId.NONE }]);
    expect(selectProposal(local, [withNone], opts)!.transforms.map((t) => t.type)).toEqual([T.ENCR, T.PRF, T.DH]);
    const mixed = offer('aes256gcm16-prfsha256-x25519', 'ike', 1, [
      { type: T.ENCR, id: EncrId.AES_CBC, keyLength: 128 },
      { type: T.INTEG, id: IntegId.HMAC_SHA2_256_128 },
    ]);
    expect(names(selectProposal(local, [mixed], opts))).toBe('aes256gcm16-prfsha256-x25519');
  });

  it('a non-AEAD cipher without a common INTEG is no match', () => {
    expect(selectProposal([p('aes256-sha512-modp2048')], [offer('aes256-sha256-prfsha512-modp2048', 'ike', 1)], opts)).toBeNull();
    const noInteg: Proposal = { num: 1, protocolId: 1, spi: new Uint8Array(0), transforms: [{ type: T.ENCR, id: 12, keyLength: 256 }, { type: T.PRF, id: 5 }, { type: T.INTEG, id: 0 }, { type: T.DH, id: 14 }] };
    expect(selectProposal(local, [noInteg], opts)).toBeNull();
  });

  it('missing mandatory types, wrong protocol or wrong SPI size are no match', () => {
    const noDh: Proposal = { num: 1, protocolId: 1, spi: new Uint8Array(0), transforms: [{ type: T.ENCR, id: 20, keyLength: 256 }, { type: T.PRF, id: 5 }] };
    const noPrf: Proposal = { num: 1, protocolId: 1, spi: new Uint8Array(0), transforms: [{ type: T.ENCR, id: 20, keyLength: 256 }, { type: T.DH, id: 31 }] };
    const dhNone: Proposal = { ...noDh, transforms: [...noDh.transforms, { type: T.DH, id: DhId.NONE }] };
    const esp: Proposal = { ...offer('aes256gcm16-prfsha256-x25519', 'ike', 1), protocolId: ProtocolId.ESP };
    const oddSpi: Proposal = { ...offer('aes256gcm16-prfsha256-x25519', 'ike', 1), spi: new Uint8Array(4) };
    for (const o of [noDh, noPrf, dhNone, esp, oddSpi]) expect(selectProposal(local, [o], opts)).toBeNull();
    expect(selectProposal(local, [], opts)).toBeNull();
    // IKE rekey carries the new 8-octet SPI; it is echoed back.
    const rekey: Proposal = { ...offer('aes256gcm16-prfsha256-x25519', 'ike', 1), spi: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) };
    expect(selectProposal(local, [rekey], opts)?.spi).toEqual(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  });

  it('does not alias the peer SPI or transforms', () => {
    const o = { ...offer('aes256gcm16-prfsha256-x25519', 'ike', 1), spi: new Uint8Array(8).fill(5) };
    const chosen = selectProposal(local, [o], opts)!;
    chosen.spi[0] = 0;
    expect(o.spi[0]).toBe(5);
  });
});

describe('selectProposal: ESP', () => {
  const opts = { kind: 'esp' as const, legacy: false };

  it('without PFS on both sides (macOS, Android), echoing the peer SPI', () => {
    const chosen = selectProposal([p('aes256gcm16', 'esp')], [offer('aes128gcm16-aes256gcm16', 'esp', 4)], opts);
    expect(names(chosen)).toBe('aes256gcm16');
    expect(chosen!.spi).toEqual(new Uint8Array([0xc0, 0, 0, 4]));
    expect(chosen!.num).toBe(4);
    expect(chosen!.transforms).toContainEqual({ type: T.ESN, id: EsnId.NO_ESN });
  });

  it('our no-PFS proposal accepts an offer that includes NONE among its groups, but not a PFS-only offer', () => {
    const local = [p('aes256gcm16', 'esp')];
    expect(names(selectProposal(local, [offer('aes256gcm16-x25519-modpnone', 'esp', 1)], opts))).toBe('aes256gcm16');
    expect(selectProposal(local, [offer('aes256gcm16-x25519', 'esp', 1)], opts)).toBeNull();
  });

  it('our PFS-only proposal refuses an offer without DH; with modpnone it accepts it', () => {
    const noPfsOffer = [offer('aes256gcm16', 'esp', 1)];
    expect(selectProposal([p('aes256gcm16-x25519', 'esp')], noPfsOffer, opts)).toBeNull();
    expect(names(selectProposal([p('aes256gcm16-x25519-modpnone', 'esp')], noPfsOffer, opts))).toBe('aes256gcm16');
    // ...and still prefers PFS when the peer offers it.
    expect(names(selectProposal([p('aes256gcm16-x25519-modpnone', 'esp')], [offer('aes256gcm16-ecp256-x25519', 'esp', 1)], opts))).toBe(
      'aes256gcm16-x25519',
    );
  });

  it('PFS with a common group in our order (strongSwan with PFS configured)', () => {
    const local = [p('aes256gcm16-x25519-ecp256', 'esp'), p('aes256-sha256-modp2048', 'esp')];
    expect(names(selectProposal(local, [offer('aes256gcm16-ecp256-x25519', 'esp', 1)], opts))).toBe('aes256gcm16-x25519');
    expect(names(selectProposal(local, [offer('aes256-sha384-sha256-modp3072-modp2048', 'esp', 2)], opts))).toBe('aes256-sha256-modp2048');
  });

  it('skipDh ignores the groups entirely (the IKE_AUTH Child SA has no KE)', () => {
    const chosen = selectProposal([p('aes256gcm16-x25519', 'esp')], [offer('aes256gcm16-ecp384', 'esp', 1)], { ...opts, skipDh: true });
    expect(names(chosen)).toBe('aes256gcm16');
    expect(chosen!.transforms.some((t) => t.type === T.DH)).toBe(false);
  });

  it('ESN must be common; a peer without ESN reads as noesn', () => {
    expect(selectProposal([p('aes256gcm16-esn', 'esp')], [offer('aes256gcm16', 'esp', 1)], opts)).toBeNull();
    expect(names(selectProposal([p('aes256gcm16-esn-noesn', 'esp')], [offer('aes256gcm16-noesn-esn', 'esp', 1)], opts))).toBe('aes256gcm16-esn');
    const noEsn: Proposal = { num: 1, protocolId: ProtocolId.ESP, spi: new Uint8Array(4), transforms: [{ type: T.ENCR, id: 20, keyLength: 256 }] };
    expect(selectProposal([p('aes256gcm16', 'esp')], [noEsn], opts)?.transforms).toEqual([
      { type: T.ENCR, id: 20, keyLength: 256 },
      { type: T.ESN, id: EsnId.NO_ESN },
    ]);
  });

  it('rejects PRF transforms in ESP, AH proposals, and ESP SPIs that are not 4 octets', () => {
    const local = [p('aes256gcm16', 'esp')];
    const withPrf = offer('aes256gcm16', 'esp', 1, [{ type: T.PRF, id: 5 }]);
    const ah: Proposal = { ...offer('aes256gcm16', 'esp', 2), protocolId: ProtocolId.AH };
    const badSpi: Proposal = { ...offer('aes256gcm16', 'esp', 3), spi: new Uint8Array(8) };
    expect(selectProposal(local, [withPrf, ah, badSpi], opts)).toBeNull();
  });

  it('legacy ESP (3DES/SHA-1) only with legacy', () => {
    const local = [p('aes256gcm16', 'esp'), p('3des-sha1', 'esp')];
    expect(selectProposal(local, [offer('3des-sha1', 'esp', 1)], opts)).toBeNull();
    expect(names(selectProposal(local, [offer('3des-sha1', 'esp', 1)], { kind: 'esp', legacy: true }))).toBe('3des-sha1');
  });
});
