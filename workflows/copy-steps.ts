import { isCancellation } from '@temporalio/workflow';
import type { CopyReport } from '../temporal/contracts/backup.ts';
import type { copyActivities } from './activity-options.ts';
import { rootMessage } from './validate.ts';

/**
 * Gives every storage that misses a backup a copy from a storage that holds it whole, all at once.
 * A copy that fails is reported, not thrown: the storages that hold the backup still do.
 */
export function copyToMissingStorages(
  copy: ReturnType<typeof copyActivities>,
  backup: { database: string; backupId: string },
  copies: CopyReport[],
  onCopy: () => void = () => undefined,
): Promise<CopyReport[]> {
  return Promise.all(
    copies.map(async (c): Promise<CopyReport> => {
      if (c.status === 'complete') return c;
      onCopy();
      try {
        return await copy.copyBackupToStorage({ ...backup, storageName: c.storageName });
      } catch (error) {
        if (isCancellation(error)) throw error;
        return { storageName: c.storageName, status: 'failed', error: rootMessage(error) };
      }
    }),
  );
}
