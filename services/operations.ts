import type { Client } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import {
  backupDatabaseWorkflow, backupWorkflowId, cancelBackupSignal, replicateBackupWorkflow, replicateWorkflowId, type BackupDatabaseInput,
} from '../temporal/contracts/backup.ts';
import { backupIdAt } from '../temporal/contracts/common.ts';
import { healthWorkflowId, healthMonitorWorkflow } from '../temporal/contracts/health.ts';
import { deliveryWorkflowId } from '../temporal/contracts/notifications.ts';
import { pitrRestoreWorkflow } from '../temporal/contracts/pitr.ts';
import {
  restoreBackupWorkflow, restoreProgressQuery, restoreWorkflowId, type RestoreTarget,
} from '../temporal/contracts/restore.ts';
import { gfsRetentionWorkflow, retentionWorkflowId } from '../temporal/contracts/retention.ts';
import { newVerificationId, verifierWorkflowId } from '../temporal/contracts/verify.ts';
import { signalVerifier, startJob } from '../temporal/start.ts';
import { seal } from '../lib/crypto/sealed.ts';
import { nameSchema, NAME_RULE } from '../lib/names.ts';
import { HindsightError, errorMessage } from '../lib/errors.ts';
import { connect, parsePgUrl, pgUrlSchema, serverInfo, describeTarget } from '../lib/pg/connection.ts';
import { RESTORE_PASSWORD_CONTEXT } from '../activities/index.ts';
import { planForDatabase } from '../lib/retention/plan-for-database.ts';
import { parseRetentionPolicy } from '../lib/retention/policy.ts';
import { testStorageConnection } from '../lib/storage/connection-test.ts';
import { downloadStream } from '../lib/backup/download.ts';
import { recordedChecksums } from '../lib/backup/expectation.ts';
import { openBackupFromAny } from '../lib/backup/sources.ts';
import { createStorageDriver, storageConfigSchema, type StorageConfig } from '../lib/storage/index.ts';
import {
  deleteBackupSchedule, deleteRetentionSchedule, deleteVerifySchedule, upsertBackupSchedule, upsertRetentionSchedule, upsertVerifySchedule, upsertWatchdogSchedule,
} from '../temporal/schedules.ts';
import type { Runtime } from './runtime.ts';
import { createHookService } from './hooks.ts';
import { createBackupRoleService } from './backup-role.ts';
import { createPitrOperations } from './pitr.ts';
import { createJobProgress } from './job-progress.ts';

/** Five cron fields (minute hour day month weekday) or a shorthand such as @daily. */
export const cronSchema = z
  .string()
  .trim()
  .regex(/^(@(yearly|annually|monthly|weekly|daily|hourly)|(\S+\s+){4}\S+)$/, 'schedule must be a cron expression with five fields, e.g. "0 3 * * *", or @daily');

export const timezoneSchema = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'timezone must be an IANA name such as UTC or Europe/Paris');

export const addDatabaseInput = z.object({
  name: nameSchema(`name must be ${NAME_RULE}`),
  url: pgUrlSchema,
  /** Where backups go: one storage name or several (every backup is written to each). */
  storages: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).default('local').transform((v) => (typeof v === 'string' ? [v] : v)),
  schedule: cronSchema.nullable().default(null),
  timezone: timezoneSchema.default('UTC'),
  /** Skip the connection test (for a database that is not reachable yet). */
  skipCheck: z.boolean().default(false),
  /** Restore every new backup into a throwaway server and check it (on by default). */
  verifyAfterBackup: z.boolean().default(true),
  /** The workspace the database joins (services/actor-operations.ts checks the caller's role in it). */
  workspaceId: z.number().int().positive().default(1),
});
export type AddDatabaseInput = z.input<typeof addDatabaseInput>;

function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new HindsightError('bad_input', parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '));
  }
  return parsed.data;
}

export const storageNameSchema = nameSchema(`storage name must be ${NAME_RULE}`);

async function testDriver(name: string, config: StorageConfig) {
  const driver = createStorageDriver(name, config);
  try {
    return await testStorageConnection(driver);
  } finally {
    await driver.close?.().catch(() => undefined);
  }
}

