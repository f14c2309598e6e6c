/**
 * JSON endpoints under /api/v1 for what the console can change today. Each body is checked with
 * zod (a 400 names the field), and each call goes through the same actor-scoped services, so the
 * authorization and the audit trail are those of the console and the CLI.
 */
import { pipeline } from 'node:stream/promises';
import express, { type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { errorMessage } from '../lib/errors.ts';
import { cronSchema, timezoneSchema } from '../services/operations.ts';
import type { HostServices } from '../services/console.ts';
import { clearedSessionCookie, clientAddress, requestAccess, sessionCookie, statusOf } from './access-http.ts';

const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, "_" or "-" (at most 63)');

const schemas = {
  login: z.object({ email: z.string().min(1, 'is required'), password: z.string().min(1, 'is required') }).strict(),
  addDatabase: z.object({
    name, url: z.string().min(1, 'is required'),
    storages: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    schedule: cronSchema.nullable().optional(), timezone: timezoneSchema.optional(),
    skipCheck: z.boolean().optional(), verifyAfterBackup: z.boolean().optional(), workspace: name.optional(),
  }).strict(),
  schedule: z.object({ schedule: cronSchema.nullable(), timezone: timezoneSchema.optional() }).strict(),
  addStorage: z.object({ name, config: z.record(z.string(), z.unknown()), skipCheck: z.boolean().optional(), workspace: name.optional() }).strict(),
  startBackup: z.object({}).strict(),
  cancelBackup: z.object({ reason: z.string().max(500).optional() }).strict(),
  restore: z.object({
    database: name, backupId: z.string().min(1).optional(),
    to: z.union([z.object({ database: z.string().min(1) }).strict(), z.object({ url: z.string().min(1) }).strict()]),
  }).strict(),
  createUser: z.object({ email: z.string().min(1, 'is required'), password: z.string().min(1, 'is required'), displayName: z.string().optional(), workspace: name.optional(), role: z.string().min(1, 'is required') }).strict(),
  member: z.object({ role: z.string().min(1, 'is required') }).strict(),
  workspace: z.object({ name }).strict(),
};

class BodyError extends Error {
  constructor(readonly field: string, message: string) { super(message); }
}

function body<S extends z.ZodType>(schema: S, req: Request): z.output<S> {
  const parsed = schema.safeParse(req.body ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || (issue.code === 'unrecognized_keys' ? (issue as { keys?: string[] }).keys?.join(',') ?? 'body' : 'body');
    throw new BodyError(field, `${field}: ${issue.message}`);
  }
  return parsed.data;
}

function fail(res: Response, error: unknown): void {
  if (error instanceof BodyError) {
    res.status(400).json({ error: { kind: 'bad_input', field: error.field, message: error.message } });
    return;
  }
  const status = statusOf(error);
  const kind = (error as { kind?: string }).kind ?? 'internal';
  res.status(status).json({ error: { kind, message: status === 500 && kind === 'internal' ? `internal error: ${errorMessage(error)}` : errorMessage(error) } });
}

export function apiV1Router(services: HostServices, options: { log: (msg: string) => void }): Router {
  const router = express.Router();
  router.use(express.json({ limit: '256kb' }));

  const actorOf = (req: Request) => {
    const { actor } = requestAccess(req);
    if (!actor) throw Object.assign(new Error('log in first'), { kind: 'unauthenticated' });
    return actor;
  };
  const opsOf = (req: Request) => services.operationsFor(actorOf(req));
  const workspaceId = async (req: Request, workspace: string | undefined) => (workspace ? (await services.access.workspaceFor(actorOf(req), workspace)).id : undefined);

  /** Wraps a handler: JSON answer, errors mapped to statuses. */
  const handle = (work: (req: Request, res: Response) => Promise<unknown>, status = 200) => async (req: Request, res: Response) => {
    try {
      const result = await work(req, res);
      if (!res.headersSent) res.status(status).json(result ?? { ok: true });
    } catch (error) {
      if ((error as { kind?: string }).kind === 'unauthenticated') {
        res.status(401).json({ error: { kind: 'unauthenticated', message: 'log in first' } });
        return;
      }
      if (statusOf(error) === 500 && !(error instanceof BodyError)) options.log(`${req.method} ${req.originalUrl} failed: ${errorMessage(error)}`);
      if (!res.headersSent) fail(res, error);
      else res.destroy();
    }
  };

  router.post('/session', handle(async (req, res) => {
    const input = body(schemas.login, req);
    let session: { token: string; expiresAt: Date };
    try {
      session = await services.auth.login({ ...input, ip: clientAddress(req), userAgent: req.headers['user-agent'] ?? null });
    } catch (error) {
      // Wrong credentials are the caller's, not an upstream refusal: 401, not the 502 of access_denied.
      if ((error as { kind?: string }).kind === 'access_denied') {
        res.status(401).json({ error: { kind: 'unauthenticated', message: errorMessage(error) } });
        return undefined;
      }
      throw error;
    }
    const maxAge = Math.round((session.expiresAt.getTime() - Date.now()) / 1000);
    res.setHeader('set-cookie', sessionCookie(services.auth.cookie.name, session.token, { secure: services.auth.cookie.secure, maxAgeSeconds: maxAge }));
    return { expiresAt: session.expiresAt.toISOString() };
  }));
  router.delete('/session', handle(async (req, res) => {
    const { token, actor } = requestAccess(req);
    if (token) await services.auth.logout(token, actor);
    res.setHeader('set-cookie', clearedSessionCookie(services.auth.cookie.name, services.auth.cookie.secure));
    return { ok: true };
  }));
  router.get('/me', handle(async (req) => services.whoami(actorOf(req))));
  router.get('/overview', handle(async (req) => services.overview(actorOf(req))));

  router.get('/databases', handle(async (req) => opsOf(req).listDatabases()));
  router.post('/databases', handle(async (req) => {
    const input = body(schemas.addDatabase, req);
    const { workspace, ...rest } = input;
    return opsOf(req).addDatabase({ ...rest, schedule: rest.schedule ?? null, workspaceId: await workspaceId(req, workspace) });
  }, 201));
  router.delete('/databases/:name', handle(async (req) => {
    await opsOf(req).removeDatabase(String(req.params.name));
    return { removed: req.params.name };
  }));
  router.put('/databases/:name/schedule', handle(async (req) => {
    const input = body(schemas.schedule, req);
    await opsOf(req).setSchedule(String(req.params.name), input.schedule, input.timezone ?? 'UTC');
    return { database: req.params.name, schedule: input.schedule, timezone: input.timezone ?? 'UTC' };
  }));
  router.get('/databases/:name/backups', handle(async (req) => opsOf(req).listBackups(String(req.params.name))));
  router.post('/databases/:name/backups', handle(async (req) => {
    body(schemas.startBackup, req);
    const started = await opsOf(req).startBackup(String(req.params.name), 'manual');
    return { backupId: started.backupId, workflowId: started.workflowId };
  }, 202));

  router.get('/storages', handle(async (req) => opsOf(req).listStorages()));
  router.post('/storages', handle(async (req) => {
    const input = body(schemas.addStorage, req);
    return opsOf(req).saveStorage(input.name, input.config, { skipCheck: input.skipCheck, workspaceId: await workspaceId(req, input.workspace) });
  }, 201));
  router.delete('/storages/:name', handle(async (req) => {
    await opsOf(req).removeStorage(String(req.params.name));
    return { removed: req.params.name };
  }));
  router.post('/storages/:name/test', handle(async (req) => opsOf(req).testStorage(String(req.params.name))));

  router.get('/backups/:id', handle(async (req) => opsOf(req).getBackup(String(req.params.id))));
  router.post('/backups/:id/cancel', handle(async (req) => {
    const input = body(schemas.cancelBackup, req);
    return opsOf(req).cancelBackup(String(req.params.id), input.reason);
  }, 202));
  router.get('/backups/:id/download', handle(async (req, res) => {
    const encrypted = req.query.encrypted === '1' || req.query.encrypted === 'true';
    const download = await opsOf(req).openDownload(String(req.params.id), { decrypt: !encrypted });
    res.status(200).set({
      'content-type': 'application/octet-stream',
      'content-length': String(download.sizeBytes),
      'content-disposition': `attachment; filename="${download.fileName}"`,
    });
    await pipeline(download.stream, res);
  }));

  router.post('/restores', handle(async (req) => {
    const input = body(schemas.restore, req);
    const started = await opsOf(req).startRestore({ database: input.database, backupId: input.backupId, to: input.to });
    return { workflowId: started.workflowId };
  }, 202));

  router.get('/audit', handle(async (req) => {
    const q = (k: string) => (typeof req.query[k] === 'string' ? (req.query[k] as string) : undefined);
    return services.people.listAudit(actorOf(req), { workspace: q('workspace'), actor: q('actor'), action: q('action'), since: q('since') });
  }));
  router.get('/users', handle(async (req) => services.people.listUsers(actorOf(req))));
  router.post('/users', handle(async (req) => {
    const input = body(schemas.createUser, req);
    await services.people.createUser(actorOf(req), { ...input, workspace: input.workspace ?? 'default' });
    return { created: input.email.trim().toLowerCase() };
  }, 201));
  router.get('/workspaces', handle(async (req) => services.people.listWorkspaces(actorOf(req))));
  router.post('/workspaces', handle(async (req) => {
    const input = body(schemas.workspace, req);
    await services.people.createWorkspace(actorOf(req), input.name);
    return { created: input.name };
  }, 201));
  router.put('/workspaces/:workspace/members/:email', handle(async (req) => {
    const input = body(schemas.member, req);
    await services.people.setMember(actorOf(req), String(req.params.email), String(req.params.workspace), input.role);
    return { ok: true };
  }));
  router.delete('/workspaces/:workspace/members/:email', handle(async (req) => {
    await services.people.removeMember(actorOf(req), String(req.params.email), String(req.params.workspace));
    return { ok: true };
  }));

  router.use((req: Request, res: Response) => {
    res.status(404).json({ error: { kind: 'not_found', message: `no endpoint ${req.method} ${req.originalUrl}` } });
  });
  // Malformed JSON from express.json(): a 400 like any other bad body.
  router.use((error: unknown, _req: Request, res: Response, _next: unknown) => {
    void _next;
    res.status(400).json({ error: { kind: 'bad_input', field: 'body', message: `body: ${errorMessage(error)}` } });
  });
  return router;
}
