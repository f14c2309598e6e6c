import type { Catalog } from '../lib/catalog/catalog.ts';
import { backupObjectKeys, manifestKey, storedDatabaseName } from '../lib/backup/ids.ts';
import { errorMessage } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { RetentionPlan } from '../lib/retention/planner.ts';
import { planForDatabase } from '../lib/retention/plan-for-database.ts';
import { bindActivities } from './bind.ts';
import { driverFor } from './storage-access.ts';

export interface RetentionDeps {
  catalog: Catalog;
  logger: Logger;
}

async function planRetentionFor(deps: RetentionDeps, input: { database: string }): Promise<RetentionPlan> {
  return (await planForDatabase(deps.catalog, input.database, new Date())).plan;
}

/**
 * Removes one backup from every storage (manifest last, so a half-removed backup never looks
 * whole), then marks it deleted. Checked again here: a restore or verification may have
 * started since the plan was made.
 */
async function deleteBackupEverywhere(
  deps: RetentionDeps,
  input: { database: string; backupId: string; reason: string },
): Promise<{ deleted: boolean; why?: string }> {
  const { catalog, logger } = deps;
  const [verifying, restoring] = await Promise.all([
    catalog.verifications.backupsInUse(input.database),
    catalog.backupsBeingRestored(input.database),
  ]);
  if (verifying.has(input.backupId) || restoring.has(input.backupId)) {
    return { deleted: false, why: 'a restore or verification started using it after the plan was made' };
  }
  const backup = await catalog.getBackup(input.backupId);
  // Under the name it was stored with, which a renamed database no longer has.
  const stored = storedDatabaseName(backup);
  for (const copy of backup.copies) {
    const driver = await driverFor(catalog, copy.storageName);
    try {
      for (const key of backupObjectKeys(stored, input.backupId)) await driver.remove(key);
      await driver.remove(manifestKey(stored, input.backupId));
    } catch (error) {
      logger.warn(
        { backupId: input.backupId, storage: copy.storageName, err: errorMessage(error) },
        'retention could not remove a copy',
      );
      throw error;
    } finally {
      await driver.close?.().catch(() => undefined);
    }
  }
  await catalog.markBackupDeleted(input.backupId, input.reason);
  logger.info(
    { database: input.database, backupId: input.backupId, reason: input.reason },
    'backup deleted by retention',
  );
  return { deleted: true };
}

export const createRetentionActivities = (deps: RetentionDeps) =>
  bindActivities(deps, { planRetentionFor, deleteBackupEverywhere });
