/** The zod schemas of /api/v1's bodies, path parameters and answers: one table for the router and the document. */
import { z } from 'zod';
import { notifierConfigSchema, notificationEventSchema } from '../lib/notify/config.ts';
import { nameSchema, NAME_RULE } from '../lib/names.ts';
import { retentionPolicy } from '../lib/retention/policy.ts';
import { createApiTokenInput } from '../services/api-tokens.ts';
import { encryptionSettingSchema, parallelJobsSchema, updateDatabaseInput } from '../services/databases/input.ts';
import { cronSchema, timezoneSchema } from '../services/input.ts';
import { pitrRestoreWorkflow, pitrTargetSchema } from '../temporal/contracts/pitr.ts';
import { restoreBackupWorkflow } from '../temporal/contracts/restore.ts';

const name = nameSchema(`must be ${NAME_RULE}`);
const required = z.string().min(1, 'is required');

export const schemas = {
  login: z.object({ email: required, password: required }).strict(),
  addDatabase: z
    .object({
      name,
      url: required,
      storages: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
      schedule: cronSchema.nullable().optional(),
      timezone: timezoneSchema.optional(),
      skipCheck: z.boolean().optional(),
      verifyAfterBackup: z.boolean().optional(),
      parallelJobs: parallelJobsSchema.optional(),
      encryption: encryptionSettingSchema.optional(),
      workspace: name.optional(),
    })
    .strict(),
  updateDatabase: updateDatabaseInput,
  schedule: z.object({ schedule: cronSchema.nullable(), timezone: timezoneSchema.optional() }).strict(),
  addStorage: z
    .object({
      name,
      config: z.record(z.string(), z.unknown()),
      skipCheck: z.boolean().optional(),
      workspace: name.optional(),
    })
    .strict(),
  startBackup: z.object({}).strict(),
  cancelBackup: z.object({ reason: z.string().max(500).optional() }).strict(),
  restore: z
    .object({
      database: name,
      backupId: z.string().min(1).optional(),
      to: z.union([z.object({ database: z.string().min(1) }).strict(), z.object({ url: z.string().min(1) }).strict()]),
      withOwners: z
        .boolean()
        .optional()
        .describe("create the roles the target lacks from the backup's roles, then keep owners and grants"),
      privilegedRoles: z
        .boolean()
        .optional()
        .describe('with withOwners: restored roles keep SUPERUSER, REPLICATION, BYPASSRLS (instance owner only)'),
      pointInTime: pitrTargetSchema
        .optional()
        .describe(
          'instead of a backup, a point in time of the PITR archive ({"time": RFC 3339}, {"lsn": …}, "latest"…): the database is recovered in a sandbox and extracted into to.url',
        ),
    })
    .strict()
    .refine((b) => !b.pointInTime || ('url' in b.to && !b.backupId), {
      message: 'pointInTime extracts into {"url": …} and takes no backupId',
    }),
  // No password: the invited person chooses their own through the link.
  createUser: z.object({ email: required, workspace: name.optional(), role: required }).strict(),
  member: z.object({ role: required }).strict(),
  invitation: z.object({ email: required, role: required }).strict(),
  workspace: z.object({ name }).strict(),
  saveNotifier: z
    .object({
      config: notifierConfigSchema,
      events: z.array(notificationEventSchema).min(1).optional(),
      workspace: name.optional(),
    })
    .strict(),
  requestVerification: z.object({ backupId: z.string().min(1).optional() }).strict(),
  retentionPolicy: z.object({ policy: retentionPolicy.nullable() }).strict(),
  createToken: createApiTokenInput,
};

const tokenView = z.object({
  id: z.number().int(),
  name: z.string(),
  prefix: z.string().describe('the first 10 characters of the secret'),
  workspace: z.string(),
  role: z.enum(['owner', 'admin', 'editor', 'viewer']),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  state: z.enum(['active', 'expired', 'revoked']),
});

