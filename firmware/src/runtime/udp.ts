// IKE sockets on UDP 500 and 4500 (RFC 7296 §2.23, RFC 3948 §2.2 non-ESP marker, §2.3 NAT-keepalive).
/*
 * Flow: one Bun UDP socket per (local address, port). A wildcard listen address (0.0.0.0, ::) is expanded into
 * one socket per interface address, because NAT detection (RFC 7296 §2.23) hashes the address the peer sent
 * to, and a wildcard socket cannot tell it (no IP_PKTINFO in Bun). `refresh()` binds addresses that appeared
 * since and drops those that vanished.
 *
 * Receive on a NAT-T port: 0xFF alone = keepalive (ignored); four zero octets = non-ESP marker, stripped, IKE;
 * anything else non-empty = ESP-in-UDP, counted and dropped here (no data plane owns it).
 * Send: the Datagram's local endpoint picks the socket; a NAT-T socket prepends the marker. A wildcard or
 * unknown local address is resolved by asking the kernel which source it would use toward the peer.
 *
 * With a NAT-T provider (the userspace data plane), the NAT-T ports are not Bun sockets: the native worker owns
 * them, because ESP-in-UDP and IKE share the port (RFC 3948) and ESP must stay in C. It reads the local address
 * of each datagram (IP_PKTINFO) and sends from a chosen source, so a wildcard NAT-T listen address is one socket,
 * not one per interface; the IKE port keeps the per-interface Bun sockets.
 */
import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { ListenConfig } from '../config/types.ts';
import type { Endpoint } from '../dataplane/types.ts';
import type { Datagram } from '../ike/io.ts';
import type { Logger } from './logger.ts';

export interface BoundSocket {
  address: string;
  port: number;
  /** The NAT-T port (4500 by default): IKE carries the non-ESP marker here. */
  natt: boolean;
  family: 4 | 6;
}

export interface UdpStats {
  received: number;
  ikeReceived: number;
  sent: number;
  espDropped: number;
  keepalivesIgnored: number;
  malformedDropped: number;
  sendFailed: number;
  noSocket: number;
}

export interface UdpRuntime {
  bound(): BoundSocket[];
  /** Sends an IKE message (without marker); false when it could not be handed to a socket. */
  send(d: Datagram): boolean;
  stats(): UdpStats;
  /** Re-expand wildcard listen addresses: bind new interface addresses, close vanished ones. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

/** NAT-T sockets held elsewhere (the userspace data plane's packet worker); IKE only crosses this seam. */
export interface NattTransportLike {
  readonly sockets: readonly { address: string; port: number; family: 4 | 6 }[];
  /** Sends IKE (the owner adds the non-ESP marker); false when it could not be sent. */
  send(d: Datagram): boolean;
  close(): void;
}

export interface NattProvider {
  /** Binds these NAT-T endpoints (port 0 = any; wildcards stay one socket) and delivers IKE to onDatagram. */
  open(sockets: { address: string; port: number }[], onDatagram: (d: Datagram) => void): NattTransportLike;
}

export interface UdpOptions {
  listen: readonly ListenConfig[];
  /** Who holds the NAT-T ports; default: Bun sockets here, which drop ESP. */
  natt?: NattProvider;
  onDatagram: (d: Datagram) => void;
  logger: Logger;
  /** Interface addresses for wildcard expansion (default: os.networkInterfaces, link-local excluded). */
  interfaceAddresses?: () => string[];
  /** Which source address the kernel would use toward `remote` (default: a connected probe socket). */
  sourceFor?: (remote: string) => Promise<string | null>;
}

export const NON_ESP_MARKER_LEN = 4;

/** What a datagram on a NAT-T port is (RFC 3948 §2). */
export function classifyNattPayload(data: Uint8Array): 'keepalive' | 'ike' | 'esp' | 'malformed' {
  if (data.length === 1 && data[0] === 0xff) return 'keepalive';
  if (data.length < NON_ESP_MARKER_LEN) return 'malformed';
  if (data[0] === 0 && data[1] === 0 && data[2] === 0 && data[3] === 0) return 'ike';
  // An ESP header is SPI (non-zero) + sequence number: 8 octets at least.
  return data.length >= 8 ? 'esp' : 'malformed';
}

export function addNonEspMarker(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + NON_ESP_MARKER_LEN);
  out.set(data, NON_ESP_MARKER_LEN);
  return out;
}

const isWildcard = (a: string): boolean => a === '0.0.0.0' || a === '::';
const familyOf = (a: string): 4 | 6 => (a.includes(':') ? 6 : 4);
/** node may hand back IPv4-mapped addresses; the engine speaks plain IPv4. */
const unmap = (a: string): string => (a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a);

export function defaultInterfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) {
      if (i.family === 'IPv6' && /^fe80:/i.test(i.address)) continue; // needs a scope id; IKE does not use it
      out.push(i.address);
    }
  }
  return out;
}

