/** /api/v1: databases, their backups, restores, verifications, retention and PITR status. */
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { endpoint, parseJsonQuery, workspaceId, type Endpoint } from './api-v1-endpoint.ts';
import { params, responses, schemas } from './api-v1-schemas.ts';
import { pitrSettingsInput } from '../services/pitr/input.ts';

export const databasesEndpoints: Endpoint[] = [
  // Databases
  endpoint({
    method: 'get',
    path: '/databases',
    operationId: 'listDatabases',
    responseSchema: responses.databases,
    tag: 'databases',
    status: 200,
    summary: 'List databases',
    description:
      'In name order. With `limit`, one page: ask for the next with `after` set to the last name received, until ' +
      'a page comes back shorter than `limit`. Without it, all of them (at 10,000 databases, about 4 MiB).',
    query: z.object({
      limit: z.coerce.number().int().min(1).max(1000).optional().describe('at most this many (1–1000)'),
      after: z.string().min(1).optional().describe('only databases named after this one (the last of a page)'),
    }),
    response: "The databases of the caller's workspaces (no passwords)",
    handler: async ({ domain, actor, query: { limit, after } }) =>
      domain.databases.list(actor(), limit === undefined ? undefined : { limit, after }),
  }),
  endpoint({
    method: 'post',
    path: '/databases',
    operationId: 'addDatabase',
    tag: 'databases',
    body: schemas.addDatabase,
    status: 201,
    summary: 'Add a database',
    description:
      'Checks that it can be reached unless skipCheck; the password in the URL is sealed in the catalog. ' +
      'Backups of it found in its storages (kept by an earlier removal) whose manifest matches the server are ' +
      'recorded as its backups: `adopted.count` says how many.',
    response: 'The database as registered, and `adopted`: the earlier backups taken back',
    async handler(ctx) {
      const { workspace, ...rest } = ctx.body;
      return ctx.domain.databases.add(ctx.actor(), {
        ...rest,
        schedule: rest.schedule ?? null,
        workspaceId: await workspaceId(ctx, workspace),
      });
    },
  }),
  endpoint({
    method: 'patch',
    path: '/databases/:name',
    operationId: 'updateDatabase',
    tag: 'databases',
    params: params.name,
    body: schemas.updateDatabase,
    status: 200,
    summary: 'Change a database',
    description:
      'Only the fields given change. A new url or password is tested before anything is saved unless skipCheck; ' +
      'a url without a password keeps the stored one. A new name is refused while PITR is on or the name is taken. ' +
      'Its backups stay attached and restore as before.',
    response: 'The database as it is now (no password)',
    handler: async ({ domain, actor, params: p, body }) => domain.databases.update(actor(), p.name, body),
  }),
  endpoint({
    method: 'delete',
    path: '/databases/:name',
    operationId: 'removeDatabase',
    tag: 'databases',
    params: params.name,
    query: z.object({
      backups: z
        .enum(['keep', 'delete'])
        .optional()
        .describe(
          'keep (the default): its backups stay in storage, and adding the same database again takes them back; ' +
            'delete: they are deleted from every storage holding a copy (refused while PITR is on)',
        ),
    }),
    status: 200,
    summary: 'Remove a database',
    response: 'The name removed, what became of its backups, and where they are',
    handler: async ({ domain, actor, params: p, query }) =>
      domain.databases.remove(actor(), p.name, query.backups === undefined ? {} : { backups: query.backups }),
  }),
  endpoint({
    method: 'put',
    path: '/databases/:name/schedule',
    operationId: 'setSchedule',
    tag: 'databases',
    params: params.name,
    body: schemas.schedule,
    status: 200,
    summary: 'Set the backup schedule',
    description: 'A cron line (five fields) or null for manual backups only.',
    response: 'The schedule now in force',
    async handler({ domain, actor, params: p, body }) {
      await domain.databases.setSchedule(actor(), p.name, body.schedule, body.timezone ?? 'UTC');
      return { database: p.name, schedule: body.schedule, timezone: body.timezone ?? 'UTC' };
    },
  }),
  endpoint({
    method: 'get',
    path: '/databases/:name/pitr',
    operationId: 'pitrStatus',
    tag: 'pitr',
    params: params.name,
    status: 200,
    summary: 'WAL archive status',
    description:
      "Whether WAL streaming is on, the newest WAL held in storage, the slot's lag and the last base backup.",
    response: "The archive's status",
    handler: async ({ domain, actor, params: p }) => domain.pitr.walStatus(actor(), p.name),
  }),
  endpoint({
    method: 'patch',
    path: '/databases/:name/pitr',
    operationId: 'updatePitrSettings',
    tag: 'pitr',
    params: params.name,
    body: pitrSettingsInput,
    status: 200,
    summary: 'Change PITR settings',
    description:
      'While PITR is on: the slot limit (slotMaxMb, null for none) and what happens over it (slotOverLimit: alert, or ' +
      'drop and recreate the slot, leaving a gap that a base backup follows), synchronous (commits wait until their WAL ' +
      'is in storage), the base-backup schedule, the partial shipping interval and baseFullEvery. Only the fields given change.',
    response: 'The settings now in force',
    handler: async ({ domain, actor, params: p, body }) => domain.pitr.updateSettings(actor(), p.name, body),
  }),

  // Backups
  endpoint({
    method: 'get',
    path: '/backups',
    operationId: 'listBackups',
    responseSchema: responses.backups,
    tag: 'backups',
    query: z.object({ database: z.string().min(1).optional().describe("only this database's backups") }),
    status: 200,
    summary: 'List backups',
    description: "Newest first, across the caller's databases (the newest 100) or of one database.",
    response: 'Backups with their copies, sizes and checksums',
    handler: async ({ domain, actor, query }) => domain.backupReads.list(actor(), query.database),
  }),
  endpoint({
    method: 'get',
    path: '/databases/:name/backups',
    operationId: 'listDatabaseBackups',
    responseSchema: responses.backups,
    tag: 'backups',
    params: params.name,
    status: 200,
    summary: "List a database's backups",
    response: 'Backups, newest first',
    handler: async ({ domain, actor, params: p }) => domain.backupReads.list(actor(), p.name),
  }),
  endpoint({
    method: 'post',
    path: '/databases/:name/backups',
    operationId: 'startBackup',
    responseSchema: responses.started,
    tag: 'backups',
    params: params.name,
    body: schemas.startBackup,
    status: 202,
    summary: 'Start a backup now',
    response: "The new backup's id and its workflow id",
    async handler({ domain, actor, params: p }) {
      const started = await domain.backups.start(actor(), p.name, 'manual');
      return { backupId: started.backupId, workflowId: started.workflowId };
    },
  }),
  endpoint({
    method: 'get',
    path: '/backups/:id',
    operationId: 'getBackup',
    responseSchema: responses.backup,
    tag: 'backups',
    params: params.id,
    status: 200,
    summary: 'Get a backup',
    response: 'The backup',
    handler: async ({ domain, actor, params: p }) => domain.backupReads.get(actor(), p.id),
  }),
  endpoint({
    method: 'post',
    path: '/backups/:id/cancel',
    operationId: 'cancelBackup',
    tag: 'backups',
    params: params.id,
    body: schemas.cancelBackup,
    status: 202,
    summary: 'Cancel a running backup',
    response: 'The backup and workflow signalled; 409 when it is not running',
    handler: async ({ domain, actor, params: p, body }) => domain.backups.cancel(actor(), p.id, body.reason),
  }),
  endpoint({
    method: 'get',
    path: '/backups/:id/download',
    operationId: 'downloadBackup',
    tag: 'backups',
    params: params.id,
    query: z.object({
      encrypted: z
        .enum(['0', '1', 'true', 'false'])
        .optional()
        .describe('1: the stored (encrypted) object instead of the decrypted dump'),
    }),
    status: 200,
    produces: 'binary',
    summary: 'Download a backup',
    description:
      'Streams the pg_dump custom-format file, decrypted on the fly (or the encrypted object with encrypted=1).',
    response: 'The dump as application/octet-stream',
    async handler({ domain, actor, params: p, query, res }) {
      const encrypted = query.encrypted === '1' || query.encrypted === 'true';
      const download = await domain.backupReads.download(actor(), p.id, { decrypt: !encrypted });
      res.status(200).set({
        'content-type': 'application/octet-stream',
        ...(download.sizeBytes === null ? {} : { 'content-length': String(download.sizeBytes) }),
        'content-disposition': `attachment; filename="${download.fileName}"`,
      });
      await pipeline(download.stream, res);
      return undefined;
    },
  }),
  endpoint({
    method: 'post',
    path: '/backups/:id/copy',
    operationId: 'copyBackup',
    tag: 'backups',
    params: params.id,
    body: z
      .object({
        storages: z
          .array(z.string().min(1))
          .min(1)
          .optional()
          .describe("storages of the database's workspace to copy into; default: those the backup missed"),
      })
      .strict(),
    status: 202,
    summary: 'Copy a backup into other storages',
    description:
      'Copies the stored (encrypted) object from a storage that holds it whole, checked against its SHA-256, without ' +
      'dumping again. 409 when a storage named already holds it whole; 400 for a storage of another workspace.',
    response: "The copy's workflow id and the storages it copies into (null: those the backup missed)",
    async handler({ domain, actor, params: p, body }) {
      const started = await domain.backups.replicate(actor(), p.id, { storages: body.storages });
      return { backupId: p.id, workflowId: started.workflowId, storages: started.storages ?? null };
    },
  }),

  // Restores
  endpoint({
    method: 'post',
    path: '/restores',
    operationId: 'startRestore',
    responseSchema: responses.workflow,
    tag: 'restores',
    body: schemas.restore,
    status: 202,
    summary: 'Restore a backup',
    description:
      'Into a new database on the source\'s server ({"database": …}) or any server ({"url": …}); the newest backup unless backupId, or with pointInTime the database as it was then, recovered from the PITR archive and extracted into {"url": …}.',
    response: "The restore's workflow id (GET /restores/{workflowId} follows it)",
    async handler({ domain, actor, body }) {
      if (body.pointInTime && 'url' in body.to) {
        const to = { url: body.to.url, withOwners: body.withOwners, privilegedRoles: body.privilegedRoles };
        const pitr = await domain.restores.start(actor(), {
          database: body.database,
          pointInTime: body.pointInTime,
          to,
        });
        return { workflowId: pitr.workflowId };
      }
      const started = await domain.restores.start(actor(), {
        database: body.database,
        backupId: body.backupId,
        to: body.to,
        withOwners: body.withOwners,
        privilegedRoles: body.privilegedRoles,
      });
      return { workflowId: started.workflowId };
    },
  }),
  endpoint({
    method: 'get',
    path: '/restores/:workflowId',
    operationId: 'getRestore',
    responseSchema: responses.restore,
    tag: 'restores',
    params: params.workflow,
    status: 200,
    summary: 'Follow a restore',
    description:
      "The workflow's status and its progress query (stage, bytes read and restored), for logical and point-in-time restores.",
    response: 'Status and progress',
    handler: async ({ domain, actor, params: p }) => domain.restoreStatus.progress(actor(), p.workflowId),
  }),

  // Verifications
  endpoint({
    method: 'get',
    path: '/databases/:name/verifications',
    operationId: 'listVerifications',
    tag: 'verifications',
    params: params.name,
    status: 200,
    summary: "List a database's verifications",
    response: 'Verification summaries, newest first',
    handler: async ({ domain, actor, params: p }) => domain.verifications.list(actor(), p.name),
  }),
  endpoint({
    method: 'post',
    path: '/databases/:name/verifications',
    operationId: 'requestVerification',
    tag: 'verifications',
    params: params.name,
    body: schemas.requestVerification,
    status: 202,
    summary: 'Verify a backup',
    description:
      'Restores the backup (the newest complete one unless backupId) into a throwaway server and compares per-table row counts with the manifest.',
    response: 'The verification id and the backup it checks',
    async handler({ domain, actor, params: p, body }) {
      const requested = await domain.verifications.request(actor(), p.name, { backupId: body.backupId });
      return {
        verificationId: requested.verificationId,
        backupId: requested.backupId,
        workflowId: requested.workflowId,
      };
    },
  }),
  endpoint({
    method: 'get',
    path: '/verifications/:id',
    operationId: 'getVerification',
    tag: 'verifications',
    params: params.verification,
    status: 200,
    summary: 'Get a verification report',
    response: 'The verification with its per-table report',
    handler: async ({ domain, actor, params: p }) => domain.verifications.get(actor(), p.id),
  }),

  // Retention
  endpoint({
    method: 'get',
    path: '/databases/:name/retention',
    operationId: 'retentionPlan',
    tag: 'retention',
    params: params.name,
    query: z.object({
      policy: z
        .string()
        .optional()
        .describe('a policy as JSON to try instead of the stored one, e.g. {"kind":"count","keepLast":7}'),
      storage: z
        .string()
        .optional()
        .describe('try the policy for this storage of the database alone (null: it follows the database)'),
    }),
    status: 200,
    summary: 'Retention dry run',
    description:
      'What the stored policies (or the one given, for the database or one storage) would keep and delete now, and why. Nothing is deleted.',
    response:
      "The plan: each backup and base backup kept or deleted with its reasons, and per timeline the WAL to delete (walCuts: first..last segment and LSN, segments, bytes), history files to delete and walRefusal; with a per-storage policy, storages (each storage's decisions about its copies) and deleteCopies",
    handler: async ({ domain, actor, params: p, query }) =>
      domain.retention.plan(actor(), p.name, parseJsonQuery('policy', query.policy), query.storage),
  }),
  endpoint({
    method: 'put',
    path: '/databases/:name/retention',
    operationId: 'setRetentionPolicy',
    tag: 'retention',
    params: params.name,
    body: schemas.retentionPolicy.extend({
      storage: z.string().optional().describe('save the policy for this storage of the database alone'),
    }),
    status: 200,
    summary: 'Set the retention policy',
    description:
      'Saves the policy and its daily schedule; null removes both. With storage, the policy applies to the copies on that storage alone; null makes it follow the database again.',
    response: 'The policy now in force',
    async handler({ domain, actor, params: p, body }) {
      if (body.storage !== undefined)
        return domain.retention.setStoragePolicy(actor(), p.name, body.storage, body.policy);
      const record = await domain.retention.setPolicy(actor(), p.name, body.policy);
      return { database: p.name, retentionPolicy: record.retentionPolicy };
    },
  }),
];
