/**
 * The catalog writes of a rebuild, one transaction per object group (a database, a backup with its
 * copy, a base backup, an index batch's segments, a segment read alone, a history), each inserting
 * only what is not recorded yet: a second run from the same storage inserts nothing. Returns what
 * was added, so the report can say "nothing new".
 */
import type pg from 'pg';
import type { BackupManifest } from '../../backup/manifest.ts';
import { HindsightError } from '../../errors.ts';
import type { BaseBackupRecord } from '../../wal/archive-records.ts';
import { parseLsn } from '../../wal/lsn.ts';
import { insertFoundBackup } from '../adopted-backups.ts';
import { databaseIdOf, databaseNotRegistered, withTransaction, type Queryable } from '../db.ts';
import { getStorage } from '../storages.ts';
import type { FoundHistory } from './findings.ts';
import type { RebuiltDatabase } from './plan.ts';

/** What `trigger` and `workflow_id` say of a backup that a rebuild recorded. */
export const REBUILT_TRIGGER = 'rebuilt';

/**
 * The username of a database a rebuild created: storage holds no credentials, so there is none
 * until `hindsight db update` gives one (lib/catalog/rebuild/credentials.ts refuses a backup before).
 */
export const NO_USERNAME = '';

/** Creates a database row with the storage as its only destination; false when the name is taken. */
export async function insertRebuiltDatabase(pool: pg.Pool, db: RebuiltDatabase, storageName: string): Promise<boolean> {
  const storage = await getStorage(pool, storageName);
  return withTransaction(pool, async (tx) => {
    const { rows } = await tx.query<{ id: string }>(
      `insert into databases (name, host, port, dbname, username, schedule, timezone)
       values ($1, $2, $3, $4, $5, null, 'UTC') on conflict (name) do nothing returning id`,
      [db.name, db.host, db.port, db.dbname, NO_USERNAME],
    );
    if (!rows[0]) return false;
    await tx.query('insert into database_storages (database_id, storage_id, position) values ($1, $2, 0)', [
      rows[0].id,
      storage.id,
    ]);
    return true;
  });
}

/** A backup id recorded for another database, or with other checksums, is not the same backup. */
export function otherBackupConflict(
  databaseId: number,
  manifest: BackupManifest,
  recorded: { database_id: string; sha256: string | null } | undefined,
): HindsightError | undefined {
  if (
    !recorded ||
    (Number(recorded.database_id) === databaseId &&
      (recorded.sha256 === null || recorded.sha256 === manifest.dump.sha256))
  )
    return undefined;
  return new HindsightError(
    'conflict',
    `backup ${manifest.backupId} is already recorded as another backup (other database or checksum)`,
  );
}

async function refuseOtherBackup(tx: Queryable, databaseId: number, manifest: BackupManifest): Promise<void> {
  const { rows } = await tx.query<{ database_id: string; sha256: string | null }>(
    'select database_id, sha256 from backups where id = $1',
    [manifest.backupId],
  );
  const conflict = otherBackupConflict(databaseId, manifest, rows[0]);
  if (conflict) throw conflict;
}

/** Records a backup and its copy in the storage; says which of the two were new. */
export async function insertRebuiltBackup(
  pool: pg.Pool,
  manifest: BackupManifest,
  storageName: string,
): Promise<{ backup: boolean; copy: boolean }> {
  const storage = await getStorage(pool, storageName);
  return withTransaction(pool, async (tx) => {
    const databaseId = await databaseIdOf(tx, manifest.database);
    await refuseOtherBackup(tx, databaseId, manifest);
    const workflowId = `${REBUILT_TRIGGER}/${manifest.database}`;
    const backup = await insertFoundBackup(tx, databaseId, manifest, REBUILT_TRIGGER, workflowId);
    const { rowCount } = await tx.query(
      `insert into backup_copies (backup_id, storage_id, status, size_bytes) values ($1, $2, 'complete', $3)
       on conflict (backup_id, storage_id) do nothing`,
      [manifest.backupId, storage.id, manifest.object.sizeBytes],
    );
    return { backup, copy: Boolean(rowCount) };
  });
}

export async function insertRebuiltBaseBackup(
  db: Queryable,
  record: BaseBackupRecord,
  storageName: string,
): Promise<boolean> {
  const databaseId = await databaseIdOf(db, record.database);
  const { rowCount } = await db.query(
    `insert into base_backups (id, database_id, system_identifier, timeline, start_lsn, stop_lsn, start_time, stop_time,
                               status, storage_name, object_key, size_bytes, stored_bytes, sha256, source, workflow_id,
                               kind, parent_id, manifest_key)
     values ($1, $2, $3, $4, $5, $6, $7, $8, 'complete', $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
     on conflict (id) do nothing`,
    [
      record.id,
      databaseId,
      record.systemIdentifier,
      record.timeline,
      parseLsn(record.startLsn).toString(),
      parseLsn(record.stopLsn).toString(),
      record.startedAt,
      record.finishedAt,
      storageName,
      record.object.key,
      record.tar.sizeBytes,
      record.object.sizeBytes,
      record.tar.sha256,
      record.takenFrom,
      `${REBUILT_TRIGGER}/${record.database}`,
      record.kind,
      record.parentId,
      record.backupManifest?.key ?? null,
    ],
  );
  return Boolean(rowCount);
}

export async function insertRebuiltHistory(
  db: Queryable,
  at: { database: string; systemIdentifier: string; storageName: string },
  history: FoundHistory,
): Promise<boolean> {
  const databaseId = await databaseIdOf(db, at.database);
  const { rowCount } = await db.query(
    `insert into wal_histories (database_id, system_identifier, timeline, content, storage_name, object_key)
     values ($1, $2, $3, $4, $5, $6) on conflict (database_id, system_identifier, timeline) do nothing`,
    [databaseId, at.systemIdentifier, history.timeline, history.content, at.storageName, history.objectKey],
  );
  return Boolean(rowCount);
}

/**
 * Makes the archive known to its database: its system identifier and segment size, when the
 * database records none yet. PITR stays as it is (off for a database the rebuild created):
 * streaming starts again only when the operator switches it on.
 */
export async function recordArchiveIdentity(
  db: Queryable,
  database: string,
  systemIdentifier: string,
  walSegmentSize: number | undefined,
): Promise<void> {
  const { rowCount } = await db.query(
    `update databases set system_identifier = coalesce(system_identifier, $2),
                          wal_segment_size = coalesce(wal_segment_size, $3) where name = $1`,
    [database, systemIdentifier, walSegmentSize ?? null],
  );
  if (!rowCount) throw databaseNotRegistered(database);
}

/** The databases and base backup ids the catalog already holds. */
export async function recordedState(db: Queryable): Promise<{ databases: Set<string>; baseBackups: Set<string> }> {
  const databases = await db.query<{ name: string }>('select name from databases');
  const baseBackups = await db.query<{ id: string }>('select id from base_backups');
  return {
    databases: new Set(databases.rows.map((r) => r.name)),
    baseBackups: new Set(baseBackups.rows.map((r) => r.id)),
  };
}
