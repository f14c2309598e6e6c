import { Context } from '@temporalio/activity';
import type { Catalog } from '../lib/catalog/catalog.ts';
import type { Keyring } from '../lib/crypto/keyring.ts';
import { unseal } from '../lib/crypto/sealed.ts';
import { HindsightError } from '../lib/errors.ts';
import { copyBackup } from '../lib/backup/copy.ts';
import { streamDumpToStorage, type CopyOutcome } from '../lib/backup/dump.ts';
import { prepareRestoreTarget, streamRestoreFromStorage } from '../lib/backup/restore.ts';
import { recordedChecksums } from '../lib/backup/expectation.ts';
import { openBackupFromAny, type BackupSource } from '../lib/backup/sources.ts';
import { errorMessage } from '../lib/errors.ts';
import { connect, describeTarget, parsePgUrl, serverInfo, type PgTarget } from '../lib/pg/connection.ts';
import type { StorageDriver } from '../lib/storage/contract.ts';
import { createStorageDriver } from '../lib/storage/index.ts';
import type { Logger } from '../lib/logger.ts';
import { PROGRESS_SIGNAL, type ProgressSignalName } from '../temporal/contracts/common.ts';
import type { RestoreTarget } from '../temporal/contracts/restore.ts';
import { translated } from './failures.ts';
import { createHealthActivities } from './health.ts';
import { createHookActivities } from './hooks.ts';
import { createRetentionActivities } from './retention.ts';
import { createVerificationActivities, type VerificationDeps } from './verification.ts';
import { createNotificationActivities, createOutbox, notifyBackupOutcome, type NotificationDeps } from './notifications.ts';
import { createPitrActivities } from './pitr.ts';
import { createWalActivities } from './wal.ts';

/** Lets a long activity show its bytes in its workflow's `progress` query. */
export interface ProgressSink {
  send(workflowId: string, runId: string, signal: ProgressSignalName, report: object): Promise<void>;
}

export interface ActivityDeps extends VerificationDeps, NotificationDeps {
  catalog: Catalog;
  /** The current key encrypts; any key of the ring decrypts what it wrote (chosen by key id). */
  keyring: Keyring;
  logger: Logger;
  progress?: ProgressSink;
  walSpoolDir?: string | undefined;
}

export const RESTORE_PASSWORD_CONTEXT = 'restore-target:password';

/** Sends progress at most every two seconds, and never lets a lost signal fail the activity. */
function throttledProgress(sink: ProgressSink | undefined, logger: Logger) {
  let last = 0;
  return (report: object) => {
    const ctx = Context.current();
    ctx.heartbeat(report);
    const now = Date.now();
    if (!sink || now - last < 2000) return;
    last = now;
    const execution = ctx.info.workflowExecution;
    if (!execution) return;
    sink.send(execution.workflowId, execution.runId, PROGRESS_SIGNAL, report).catch((error: unknown) => logger.debug({ err: error }, 'progress signal not delivered'));
  };
}

