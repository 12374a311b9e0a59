// Executes the engine's effects (ARCHITECTURE.md §1): dp.* against the Dataplane in order, pki.validateChain then `resume`.
import type { Dataplane } from '../dataplane/types.ts';
import type { Effect, ValidateChainRequest, ValidateChainResult } from '../ike/io.ts';
import type { Logger } from './logger.ts';

export interface EffectRunnerOptions {
  dataplane: Dataplane;
  logger: Logger;
  validateChain: (req: ValidateChainRequest) => Promise<ValidateChainResult>;
  /** Hands a validation result back to the engine (engine.command({type:'resume'}) and routing of its Output). */
  resume: (ref: string, result: ValidateChainResult) => void;
}

export interface EffectRunnerStats {
  dpOk: number;
  dpFailed: number;
  validations: number;
  validationErrors: number;
}

export interface EffectRunner {
  /** Starts the effects; the promise settles once this batch's data-plane effects are applied (or failed). */
  run(effects: readonly Effect[]): Promise<void>;
  /** Resolves once every effect handed to `run` so far has finished (stop, tests). */
  idle(): Promise<void>;
  stats(): EffectRunnerStats;
  /** After this, validation results are dropped instead of resumed (the engine is going away). */
  close(): void;
}

/** What to log about an effect: never the SaParams keys, only handles and SPIs. */
function describe(e: Effect): Record<string, unknown> {
  switch (e.type) {
    case 'dp.addSa':
      return { childId: e.sa.childId, spi: hexSpi(e.sa.spi), direction: e.sa.direction, src: e.sa.src, dst: e.sa.dst, encap: e.sa.encap !== undefined };
    case 'dp.updateSa':
      return { spi: hexSpi(e.spi), direction: e.direction, src: e.src, dst: e.dst };
    case 'dp.delSa':
      return { childId: e.childId, spi: hexSpi(e.spi), direction: e.direction };
    case 'dp.addPolicy':
    case 'dp.delPolicy':
      return { childId: e.policy.childId, direction: e.policy.direction, spi: e.policy.spi === undefined ? undefined : hexSpi(e.policy.spi) };
    case 'pki.validateChain':
      return { ref: e.ref };
  }
}

function hexSpi(spi: number): string {
  return `0x${(spi >>> 0).toString(16).padStart(8, '0')}`;
}

export function createEffectRunner(opts: EffectRunnerOptions): EffectRunner {
  const { dataplane: dp, logger } = opts;
  const stats: EffectRunnerStats = { dpOk: 0, dpFailed: 0, validations: 0, validationErrors: 0 };
  // Data-plane changes keep their order (SA before policy on install, policy before SA on removal), so they
  // run one after another on a single chain; validations are independent and run concurrently.
  let dpChain: Promise<void> = Promise.resolve();
  const pending = new Set<Promise<void>>();
  let closed = false;

  const track = (p: Promise<void>): void => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  const applyDp = async (e: Exclude<Effect, { type: 'pki.validateChain' }>): Promise<void> => {
    switch (e.type) {
      case 'dp.addSa':
        return dp.addSa(e.sa);
      case 'dp.updateSa':
        return dp.updateSa(e.spi, e.direction, {
          ...(e.src !== undefined ? { src: e.src } : {}),
          ...(e.dst !== undefined ? { dst: e.dst } : {}),
          ...('encap' in e ? { encap: e.encap } : {}),
        });
      case 'dp.delSa':
        return dp.delSa(e.spi, e.direction);
      case 'dp.addPolicy':
        return dp.addPolicy(e.policy);
      case 'dp.delPolicy':
        return dp.delPolicy(e.policy);
    }
  };

  const validate = async (ref: string, req: ValidateChainRequest): Promise<void> => {
    stats.validations++;
    let result: ValidateChainResult;
    try {
      result = await opts.validateChain(req);
    } catch (err) {
      stats.validationErrors++;
      logger.error('certificate validation crashed', { ref, error: err instanceof Error ? err.message : String(err) });
      result = { ok: false, reason: `internal error during certificate validation: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (closed) return;
    if (logger.enabled('debug')) logger.debug('certificate validation done', { ref, ok: result.ok, ...(result.ok ? { subject: result.subject } : { reason: result.reason }) });
    try {
      opts.resume(ref, result);
    } catch (err) {
      logger.error('resuming the engine failed', { ref, error: err instanceof Error ? err.message : String(err) });
    }
  };

  return {
    run(effects) {
      let batch: Promise<void> = Promise.resolve();
      for (const e of effects) {
        if (e.type === 'pki.validateChain') {
          track(validate(e.ref, e.request));
          continue;
        }
        const step = dpChain.then(async () => {
          try {
            await applyDp(e);
            stats.dpOk++;
            // describe() allocates; at info level, skip it (four data-plane effects per handshake).
            if (logger.enabled('debug')) logger.debug(e.type, describe(e));
          } catch (err) {
            stats.dpFailed++;
            logger.error(`${e.type} failed`, { ...describe(e), error: err instanceof Error ? err.message : String(err) });
          }
        });
        dpChain = step;
        batch = step;
        track(step);
      }
      return batch;
    },
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    stats: () => ({ ...stats }),
    close() {
      closed = true;
    },
  };
}
