/**
 * Every /api/v1 endpoint, declared once: method, path, summary, the zod schemas of its path
 * parameters, query and body, and what it answers. web/api-v1.ts builds the express router from
 * this table and web/api-v1-openapi.ts the OpenAPI document, so the two cannot drift apart.
 * Handlers call the same actor-scoped services as the console and the CLI (never HTTP to itself).
 */
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { notifierConfigSchema, notificationEventSchema } from '../lib/notify/config.ts';
import { retentionPolicy } from '../lib/retention/policy.ts';
import { HindsightError, errorMessage } from '../lib/errors.ts';
import { createApiTokenInput } from '../services/api-tokens.ts';
import type { ActorOperations } from '../services/actor-operations.ts';
import type { Actor } from '../services/authz.ts';
import type { HostServices } from '../services/console.ts';
import { cronSchema, timezoneSchema } from '../services/operations.ts';
import { clearedSessionCookie, clientAddress, requestAccess, sessionCookie } from './access-http.ts';

const name = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, "_" or "-" (at most 63)');
const required = z.string().min(1, 'is required');

export const schemas = {
  login: z.object({ email: required, password: required }).strict(),
  addDatabase: z.object({
    name, url: required,
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
  createUser: z.object({ email: required, password: required, displayName: z.string().optional(), workspace: name.optional(), role: required }).strict(),
  member: z.object({ role: required }).strict(),
  workspace: z.object({ name }).strict(),
  saveNotifier: z.object({ config: notifierConfigSchema, events: z.array(notificationEventSchema).min(1).optional(), workspace: name.optional() }).strict(),
  requestVerification: z.object({ backupId: z.string().min(1).optional() }).strict(),
  retentionPolicy: z.object({ policy: retentionPolicy.nullable() }).strict(),
  createToken: createApiTokenInput,
};

const tokenView = z.object({
  id: z.number().int(), name: z.string(), prefix: z.string().describe('the first 10 characters of the secret'), workspace: z.string(),
  role: z.enum(['owner', 'admin', 'editor', 'viewer']), createdAt: z.string(), expiresAt: z.string().nullable(), lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(), state: z.enum(['active', 'expired', 'revoked']),
});

// Dates travel as ISO 8601 strings. Objects stay open (z.looseObject): fields may be added, none removed.
const isoDate = z.string().describe('ISO 8601');
const databaseView = z.looseObject({
  name: z.string(), host: z.string(), port: z.number().int(), dbname: z.string(), username: z.string(), hasPassword: z.boolean(),
  sslmode: z.string().nullable(), storageNames: z.array(z.string()), schedule: z.string().nullable(), timezone: z.string(),
  verifyAfterBackup: z.boolean(), verifySchedule: z.string().nullable(), workspaceId: z.number().int(), createdAt: isoDate,
});
const storageView = z.looseObject({
  name: z.string(), type: z.string(), settings: z.record(z.string(), z.unknown()).describe('without secrets'), hasSecrets: z.boolean(),
  workspaceId: z.number().int(), createdAt: isoDate,
});
const backupView = z.looseObject({
  id: z.string(), databaseName: z.string(), workflowId: z.string(),
  status: z.enum(['running', 'complete', 'partial', 'failed', 'cancelled', 'deleted']), trigger: z.string(),
  copies: z.array(z.looseObject({ storageName: z.string(), status: z.string(), sizeBytes: z.number().nullable(), error: z.string().nullable() })),
  startedAt: isoDate, finishedAt: isoDate.nullable(), sizeBytes: z.number().nullable(), dumpBytes: z.number().nullable(),
  sha256: z.string().nullable().describe('of the dump, before compression and encryption'), compression: z.string().nullable(),
  rowCounts: z.array(z.looseObject({ schema: z.string(), table: z.string(), rows: z.number() })).nullable(),
  error: z.string().nullable(), warnings: z.array(z.unknown()),
});

const responses = {
  databases: z.array(databaseView),
  storages: z.array(storageView),
  backup: backupView,
  backups: z.array(backupView),
  token: tokenView,
  tokens: z.array(tokenView),
  createdToken: z.object({ token: tokenView, secret: z.string().describe('hs_… — shown this once, never stored') }),
  started: z.object({ backupId: z.string(), workflowId: z.string() }),
  workflow: z.object({ workflowId: z.string() }),
  restore: z.object({
    workflowId: z.string(), type: z.enum(['restoreBackup', 'pitrRestore']), status: z.string().describe('the workflow\'s status: RUNNING, COMPLETED, FAILED, …'),
    startedAt: z.string(), closedAt: z.string().nullable(), progress: z.record(z.string(), z.unknown()).nullable().describe('the workflow\'s progress query: stage, bytes, error'),
  }),
};

const params = {
  name: z.object({ name: z.string().describe('database, storage or notifier name') }),
  id: z.object({ id: z.string().describe('backup id') }),
  member: z.object({ workspace: z.string(), email: z.string() }),
  workflow: z.object({ workflowId: z.string().describe('the workflowId a restore start returned, URL-encoded (restore%2Fshop%2F…)') }),
  verification: z.object({ id: z.string().describe('verification id') }),
  token: z.object({ id: z.string().regex(/^\d+$/, 'must be a token id (a number)') }),
};

/** What a handler gets: parsed input and the caller, resolved lazily so public endpoints need none. */
export interface EndpointContext<P, Q, B> {
  req: Request;
  res: Response;
  params: P;
  query: Q;
  body: B;
  services: HostServices;
  actor(): Actor;
  ops(): ActorOperations;
}

type Infer<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface Endpoint<P extends z.ZodObject | undefined = z.ZodObject | undefined, Q extends z.ZodObject | undefined = z.ZodObject | undefined, B extends z.ZodType | undefined = z.ZodType | undefined> {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Express syntax (`/databases/:name`); the OpenAPI path is derived from it. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  /** Open without a session or token. */
  public?: boolean;
  params?: P;
  query?: Q;
  body?: B;
  status: number;
  /** What a success answers, for the document. */
  response: string;
  /** Its shape, where a script is likely to read it (the document says `{}` otherwise). */
  responseSchema?: z.ZodType;
  /** `binary`: a download stream instead of JSON. */
  produces?: 'json' | 'binary';
  handler(ctx: EndpointContext<Infer<P>, Infer<Q>, Infer<B>>): Promise<unknown>;
}

function endpoint<P extends z.ZodObject | undefined = undefined, Q extends z.ZodObject | undefined = undefined, B extends z.ZodType | undefined = undefined>(e: Endpoint<P, Q, B>): Endpoint {
  return e as unknown as Endpoint;
}

const workspaceId = async (ctx: { services: HostServices; actor(): Actor }, workspace: string | undefined) =>
  (workspace ? (await ctx.services.access.workspaceFor(ctx.actor(), workspace)).id : undefined);

/** Tokens are made and revoked in a signed-in session: a token that mints tokens would outlive its own expiry. */
function sessionOnly(req: Request): void {
  if (requestAccess(req).via === 'api-token') throw new HindsightError('forbidden', 'API tokens are created and revoked from a signed-in session (the console\'s Settings page or POST /api/v1/session), not with a token');
}

/** A request that does not match its schema: HTTP 400 naming the field, its message starting with it. */
export class InputError extends Error {
  readonly kind = 'bad_input';
  readonly field: string;
  constructor(field: string, message: string) {
    super(message.startsWith(`${field}:`) ? message : `${field}: ${message}`);
    this.field = field;
  }
}

function parseJsonQuery(field: string, value: string | undefined): unknown {
  if (value === undefined || value === '') return undefined;
  try {
    return JSON.parse(value) as unknown;
  } catch (error) {
    throw new InputError(field, `is not JSON (${errorMessage(error)})`);
  }
}

export const endpoints: Endpoint[] = [
  endpoint({
    method: 'get', path: '/openapi.json', operationId: 'getOpenApi', tag: 'meta', public: true, status: 200,
    summary: 'This document', response: 'The OpenAPI 3.1 description of /api/v1',
    handler: async () => { throw new Error('served by the router'); },
  }),

  // Sessions and the caller
  endpoint({
    method: 'post', path: '/session', operationId: 'login', tag: 'session', public: true, body: schemas.login, status: 200,
    summary: 'Log in', description: 'Checks the password and sets the session cookie (HttpOnly, SameSite=Lax). Failures are rate limited per account and per address.',
    response: 'The session\'s expiry; the cookie is in Set-Cookie',
    async handler({ req, res, body, services }) {
      let session: { token: string; expiresAt: Date };
      try {
        session = await services.auth.login({ ...body, ip: clientAddress(req), userAgent: req.headers['user-agent'] ?? null });
      } catch (error) {
        // Wrong credentials are the caller's, not an upstream refusal: 401, not the 502 of access_denied.
        if ((error as { kind?: string }).kind === 'access_denied') throw Object.assign(new Error(errorMessage(error)), { kind: 'unauthenticated' });
        throw error;
      }
      const maxAge = Math.round((session.expiresAt.getTime() - Date.now()) / 1000);
      res.setHeader('set-cookie', sessionCookie(services.auth.cookie.name, session.token, { secure: services.auth.cookie.secure, maxAgeSeconds: maxAge }));
      return { expiresAt: session.expiresAt.toISOString() };
    },
  }),
  endpoint({
    method: 'delete', path: '/session', operationId: 'logout', tag: 'session', status: 200, summary: 'Log out', response: 'The session ended; the cookie is cleared',
    async handler({ req, res, services }) {
      const { token, actor } = requestAccess(req);
      if (token) await services.auth.logout(token, actor);
      res.setHeader('set-cookie', clearedSessionCookie(services.auth.cookie.name, services.auth.cookie.secure));
      return { ok: true };
    },
  }),
  endpoint({ method: 'get', path: '/me', operationId: 'whoami', tag: 'session', status: 200, summary: 'Who the caller is', response: 'Email, memberships and what the navigation may offer', handler: async ({ services, actor }) => services.whoami(actor()) }),
  endpoint({ method: 'get', path: '/overview', operationId: 'overview', tag: 'session', status: 200, summary: 'Databases, storages and recent backups', response: 'What the console\'s overview shows', handler: async ({ services, actor }) => services.overview(actor()) }),

  // Databases
  endpoint({ method: 'get', path: '/databases', operationId: 'listDatabases', responseSchema: responses.databases, tag: 'databases', status: 200, summary: 'List databases', response: 'The databases of the caller\'s workspaces (no passwords)', handler: async ({ ops }) => ops().listDatabases() }),
  endpoint({
    method: 'post', path: '/databases', operationId: 'addDatabase', tag: 'databases', body: schemas.addDatabase, status: 201,
    summary: 'Add a database', description: 'Checks that it can be reached unless skipCheck; the password in the URL is sealed in the catalog.', response: 'The database as registered',
    async handler(ctx) {
      const { workspace, ...rest } = ctx.body;
      return ctx.ops().addDatabase({ ...rest, schedule: rest.schedule ?? null, workspaceId: await workspaceId(ctx, workspace) });
    },
  }),
  endpoint({
    method: 'delete', path: '/databases/:name', operationId: 'removeDatabase', tag: 'databases', params: params.name, status: 200, summary: 'Remove a database', response: 'The name removed',
    async handler({ ops, params: p }) {
      await ops().removeDatabase(p.name);
      return { removed: p.name };
    },
  }),
  endpoint({
    method: 'put', path: '/databases/:name/schedule', operationId: 'setSchedule', tag: 'databases', params: params.name, body: schemas.schedule, status: 200,
    summary: 'Set the backup schedule', description: 'A cron line (five fields) or null for manual backups only.', response: 'The schedule now in force',
    async handler({ ops, params: p, body }) {
      await ops().setSchedule(p.name, body.schedule, body.timezone ?? 'UTC');
      return { database: p.name, schedule: body.schedule, timezone: body.timezone ?? 'UTC' };
    },
  }),
  endpoint({
    method: 'get', path: '/databases/:name/pitr', operationId: 'pitrStatus', tag: 'pitr', params: params.name, status: 200,
    summary: 'WAL archive status', description: 'Whether WAL streaming is on, the newest WAL held in storage, the slot\'s lag and the last base backup.', response: 'The archive\'s status',
    handler: async ({ services, actor, params: p }) => services.api.pitrFor(actor()).walStatus(p.name),
  }),

  // Backups
  endpoint({
    method: 'get', path: '/backups', operationId: 'listBackups', responseSchema: responses.backups, tag: 'backups', query: z.object({ database: z.string().min(1).optional().describe('only this database\'s backups') }), status: 200,
    summary: 'List backups', description: 'Newest first, across the caller\'s databases (the newest 100) or of one database.', response: 'Backups with their copies, sizes and checksums',
    handler: async ({ ops, query }) => ops().listBackups(query.database),
  }),
  endpoint({ method: 'get', path: '/databases/:name/backups', operationId: 'listDatabaseBackups', responseSchema: responses.backups, tag: 'backups', params: params.name, status: 200, summary: 'List a database\'s backups', response: 'Backups, newest first', handler: async ({ ops, params: p }) => ops().listBackups(p.name) }),
  endpoint({
    method: 'post', path: '/databases/:name/backups', operationId: 'startBackup', responseSchema: responses.started, tag: 'backups', params: params.name, body: schemas.startBackup, status: 202,
    summary: 'Start a backup now', response: 'The new backup\'s id and its workflow id',
    async handler({ ops, params: p }) {
      const started = await ops().startBackup(p.name, 'manual');
      return { backupId: started.backupId, workflowId: started.workflowId };
    },
  }),
  endpoint({ method: 'get', path: '/backups/:id', operationId: 'getBackup', responseSchema: responses.backup, tag: 'backups', params: params.id, status: 200, summary: 'Get a backup', response: 'The backup', handler: async ({ ops, params: p }) => ops().getBackup(p.id) }),
  endpoint({
    method: 'post', path: '/backups/:id/cancel', operationId: 'cancelBackup', tag: 'backups', params: params.id, body: schemas.cancelBackup, status: 202,
    summary: 'Cancel a running backup', response: 'The backup and workflow signalled; 409 when it is not running',
    handler: async ({ ops, params: p, body }) => ops().cancelBackup(p.id, body.reason),
  }),
  endpoint({
    method: 'get', path: '/backups/:id/download', operationId: 'downloadBackup', tag: 'backups', params: params.id,
    query: z.object({ encrypted: z.enum(['0', '1', 'true', 'false']).optional().describe('1: the stored (encrypted) object instead of the decrypted dump') }),
    status: 200, produces: 'binary', summary: 'Download a backup', description: 'Streams the pg_dump custom-format file, decrypted on the fly (or the encrypted object with encrypted=1).',
    response: 'The dump as application/octet-stream',
    async handler({ ops, params: p, query, res }) {
      const encrypted = query.encrypted === '1' || query.encrypted === 'true';
      const download = await ops().openDownload(p.id, { decrypt: !encrypted });
      res.status(200).set({
        'content-type': 'application/octet-stream',
        'content-length': String(download.sizeBytes),
        'content-disposition': `attachment; filename="${download.fileName}"`,
      });
      await pipeline(download.stream, res);
      return undefined;
    },
  }),

  // Restores
  endpoint({
    method: 'post', path: '/restores', operationId: 'startRestore', responseSchema: responses.workflow, tag: 'restores', body: schemas.restore, status: 202,
    summary: 'Restore a backup', description: 'Into a new database on the source\'s server ({"database": …}) or any server ({"url": …}); the newest backup unless backupId.',
    response: 'The restore\'s workflow id (GET /restores/{workflowId} follows it)',
    async handler({ ops, body }) {
      const started = await ops().startRestore({ database: body.database, backupId: body.backupId, to: body.to });
      return { workflowId: started.workflowId };
    },
  }),
  endpoint({
    method: 'get', path: '/restores/:workflowId', operationId: 'getRestore', responseSchema: responses.restore, tag: 'restores', params: params.workflow, status: 200,
    summary: 'Follow a restore', description: 'The workflow\'s status and its progress query (stage, bytes read and restored), for logical and point-in-time restores.',
    response: 'Status and progress', handler: async ({ services, actor, params: p }) => services.api.restoreProgress(actor(), p.workflowId),
  }),

  // Verifications
  endpoint({ method: 'get', path: '/databases/:name/verifications', operationId: 'listVerifications', tag: 'verifications', params: params.name, status: 200, summary: 'List a database\'s verifications', response: 'Verification summaries, newest first', handler: async ({ ops, params: p }) => ops().listVerifications(p.name) }),
  endpoint({
    method: 'post', path: '/databases/:name/verifications', operationId: 'requestVerification', tag: 'verifications', params: params.name, body: schemas.requestVerification, status: 202,
    summary: 'Verify a backup', description: 'Restores the backup (the newest complete one unless backupId) into a throwaway server and compares per-table row counts with the manifest.',
    response: 'The verification id and the backup it checks',
    async handler({ ops, params: p, body }) {
      const requested = await ops().requestVerification(p.name, { backupId: body.backupId });
      return { verificationId: requested.verificationId, backupId: requested.backupId, workflowId: requested.workflowId };
    },
  }),
  endpoint({ method: 'get', path: '/verifications/:id', operationId: 'getVerification', tag: 'verifications', params: params.verification, status: 200, summary: 'Get a verification report', response: 'The verification with its per-table report', handler: async ({ ops, params: p }) => ops().getVerification(p.id) }),

  // Retention
  endpoint({
    method: 'get', path: '/databases/:name/retention', operationId: 'retentionPlan', tag: 'retention', params: params.name,
    query: z.object({ policy: z.string().optional().describe('a policy as JSON to try instead of the stored one, e.g. {"kind":"count","keepLast":7}') }), status: 200,
    summary: 'Retention dry run', description: 'What the stored policy (or the one given) would keep and delete now, and why. Nothing is deleted.',
    response: 'The plan: each backup kept or deleted with its reasons',
    handler: async ({ ops, params: p, query }) => ops().retentionPlan(p.name, parseJsonQuery('policy', query.policy)),
  }),
  endpoint({
    method: 'put', path: '/databases/:name/retention', operationId: 'setRetentionPolicy', tag: 'retention', params: params.name, body: schemas.retentionPolicy, status: 200,
    summary: 'Set the retention policy', description: 'Saves the policy and its daily schedule; null removes both.', response: 'The policy now in force',
    async handler({ ops, params: p, body }) {
      const record = await ops().setRetentionPolicy(p.name, body.policy);
      return { database: p.name, retentionPolicy: record.retentionPolicy };
    },
  }),

  // Storages
  endpoint({ method: 'get', path: '/storages', operationId: 'listStorages', responseSchema: responses.storages, tag: 'storages', status: 200, summary: 'List storages', response: 'Storages without their secrets', handler: async ({ ops }) => ops().listStorages() }),
  endpoint({
    method: 'post', path: '/storages', operationId: 'saveStorage', tag: 'storages', body: schemas.addStorage, status: 201,
    summary: 'Add or change a storage', description: 'config is the driver\'s settings ({"type":"s3", …}); it is tested with a write, read and delete unless skipCheck. What runs programs or reaches paths on the shared worker (an rclone binary or config text, rclone flags outside the allow-list, a local path outside the workspace\'s storage root) is the instance owner\'s: anyone else gets 403 naming why.', response: 'The storage without its secrets',
    handler: async (ctx) => ctx.ops().saveStorage(ctx.body.name, ctx.body.config, { skipCheck: ctx.body.skipCheck, workspaceId: await workspaceId(ctx, ctx.body.workspace) }),
  }),
  endpoint({
    method: 'delete', path: '/storages/:name', operationId: 'removeStorage', tag: 'storages', params: params.name, status: 200, summary: 'Remove a storage', response: 'The name removed',
    async handler({ ops, params: p }) {
      await ops().removeStorage(p.name);
      return { removed: p.name };
    },
  }),
  endpoint({ method: 'post', path: '/storages/:name/test', operationId: 'testStorage', tag: 'storages', params: params.name, status: 200, summary: 'Test a storage', response: 'Each step of the write/read/delete test and its time', handler: async ({ ops, params: p }) => ops().testStorage(p.name) }),

  // Notifiers
  endpoint({ method: 'get', path: '/notifiers', operationId: 'listNotifiers', tag: 'notifiers', status: 200, summary: 'List notifiers', response: 'Notifiers with their settings (no secrets) and health', handler: async ({ services, actor }) => services.api.notifiersFor(actor()).listNotifiers() }),
  endpoint({
    method: 'put', path: '/notifiers/:name', operationId: 'saveNotifier', tag: 'notifiers', params: params.name, body: schemas.saveNotifier, status: 200,
    summary: 'Create or change a notifier', description: 'config is {"type":"email"|"slack"|"discord"|"teams"|"telegram"|"webhook", …}; its secrets are sealed in the catalog and never returned. workspace applies when creating.',
    response: 'The notifier without its secrets',
    handler: async (ctx) => ctx.services.api.notifiersFor(ctx.actor()).saveNotifier(ctx.params.name, ctx.body.config, ctx.body.events, await workspaceId(ctx, ctx.body.workspace)),
  }),
  endpoint({
    method: 'delete', path: '/notifiers/:name', operationId: 'removeNotifier', tag: 'notifiers', params: params.name, status: 200, summary: 'Remove a notifier', response: 'The name removed',
    async handler({ services, actor, params: p }) {
      await services.api.notifiersFor(actor()).removeNotifier(p.name);
      return { removed: p.name };
    },
  }),
  endpoint({ method: 'post', path: '/notifiers/:name/test', operationId: 'testNotifier', tag: 'notifiers', params: params.name, status: 200, summary: 'Send a test message', response: 'ok, and the receiver\'s answer or error in its own words', handler: async ({ services, actor, params: p }) => services.api.notifiersFor(actor()).testNotifier(p.name) }),

  // People
  endpoint({
    method: 'get', path: '/audit', operationId: 'listAudit', tag: 'people',
    query: z.object({ workspace: z.string().optional(), actor: z.string().optional(), action: z.string().optional(), since: z.string().optional().describe('a date, e.g. 2026-11-23 or 2026-11-23T10:00:00Z') }),
    status: 200, summary: 'Read the audit log', response: 'Entries, newest first (500 at most)',
    handler: async ({ services, actor, query }) => services.people.listAudit(actor(), query),
  }),
  endpoint({ method: 'get', path: '/users', operationId: 'listUsers', tag: 'people', status: 200, summary: 'List users', response: 'Users who share a workspace with the caller', handler: async ({ services, actor }) => services.people.listUsers(actor()) }),
  endpoint({
    method: 'post', path: '/users', operationId: 'createUser', tag: 'people', body: schemas.createUser, status: 201, summary: 'Invite a user', response: 'The email created',
    async handler({ services, actor, body }) {
      await services.people.createUser(actor(), { ...body, workspace: body.workspace ?? 'default' });
      return { created: body.email.trim().toLowerCase() };
    },
  }),
  endpoint({ method: 'get', path: '/workspaces', operationId: 'listWorkspaces', tag: 'people', status: 200, summary: 'List workspaces', response: 'The caller\'s workspaces with their role and counts', handler: async ({ services, actor }) => services.people.listWorkspaces(actor()) }),
  endpoint({
    method: 'post', path: '/workspaces', operationId: 'createWorkspace', tag: 'people', body: schemas.workspace, status: 201, summary: 'Create a workspace', response: 'The name created',
    async handler({ services, actor, body }) {
      await services.people.createWorkspace(actor(), body.name);
      return { created: body.name };
    },
  }),
  endpoint({
    method: 'put', path: '/workspaces/:workspace/members/:email', operationId: 'setMember', tag: 'people', params: params.member, body: schemas.member, status: 200, summary: 'Add a member or change their role', response: 'ok',
    async handler({ services, actor, params: p, body }) {
      await services.people.setMember(actor(), p.email, p.workspace, body.role);
      return { ok: true };
    },
  }),
  endpoint({
    method: 'delete', path: '/workspaces/:workspace/members/:email', operationId: 'removeMember', tag: 'people', params: params.member, status: 200, summary: 'Remove a member', response: 'ok',
    async handler({ services, actor, params: p }) {
      await services.people.removeMember(actor(), p.email, p.workspace);
      return { ok: true };
    },
  }),

  // Personal API tokens
  endpoint({ method: 'get', path: '/tokens', operationId: 'listTokens', responseSchema: responses.tokens, tag: 'tokens', status: 200, summary: 'List your API tokens', response: 'Name, prefix, workspace, role, dates and state; never the secret', handler: async ({ services, actor }) => services.api.tokens.list(actor()) }),
  endpoint({
    method: 'post', path: '/tokens', operationId: 'createToken', responseSchema: responses.createdToken, tag: 'tokens', body: schemas.createToken, status: 201,
    summary: 'Create an API token', description: 'Scoped to one workspace, with a role no higher than yours there. Needs a session, not a token.',
    response: 'The token and its secret (hs_…), shown this once',
    async handler({ req, services, actor, body }) {
      sessionOnly(req);
      return services.api.tokens.create(actor(), body);
    },
  }),
  endpoint({
    method: 'delete', path: '/tokens/:id', operationId: 'revokeToken', responseSchema: responses.token, tag: 'tokens', params: params.token, status: 200, summary: 'Revoke an API token', response: 'The token, now revoked',
    async handler({ req, services, actor, params: p }) {
      sessionOnly(req);
      return services.api.tokens.revoke(actor(), Number(p.id));
    },
  }),
];
