import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleSpec } from '@temporalio/client';
import { scheduledRunId, type WorkflowContract } from './contracts/common.ts';
import { backupDatabaseWorkflow, backupScheduleId } from './contracts/backup.ts';
import { WATCHDOG_EVERY, WATCHDOG_SCHEDULE_ID, backupWatchdogWorkflow } from './contracts/notifications.ts';
import { baseBackupScheduleId, baseBackupWorkflow } from './contracts/pitr.ts';
import { gfsRetentionWorkflow, retentionScheduleId } from './contracts/retention.ts';
import { restoreDrillScheduleId, restoreDrillWorkflow } from './contracts/restore-drill.ts';
import { scheduledVerificationWorkflow, verifyScheduleId } from './contracts/verify.ts';
import { spreadCron } from '../lib/schedule/spread.ts';
import { jobAttributes } from './search-attributes.ts';
import type { RunTarget } from './start.ts';

export { backupScheduleId };

export interface JobSchedule<I> {
  scheduleId: string;
  taskQueue: string;
  input: I;
  database: string | null;
  spec: ScheduleSpec;
}

/**
 * Creates or replaces a schedule; its runs are named `<schedule id>/scheduled-<time>`. Overlap
 * SKIP: a run still going when the next is due makes the next one wait for its next slot instead
 * of piling up. Runs missed while Temporal was down are caught up within ten minutes, no further back.
 */
export async function upsertJobSchedule<I, O>(
  client: Client,
  contract: WorkflowContract<I, O>,
  schedule: JobSchedule<I>,
): Promise<void> {
  const action = {
    type: 'startWorkflow' as const,
    workflowType: contract.type,
    taskQueue: schedule.taskQueue,
    workflowId: scheduledRunId(schedule.scheduleId),
    args: [schedule.input],
    typedSearchAttributes: jobAttributes(schedule.database, contract.kind),
  };
  const { spec } = schedule;
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10 minutes' as const };
  try {
    await client.schedule
      .getHandle(schedule.scheduleId)
      .update((previous) => ({ ...previous, spec, action, policies }));
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
    await client.schedule.create({ scheduleId: schedule.scheduleId, spec, action, policies });
  }
}

export async function deleteJobSchedule(client: Client, scheduleId: string): Promise<void> {
  try {
    await client.schedule.getHandle(scheduleId).delete();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
  }
}

/** A job of the whole installation (no database) on a cron in UTC, or no schedule when the cron is null (`off`). */
export async function upsertInstanceSchedule<I, O>(
  client: Client,
  contract: WorkflowContract<I, O>,
  options: { scheduleId: string; taskQueue: string; cron: string | null; input: I },
): Promise<void> {
  const { scheduleId, taskQueue, cron, input } = options;
  if (cron === null) return deleteJobSchedule(client, scheduleId);
  await upsertJobSchedule(client, contract, {
    scheduleId,
    taskQueue,
    database: null,
    input,
    spec: { cronExpressions: [cron], timezone: 'UTC' },
  });
}

interface DatabaseSchedule {
  database: string;
  cron: string;
  timezone: string;
  taskQueue: string;
}

/** Retention runs daily at 04:17 in the database's timezone (off the hour, when backups cluster). */
export const RETENTION_CRON = '17 4 * * *';

/**
 * A workflow on a schedule of its database's, whose runs are about that database. `spread` starts
 * its runs at the database's own second of the minute (lib/schedule/spread.ts) instead of second 0.
 */
function databaseSchedule<I>(
  contract: WorkflowContract<I, unknown>,
  scheduleId: (database: string) => string,
  input: (database: string) => I,
  spread = false,
) {
  return {
    upsert: (client: Client, options: DatabaseSchedule) =>
      upsertJobSchedule(client, contract, {
        scheduleId: scheduleId(options.database),
        taskQueue: options.taskQueue,
        database: options.database,
        input: input(options.database),
        spec: {
          cronExpressions: [spread ? spreadCron(options.cron, options.database) : options.cron],
          timezone: options.timezone,
        },
      }),
    remove: (client: Client, database: string) => deleteJobSchedule(client, scheduleId(database)),
  };
}

/**
 * A database's schedules: backups (spread over their minute) and PITR base backups on the crons its settings give,
 * verification of the newest backup on a cron of its own (besides the one after every backup),
 * retention on RETENTION_CRON once a policy is saved, and restore drills (spread too) once a target is set.
 */
const databaseSchedules = {
  backups: databaseSchedule(
    backupDatabaseWorkflow,
    backupScheduleId,
    (database) => ({ database, trigger: 'schedule' as const }),
    true,
  ),
  retention: databaseSchedule(gfsRetentionWorkflow, retentionScheduleId, (database) => ({ database })),
  verification: databaseSchedule(scheduledVerificationWorkflow, verifyScheduleId, (database) => ({ database })),
  baseBackups: databaseSchedule(baseBackupWorkflow, baseBackupScheduleId, (database) => ({
    database,
    trigger: 'schedule' as const,
  })),
  drill: databaseSchedule(
    restoreDrillWorkflow,
    restoreDrillScheduleId,
    (database) => ({ database, trigger: 'schedule' as const }),
    true,
  ),
};

export type DatabaseScheduleKind = keyof typeof databaseSchedules;

/** Puts a database's schedule of one kind on `cron`, or removes it when there is no cron. */
export async function setDatabaseSchedule(
  client: Client,
  kind: DatabaseScheduleKind,
  options: Omit<DatabaseSchedule, 'cron'> & { cron: string | null },
): Promise<void> {
  const { upsert, remove } = databaseSchedules[kind];
  if (options.cron) await upsert(client, { ...options, cron: options.cron });
  else await remove(client, options.database);
}

/** Removes a database's schedules of these kinds; one that does not exist is no error. */
export async function deleteDatabaseSchedules(
  client: Client,
  database: string,
  kinds: DatabaseScheduleKind[],
): Promise<void> {
  for (const kind of kinds) await databaseSchedules[kind].remove(client, database);
}

/** The one schedule that runs `backupWatchdog`. */
export async function upsertWatchdogSchedule(client: Client, taskQueue: string): Promise<void> {
  await upsertJobSchedule(client, backupWatchdogWorkflow, {
    scheduleId: WATCHDOG_SCHEDULE_ID,
    taskQueue,
    database: null,
    input: {},
    spec: { intervals: [{ every: WATCHDOG_EVERY }] },
  });
}

export async function nextScheduledRuns(client: Client, database: string): Promise<Date[]> {
  try {
    const description = await client.schedule.getHandle(backupScheduleId(database)).describe();
    return description.info.nextActionTimes;
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) return [];
    throw error;
  }
}

/** Puts a database's schedule of one kind on `cron` in its timezone, or removes it when there is none. */
export function setDatabaseCron(
  target: RunTarget,
  kind: DatabaseScheduleKind,
  database: string,
  cron: string | null,
  timezone: string,
): Promise<void> {
  const { taskQueue } = target.runtime.config;
  return setDatabaseSchedule(target.temporal, kind, { database, cron, timezone, taskQueue });
}
