/**
 * The /api/v1 router, built from the endpoint table in web/api-v1-routes.ts: each endpoint's path
 * parameters, query and JSON body are checked with its zod schemas before anything runs (a 400
 * names the field), and each call goes through the same actor-scoped services as the console and
 * the CLI, so authorization and the audit trail are theirs. Every error answers
 * `{ error: { kind, message, field? } }`.
 */
import express, { type Request, type Response, type Router } from 'express';
import type { z } from 'zod';
import { errorMessage } from '../lib/errors.ts';
import type { HostServices } from './src/lib/server/view/index.ts';
import { requestAccess, statusOf } from './access-http.ts';
import { buildOpenApiDocument } from './api-v1-openapi.ts';
import { refuseUntilEnrolled } from './api-v1-second-factor.ts';
import { endpoints, InputError, type Endpoint } from './api-v1-routes.ts';

/** The first issue, as `field: message`; an unknown key is named as the field. */
function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const keys = issue.code === 'unrecognized_keys' ? ((issue as { keys?: string[] }).keys ?? []) : [];
  const field = [...issue.path.map(String), ...(keys.length ? [keys.join(',')] : [])].join('.') || where;
  const message =
    issue.code === 'unrecognized_keys'
      ? `is not a known field${keys.length > 1 ? 's' : ''} here (${issue.message})`
      : issue.message;
  throw new InputError(field, message);
}

/**
 * The path of the first string (or key) holding a NUL character: PostgreSQL stores none in text or
 * jsonb, so such input is refused here, naming where it is, instead of failing in the catalog.
 */
function nulAt(value: unknown, at: string[]): string[] | undefined {
  if (typeof value === 'string') return value.includes('\0') ? at : undefined;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = nulAt(item, [...at, String(i)]);
      if (found) return found;
    }
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value)) {
    const found = key.includes('\0') ? [...at, key.replaceAll('\0', '\\0')] : nulAt(item, [...at, key]);
    if (found) return found;
  }
  return undefined;
}

function refuseNul(value: unknown, where: string): void {
  const found = nulAt(value, []);
  if (found) throw new InputError(found.join('.') || where, 'must not contain a NUL character (\\u0000)');
}

function errorBody(error: unknown): {
  status: number;
  body: { error: { kind: string; message: string; field?: string } };
} {
  if (error instanceof InputError)
    return { status: 400, body: { error: { kind: 'bad_input', field: error.field, message: error.message } } };
  const kind = (error as { kind?: string }).kind ?? 'internal';
  if (kind === 'unauthenticated') return { status: 401, body: { error: { kind, message: errorMessage(error) } } };
  const status = statusOf(error);
  return {
    status,
    body: {
      error: {
        kind,
        message: status === 500 && kind === 'internal' ? `internal error: ${errorMessage(error)}` : errorMessage(error),
      },
    },
  };
}

export function apiV1Router(services: HostServices, options: { log: (msg: string) => void }): Router {
  const router = express.Router();
  router.use(express.json({ limit: '256kb' }));

  const actorOf = (req: Request) => {
    const { actor } = requestAccess(req);
    if (!actor)
      throw Object.assign(
        new Error(
          'log in first: this endpoint needs a session cookie (POST /api/v1/session) or an API token (Authorization: Bearer hs_…)',
        ),
        { kind: 'unauthenticated' },
      );
    return actor;
  };

  let document: unknown;
  router.get('/openapi.json', (_req, res) => {
    document ??= buildOpenApiDocument(endpoints);
    res.json(document);
  });

  const handle = (e: Endpoint) => async (req: Request, res: Response) => {
    try {
      for (const [value, where] of [
        [req.params, 'path'],
        [req.query, 'query'],
        [e.body ? req.body : undefined, 'body'],
      ] as const)
        refuseNul(value, where);
      await refuseUntilEnrolled(services, req, e.path);
      const params = e.params ? parse(e.params, req.params, 'path') : undefined;
      const query = e.query ? parse(e.query, req.query, 'query') : undefined;
      // No body declared: none is read, as before (a stray body is ignored, not refused).
      const body = e.body ? parse(e.body, req.body ?? {}, 'body') : undefined;
      const result = await e.handler({
        req,
        res,
        params,
        query,
        body,
        services,
        actor: () => actorOf(req),
        domain: services.domain,
      });
      if (!res.headersSent) res.status(e.status).json(result ?? { ok: true });
    } catch (error) {
      const { status, body } = errorBody(error);
      if (status === 500) options.log(`${req.method} ${req.originalUrl} failed: ${errorMessage(error)}`);
      if (!res.headersSent) res.status(status).json(body);
      else res.destroy();
    }
  };

  for (const e of endpoints) {
    if (e.path === '/openapi.json') continue;
    router[e.method](e.path, handle(e));
  }

  router.use((req: Request, res: Response) => {
    res.status(404).json({
      error: {
        kind: 'not_found',
        message: `no endpoint ${req.method} ${req.originalUrl} (GET /api/v1/openapi.json lists them)`,
      },
    });
  });
  // Malformed JSON from express.json(): a 400 like any other bad body.
  router.use((error: unknown, _req: Request, res: Response, _next: unknown) => {
    void _next;
    res.status(400).json({ error: { kind: 'bad_input', field: 'body', message: `body: ${errorMessage(error)}` } });
  });
  return router;
}
