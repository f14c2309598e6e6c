import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  isCancellation,
  proxyActivities,
  setHandler,
  uuid4,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
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
import { catalogActivities, permanentErrorTypes } from './activity-options.ts';
import { parseInput, rootMessage } from './validate.ts';

const quick = catalogActivities;

/**
 * Extracting a base backup and replaying WAL can take hours; the activity heartbeats every few
 * seconds. The heartbeat timeout is short because an abort reaches the activity only with a
 * heartbeat's answer, and the SDK sends heartbeats at most every 0.8 × the timeout. One retry: a
 * worker lost mid-restore starts again in the directory it left (see prepareDataDirectory).
 */
function restoreOn(taskQueue: string | undefined) {
  return proxyActivities<Activities>({
    ...(taskQueue ? { taskQueue } : {}),
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: '15 seconds',
    retry: {
      initialInterval: '5 seconds',
      backoffCoefficient: 2,
      maximumAttempts: 2,
      nonRetryableErrorTypes: permanentErrorTypes,
    },
    cancellationType: 'WAIT_CANCELLATION_COMPLETED',
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
  setHandler(pitrProgressQuery, () => progress);
  setHandler(pitrProgressSignal, (report) => {
    if (progress.stage !== 'extracting' && progress.stage !== 'recovering') return;
    if (report.extractedBytes !== undefined)
      progress.extractedBytes = Math.max(progress.extractedBytes, report.extractedBytes);
    if (report.segmentsFetched !== undefined)
      progress.segmentsFetched = Math.max(progress.segmentsFetched, report.segmentsFetched);
    if (report.replayLsn) progress.replayLsn = report.replayLsn;
    if (progress.segmentsFetched > 0) progress.stage = 'recovering';
  });
  const work = new CancellationScope();
  let abortReason = 'aborted by request';
  setHandler(abortPitrSignal, (reason) => {
    if (reason) abortReason = `aborted: ${reason}`;
    work.cancel();
  });

  try {
    const plan = await work.run(() => quick.planPitrRestore({ database: input.database, target: input.target }));
    progress.baseBackupId = plan.baseBackupId;
    progress.timeline = plan.timeline;
    progress.window = plan.window;
    progress.stage = 'extracting';
    // A directory lives on a host: the agent named, or the database's own agent.
    const agent = 'directory' in input.to ? (input.to.agent ?? plan.agent) : null;
    const restore = restoreOn(agent ? agentTaskQueue(agent) : undefined);
    const restoreId = `pitr-${uuid4().replace(/-/g, '').slice(0, 12)}`;
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
    const message = aborted ? abortReason : rootMessage(error);
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
