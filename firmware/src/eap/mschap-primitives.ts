// MD4 and single DES for MS-CHAPv2 (RFC 2759 §8.3, §8.5), over node:crypto: both are legacy, MS-CHAPv2 needs
// them, nothing else may use them. Bun's BoringSSL has both; Node with OpenSSL 3 needs the legacy provider.
import { createCipheriv, createHash } from 'node:crypto';

export interface MschapPrimitives {
  md4(data: Uint8Array): Uint8Array;
  /** One 8-octet block under a 56-bit key given as 7 octets (parity bits are added here). */
  desEncrypt(key7: Uint8Array, block8: Uint8Array): Uint8Array;
}

/** RFC 2759 §8.6 DesEncrypt: spread 56 key bits over 8 octets, the low bit of each being (ignored) parity. */
export function expandDesKey(k: Uint8Array): Uint8Array {
  const b = (i: number) => k[i] ?? 0;
  return Uint8Array.of(
    b(0) & 0xfe,
    ((b(0) << 7) | (b(1) >>> 1)) & 0xfe,
    ((b(1) << 6) | (b(2) >>> 2)) & 0xfe,
    ((b(2) << 5) | (b(3) >>> 3)) & 0xfe,
    ((b(3) << 4) | (b(4) >>> 4)) & 0xfe,
    ((b(4) << 3) | (b(5) >>> 5)) & 0xfe,
    ((b(5) << 2) | (b(6) >>> 6)) & 0xfe,
    (b(6) << 1) & 0xfe,
  );
}

export const nodeMschapPrimitives: MschapPrimitives = {
  md4(data) {
    return new Uint8Array(createHash('md4').update(data).digest());
  },
  desEncrypt(key7, block8) {
    const c = createCipheriv('des-ecb', expandDesKey(key7), null);
    c.setAutoPadding(false);
    const out = c.update(block8);
    c.final();
    return new Uint8Array(out);
  },
};

/** null when MD4 and DES work here, else why not (the gateway then refuses EAP-MSCHAPv2 at start, not mid-login). */
export function probeMschapPrimitives(p: MschapPrimitives = nodeMschapPrimitives): string | null {
  try {
    p.md4(new Uint8Array(1));
    p.desEncrypt(new Uint8Array(7), new Uint8Array(8));
    return null;
  } catch (e) {
    return `MD4/DES unavailable for EAP-MSCHAPv2: ${(e as Error).message}`;
  }
}
