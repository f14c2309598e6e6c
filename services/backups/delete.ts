/**
 * Deleting one backup by hand: from every storage holding a copy (the manifest of each copy last,
 * so a half-deleted copy never looks whole), then marked deleted in the catalog, as retention
 * does (activities/retention.ts, whose checks it shares). Refused, with nothing removed, while a
 * restore or verification uses the backup, and while a storage locks it (S3 Object Lock: the date
 * is named). `dryRun` answers what would go without removing anything.
 */
import { pino } from 'pino';
import { deleteBackupEverywhere } from '../../activities/retention.ts';
import type { BackupRecord } from '../../lib/catalog/catalog.ts';
import { HindsightError } from '../../lib/errors.ts';
import type { Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';

/** Services log nothing: the audit log records the deletion, and the CLI's standard output is its answer. */
const quiet = pino({ level: 'silent' });

export interface DeleteBackupOptions {
  dryRun?: boolean;
  /** Recorded with the deletion and in the audit log. */
  reason?: string;
}

export interface DeleteBackupOutcome {
  backupId: string;
  database: string;
  /** The storages that held (or, in a dry run, hold) a copy. */
  storages: string[];
  deleted: boolean;
  dryRun: boolean;
}

function checkDeletable(backup: BackupRecord): void {
  if (backup.status === 'complete' || backup.status === 'partial') return;
  // A tombstone of a deleted backup keeps its row until the catalog maintenance removes it.
  const status: string = backup.status;
  const fix =
    status === 'running'
      ? 'cancel it, or wait for it to end'
      : status === 'deleted'
        ? 'there is nothing left to delete'
        : 'a failed or cancelled backup holds nothing restorable and the daily catalog maintenance removes it';
  throw new HindsightError('conflict', `backup ${backup.id} is ${status}: ${fix}`);
}

export async function deleteBackupByHand(
  ctx: ServiceContext,
  actor: Actor,
  backupId: string,
  options: DeleteBackupOptions = {},
): Promise<DeleteBackupOutcome> {
  const dryRun = options.dryRun === true;
  const work = async (): Promise<DeleteBackupOutcome> => {
    const backup = await ctx.runtime.catalog.getBackup(backupId);
    checkDeletable(backup);
    const storages = backup.copies.map((c) => c.storageName).sort();
    const outcome = { backupId, database: backup.databaseName, storages, dryRun };
    if (dryRun) return { ...outcome, deleted: false };
    const reason = `deleted by hand${options.reason ? `: ${options.reason}` : ''}`;
    const { deleted, why } = await deleteBackupEverywhere(
      { catalog: ctx.runtime.catalog, logger: quiet },
      { database: backup.databaseName, backupId, reason },
    );
    if (!deleted)
      throw new HindsightError('conflict', `backup ${backupId} was not deleted, and nothing was removed: ${why}`);
    return { ...outcome, deleted: true };
  };
  // A dry run is authorized as the deletion is, but changes nothing and is not audited.
  if (dryRun) {
    await ctx.guard.require(actor, { backup: backupId }, 'backup.delete');
    return work();
  }
  return ctx.guard.run(actor, { backup: backupId }, 'backup.delete', work, {
    after: (r) => ({ storages: r.storages, reason: options.reason ?? null }),
  });
}
