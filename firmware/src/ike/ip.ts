// Textual IPv4/IPv6 addresses to octets and back (RFC 4291 §2.2, RFC 5952 canonical text form).

/** Octets (4 or 16) of a textual address, or null when it is not one. */
export function parseIp(text: string): Uint8Array | null {
  return text.includes(':') ? parseIp6(text) : parseIp4(text);
}

/** Dotted quad, 1-3 decimal digits per part (no regex: it runs for every IKE_SA_INIT, cookies included). */
function parseIp4(text: string): Uint8Array | null {
  const out = new Uint8Array(4);
  let part = 0;
  let digits = 0;
  let v = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46; // '.' ends the last part
    if (c >= 48 && c <= 57) {
      if (++digits > 3) return null;
      v = v * 10 + (c - 48);
      continue;
    }
    if (c !== 46 || digits === 0 || v > 255 || part > 3) return null;
    out[part++] = v;
    v = 0;
    digits = 0;
  }
  return part === 4 ? out : null;
}

function parseIp6(text: string): Uint8Array | null {
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    const items = s.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i] ?? '';
      if (i === items.length - 1 && item.includes('.')) {
        const v4 = parseIp4(item);
        if (!v4) return null;
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return null;
        out.push(parseInt(item, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (!head || !tail) return null;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.');
  if (b.length !== 16) return '?';
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(((b[2 * i] ?? 0) << 8) | (b[2 * i + 1] ?? 0));
  // RFC 5952 §4.2: compress the longest run (length >= 2) of zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hexes = g.map((x) => x.toString(16));
  if (bestStart < 0) return hexes.join(':');
  return `${hexes.slice(0, bestStart).join(':')}::${hexes.slice(bestStart + bestLen).join(':')}`;
}

export function ipToBigInt(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

export function bigIntToIp(v: bigint, len: 4 | 16): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** `addr/prefix` → first and last address of the block; null when malformed. */
export function parseCidr(text: string): { start: Uint8Array; end: Uint8Array; prefix: number } | null {
  const slash = text.indexOf('/');
  const addr = parseIp(slash >= 0 ? text.slice(0, slash) : text);
  if (!addr) return null;
  const bits = addr.length * 8;
  let prefix = bits;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p);
    if (prefix > bits) return null;
  }
  const len = addr.length as 4 | 16;
  const v = ipToBigInt(addr);
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  return { start: bigIntToIp(v & ~hostMask, len), end: bigIntToIp(v | hostMask, len), prefix };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Config address lists: empty or `%any` = any; exact addresses or CIDR blocks otherwise. */
export function addrInList(list: readonly string[], addr: string): boolean {
  if (list.length === 0) return true;
  const ip = parseIp(addr);
  return list.some((entry) => {
    if (entry === '%any' || entry === '%any4' || entry === '%any6' || entry === addr) return true;
    const cidr = parseCidr(entry);
    if (!cidr || !ip || cidr.start.length !== ip.length) return false;
    return compareBytes(ip, cidr.start) >= 0 && compareBytes(ip, cidr.end) <= 0;
  });
}
