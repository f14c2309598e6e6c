import { ApplicationFailure, CancellationScope, isCancellation, patched, workflowInfo } from '@temporalio/workflow';
import {
  backupDatabaseInput,
  backupDatabaseWorkflow,
  backupProgressQuery,
  backupProgressSignal,
  cancelBackupSignal,
  type BackupDatabaseInput,
  type BackupOutcome,
  type BackupProgress,
} from '../temporal/contracts/backup.ts';
import {
  catalogActivities as quick,
  copyActivities,
  sourceProbeActivities as probe,
  streamingActivities,
} from './activity-options.ts';
import { copyToMissingStorages } from './copy-steps.ts';
import { PATCH_HOOK_SCRIPTS, hookWarnings, runHookStage } from './hook-steps.ts';
import { publishProgress, stoppableWork } from './progress.ts';
import { newBackupId } from './run-ids.ts';
import { parseInput, rootMessage } from './validate.ts';

const dump = streamingActivities('20 seconds', 5);
const copy = copyActivities(2);

/**
 * Workflow changes are patched so that runs started by an earlier version replay unchanged
 * (test/histories/v0.1 holds such runs). Remove a patch only when no run of the old version is open.
 */
export const PATCH_COPIES_AND_VERIFICATION = 'copies-settle-and-verification';

/** A pre_backup hook that fails cancels the backup; its message (with the script's output) is the reason. */
class PreBackupHookFailed extends Error {}

/** What one run is about; its hooks are told the same. */
interface BackupRun {
  database: string;
  backupId: string;
  workflowId: string;
  progress: BackupProgress;
}

/** The `progress` query, and the dump activity's byte counts signalled into it. */
function trackProgress(backupId: string, database: string): BackupProgress {
  const progress: BackupProgress = {
    backupId,
    database,
    stage: 'starting',
    dumpBytes: 0,
    storedBytes: 0,
    updatedAt: null,
    error: null,
  };
  const dumping = (p: BackupProgress) => p.stage === 'dumping';
  return publishProgress(progress, backupProgressQuery, backupProgressSignal, dumping, (p, report) => {
    p.dumpBytes = Math.max(p.dumpBytes, report.dumpBytes);
    p.storedBytes = Math.max(p.storedBytes, report.storedBytes);
    p.updatedAt = new Date().toISOString();
  });
}

/** post_backup hooks run after every backup whose pre_backup hooks passed, whatever its outcome, and once. */
function postBackupHooks(run: BackupRun) {
  let due = false;
  return {
    arm: () => {
      due = true;
    },
    async run(): Promise<string[]> {
      if (!due) return [];
      due = false;
      run.progress.stage = 'hooks';
      return hookWarnings({
        database: run.database,
        workflowId: run.workflowId,
        backupId: run.backupId,
        kind: 'post_backup',
      });
    },
  };
}

type PostHooks = ReturnType<typeof postBackupHooks>;

