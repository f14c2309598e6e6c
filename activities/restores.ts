import { Context } from '@temporalio/activity';
import { prepareRestoreTarget as prepareTarget, streamRestoreFromStorage } from '../lib/backup/restore.ts';
import { chooseBackupToRestore } from '../lib/backup/restore-policy.ts';
import { readRolesObject } from '../lib/backup/roles-object.ts';
import type { OwnershipReport, OwnersOption } from '../lib/backup/roles-restore.ts';
import type { RowCountMismatch } from '../lib/pg/row-counts.ts';
import type { OpenedBackup } from '../lib/backup/sources.ts';
import type { Catalog } from '../lib/catalog/catalog.ts';
import type { Keyring } from '../lib/crypto/keyring.ts';
import { unseal } from '../lib/crypto/sealed.ts';
import { HindsightError } from '../lib/errors.ts';
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

export interface RestoredToTarget {
  storageName: string;
  tablesChecked: number;
  rowsChecked: number;
  mismatches: RowCountMismatch[];
  readBytes: number;
  restoredBytes: number;
  /** Absent in results recorded before restores reported it (a workflow replaying its history). */
  ownership?: OwnershipReport;
}

/**
 * The backup's roles, read from the storage the dump is read from, for a restore with owners. A
 * backup taken before backups kept their roles is refused: pg_restore would stop at the first
 * owner the target lacks, so falling back to the target's roles would fail half-way instead.
 */
async function ownersFor(
  deps: RestoreDeps,
  opened: OpenedBackup,
  input: { withOwners?: boolean | undefined; privilegedRoles?: boolean | undefined },
): Promise<OwnersOption | undefined> {
  if (!input.withOwners) return undefined;
  const roles = await readRolesObject(opened.driver, opened.manifest, deps.keyring.decryption());
  if (!roles) {
    throw new HindsightError(
      'bad_input',
      `backup ${opened.manifest.backupId} was taken before backups kept their roles, so its owners and grants cannot be restored: restore it without --with-owners, or restore a newer backup`,
    );
  }
  return { roles, privileged: input.privilegedRoles === true };
}

/**
 * Streams the backup into the target from the first storage that has it whole (falling back to
 * the next, logged), then compares every table's row count with the manifest.
 */
async function restoreBackupToTarget(
  deps: RestoreDeps,
  input: {
    database: string;
    backupId: string;
    to: RestoreTarget;
    restoreId?: string;
    withOwners?: boolean | undefined;
    privilegedRoles?: boolean | undefined;
  },
): Promise<RestoredToTarget> {
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
    const owners = await ownersFor(deps, opened, input).catch((error: unknown) => {
      opened.object.destroy();
      throw error;
    });
    const result = await streamRestoreFromStorage({
      owners,
      label: `restore target of ${input.database}`,
      manifest: opened.manifest,
      object: opened.object,
      expect: opened.expect,
      key: keyring.decryption(),
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
      ownership: result.ownership,
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