/** What the CLI, the console and the API do, over the catalog and Temporal. */
export function createOperations(runtime: Runtime, temporal: Client) {
  // Keys are read from the keyring at each use: a rotation is picked up without a restart.
  const { catalog, config, keyring } = runtime;

  async function ensureHealthMonitor(database: string): Promise<void> {
    await startJob(temporal, healthMonitorWorkflow, {
      workflowId: healthWorkflowId(database), taskQueue: config.taskQueue, input: { database }, database, onConflict: 'use-existing',
    });
  }

  return {
    /** The client the console's own services (restore progress, PITR restore) use. */
    temporal,
    hooks: createHookService(catalog),
    backupRole: createBackupRoleService(catalog),
    pitr: createPitrOperations(runtime, temporal),
    /** Live progress of a database's running backups, restores and verifications (their workflows' queries). */
    jobs: createJobProgress(catalog, temporal),

    async addDatabase(raw: AddDatabaseInput) {
      const input = parseOrThrow(addDatabaseInput, raw);
      const target = parsePgUrl(input.url);
      if (!input.skipCheck) {
        const client = await connect(input.name, target);
        try {
          await serverInfo(client);
        } finally {
          await client.end().catch(() => undefined);
        }
      }
      const record = await catalog.addDatabase({ name: input.name, target, storageNames: input.storages, schedule: input.schedule, timezone: input.timezone, verifyAfterBackup: input.verifyAfterBackup, workspaceId: input.workspaceId });
      if (input.schedule) {
        try {
          await upsertBackupSchedule(temporal, { database: input.name, cron: input.schedule, timezone: input.timezone, taskQueue: config.taskQueue });
        } catch (error) {
          await catalog.removeDatabase(input.name);
          throw new HindsightError('bad_input', `database "${input.name}": schedule "${input.schedule}" was refused by Temporal: ${errorMessage(error)}`);
        }
      }
      await ensureHealthMonitor(input.name);
      return record;
    },

    /** Starts the health monitor of every registered database that has none running. */
    async ensureMonitors() {
      for (const db of await catalog.listDatabases()) await ensureHealthMonitor(db.name);
      // The overdue-backup watchdog, which also sweeps notifications that no wake-up delivered.
      await upsertWatchdogSchedule(temporal, config.taskQueue);
    },

    async setSchedule(name: string, cron: string | null, timezone = 'UTC') {
      const db = await catalog.getDatabase(name);
      const schedule = cron === null ? null : parseOrThrow(cronSchema, cron);
      if (schedule) await upsertBackupSchedule(temporal, { database: db.name, cron: schedule, timezone: parseOrThrow(timezoneSchema, timezone), taskQueue: config.taskQueue });
      else await deleteBackupSchedule(temporal, db.name);
      await catalog.updateSchedule(name, schedule, timezone);
    },

    async removeDatabase(name: string) {
      await catalog.getDatabase(name);
      await deleteBackupSchedule(temporal, name);
      await deleteRetentionSchedule(temporal, name);
      await deleteVerifySchedule(temporal, name);
      await temporal.workflow.getHandle(healthWorkflowId(name)).terminate('database removed').catch(() => undefined);
      await temporal.workflow.getHandle(deliveryWorkflowId(name)).terminate('database removed').catch(() => undefined);
      await catalog.removeDatabase(name);
    },

    listDatabases: () => catalog.listDatabases(),

    /** Saves a storage after a connection test (write, read back, delete) unless told not to. */
    async saveStorage(name: string, raw: unknown, options: { skipCheck?: boolean; workspaceId?: number } = {}) {
      const parsedName = parseOrThrow(storageNameSchema, name);
      const config = parseOrThrow(storageConfigSchema, raw);
      if (!options.skipCheck) {
        const result = await testDriver(parsedName, config);
        if (!result.ok) throw new HindsightError(result.kind, `storage "${parsedName}" was not saved: the connection test failed at ${result.stage}: ${result.message}`);
      }
      return catalog.upsertStorage(parsedName, config, options.workspaceId);
    },

    /** Writes, reads back and deletes a small object in a saved storage. */
    async testStorage(name: string) {
      return testDriver(name, await catalog.storageConfig(name));
    },

    /**
     * A backup as a stream, from the first storage that has it whole (falling back to the next),
     * checked end to end against the catalog's record and the identity in the object's header.
     * Decrypted, it is the archive pg_restore reads.
     */
    async openDownload(backupId: string, options: { decrypt: boolean; onFallback?: (storage: string, reason: string) => void }) {
      const backup = await catalog.getBackup(backupId);
      const names = backup.copies.filter((c) => c.status === 'complete').map((c) => c.storageName);
      const sources = await Promise.all(names.map(async (name) => ({ name, driver: createStorageDriver(name, await catalog.storageConfig(name)) })));
      const closeAll = () => Promise.all(sources.map((src) => src.driver.close?.().catch(() => undefined))).then(() => undefined);
      try {
        const opened = await openBackupFromAny(sources, backup.databaseName, backupId, options.onFallback, recordedChecksums(backup));
        const stream = downloadStream(opened, keyring.resolve, { decrypt: options.decrypt });
        stream.once('close', () => void closeAll());
        const fileName = `${backup.databaseName}-${backupId}${options.decrypt ? '.dump' : '.dump.hsb'}`;
        return { stream, fileName, storageName: opened.storageName, sizeBytes: options.decrypt ? opened.manifest.dump.sizeBytes : opened.manifest.object.sizeBytes };
      } catch (error) {
        await closeAll();
        throw error;
      }
    },

    /**
     * Asks the database's verifier to prove a backup (the newest restorable one when none is named)
     * and returns its verification id; `finished()` waits for the report.
     */
    async requestVerification(database: string, options: { backupId?: string | undefined; trigger?: 'manual' | 'schedule' } = {}) {
      await catalog.getDatabase(database);
      const backup = options.backupId ? await catalog.getBackup(options.backupId) : await catalog.latestCompleteBackup(database);
      if (backup.databaseName !== database) throw new HindsightError('bad_input', `backup ${backup.id} belongs to database "${backup.databaseName}", not "${database}"`);
      if (backup.status !== 'complete' && backup.status !== 'partial') throw new HindsightError('bad_input', `backup ${backup.id} is ${backup.status}: only a complete or partial backup can be verified`);
      const verificationId = newVerificationId(new Date(), randomBytes(3).toString('hex'));
      const trigger = options.trigger ?? 'manual';
      await catalog.verifications.request({ id: verificationId, database, backupId: backup.id, trigger });
      await signalVerifier(temporal, config.taskQueue, database, { verificationId, backupId: backup.id, trigger });
      const finished = async (timeoutMs = 24 * 3600_000) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const summary = await catalog.verifications.get(verificationId);
          if (!['pending', 'running'].includes(summary.status)) return summary;
          if (Date.now() > deadline) throw new HindsightError('busy', `verification ${verificationId} is still ${summary.status} after ${Math.round(timeoutMs / 1000)} s`);
          await new Promise((r) => setTimeout(r, 500));
        }
      };
      return { verificationId, backupId: backup.id, workflowId: verifierWorkflowId(database), finished };
    },

    listVerifications: (database: string) => catalog.verifications.list(database),

    /** Verifies the newest backup on a cron of its own (null: only after each backup). */
    async setVerifySchedule(database: string, cron: string | null) {
      const db = await catalog.getDatabase(database);
      const schedule = cron === null ? null : parseOrThrow(cronSchema, cron);
      if (schedule) await upsertVerifySchedule(temporal, { database, cron: schedule, timezone: db.timezone, taskQueue: config.taskQueue });
      else await deleteVerifySchedule(temporal, database);
      return catalog.updateDatabaseSettings(database, { verifySchedule: schedule });
    },

    /** Saves a retention policy (validated) and its daily schedule; null removes both. */
    async setRetentionPolicy(database: string, raw: unknown) {
      const db = await catalog.getDatabase(database);
      if (raw === null) {
        await deleteRetentionSchedule(temporal, database);
        return catalog.updateDatabaseSettings(database, { retentionPolicy: null });
      }
      const policy = parseRetentionPolicy(raw);
      await upsertRetentionSchedule(temporal, { database, timezone: db.timezone, taskQueue: config.taskQueue });
      return catalog.updateDatabaseSettings(database, { retentionPolicy: policy });
    },

    /** The dry run: what the policy (saved, or the one given) would keep and delete now, and why. */
    async retentionPlan(database: string, policy?: unknown) {
      return planForDatabase(catalog, database, new Date(), policy);
    },

    /** Runs retention now as a workflow (the same as the daily schedule). */
    async startRetention(database: string, options: { dryRun?: boolean } = {}) {
      await catalog.getDatabase(database);
      const workflowId = retentionWorkflowId(database, new Date());
      const handle = await startJob(temporal, gfsRetentionWorkflow, {
        workflowId, taskQueue: config.taskQueue, input: { database, dryRun: options.dryRun ?? false }, database, onConflict: 'fail',
      });
      return { workflowId, result: () => handle.result() };
    },
    getVerification: (id: string) => catalog.verifications.get(id),

    listStorages: () => catalog.listStorages(),
    removeStorage: (name: string) => catalog.removeStorage(name),

    async setDestinations(database: string, storages: string[]) {
      return catalog.setDestinations(database, storages);
    },

    /** Copies a partial backup into the storages that miss it, without dumping again. */
    async startReplicate(backupId: string) {
      const backup = await catalog.getBackup(backupId);
      if (backup.status !== 'partial' && backup.status !== 'complete') {
        throw new HindsightError('bad_input', `backup ${backupId} is ${backup.status}: only a partial backup can be copied to the storages it missed`);
      }
      const workflowId = replicateWorkflowId(backupId, new Date());
      const handle = await startJob(temporal, replicateBackupWorkflow, {
        workflowId, taskQueue: config.taskQueue, input: { database: backup.databaseName, backupId }, database: backup.databaseName, onConflict: 'fail',
      });
      return { workflowId, runId: handle.firstExecutionRunId, result: () => handle.result() };
    },
    listBackups: (database?: string) => catalog.listBackups(database),

    async startBackup(database: string, trigger: BackupDatabaseInput['trigger'] = 'manual') {
      await catalog.getDatabase(database);
      const now = new Date();
      const backupId = backupIdAt(now, randomBytes(3).toString('hex'));
      const workflowId = backupWorkflowId(database, now);
      const handle = await startJob(temporal, backupDatabaseWorkflow, {
        workflowId, taskQueue: config.taskQueue, input: { database, trigger, backupId }, database, onConflict: 'fail',
      });
      return { backupId, workflowId, runId: handle.firstExecutionRunId, result: () => handle.result() };
    },

    /** Asks a running backup to stop; its workflow records it as cancelled. */
    async cancelBackup(backupId: string, reason?: string) {
      const backup = await catalog.getBackup(backupId);
      if (backup.status !== 'running') throw new HindsightError('conflict', `backup ${backupId} is ${backup.status}: only a running backup can be cancelled`);
      await temporal.workflow.getHandle(backup.workflowId).signal(cancelBackupSignal, reason);
      return { backupId, workflowId: backup.workflowId };
    },

    /**
     * A restore workflow's state (logical `restore/…` or point-in-time) and its `progress` query;
     * a finished one answers from its history, so the query may fail once the worker is gone.
     */
    async restoreProgress(workflowId: string) {
      const handle = temporal.workflow.getHandle(workflowId);
      const described = await handle.describe().catch((error: unknown) => {
        if ((error as { name?: string }).name === 'WorkflowNotFoundError') throw new HindsightError('not_found', `restore "${workflowId}" does not exist (the id is the workflowId its start returned)`);
        throw error;
      });
      if (described.type !== restoreBackupWorkflow.type && described.type !== pitrRestoreWorkflow.type) throw new HindsightError('not_found', `restore "${workflowId}" does not exist (the id is the workflowId its start returned)`);
      // Both restore workflows answer the same query name; the logical definition reads either.
      const progress: unknown = await handle.query(restoreProgressQuery).catch(() => null);
      return { workflowId, type: described.type, status: described.status.name, startedAt: described.startTime.toISOString(), closedAt: described.closeTime?.toISOString() ?? null, progress };
    },

    async startRestore(options: { database: string; backupId?: string; to: { database: string } | { url: string } }) {
      await catalog.getDatabase(options.database);
      let to: RestoreTarget;
      if ('url' in options.to) {
        // The password never enters workflow history in clear: it is sealed with the secret key.
        const target = parsePgUrl(options.to.url);
        const url = describeTarget(target) + (target.sslmode ? `?sslmode=${target.sslmode}` : '');
        to = target.password ? { url, sealedPassword: seal(keyring.current(), target.password, RESTORE_PASSWORD_CONTEXT) } : { url };
      } else {
        to = { database: options.to.database };
      }
      const workflowId = restoreWorkflowId(options.database, new Date());
      const handle = await startJob(temporal, restoreBackupWorkflow, {
        workflowId, taskQueue: config.taskQueue, input: { database: options.database, backupId: options.backupId, to }, database: options.database, onConflict: 'fail',
      });
      return { workflowId, runId: handle.firstExecutionRunId, result: () => handle.result() };
    },
  };
}

export type Operations = ReturnType<typeof createOperations>;
