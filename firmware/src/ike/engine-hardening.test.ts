// Findings of the gateway fuzzer (test/fuzz), each pinned: peer choices that must be refused, states that must survive garbage (RFC 7296 §2.21, RFC 4303 §2.1).
import { describe, expect, test } from 'vitest';
import { T0 } from './testing/pair.ts';
import { RawInitiator } from './testing/raw-initiator.ts';
import { CLIENT_ADDR, GW_ADDR, PSK, child, conn, gateway } from './testing/config.ts';
import { createEngine } from './engine.ts';
import { createCryptoSuite } from '../crypto/suite.ts';
import { createSignatureOps } from '../pki/signature.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';
import { DhId, EncrId, ExchangeType, Notify, PayloadType, PrfId, ProtocolId, TransformType } from './constants.ts';
import type { NotifyPayload, Payload } from './codec/types.ts';
import type { Datagram } from './io.ts';
import { u32Bytes } from './bytes.ts';

const ts = { tsType: 7, ipProtocol: 0, startPort: 0, endPort: 65535 };
const tsI = { type: PayloadType.TSi, selectors: [{ ...ts, startAddr: Uint8Array.of(192, 0, 2, 2), endAddr: Uint8Array.of(192, 0, 2, 2) }] } as Payload;
const tsR = { type: PayloadType.TSr, selectors: [{ ...ts, startAddr: Uint8Array.of(198, 51, 100, 0), endAddr: Uint8Array.of(198, 51, 100, 255) }] } as Payload;

function esp(spi: number): Payload {
  return { type: PayloadType.SA, proposals: [{ num: 1, protocolId: ProtocolId.ESP, spi: u32Bytes(spi), transforms: [{ type: TransformType.ENCR, id: EncrId.AES_GCM_16, keyLength: 256 }, { type: TransformType.ESN, id: 0 }] }] };
}

function established(seed: string) {
  const gw = createEngine({ config: gateway(GW_ADDR, [conn({ children: [child({ remoteTs: ['192.0.2.0/24'] })] })]), crypto: createCryptoSuite({ randomBytes: seededRandom(seed) }), sig: createSignatureOps(), nowMs: T0 });
  const raw = new RawInitiator(createCryptoSuite({ randomBytes: seededRandom(`${seed}-peer`) }), { addr: CLIENT_ADDR, port: 4500 }, { addr: GW_ADDR, port: 4500 });
  const send = (d: Datagram) => gw.receive(d, T0);
  raw.handleInitResponse(send(raw.initRequest()).send[0]!.data);
  const auth = raw.open(send(raw.request(ExchangeType.IKE_AUTH, [...raw.authPayloads(PSK, 'client.outpost.test'), esp(0x1234), tsI, tsR])).send[0]!.data);
  expect(auth.payloads.some((p) => p.type === PayloadType.SA)).toBe(true);
  return { gw, raw, send };
}

const notifies = (payloads: Payload[]) => payloads.filter((p) => p.type === PayloadType.NOTIFY).map((p) => (p as NotifyPayload).notifyType);

describe('outbound SPIs chosen by the peer', () => {
  test('a CHILD_SA whose SPI another CHILD_SA toward the peer already uses is refused (the data plane would hold two outbound SAs with one SPI)', () => {
    const { gw, raw, send } = established('dup-spi');
    const resp = raw.open(send(raw.request(ExchangeType.CREATE_CHILD_SA, [esp(0x1234), { type: PayloadType.NONCE, data: new Uint8Array(32).fill(3) }, tsI, tsR])).send[0]!.data);
    expect(notifies(resp.payloads)).toEqual([Notify.NO_PROPOSAL_CHOSEN]);
    expect(gw.listSas()[0]!.children).toHaveLength(1);
    // Another SPI is fine.
    const ok = raw.open(send(raw.request(ExchangeType.CREATE_CHILD_SA, [esp(0x5678), { type: PayloadType.NONCE, data: new Uint8Array(32).fill(4) }, tsI, tsR])).send[0]!.data);
    expect(ok.payloads.some((p) => p.type === PayloadType.SA)).toBe(true);
    expect(gw.listSas()[0]!.children.map((c) => c.spiOut).sort((x, y) => x - y)).toEqual([0x1234, 0x5678]);
  });

  test('a reserved SPI (1..255, RFC 4303 §2.1) is refused', () => {
    const { gw, raw, send } = established('reserved-spi');
    const resp = raw.open(send(raw.request(ExchangeType.CREATE_CHILD_SA, [esp(0x42), { type: PayloadType.NONCE, data: new Uint8Array(32).fill(5) }, tsI, tsR])).send[0]!.data);
    expect(notifies(resp.payloads)).toEqual([Notify.NO_PROPOSAL_CHOSEN]);
    expect(gw.listSas()[0]!.children).toHaveLength(1);
  });
});

describe('a replaced IKE SA and garbage', () => {
  test('a malformed request on an IKE SA that was just rekeyed is answered INVALID_SYNTAX; the SA is not torn down by it', () => {
    const { gw, raw, send } = established('rekeyed-garbage');
    // CREATE_CHILD_SA { SA(IKE, new SPI), Ni, KEi } -->  the gateway answers and moves everything to the new SA.
    const rekey = send(
      raw.request(ExchangeType.CREATE_CHILD_SA, [
        { type: PayloadType.SA, proposals: [{ num: 1, protocolId: ProtocolId.IKE, spi: new Uint8Array(8).fill(9), transforms: [{ type: TransformType.ENCR, id: EncrId.AES_GCM_16, keyLength: 256 }, { type: TransformType.PRF, id: PrfId.HMAC_SHA2_256 }, { type: TransformType.DH, id: DhId.CURVE25519 }] }] },
        { type: PayloadType.NONCE, data: new Uint8Array(32).fill(6) },
        { type: PayloadType.KE, dhGroup: DhId.CURVE25519, data: new Uint8Array(32).fill(7) },
      ]),
    );
    expect(raw.open(rekey.send[0]!.data).payloads.some((p) => p.type === PayloadType.KE)).toBe(true);
    expect(gw.listSas().map((s) => s.state).sort()).toEqual(['deleting', 'established']);
    // The old SA (our keys) gets a request whose inner payloads do not parse.
    const out = send(raw.requestRaw(ExchangeType.INFORMATIONAL, PayloadType.NOTIFY, Uint8Array.of(0, 0, 0, 200, 1, 2)));
    expect(notifies(raw.open(out.send[0]!.data).payloads)).toEqual([Notify.INVALID_SYNTAX]);
    expect(out.events.filter((e) => e.type === 'ike.down')).toEqual([]);
    expect(gw.listSas()).toHaveLength(2);
  });
});
