/**
 * The Temporal UI on the console's own origin, at /temporal/, read-only. Served from here, the
 * UI's calls to the codec endpoint (/codec) are same-origin, so the browser sends the console's
 * session cookie with them and the UI shows decoded payloads with no setting to make in it.
 *
 * Who: a signed-in console user who may read every workspace's histories (view/temporal-ui.ts),
 * the same rule as the codec endpoint, since one namespace holds every workspace's runs.
 * What: reads only. Every method but GET and HEAD is refused before it reaches Temporal, and the
 * UI is told its write actions are off; starting, cancelling or terminating work belongs to the
 * console, `hindsight`, or the `temporal` CLI with the codec token. The UI server gets none of the
 * console's cookies or credentials: it needs none to read.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { forwardRequest, type BodyRewrite, type ForwardError } from './forward-request.ts';
import { sessionActorOf } from './codec-access.ts';
import type { HostServices } from './src/lib/server/view/index.ts';
import { TEMPORAL_UI_PATH, mayReadEveryHistory } from './src/lib/server/view/temporal-ui.ts';

export interface TemporalUiProxyOptions {
  services: HostServices;
  /** The UI server's root URL; it serves the UI under TEMPORAL_UI_PATH (`--ui-public-path /temporal`). */
  upstream: string;
  log: (msg: string) => void;
  /** How long the UI server may take to accept a connection and start its answer (default 15 s). */
  timeoutMs?: number;
}

const READ_ONLY_MESSAGE =
  'The Temporal UI in the console is read-only: act from the console, with the hindsight CLI, or with ' +
  '`temporal workflow … --codec-endpoint <console>/codec --codec-auth "Bearer $(cat <codec token file>)"` (docs/temporal.md).';

const FORBIDDEN_MESSAGE =
  "The Temporal UI shows every workspace's runs: it needs the viewer role (or more) in every workspace, or the instance owner. Ask an owner for it.";

/** What the UI may not offer here: its settings switch the buttons of every write action off. */
const WRITE_SWITCHES = [
  'DisableWriteActions',
  'WorkflowTerminateDisabled',
  'WorkflowCancelDisabled',
  'WorkflowSignalDisabled',
  'WorkflowUpdateDisabled',
  'WorkflowResetDisabled',
  'WorkflowPauseDisabled',
  'BatchActionsDisabled',
  'StartWorkflowDisabled',
  'ActivityCommandsDisabled',
];

/**
 * The request headers the UI server sees: what a browser reads with, and the UI's own `caller-type`.
 * None of the console's session, tokens or the browser's origin (cookie, authorization,
 * authorization-extras, origin, x-csrf-token); no accept-encoding, so the pages and settings
 * rewritten here come plain; and no host: the request names the UI server's own, which a UI
 * deployed behind its own virtual host or TLS name needs.
 */
const REQUEST_HEADERS = new Set([
  'accept',
  'accept-language',
  'user-agent',
  'caller-type',
  'cache-control',
  'pragma',
  'if-none-match',
  'if-modified-since',
  'range',
  'if-range',
]);

/** The answer's headers passed back; no set-cookie: the UI server's CSRF cookie would land on the console's origin. */
const RESPONSE_HEADERS = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-range',
  'accept-ranges',
  'cache-control',
  'expires',
  'etag',
  'last-modified',
  'vary',
  'location',
]);

/** A page or the settings are read whole to be rewritten; nothing the UI server sends of them comes near this. */
const MAX_REWRITE_BYTES = 4 * 1024 * 1024;

const isApi = (req: Request | IncomingMessage) => (req.url ?? '').startsWith('/api/');

/** An answer in the form the UI reads errors in (gRPC-gateway's `{code, message}`), or a page. */
function answer(req: Request, res: Response, status: 401 | 403 | 502, message: string): void {
  res.setHeader('Cache-Control', 'no-store');
  if (isApi(req) || !['GET', 'HEAD'].includes(req.method)) {
    const code = { 401: 16, 403: 7, 502: 14 }[status];
    return void res.status(status).json({ code, message, details: [] });
  }
  res
    .status(status)
    .type('html')
    .send(
      `<!doctype html><meta charset="utf-8"><title>Temporal UI</title><body style="font-family: system-ui; max-width: 36rem; margin: 4rem auto"><h1>Temporal UI</h1><p>${message}</p><p><a href="/">Back to the console</a></p>`,
    );
}

