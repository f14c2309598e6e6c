import type pg from 'pg';
import { HindsightError } from '../errors.ts';
import type { TableRowCount } from '../pg/row-counts.ts';
import { allRows, num, withTransaction, type Queryable } from './db.ts';
import { getDatabase } from './databases.ts';
import type { BackupCopy } from './copies.ts';
import type { JobWarning } from './warnings.ts';
import type { RestoreStatus, RestoreSummary } from './restores.ts';

export type BackupStatus = 'running' | 'complete' | 'partial' | 'failed' | 'cancelled';

export interface BackupRecord {
  id: string;
  databaseName: string;
  copies: BackupCopy[];
  workflowId: string;
  status: BackupStatus;
  trigger: string;
  startedAt: Date;
  finishedAt: Date | null;
  objectKey: string | null;
  sizeBytes: number | null;
  dumpBytes: number | null;
  sha256: string | null;
  objectSha256: string | null;
  compression: string | null;
  serverVersion: string | null;
  toolVersion: string | null;
  rowCounts: TableRowCount[] | null;
  error: string | null;
  /** Problems that left the backup usable, e.g. a post_backup hook that failed. */
  warnings: JobWarning[];
  lastRestore: RestoreSummary | null;
}

/** The dump's facts, recorded once it is in storage. */
export interface BackupResult {
  objectKey: string;
  sizeBytes: number;
  dumpBytes: number;
  sha256: string;
  objectSha256: string;
  compression: string;
  serverVersion: string;
  toolVersion: string;
  rowCounts: TableRowCount[];
}

type CopyJson = Omit<BackupCopy, 'updatedAt' | 'sizeBytes'> & { updatedAt: string; sizeBytes: number | string | null };

/** A backups row with its database's name, its copies (as JSON) and its newest restore (r_*). */
interface BackupRow {
  id: string;
  database_name: string;
  copies: CopyJson[];
  workflow_id: string;
  status: BackupStatus;
  trigger: string;
  started_at: Date;
  finished_at: Date | null;
  object_key: string | null;
  size_bytes: string | null;
  dump_bytes: string | null;
  sha256: string | null;
  object_sha256: string | null;
  compression: string | null;
  server_version: string | null;
  tool_version: string | null;
  row_counts: TableRowCount[] | null;
  error: string | null;
  warnings: JobWarning[] | null;
  r_id: string | null;
  r_status: RestoreStatus;
  r_target: string;
  r_finished_at: Date | null;
  r_tables: number | null;
  r_rows: string | null;
  r_error: string | null;
}

const backupSelect = `
  select b.*, d.name as database_name,
         (select coalesce(json_agg(json_build_object('storageName', s.name, 'status', c.status, 'sizeBytes', c.size_bytes,
                  'error', c.error, 'attempts', c.attempts, 'updatedAt', c.updated_at)
                  order by ds.position nulls last, s.name), '[]')
            from backup_copies c join storages s on s.id = c.storage_id
            left join database_storages ds on ds.storage_id = c.storage_id and ds.database_id = b.database_id
           where c.backup_id = b.id) as copies,
         r.id as r_id, r.status as r_status, r.target as r_target, r.finished_at as r_finished_at,
         r.tables_checked as r_tables, r.rows_checked as r_rows, r.error as r_error
  from backups b
  join databases d on d.id = b.database_id
  left join lateral (select * from restores r where r.backup_id = b.id order by r.started_at desc limit 1) r on true`;

function lastRestoreOf(row: BackupRow): RestoreSummary | null {
  if (!row.r_id) return null;
  return {
    id: row.r_id,
    status: row.r_status,
    target: row.r_target,
    finishedAt: row.r_finished_at,
    tablesChecked: row.r_tables,
    rowsChecked: num(row.r_rows),
    error: row.r_error,
  };
}

function toBackup(row: BackupRow): BackupRecord {
  return {
    id: row.id,
    databaseName: row.database_name,
    copies: row.copies.map((c) => ({ ...c, updatedAt: new Date(c.updatedAt), sizeBytes: num(c.sizeBytes) })),
    workflowId: row.workflow_id,
    status: row.status,
    trigger: row.trigger,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    objectKey: row.object_key,
    sizeBytes: num(row.size_bytes),
    dumpBytes: num(row.dump_bytes),
    sha256: row.sha256,
    objectSha256: row.object_sha256,
    compression: row.compression,
    serverVersion: row.server_version,
    toolVersion: row.tool_version,
    rowCounts: row.row_counts,
    error: row.error,
    warnings: row.warnings ?? [],
    lastRestore: lastRestoreOf(row),
  };
}

