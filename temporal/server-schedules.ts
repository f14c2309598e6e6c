import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { serverBackupWorkflow, serverScheduleId } from './contracts/servers.ts';
import { deleteJobSchedule, upsertJobSchedule } from './schedules.ts';
import type { RunTarget } from './start.ts';

/** Puts a server's `serverBackup` runs on `cron` in `timezone` (schedule `server/<name>`), or removes it. */
export async function setServerSchedule(
  target: RunTarget,
  server: string,
  cron: string | null,
  timezone: string,
): Promise<void> {
  const scheduleId = serverScheduleId(server);
  if (!cron) return deleteJobSchedule(target.temporal, scheduleId);
  await upsertJobSchedule(target.temporal, serverBackupWorkflow, {
    scheduleId,
    taskQueue: target.runtime.config.taskQueue,
    database: null,
    input: { server, trigger: 'schedule' as const },
    spec: { cronExpressions: [cron], timezone },
  });
}

/** The next times the server's schedule runs; none without a schedule. */
export async function nextServerRuns(client: Client, server: string): Promise<Date[]> {
  try {
    return (await client.schedule.getHandle(serverScheduleId(server)).describe()).info.nextActionTimes;
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) return [];
    throw error;
  }
}