// Dates travel as ISO 8601 strings. Objects stay open (z.looseObject): fields may be added, none removed.
const isoDate = z.string().describe('ISO 8601');
const databaseView = z.looseObject({
  name: z.string(),
  host: z.string(),
  port: z.number().int(),
  dbname: z.string(),
  username: z.string(),
  hasPassword: z.boolean(),
  sslmode: z.string().nullable(),
  storageNames: z.array(z.string()),
  schedule: z.string().nullable(),
  timezone: z.string(),
  verifyAfterBackup: z.boolean(),
  verifySchedule: z.string().nullable(),
  restoreDrillCron: z.string().nullable().describe("the restore drill's cron; null: no drill"),
  parallelJobs: z.number().int().describe('pg_dump jobs per backup (1: single stream)'),
  encryptionRecipient: z
    .string()
    .nullable()
    .describe('public-key mode: the X25519 recipient its objects are encrypted for (null: the secret key)'),
  encryptionKms: z
    .string()
    .nullable()
    .describe("KMS mode: the named KMS key its objects' data keys are wrapped by (null: not in KMS mode)"),
  encryptionSecretKey: z.boolean().describe("the secret key chosen over its workspace's default encryption"),
  encryption: z
    .object({
      source: z.enum(['database', 'workspace', 'installation']),
      recipient: z.string().nullable(),
      kms: z.string().nullable(),
    })
    .describe(
      "what new objects are encrypted with: its own setting, else its workspace's default, else the secret key",
    ),
  workspaceId: z.number().int(),
  createdAt: isoDate,
});
const storageView = z.looseObject({
  name: z.string(),
  type: z.string(),
  settings: z.record(z.string(), z.unknown()).describe('without secrets'),
  hasSecrets: z.boolean(),
  workspaceId: z.number().int(),
  createdAt: isoDate,
});
const backupView = z.looseObject({
  id: z.string(),
  databaseName: z.string(),
  workflowId: z.string(),
  status: z.enum(['running', 'complete', 'partial', 'failed', 'cancelled', 'deleted']),
  trigger: z.string(),
  copies: z.array(
    z.looseObject({
      storageName: z.string(),
      status: z.string(),
      sizeBytes: z.number().nullable(),
      error: z.string().nullable(),
    }),
  ),
  startedAt: isoDate,
  finishedAt: isoDate.nullable(),
  sizeBytes: z.number().nullable(),
  dumpBytes: z.number().nullable(),
  sha256: z.string().nullable().describe('of the dump, before compression and encryption'),
  compression: z.string().nullable(),
  rowCounts: z.array(z.looseObject({ schema: z.string(), table: z.string(), rows: z.number() })).nullable(),
  error: z.string().nullable(),
  warnings: z.array(z.unknown()),
});

export const responses = {
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
    workflowId: z.string(),
    type: z.enum([restoreBackupWorkflow.type, pitrRestoreWorkflow.type]),
    status: z.string().describe("the workflow's status: RUNNING, COMPLETED, FAILED, …"),
    startedAt: z.string(),
    closedAt: z.string().nullable(),
    progress: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe("the workflow's progress query: stage, bytes, error"),
    instructions: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe(
        'a finished point-in-time restore into a directory: where its server listens, and the psql, pg_ctl stop/start and pg_dump | pg_restore lines',
      ),
    figures: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe(
        'a finished point-in-time restore: usableAfterMs, totalMs, stagesMs, walBytesReplayed, recoveryMs and walBytesPerSecond',
      ),
  }),
};

export const params = {
  name: z.object({ name: z.string().describe('database, storage or notifier name') }),
  id: z.object({ id: z.string().describe('backup id') }),
  member: z.object({ workspace: z.string(), email: z.string() }),
  workspace: z.object({ workspace: z.string() }),
  workflow: z.object({
    workflowId: z.string().describe('the workflowId a restore start returned, URL-encoded (restore%2Fshop%2F…)'),
  }),
  verification: z.object({ id: z.string().describe('verification id') }),
  token: z.object({ id: z.string().regex(/^\d+$/, 'must be a token id (a number)') }),
};
