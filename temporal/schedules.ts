import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { BackupDatabaseInput } from './inputs.ts';
import { jobAttributes } from './search-attributes.ts';

export const backupScheduleId = (database: string): string => `backup/${database}`;

/**
 * One Temporal Schedule per database. Overlap SKIP: a backup still running when the next is due
 * makes the next one wait for its next slot instead of piling up. Runs missed while Temporal was
 * down are caught up within ten minutes, no further back.
 */
export async function upsertBackupSchedule(client: Client, options: { database: string; cron: string; timezone: string; taskQueue: string }): Promise<void> {
  const scheduleId = backupScheduleId(options.database);
  const input: BackupDatabaseInput = { database: options.database, trigger: 'schedule' };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'backupDatabase',
    taskQueue: options.taskQueue,
    // Temporal appends the scheduled time: backup/<db>/scheduled-2026-11-23T10:00:00Z.
    workflowId: `backup/${options.database}/scheduled`,
    args: [input],
    typedSearchAttributes: jobAttributes(options.database, 'backup'),
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

export async function deleteBackupSchedule(client: Client, database: string): Promise<void> {
  try {
    await client.schedule.getHandle(backupScheduleId(database)).delete();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
  }
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
