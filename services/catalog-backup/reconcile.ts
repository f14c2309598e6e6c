/**
 * Temporal's share of the configuration, made again from the catalog: what a restored catalog
 * needs on a new Temporal (schedules and long-lived runs live there, not in the catalog). Every
 * step is idempotent, so it is safe on a Temporal that still has some of them.
 */
import type { DatabaseRecord } from '../../lib/catalog/catalog.ts';
import {
  walArchiverId,
  walArchiverWorkflow,
  walChainMonitorWorkflow,
  walChainMonitorWorkflowId,
} from '../../temporal/contracts/pitr.ts';
import { upsertCatalogBackupSchedule } from '../../temporal/catalog-backup.ts';
import { healthWorkflowId } from '../../temporal/contracts/health.ts';
import {
  RETENTION_CRON,
  deleteDatabaseSchedules,
  setDatabaseCron,
  type DatabaseScheduleKind,
} from '../../temporal/schedules.ts';
import { startRun } from '../../temporal/start.ts';
import type { ServiceContext } from '../context.ts';

export interface ReconciledDatabase {
  database: string;
  schedules: DatabaseScheduleKind[];
  /** WAL archiving resumed (`wal/<db>` and `walchain/<db>`). */
  archiving: boolean;
}

function cronsOf(d: DatabaseRecord): Array<[DatabaseScheduleKind, string | null]> {
  return [
    ['backups', d.schedule],
    ['verification', d.verifySchedule],
    ['drill', d.restoreDrillCron],
    ['retention', d.retentionPolicy === null || d.retentionPolicy === undefined ? null : RETENTION_CRON],
  ];
}

async function resumeArchiving(ctx: ServiceContext, database: string): Promise<void> {
  await startRun(
    ctx,
    walArchiverWorkflow,
    { workflowId: walArchiverId(database), input: { database }, database },
    'use-existing',
  );
  const workflowId = walChainMonitorWorkflowId(database);
  await startRun(ctx, walChainMonitorWorkflow, { workflowId, input: { database }, database }, 'use-existing');
}

async function reconcileDatabase(ctx: ServiceContext, d: DatabaseRecord): Promise<ReconciledDatabase> {
  const schedules: DatabaseScheduleKind[] = [];
  for (const [kind, cron] of cronsOf(d)) {
    if (cron === null) continue;
    await setDatabaseCron(ctx, kind, d.name, cron, d.timezone);
    schedules.push(kind);
  }
  const pitr = await ctx.runtime.catalog.wal.config(d.name);
  if (pitr.enabled && pitr.baseBackupSchedule) {
    await setDatabaseCron(ctx, 'baseBackups', d.name, pitr.baseBackupSchedule, d.timezone);
    schedules.push('baseBackups');
  }
  if (pitr.enabled) await resumeArchiving(ctx, d.name);
  return { database: d.name, schedules, archiving: pitr.enabled };
}

/** Every database's schedules and WAL archiving, and the catalog backup schedule. */
export async function reconcileTemporal(ctx: ServiceContext): Promise<ReconciledDatabase[]> {
  const done: ReconciledDatabase[] = [];
  for (const d of await ctx.runtime.catalog.listDatabases()) done.push(await reconcileDatabase(ctx, d));
  await upsertCatalogBackupSchedule(ctx.temporal, ctx.runtime.config);
  return done;
}

/**
 * Databases the catalog held before a restore and the restored one does not (the demo of a fresh
 * `npm start`): their schedules go, or they would run against names that are gone. A health monitor of
 * an earlier version may still run for one: it goes too (the health sweep reads the catalog).
 */
export async function forgetDatabases(ctx: ServiceContext, names: string[]): Promise<void> {
  for (const name of names) {
    await deleteDatabaseSchedules(ctx.temporal, name, ['backups', 'verification', 'retention', 'baseBackups', 'drill']);
    await ctx.temporal.workflow
      .getHandle(healthWorkflowId(name))
      .terminate('the catalog was restored without this database')
      .catch(() => undefined);
  }
}
