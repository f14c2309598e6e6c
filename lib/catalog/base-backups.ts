import { HindsightError } from '../errors.ts';
import type { Lsn } from '../wal/lsn.ts';
import { allRows, big, databaseIdOf, num, type Queryable } from './db.ts';
import { valuesOf } from './rows.ts';

export type BaseBackupStatus = 'running' | 'complete' | 'failed' | 'deleted';
export type BaseBackupKind = 'full' | 'incremental';

export interface BaseBackupRecord {
  id: string;
  database: string;
  systemIdentifier: string | null;
  timeline: number | null;
  startLsn: Lsn | null;
  stopLsn: Lsn | null;
  startTime: Date;
  stopTime: Date | null;
  status: BaseBackupStatus;
  storageName: string;
  objectKey: string;
  sizeBytes: number | null;
  storedBytes: number | null;
  sha256: string | null;
  source: 'primary' | 'standby';
  workflowId: string | null;
  error: string | null;
  createdAt: Date;
  kind: BaseBackupKind;
  /** The base backup an incremental one was taken against (null for a full). */
  parentId: string | null;
  /** This backup's own backup_manifest, stored beside it: what the next incremental is taken against. */
  manifestKey: string | null;
  /** Why a full was taken where an incremental could have been. */
  kindReason: string | null;
}

export interface NewBaseBackup {
  id: string;
  database: string;
  storageName: string;
  objectKey: string;
  source: 'primary' | 'standby';
  workflowId: string | null;
  kind?: BaseBackupKind;
  parentId?: string | null;
  manifestKey?: string | null;
  kindReason?: string | null;
}

export interface BaseBackupResult {
  systemIdentifier: string;
  timeline: number;
  startLsn: Lsn;
  stopLsn: Lsn;
  startTime: Date;
  stopTime: Date;
  sizeBytes: number;
  storedBytes: number;
  sha256: string;
}

interface BaseBackupRow {
  id: string;
  database_name: string;
  system_identifier: string | null;
  timeline: number | null;
  start_lsn: string | null;
  stop_lsn: string | null;
  start_time: Date;
  stop_time: Date | null;
  status: BaseBackupStatus;
  storage_name: string;
  object_key: string;
  size_bytes: string | null;
  stored_bytes: string | null;
  sha256: string | null;
  source: 'primary' | 'standby';
  workflow_id: string | null;
  error: string | null;
  created_at: Date;
  kind: BaseBackupKind;
  parent_id: string | null;
  manifest_key: string | null;
  kind_reason: string | null;
}

function toBaseBackup(row: BaseBackupRow): BaseBackupRecord {
  return {
    id: row.id,
    database: row.database_name,
    systemIdentifier: row.system_identifier,
    timeline: row.timeline,
    startLsn: big(row.start_lsn),
    stopLsn: big(row.stop_lsn),
    startTime: row.start_time,
    stopTime: row.stop_time,
    status: row.status,
    storageName: row.storage_name,
    objectKey: row.object_key,
    sizeBytes: num(row.size_bytes),
    storedBytes: num(row.stored_bytes),
    sha256: row.sha256,
    source: row.source,
    workflowId: row.workflow_id,
    error: row.error,
    createdAt: row.created_at,
    kind: row.kind,
    parentId: row.parent_id,
    manifestKey: row.manifest_key,
    kindReason: row.kind_reason,
  };
}

const baseSelect = 'select b.*, d.name as database_name from base_backups b join databases d on d.id = b.database_id';

/** Starts (or, for a retried run, restarts) a base backup's row; a retry may change its kind. */
export async function beginBaseBackup(db: Queryable, input: NewBaseBackup): Promise<void> {
  const id = await databaseIdOf(db, input.database);
  await db.query(
    `insert into base_backups (id, database_id, status, storage_name, object_key, source, workflow_id, kind, parent_id, manifest_key, kind_reason)
     values ($1, $2, 'running', $3, $4, $5, $6, $7, $8, $9, $10)
     on conflict (id) do update
       set status = 'running', error = null, start_time = now(), kind = excluded.kind, parent_id = excluded.parent_id,
       manifest_key = excluded.manifest_key, kind_reason = excluded.kind_reason
     where base_backups.status in ('running', 'failed')`,
    [
      input.id,
      id,
      input.storageName,
      input.objectKey,
      input.source,
      input.workflowId,
      input.kind ?? 'full',
      input.parentId ?? null,
      input.manifestKey ?? null,
      input.kindReason ?? null,
    ],
  );
}

export async function completeBaseBackup(db: Queryable, id: string, result: BaseBackupResult): Promise<void> {
  await db.query(
    `update base_backups set status = 'complete', system_identifier = $2, timeline = $3, start_lsn = $4, stop_lsn = $5, start_time = $6,
       stop_time = $7, size_bytes = $8, stored_bytes = $9, sha256 = $10, error = null where id = $1`,
    [
      id,
      ...valuesOf(result, [
        'systemIdentifier',
        'timeline',
        'startLsn',
        'stopLsn',
        'startTime',
        'stopTime',
        'sizeBytes',
        'storedBytes',
        'sha256',
      ]),
    ],
  );
}

export async function failBaseBackup(db: Queryable, id: string, error: string): Promise<void> {
  await db.query(
    `update base_backups set status = 'failed', error = $2, stop_time = now() where id = $1 and status = 'running'`,
    [id, error],
  );
}

export async function markBaseBackupDeleted(db: Queryable, id: string): Promise<void> {
  await db.query(`update base_backups set status = 'deleted' where id = $1`, [id]);
}

export async function getBaseBackup(db: Queryable, id: string): Promise<BaseBackupRecord> {
  const { rows } = await db.query<BaseBackupRow>(`${baseSelect} where b.id = $1`, [id]);
  if (!rows[0]) throw new HindsightError('not_found', `base backup "${id}" does not exist`);
  return toBaseBackup(rows[0]);
}

/** Newest first; pass a status to keep only those (e.g. 'complete' for restores). */
export async function baseBackupsOf(
  db: Queryable,
  database: string,
  options: { status?: BaseBackupStatus } = {},
): Promise<BaseBackupRecord[]> {
  return allRows(
    db,
    `${baseSelect} where d.name = $1 and ($2::text is null or b.status = $2) order by b.start_time desc`,
    [database, options.status ?? null],
    toBaseBackup,
  );
}
