/**
 * One catalog backup as the worker takes it: to every storage that holds backups, then the count
 * retention of catalog backups in each storage that took this one.
 */
import type { Catalog } from '../catalog/catalog.ts';
import type { SecretKey } from '../crypto/secret-key.ts';
import { chainEnd, writeAuditHead } from '../catalog/audit-head.ts';
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
  /** Why the audit chain's end could not be copied beside this catalog backup. */
  headError?: string;
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

/** The audit chain's end beside the catalog backup; a failure is reported, the backup still counts. */
async function writeHead(
  destination: Destination,
  end: NonNullable<Awaited<ReturnType<typeof chainEnd>>>,
  key: SecretKey,
): Promise<string | undefined> {
  try {
    await writeAuditHead(destination.driver, end, key);
    return undefined;
  } catch (error) {
    return `audit head not written: ${errorMessage(error)}`;
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
  // Read before the dump, so that the dump holds the entry the head names.
  const end = await chainEnd(pool);
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
      if (copy.status !== 'complete') {
        results.push(base);
        continue;
      }
      const headError = end ? await writeHead(destinations[i]!, end, key) : undefined;
      results.push({ ...base, ...(await pruneOne(destinations[i]!, input.keep)), ...(headError && { headError }) });
    }
    return { backupId: input.backupId, schemaVersion: version, copies: results };
  } finally {
    await Promise.all(destinations.map((d) => d.driver.close?.().catch(() => undefined)));
  }
}
