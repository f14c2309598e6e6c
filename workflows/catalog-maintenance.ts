import { proxyActivities } from '@temporalio/workflow';
import type { createCatalogMaintenanceActivities } from '../activities/catalog-maintenance.ts';
import {
  catalogMaintenanceInput,
  catalogMaintenanceWorkflow,
  type CatalogMaintenanceInput,
  type CatalogMaintenanceOutcome,
} from '../temporal/contracts/catalog-maintenance.ts';
import { permanentErrorTypes } from './activity-options.ts';
import { parseInput } from './validate.ts';

/**
 * A first run on a large catalog may delete millions of rows: the activity heartbeats after every
 * batch, and a retry carries on where the batches stopped (each batch is committed on its own).
 */
const { pruneCatalogRows } = proxyActivities<ReturnType<typeof createCatalogMaintenanceActivities>>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '2 minutes',
  retry: {
    initialInterval: '10 seconds',
    backoffCoefficient: 2,
    maximumInterval: '5 minutes',
    maximumAttempts: 5,
    nonRetryableErrorTypes: permanentErrorTypes,
  },
});

/** The daily catalog maintenance (temporal/contracts/catalog-maintenance.ts). */
export async function catalogMaintenance(raw: CatalogMaintenanceInput): Promise<CatalogMaintenanceOutcome> {
  const input = parseInput(catalogMaintenanceWorkflow.type, catalogMaintenanceInput, raw);
  return { pruned: await pruneCatalogRows({ retention: input.retention, batchSize: input.batchSize }) };
}
