/**
 * Reads everything a catalog rebuild takes from one storage: one listing of the whole storage,
 * then the logical backups and each PITR archive. Nothing is written here.
 */
import type { DecryptionKey } from '../../crypto/chunked-gcm.ts';
import type { StorageDriver } from '../../storage/contract.ts';
import type { RebuildFindings, Unreadable } from './findings.ts';
import { readLogicalBackups } from './read-logical.ts';
import { archiveSystemIds, readArchive } from './read-pitr.ts';

export async function readStorage(
  storage: { name: string; driver: StorageDriver },
  key: DecryptionKey,
): Promise<RebuildFindings> {
  const listing = await storage.driver.list('');
  const logical = await readLogicalBackups(storage.driver, listing, key);
  const unreadable: Unreadable[] = [...logical.unreadable];
  const archives = [];
  for (const sysid of archiveSystemIds(listing)) {
    const own = listing.filter((o) => o.key.startsWith(`pitr/${sysid}/`));
    const sizes = new Map(own.map((o) => [o.key, o.size]));
    archives.push(await readArchive({ driver: storage.driver, key, listing: own, sizes, unreadable }, sysid));
  }
  return { storage: storage.name, backups: logical.backups, archives, unreadable };
}
