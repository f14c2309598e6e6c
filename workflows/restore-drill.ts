import { CancellationScope, isCancellation, workflowInfo } from '@temporalio/workflow';
import {
  restoreDrillInput,
  restoreDrillWorkflow,
  type RestoreDrillInput,
  type RestoreDrillOutcome,
} from '../temporal/contracts/restore-drill.ts';
import { HOST_JOB_RETRY, catalogActivities, longActivities } from './activity-options.ts';
import { newRestoreId } from './run-ids.ts';
import { parseInput, rootMessage } from './validate.ts';

const quick = catalogActivities;
const drill = longActivities({
  startToCloseTimeout: '24 hours',
  // A worker that dies mid-restore is noticed within a minute; the next attempt drops what it left.
  heartbeatTimeout: '1 minute',
  retry: HOST_JOB_RETRY,
});

/**
 * Started by the schedule `restore-drill/<db>` or on request: restores the database's newest
 * complete backup into a fresh database on the drill's target server, measures and checks it,
 * and drops it. A drill that fails is recorded and notified; the run itself then ends normally,
 * with the outcome saying why.
 */
export async function restoreDrill(raw: RestoreDrillInput): Promise<RestoreDrillOutcome> {
  const input = parseInput(restoreDrillWorkflow.type, restoreDrillInput, raw);
  const drillId = newRestoreId('d');
  const run = { drillId, database: input.database, trigger: input.trigger, workflowId: workflowInfo().workflowId };
  try {
    return await drill.performRestoreDrill(run);
  } catch (error) {
    const cancelled = isCancellation(error);
    const message = cancelled ? 'cancelled' : rootMessage(error);
    await CancellationScope.nonCancellable(() => quick.failRestoreDrill({ ...run, error: message }));
    if (cancelled) throw error;
    return { drillId, status: 'failed', error: message };
  }
}
