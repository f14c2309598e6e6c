import { Context } from '@temporalio/activity';
import { prepareRestoreTarget as prepareTarget, streamRestoreFromStorage } from '../lib/backup/restore.ts';
import { chooseBackupToRestore } from '../lib/backup/restore-policy.ts';
import type { Catalog } from '../lib/catalog/catalog.ts';
import type { Keyring } from '../lib/crypto/keyring.ts';
import { unseal } from '../lib/crypto/sealed.ts';
import type { Logger } from '../lib/logger.ts';
import { describeTarget, parsePgUrl, type PgTarget } from '../lib/pg/connection.ts';
import type { RestoreTarget } from '../temporal/contracts/restore.ts';
import { bindActivities } from './bind.ts';
import { progressReporter } from './progress.ts';
import { openRecordedBackup, readableCopies, withDrivers } from './storage-access.ts';

export const RESTORE_PASSWORD_CONTEXT = 'restore-target:password';

export interface RestoreDeps {
  catalog: Catalog;
  /** Any key of the ring decrypts what it wrote (chosen by key id). */
  keyring: Keyring;
  logger: Logger;
}

async function resolveRestoreTarget(deps: RestoreDeps, database: string, to: RestoreTarget): Promise<PgTarget> {
  if ('database' in to) {
    const source = await deps.catalog.databaseTarget(database);
    return { ...source, database: to.database };
  }
  const target = parsePgUrl(to.url);
  if (!to.sealedPassword) return target;
  return { ...target, password: unseal(deps.keyring.resolve, to.sealedPassword, RESTORE_PASSWORD_CONTEXT) };
}

/** The backup to restore: the one named, or the newest complete one (lib/backup/restore-policy.ts). */
async function resolveBackup(
  deps: RestoreDeps,
  input: { database: string; backupId?: string | undefined },
): Promise<{ backupId: string }> {
  return { backupId: await chooseBackupToRestore(deps.catalog, input.database, input.backupId) };
}

async function prepareRestoreTarget(
  deps: RestoreDeps,
  input: { database: string; to: RestoreTarget },
): Promise<{ target: string; created: boolean }> {
  const target = await resolveRestoreTarget(deps, input.database, input.to);
  const { created } = await prepareTarget(`restore target of ${input.database}`, target);
  return { target: describeTarget(target), created };
}

async function recordRestoreStarted(
  deps: RestoreDeps,
  input: { restoreId: string; backupId: string; workflowId: string; target: string },
): Promise<void> {
  return deps.catalog.beginRestore({
    id: input.restoreId,
    backupId: input.backupId,
    workflowId: input.workflowId,
    target: input.target,
  });
}

async function recordRestoreEnded(
  deps: RestoreDeps,
  input: {
    restoreId: string;
    status: 'verified' | 'failed';
    error?: string;
    tablesChecked?: number;
    rowsChecked?: number;
  },
): Promise<void> {
  return deps.catalog.endRestore(input.restoreId, input);
}

/**
 * Streams the backup into the target from the first storage that has it whole (falling back to
 * the next, logged), then compares every table's row count with the manifest.
 */
async function restoreBackupToTarget(
  deps: RestoreDeps,
  input: { database: string; backupId: string; to: RestoreTarget; restoreId?: string },
) {
  const { catalog, keyring, logger } = deps;
  const ctx = Context.current();
  const target = await resolveRestoreTarget(deps, input.database, input.to);
  const report = progressReporter();
  const storages = await readableCopies(catalog, input.backupId, ctx.info.attempt);
  // The catalog's checksums, which storage cannot rewrite, hold the object to what was backed up.
  const backup = await catalog.getBackup(input.backupId);
  return withDrivers(catalog, storages, async (sources) => {
    const opened = await openRecordedBackup(sources, input.database, backup, logger);
    if (input.restoreId) await catalog.recordRestoreSource(input.restoreId, opened.storageName);
    logger.info(
      { backupId: input.backupId, storage: opened.storageName, attempt: ctx.info.attempt },
      'restoring backup',
    );
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
}

/** Restores of a logical backup into a PostgreSQL database, and their record. */
export const createRestoreActivities = (deps: RestoreDeps) =>
  bindActivities(deps, {
    resolveBackup,
    prepareRestoreTarget,
    recordRestoreStarted,
    recordRestoreEnded,
    restoreBackupToTarget,
  });
