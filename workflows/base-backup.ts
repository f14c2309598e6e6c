import {
  ApplicationFailure,
  CancellationScope,
  proxyActivities,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import { backupIdAt } from '../temporal/contracts/common.ts';
import {
  baseBackupInput,
  baseBackupProgressQuery,
  baseBackupProgressSignal,
  baseBackupWorkflow,
  type BaseBackupInput,
  type BaseBackupProgress,
} from '../temporal/contracts/pitr.ts';
import { catalogActivities, permanentErrorTypes } from './activity-options.ts';
import { parseInput, rootMessage } from './validate.ts';

const quick = catalogActivities;

/**
 * One physical base backup (`basebackup/<db>/<time>`): pg_basebackup streamed through zstd and
 * encryption into the database's PITR storage, on its host queue. Query `progress`.
 */
export async function baseBackup(raw: BaseBackupInput): Promise<BaseBackupProgress> {
  const input = parseInput(baseBackupWorkflow.type, baseBackupInput, raw);
  const info = workflowInfo();
  const baseBackupId = input.baseBackupId ?? backupIdAt(info.startTime, uuid4().replace(/-/g, ''));
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
  setHandler(baseBackupProgressQuery, () => progress);
  setHandler(baseBackupProgressSignal, (report) => {
    if (progress.stage !== 'streaming') return;
    progress.rawBytes = Math.max(progress.rawBytes, report.rawBytes);
  });

  const settings = await quick.pitrSettings({ database: input.database });
  if (!settings.registered)
    throw ApplicationFailure.nonRetryable(`database "${input.database}" is not registered`, 'not_found');
  const host = proxyActivities<Activities>({
    taskQueue: settings.hostTaskQueue ?? info.taskQueue,
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: '1 minute',
    retry: {
      initialInterval: '10 seconds',
      backoffCoefficient: 2,
      maximumInterval: '5 minutes',
      maximumAttempts: 3,
      nonRetryableErrorTypes: permanentErrorTypes,
    },
    cancellationType: 'WAIT_CANCELLATION_COMPLETED',
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
