/**
 * Deleting one backup from the catalog's point of view: retention has removed its objects from
 * every storage, and the rows that describe it alone go in the same transaction as the change of
 * its status. The row itself stays as a tombstone ("deleted by retention: why") until the daily
 * maintenance removes it after HINDSIGHT_DELETED_BACKUP_RETENTION_DAYS (prune-rules.ts), and
 * takes its restore runs with it then (ON DELETE CASCADE).
 */
import type pg from 'pg';
import { withTransaction, type Queryable } from './db.ts';

/** Rows of one backup that describe it alone and must not outlive its deletion. */
export async function deleteBackupDependents(db: Queryable, backupId: string): Promise<void> {
  // Its objects are gone from every storage: a copies row would describe nothing.
  await db.query(`delete from backup_copies where backup_id = $1`, [backupId]);
  // A finished verification's report is about data that no longer exists anywhere; a running one
  // was refused before the deletion began (activities/retention.ts).
  await db.query(`delete from verifications where backup_id = $1 and status not in ('pending', 'running')`, [backupId]);
}

/** Marks a complete (or partial) backup deleted and removes what described only it; anything else is left alone. */
export async function markBackupDeleted(pool: pg.Pool, id: string, reason: string): Promise<void> {
  await withTransaction(pool, async (tx) => {
    const marked = await tx.query(
      `update backups set status = 'deleted', deleted_at = now(), deleted_reason = $2 where id = $1
         and status in ('complete', 'partial')`,
      [id, reason],
    );
    if ((marked.rowCount ?? 0) > 0) await deleteBackupDependents(tx, id);
  });
}
