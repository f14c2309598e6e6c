import { z } from 'zod';
import { catalogRetentionSchema } from '../../lib/catalog/prune-rules.ts';
import type { PruneCount } from '../../lib/catalog/prune.ts';
import { defineWorkflow } from './common.ts';

/**
 * `catalogMaintenance`: keeps the catalog bounded (lib/catalog/prune.ts) — old audit entries,
 * notifications and their deliveries, restore and hook runs, finished job records and the
 * tombstones retention leaves are deleted in bounded batches. Runs daily from the schedule
 * `catalog-maintenance` on HINDSIGHT_CATALOG_MAINTENANCE_CRON; its input carries the retention
 * periods the worker's configuration gave when the schedule was last set.
 */
export const CATALOG_MAINTENANCE_SCHEDULE_ID = 'catalog-maintenance';

export const catalogMaintenanceInput = z
  .object({
    retention: catalogRetentionSchema,
    /** Rows per delete statement: each batch is a short transaction. */
    batchSize: z.number().int().min(1).max(100_000).default(5000),
  })
  .strict();
export type CatalogMaintenanceInput = z.input<typeof catalogMaintenanceInput>;

export interface CatalogMaintenanceOutcome {
  /** Rows deleted per rule (rows that went with them by cascade are not counted). */
  pruned: PruneCount[];
}

export const catalogMaintenanceWorkflow = defineWorkflow<CatalogMaintenanceInput, CatalogMaintenanceOutcome>(
  'catalogMaintenance',
  'catalog',
);