export const createActivities = (deps: ActivityDeps) => {
  const { catalog, keyring, logger } = deps;
  const outbox = createOutbox(deps);

  async function driverFor(storageName: string): Promise<StorageDriver> {
    return createStorageDriver(storageName, await catalog.storageConfig(storageName));
  }

  /** Opens drivers for the work, and closes them whatever happens. */
  async function withDrivers<T>(names: string[], work: (drivers: BackupSource[]) => Promise<T>): Promise<T> {
    const opened: BackupSource[] = [];
    try {
      for (const name of names) opened.push({ name, driver: await driverFor(name) });
      return await work(opened);
    } finally {
      await Promise.all(opened.map((o) => o.driver.close?.().catch(() => undefined)));
    }
  }

  /** Copies of a backup that can serve a read, preferred first; a retry starts one further on. */
  async function readableCopies(backupId: string, attempt: number): Promise<string[]> {
    const complete = (await catalog.copiesOf(backupId)).filter((c) => c.status === 'complete').map((c) => c.storageName);
    const shift = complete.length > 0 ? (attempt - 1) % complete.length : 0;
    return [...complete.slice(shift), ...complete.slice(0, shift)];
  }

  const logFallback = (backupId: string) => (storageName: string, reason: string) =>
    logger.warn({ backupId, storage: storageName, reason }, 'backup copy unreadable, trying the next storage');

  async function resolveRestoreTarget(database: string, to: RestoreTarget): Promise<PgTarget> {
    if ('database' in to) {
      const source = await catalog.databaseTarget(database);
      return { ...source, database: to.database };
    }
    const target = parsePgUrl(to.url);
    return to.sealedPassword ? { ...target, password: unseal(keyring.resolve, to.sealedPassword, RESTORE_PASSWORD_CONTEXT) } : target;
  }

  return {
    ...createVerificationActivities(deps),
    ...createHealthActivities(deps),
    ...createRetentionActivities(deps),
    ...createHookActivities(deps),
    ...createNotificationActivities(deps),
    ...createPitrActivities(deps),
    ...createWalActivities(deps),

    /** Connects to the source and reports its version; fails fast with a named cause. */
    async probeDatabase(input: { database: string }): Promise<{ serverVersion: string; sizeBytes: number }> {
      return translated(async () => {
        const target = await catalog.databaseTarget(input.database);
        const client = await connect(input.database, target);
        try {
          const info = await serverInfo(client);
          return { serverVersion: info.version, sizeBytes: info.sizeBytes };
        } finally {
          await client.end().catch(() => undefined);
        }
      });
    },

    async recordBackupStarted(input: { database: string; backupId: string; workflowId: string; trigger: string }): Promise<{ storageNames: string[] }> {
      return translated(() => catalog.beginBackup({ id: input.backupId, databaseName: input.database, workflowId: input.workflowId, trigger: input.trigger }));
    },

    async recordBackupEnded(input: { backupId: string; status: 'failed' | 'cancelled'; error: string }): Promise<void> {
      return translated(async () => {
        await catalog.endBackup(input.backupId, input.status, input.error);
        // A cancelled backup was asked for; only a failure is news.
        if (input.status === 'failed') await notifyBackupOutcome(catalog, outbox, logger, input.backupId);
      });
    },

    /** The long one: pg_dump → hash → encrypt → every storage, heartbeating bytes; cancellable. */
    async dumpDatabaseToStorage(input: { database: string; backupId: string }) {
      return translated(async () => {
        const ctx = Context.current();
        const db = await catalog.getDatabase(input.database);
        const target = await catalog.databaseTarget(input.database);
        const report = throttledProgress(deps.progress, logger);
        logger.info({ database: input.database, backupId: input.backupId, storages: db.storageNames, attempt: ctx.info.attempt }, 'backup started');
        const { manifest, copies } = await withDrivers(db.storageNames, (destinations) => streamDumpToStorage({
          databaseName: input.database,
          backupId: input.backupId,
          target,
          destinations,
          key: keyring.current(),
          signal: ctx.cancellationSignal,
          onProgress: (p) => report(p),
        }));
        for (const copy of copies) {
          await catalog.recordCopy(input.backupId, copy.storageName, copy);
          if (copy.status === 'failed') logger.warn({ database: input.database, backupId: input.backupId, storage: copy.storageName, error: copy.error }, 'backup copy failed');
        }
        const status = await catalog.completeBackup(input.backupId, {
          objectKey: manifest.object.key,
          sizeBytes: manifest.object.sizeBytes,
          dumpBytes: manifest.dump.sizeBytes,
          sha256: manifest.dump.sha256,
          objectSha256: manifest.object.sha256,
          compression: `${manifest.tool.compression.algorithm}:${manifest.tool.compression.level}`,
          serverVersion: manifest.source.serverVersion,
          toolVersion: manifest.tool.version,
          rowCounts: manifest.tables,
        });
        const rows = manifest.tables.reduce((sum, t) => sum + t.rows, 0);
        logger.info({ database: input.database, backupId: input.backupId, status, bytes: manifest.object.sizeBytes, tables: manifest.tables.length, rows }, 'backup dumped');
        return {
          status,
          copies: copies satisfies CopyOutcome[],
          sizeBytes: manifest.object.sizeBytes,
          dumpBytes: manifest.dump.sizeBytes,
          sha256: manifest.dump.sha256,
          tables: manifest.tables.length,
          rows,
        };
      });
    },

    /** The copies of a backup and where each stands. */
    async listCopies(input: { backupId: string }): Promise<CopyOutcome[]> {
      return translated(async () => (await catalog.copiesOf(input.backupId)).map((c) => ({
        storageName: c.storageName,
        status: c.status === 'complete' ? 'complete' as const : 'failed' as const,
        ...(c.sizeBytes !== null ? { sizeBytes: c.sizeBytes } : {}),
        ...(c.error !== null ? { error: c.error } : {}),
      })));
    },

    /**
     * Brings one storage's copy of a backup up to date from a storage that holds it whole, without
     * dumping again. Each attempt's outcome is recorded so that the console shows why a copy lags.
     */
    async copyBackupToStorage(input: { database: string; backupId: string; storageName: string }): Promise<CopyOutcome> {
      return translated(async () => {
        const ctx = Context.current();
        const sources = (await readableCopies(input.backupId, ctx.info.attempt)).filter((name) => name !== input.storageName);
        const beat = setInterval(() => ctx.heartbeat(), 5000);
        try {
          const { sizeBytes } = await withDrivers([input.storageName, ...sources], async ([target, ...from]) => {
            const opened = await openBackupFromAny(from, input.database, input.backupId, logFallback(input.backupId), recordedChecksums(await catalog.getBackup(input.backupId)));
            logger.info({ backupId: input.backupId, from: opened.storageName, to: input.storageName }, 'copying backup between storages');
            return copyBackup(opened, target!.driver, ctx.cancellationSignal);
          });
          await catalog.recordCopy(input.backupId, input.storageName, { status: 'complete', sizeBytes });
          return { storageName: input.storageName, status: 'complete', sizeBytes };
        } catch (error) {
          await catalog.recordCopy(input.backupId, input.storageName, { status: 'failed', error: errorMessage(error) });
          throw error;
        } finally {
          clearInterval(beat);
        }
      });
    },

    /** complete when every copy is, partial when some are. */
    async settleBackup(input: { backupId: string }): Promise<{ status: string }> {
      return translated(async () => {
        const status = await catalog.settleBackupStatus(input.backupId);
        await notifyBackupOutcome(catalog, outbox, logger, input.backupId);
        return { status };
      });
    },

    /** The backup to restore: the one named, or the newest complete one. */
    async resolveBackup(input: { database: string; backupId?: string | undefined }): Promise<{ backupId: string }> {
      return translated(async () => {
        if (!input.backupId) return { backupId: (await catalog.latestCompleteBackup(input.database)).id };
        const backup = await catalog.getBackup(input.backupId);
        if (backup.databaseName !== input.database) {
          throw new HindsightError('bad_input', `backup ${input.backupId} belongs to database "${backup.databaseName}", not "${input.database}"`);
        }
        if (backup.status !== 'complete' && backup.status !== 'partial') {
          throw new HindsightError('bad_input', `backup ${input.backupId} is ${backup.status}: only complete (or partial) backups can be restored`);
        }
        return { backupId: backup.id };
      });
    },

    async prepareRestoreTarget(input: { database: string; to: RestoreTarget }): Promise<{ target: string; created: boolean }> {
      return translated(async () => {
        const target = await resolveRestoreTarget(input.database, input.to);
        const { created } = await prepareRestoreTarget(`restore target of ${input.database}`, target);
        return { target: describeTarget(target), created };
      });
    },

    async recordRestoreStarted(input: { restoreId: string; backupId: string; workflowId: string; target: string }): Promise<void> {
      return translated(() => catalog.beginRestore({ id: input.restoreId, backupId: input.backupId, workflowId: input.workflowId, target: input.target }));
    },

    async recordRestoreEnded(input: { restoreId: string; status: 'verified' | 'failed'; error?: string; tablesChecked?: number; rowsChecked?: number }): Promise<void> {
      return translated(() => catalog.endRestore(input.restoreId, input));
    },

    /**
     * Streams the backup into the target from the first storage that has it whole (falling back to
     * the next, logged), then compares every table's row count with the manifest.
     */
    async restoreBackupToTarget(input: { database: string; backupId: string; to: RestoreTarget; restoreId?: string }) {
      return translated(async () => {
        const ctx = Context.current();
        const target = await resolveRestoreTarget(input.database, input.to);
        const report = throttledProgress(deps.progress, logger);
        const storages = await readableCopies(input.backupId, ctx.info.attempt);
        // The catalog's checksums, which storage cannot rewrite, hold the object to what was backed up.
        const recorded = recordedChecksums(await catalog.getBackup(input.backupId));
        return withDrivers(storages, async (sources) => {
          const opened = await openBackupFromAny(sources, input.database, input.backupId, logFallback(input.backupId), recorded);
          if (input.restoreId) await catalog.recordRestoreSource(input.restoreId, opened.storageName);
          logger.info({ backupId: input.backupId, storage: opened.storageName, attempt: ctx.info.attempt }, 'restoring backup');
          const result = await streamRestoreFromStorage({
            label: `restore target of ${input.database}`,
            manifest: opened.manifest,
            object: opened.object,
            expect: opened.expect,
            key: keyring.resolve,
            target,
            signal: ctx.cancellationSignal,
            onProgress: (p) => report(p),
          });
          return {
            storageName: opened.storageName,
            tablesChecked: result.tables.length,
            rowsChecked: result.rowsChecked,
            mismatches: result.mismatches,
            readBytes: result.readBytes,
            restoredBytes: result.restoredBytes,
          };
        });
      });
    },
  };
};

export type Activities = ReturnType<typeof createActivities>;
