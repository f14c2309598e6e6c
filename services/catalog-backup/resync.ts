/**
 * After a catalog restore, before archiving resumes: each PITR database's WAL and base-backup rows
 * brought up to date with its archive storage. The old host went on archiving after the catalog
 * backup was taken; without this the restored rows stop at that moment, the recoverable window with
 * them, and the receiver's storage check finds a newer partial than its row says (a false alarm).
 */
import { errorMessage } from '../../lib/errors.ts';
import type { ArchiveResync } from '../../lib/catalog/rebuild/resync.ts';
import { createStorageDriver } from '../../lib/storage/index.ts';
import type { Runtime } from '../runtime.ts';

export interface WalResync extends Partial<ArchiveResync> {
  database: string;
  /** The storage the archive was read from. */
  storage: string | null;
  /** Why the rows could not be brought up to date; archiving resumes all the same. */
  error?: string;
}

async function resyncDatabase(runtime: Runtime, database: string): Promise<WalResync> {
  const { catalog } = runtime;
  const config = await catalog.wal.config(database);
  if (!config.storageName) return { database, storage: null };
  const storage = config.storageName;
  try {
    const driver = createStorageDriver(storage, await catalog.storageConfig(storage));
    try {
      const done = await catalog.rebuild.resyncArchive({ name: storage, driver }, runtime.keyring.resolve, database);
      return { ...done, storage };
    } finally {
      await driver.close?.().catch(() => undefined);
    }
  } catch (error) {
    return {
      database,
      storage,
      error: `${errorMessage(error)} (the rows stay as the catalog backup had them; hindsight catalog rebuild --storage-config … adds the rest later)`,
    };
  }
}

/** Every PITR database's archive, one after the other; a storage that fails is reported, not fatal. */
export async function resyncWalRows(runtime: Runtime): Promise<WalResync[]> {
  const done: WalResync[] = [];
  for (const database of await runtime.catalog.wal.pitrDatabases()) done.push(await resyncDatabase(runtime, database));
  return done;
}
