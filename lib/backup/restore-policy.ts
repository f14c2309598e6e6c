import type { BackupRecord } from '../catalog/catalog.ts';
import { HindsightError } from '../errors.ts';

/** What the policy needs to know of a backup. */
export type RestoreCandidate = Pick<BackupRecord, 'id' | 'databaseName' | 'status'>;

/** Where the policy looks backups up: the catalog, or anything that answers like it. */
export interface BackupLookup {
  getBackup(id: string): Promise<RestoreCandidate>;
  /** The newest complete (or partial) backup of a database; fails `not_found` when there is none. */
  latestCompleteBackup(database: string): Promise<RestoreCandidate>;
}

/**
 * Refuses a named backup that cannot be restored into `database`: one of another database, or one
 * that never reached a storage whole. A partial backup is restorable: some storage holds it whole.
 * A verification restores too, and says so (`purpose`).
 */
export function refuseUnrestorable(
  database: string,
  backup: RestoreCandidate,
  purpose: 'restored' | 'verified' = 'restored',
): void {
  if (backup.databaseName !== database) {
    throw new HindsightError(
      'bad_input',
      `backup ${backup.id} belongs to database "${backup.databaseName}", not "${database}"`,
    );
  }
  if (backup.status !== 'complete' && backup.status !== 'partial') {
    throw new HindsightError(
      'bad_input',
      `backup ${backup.id} is ${backup.status}: only complete (or partial) backups can be ${purpose}`,
    );
  }
}

/** The backup to restore: the one named, or the newest complete one. */
export async function chooseBackupToRestore(
  lookup: BackupLookup,
  database: string,
  backupId?: string,
): Promise<string> {
  if (!backupId) return (await lookup.latestCompleteBackup(database)).id;
  const backup = await lookup.getBackup(backupId);
  refuseUnrestorable(database, backup);
  return backup.id;
}
