// Picks the data-plane backend named in config (ARCHITECTURE.md §4): `auto` degrades xfrm → userspace → mock, never fails.
import { existsSync } from 'node:fs';
import type { GatewayConfig } from '../config/types.ts';
import { createMockDataplane } from './mock.ts';
import { loadNativeAddon, nativeAddonAvailable } from './native-addon.ts';
import { probeDataplane, type ProbeResult } from './probe.ts';
import type { Dataplane } from './types.ts';
import { createUserspaceDataplane, DEFAULT_TUN_MTU, DEFAULT_TUN_NAME, type DataplaneLog, type UserspaceDataplaneOptions } from './userspace.ts';
import { createXfrmDataplane } from './xfrm.ts';

export type BackendName = GatewayConfig['dataplane']['backend'];

/** Backends the gateway can be asked for by name; `auto` picks the best one this machine runs. */
export const AVAILABLE_BACKENDS: readonly Exclude<BackendName, 'auto'>[] = ['mock', 'userspace', 'xfrm'];

/**
 * The data-plane section of the config, plus TUN settings the config loader does not parse yet (they are read
 * when present, so adding `tun_name` / `mtu` to the loader is all it takes).
 */
export type DataplaneSelection = GatewayConfig['dataplane'] & { tunName?: string; mtu?: number; pathMtu?: number };

export class DataplaneUnavailableError extends Error {
  constructor(
    readonly backend: BackendName,
    readonly reason?: string,
  ) {
    super(
      reason
        ? `data plane backend "${backend}" cannot start: ${reason}`
        : `data plane backend "${backend}" is not built yet (available: ${AVAILABLE_BACKENDS.join(', ')}); use backend: auto or mock`,
    );
    this.name = 'DataplaneUnavailableError';
  }
}

/** Seams for tests; each defaults to the real thing. */
export interface SelectOptions {
  /** Virtual-IP pools (CIDRs) the userspace backend routes into its TUN device. */
  pools?: string[];
  probeXfrm?: () => ProbeResult;
  createUserspace?: (o: UserspaceDataplaneOptions) => Dataplane;
  createXfrm?: (cfg: DataplaneSelection, log?: DataplaneLog) => Dataplane;
  /** Why the userspace backend cannot run at all (no addon, no /dev/net/tun), or null. */
  userspaceProblem?: () => string | null;
  /** Environment to read OUTPOST_USERSPACE_OFFLOAD from (default process.env). */
  env?: Record<string, string | undefined>;
}

/** Why the userspace backend cannot run on this machine, before trying to create its TUN device. */
export function userspaceProblem(): string | null {
  if (!nativeAddonAvailable()) return 'native addon not built (make native)';
  try {
    loadNativeAddon();
  } catch (err) {
    return `native addon does not load: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing (no TUN support)';
  return null;
}

/** Why a configured backend cannot run in this build, or null. For check-config and for startup. */
export function backendProblem(cfg: GatewayConfig['dataplane']): string | null {
  if (cfg.backend === 'auto' || cfg.backend === 'mock') return null;
  if (cfg.backend === 'userspace') {
    const p = userspaceProblem();
    return p ? new DataplaneUnavailableError('userspace', p).message : null;
  }
  const probe = probeDataplane();
  return probe.backend === 'xfrm' ? null : new DataplaneUnavailableError('xfrm', probe.reason).message;
}

const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Creates the backend and logs ONE line saying which and why; throws DataplaneUnavailableError for an explicit one that cannot run. */
export function selectDataplane(cfg: DataplaneSelection, logger?: Pick<DataplaneLog, 'info'> & Partial<DataplaneLog>, opts: SelectOptions = {}): Dataplane {
  const log: DataplaneLog | undefined = logger && {
    info: (m, f) => logger.info(m, f),
    debug: (m, f) => logger.debug?.(m, f),
    warn: (m, f) => logger.warn?.(m, f),
  };
  // OUTPOST_USERSPACE_OFFLOAD=off turns TUN and UDP offloads off: a diagnostic and benchmark switch, not config.
  const offload = (opts.env ?? process.env)['OUTPOST_USERSPACE_OFFLOAD'] !== 'off';
  const userspaceOptions: UserspaceDataplaneOptions = {
    tun: { name: cfg.tunName ?? DEFAULT_TUN_NAME, mtu: cfg.mtu ?? DEFAULT_TUN_MTU, offload },
    udpOffload: offload,
    poolRoutes: opts.pools ?? [],
    ...(cfg.pathMtu !== undefined ? { pathMtu: cfg.pathMtu } : {}),
    ...(log ? { log } : {}),
  };
  const makeUserspace = opts.createUserspace ?? createUserspaceDataplane;
  const problem = opts.userspaceProblem ?? userspaceProblem;
  const chosen = (backend: string, why: string, requested = cfg.backend) => log?.info(`data plane: ${backend} (${why})`, { backend, requested });

  if (cfg.backend === 'mock') {
    chosen('mock', 'configured');
    return createMockDataplane();
  }
  const makeXfrm = opts.createXfrm ?? ((c: DataplaneSelection, l?: DataplaneLog) => createXfrmDataplane({ offload: c.offload, ...(l ? { log: l } : {}) }));
  if (cfg.backend === 'xfrm') {
    const probe = (opts.probeXfrm ?? probeDataplane)();
    if (probe.backend !== 'xfrm') throw new DataplaneUnavailableError('xfrm', probe.reason);
    let dp: Dataplane;
    try {
      dp = makeXfrm(cfg, log);
    } catch (err) {
      throw new DataplaneUnavailableError('xfrm', errText(err));
    }
    chosen('xfrm', `configured; offload ${cfg.offload}; ${probe.reason}`);
    return dp;
  }
  if (cfg.backend === 'userspace') {
    const p = problem();
    if (p) throw new DataplaneUnavailableError('userspace', p);
    let dp: Dataplane;
    try {
      dp = makeUserspace(userspaceOptions);
    } catch (err) {
      throw new DataplaneUnavailableError('userspace', errText(err));
    }
    chosen('userspace', `configured; TUN ${userspaceOptions.tun?.name}, MTU ${userspaceOptions.tun?.mtu}`);
    return dp;
  }

  // auto: the kernel when it can hold ESP SAs, else ESP in userspace over TUN, else the mock (no traffic).
  const probe = (opts.probeXfrm ?? probeDataplane)();
  let xfrmWhy = probe.reason;
  if (probe.backend === 'xfrm') {
    try {
      const dp = makeXfrm(cfg, log);
      chosen('xfrm', `auto: ${probe.reason}`);
      return dp;
    } catch (err) {
      xfrmWhy = `xfrm backend failed to start: ${errText(err)}`;
    }
  }
  const p = problem();
  if (!p) {
    try {
      const dp = makeUserspace(userspaceOptions);
      chosen('userspace', `auto: ${xfrmWhy}; TUN ${userspaceOptions.tun?.name} and the native addon work`);
      return dp;
    } catch (err) {
      chosen('mock', `auto: ${xfrmWhy}; userspace impossible: ${errText(err)}; no traffic will flow`);
      return createMockDataplane();
    }
  }
  chosen('mock', `auto: ${xfrmWhy}; userspace impossible: ${p}; no traffic will flow`);
  return createMockDataplane();
}
