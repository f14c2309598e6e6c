import { Context } from '@temporalio/activity';
import type { Catalog } from '../lib/catalog/catalog.ts';
import type { SecretKey } from '../lib/crypto/secret-key.ts';
import { unseal } from '../lib/crypto/sealed.ts';
import { HindsightError } from '../lib/errors.ts';
import { streamDumpToStorage } from '../lib/backup/dump.ts';
import { manifestKey } from '../lib/backup/ids.ts';
import { manifestSchema, type BackupManifest } from '../lib/backup/manifest.ts';
import { prepareRestoreTarget, streamRestoreFromStorage } from '../lib/backup/restore.ts';
import { connect, describeTarget, parsePgUrl, serverInfo, type PgTarget } from '../lib/pg/connection.ts';
import type { StorageDriver } from '../lib/storage/contract.ts';
import { createStorageDriver } from '../lib/storage/index.ts';
import type { Logger } from '../lib/logger.ts';
import type { RestoreTarget } from '../temporal/inputs.ts';
import { translated } from './failures.ts';

/** Lets a long activity show its bytes in its workflow's `progress` query. */
export interface ProgressSink {
  send(workflowId: string, runId: string, signal: 'reportProgress', report: object): Promise<void>;
}

export interface ActivityDeps {
  catalog: Catalog;
  key: SecretKey;
  logger: Logger;
  progress?: ProgressSink;
}

export const RESTORE_PASSWORD_CONTEXT = 'restore-target:password';

async function readManifest(storage: StorageDriver, databaseName: string, backupId: string): Promise<BackupManifest> {
  const chunks: Buffer[] = [];
  for await (const chunk of await storage.openRead(manifestKey(databaseName, backupId))) chunks.push(chunk as Buffer);
  const parsed = manifestSchema.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
  if (!parsed.success) {
    throw new HindsightError('integrity', `manifest of backup ${backupId} in storage ${storage.label} is invalid: ${parsed.error.issues[0]?.message}`);
  }
  return parsed.data;
}

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
    sink.send(execution.workflowId, execution.runId, 'reportProgress', report).catch((error: unknown) => logger.debug({ err: error }, 'progress signal not delivered'));
  };
}

export const createActivities = (deps: ActivityDeps) => {
  const { catalog, key, logger } = deps;

  async function storageOf(storageName: string): Promise<StorageDriver> {
    const record = await catalog.getStorage(storageName);
    return createStorageDriver(record.name, record.config);
  }

  async function resolveRestoreTarget(database: string, to: RestoreTarget): Promise<PgTarget> {
    if ('database' in to) {
      const source = await catalog.databaseTarget(database);
      return { ...source, database: to.database };
    }
    const target = parsePgUrl(to.url);
    return to.sealedPassword ? { ...target, password: unseal(key, to.sealedPassword, RESTORE_PASSWORD_CONTEXT) } : target;
  }

  return {
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

    async recordBackupStarted(input: { database: string; backupId: string; workflowId: string; trigger: string }): Promise<void> {
      return translated(() => catalog.beginBackup({ id: input.backupId, databaseName: input.database, workflowId: input.workflowId, trigger: input.trigger }));
    },

    async recordBackupEnded(input: { backupId: string; status: 'failed' | 'cancelled'; error: string }): Promise<void> {
      return translated(() => catalog.endBackup(input.backupId, input.status, input.error));
    },

    /** The long one: pg_dump → hash → encrypt → storage, heartbeating bytes; cancellable. */
    async dumpDatabaseToStorage(input: { database: string; backupId: string }) {
      return translated(async () => {
        const ctx = Context.current();
        const db = await catalog.getDatabase(input.database);
        const target = await catalog.databaseTarget(input.database);
        const storage = await storageOf(db.storageName);
        const report = throttledProgress(deps.progress, logger);
        logger.info({ database: input.database, backupId: input.backupId, attempt: ctx.info.attempt }, 'backup started');
        const manifest = await streamDumpToStorage({
          databaseName: input.database,
          backupId: input.backupId,
          target,
          storage,
          key,
          signal: ctx.cancellationSignal,
          onProgress: (p) => report(p),
        });
        await catalog.completeBackup(input.backupId, {
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
        logger.info({ database: input.database, backupId: input.backupId, bytes: manifest.object.sizeBytes, tables: manifest.tables.length, rows }, 'backup complete');
        return {
          sizeBytes: manifest.object.sizeBytes,
          dumpBytes: manifest.dump.sizeBytes,
          sha256: manifest.dump.sha256,
          tables: manifest.tables.length,
          rows,
        };
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
        if (backup.status !== 'complete') {
          throw new HindsightError('bad_input', `backup ${input.backupId} is ${backup.status}, not complete: only complete backups can be restored`);
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

    /** Streams the backup into the target, then compares every table's row count with the manifest. */
    async restoreBackupToTarget(input: { database: string; backupId: string; to: RestoreTarget }) {
      return translated(async () => {
        const ctx = Context.current();
        const backup = await catalog.getBackup(input.backupId);
        const storage = await storageOf(backup.storageName);
        const manifest = await readManifest(storage, input.database, input.backupId);
        const target = await resolveRestoreTarget(input.database, input.to);
        const report = throttledProgress(deps.progress, logger);
        const result = await streamRestoreFromStorage({
          label: `restore target of ${input.database}`,
          manifest,
          storage,
          key,
          target,
          signal: ctx.cancellationSignal,
          onProgress: (p) => report(p),
        });
        return { tablesChecked: result.tables.length, rowsChecked: result.rowsChecked, mismatches: result.mismatches, readBytes: result.readBytes, restoredBytes: result.restoredBytes };
      });
    },
  };
};

export type Activities = ReturnType<typeof createActivities>;
