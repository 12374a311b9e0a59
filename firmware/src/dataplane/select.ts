// Picks the data-plane backend named in config (ARCHITECTURE.md §4): today only the mock exists; `auto` degrades, never fails.
import type { GatewayConfig } from '../config/types.ts';
import { createMockDataplane } from './mock.ts';
import type { Dataplane } from './types.ts';

export type BackendName = GatewayConfig['dataplane']['backend'];

/** Backends this build can run; `auto` picks the best of them. */
export const AVAILABLE_BACKENDS: readonly Exclude<BackendName, 'auto'>[] = ['mock'];

export class DataplaneUnavailableError extends Error {
  constructor(readonly backend: BackendName) {
    super(`data plane backend "${backend}" is not built yet (available: ${AVAILABLE_BACKENDS.join(', ')}); use backend: auto or mock`);
    this.name = 'DataplaneUnavailableError';
  }
}

/** Why a configured backend cannot run in this build, or null. For check-config and for startup. */
export function backendProblem(cfg: GatewayConfig['dataplane']): string | null {
  if (cfg.backend === 'auto' || (AVAILABLE_BACKENDS as readonly string[]).includes(cfg.backend)) return null;
  return new DataplaneUnavailableError(cfg.backend).message;
}

/** Creates the backend and logs ONE line saying which and why; throws DataplaneUnavailableError for an explicit missing one. */
export function selectDataplane(cfg: GatewayConfig['dataplane'], log?: { info(msg: string, fields?: Record<string, unknown>): void }): Dataplane {
  if (cfg.backend === 'userspace' || cfg.backend === 'xfrm') throw new DataplaneUnavailableError(cfg.backend);
  const why = cfg.backend === 'auto' ? 'userspace and xfrm backends not built yet' : 'configured';
  log?.info(`data plane: mock (${why})`, { backend: 'mock', requested: cfg.backend });
  return createMockDataplane();
}
