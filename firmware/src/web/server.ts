// Serves the web UI over HTTPS (RFC 8446 via Bun.serve) with the device certificate, attached to a running control plane.
import { dirname, resolve } from 'node:path';
import type { ControlPlane } from '../control/attach.ts';
import type { Logger } from '../runtime/logger.ts';
import { createWebApp, type WebAppOptions } from './app.ts';
import { WebUsers } from './auth.ts';
import { inProcessControlApi } from './control-api.ts';
import { loadOrCreateWebTls, type WebTls } from './device-cert.ts';

export interface WebListen {
  hostname: string;
  port: number;
}

/** `ADDR:PORT`, `[V6]:PORT`; port 0 picks a free one. */
export function parseWebListen(spec: string): { ok: true; value: WebListen } | { ok: false; error: string } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(spec);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) return { ok: false, error: `"${spec}" is not ADDR:PORT (e.g. 0.0.0.0:443, [::]:8443, 127.0.0.1:8443)` };
  return { ok: true, value: { hostname: (m[1] ?? m[2]) as string, port } };
}

export interface WebServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export function serveWebApp(
  app: { fetch: (req: Request, env: never) => Response | Promise<Response> },
  listen: WebListen,
  tls: Pick<WebTls, 'cert' | 'key'>,
  onStop?: () => void,
): WebServer {
  const server = Bun.serve({
    hostname: listen.hostname,
    port: listen.port,
    tls: { cert: tls.cert, key: tls.key },
    // The SSE stream pings more often than this.
    idleTimeout: 60,
    // Hono's env is the Bun server here: the app reads the client address through its requestIP().
    fetch: (req, srv) => app.fetch(req, srv as never),
  });
  const host = listen.hostname.includes(':') ? `[${listen.hostname}]` : listen.hostname;
  return {
    url: `https://${host}:${server.port}`,
    port: server.port as number,
    stop: async () => {
      onStop?.();
      await server.stop(true);
    },
  };
}

export interface WebUiOptions {
  listen: WebListen;
  /** Where web-cert.pem and web-key.pem live (default: beside the store's database). */
  stateDir?: string;
  logger: Logger;
  app?: Omit<WebAppOptions, 'api' | 'users'>;
}

/** The web UI of a gateway running under the control plane; needs the store (accounts live in its settings). */
export function startWebUi(plane: ControlPlane, o: WebUiOptions): WebServer {
  const store = plane.store;
  if (!store) throw new Error('the web UI needs the store: start the gateway with --db PATH');
  const dir = o.stateDir ?? dirname(resolve(store.db.path));
  const tls = loadOrCreateWebTls(dir);
  if (tls.created) o.logger.info(`web UI: created a self-signed certificate in ${dir}/web-cert.pem`, { event: 'web.cert.created' });
  const api = inProcessControlApi({ supervisor: plane.supervisor, store, logger: o.logger, ...(plane.applier ? { applier: plane.applier } : {}) });
  const shutdown = new AbortController();
  const app = createWebApp({ api, users: new WebUsers(store.settings), shutdown: shutdown.signal, ...o.app });
  const server = serveWebApp(app, o.listen, tls, () => shutdown.abort());
  o.logger.info(`web UI: ${server.url}`, { event: 'web.listening', url: server.url });
  return server;
}
