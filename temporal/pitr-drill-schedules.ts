import { pitrDrillScheduleId, pitrDrillWorkflow } from './contracts/pitr-drill.ts';
import { deleteJobSchedule, upsertJobSchedule } from './schedules.ts';
import type { RunTarget } from './start.ts';

/**
 * Puts a server's PITR drills on `cron` in `timezone` (schedule `pitrdrill/<name>`), or removes the
 * schedule when the cron is null (drills off, or the server's PITR off).
 */
export async function setDrillSchedule(
  target: RunTarget,
  server: string,
  cron: string | null,
  timezone: string,
): Promise<void> {
  const scheduleId = pitrDrillScheduleId(server);
  if (!cron) return deleteJobSchedule(target.temporal, scheduleId);
  await upsertJobSchedule(target.temporal, pitrDrillWorkflow, {
    scheduleId,
    taskQueue: target.runtime.config.taskQueue,
    database: null,
    input: { server, trigger: 'schedule' as const },
    spec: { cronExpressions: [cron], timezone },
  });
}
