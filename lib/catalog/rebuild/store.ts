/** The catalog rebuild's part of the Catalog: what it reads of the catalog, and the writes of a plan. */
import type pg from 'pg';
import type { DecryptionKey } from '../../crypto/chunked-gcm.ts';
import type { StorageDriver } from '../../storage/contract.ts';
import { applyPlan } from './apply.ts';
import type { RebuildPlan } from './plan.ts';
import { archivedSystems, resyncArchive } from './resync.ts';
import { recordedState } from './write.ts';

export function createRebuildStore(pool: pg.Pool) {
  return {
    recordedState: () => recordedState(pool),
    apply: (plan: RebuildPlan, storageName: string) => applyPlan(pool, plan, storageName),
    /** One database's archive rows brought up to date from its storage (./resync.ts). */
    resyncArchive: async (storage: { name: string; driver: StorageDriver }, key: DecryptionKey, database: string) =>
      resyncArchive(pool, storage, key, database, await archivedSystems(pool, database)),
  };
}
