import { ApplicationFailure } from '@temporalio/workflow';
import {
  replicateBackupInput,
  replicateBackupWorkflow,
  type ReplicateBackupInput,
  type CopyReport,
  type ReplicateOutcome,
} from '../temporal/contracts/backup.ts';
import { catalogActivities, copyActivities } from './activity-options.ts';
import { copyToMissingStorages } from './copy-steps.ts';
import { parseInput } from './validate.ts';

const quick = catalogActivities;
const copy = copyActivities(5);

/**
 * Brings every storage of a partial backup up to date by copying from a storage that holds it
 * whole: no second pg_dump, and the copy is checked against the manifest's SHA-256 before commit.
 * With `storages`, copies into exactly those (an older backup into a storage added since); a
 * storage named that already holds the backup whole is left as it is.
 */
export async function replicateBackup(raw: ReplicateBackupInput): Promise<ReplicateOutcome> {
  const input = parseInput(replicateBackupWorkflow.type, replicateBackupInput, raw);
  const before = await quick.listCopies({ backupId: input.backupId });
  if (!before.some((c) => c.status === 'complete')) {
    throw ApplicationFailure.nonRetryable(
      `backup ${input.backupId} has no complete copy in any storage to copy from`,
      'not_found',
    );
  }
  const wanted = input.storages ? targetsNamed(before, input.storages) : before;
  const copied = await copyToMissingStorages(copy, { database: input.database, backupId: input.backupId }, wanted);
  // Every copy as it stands now, in the catalog's order, then the storages that had none.
  const now = new Map(copied.map((c) => [c.storageName, c]));
  const copies = [
    ...before.map((c) => now.get(c.storageName) ?? c),
    ...copied.filter((c) => !before.some((b) => b.storageName === c.storageName)),
  ];
  const { status } = await quick.settleBackup({ backupId: input.backupId });
  return {
    backupId: input.backupId,
    database: input.database,
    status: status === 'complete' ? 'complete' : 'partial',
    copies,
  };
}

/** The storages named, each as its copy stands now; one without a copy yet counts as missing it. */
function targetsNamed(before: CopyReport[], storages: string[]): CopyReport[] {
  return [...new Set(storages)].map(
    (storageName) =>
      before.find((c) => c.storageName === storageName) ?? { storageName, status: 'failed', error: 'not copied yet' },
  );
}
