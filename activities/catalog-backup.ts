import type { Catalog } from '../lib/catalog/catalog.ts';
import { backUpCatalog as backUpCatalogTo } from '../lib/catalog-backup/run.ts';
import type { Keyring } from '../lib/crypto/keyring.ts';
import type { Logger } from '../lib/logger.ts';
import { bindActivities } from './bind.ts';

export interface CatalogBackupDeps {
  catalog: Catalog;
  keyring: Keyring;
  logger: Logger;
}

/** The catalog, dumped and encrypted under the current key to every storage that holds backups. */
async function backUpCatalog(deps: CatalogBackupDeps, input: { backupId: string; keep: number }) {
  const run = await backUpCatalogTo(deps.catalog, deps.keyring.current(), input);
  const failed = run.copies.filter((c) => c.status === 'failed' || c.pruneError || c.headError);
  if (failed.length > 0) deps.logger.warn({ backupId: run.backupId, failed }, 'catalog backup missed a storage');
  else deps.logger.info({ backupId: run.backupId, storages: run.copies.map((c) => c.storage) }, 'catalog backed up');
  return run;
}

export const createCatalogBackupActivities = (deps: CatalogBackupDeps) => bindActivities(deps, { backUpCatalog });
