import type { Queryable } from './db.ts';
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
