import type { Catalog } from '../lib/catalog/catalog.ts';
import type { PruneCount } from '../lib/catalog/prune.ts';
import type { CatalogRetention } from '../lib/catalog/prune-rules.ts';
import type { Logger } from '../lib/logger.ts';
import { bindActivities } from './bind.ts';
import { heartbeatWhile } from './progress.ts';

export interface CatalogMaintenanceDeps {
  catalog: Catalog;
  logger: Logger;
}

/** Deletes what the catalog no longer needs, batch by batch, heartbeating after each. */
async function pruneCatalogRows(
  deps: CatalogMaintenanceDeps,
  input: { retention: CatalogRetention; batchSize: number },
): Promise<PruneCount[]> {
  let progress = { rule: '', deleted: 0 };
  const pruned = await heartbeatWhile(
    10_000,
    () =>
      deps.catalog.maintenance.pruneCatalog(input.retention, new Date(), {
        batchSize: input.batchSize,
        onBatch: (rule, deleted) => {
          progress = { rule, deleted };
        },
      }),
    () => progress,
  );
  const removed = Object.fromEntries(pruned.filter((p) => p.rows > 0).map((p) => [p.rule, p.rows]));
  deps.logger.info({ removed }, 'catalog maintenance pruned old rows');
  return pruned;
}

export const createCatalogMaintenanceActivities = (deps: CatalogMaintenanceDeps) =>
  bindActivities(deps, { pruneCatalogRows });
