// Tests for the IKE UDP sockets on loopback: non-ESP marker handling on the NAT-T port (RFC 3948), ESP and keepalives.
import { afterEach, describe, expect, it } from 'vitest';
import type { Datagram } from '../ike/io.ts';
import { createLogger, type Logger } from './logger.ts';
import { addNonEspMarker, classifyNattPayload, openUdp, type NattProvider, type UdpRuntime } from './udp.ts';

type Peer = Bun.udp.Socket<'uint8array'>;
const opened: { close(): unknown }[] = [];

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

function quietLogger(lines: string[] = []): Logger {
  return createLogger({ level: 'debug', format: 'json', write: (l) => lines.push(l) });
}

async function peer(host = '127.0.0.1'): Promise<{ sock: Peer; got: { data: Uint8Array; port: number; addr: string }[] }> {
  const got: { data: Uint8Array; port: number; addr: string }[] = [];
  const sock = await Bun.udpSocket({ hostname: host, port: 0, binaryType: 'uint8array', socket: { data: (_s, data, port, addr) => void got.push({ data: data.slice(), port, addr }), error: () => {} } });
  opened.push(sock);
  return { sock, got };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await Bun.sleep(5);
  }
}

async function runtime(opts: Partial<Parameters<typeof openUdp>[0]> = {}): Promise<{ udp: UdpRuntime; got: Datagram[] }> {
  const got: Datagram[] = [];
  const udp = await openUdp({ listen: [{ address: '127.0.0.1', port: 0, nattPort: 0 }], logger: quietLogger(), onDatagram: (d) => got.push(d), ...opts });
  opened.push(udp);
  return { udp, got };
}

const IKE = Uint8Array.from({ length: 40 }, (_, i) => i + 1); // first octets non-zero, like a real IKE SPI

describe('classifyNattPayload', () => {
  it.each([
    [[0xff], 'keepalive'],
    [[0, 0, 0, 0, 1, 2], 'ike'],
    [[0, 0, 0, 1, 0, 0, 0, 1], 'esp'],
    [[0x12, 0x34, 0x56, 0x78, 0, 0, 0, 9, 1, 2], 'esp'],
    [[0, 0], 'malformed'],
    [[], 'malformed'],
    [[0xff, 0xff], 'malformed'],
    [[0, 0, 0, 1], 'malformed'],
  ] as const)('%j is %s', (bytes, kind) => expect(classifyNattPayload(Uint8Array.from(bytes))).toBe(kind));

  it('adds the 4-octet marker', () => {
    expect([...addNonEspMarker(Uint8Array.from([7, 8]))]).toEqual([0, 0, 0, 0, 7, 8]);
  });
});

