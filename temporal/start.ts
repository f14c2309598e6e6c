import { WorkflowIdConflictPolicy, type Client, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { WorkflowContract } from './contracts/common.ts';
import { deliverNotificationsWorkflow, deliveryWorkflowId, wakeDeliverySignal } from './contracts/notifications.ts';
import {
  backupCompletedSignal,
  restoreVerifierWorkflow,
  verifierWorkflowId,
  type VerifyRequest,
} from './contracts/verify.ts';
import { jobAttributes } from './search-attributes.ts';

/**
 * How callers start workflows: by contract, never by a type name typed out. One place sets what
 * every start needs: the id, the task queue, the search attributes and what an id in use means.
 */
type WorkflowOf<I, O> = (input: I) => Promise<O>;

export interface JobStart<I> {
  workflowId: string;
  taskQueue: string;
  input: I;
  /** The database the run belongs to (its search attribute); null for runs of no database. */
  database: string | null;
  /**
   * An id in use: `fail` for a run per request (a second start with the same id is a mistake),
   * `use-existing` for the one long-lived run per database (starting it again is a no-op).
   */
  onConflict: 'fail' | 'use-existing';
}

const conflictPolicy = {
  fail: WorkflowIdConflictPolicy.FAIL,
  'use-existing': WorkflowIdConflictPolicy.USE_EXISTING,
} as const;

export function startJob<I, O>(
  client: Client,
  contract: WorkflowContract<I, O>,
  job: JobStart<I>,
): Promise<WorkflowHandleWithFirstExecutionRunId<WorkflowOf<I, O>>> {
  return client.workflow.start<WorkflowOf<I, O>>(contract.type, {
    workflowId: job.workflowId,
    taskQueue: job.taskQueue,
    args: [job.input],
    workflowIdConflictPolicy: conflictPolicy[job.onConflict],
    typedSearchAttributes: jobAttributes(job.database, contract.kind),
  });
}

/**
 * The start of a scope's one run of `contract` (its input: the database, or null for the
 * workspace's) for a signal-with-start: an id in use is the run to signal.
 */
function scopeRun<D extends string | null>(
  contract: WorkflowContract<{ database: D }, unknown>,
  scope: { workflowId: string; taskQueue: string; database: D },
) {
  return {
    workflowId: scope.workflowId,
    taskQueue: scope.taskQueue,
    args: [{ database: scope.database }] as [{ database: D }],
    typedSearchAttributes: jobAttributes(scope.database, contract.kind),
  };
}

/** Starts the scope's delivery workflow if it is not running, and wakes it. */
export async function wakeDelivery(client: Client, taskQueue: string, database: string | null): Promise<void> {
  const run = scopeRun(deliverNotificationsWorkflow, { workflowId: deliveryWorkflowId(database), taskQueue, database });
  await client.workflow.signalWithStart(deliverNotificationsWorkflow.type, { ...run, signal: wakeDeliverySignal });
}

/** Starts the database's verifier if it is not running, and hands it the request. */
export async function signalVerifier(
  client: Client,
  taskQueue: string,
  database: string,
  request: VerifyRequest,
): Promise<void> {
  const run = scopeRun(restoreVerifierWorkflow, { workflowId: verifierWorkflowId(database), taskQueue, database });
  await client.workflow.signalWithStart(restoreVerifierWorkflow.type, {
    ...run,
    signal: backupCompletedSignal,
    signalArgs: [request],
  });
}

/** Where services start runs: the client and the installation's task queue (a service context is one). */
export interface RunTarget {
  temporal: Client;
  runtime: { config: { taskQueue: string } };
}

/** Starts a run on the installation's task queue; by default one per request, so an id already in use is refused. */
export function startRun<I, O>(
  target: RunTarget,
  contract: WorkflowContract<I, O>,
  run: Omit<JobStart<I>, 'taskQueue' | 'onConflict'>,
  onConflict: JobStart<I>['onConflict'] = 'fail',
) {
  return startJob(target.temporal, contract, { ...run, taskQueue: target.runtime.config.taskQueue, onConflict });
}
