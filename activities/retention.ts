import type { BackupRecord, Catalog } from '../lib/catalog/catalog.ts';
import { backupObjectKeys, manifestKey, storedDatabaseName } from '../lib/backup/ids.ts';
import { errorMessage, HindsightError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { RetentionPlan } from '../lib/retention/planner.ts';
import { planForDatabase } from '../lib/retention/plan-for-database.ts';
import { pruneWal, removeBaseBackup, type WalCutOrder, type WalPruneResult } from '../lib/retention/prune-archive.ts';
import { compareLsn } from '../lib/retention/wal-position.ts';
import type { StorageDriver } from '../lib/storage/contract.ts';
import { lockDate, lockDays, lockedUntilOf, ObjectLockedError } from '../lib/storage/locked.ts';
import { bindActivities } from './bind.ts';
import { heartbeatWhile } from './progress.ts';
import { driverFor } from './storage-access.ts';

export interface RetentionDeps {
  catalog: Catalog;
  logger: Logger;
}

async function planRetentionFor(deps: RetentionDeps, input: { database: string }): Promise<RetentionPlan> {
  return (await planForDatabase(deps.catalog, input.database, await deps.catalog.catalogClock())).plan;
}

/** Why a backup may not be deleted now, although the plan chose it: a job started using it since. */
async function startedUsing(catalog: Catalog, database: string, backupId: string): Promise<string | null> {
  const [verifying, restoring] = await Promise.all([
    catalog.verifications.backupsInUse(database),
    catalog.backupsBeingRestored(database),
  ]);
  return verifying.has(backupId) || restoring.has(backupId)
    ? 'a restore or verification started using it after the plan was made'
    : null;
}

/**
 * Refuses, before anything is removed, a copy its storage still locks (S3 Object Lock). The
 * manifest is written last, so its date is the latest of the copy's objects.
 */
async function refuseLocked(driver: StorageDriver, storageName: string, manifest: string): Promise<void> {
  const until = await driver.lockedUntil?.(manifest);
  if (until === undefined) return;
  throw new ObjectLockedError(
    `storage "${storageName}" locks this backup until ${lockDate(until)} (S3 Object Lock): it cannot be deleted before then; retention deletes it on its first run after that date`,
    until,
  );
}

/** Why a locked storage kept a backup, or rethrows any other failure. */
function lockedWhy(error: unknown): string {
  const until = lockedUntilOf(error);
  // The refusal names the storage and the date, as the plan's "locked until" does.
  if (until === undefined) throw error;
  return errorMessage(error);
}

/** Removes a backup's objects from one storage: the manifest last, so a half-removed copy never looks whole. */
async function removeCopyObjects(deps: RetentionDeps, backup: BackupRecord, storageName: string): Promise<void> {
  // Under the name it was stored with, which a renamed database no longer has.
  const stored = storedDatabaseName(backup);
  const driver = await driverFor(deps.catalog, storageName);
  try {
    await refuseLocked(driver, storageName, manifestKey(stored, backup.id));
    for (const key of backupObjectKeys(stored, backup.id)) await driver.remove(key);
    await driver.remove(manifestKey(stored, backup.id));
  } catch (error) {
    deps.logger.warn(
      { backupId: backup.id, storage: storageName, err: errorMessage(error) },
      'retention could not remove a copy',
    );
    throw error;
  } finally {
    await driver.close?.().catch(() => undefined);
  }
}

/** Storage names with those whose settings lock objects first. */
async function lockedFirst(catalog: Catalog, names: string[]): Promise<string[]> {
  const days = new Map(
    await Promise.all(names.map(async (name) => [name, lockDays(await catalog.getStorage(name))] as const)),
  );
  return [...names].sort((a, b) => (days.get(b) ?? 0) - (days.get(a) ?? 0));
}

/**
 * Removes one backup from every storage, then marks it deleted. Checked again here: a restore or
 * verification may have started since the plan was made.
 */
export async function deleteBackupEverywhere(
  deps: RetentionDeps,
  input: { database: string; backupId: string; reason: string },
): Promise<{ deleted: boolean; why?: string }> {
  const { catalog, logger } = deps;
  const why = await startedUsing(catalog, input.database, input.backupId);
  if (why !== null) return { deleted: false, why };
  const backup = await catalog.getBackup(input.backupId);
  // Copies on locked storages go first: a refusal there leaves every copy and the catalog untouched.
  const order = await lockedFirst(
    catalog,
    backup.copies.map((c) => c.storageName),
  );
  try {
    for (const storageName of order) await removeCopyObjects(deps, backup, storageName);
  } catch (error) {
    return { deleted: false, why: lockedWhy(error) };
  }
  await catalog.markBackupDeleted(input.backupId, input.reason);
  logger.info({ database: input.database, backupId: input.backupId, reason: input.reason }, 'backup deleted');
  return { deleted: true };
}

/**
 * Removes one copy of a backup (its objects on that storage and its copies row) by a storage's own
 * policy. Refused when no other complete copy would remain: the backup must stay restorable.
 */
async function deleteBackupCopy(
  deps: RetentionDeps,
  input: { database: string; backupId: string; storage: string; reason: string },
): Promise<{ deleted: boolean; why?: string }> {
  const { catalog, logger } = deps;
  const why = await startedUsing(catalog, input.database, input.backupId);
  if (why !== null) return { deleted: false, why };
  const backup = await catalog.getBackup(input.backupId);
  const others = backup.copies.filter((c) => c.storageName !== input.storage && c.status === 'complete');
  if (others.length === 0) return { deleted: false, why: 'no other storage holds a complete copy' };
  if (backup.copies.some((c) => c.storageName === input.storage)) {
    try {
      await removeCopyObjects(deps, backup, input.storage);
    } catch (error) {
      return { deleted: false, why: lockedWhy(error) };
    }
    await catalog.removeCopy(input.backupId, input.storage);
  }
  logger.info(
    { database: input.database, backupId: input.backupId, storage: input.storage, reason: input.reason },
    'backup copy deleted by retention',
  );
  return { deleted: true };
}

export interface ArchivePruneInput {
  database: string;
  baseBackups: string[];
  walCuts: WalCutOrder[];
  histories: number[];
}

export interface ArchivePruneOutcome {
  deletedBaseBackups: string[];
  skippedBaseBackups: Array<{ id: string; why: string }>;
  wal: WalPruneResult;
}

const noWal: WalPruneResult = { segments: 0, objects: 0, indexBatches: 0, histories: 0 };

/**
 * Deletes the base backups and WAL a plan chose, after planning again from what the catalog and
 * storage hold now: only what both plans delete goes (a base backup a restore started using since
 * is kept, a cut never moves past where either plan put it), and a hole found now refuses the run.
 */
async function pruneArchive(deps: RetentionDeps, input: ArchivePruneInput): Promise<ArchivePruneOutcome> {
  const { catalog, logger } = deps;
  const fresh = await planForDatabase(catalog, input.database, await catalog.catalogClock());
  if (fresh.plan.walRefusal) throw new HindsightError('conflict', fresh.plan.walRefusal);
  const outcome: ArchivePruneOutcome = { deletedBaseBackups: [], skippedBaseBackups: [], wal: noWal };
  if (fresh.archive === null) return outcome;
  const doomed = new Set(fresh.plan.deleteBaseBackups.map((d) => d.id));
  for (const id of input.baseBackups) {
    if (!doomed.has(id)) {
      outcome.skippedBaseBackups.push({ id, why: 'kept by the plan made at deletion time (in use or needed since)' });
    } else if (await removeBaseBackup(catalog, id)) outcome.deletedBaseBackups.push(id);
  }
  const freshCuts = new Map((fresh.plan.walCuts ?? []).map((c) => [c.timeline, c.cutLsn]));
  const orders = input.walCuts.flatMap((c) => {
    const current = freshCuts.get(c.timeline);
    if (current === undefined) return [];
    return [{ timeline: c.timeline, cutLsn: compareLsn(current, c.cutLsn) < 0 ? current : c.cutLsn }];
  });
  const histories = input.histories.filter((t) => fresh.plan.deleteHistories?.includes(t));
  const { systemIdentifier, segmentSize } = fresh.archive;
  let removed = 0;
  outcome.wal = await heartbeatWhile(
    10_000,
    () =>
      pruneWal(catalog, { database: input.database, systemIdentifier, segmentSize }, orders, histories, (done) => {
        removed = done;
      }),
    () => ({ removed }),
  );
  logger.info(
    { database: input.database, baseBackups: outcome.deletedBaseBackups, ...outcome.wal },
    'PITR archive pruned by retention',
  );
  return outcome;
}

export const createRetentionActivities = (deps: RetentionDeps) =>
  bindActivities(deps, { planRetentionFor, deleteBackupEverywhere, deleteBackupCopy, pruneArchive });
