/**
 * Base backups that a running point-in-time restore reads, so that retention does not delete them
 * under it. A restore holds them under a lease: renewed while it runs, removed when it ends. A
 * restore whose worker died without removing its rows stops protecting them once the lease
 * expires, so a lost worker cannot pin an archive forever.
 */
import type { Queryable } from './db.ts';

/** How long a hold lasts without renewal: several renewals may fail before it lapses. */
export const BASE_BACKUP_LEASE_MS = 10 * 60_000;
/** How often a running restore renews its hold. */
export const BASE_BACKUP_RENEW_MS = 60_000;

export interface BaseBackupHold {
  workflowId: string;
  database: string;
  /** The chain the restore reads: the full backup and its increments. */
  baseBackupIds: string[];
  expiresAt: Date;
}

/** Records (or renews) a restore's hold on its chain. */
export async function holdBaseBackups(db: Queryable, hold: BaseBackupHold): Promise<void> {
  if (hold.baseBackupIds.length === 0) return;
  await db.query(
    `insert into base_backups_in_use (workflow_id, base_backup_id, database, expires_at)
     select $1, id, $3, $4 from unnest($2::text[]) as id
     on conflict (workflow_id, base_backup_id) do update set expires_at = excluded.expires_at`,
    [hold.workflowId, hold.baseBackupIds, hold.database, hold.expiresAt],
  );
}

/** Ends a restore's hold: it no longer reads its chain. */
export async function releaseBaseBackups(db: Queryable, workflowId: string): Promise<void> {
  await db.query('delete from base_backups_in_use where workflow_id = $1', [workflowId]);
}

/** The base backups of `database` that a restore holds at `now` (expired holds are ignored). */
export async function baseBackupsInUse(db: Queryable, database: string, now: Date): Promise<Set<string>> {
  const { rows } = await db.query<{ base_backup_id: string }>(
    'select distinct base_backup_id from base_backups_in_use where database = $1 and expires_at > $2',
    [database, now],
  );
  return new Set(rows.map((r) => r.base_backup_id));
}
