import { recordedChecksums } from '../lib/backup/expectation.ts';
import { storedDatabaseName } from '../lib/backup/ids.ts';
import { openBackupFromAny, type BackupSource, type OpenedBackup } from '../lib/backup/sources.ts';
import type { BackupRecord, Catalog } from '../lib/catalog/catalog.ts';
import type { Logger } from '../lib/logger.ts';
import type { StorageDriver } from '../lib/storage/contract.ts';
import { createStorageDriver } from '../lib/storage/index.ts';

export async function driverFor(catalog: Catalog, storageName: string): Promise<StorageDriver> {
  return createStorageDriver(storageName, await catalog.storageConfig(storageName));
}

/** Opens drivers for the work, and closes them whatever happens. */
export async function withDrivers<T>(
  catalog: Catalog,
  names: string[],
  work: (drivers: BackupSource[]) => Promise<T>,
): Promise<T> {
  const opened: BackupSource[] = [];
  try {
    for (const name of names) opened.push({ name, driver: await driverFor(catalog, name) });
    return await work(opened);
  } finally {
    await Promise.all(opened.map((o) => o.driver.close?.().catch(() => undefined)));
  }
}

/** Copies of a backup that can serve a read, preferred first; a retry starts one further on. */
export async function readableCopies(catalog: Catalog, backupId: string, attempt: number): Promise<string[]> {
  const complete = (await catalog.copiesOf(backupId)).filter((c) => c.status === 'complete').map((c) => c.storageName);
  const shift = complete.length > 0 ? (attempt - 1) % complete.length : 0;
  return [...complete.slice(shift), ...complete.slice(0, shift)];
}

export const logFallback = (logger: Logger, backupId: string) => (storageName: string, reason: string) =>
  logger.warn({ backupId, storage: storageName, reason }, 'backup copy unreadable, trying the next storage');

/**
 * Opens a backup from the first source that holds it whole and matches the catalog's record of it
 * (checksums that storage cannot rewrite); each copy passed over is logged. It is read under the
 * name it was stored under, which a renamed database no longer has (`_database` is its name now).
 */
export function openRecordedBackup(
  sources: BackupSource[],
  _database: string,
  backup: BackupRecord,
  logger: Logger,
): Promise<OpenedBackup> {
  const stored = storedDatabaseName(backup);
  return openBackupFromAny(sources, stored, backup.id, logFallback(logger, backup.id), recordedChecksums(backup));
}
