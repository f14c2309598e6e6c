/**
 * One catalog backup as the worker takes it: to every storage that holds backups, then the count
 * retention of catalog backups in each storage that took this one.
 */
import type { Catalog } from '../catalog/catalog.ts';
import type { SecretKey } from '../crypto/secret-key.ts';
import { errorMessage } from '../errors.ts';
import { createStorageDriver } from '../storage/index.ts';
import type { Destination } from '../backup/dump.ts';
import { catalogTargetOf, schemaVersion, storagesHoldingBackups } from './catalog-queries.ts';
import { pruneCatalogBackups } from './stored.ts';
import { hindsightVersion } from './version.ts';
import { writeCatalogBackup } from './write.ts';

export interface CatalogBackupCopy {
  storage: string;
  status: 'complete' | 'failed';
  sizeBytes?: number | undefined;
  error?: string | undefined;
  /** Older catalog backups this run removed from the storage (beyond the newest `keep`). */
  pruned?: string[];
  pruneError?: string;
}

export interface CatalogBackupRun {
  backupId: string;
  /** Why nothing was written: no storage holds backups yet. */
  skipped?: string;
  schemaVersion?: string;
  copies: CatalogBackupCopy[];
}

async function pruneOne(
  destination: Destination,
  keep: number,
): Promise<Pick<CatalogBackupCopy, 'pruned' | 'pruneError'>> {
  try {
    return { pruned: await pruneCatalogBackups(destination.driver, keep) };
  } catch (error) {
    return { pruneError: errorMessage(error) };
  }
}

export async function backUpCatalog(
  catalog: Catalog,
  key: SecretKey,
  input: { backupId: string; keep: number },
): Promise<CatalogBackupRun> {
  const { pool } = catalog;
  const names = await storagesHoldingBackups(pool);
  if (names.length === 0) return { backupId: input.backupId, skipped: 'no storage holds backups yet', copies: [] };
  const version = (await schemaVersion(pool)) ?? 'none';
  const destinations: Destination[] = [];
  try {
    for (const name of names)
      destinations.push({ name, driver: createStorageDriver(name, await catalog.storageConfig(name)) });
    const { copies } = await writeCatalogBackup({
      backupId: input.backupId,
      target: catalogTargetOf(pool),
      destinations,
      key,
      schemaVersion: version,
      hindsightVersion: hindsightVersion(),
    });
    const results: CatalogBackupCopy[] = [];
    for (const [i, copy] of copies.entries()) {
      const base = { storage: copy.storageName, status: copy.status, sizeBytes: copy.sizeBytes, error: copy.error };
      results.push(copy.status === 'complete' ? { ...base, ...(await pruneOne(destinations[i]!, input.keep)) } : base);
    }
    return { backupId: input.backupId, schemaVersion: version, copies: results };
  } finally {
    await Promise.all(destinations.map((d) => d.driver.close?.().catch(() => undefined)));
  }
}
