/**
 * What the catalog says exists, read for `hindsight doctor --deep`, which holds it against the
 * storages and Temporal. Read-only: reconciliation reports, it never repairs.
 */
import type pg from 'pg';
import { bind, type Queryable } from './db.ts';

/** A copy of a backup in one storage, with the backup's own state. */
export interface CopyRow {
  backupId: string;
  database: string;
  objectKey: string | null;
  backupStatus: string;
  storage: string;
  copyStatus: string;
  sizeBytes: number | null;
}

export interface RunningBackupRow {
  backupId: string;
  database: string;
  workflowId: string;
  startedAt: Date;
}

/** A WAL object or a base backup the catalog holds as stored. */
export interface ArchiveObjectRow {
  kind: 'wal' | 'base backup';
  database: string;
  systemIdentifier: string;
  storage: string;
  objectKey: string;
  storedBytes: number | null;
  complete: boolean;
}

async function copies(db: Queryable): Promise<CopyRow[]> {
  const { rows } = await db.query<CopyRow>(
    `select b.id as "backupId", d.name as database, b.object_key as "objectKey", b.status as "backupStatus",
            s.name as storage, c.status as "copyStatus", c.size_bytes::float8 as "sizeBytes"
       from backup_copies c
       join backups b on b.id = c.backup_id
       join databases d on d.id = b.database_id
       join storages s on s.id = c.storage_id
      order by s.name, b.id`,
  );
  return rows;
}

/** Every backup id with its status: a manifest in storage is looked up here. */
async function backupStatuses(db: Queryable): Promise<Map<string, string>> {
  const { rows } = await db.query<{ id: string; status: string }>('select id, status from backups');
  return new Map(rows.map((r) => [r.id, r.status]));
}

async function runningBackups(db: Queryable): Promise<RunningBackupRow[]> {
  const { rows } = await db.query<RunningBackupRow>(
    `select b.id as "backupId", d.name as database, b.workflow_id as "workflowId", b.started_at as "startedAt"
       from backups b join databases d on d.id = b.database_id
      where b.status = 'running' order by b.started_at`,
  );
  return rows;
}

/** Databases that should have a backup schedule in Temporal: a cron set, and not dropped on their server. */
async function scheduledDatabases(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    'select name from databases where schedule is not null and dropped_at is null order by name',
  );
  return rows.map((r) => r.name);
}

/** WAL objects (segments, partials, timeline histories) and complete base backups, by storage. */
async function archiveObjects(db: Queryable): Promise<ArchiveObjectRow[]> {
  const { rows } = await db.query<ArchiveObjectRow>(
    `select 'wal' as kind, d.name as database, w.system_identifier as "systemIdentifier", w.storage_name as storage,
            w.object_key as "objectKey", w.stored_bytes::float8 as "storedBytes", w.complete
       from wal_segments w join databases d on d.id = w.database_id
     union all
     select 'wal', d.name, h.system_identifier, h.storage_name, h.object_key, null, true
       from wal_histories h join databases d on d.id = h.database_id
     union all
     select 'base backup', d.name, b.system_identifier, b.storage_name, b.object_key, b.stored_bytes::float8, true
       from base_backups b join databases d on d.id = b.database_id
      where b.status = 'complete'
     order by 4, 5`,
  );
  return rows;
}

export function createReconcileStore(pool: pg.Pool) {
  return bind(pool, { copies, backupStatuses, runningBackups, scheduledDatabases, archiveObjects });
}
