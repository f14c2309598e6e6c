import type { Queryable } from './db.ts';
import { HindsightError } from '../errors.ts';
import { getStorage } from './storages.ts';

export type CopyStatus = 'pending' | 'complete' | 'failed';

/** One backup's copy in one storage. */
export interface BackupCopy {
  storageName: string;
  status: CopyStatus;
  sizeBytes: number | null;
  error: string | null;
  attempts: number;
  updatedAt: Date;
}

/** One attempt's outcome for one storage; a pending copy does not count as an attempt. */
export async function recordCopy(
  db: Queryable,
  backupId: string,
  storageName: string,
  outcome: { status: CopyStatus; sizeBytes?: number; error?: string },
): Promise<void> {
  const storage = await getStorage(db, storageName);
  await db.query(
    `insert into backup_copies (backup_id, storage_id, status, size_bytes, error, attempts)
     values ($1, $2, $3, $4, $5, case when $3 = 'pending' then 0 else 1 end)
     on conflict (backup_id, storage_id) do update set status = excluded.status, size_bytes = excluded.size_bytes,
       error = excluded.error, updated_at = now(),
       attempts = backup_copies.attempts + case when excluded.status = 'pending' then 0 else 1 end`,
    [backupId, storage.id, outcome.status, outcome.sizeBytes ?? null, outcome.error ?? null],
  );
}

/** One storage a database's backups go to, with its own retention policy (null: the database's). */
export interface StorageRetention {
  storageName: string;
  retentionPolicy: unknown;
}

/** The storages a database's backups go to, in their order, each with its retention override. */
export async function storageRetentionOf(db: Queryable, databaseName: string): Promise<StorageRetention[]> {
  const { rows } = await db.query<{ name: string; retention_policy: unknown }>(
    `select s.name, ds.retention_policy from database_storages ds
       join storages s on s.id = ds.storage_id join databases d on d.id = ds.database_id
      where d.name = $1 order by ds.position`,
    [databaseName],
  );
  return rows.map((r) => ({ storageName: r.name, retentionPolicy: r.retention_policy }));
}

/** Sets (or with null removes) the retention policy of one storage a database's backups go to. */
export async function setStorageRetention(
  db: Queryable,
  databaseName: string,
  storageName: string,
  policy: unknown,
): Promise<void> {
  const result = await db.query(
    `update database_storages ds set retention_policy = $3::jsonb
       from storages s, databases d
      where s.id = ds.storage_id and d.id = ds.database_id and d.name = $1 and s.name = $2`,
    [databaseName, storageName, policy === null ? null : JSON.stringify(policy)],
  );
  if (result.rowCount === 0)
    throw new HindsightError(
      'not_found',
      `storage "${storageName}" is not a destination of database "${databaseName}" (hindsight db show ${databaseName} lists them)`,
    );
}

/** Forgets one copy of a backup once retention removed its objects from that storage. */
export async function removeCopy(db: Queryable, backupId: string, storageName: string): Promise<void> {
  await db.query(
    `delete from backup_copies c using storages s where s.id = c.storage_id and c.backup_id = $1 and s.name = $2`,
    [backupId, storageName],
  );
}