/** The kernel's source address toward `remote`, from a connected UDP socket (no packet is sent). */
export async function kernelSourceFor(remote: string): Promise<string | null> {
  const s = dgram.createSocket(familyOf(remote) === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.connect(9, remote, () => resolve());
    });
    return unmap(s.address().address);
  } catch {
    return null;
  } finally {
    try {
      s.close();
    } catch {
      // already closed by the error
    }
  }
}

type BunSocket = Bun.udp.Socket<'uint8array'>;

interface Slot {
  info: BoundSocket;
  socket: BunSocket;
  /** The listen entry (index) it came from, so refresh can tell expanded sockets apart. */
  listenIndex: number;
}

const key = (addr: string, port: number): string => `${addr}|${port}`;

export async function openUdp(opts: UdpOptions): Promise<UdpRuntime> {
  const { logger } = opts;
  const ifAddrs = opts.interfaceAddresses ?? defaultInterfaceAddresses;
  const sourceFor = opts.sourceFor ?? kernelSourceFor;
  const slots = new Map<string, Slot>();
  const stats: UdpStats = { received: 0, ikeReceived: 0, sent: 0, espDropped: 0, keepalivesIgnored: 0, malformedDropped: 0, sendFailed: 0, noSocket: 0 };
  const sourceCache = new Map<string, string | null>();
  let closed = false;

  const onData = (slot: Slot, buf: Uint8Array, port: number, addr: string, truncated: boolean): void => {
    if (closed) return;
    stats.received++;
    if (truncated) {
      stats.malformedDropped++;
      return;
    }
    const local: Endpoint = { addr: slot.info.address, port: slot.info.port };
    const remote: Endpoint = { addr: unmap(addr), port };
    let data: Uint8Array;
    if (slot.info.natt) {
      const kind = classifyNattPayload(buf);
      if (kind === 'keepalive') {
        stats.keepalivesIgnored++;
        return;
      }
      if (kind === 'esp') {
        stats.espDropped++;
        return;
      }
      if (kind === 'malformed') {
        stats.malformedDropped++;
        return;
      }
      data = buf.slice(NON_ESP_MARKER_LEN);
    } else {
      if (buf.length === 0) {
        stats.malformedDropped++;
        return;
      }
      // Copy: the engine may keep the bytes (fragment reassembly) beyond this callback.
      data = buf.slice();
    }
    stats.ikeReceived++;
    try {
      opts.onDatagram({ local, remote, data });
    } catch (err) {
      logger.error('datagram handler failed', { error: err instanceof Error ? err.message : String(err), remote: `${remote.addr}:${remote.port}` });
    }
  };

  const bindOne = async (address: string, port: number, natt: boolean, listenIndex: number): Promise<Slot> => {
    const slot = { info: { address, port, natt, family: familyOf(address) } } as Slot;
    slot.listenIndex = listenIndex;
    slot.socket = await Bun.udpSocket({
      hostname: address,
      port,
      binaryType: 'uint8array',
      socket: {
        data: (_s, buf, rport, raddr, flags) => onData(slot, buf, rport, raddr, flags?.truncated === true),
        // Bun reports ICMP errors (port unreachable after a peer went away) here, sometimes without an Error.
        error: (_s, err) => logger.debug('socket error', { local: `${address}:${port}`, error: err instanceof Error ? err.message : String(err) }),
      },
    });
    slot.info.port = slot.socket.port; // port 0 (tests) → what the kernel chose
    return slot;
  };

  /** Addresses a listen entry stands for right now. */
  const addressesFor = (l: ListenConfig): string[] => {
    if (!isWildcard(l.address)) return [l.address];
    const fam = familyOf(l.address);
    return [...new Set(ifAddrs().filter((a) => familyOf(a) === fam))];
  };

  const bindListen = async (l: ListenConfig, index: number, explicitFails: boolean): Promise<void> => {
    const ports = opts.natt ? ([[l.port, false]] as const) : ([[l.port, false], [l.nattPort, true]] as const);
    for (const address of addressesFor(l)) {
      for (const [port, natt] of ports) {
        if (port !== 0 && slots.has(key(address, port))) continue;
        try {
          const slot = await bindOne(address, port, natt, index);
          slots.set(key(address, slot.info.port), slot);
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          const msg = `cannot listen on ${address.includes(':') ? `[${address}]` : address}:${port}: ${e.code ?? e.message}${e.code === 'EACCES' ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : ''}`;
          // An explicitly configured address must work; one address of an expanded wildcard may be tentative.
          if (explicitFails && !isWildcard(l.address)) throw new Error(msg);
          logger.warn(msg);
        }
      }
    }
  };

  const closeSlot = (k: string, slot: Slot): void => {
    slots.delete(k);
    try {
      slot.socket.close();
    } catch {
      // closing twice is harmless
    }
  };

  let natt: NattTransportLike | undefined;
  const nattPorts = new Set<number>();
  const onNatt = (d: Datagram): void => {
    if (closed) return;
    stats.received++;
    stats.ikeReceived++;
    try {
      opts.onDatagram({ local: { addr: unmap(d.local.addr), port: d.local.port }, remote: { addr: unmap(d.remote.addr), port: d.remote.port }, data: d.data });
    } catch (err) {
      logger.error('datagram handler failed', { error: err instanceof Error ? err.message : String(err), remote: `${d.remote.addr}:${d.remote.port}` });
    }
  };

  try {
    for (const [i, l] of opts.listen.entries()) {
      await bindListen(l, i, true);
      if (isWildcard(l.address) && ![...slots.values()].some((s) => s.listenIndex === i)) {
        logger.warn(`listen ${l.address}: no IPv${familyOf(l.address)} interface address to bind`);
      }
    }
    if (opts.natt) {
      const wanted = new Map<string, { address: string; port: number }>();
      for (const l of opts.listen) wanted.set(key(l.address, l.nattPort), { address: l.address, port: l.nattPort });
      natt = opts.natt.open([...wanted.values()], onNatt);
      for (const s of natt.sockets) nattPorts.add(s.port);
    }
    if (slots.size === 0 && !natt) throw new Error('no socket could be opened on any listen address');
  } catch (err) {
    for (const [k, s] of slots) closeSlot(k, s);
    throw err;
  }

  const findSlot = (local: Endpoint): Slot | undefined => slots.get(key(local.addr, local.port));

  const transmit = (slot: Slot, d: Datagram): boolean => {
    const payload = slot.info.natt ? addNonEspMarker(d.data) : d.data;
    try {
      const ok = slot.socket.send(payload, d.remote.port, d.remote.addr);
      if (ok) stats.sent++;
      else stats.sendFailed++;
      return ok;
    } catch (err) {
      stats.sendFailed++;
      logger.warn('send failed', { local: `${slot.info.address}:${slot.info.port}`, remote: `${d.remote.addr}:${d.remote.port}`, error: err instanceof Error ? err.message : String(err) });
      return false;
    }
  };

  const sendVia = (src: string | null, d: Datagram): boolean => {
    const slot = src ? findSlot({ addr: src, port: d.local.port }) : undefined;
    if (slot) return transmit(slot, d);
    // No socket on the kernel's preferred source: any socket of the family on that port is the last resort.
    const fam = familyOf(d.remote.addr);
    const any = [...slots.values()].find((s) => s.info.port === d.local.port && s.info.family === fam);
    if (any) return transmit(any, d);
    stats.noSocket++;
    logger.warn('no socket to send from', { local: `${d.local.addr}:${d.local.port}`, remote: `${d.remote.addr}:${d.remote.port}` });
    return false;
  };

  const runtime: UdpRuntime = {
    bound: () => [
      ...[...slots.values()].map((s) => ({ ...s.info })),
      ...(natt?.sockets ?? []).map((s) => ({ address: s.address, port: s.port, natt: true, family: s.family })),
    ],

    send(d) {
      if (closed) return false;
      if (natt && nattPorts.has(d.local.port)) {
        const ok = natt.send(d);
        if (ok) stats.sent++;
        else {
          stats.sendFailed++;
          logger.warn('send failed', { local: `${d.local.addr}:${d.local.port}`, remote: `${d.remote.addr}:${d.remote.port}` });
        }
        return ok;
      }
      const exact = findSlot(d.local);
      if (exact) return transmit(exact, d);
      const cached = sourceCache.get(d.remote.addr);
      if (cached !== undefined) return sendVia(cached, d);
      void sourceFor(d.remote.addr).then((src) => {
        sourceCache.set(d.remote.addr, src);
        if (!closed) sendVia(src, d);
      });
      return true;
    },

    stats: () => ({ ...stats }),

    async refresh() {
      if (closed) return;
      sourceCache.clear();
      for (const [i, l] of opts.listen.entries()) {
        if (!isWildcard(l.address)) continue;
        const now = new Set(addressesFor(l));
        for (const [k, s] of [...slots]) {
          if (s.listenIndex === i && !now.has(s.info.address)) {
            logger.info('address gone, closing its sockets', { address: s.info.address, port: s.info.port });
            closeSlot(k, s);
          }
        }
        const before = slots.size;
        await bindListen(l, i, false);
        if (slots.size > before) logger.info('listening on new addresses', { bound: [...slots.values()].filter((s) => s.listenIndex === i).map((s) => `${s.info.address}:${s.info.port}`) });
      }
    },

    async close() {
      closed = true;
      for (const [k, s] of [...slots]) closeSlot(k, s);
      natt?.close();
    },
  };
  return runtime;
}
