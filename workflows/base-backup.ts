import { ApplicationFailure, CancellationScope, workflowInfo } from '@temporalio/workflow';
import {
  baseBackupInput,
  baseBackupProgressQuery,
  baseBackupProgressSignal,
  baseBackupWorkflow,
  type BaseBackupInput,
  type BaseBackupProgress,
} from '../temporal/contracts/pitr.ts';
import { HOST_JOB_RETRY, catalogActivities, longActivities } from './activity-options.ts';
import { publishProgress } from './progress.ts';
import { newBackupId } from './run-ids.ts';
import { parseInput, rootMessage } from './validate.ts';

const quick = catalogActivities;

/**
 * One physical base backup (`basebackup/<db>/<time>`): pg_basebackup streamed through zstd and
 * encryption into the database's PITR storage, on its host queue. Query `progress`.
 */
export async function baseBackup(raw: BaseBackupInput): Promise<BaseBackupProgress> {
  const input = parseInput(baseBackupWorkflow.type, baseBackupInput, raw);
  const info = workflowInfo();
  const baseBackupId = input.baseBackupId ?? newBackupId();
  const progress: BaseBackupProgress = {
    baseBackupId,
    database: input.database,
    stage: 'starting',
    rawBytes: 0,
    storedBytes: 0,
    startLsn: null,
    stopLsn: null,
    timeline: null,
    error: null,
  };
  const streaming = (p: BaseBackupProgress) => p.stage === 'streaming';
  publishProgress(progress, baseBackupProgressQuery, baseBackupProgressSignal, streaming, (p, report) => {
    p.rawBytes = Math.max(p.rawBytes, report.rawBytes);
  });

  const settings = await quick.pitrSettings({ database: input.database });
  if (!settings.registered)
    throw ApplicationFailure.nonRetryable(`database "${input.database}" is not registered`, 'not_found');
  const host = longActivities({
    taskQueue: settings.hostTaskQueue ?? info.taskQueue,
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: '1 minute',
    retry: HOST_JOB_RETRY,
  });
  progress.stage = 'streaming';
  try {
    const result = await host.takeBaseBackup({ database: input.database, baseBackupId, workflowId: info.workflowId });
    Object.assign(progress, {
      stage: 'complete',
      rawBytes: result.rawBytes,
      storedBytes: result.storedBytes,
      startLsn: result.startLsn,
      stopLsn: result.stopLsn,
      timeline: result.timeline,
      kind: result.kind,
      parentId: result.parentId,
      kindReason: result.kindReason,
    });
    return progress;
  } catch (error) {
    progress.stage = 'failed';
    progress.error = rootMessage(error);
    // Recorded even when the run was cancelled, so that no base backup stays "running" forever.
    await CancellationScope.nonCancellable(() =>
      quick.recordBaseBackupFailed({ baseBackupId, error: progress.error! }),
    );
    throw ApplicationFailure.nonRetryable(
      `base backup ${baseBackupId} of "${input.database}" failed: ${progress.error}`,
      'base_backup_failed',
    );
  }
}
