/**
 * The catalog backups a storage holds, read from their manifests alone (no catalog, no key), and
 * the count retention of them: the newest N stay, older ones go, object first and manifest last so
 * that a half-removed backup never looks whole.
 */
import { HindsightError, errorMessage } from '../errors.ts';
import type { StorageDriver } from '../storage/contract.ts';
import { removedUnlessLocked } from '../storage/locked.ts';
import { readAll } from '../storage/shared/streams.ts';
import {
  CATALOG_BACKUP_PREFIX,
  catalogBackupManifestSchema,
  catalogManifestKey,
  catalogObjectKey,
  type CatalogBackupManifest,
} from './layout.ts';

/** How many catalog backups each storage keeps unless configured otherwise. */
export const DEFAULT_CATALOG_BACKUPS_KEPT = 14;

/** Newest first: by the time the dump finished, then by id, never by listing order. */
export function newestFirst(manifests: CatalogBackupManifest[]): CatalogBackupManifest[] {
  return [...manifests].sort(
    (a, b) => Date.parse(b.finishedAt) - Date.parse(a.finishedAt) || b.backupId.localeCompare(a.backupId),
  );
}

/** The backups beyond the newest `keep`: what retention removes. */
export function catalogBackupsBeyond(manifests: CatalogBackupManifest[], keep: number): CatalogBackupManifest[] {
  if (!Number.isInteger(keep) || keep < 1)
    throw new HindsightError('bad_input', `keep ${keep} catalog backups: keep at least 1`);
  return newestFirst(manifests).slice(keep);
}

export async function readCatalogManifest(driver: StorageDriver, id: string): Promise<CatalogBackupManifest> {
  const key = catalogManifestKey(id);
  const text = (await readAll(await driver.openRead(key))).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new HindsightError('integrity', `storage ${driver.label}: '${key}' is not JSON (${errorMessage(error)})`);
  }
  const parsed = catalogBackupManifestSchema.safeParse(json);
  if (!parsed.success || parsed.data.backupId !== id)
    throw new HindsightError(
      'integrity',
      `storage ${driver.label}: '${key}' is no catalog backup manifest of ${id}: ${parsed.error?.issues[0]?.message ?? 'another id'}`,
    );
  return parsed.data;
}

/**
 * Every complete catalog backup in the storage, newest first: a manifest whose object is there. A
 * manifest that does not read as one (another program's file, a damaged one) is left out, not fatal.
 */
export async function listCatalogBackups(driver: StorageDriver): Promise<CatalogBackupManifest[]> {
  const objects = await driver.list(CATALOG_BACKUP_PREFIX);
  const keys = new Set(objects.map((o) => o.key));
  const ids = objects
    .map((o) => new RegExp(`^${CATALOG_BACKUP_PREFIX}/([^/]+)\\.json$`).exec(o.key)?.[1])
    .filter((id): id is string => id !== undefined && keys.has(catalogObjectKey(id)));
  const manifests: CatalogBackupManifest[] = [];
  for (const id of ids) {
    const manifest = await readCatalogManifest(driver, id).catch(() => undefined);
    if (manifest) manifests.push(manifest);
  }
  return newestFirst(manifests);
}

/** Removes the catalog backups beyond the newest `keep`; returns their ids. */
export async function pruneCatalogBackups(driver: StorageDriver, keep: number): Promise<string[]> {
  const beyond = catalogBackupsBeyond(await listCatalogBackups(driver), keep);
  const pruned: string[] = [];
  for (const manifest of beyond) {
    // One a storage still locks (S3 Object Lock) is pruned by the first run after its date.
    if (!(await removedUnlessLocked(driver.remove(catalogObjectKey(manifest.backupId))))) continue;
    await driver.remove(catalogManifestKey(manifest.backupId));
    pruned.push(manifest.backupId);
  }
  return pruned;
}
