import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleSpec } from '@temporalio/client';
import { scheduledRunId, type WorkflowContract } from './contracts/common.ts';
import { backupDatabaseWorkflow, backupScheduleId } from './contracts/backup.ts';
import { WATCHDOG_EVERY, WATCHDOG_SCHEDULE_ID, backupWatchdogWorkflow } from './contracts/notifications.ts';
import { baseBackupScheduleId, baseBackupWorkflow } from './contracts/pitr.ts';
import { gfsRetentionWorkflow, retentionScheduleId } from './contracts/retention.ts';
import { scheduledVerificationWorkflow, verifyScheduleId } from './contracts/verify.ts';
import { jobAttributes } from './search-attributes.ts';

export { backupScheduleId };

interface JobSchedule<I> {
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
async function upsertJobSchedule<I, O>(
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

async function deleteJobSchedule(client: Client, scheduleId: string): Promise<void> {
  try {
    await client.schedule.getHandle(scheduleId).delete();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
  }
}

interface DatabaseSchedule {
  database: string;
  cron: string;
  timezone: string;
  taskQueue: string;
}

const cronSpec = (options: DatabaseSchedule): ScheduleSpec => ({
  cronExpressions: [options.cron],
  timezone: options.timezone,
});

/** One backup schedule per database. */
export async function upsertBackupSchedule(client: Client, options: DatabaseSchedule): Promise<void> {
  await upsertJobSchedule(client, backupDatabaseWorkflow, {
    scheduleId: backupScheduleId(options.database),
    taskQueue: options.taskQueue,
    database: options.database,
    input: { database: options.database, trigger: 'schedule' },
    spec: cronSpec(options),
  });
}

export const deleteBackupSchedule = (client: Client, database: string) =>
  deleteJobSchedule(client, backupScheduleId(database));

/** Retention runs daily at 04:17 in the database's timezone (off the hour, when backups cluster). */
export async function upsertRetentionSchedule(client: Client, options: Omit<DatabaseSchedule, 'cron'>): Promise<void> {
  await upsertJobSchedule(client, gfsRetentionWorkflow, {
    scheduleId: retentionScheduleId(options.database),
    taskQueue: options.taskQueue,
    database: options.database,
    input: { database: options.database },
    spec: cronSpec({ ...options, cron: '17 4 * * *' }),
  });
}

export const deleteRetentionSchedule = (client: Client, database: string) =>
  deleteJobSchedule(client, retentionScheduleId(database));

/** Verification of the newest backup on a cron of its own, besides the one after every backup. */
export async function upsertVerifySchedule(client: Client, options: DatabaseSchedule): Promise<void> {
  await upsertJobSchedule(client, scheduledVerificationWorkflow, {
    scheduleId: verifyScheduleId(options.database),
    taskQueue: options.taskQueue,
    database: options.database,
    input: { database: options.database },
    spec: cronSpec(options),
  });
}

export const deleteVerifySchedule = (client: Client, database: string) =>
  deleteJobSchedule(client, verifyScheduleId(database));

/** Base backups for PITR on the database's own cron. */
export async function upsertBaseBackupSchedule(client: Client, options: DatabaseSchedule): Promise<void> {
  await upsertJobSchedule(client, baseBackupWorkflow, {
    scheduleId: baseBackupScheduleId(options.database),
    taskQueue: options.taskQueue,
    database: options.database,
    input: { database: options.database, trigger: 'schedule' },
    spec: cronSpec(options),
  });
}

export const deleteBaseBackupSchedule = (client: Client, database: string) =>
  deleteJobSchedule(client, baseBackupScheduleId(database));

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