async function admit(options: TemporalUiProxyOptions, req: Request, res: Response, next: NextFunction) {
  const { services } = options;
  if (!['GET', 'HEAD'].includes(req.method)) {
    options.log(`temporal ui: refused ${req.method} ${req.originalUrl} from ${req.ip} (read-only)`);
    return answer(req, res, 403, READ_ONLY_MESSAGE);
  }
  const actor = await sessionActorOf(services, req);
  if (!actor) {
    if (isApi(req)) return answer(req, res, 401, 'sign into the console first: the Temporal UI here needs its session');
    const to = (await services.auth.needsSetup()) ? '/setup' : `/login?next=${encodeURIComponent(req.originalUrl)}`;
    return res.redirect(303, to);
  }
  if (!(await mayReadEveryHistory(services.domain, actor))) return answer(req, res, 403, FORBIDDEN_MESSAGE);
  // The UI resolves its routes against /temporal/; without the slash its first page would not load.
  if (req.originalUrl === TEMPORAL_UI_PATH) return res.redirect(308, `${TEMPORAL_UI_PATH}/`);
  next();
}

/** The hashes of the page's own inline scripts (the UI's boot script): no script added to the page later runs. */
function inlineScriptHashes(html: string): string[] {
  return [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(
    (m) => `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`,
  );
}

function contentSecurityPolicy(html: string): string {
  return [
    "default-src 'self'",
    `script-src 'self' ${inlineScriptHashes(html).join(' ')}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The UI's settings with every write action switched off. */
function readOnlySettings(body: Buffer): Buffer | string {
  try {
    const settings = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    for (const key of WRITE_SWITCHES) settings[key] = true;
    return JSON.stringify(settings);
  } catch {
    return body;
  }
}

/** Sets the console's headers on every answer of the UI server; a page or the settings are rewritten whole. */
function decorate(req: IncomingMessage, up: IncomingMessage, res: Response): BodyRewrite | undefined {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'same-origin');
  if (isApi(req)) res.setHeader('Cache-Control', 'no-store');
  if ((req.url ?? '').split('?')[0] === '/api/v1/settings') return readOnlySettings;
  if (!/^text\/html/.test(up.headers['content-type'] ?? '')) return undefined;
  return (body) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Security-Policy', contentSecurityPolicy(body.toString('utf8')));
    return body;
  };
}

function failed(options: TemporalUiProxyOptions, req: Request, res: Response, error: ForwardError): void {
  if (error.clientGone) return;
  const upstream = `${options.upstream}${TEMPORAL_UI_PATH}`;
  options.log(`temporal ui: ${upstream} did not answer ${req.method} ${req.url}: ${error.message}`);
  // Part of the answer is already out: all that is left is to cut it, so the browser sees it incomplete.
  if (res.headersSent || res.destroyed) return void res.destroy();
  const hint = `is it running, with --ui-public-path ${TEMPORAL_UI_PATH}? Its address is set by HINDSIGHT_TEMPORAL_UI_UPSTREAM`;
  answer(req, res, 502, `The Temporal UI server at ${upstream} did not answer (${error.message}): ${hint}.`);
}

/** The /temporal router: mount it at TEMPORAL_UI_PATH, before the console's own session check. */
export function temporalUiProxy(options: TemporalUiProxyOptions): Router {
  const router = express.Router();
  router.use((req, res, next) => {
    admit(options, req, res, next).catch((error: unknown) => {
      options.log(`temporal ui: session check failed: ${(error as Error).message}`);
      answer(req, res, 502, 'the catalog could not be reached to check the session; try again');
    });
  });
  const upstream = new URL(`${options.upstream}${TEMPORAL_UI_PATH}`);
  router.use((req, res) => {
    forwardRequest(req, res, {
      upstream,
      path: req.url,
      requestHeaders: REQUEST_HEADERS,
      responseHeaders: RESPONSE_HEADERS,
      timeoutMs: options.timeoutMs ?? 15_000,
      maxRewriteBytes: MAX_REWRITE_BYTES,
      onResponse: (up) => decorate(req, up, res),
    }).catch((error: ForwardError) => failed(options, req, res, error));
  });
  return router;
}
