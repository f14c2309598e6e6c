/**
 * Where catalog backups start: the schedule `catalog-backup`, a run now (`hindsight catalog
 * backup`), and the debounced run after a configuration change.
 */
import type { Client } from '@temporalio/client';
import type { Config } from '../lib/config.ts';
import {
  CATALOG_BACKUP_AFTER_CHANGE_ID,
  CATALOG_BACKUP_SCHEDULE_ID,
  catalogBackupRunId,
  catalogBackupWorkflow,
  configChangedSignal,
} from './contracts/catalog-backup.ts';
import { upsertInstanceSchedule } from './schedules.ts';
import { jobAttributes } from './search-attributes.ts';
import { startJob } from './start.ts';

type CatalogBackupConfig = Pick<Config, 'taskQueue' | 'catalogBackups'>;

/** Puts the schedule on HINDSIGHT_CATALOG_BACKUP_CRON (UTC), or removes it when that is `off`. */
export async function upsertCatalogBackupSchedule(client: Client, config: CatalogBackupConfig): Promise<void> {
  const { cron, keep } = config.catalogBackups;
  await upsertInstanceSchedule(client, catalogBackupWorkflow, {
    scheduleId: CATALOG_BACKUP_SCHEDULE_ID,
    taskQueue: config.taskQueue,
    cron,
    input: { trigger: 'schedule', keep },
  });
}

/** A catalog backup now, whatever the schedule says. */
export function startCatalogBackup(client: Client, config: CatalogBackupConfig, now = new Date()) {
  return startJob(client, catalogBackupWorkflow, {
    workflowId: catalogBackupRunId(now),
    taskQueue: config.taskQueue,
    input: { trigger: 'manual', keep: config.catalogBackups.keep },
    database: null,
    onConflict: 'fail',
  });
}

/** A change is saved whether or not Temporal answers: the signal is given this long, then left to fail on its own. */
const SIGNAL_PATIENCE_MS = 5000;

/**
 * The configuration changed: starts `catalog-backup/after-change` if it is not waiting already, and
 * tells it, so that a burst of changes gives one backup once they have stopped. Waits at most
 * SIGNAL_PATIENCE_MS; a failure is the daily schedule's to make up for, never the change's.
 */
export async function catalogChanged(client: Client, config: CatalogBackupConfig): Promise<void> {
  const { afterChangeSeconds, keep } = config.catalogBackups;
  if (afterChangeSeconds === 0) return;
  const signalled = client.workflow.signalWithStart(catalogBackupWorkflow.type, {
    workflowId: CATALOG_BACKUP_AFTER_CHANGE_ID,
    taskQueue: config.taskQueue,
    args: [{ trigger: 'change' as const, keep, quietSeconds: afterChangeSeconds }],
    signal: configChangedSignal,
    typedSearchAttributes: jobAttributes(null, catalogBackupWorkflow.kind),
  });
  let timer: NodeJS.Timeout | undefined;
  const patience = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, SIGNAL_PATIENCE_MS).unref();
  });
  await Promise.race([signalled.then(() => undefined), patience]).finally(() => clearTimeout(timer));
  void signalled.catch(() => undefined);
}
