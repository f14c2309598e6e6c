import {
  condition,
  continueAsNew,
  isCancellation,
  patched,
  setHandler,
  workflowInfo,
  CancellationScope,
} from '@temporalio/workflow';
import { VERIFY_TASK_QUEUE_SUFFIX, agentTaskQueue } from '../temporal/contracts/common.ts';
import {
  backupCompletedSignal,
  lastVerificationQuery,
  restoreVerifierInput,
  restoreVerifierWorkflow,
  type RestoreVerifierInput,
  type VerifierState,
  type VerifyRequest,
} from '../temporal/contracts/verify.ts';
import { HOST_JOB_RETRY, catalogActivities, longActivities } from './activity-options.ts';
import { parseInput, rootMessage } from './validate.ts';

const quick = catalogActivities;

/** After this many verifications the history starts afresh, carrying a pending request over. */
const RUNS_PER_HISTORY = 100;

/**
 * The verification activities, on the verify task queue where agents keep their sandboxes, or on
 * the queue of the agent that holds a public-key mode backup's private key.
 */
function sandboxActivities(agent: string | null = null) {
  return longActivities({
    taskQueue: agent ? agentTaskQueue(agent) : `${workflowInfo().taskQueue}${VERIFY_TASK_QUEUE_SUFFIX}`,
    startToCloseTimeout: '24 hours',
    // Waiting for a free sandbox slot on a busy agent is not a failure.
    scheduleToStartTimeout: '7 days',
    // A worker that dies mid-restore is noticed within 30 s; the next attempt gets a new sandbox.
    heartbeatTimeout: '30 seconds',
    retry: HOST_JOB_RETRY,
  });
}

type Supersession = { dropped: VerifyRequest; by: VerifyRequest };

/** The verifier's state, answered to queries; a request signalled while one waits supersedes the waiting one. */
function trackRequests(input: RestoreVerifierInput): { state: VerifierState; toSupersede: Supersession[] } {
  const state: VerifierState = {
    database: input.database,
    running: null,
    pending: input.pending ?? null,
    last: null,
    superseded: 0,
  };
  const toSupersede: Supersession[] = [];
  setHandler(lastVerificationQuery, () => state);
  setHandler(backupCompletedSignal, (request) => {
    if (
      state.pending?.verificationId === request.verificationId ||
      state.running?.verificationId === request.verificationId
    )
      return;
    if (state.pending) toSupersede.push({ dropped: state.pending, by: request });
    state.pending = request;
  });
  return { state, toSupersede };
}

/** Records every dropped request as superseded, oldest first. */
async function recordSuperseded(state: VerifierState, toSupersede: Supersession[]): Promise<void> {
  while (toSupersede.length > 0) {
    const { dropped, by } = toSupersede.shift()!;
    state.superseded += 1;
    await quick.finishVerification({
      verificationId: dropped.verificationId,
      status: 'superseded',
      reason: `superseded by the verification of backup ${by.backupId}, which was requested while backup ${dropped.backupId} waited`,
    });
  }
}

/** Verifies one backup in a sandbox; when it cannot run, records why. A cancellation ends the verifier. */
async function verifyRequest(database: string, state: VerifierState, request: VerifyRequest): Promise<void> {
  state.pending = null;
  state.running = request;
  try {
    // Histories recorded before backups could be routed to the agent holding their key replay without the lookup.
    const { agent } = patched('verify-on-key-holder')
      ? await quick.verificationAgent({ database, backupId: request.backupId })
      : { agent: null };
    const verify = sandboxActivities(agent);
    const result = await verify.verifyBackupInSandbox({
      database,
      ...request,
      workflowId: workflowInfo().workflowId,
    });
    state.last = {
      verificationId: request.verificationId,
      backupId: request.backupId,
      status: result.status,
      reason: result.reason,
      finishedAt: result.finishedAt,
    };
  } catch (error) {
    const cancelled = isCancellation(error);
    const reason = cancelled ? 'cancelled' : `the verification could not run: ${rootMessage(error)}`;
    await CancellationScope.nonCancellable(() =>
      quick.finishVerification({
        verificationId: request.verificationId,
        status: cancelled ? 'cancelled' : 'failed',
        reason,
      }),
    );
    state.last = {
      verificationId: request.verificationId,
      backupId: request.backupId,
      status: cancelled ? 'cancelled' : 'failed',
      reason,
      finishedAt: new Date().toISOString(),
    };
    if (cancelled) throw error;
  } finally {
    state.running = null;
  }
}

/**
 * One per database (`verify/<db>`), started with signal-with-start. Verifies backups one at a
 * time in a throwaway server; while one runs, only the newest request waits: an older pending one
 * is recorded superseded, since proving the newer backup says more about what can be restored.
 */
export async function restoreVerifier(raw: RestoreVerifierInput): Promise<void> {
  const input = parseInput(restoreVerifierWorkflow.type, restoreVerifierInput, raw);
  const { state, toSupersede } = trackRequests(input);

  let runs = 0;
  for (;;) {
    await condition(() => state.pending !== null || toSupersede.length > 0);
    await recordSuperseded(state, toSupersede);
    const request = state.pending;
    if (!request) continue;
    await verifyRequest(input.database, state, request);
    runs += 1;
    if (runs >= RUNS_PER_HISTORY || workflowInfo().continueAsNewSuggested) {
      // Signals that arrived during the last activity are in `pending` and go along.
      await continueAsNew<typeof restoreVerifier>({
        database: input.database,
        ...(state.pending ? { pending: state.pending } : {}),
      });
    }
  }
}
