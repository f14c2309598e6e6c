import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler } from 'express';
import type { HostServices } from './src/lib/server/view/index.ts';
import { CONSOLE_SERVICES_KEY } from './src/lib/server/view/types.ts';
import { accessMiddleware, clientAddress, expectedOrigin } from './access-http.ts';
import { securityHeaders } from './security-headers.ts';
import { isLoopbackHost } from '../lib/net/loopback.ts';
import type { TrustProxy } from '../lib/trust-proxy.ts';
import { apiV1Router } from './api-v1.ts';
import { codecSessionCheck } from './codec-access.ts';
import { codecRouter, type CodecServerOptions } from './codec-server.ts';
import { createConsoleMetrics } from './metrics.ts';
import { temporalUiProxy } from './temporal-ui-proxy.ts';
import { TEMPORAL_UI_PATH } from './src/lib/server/view/temporal-ui.ts';
import { systemActor } from '../services/authz.ts';

export interface WebServerOptions {
  services: HostServices;
  /** HINDSIGHT_PUBLIC_URL: the origin form posts must come from (default: the request's host). */
  publicUrl?: string | undefined;
  /** Temporal's remote codec protocol at /codec, for the Temporal UI and CLI. */
  codec?: Omit<CodecServerOptions, 'log' | 'session'>;
  /** HINDSIGHT_TRUST_PROXY: the proxies whose X-Forwarded-For/-Proto are believed (default: none). */
  trustProxy?: TrustProxy | undefined;
  /** HINDSIGHT_METRICS_TOKEN: the bearer token GET /metrics requires (unset: open). */
  metricsToken?: string | undefined;
  host: string;
  port: number;
  log: (msg: string) => void;
}

export interface WebServer {
  close(): Promise<void>;
  url: string;
}

// Must match envPrefix in vite.config.ts.
const ADAPTER_ENV_PREFIX = 'HINDSIGHT_CONSOLE_';
const PROTOCOL_HEADER = 'x-hindsight-console-protocol';
// Where SvelteKit's getClientAddress() reads the client's address: express's req.ip, which honours
// HINDSIGHT_TRUST_PROXY, so throttling and the audit see the same address as the express routes.
const ADDRESS_HEADER = 'x-hindsight-console-client-address';

async function loadConsoleHandler(): Promise<RequestHandler> {
  // adapter-node assumes https unless told where to read the protocol, and then rejects every form
  // post made over plain http as cross-site. It reads its settings once, when handler.js is imported.
  process.env[`${ADAPTER_ENV_PREFIX}PROTOCOL_HEADER`] ??= PROTOCOL_HEADER;
  process.env[`${ADAPTER_ENV_PREFIX}ADDRESS_HEADER`] ??= ADDRESS_HEADER;
  const handlerUrl = new URL('./build/handler.js', import.meta.url);
  if (!existsSync(fileURLToPath(handlerUrl))) {
    throw new Error(`console is not built: run npm run setup (missing ${fileURLToPath(handlerUrl)})`);
  }
  // The build output has no type declarations; adapter-node documents `handler` as connect-style middleware.
  const mod = (await import(handlerUrl.href)) as { handler: RequestHandler };
  return mod.handler;
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function urlOf(server: Server, host: string): string {
  const { port } = server.address() as AddressInfo;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function buildApp(options: WebServerOptions, consoleHandler: RequestHandler): express.Express {
  const { services, log } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy ?? false);
  app.use(securityHeaders([TEMPORAL_UI_PATH]));
  const metrics = createConsoleMetrics({
    status: () => services.databaseStatus(systemActor),
    drills: () => services.domain.ctx.runtime.catalog.servers.drillSummaries(),
    token: options.metricsToken,
    loopbackOnly: isLoopbackHost(options.host),
    apiActor: (secret, ip) => services.tokens.actorForSecret(secret, ip),
    databasesOf: async (actor) => new Set((await services.databaseStatus(actor)).databases.map((d) => d.name)),
    log,
  });
  app.use(metrics.httpMiddleware);
  app.get('/metrics', metrics.handler);
  if (options.codec) {
    const ownOrigin = (req: express.Request) => expectedOrigin(req, options.publicUrl);
    app.use('/codec', codecRouter({ ...options.codec, ownOrigin, session: codecSessionCheck(services), log }));
  }
  // From the config, as the header's link is: both or neither. It checks sessions itself, answering
  // the UI's API calls with 401 rather than a redirect, and refuses every write (web/temporal-ui-proxy.ts).
  const upstream = services.domain.ctx.runtime.config.temporalUiUpstream;
  if (upstream) app.use(TEMPORAL_UI_PATH, temporalUiProxy({ services, upstream, log }));

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });

  // Every page and /api/v1 route below needs a session (see web/access-http.ts).
  app.use(accessMiddleware(services, { publicUrl: options.publicUrl, log }));
  app.use('/api/v1', apiV1Router(services, { log }));

  // Always overwritten, so a client can claim neither; req.protocol and req.ip honour 'trust proxy'.
  app.use((req, _res, next) => {
    req.headers[PROTOCOL_HEADER] = req.protocol;
    req.headers[ADDRESS_HEADER] = clientAddress(req);
    next();
  });
  app.use(consoleHandler);
  return app;
}

/**
 * Serves the console: a JSON API for scripts and the SvelteKit pages. The caller owns the
 * services; the pages reach them through globalThis because the built handler is a separate bundle
 * that cannot import this process's instances.
 */
export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const { services, host, port } = options;
  const slot = globalThis as Record<string, unknown>;
  slot[CONSOLE_SERVICES_KEY] = services;
  const unpublish = () => {
    if (slot[CONSOLE_SERVICES_KEY] === services) delete slot[CONSOLE_SERVICES_KEY];
  };

  let server: Server;
  let url: string;
  try {
    // Load before listening, so a missing build fails startup instead of every page request.
    const consoleHandler = await loadConsoleHandler();
    server = createServer(buildApp(options, consoleHandler));
    await listen(server, host, port);
    url = urlOf(server, host);
  } catch (err) {
    unpublish();
    throw err;
  }
  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => {
          unpublish();
          if (err) reject(err);
          else resolve();
        });
        // Browsers keep idle connections open; without this close() waits for them to time out.
        server.closeIdleConnections();
      }),
  };
}
