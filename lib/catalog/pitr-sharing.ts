/**
 * Databases of one PostgreSQL cluster sharing one PITR archive (migration 014): WAL is
 * cluster-wide, so the first database turned on archives the cluster and the others refer to it.
 * A sharing database keeps `pitr_enabled` (its restores read the archive) but has no slot, no
 * archiver and no base-backup schedule of its own.
 */
import { HindsightError } from '../errors.ts';
import { databaseIdOf, type Queryable } from './db.ts';

/**
 * Joins `database` to the archive of `archiveDatabase` (which archives the cluster of the same
 * system identifier): its identity becomes the archive's, so a restore plans against that archive.
 */
export async function joinArchive(db: Queryable, database: string, archiveDatabase: string): Promise<void> {
  const archiveId = await databaseIdOf(db, archiveDatabase);
  const { rowCount } = await db.query(
    `update databases d set pitr_enabled = true, pitr_slot = null, pitr_archive_database_id = a.id,
       system_identifier = a.system_identifier, wal_segment_size = a.wal_segment_size
     from databases a
     where d.name = $1 and a.id = $2 and a.pitr_archive_database_id is null`,
    [database, archiveId],
  );
  if (rowCount !== 1) {
    throw new HindsightError(
      'conflict',
      `database "${database}" cannot join the PITR archive of "${archiveDatabase}": that database shares another's archive itself`,
    );
  }
}

/** Leaves the shared archive: PITR is off for `database`, the archive and its owner are untouched. */
export async function leaveArchive(db: Queryable, database: string): Promise<void> {
  await db.query(
    'update databases set pitr_enabled = false, pitr_archive_database_id = null, system_identifier = null, wal_segment_size = null where name = $1',
    [database],
  );
}

/** The databases that read the archive of `database`, by name. */
export async function archiveSharers(db: Queryable, database: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `select s.name from databases s join databases a on a.id = s.pitr_archive_database_id
     where a.name = $1 order by s.name`,
    [database],
  );
  return rows.map((r) => r.name);
}
