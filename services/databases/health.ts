/**
 * Health checks in batches: one schedule for the whole platform (workflows/health-sweep.ts) instead
 * of a workflow per database, and the upgrade from the per-database monitors of earlier versions.
 */
import { ScheduleAlreadyRunning, ScheduleNotFoundError, type Client } from '@temporalio/client';
import {
  HEALTH_SWEEP_EVERY,
  HEALTH_SWEEP_SCHEDULE_ID,
  healthMonitorWorkflow,
  healthSweepWorkflow,
  uptimeQuery,
  type HealthState,
} from '../../temporal/contracts/health.ts';
import { coalesced } from '../../lib/coalesce.ts';
import { upsertJobSchedule } from '../../temporal/schedules.ts';
import type { ServiceContext } from '../context.ts';

/** Creates or updates the health sweep's schedule. */
export async function ensureHealthSweep(ctx: ServiceContext): Promise<void> {
  await upsertJobSchedule(ctx.temporal, healthSweepWorkflow, {
    scheduleId: HEALTH_SWEEP_SCHEDULE_ID,
    taskQueue: ctx.runtime.config.taskQueue,
    database: null,
    input: {},
    spec: { intervals: [{ every: HEALTH_SWEEP_EVERY }] },
  });
}

/**
 * How long one request for a sweep answers for the registrations after it. A run lasts until just
 * before the next minute and looks at the catalog again every 1–5 s, so a database added within
 * a few seconds of a run starting (or found running) is checked by that run.
 */
const SWEEP_NOW_SHARED_MS = 5000;

/** One coalesced request per Temporal client: registering thousands of databases asks Temporal a few times, not thousands. */
const sweepRequests = new WeakMap<ServiceContext['temporal'], () => Promise<void>>();

/**
 * A new database's first check now rather than at the next minute: the schedule runs a sweep at
 * once, unless one is running, which finds the database within seconds. (Triggering it then
 * anyway would only be skipped as an overlap, with an error in Temporal's log.) Registrations in
 * parallel share one request: each describe and trigger is a round trip through the schedule's
 * own workflow, which answers one at a time (82 ms each measured at 16 registrations in flight).
 */
export async function sweepHealthNow(ctx: ServiceContext): Promise<void> {
  let request = sweepRequests.get(ctx.temporal);
  if (!request) {
    request = coalesced(() => requestSweep(ctx), SWEEP_NOW_SHARED_MS);
    sweepRequests.set(ctx.temporal, request);
  }
  await request();
}

async function requestSweep(ctx: ServiceContext): Promise<void> {
  const handle = ctx.temporal.schedule.getHandle(HEALTH_SWEEP_SCHEDULE_ID);
  try {
    if ((await handle.describe()).info.runningActions.length > 0) return;
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
    // Registrations in parallel may all find it missing: one creates it, the others use it.
    await ensureHealthSweep(ctx).catch((created: unknown) => {
      if (!(created instanceof ScheduleAlreadyRunning)) throw created;
    });
  }
  await handle.trigger();
}

/** How long the upgrade waits for an old monitor to answer its query before ending it without its state. */
const QUERY_WAIT_MS = 5000;

/**
 * Ends the per-database `healthMonitor` runs an earlier version started, once: the state one
 * reports is carried into the catalog for a database the sweep has not checked yet, so a
 * database that was down is not forgotten. Returns the databases whose monitor was ended.
 */
export async function endPerDatabaseMonitors(ctx: ServiceContext): Promise<string[]> {
  const ended: string[] = [];
  const query = `WorkflowType = '${healthMonitorWorkflow.type}' AND ExecutionStatus = 'Running'`;
  for await (const run of ctx.temporal.workflow.list({ query })) {
    const handle = ctx.temporal.workflow.getHandle(run.workflowId, run.runId);
    const state = await stateOf(ctx.temporal, run.workflowId, run.runId);
    if (state && state.status !== 'unknown') await ctx.runtime.catalog.health.carry(state.database, state);
    // One that ended meanwhile (its database removed) needs nothing more.
    const terminated = await handle
      .terminate('health checks now run in batches (the health-sweep schedule)')
      .then(() => true)
      .catch(() => false);
    if (terminated) ended.push(state?.database ?? run.workflowId);
  }
  return ended;
}

async function stateOf(client: Client, workflowId: string, runId: string): Promise<HealthState | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), QUERY_WAIT_MS);
  });
  const answer = client.workflow
    .getHandle(workflowId, runId)
    .query(uptimeQuery)
    .catch(() => undefined);
  try {
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