async function selectBackups(db: Queryable, where: string, values: unknown[]): Promise<BackupRecord[]> {
  return allRows(db, `${backupSelect} ${where}`, values, toBackup);
}

/** Records a backup as running with one pending copy per destination of its database. */
export async function beginBackup(
  pool: pg.Pool,
  input: { id: string; databaseName: string; workflowId: string; trigger: string },
): Promise<{ storageNames: string[] }> {
  const db = await getDatabase(pool, input.databaseName);
  if (db.storageNames.length === 0) {
    throw new HindsightError(
      'bad_input',
      `database "${db.name}" has no storage to back up to (hindsight db storages ${db.name} <storage>...)`,
    );
  }
  await withTransaction(pool, async (tx) => {
    // A retried attempt of the same backup takes the row over again.
    await tx.query(
      `insert into backups (id, database_id, workflow_id, status, trigger) values ($1, $2, $3, 'running', $4)
       on conflict (id) do update set status = 'running', error = null, finished_at = null`,
      [input.id, db.id, input.workflowId, input.trigger],
    );
    await tx.query(
      `insert into backup_copies (backup_id, storage_id, status)
       select $1, storage_id, 'pending' from database_storages where database_id = $2
       on conflict (backup_id, storage_id) do update
         set status = 'pending', error = null, size_bytes = null, updated_at = now()`,
      [input.id, db.id],
    );
  });
  return { storageNames: db.storageNames };
}

/** Stores the dump's facts; the status follows from the copies (all → complete, some → partial). */
export async function completeBackup(db: Queryable, id: string, result: BackupResult): Promise<BackupStatus> {
  await db.query(
    `update backups set finished_at = now(), object_key = $2, size_bytes = $3, dump_bytes = $4,
       sha256 = $5, object_sha256 = $6, compression = $7, server_version = $8, tool_version = $9, row_counts = $10, error = null
     where id = $1`,
    [
      id,
      result.objectKey,
      result.sizeBytes,
      result.dumpBytes,
      result.sha256,
      result.objectSha256,
      result.compression,
      result.serverVersion,
      result.toolVersion,
      JSON.stringify(result.rowCounts),
    ],
  );
  return settleBackupStatus(db, id);
}

/** Derives complete / partial from the copies of a backup whose dump finished. */
export async function settleBackupStatus(db: Queryable, id: string): Promise<BackupStatus> {
  const { rows } = await db.query<{ status: BackupStatus }>(
    `update backups b set status = case
         when not exists (select 1 from backup_copies c where c.backup_id = b.id and c.status <> 'complete')
           then 'complete'
         when exists (select 1 from backup_copies c where c.backup_id = b.id and c.status = 'complete') then 'partial'
         else 'failed' end,
       error = case when exists (select 1 from backup_copies c where c.backup_id = b.id and c.status = 'complete')
         then null
         else coalesce(b.error, 'no storage holds a copy') end
     where b.id = $1 and b.object_key is not null
     returning status`,
    [id],
  );
  if (!rows[0]) throw new HindsightError('not_found', `backup "${id}" has no finished dump`);
  return rows[0].status;
}

/** A running backup ends without a dump; its pending copies fail with it. */
export async function endBackup(
  pool: pg.Pool,
  id: string,
  status: 'failed' | 'cancelled',
  error: string,
): Promise<void> {
  await withTransaction(pool, async (tx) => {
    await tx.query(
      `update backups set status = $2, finished_at = now(), error = $3 where id = $1 and status = 'running'`,
      [id, status, error],
    );
    await tx.query(
      `update backup_copies set status = 'failed', error = coalesce(error, $2), updated_at = now()
       where backup_id = $1 and status = 'pending'`,
      [id, error],
    );
  });
}

