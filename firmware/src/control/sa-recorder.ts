// Writes SA events to the store under pseudonyms: the session is an HMAC of the IKE SPI, identities and addresses HMACs too unless configured.
import type { IkeSaInfo } from '../ike/io.ts';
import type { Logger } from '../runtime/logger.ts';
import { pseudonym, sessionPseudonym } from '../store/pseudonym.ts';
import { SETTING, type Store } from '../store/store.ts';
import type { StreamBus } from './supervisor.ts';

export type IdentityPolicy = 'pseudonymise' | 'store';
const MAX_TRACKED = 10_000;

export interface SaRecorder {
  /** Resolves when every event received so far is written. */
  flush(): Promise<void>;
  stop(): void;
}

export async function recordSaEvents(opts: { store: Store; events: StreamBus; lookup(ikeId: string): IkeSaInfo | undefined; logger: Logger }): Promise<SaRecorder> {
  const { store, logger } = opts;
  const key = store.keys.pseudonyms;
  const policy: IdentityPolicy = (await store.settings.get<string>(SETTING.identities)) === 'store' ? 'store' : 'pseudonymise';
  const who = (kind: string, v: string): string => (policy === 'store' ? v : pseudonym(key, kind, v));
  // ikeId → session pseudonym: the SA may be gone from listSas() by the time its down/failed event arrives.
  const sessions = new Map<string, string>();
  const session = (ikeId: string): string => {
    let s = sessions.get(ikeId);
    if (s) return s;
    const sa = opts.lookup(ikeId);
    s = sa ? sessionPseudonym(key, sa.spiI) : pseudonym(key, 'ike-handle', ikeId);
    if (sessions.size >= MAX_TRACKED) sessions.delete(sessions.keys().next().value as string);
    sessions.set(ikeId, s);
    return s;
  };
  let writes: Promise<unknown> = Promise.resolve();
  let sinceTrim = 0;
  const write = (rec: Parameters<Store['saEvents']['record']>[0]): void => {
    writes = writes
      .then(() => store.saEvents.record(rec))
      .then(async () => {
        if (++sinceTrim >= 1000) {
          sinceTrim = 0;
          await store.enforceRetention();
        }
      })
      .catch((err: unknown) => logger.warn('cannot record SA event', { error: err instanceof Error ? err.message : String(err) }));
  };
  const off = opts.events.on((e) => {
    switch (e.type) {
      case 'ike.up':
        write({
          type: e.type,
          session: session(e.ikeId),
          conn: e.conn,
          detail: { remote: who('addr', e.remote.addr), remoteId: who('id', e.remoteId), proposal: e.proposal, natLocal: e.natLocal, natRemote: e.natRemote, initiator: e.initiator },
        });
        break;
      case 'child.up':
        write({ type: e.type, session: session(e.ikeId), conn: e.conn, detail: { child: e.child, proposal: e.proposal, localTs: e.localTs, remoteTs: e.remoteTs } });
        break;
      case 'child.down':
        write({ type: e.type, session: session(e.ikeId), detail: { reason: e.reason } });
        break;
      case 'ike.down':
        write({ type: e.type, session: session(e.ikeId), conn: e.conn, detail: { reason: e.reason } });
        sessions.delete(e.ikeId);
        break;
      case 'auth.failed':
      case 'ike.failed':
        write({ type: e.type, session: session(e.ikeId), conn: e.conn ?? null, detail: { remote: who('addr', e.remote.addr), reason: e.reason, ...(e.type === 'ike.failed' && e.notify !== undefined ? { notify: e.notify } : {}) } });
        sessions.delete(e.ikeId);
        break;
      default:
        break;
    }
  });
  return {
    flush: async () => {
      await writes;
    },
    stop: off,
  };
}