describe('openUdp on loopback', () => {
  it('binds the IKE and NAT-T ports and delivers IKE datagrams unchanged', async () => {
    const { udp, got } = await runtime();
    const [ike, natt] = [udp.bound().find((b) => !b.natt)!, udp.bound().find((b) => b.natt)!];
    expect(ike).toMatchObject({ address: '127.0.0.1', family: 4 });
    expect(natt.port).not.toBe(ike.port);
    const p = await peer();
    p.sock.send(IKE, ike.port, '127.0.0.1');
    await until(() => got.length === 1);
    expect(got[0]).toEqual({ local: { addr: '127.0.0.1', port: ike.port }, remote: { addr: '127.0.0.1', port: p.sock.port }, data: IKE });
  });

  it('on the NAT-T port: strips the marker, ignores keepalives, counts and drops ESP and runts', async () => {
    const { udp, got } = await runtime();
    const natt = udp.bound().find((b) => b.natt)!;
    const p = await peer();
    p.sock.send(Uint8Array.from([0xff]), natt.port, '127.0.0.1');
    p.sock.send(Uint8Array.from([0xc0, 0xff, 0xee, 0x01, 0, 0, 0, 1, 0xaa, 0xbb]), natt.port, '127.0.0.1');
    p.sock.send(Uint8Array.from([0, 0]), natt.port, '127.0.0.1');
    p.sock.send(addNonEspMarker(IKE), natt.port, '127.0.0.1');
    await until(() => udp.stats().received === 4);
    expect(got).toHaveLength(1);
    expect(got[0]!.data).toEqual(IKE);
    expect(got[0]!.local.port).toBe(natt.port);
    expect(udp.stats()).toMatchObject({ received: 4, ikeReceived: 1, keepalivesIgnored: 1, espDropped: 1, malformedDropped: 1 });
  });

  it('sends with the marker from the NAT-T socket and without it from the IKE socket', async () => {
    const { udp } = await runtime();
    const [ike, natt] = [udp.bound().find((b) => !b.natt)!, udp.bound().find((b) => b.natt)!];
    const p = await peer();
    const remote = { addr: '127.0.0.1', port: p.sock.port };
    expect(udp.send({ local: { addr: '127.0.0.1', port: ike.port }, remote, data: IKE })).toBe(true);
    expect(udp.send({ local: { addr: '127.0.0.1', port: natt.port }, remote, data: IKE })).toBe(true);
    await until(() => p.got.length === 2);
    const byPort = new Map(p.got.map((g) => [g.port, g.data]));
    expect(byPort.get(ike.port)).toEqual(IKE);
    expect(byPort.get(natt.port)).toEqual(addNonEspMarker(IKE));
    expect(udp.stats().sent).toBe(2);
  });

  it('resolves a wildcard local address to the socket the kernel would use', async () => {
    const asked: string[] = [];
    const { udp } = await runtime({ sourceFor: async (r) => (asked.push(r), '127.0.0.1') });
    const ike = udp.bound().find((b) => !b.natt)!;
    const p = await peer();
    udp.send({ local: { addr: '0.0.0.0', port: ike.port }, remote: { addr: '127.0.0.1', port: p.sock.port }, data: IKE });
    udp.send({ local: { addr: '0.0.0.0', port: ike.port }, remote: { addr: '127.0.0.1', port: p.sock.port }, data: IKE });
    await until(() => p.got.length === 2);
    expect(p.got[0]!.port).toBe(ike.port);
    expect(asked.length).toBeGreaterThanOrEqual(1);
  });

  it('counts a datagram it has no socket for', async () => {
    const { udp } = await runtime({ sourceFor: async () => null });
    udp.send({ local: { addr: '127.0.0.1', port: 1 }, remote: { addr: '::1', port: 500 }, data: IKE });
    await until(() => udp.stats().noSocket === 1);
  });

  it('works on IPv6 loopback', async () => {
    const { udp, got } = await runtime({ listen: [{ address: '::1', port: 0, nattPort: 0 }] });
    const natt = udp.bound().find((b) => b.natt)!;
    expect(natt.family).toBe(6);
    const p = await peer('::1');
    p.sock.send(addNonEspMarker(IKE), natt.port, '::1');
    await until(() => got.length === 1);
    expect(got[0]!.remote.addr).toBe('::1');
    udp.send({ local: got[0]!.local, remote: got[0]!.remote, data: IKE });
    await until(() => p.got.length === 1);
    expect(p.got[0]!.data).toEqual(addNonEspMarker(IKE));
  });

  it('expands a wildcard into one socket pair per interface address and follows address changes', async () => {
    let addrs = ['127.0.0.1', '::1'];
    const { udp } = await runtime({ listen: [{ address: '0.0.0.0', port: 0, nattPort: 0 }], interfaceAddresses: () => addrs });
    expect(udp.bound().map((b) => b.address)).toEqual(['127.0.0.1', '127.0.0.1']); // IPv4 only for 0.0.0.0
    addrs = ['127.0.0.2'];
    await udp.refresh();
    expect(udp.bound().map((b) => `${b.address}/${b.natt}`)).toEqual(['127.0.0.2/false', '127.0.0.2/true']);
  });

  it('fails clearly when an explicit address cannot be bound, closing what it opened', async () => {
    const { udp } = await runtime();
    const taken = udp.bound().find((b) => !b.natt)!.port;
    const lines: string[] = [];
    await expect(
      openUdp({ listen: [{ address: '127.0.0.1', port: 0, nattPort: taken }], logger: quietLogger(lines), onDatagram: () => {} }),
    ).rejects.toThrow(`cannot listen on 127.0.0.1:${taken}: EADDRINUSE`);
    await expect(openUdp({ listen: [{ address: '192.0.2.254', port: 0, nattPort: 0 }], logger: quietLogger(), onDatagram: () => {} })).rejects.toThrow(/cannot listen on 192\.0\.2\.254:0/);
  });

  it('after close nothing is delivered or sent', async () => {
    const { udp, got } = await runtime();
    const ike = udp.bound().find((b) => !b.natt)!;
    await udp.close();
    expect(udp.send({ local: { addr: '127.0.0.1', port: ike.port }, remote: { addr: '127.0.0.1', port: 9 }, data: IKE })).toBe(false);
    const p = await peer();
    p.sock.send(IKE, ike.port, '127.0.0.1');
    await Bun.sleep(30);
    expect(got).toEqual([]);
  });
});

