// Shared setup for the native worker namespace suites (RFC 3948 / RFC 4303 paths): two namespaces joined by a veth, teardown.
import { spawnSync } from 'node:child_process';
import type { NativeAddon, NativeWorkerHandle, NativeWorkerStats } from '../native-addon.ts';
import type { TsRange } from '../types.ts';

export interface CommandRunner {
  run(...argv: string[]): { code: number; out: string };
  /** Like run, but a non-zero exit throws with the command's output. */
  must(...argv: string[]): void;
}

export function commandRunner(timeoutMs: number): CommandRunner {
  const run = (...argv: string[]): { code: number; out: string } => {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: timeoutMs });
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
  };
  const must = (...argv: string[]): void => {
    const r = run(...argv);
    if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.out}`);
  };
  return { run, must };
}

/** All protocols and ports between two addresses. */
export const tsNet = (start: string, end: string): TsRange => ({ startAddr: start, endAddr: end, ipProtocol: 0, startPort: 0, endPort: 65535 });

export interface WorkerSide {
  tunFd: number;
  handle: NativeWorkerHandle;
}

export function workerStats(addon: NativeAddon, s: WorkerSide): NativeWorkerStats {
  const r = addon.workerStats(s.handle);
  if (typeof r === 'number') throw new Error(addon.errnoName(r));
  return r;
}

export interface NamespacePair {
  nsA: string;
  nsB: string;
  vethA: string;
  vethB: string;
}

/** Creates both namespaces and the veth between them: A 192.0.2.1/24, B 192.0.2.2/24 (plus `v6` addresses, no DAD), links and lo up. */
export function joinNamespaces(must: CommandRunner['must'], p: NamespacePair, v6?: readonly [string, string]): void {
  must('ip', 'netns', 'add', p.nsA);
  must('ip', 'netns', 'add', p.nsB);
  must('ip', 'link', 'add', p.vethA, 'netns', p.nsA, 'type', 'veth', 'peer', 'name', p.vethB, 'netns', p.nsB);
  must('ip', '-n', p.nsA, 'addr', 'add', '192.0.2.1/24', 'dev', p.vethA);
  must('ip', '-n', p.nsB, 'addr', 'add', '192.0.2.2/24', 'dev', p.vethB);
  if (v6) {
    must('ip', '-n', p.nsA, 'addr', 'add', v6[0], 'dev', p.vethA, 'nodad');
    must('ip', '-n', p.nsB, 'addr', 'add', v6[1], 'dev', p.vethB, 'nodad');
  }
  for (const [ns, dev] of [[p.nsA, p.vethA], [p.nsB, p.vethB], [p.nsA, 'lo'], [p.nsB, 'lo']] as const) must('ip', '-n', ns, 'link', 'set', dev, 'up');
}

/** Stops the workers, closes their TUNs, deletes both directions of each SPI and the namespaces; tolerates a half-done setup. */
export function tearDownWorkers(
  addon: NativeAddon,
  run: CommandRunner['run'],
  p: { sides: ReadonlyArray<WorkerSide | undefined>; spis: readonly number[]; nsA: string; nsB: string },
): void {
  for (const s of p.sides) {
    if (!s) continue;
    addon.workerStop(s.handle);
    addon.closeFd(s.tunFd);
  }
  for (const spi of p.spis) for (const dir of ['out', 'in'] as const) addon.saDel(spi, dir);
  run('ip', 'netns', 'del', p.nsA);
  run('ip', 'netns', 'del', p.nsB);
}
