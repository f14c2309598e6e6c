import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { BackupDatabaseInput, GfsRetentionInput } from './inputs.ts';
import { jobAttributes } from './search-attributes.ts';

export const backupScheduleId = (database: string): string => `backup/${database}`;

type ScheduledKind = 'backup' | 'retention' | 'verify';

interface ScheduledWorkflow {
  kind: ScheduledKind;
  database: string;
  cron: string;
  timezone: string;
  taskQueue: string;
  workflowType: string;
  args: unknown[];
}

/** Creates or replaces the schedule `<kind>/<db>`; runs are named `<kind>/<db>/scheduled-<time>`. */
async function upsertSchedule(client: Client, options: ScheduledWorkflow): Promise<void> {
  const scheduleId = `${options.kind}/${options.database}`;
  const action = {
    type: 'startWorkflow' as const,
    workflowType: options.workflowType,
    taskQueue: options.taskQueue,
    workflowId: `${options.kind}/${options.database}/scheduled`,
    args: options.args,
    typedSearchAttributes: jobAttributes(options.database, options.kind),
  };
  const spec = { cronExpressions: [options.cron], timezone: options.timezone };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10 minutes' as const };
  try {
    await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec, action, policies }));
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
    await client.schedule.create({ scheduleId, spec, action, policies });
  }
}

export async function deleteSchedule(client: Client, kind: ScheduledKind, database: string): Promise<void> {
  try {
    await client.schedule.getHandle(`${kind}/${database}`).delete();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
  }
}

/** Retention runs daily at 04:17 in the database's timezone (off the hour, when backups cluster). */
export async function upsertRetentionSchedule(client: Client, options: { database: string; timezone: string; taskQueue: string }): Promise<void> {
  const input: GfsRetentionInput = { database: options.database };
  await upsertSchedule(client, { ...options, kind: 'retention', cron: '17 4 * * *', workflowType: 'gfsRetention', args: [input] });
}

/** Verification of the newest backup on a cron of its own, besides the one after every backup. */
export async function upsertVerifySchedule(client: Client, options: { database: string; cron: string; timezone: string; taskQueue: string }): Promise<void> {
  await upsertSchedule(client, { ...options, kind: 'verify', workflowType: 'scheduledVerification', args: [{ database: options.database }] });
}

/**
 * One Temporal Schedule per database. Overlap SKIP: a backup still running when the next is due
 * makes the next one wait for its next slot instead of piling up. Runs missed while Temporal was
 * down are caught up within ten minutes, no further back.
 */
export async function upsertBackupSchedule(client: Client, options: { database: string; cron: string; timezone: string; taskQueue: string }): Promise<void> {
  const input: BackupDatabaseInput = { database: options.database, trigger: 'schedule' };
  await upsertSchedule(client, { ...options, kind: 'backup', workflowType: 'backupDatabase', args: [input] });
}

export async function deleteBackupSchedule(client: Client, database: string): Promise<void> {
  await deleteSchedule(client, 'backup', database);
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