/** A NAT-T provider standing in for the userspace data plane's worker: records what crosses the seam. */
function fakeNatt(opts: { fail?: string } = {}) {
  const rec = { opened: [] as { address: string; port: number }[][], sent: [] as Datagram[], closed: 0, deliver: (_d: Datagram) => {} };
  const provider: NattProvider = {
    open(sockets, onDatagram) {
      if (opts.fail) throw new Error(opts.fail);
      rec.opened.push(sockets);
      rec.deliver = onDatagram;
      return {
        sockets: sockets.map((s) => ({ address: s.address, port: s.port || 14500, family: s.address.includes(':') ? (6 as const) : (4 as const) })),
        send: (d) => (rec.sent.push(d), true),
        close: () => void rec.closed++,
      };
    },
  };
  return { provider, rec };
}

describe('openUdp with the NAT-T ports held by the data plane (RFC 3948: ESP and IKE share them)', () => {
  it('binds only the IKE port itself; a wildcard NAT-T address is one socket there, not one per interface', async () => {
    const { provider, rec } = fakeNatt();
    const { udp } = await runtime({ listen: [{ address: '0.0.0.0', port: 0, nattPort: 0 }], interfaceAddresses: () => ['127.0.0.1', '127.0.0.2'], natt: provider });
    expect(rec.opened).toEqual([[{ address: '0.0.0.0', port: 0 }]]);
    expect(udp.bound().map((b) => `${b.address}/${b.natt}`)).toEqual(['127.0.0.1/false', '127.0.0.2/false', '0.0.0.0/true']);
    expect(udp.bound().find((b) => b.natt)).toEqual({ address: '0.0.0.0', port: 14500, natt: true, family: 4 });
    await udp.refresh(); // re-expanding the IKE port leaves the NAT-T socket alone
    expect(rec.opened).toHaveLength(1);
    await udp.close();
    expect(rec.closed).toBe(1);
  });

  it('IKE from the worker arrives with the local address it was sent to; replies on the NAT-T port go back through it', async () => {
    const { provider, rec } = fakeNatt();
    const { udp, got } = await runtime({ listen: [{ address: '0.0.0.0', port: 0, nattPort: 0 }], interfaceAddresses: () => ['127.0.0.1'], natt: provider });
    const d = { local: { addr: '192.0.2.1', port: 14500 }, remote: { addr: '192.0.2.2', port: 4500 }, data: IKE };
    rec.deliver(d);
    expect(got).toEqual([d]);
    expect(udp.send({ ...d, local: { addr: '192.0.2.1', port: 14500 } })).toBe(true);
    expect(rec.sent).toEqual([d]);
    expect(udp.stats()).toMatchObject({ received: 1, ikeReceived: 1, sent: 1 });
    // The IKE port still goes through Bun's socket.
    const ike = udp.bound().find((b) => !b.natt)!;
    const p = await peer();
    expect(udp.send({ local: { addr: '127.0.0.1', port: ike.port }, remote: { addr: '127.0.0.1', port: p.sock.port }, data: IKE })).toBe(true);
    await until(() => p.got.length === 1);
    expect(p.got[0]!.data).toEqual(IKE);
    expect(rec.sent).toHaveLength(1);
    await udp.close();
    rec.deliver(d);
    expect(got).toHaveLength(1);
  });

  it('a NAT-T provider that cannot bind stops the start and closes the IKE sockets', async () => {
    const { provider } = fakeNatt({ fail: 'cannot open NAT-T sockets 127.0.0.1:4500: EADDRINUSE' });
    const probe = await Bun.udpSocket({ hostname: '127.0.0.1', port: 0 });
    const ikePort = probe.port;
    probe.close();
    await expect(
      openUdp({ listen: [{ address: '127.0.0.1', port: ikePort, nattPort: 4500 }], logger: quietLogger(), onDatagram: () => {}, natt: provider }),
    ).rejects.toThrow('cannot open NAT-T sockets 127.0.0.1:4500: EADDRINUSE');
    const again = await Bun.udpSocket({ hostname: '127.0.0.1', port: ikePort }); // free again
    again.close();
  });
});

