/** Where the daily catalog maintenance starts: the schedule `catalog-maintenance`. */
import type { Client } from '@temporalio/client';
import type { CatalogMaintenanceSettings } from '../lib/catalog/prune-rules.ts';
import { CATALOG_MAINTENANCE_SCHEDULE_ID, catalogMaintenanceWorkflow } from './contracts/catalog-maintenance.ts';
import { upsertInstanceSchedule } from './schedules.ts';

/**
 * Puts the schedule on HINDSIGHT_CATALOG_MAINTENANCE_CRON (UTC) with the retention periods of this
 * configuration, or removes it when that is `off`.
 */
export async function upsertCatalogMaintenanceSchedule(
  client: Client,
  config: { taskQueue: string; catalogMaintenance: CatalogMaintenanceSettings },
): Promise<void> {
  const { cron, retention } = config.catalogMaintenance;
  await upsertInstanceSchedule(client, catalogMaintenanceWorkflow, {
    scheduleId: CATALOG_MAINTENANCE_SCHEDULE_ID,
    taskQueue: config.taskQueue,
    cron,
    input: { retention },
  });
}
