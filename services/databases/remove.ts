/**
 * What becomes of a database's backups when it is removed: kept in storage (the default), where
 * `db add` of the same database takes them back, or deleted from every storage holding a copy.
 */
import { backupObjectKeys, manifestKey, storedDatabaseName } from '../../lib/backup/ids.ts';
import type { StoredBackup } from '../../lib/catalog/adopted-backups.ts';
import type { Catalog } from '../../lib/catalog/catalog.ts';
import { HindsightError, errorMessage } from '../../lib/errors.ts';
import { withDrivers } from '../../activities/storage-access.ts';
import type { BackupSource } from '../../lib/backup/sources.ts';
import { lockDate, ObjectLockedError } from '../../lib/storage/locked.ts';
import { slotNameFor } from '../../lib/wal/server.ts';
import type { ServiceContext } from '../context.ts';
import { disablePitr } from '../pitr/archive.ts';

export type BackupsChoice = 'keep' | 'delete';

export interface RemoveOutcome {
  removed: string;
  backups: BackupsChoice;
  /** Backups recorded for the database when it was removed. */
  backupCount: number;
  /** The storages that hold (keep) or held (delete) them. */
  storages: string[];
  /** The prefix their objects sit under in each storage. */
  prefixes: string[];
  /** For people: where the backups are, or that they are gone. */
  message: string;
}

/** A delete that would take what a running job reads or writes, or what belongs to the server, is refused first. */
async function refuseDelete(catalog: Catalog, name: string, running: string[]): Promise<void> {
  const pitr = await catalog.wal.config(name);
  if (pitr.enabled) {
    throw new HindsightError(
      'conflict',
      `database "${name}" has PITR on, and its WAL archive and base backups belong to the whole server: ` +
        `turn it off first (hindsight db pitr ${name} off), then remove it with --delete-backups, or keep the backups with --keep-backups`,
    );
  }
  const restoring = await catalog.backupsBeingRestored(name);
  const busy = [...running, ...restoring];
  if (busy.length > 0) {
    throw new HindsightError(
      'conflict',
      `database "${name}": backup ${busy[0]} is being taken or restored; wait for it to end (or cancel it), then remove the database`,
    );
  }
}

/**
 * A storage that locks a backup (S3 Object Lock) would refuse its deletion halfway: refused before
 * anything is removed, naming the date. The manifest is written last and so is locked the longest.
 */
async function refuseLocked(name: string, backups: StoredBackup[], sources: BackupSource[]): Promise<void> {
  for (const backup of backups) {
    for (const source of sources.filter((s) => backup.storageNames.includes(s.name))) {
      const until = await source.driver.lockedUntil?.(manifestKey(storedUnder(backup, name), backup.id));
      if (until === undefined) continue;
      throw new ObjectLockedError(
        `database "${name}" was not removed: storage "${source.name}" locks backup ${backup.id} until ${lockDate(until)} (S3 Object Lock), and nothing can delete it before then; remove the database with --keep-backups, or after that date`,
        until,
      );
    }
  }
}

/** Removes every object and manifest of the database's backups; a storage that refuses stops the removal. */
async function deleteObjects(catalog: Catalog, name: string, backups: StoredBackup[]): Promise<void> {
  const storages = [...new Set(backups.flatMap((b) => b.storageNames))];
  await withDrivers(catalog, storages, async (sources) => {
    await refuseLocked(name, backups, sources);
    for (const backup of backups) {
      const stored = storedUnder(backup, name);
      for (const source of sources.filter((s) => backup.storageNames.includes(s.name))) {
        try {
          for (const key of backupObjectKeys(stored, backup.id)) await source.driver.remove(key);
          // The manifest last, so that a half-removed backup never looks whole.
          await source.driver.remove(manifestKey(stored, backup.id));
        } catch (error) {
          throw new HindsightError(
            'unreachable',
            `database "${name}" was not removed: backup ${backup.id} could not be deleted from storage "${source.name}" (${errorMessage(error)}); ` +
              'fix the storage and remove again, or remove with --keep-backups',
          );
        }
      }
    }
  });
}

