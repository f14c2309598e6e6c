/**
 * Renaming a database. Its backups hang on its id, so they stay attached; their objects keep the
 * old name's prefix and the old name in their authenticated header, and every read goes by the
 * key the catalog recorded (storedDatabaseName). What Temporal keys by name moves: the schedules
 * are made again under the new name, and the long-running workflows restart under it.
 */
import type { DatabaseRecord } from '../../lib/catalog/catalog.ts';
import { HindsightError } from '../../lib/errors.ts';
import { healthWorkflowId } from '../../temporal/contracts/health.ts';
import { deliveryWorkflowId } from '../../temporal/contracts/notifications.ts';
import { verifierWorkflowId } from '../../temporal/contracts/verify.ts';
import {
  RETENTION_CRON,
  deleteDatabaseSchedules,
  setDatabaseCron,
  type DatabaseScheduleKind,
} from '../../temporal/schedules.ts';
import type { ServiceContext } from '../context.ts';

/** Refuses a rename that would lose or break something, naming what to do instead. */
async function refuseRename(ctx: ServiceContext, name: string, newName: string): Promise<void> {
  const { catalog } = ctx.runtime;
  if (await catalog.findDatabase(newName))
    throw new HindsightError('conflict', `database "${newName}" is already registered: choose another name`);
  if ((await catalog.wal.config(name)).enabled) {
    throw new HindsightError(
      'conflict',
      `database "${name}" has PITR on, and its WAL archive is kept by name: turn it off first (hindsight db pitr ${name} off), rename, then turn it on again`,
    );
  }
  const running = (await catalog.listBackups(name, 20)).filter((b) => b.status === 'running').map((b) => b.id);
  const [verifying, restoring] = await Promise.all([
    catalog.verifications.backupsInUse(name),
    catalog.backupsBeingRestored(name),
  ]);
  const busy = [...running, ...verifying, ...restoring];
  if (busy.length > 0) {
    throw new HindsightError(
      'conflict',
      `database "${name}": backup ${busy[0]} is being taken, verified or restored; rename it once that has ended`,
    );
  }
}

/** The schedules a database has, each with its cron: made again under a new name. */
function schedulesOf(d: DatabaseRecord): Array<[DatabaseScheduleKind, string | null]> {
  return [
    ['backups', d.schedule],
    ['verification', d.verifySchedule],
    ['drill', d.restoreDrillCron],
    ['retention', d.retentionPolicy === null || d.retentionPolicy === undefined ? null : RETENTION_CRON],
  ];
}

const SCHEDULE_KINDS: DatabaseScheduleKind[] = ['backups', 'verification', 'retention', 'drill'];

/** Renames `name` to `newName` in the catalog and in Temporal; the caller restarts the health monitor. */
export async function renameDatabase(ctx: ServiceContext, name: string, newName: string): Promise<DatabaseRecord> {
  const { catalog } = ctx.runtime;
  if (newName === name) return catalog.getDatabase(name);
  await refuseRename(ctx, name, newName);
  const current = await catalog.getDatabase(name);
  const schedules = schedulesOf(current).filter(([, cron]) => cron !== null);
  // The new schedules first: if Temporal refuses one, nothing was renamed.
  try {
    for (const [kind, cron] of schedules) await setDatabaseCron(ctx, kind, newName, cron, current.timezone);
    const renamed = await catalog.renameDatabase(name, newName);
    await deleteDatabaseSchedules(ctx.temporal, name, SCHEDULE_KINDS);
    for (const workflowId of [healthWorkflowId(name), deliveryWorkflowId(name), verifierWorkflowId(name)]) {
      await ctx.temporal.workflow
        .getHandle(workflowId)
        .terminate(`database renamed to ${newName}`)
        .catch(() => undefined);
    }
    return renamed;
  } catch (error) {
    if (!(await catalog.findDatabase(newName))) await deleteDatabaseSchedules(ctx.temporal, newName, SCHEDULE_KINDS);
    throw error;
  }
}
