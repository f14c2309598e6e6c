import { ApplicationFailure, CancellationScope, isCancellation, patched, workflowInfo } from '@temporalio/workflow';
import {
  abortRestoreSignal,
  restoreBackupInput,
  restoreBackupWorkflow,
  restoreProgressQuery,
  restoreProgressSignal,
  type RestoreBackupInput,
  type RestoreOutcome,
  type RestoreProgress,
} from '../temporal/contracts/restore.ts';
import { catalogActivities, streamingActivities } from './activity-options.ts';
import { PATCH_HOOK_SCRIPTS, hookWarnings } from './hook-steps.ts';
import { publishProgress, stoppableWork } from './progress.ts';
import { newRestoreId } from './run-ids.ts';
import { parseInput, rootMessage } from './validate.ts';

const quick = catalogActivities;
const restore = streamingActivities('30 seconds', 3);

/** The live progress of the restore: callers query it, the restore activity reports into it while it streams. */
function trackProgress(restoreId: string, database: string): RestoreProgress {
  const progress: RestoreProgress = {
    restoreId,
    backupId: null,
    database,
    stage: 'starting',
    readBytes: 0,
    restoredBytes: 0,
    error: null,
  };
  const restoring = (p: RestoreProgress) => p.stage === 'restoring';
  return publishProgress(progress, restoreProgressQuery, restoreProgressSignal, restoring, (p, report) => {
    p.readBytes = Math.max(p.readBytes, report.readBytes);
    p.restoredBytes = Math.max(p.restoredBytes, report.restoredBytes);
  });
}

type RowCountMismatch = Awaited<ReturnType<typeof restore.restoreBackupToTarget>>['mismatches'][number];

/** The restore is not proven when any table's row count differs from the dump's: name every such table. */
function failOnMismatches(backupId: string, mismatches: RowCountMismatch[]): void {
  if (mismatches.length === 0) return;
  const listed = mismatches
    .map((m) => `${m.schema}.${m.table}: expected ${m.expected ?? 'absent'}, restored ${m.actual ?? 'absent'}`)
    .join('; ');
  throw ApplicationFailure.nonRetryable(
    `restored data differs from backup ${backupId} in ${mismatches.length} table(s): ${listed}`,
    'verification_failed',
  );
}

/** Runs the post_restore hooks; the restore stands whatever they do, so a failure is a warning on it. */
async function postRestoreWarnings(context: {
  database: string;
  workflowId: string;
  backupId: string;
  restoreId: string;
}): Promise<string[]> {
  if (!patched(PATCH_HOOK_SCRIPTS)) return [];
  return hookWarnings({ ...context, kind: 'post_restore' });
}

/**
 * Restores a logical backup into an empty database and proves it: every table's row count must
 * equal the count taken in the dump's snapshot, or the restore fails and says which tables differ.
 */
export async function restoreBackup(raw: RestoreBackupInput): Promise<RestoreOutcome> {
  const input = parseInput(restoreBackupWorkflow.type, restoreBackupInput, raw);
  const info = workflowInfo();
  const restoreId = newRestoreId('r');
  const progress = trackProgress(restoreId, input.database);
  const work = stoppableWork(abortRestoreSignal, 'aborted').scope;

  let backupId: string | null = null;
  let target = 'the restore target';
  let recorded = false;
  try {
    ({ backupId } = await quick.resolveBackup({ database: input.database, backupId: input.backupId }));
    progress.backupId = backupId;
    progress.stage = 'preparing';
    ({ target } = await quick.prepareRestoreTarget({ database: input.database, to: input.to }));
    await quick.recordRestoreStarted({ restoreId, backupId, workflowId: info.workflowId, target });
    recorded = true;
    progress.stage = 'restoring';
    const result = await work.run(() =>
      restore.restoreBackupToTarget({
        database: input.database,
        backupId: backupId!,
        to: input.to,
        restoreId,
        ...(input.withOwners ? { withOwners: true, privilegedRoles: input.privilegedRoles === true } : {}),
      }),
    );
    progress.stage = 'verifying';
    progress.readBytes = result.readBytes;
    progress.restoredBytes = result.restoredBytes;
    if (result.ownership) progress.ownership = result.ownership;
    failOnMismatches(backupId, result.mismatches);
    await quick.recordRestoreEnded({
      restoreId,
      status: 'verified',
      tablesChecked: result.tablesChecked,
      rowsChecked: result.rowsChecked,
    });
    progress.stage = 'verified';
    const warnings = await postRestoreWarnings({
      database: input.database,
      workflowId: info.workflowId,
      backupId,
      restoreId,
    });
    return {
      restoreId,
      backupId,
      storageName: result.storageName,
      database: input.database,
      target,
      tablesChecked: result.tablesChecked,
      rowsChecked: result.rowsChecked,
      ...(warnings.length > 0 ? { warnings } : {}),
      ...(result.ownership ? { ownership: result.ownership } : {}),
    };
  } catch (error) {
    const aborted = isCancellation(error);
    const message = aborted ? 'aborted by request' : rootMessage(error);
    progress.stage = aborted ? 'aborted' : 'failed';
    progress.error = message;
    if (recorded)
      await CancellationScope.nonCancellable(() =>
        quick.recordRestoreEnded({ restoreId, status: 'failed', error: message }),
      );
    if (aborted) throw error;
    const which = backupId ? `backup ${backupId}` : 'a backup';
    throw ApplicationFailure.nonRetryable(
      `restore of ${which} (database "${input.database}") into ${target} failed: ${message}`,
      'restore_failed',
    );
  }
}