const storedUnder = (backup: StoredBackup, name: string) =>
  storedDatabaseName({ objectKey: backup.objectKey, databaseName: name });

/**
 * Which name takes back which backups: a manifest carries the name the database had when the
 * backup was taken, so backups from before a rename come back only under the old name.
 */
function takeBack(backups: StoredBackup[], name: string): string {
  const counts = new Map<string, number>();
  for (const b of backups) counts.set(storedUnder(b, name), (counts.get(storedUnder(b, name)) ?? 0) + 1);
  return [...counts].map(([stored, n]) => `${n} under ${stored}/ as "hindsight db add ${stored}"`).join(', ');
}

/**
 * Refuses a delete that could not finish (PITR on, a job running, a locked object) before the
 * removal changes anything: the schedules are deleted first, and a database refused after that
 * would be left registered without them.
 */
export async function refuseRemoval(catalog: Catalog, name: string, choice: BackupsChoice): Promise<void> {
  if (choice !== 'delete') return;
  const backups = (await catalog.storedBackupsOf(name)).filter((b) => b.status !== 'deleted');
  await refuseDelete(
    catalog,
    name,
    backups.filter((b) => b.status === 'running').map((b) => b.id),
  );
  const storages = [...new Set(backups.flatMap((b) => b.storageNames))];
  await withDrivers(catalog, storages, (sources) => refuseLocked(name, backups, sources));
}

/**
 * Checks a delete may go ahead and deletes the objects (before the rows, so that a failure leaves
 * the database registered with everything it knew); returns what the outcome reports.
 */
export async function settleBackups(catalog: Catalog, name: string, choice: BackupsChoice): Promise<RemoveOutcome> {
  // Those retention deleted are gone from storage already.
  const backups = (await catalog.storedBackupsOf(name)).filter((b) => b.status !== 'deleted');
  const storages = [...new Set(backups.flatMap((b) => b.storageNames))].sort();
  const prefixes = [...new Set(backups.map((b) => `${storedUnder(b, name)}/`))];
  if (choice === 'delete') {
    await refuseDelete(
      catalog,
      name,
      backups.filter((b) => b.status === 'running').map((b) => b.id),
    );
    await deleteObjects(catalog, name, backups);
  }
  const where = storages.length > 0 ? `storage ${storages.join(', ')}` : 'no storage';
  const message =
    choice === 'delete'
      ? `its ${backups.length} backups were deleted from ${where}`
      : backups.length === 0
        ? 'it had no backups'
        : `its ${backups.length} backups stay in ${where}; adding the same database again takes back ${takeBack(backups, name)}`;
  return { removed: name, backups: choice, backupCount: backups.length, storages, prefixes, message };
}

/**
 * A database removed with PITR on stops streaming and gives its replication slot back first: a
 * slot nobody reads keeps WAL on the source until its disk fills. Returns a sentence for the
 * outcome, or null when PITR was off. A server that cannot be reached does not block the removal:
 * the sentence then says which slot to drop by hand.
 */
export async function stopPitrForRemoval(ctx: ServiceContext, name: string): Promise<string | null> {
  const config = await ctx.runtime.catalog.wal.config(name);
  if (!config.enabled) return null;
  const slot = config.slot ?? slotNameFor(name);
  try {
    const { slotDropped } = await disablePitr(ctx, name);
    return slotDropped
      ? `WAL streaming stopped and replication slot "${slot}" dropped`
      : `WAL streaming stopped (replication slot "${slot}" was already gone)`;
  } catch (error) {
    return `WAL streaming stopped, but replication slot "${slot}" could not be dropped (${errorMessage(error)}): drop it on the server with select pg_drop_replication_slot('${slot}')`;
  }
}
