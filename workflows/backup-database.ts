import {
  ApplicationFailure, CancellationScope, isCancellation, patched, setHandler, uuid4, workflowInfo,
} from '@temporalio/workflow';
import {
  backupDatabaseInput, backupDatabaseWorkflow, backupProgressQuery, backupProgressSignal, cancelBackupSignal,
  type BackupDatabaseInput, type BackupOutcome, type BackupProgress, type CopyReport,
} from '../temporal/contracts/backup.ts';
import { backupIdAt } from '../temporal/contracts/common.ts';
import { catalogActivities, copyActivities, sourceProbeActivities, streamingActivities } from './activity-options.ts';
import { PATCH_HOOK_SCRIPTS, runHookStage } from './hook-steps.ts';
import { parseInput, rootMessage } from './validate.ts';

const quick = catalogActivities;
const probe = sourceProbeActivities;
const dump = streamingActivities('20 seconds', 5);
const copy = copyActivities(2);

/**
 * Workflow changes are patched so that runs started by an earlier version replay unchanged
 * (test/histories/v0.1 holds such runs). Remove a patch only when no run of the old version is open.
 */
export const PATCH_COPIES_AND_VERIFICATION = 'copies-settle-and-verification';

/** A pre_backup hook that fails cancels the backup; its message (with the script's output) is the reason. */
class PreBackupHookFailed extends Error {}

/**
 * One logical backup of one database: check the source, dump it once to every storage, give each
 * storage that missed it one more chance by copying from one that has it, record the result.
 */
export async function backupDatabase(raw: BackupDatabaseInput): Promise<BackupOutcome> {
  const input = parseInput(backupDatabaseWorkflow.type, backupDatabaseInput, raw);
  const info = workflowInfo();
  const backupId = input.backupId ?? backupIdAt(info.startTime, uuid4().replace(/-/g, ''));
  const progress: BackupProgress = {
    backupId, database: input.database, stage: 'starting', dumpBytes: 0, storedBytes: 0, updatedAt: null, error: null,
  };
  setHandler(backupProgressQuery, () => progress);
  setHandler(backupProgressSignal, (report) => {
    if (progress.stage !== 'dumping') return;
    progress.dumpBytes = Math.max(progress.dumpBytes, report.dumpBytes);
    progress.storedBytes = Math.max(progress.storedBytes, report.storedBytes);
    progress.updatedAt = new Date().toISOString();
  });

  const work = new CancellationScope();
  let cancelReason = 'cancelled by request';
  setHandler(cancelBackupSignal, (reason) => {
    cancelReason = reason ? `cancelled: ${reason}` : cancelReason;
    work.cancel();
  });

  await quick.recordBackupStarted({ database: input.database, backupId, workflowId: info.workflowId, trigger: input.trigger });
  const hookInput = { database: input.database, workflowId: info.workflowId, backupId };
  let postHooksDue = false;
  /** post_backup hooks run after every backup whose pre_backup hooks passed, whatever its outcome. */
  const runPostHooks = async (): Promise<string[]> => {
    if (!postHooksDue) return [];
    postHooksDue = false;
    progress.stage = 'hooks';
    try {
      return (await runHookStage({ ...hookInput, kind: 'post_backup' })).failures.map((f) => f.message);
    } catch (error) {
      if (isCancellation(error)) throw error;
      return [`post_backup hooks could not run: ${rootMessage(error)}`];
    }
  };
  try {
    const result = await work.run(async () => {
      if (patched(PATCH_HOOK_SCRIPTS)) {
        progress.stage = 'hooks';
        const pre = await runHookStage({ ...hookInput, kind: 'pre_backup' });
        if (pre.failures.length > 0) throw new PreBackupHookFailed(pre.failures[0]!.message);
        postHooksDue = true;
      }
      progress.stage = 'checking';
      await probe.probeDatabase({ database: input.database });
      progress.stage = 'dumping';
      const dumped = await dump.dumpDatabaseToStorage({ database: input.database, backupId });
      // Runs begun by the single-storage version (0.1) ended right after the dump.
      if (!patched(PATCH_COPIES_AND_VERIFICATION)) {
        return { ...dumped, copies: dumped.copies ?? [], status: 'complete' as const };
      }
      const copies = await Promise.all(dumped.copies.map(async (c): Promise<CopyReport> => {
        if (c.status === 'complete') return c;
        progress.stage = 'copying';
        try {
          return await copy.copyBackupToStorage({ database: input.database, backupId, storageName: c.storageName });
        } catch (error) {
          if (isCancellation(error)) throw error;
          return { storageName: c.storageName, status: 'failed', error: rootMessage(error) };
        }
      }));
      const { status } = await quick.settleBackup({ backupId });
      try {
        // Proof follows every backup; a verifier that cannot be reached never fails the backup itself.
        await quick.requestVerification({ database: input.database, backupId, trigger: 'backup' });
      } catch (error) {
        if (isCancellation(error)) throw error;
      }
      const warnings = await runPostHooks();
      return { ...dumped, copies, status: status === 'complete' ? 'complete' as const : 'partial' as const, ...(warnings.length > 0 ? { warnings } : {}) };
    });
    progress.stage = result.status;
    progress.dumpBytes = result.dumpBytes;
    progress.storedBytes = result.sizeBytes;
    return { ...result, backupId, database: input.database };
  } catch (error) {
    if (error instanceof PreBackupHookFailed) {
      progress.stage = 'cancelled';
      progress.error = error.message;
      await CancellationScope.nonCancellable(() => quick.recordBackupEnded({ backupId, status: 'cancelled', error: error.message }));
      return { backupId, database: input.database, status: 'cancelled', reason: error.message, copies: [], sizeBytes: 0, dumpBytes: 0, sha256: '', tables: 0, rows: 0 };
    }
    const cancelled = isCancellation(error);
    const message = cancelled ? cancelReason : rootMessage(error);
    progress.stage = cancelled ? 'cancelled' : 'failed';
    progress.error = message;
    // Recording the outcome must happen even when the workflow itself is being cancelled.
    await CancellationScope.nonCancellable(() => quick.recordBackupEnded({ backupId, status: cancelled ? 'cancelled' : 'failed', error: message }));
    // What a pre_backup hook set up (a lock, a paused job) is undone even when the backup failed.
    await CancellationScope.nonCancellable(runPostHooks).catch(() => undefined);
    progress.stage = cancelled ? 'cancelled' : 'failed';
    if (cancelled && work.consideredCancelled && !CancellationScope.current().consideredCancelled) {
      return { backupId, database: input.database, status: 'cancelled', copies: [], sizeBytes: 0, dumpBytes: 0, sha256: '', tables: 0, rows: 0 };
    }
    if (cancelled) throw error;
    throw ApplicationFailure.nonRetryable(`backup ${backupId} of database "${input.database}" failed: ${message}`, 'backup_failed');
  }
}
