import { ApplicationFailure } from '@temporalio/workflow';
import {
  replicateBackupInput,
  replicateBackupWorkflow,
  type ReplicateBackupInput,
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
  const copies = await copyToMissingStorages(copy, { database: input.database, backupId: input.backupId }, before);
  const { status } = await quick.settleBackup({ backupId: input.backupId });
  return {
    backupId: input.backupId,
    database: input.database,
    status: status === 'complete' ? 'complete' : 'partial',
    copies,
  };
}