/** The backup itself: hooks before, the source check, the dump, copies, the settled status, verification, hooks after. */
async function dumpAndSettle(run: BackupRun, postHooks: PostHooks) {
  const { database, backupId, progress } = run;
  if (patched(PATCH_HOOK_SCRIPTS)) {
    progress.stage = 'hooks';
    const pre = await runHookStage({ database, workflowId: run.workflowId, backupId, kind: 'pre_backup' });
    if (pre.failures.length > 0) throw new PreBackupHookFailed(pre.failures[0]!.message);
    postHooks.arm();
  }
  progress.stage = 'checking';
  await probe.probeDatabase({ database });
  progress.stage = 'dumping';
  const dumped = await dump.dumpDatabaseToStorage({ database, backupId });
  // Runs begun by the single-storage version (0.1) ended right after the dump.
  if (!patched(PATCH_COPIES_AND_VERIFICATION)) {
    return { ...dumped, copies: dumped.copies ?? [], status: 'complete' as const };
  }
  // A storage the dump missed gets one more chance: a copy from a storage that holds the backup.
  const copies = await copyToMissingStorages(copy, { database, backupId }, dumped.copies, () => {
    progress.stage = 'copying';
  });
  const { status } = await quick.settleBackup({ backupId });
  try {
    // Proof follows every backup; a verifier that cannot be reached never fails the backup itself.
    await quick.requestVerification({ database, backupId, trigger: 'backup' });
  } catch (error) {
    if (isCancellation(error)) throw error;
  }
  const warnings = await postHooks.run();
  return {
    ...dumped,
    copies,
    status: status === 'complete' ? ('complete' as const) : ('partial' as const),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

/** The outcome of a backup that stored nothing. */
function cancelledOutcome(run: BackupRun, reason?: string): BackupOutcome {
  return {
    backupId: run.backupId,
    database: run.database,
    status: 'cancelled',
    ...(reason !== undefined ? { reason } : {}),
    copies: [],
    sizeBytes: 0,
    dumpBytes: 0,
    sha256: '',
    tables: 0,
    rows: 0,
  };
}

/**
 * Records how a backup ended that did not complete, and runs the post_backup hooks that undo what
 * the pre_backup hooks set up. A failed pre_backup hook and a cancellation of the backup alone
 * (not of the workflow) are outcomes; anything else fails the run.
 */
async function endUnfinished(
  run: BackupRun,
  error: unknown,
  work: CancellationScope,
  cancelReason: string,
  postHooks: PostHooks,
) {
  const { progress, backupId } = run;
  if (error instanceof PreBackupHookFailed) {
    progress.stage = 'cancelled';
    progress.error = error.message;
    await CancellationScope.nonCancellable(() =>
      quick.recordBackupEnded({ backupId, status: 'cancelled', error: error.message }),
    );
    return cancelledOutcome(run, error.message);
  }
  const cancelled = isCancellation(error);
  const message = cancelled ? cancelReason : rootMessage(error);
  progress.stage = cancelled ? 'cancelled' : 'failed';
  progress.error = message;
  // Recording the outcome must happen even when the workflow itself is being cancelled.
  await CancellationScope.nonCancellable(() =>
    quick.recordBackupEnded({ backupId, status: cancelled ? 'cancelled' : 'failed', error: message }),
  );
  // What a pre_backup hook set up (a lock, a paused job) is undone even when the backup failed.
  await CancellationScope.nonCancellable(() => postHooks.run()).catch(() => undefined);
  progress.stage = cancelled ? 'cancelled' : 'failed';
  if (cancelled && work.consideredCancelled && !CancellationScope.current().consideredCancelled)
    return cancelledOutcome(run);
  if (cancelled) throw error;
  throw ApplicationFailure.nonRetryable(
    `backup ${backupId} of database "${run.database}" failed: ${message}`,
    'backup_failed',
  );
}

/**
 * One logical backup of one database: check the source, dump it once to every storage, give each
 * storage that missed it one more chance by copying from one that has it, record the result.
 */
export async function backupDatabase(raw: BackupDatabaseInput): Promise<BackupOutcome> {
  const input = parseInput(backupDatabaseWorkflow.type, backupDatabaseInput, raw);
  const info = workflowInfo();
  const backupId = input.backupId ?? newBackupId();
  const run: BackupRun = {
    database: input.database,
    backupId,
    workflowId: info.workflowId,
    progress: trackProgress(backupId, input.database),
  };
  const { progress } = run;

  const { scope: work, reason: cancelReason } = stoppableWork(cancelBackupSignal, 'cancelled');

  await quick.recordBackupStarted({
    database: input.database,
    backupId,
    workflowId: info.workflowId,
    trigger: input.trigger,
  });
  const postHooks = postBackupHooks(run);
  try {
    const result = await work.run(() => dumpAndSettle(run, postHooks));
    progress.stage = result.status;
    progress.dumpBytes = result.dumpBytes;
    progress.storedBytes = result.sizeBytes;
    return { ...result, backupId, database: input.database };
  } catch (error) {
    return await endUnfinished(run, error, work, cancelReason(), postHooks);
  }
}