/** The storages a backup was meant to reach, in the order a restore should try them. */
export async function copiesOf(db: Queryable, backupId: string): Promise<BackupCopy[]> {
  return (await getBackup(db, backupId)).copies;
}

export async function getBackup(db: Queryable, id: string): Promise<BackupRecord> {
  const [backup] = await selectBackups(db, 'where b.id = $1', [id]);
  if (!backup)
    throw new HindsightError('not_found', `backup "${id}" does not exist (hindsight backups <db> lists them)`);
  return backup;
}

/** Complete and partial backups of a database, newest first: what retention decides about. */
export async function restorableBackups(db: Queryable, databaseName: string): Promise<BackupRecord[]> {
  return selectBackups(db, `where d.name = $1 and b.status in ('complete', 'partial') order by b.started_at desc`, [
    databaseName,
  ]);
}

export async function latestCompleteBackup(db: Queryable, databaseName: string): Promise<BackupRecord> {
  const [backup] = await selectBackups(
    db,
    `where d.name = $1 and b.status in ('complete', 'partial') order by b.started_at desc limit 1`,
    [databaseName],
  );
  if (!backup)
    throw new HindsightError(
      'not_found',
      `database "${databaseName}" has no complete backup yet (run hindsight backup ${databaseName})`,
    );
  return backup;
}

/** Newest first; of one database, or of all (optionally only those of some workspaces). */
export async function listBackups(
  db: Queryable,
  databaseName?: string,
  limit = 100,
  workspaceIds?: number[],
): Promise<BackupRecord[]> {
  if (databaseName)
    return selectBackups(db, 'where d.name = $1 order by b.started_at desc limit $2', [databaseName, limit]);
  if (workspaceIds)
    return selectBackups(db, 'where d.workspace_id = any($2) order by b.started_at desc limit $1', [
      limit,
      workspaceIds,
    ]);
  return selectBackups(db, 'order by b.started_at desc limit $1', [limit]);
}

export async function addBackupWarning(db: Queryable, backupId: string, warning: JobWarning): Promise<void> {
  const warnings = JSON.stringify([warning]);
  await db.query(`update backups set warnings = warnings || $2::jsonb where id = $1`, [backupId, warnings]);
}

export interface OverdueDatabase {
  database: string;
  thresholdHours: number;
  lastBackupId: string | null;
  lastBackupAt: Date | null;
  /** Since when the database counts as unprotected: its last complete backup, or its registration. */
  since: Date;
}

/** Databases with a threshold whose newest complete (or partial) backup is older than it, or that never had one. */
export async function overdueDatabases(db: Queryable, now: Date): Promise<OverdueDatabase[]> {
  const { rows } = await db.query<{
    name: string;
    hours: number;
    created_at: Date;
    backup_id: string | null;
    finished_at: Date | null;
  }>(
    `select d.name, d.backup_overdue_hours as hours, d.created_at, b.id as backup_id, b.finished_at
     from databases d
     left join lateral (select id, coalesce(finished_at, started_at) as finished_at from backups
                        where database_id = d.id and status in ('complete', 'partial')
                        order by coalesce(finished_at, started_at) desc limit 1) b on true
     where d.backup_overdue_hours is not null
       and coalesce(b.finished_at, d.created_at) < $1::timestamptz - make_interval(secs => d.backup_overdue_hours * 3600)
     order by d.name`,
    [now],
  );
  return rows.map((r) => ({
    database: r.name,
    thresholdHours: r.hours,
    lastBackupId: r.backup_id,
    lastBackupAt: r.finished_at,
    since: r.finished_at ?? r.created_at,
  }));
}

/**
 * A backup's object rewritten in storage by a key rotation (its header rewrapped, or the whole
 * object re-encrypted): the SHA-256 and size that restores hold the manifest to from now on.
 */
export async function recordRewrittenObject(
  db: Queryable,
  backupId: string,
  object: { sha256: string; sizeBytes: number },
): Promise<void> {
  await db.query('update backups set object_sha256 = $2, size_bytes = $3 where id = $1', [
    backupId,
    object.sha256,
    object.sizeBytes,
  ]);
  await db.query(`update backup_copies set size_bytes = $2 where backup_id = $1 and status = 'complete'`, [
    backupId,
    object.sizeBytes,
  ]);
}
