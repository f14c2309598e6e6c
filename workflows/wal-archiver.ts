import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import {
  baseBackupWorkflow,
  baseBackupWorkflowId,
  stopWalArchiverSignal,
  walArchiverInput,
  walArchiverWorkflow,
  walReceiverReportSignal,
  walStatusQuery,
  type WalArchiverInput,
  type BaseBackupInput,
  type WalArchiverStatus,
} from '../temporal/contracts/pitr.ts';
import { catalogActivities, longActivities } from './activity-options.ts';
import { parseInput, rootMessage } from './validate.ts';

const quick = catalogActivities;
const DEFAULT_RUN_MS = 3600_000;

async function startBaseBackupAfterDrop(database: string): Promise<void> {
  const args: BaseBackupInput = { database, trigger: 'chain-gap' };
  try {
    await startChild(baseBackupWorkflow.type, {
      workflowId: baseBackupWorkflowId(database, new Date().toISOString()),
      args: [args],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    });
  } catch {
    // One with this id already runs; the chain monitor also starts one for the gap it sees.
  }
}

/**
 * One per PITR-enabled database (`wal/<db>`): runs the WAL streaming activity on the database's
 * host queue (its agent, or the main queue) for an hour at a time, then continues as new so that
 * history stays small; the slot keeps every byte in between. Signal `stop` ends it cleanly (the
 * activity ships what it has and stops pg_receivewal); query `status` shows the receiver live.
 */
export async function walArchiver(raw: WalArchiverInput): Promise<WalArchiverStatus> {
  const input = parseInput(walArchiverWorkflow.type, walArchiverInput, raw);
  const state: WalArchiverStatus = {
    database: input.database,
    state: 'starting',
    taskQueue: null,
    runs: input.carried?.runs ?? 0,
    receiver: null,
    error: null,
  };
  let stopRequested = false;
  let work: CancellationScope | undefined;
  setHandler(walStatusQuery, () => state);
  setHandler(walReceiverReportSignal, (report) => {
    state.receiver = report;
    if (state.state !== 'stopped' && state.state !== 'failed')
      state.state = (report as { state?: WalArchiverStatus['state'] }).state ?? state.state;
  });
  setHandler(stopWalArchiverSignal, () => {
    stopRequested = true;
    work?.cancel();
  });

  const settings = await quick.pitrSettings({ database: input.database });
  if (!settings.registered || !settings.enabled) {
    state.state = 'disabled';
    return state;
  }
  state.taskQueue = settings.hostTaskQueue ?? workflowInfo().taskQueue;
  const host = longActivities({
    taskQueue: state.taskQueue,
    startToCloseTimeout: '25 hours',
    // Cancellation (the stop signal) reaches the activity with a heartbeat, which the SDK sends at
    // most every 0.8 × this timeout: keep it short so that stopping takes seconds.
    heartbeatTimeout: '10 seconds',
    // A worker that dies is replaced by another after the heartbeat timeout; the slot bridges the gap.
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });

  if (!stopRequested) {
    work = new CancellationScope();
    try {
      const result = await work.run(() =>
        host.archiveWal({ database: input.database, runForMs: input.runForMs ?? DEFAULT_RUN_MS }),
      );
      state.receiver = result;
      state.runs += 1;
      // The run dropped the slot over its limit: a gap in the archive, so a new window starts now.
      if (result.slotDropped) await startBaseBackupAfterDrop(input.database);
    } catch (error) {
      if (!(stopRequested && isCancellation(error))) {
        state.state = 'failed';
        state.error = rootMessage(error);
        throw ApplicationFailure.nonRetryable(
          `WAL archiving of "${input.database}" stopped: ${state.error}`,
          'wal_archiver_failed',
        );
      }
    }
  }
  if (stopRequested) {
    state.state = 'stopped';
    await condition(allHandlersFinished);
    return state;
  }
  await condition(allHandlersFinished);
  return continueAsNew<typeof walArchiver>({
    database: input.database,
    ...(input.runForMs ? { runForMs: input.runForMs } : {}),
    carried: { runs: state.runs },
  });
}
