// A steady ping through a tunnel while it rekeys (RFC 7296 §2.8 make-before-break): start, stop with SIGINT, count.
//
// Used by test/interop/rekey.test.ts. The ping runs inside a namespace of the topology, which owns it (stopped by
// PID). SIGINT makes ping print its "N packets transmitted, M received" summary, which is what gets parsed.
import type { Role, Topology } from '../support/netns.ts';

export interface RunningPingResult {
  transmitted: number;
  received: number;
  /** transmitted − received (a reply still in flight when ping stopped counts as lost). */
  lost: number;
  /** icmp_seq numbers without a reply, from the per-packet lines (ping -O reports them as they time out). */
  missingSeqs: number[];
  output: string;
}

export interface RunningPing {
  startedAt: number;
  /** SIGINT, wait for the summary, parse it. */
  stop(): Promise<RunningPingResult>;
}

/** `ping -n -O -i INTERVAL TO` in `from` until stopped. */
export function startPing(topo: Topology, from: Role | string, to: string, intervalSec = 0.1): RunningPing {
  const p = topo.spawn(from, ['ping', '-n', '-O', '-i', String(intervalSec), '-W', '1', to]);
  let out = '';
  p.child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  p.child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  const startedAt = Date.now();
  return {
    startedAt,
    async stop() {
      // SIGINT right after a reply arrives, so it falls between two echoes (RTT ≪ interval) and no request is
      // left in flight to be counted as lost; without a reply within 1 s, SIGINT anyway.
      const seen = (out.match(/icmp_seq=\d+ ttl=/g) ?? []).length;
      await new Promise<void>((res) => {
        const timer = setTimeout(done, 1000);
        const onData = () => {
          if ((out.match(/icmp_seq=\d+ ttl=/g) ?? []).length > seen) done();
        };
        function done() {
          clearTimeout(timer);
          p.child.stdout?.off('data', onData);
          res();
        }
        p.child.stdout?.on('data', onData);
      });
      try {
        process.kill(p.pid, 'SIGINT');
      } catch {
        /* already gone: the summary (if any) is in `out` */
      }
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 3000));
      if ((await Promise.race([p.exited.then(() => 'exited' as const), timer])) === 'timeout') await p.stop(500);
      await new Promise((r) => setImmediate(r));
      return parsePing(out);
    },
  };
}

export function parsePing(output: string): RunningPingResult {
  const m = /(\d+) packets transmitted, (\d+) received/.exec(output);
  const transmitted = m ? Number(m[1]) : 0;
  const received = m ? Number(m[2]) : 0;
  const replied = new Set<number>();
  for (const r of output.matchAll(/icmp_seq=(\d+) ttl=/g)) replied.add(Number(r[1]));
  const missingSeqs: number[] = [];
  for (let s = 1; s <= transmitted; s++) if (!replied.has(s)) missingSeqs.push(s);
  return { transmitted, received, lost: transmitted - received, missingSeqs, output };
}
