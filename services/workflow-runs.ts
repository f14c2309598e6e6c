/**
 * How services start and schedule workflows: by contract, on the installation's task queue
 * (temporal/start.ts and temporal/schedules.ts do the rest).
 */
import type { WorkflowContract } from '../temporal/contracts/common.ts';
import { setDatabaseSchedule, type DatabaseScheduleKind } from '../temporal/schedules.ts';
import { startJob, type JobStart } from '../temporal/start.ts';
import type { ServiceContext } from './context.ts';

/** Starts a run; by default one per request, so an id already in use is refused. */
export function startRun<I, O>(
  ctx: ServiceContext,
  contract: WorkflowContract<I, O>,
  run: Omit<JobStart<I>, 'taskQueue' | 'onConflict'>,
  onConflict: JobStart<I>['onConflict'] = 'fail',
) {
  return startJob(ctx.temporal, contract, { ...run, taskQueue: ctx.runtime.config.taskQueue, onConflict });
}

/** Puts a database's schedule of one kind on `cron` in its timezone, or removes it when there is none. */
export function setDatabaseCron(
  ctx: ServiceContext,
  kind: DatabaseScheduleKind,
  database: string,
  cron: string | null,
  timezone: string,
): Promise<void> {
  return setDatabaseSchedule(ctx.temporal, kind, { database, cron, timezone, taskQueue: ctx.runtime.config.taskQueue });
}
