import { ApplicationFailure, CancelledFailure, isCancellation } from '@temporalio/workflow';
import {
  abortPitrSignal,
  pitrProgressQuery,
  pitrProgressSignal,
  pitrRestoreInput,
  pitrRestoreWorkflow,
  type PitrOutcome,
  type PitrProgress,
  type PitrRestoreInput,
} from '../temporal/contracts/pitr.ts';
import { agentTaskQueue } from '../temporal/contracts/common.ts';
import { catalogActivities, longActivities } from './activity-options.ts';
import { publishProgress, stoppableWork } from './progress.ts';
import { newRestoreId } from './run-ids.ts';
import { parseInput, rootMessage } from './validate.ts';

const quick = catalogActivities;

/**
 * Extracting a base backup and replaying WAL can take hours; the activity heartbeats every few
 * seconds. The heartbeat timeout is short because an abort reaches the activity only with a
 * heartbeat's answer, and the SDK sends heartbeats at most every 0.8 × the timeout. One retry: a
 * worker lost mid-restore starts again in the directory it left (see prepareDataDirectory).
 */
function restoreOn(taskQueue: string | undefined) {
  return longActivities({
    ...(taskQueue ? { taskQueue } : {}),
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: '15 seconds',
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumAttempts: 2 },
  });
}

/**
 * Point-in-time restore (`restore/<db>/<iso-time>`): check that the target lies inside a
 * recoverable window (failing at once, naming the windows, when it does not), restore the newest
 * base backup that stops before it, replay WAL from the archive to the target and promote.
 */
export async function pitrRestore(raw: PitrRestoreInput): Promise<PitrOutcome> {
  const input = parseInput(pitrRestoreWorkflow.type, pitrRestoreInput, raw);
  const progress: PitrProgress = {
    database: input.database,
    stage: 'planning',
    baseBackupId: null,
    timeline: null,
    window: null,
    extractedBytes: 0,
    segmentsFetched: 0,
    replayLsn: null,
    error: null,
  };
  const restoring = (p: PitrProgress) => p.stage === 'extracting' || p.stage === 'recovering';
  publishProgress(progress, pitrProgressQuery, pitrProgressSignal, restoring, (p, report) => {
    if (report.extractedBytes !== undefined) p.extractedBytes = Math.max(p.extractedBytes, report.extractedBytes);
    if (report.segmentsFetched !== undefined) p.segmentsFetched = Math.max(p.segmentsFetched, report.segmentsFetched);
    if (report.replayLsn) p.replayLsn = report.replayLsn;
    if (p.segmentsFetched > 0) p.stage = 'recovering';
  });
  const { scope: work, reason: abortReason } = stoppableWork(abortPitrSignal, 'aborted');

  try {
    const plan = await work.run(() => quick.planPitrRestore({ database: input.database, target: input.target }));
    progress.baseBackupId = plan.baseBackupId;
    progress.timeline = plan.timeline;
    progress.window = plan.window;
    progress.stage = 'extracting';
    // A directory lives on a host: the agent named, or the database's own agent.
    const agent = 'directory' in input.to ? (input.to.agent ?? plan.agent) : null;
    const restore = restoreOn(agent ? agentTaskQueue(agent) : undefined);
    const restoreId = newRestoreId('pitr');
    const result = await work.run(() =>
      restore.restoreToPointInTime({
        database: input.database,
        restoreId,
        baseBackupId: plan.baseBackupId,
        timeline: plan.timeline,
        target: input.target,
        to: input.to,
        endsAtHead: plan.endsAtHead,
      }),
    );
    progress.stage = 'promoted';
    progress.replayLsn = result.reachedLsn;
    progress.segmentsFetched = result.segmentsFetched;
    return { database: input.database, baseBackupId: plan.baseBackupId, timeline: plan.timeline, ...result };
  } catch (error) {
    const aborted = isCancellation(error);
    const message = aborted ? abortReason() : rootMessage(error);
    progress.stage = aborted ? 'aborted' : 'failed';
    progress.error = message;
    // Whether the abort caught the plan or the restore activity, the run ends cancelled, with the reason.
    if (aborted) throw new CancelledFailure(message);
    throw ApplicationFailure.nonRetryable(
      `point-in-time restore of database "${input.database}" failed: ${message}`,
      'restore_failed',
    );
  }
}
