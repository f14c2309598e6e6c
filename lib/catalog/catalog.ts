import pg from 'pg';
import { HindsightError } from '../errors.ts';
import { seal, unseal } from '../crypto/sealed.ts';
import type { Keyring } from '../crypto/keyring.ts';
import type { PgTarget } from '../pg/connection.ts';
import type { TableRowCount, RowCountMismatch } from '../pg/row-counts.ts';
import { createAccessStore } from './access.ts';
import { createHealthStore } from './health.ts';
import { createHookStore, type JobWarning } from './hooks.ts';
import { createVerificationStore } from './verifications.ts';
import { createNotifierStore } from './notifiers.ts';
import { sealedContexts } from './sealed-columns.ts';
import { createWalStore } from './wal.ts';
import { joinSecrets, splitSecrets, storageConfigSchema, type StorageConfig } from '../storage/index.ts';

export type BackupStatus = 'running' | 'complete' | 'partial' | 'failed' | 'cancelled';
export type CopyStatus = 'pending' | 'complete' | 'failed';
export type RestoreStatus = 'running' | 'verified' | 'failed';

/** A storage as shown to people: its settings without secrets, and which secrets are set. */
export interface StorageRecord {
  id: number;
  name: string;
  type: StorageConfig['type'];
  settings: Record<string, unknown>;
  hasSecrets: boolean;
  workspaceId: number;
  createdAt: Date;
}

/** One backup's copy in one storage. */
export interface BackupCopy {
  storageName: string;
  status: CopyStatus;
  sizeBytes: number | null;
  error: string | null;
  attempts: number;
  updatedAt: Date;
}

export interface DatabaseRecord {
  id: number;
  name: string;
  host: string;
  port: number;
  dbname: string;
  username: string;
  hasPassword: boolean;
  sslmode: string | null;
  /** Where backups go, in order of preference for restores. */
  storageNames: string[];
  schedule: string | null;
  timezone: string;
  verifyAfterBackup: boolean;
  verifySchedule: string | null;
  retentionPolicy: unknown;
  healthIntervalSeconds: number;
  healthFailureThreshold: number;
  workspaceId: number;
  createdAt: Date;
}

export interface RestoreSummary {
  id: string;
  status: RestoreStatus;
  target: string;
  finishedAt: Date | null;
  tablesChecked: number | null;
  rowsChecked: number | null;
  error: string | null;
}

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

const num = (v: string | number | null): number | null => (v === null ? null : Number(v));

const backupSelect = `
  select b.*, d.name as database_name,
         (select coalesce(json_agg(json_build_object('storageName', s.name, 'status', c.status, 'sizeBytes', c.size_bytes,
                  'error', c.error, 'attempts', c.attempts, 'updatedAt', c.updated_at) order by ds.position nulls last, s.name), '[]')
            from backup_copies c join storages s on s.id = c.storage_id
            left join database_storages ds on ds.storage_id = c.storage_id and ds.database_id = b.database_id
           where c.backup_id = b.id) as copies,
         r.id as r_id, r.status as r_status, r.target as r_target, r.finished_at as r_finished_at,
         r.tables_checked as r_tables, r.rows_checked as r_rows, r.error as r_error
  from backups b
  join databases d on d.id = b.database_id
  left join lateral (select * from restores r where r.backup_id = b.id order by r.started_at desc limit 1) r on true`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toBackup(row: any): BackupRecord {
  return {
    id: row.id,
    databaseName: row.database_name,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    copies: row.copies.map((c: any) => ({ ...c, updatedAt: new Date(c.updatedAt), sizeBytes: num(c.sizeBytes) })),
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
    lastRestore: row.r_id
      ? { id: row.r_id, status: row.r_status, target: row.r_target, finishedAt: row.r_finished_at, tablesChecked: row.r_tables, rowsChecked: num(row.r_rows), error: row.r_error }
      : null,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toDatabase(row: any): DatabaseRecord {
  return {
    id: Number(row.id),
    name: row.name,
    host: row.host,
    port: row.port,
    dbname: row.dbname,
    username: row.username,
    hasPassword: row.sealed_password !== null,
    sslmode: row.sslmode,
    storageNames: row.storage_names ?? [],
    schedule: row.schedule,
    timezone: row.timezone,
    verifyAfterBackup: row.verify_after_backup,
    verifySchedule: row.verify_schedule,
    retentionPolicy: row.retention_policy,
    healthIntervalSeconds: row.health_interval_seconds,
    healthFailureThreshold: row.health_failure_threshold,
    workspaceId: Number(row.workspace_id),
    createdAt: row.created_at,
  };
}

export interface NewDatabase {
  name: string;
  target: PgTarget;
  storageNames: string[];
  schedule: string | null;
  timezone: string;
  verifyAfterBackup?: boolean;
  /** The workspace it belongs to (default: the default workspace, 1). */
  workspaceId?: number;
}

const databaseSelect = `
  select d.*, array(select s.name from database_storages ds join storages s on s.id = ds.storage_id
                    where ds.database_id = d.id order by ds.position) as storage_names
  from databases d`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toStorage(row: any): StorageRecord {
  return { id: Number(row.id), name: row.name, type: row.type, settings: row.config, hasSecrets: row.sealed_secrets !== null, workspaceId: Number(row.workspace_id), createdAt: row.created_at };
}

async function insertDestinations(client: pg.PoolClient, databaseId: number, storageIds: number[]): Promise<void> {
  for (const [position, storageId] of storageIds.entries()) {
    await client.query('insert into database_storages (database_id, storage_id, position) values ($1, $2, $3)', [databaseId, storageId, position]);
  }
}

/** The metadata database. Secrets are sealed with the secret key before they reach a row. */
export function createCatalog(pool: pg.Pool, keys: Keyring) {
  const passwordContext = sealedContexts.databasePassword;
  const storageSecretsContext = sealedContexts.storageSecrets;

  async function storageIdsOf(names: string[]): Promise<number[]> {
    if (names.length === 0) throw new HindsightError('bad_input', 'at least one storage is required');
    if (new Set(names).size !== names.length) throw new HindsightError('bad_input', `storages ${names.join(', ')} name one storage twice`);
    const ids: number[] = [];
    for (const name of names) ids.push((await catalog.getStorage(name)).id);
    return ids;
  }

  const catalog = {
    pool,
    verifications: createVerificationStore(pool),
    health: createHealthStore(pool),
    hooks: createHookStore(pool),
    access: createAccessStore(pool),
    notifiers: createNotifierStore(pool, keys),
    wal: createWalStore(pool, keys),

    async close(): Promise<void> {
      await pool.end();
    },

    /** Creates or replaces a storage; a new one joins `workspaceId`, an existing one keeps its workspace. */
    async upsertStorage(name: string, config: StorageConfig, workspaceId = 1): Promise<StorageRecord> {
      const parsed = storageConfigSchema.parse(config);
      const { settings, secrets } = splitSecrets(parsed);
      const sealed = Object.keys(secrets).length > 0 ? seal(keys.current(), JSON.stringify(secrets), storageSecretsContext(name)) : null;
      await pool.query(
        `insert into storages (name, type, config, sealed_secrets, workspace_id) values ($1, $2, $3, $4, $5)
         on conflict (name) do update set type = excluded.type, config = excluded.config, sealed_secrets = excluded.sealed_secrets`,
        [name, parsed.type, JSON.stringify(settings), sealed, workspaceId],
      );
      return catalog.getStorage(name);
    },

    async getStorage(name: string): Promise<StorageRecord> {
      const { rows } = await pool.query('select * from storages where name = $1', [name]);
      if (!rows[0]) throw new HindsightError('not_found', `storage "${name}" does not exist (hindsight storage list shows the configured ones)`);
      return toStorage(rows[0]);
    },

    /** The full configuration with secrets unsealed: for activities only, never for a response. */
    async storageConfig(name: string): Promise<StorageConfig> {
      const { rows } = await pool.query('select * from storages where name = $1', [name]);
      const row = rows[0];
      if (!row) throw new HindsightError('not_found', `storage "${name}" does not exist (hindsight storage list shows the configured ones)`);
      const secrets = row.sealed_secrets ? JSON.parse(unseal(keys.resolve, row.sealed_secrets, storageSecretsContext(name))) as Record<string, unknown> : {};
      const parsed = storageConfigSchema.safeParse(joinSecrets(row.config, secrets));
      if (!parsed.success) {
        throw new HindsightError('bad_input', `storage "${name}" has an invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')} (update it with hindsight storage add)`);
      }
      return parsed.data;
    },

    async listStorages(): Promise<StorageRecord[]> {
      const { rows } = await pool.query('select * from storages order by name');
      return rows.map(toStorage);
    },

    async removeStorage(name: string): Promise<void> {
      const storage = await catalog.getStorage(name);
      const { rows } = await pool.query(
        `select (select count(*) from database_storages where storage_id = $1)::int as dbs,
                (select count(*) from backup_copies where storage_id = $1 and status = 'complete')::int as copies`,
        [storage.id],
      );
      const { dbs, copies } = rows[0] as { dbs: number; copies: number };
      if (dbs > 0 || copies > 0) {
        throw new HindsightError('conflict', `storage "${name}" is in use by ${dbs} database(s) and holds ${copies} backup copies (move the databases to another storage first)`);
      }
      await pool.query('delete from backup_copies where storage_id = $1', [storage.id]);
      await pool.query('delete from storages where id = $1', [storage.id]);
    },

    async addDatabase(input: NewDatabase): Promise<DatabaseRecord> {
      const storageIds = await storageIdsOf(input.storageNames);
      const sealed = input.target.password !== undefined ? seal(keys.current(), input.target.password, passwordContext(input.name)) : null;
      const client = await pool.connect();
      try {
        await client.query('begin');
        const { rows } = await client.query(
          `insert into databases (name, host, port, dbname, username, sealed_password, sslmode, schedule, timezone, verify_after_backup, workspace_id)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id`,
          [input.name, input.target.host, input.target.port, input.target.database, input.target.user, sealed, input.target.sslmode ?? null, input.schedule, input.timezone, input.verifyAfterBackup ?? true, input.workspaceId ?? 1],
        );
        await insertDestinations(client, Number(rows[0].id), storageIds);
        await client.query('commit');
      } catch (error) {
        await client.query('rollback');
        if ((error as { code?: string }).code === '23505') {
          throw new HindsightError('conflict', `database "${input.name}" is already registered (choose another name or remove it first)`);
        }
        throw error;
      } finally {
        client.release();
      }
      return catalog.getDatabase(input.name);
    },

    /** Replaces where a database's backups go; existing backups keep their copies. */
    async setDestinations(name: string, storageNames: string[]): Promise<DatabaseRecord> {
      const db = await catalog.getDatabase(name);
      const storageIds = await storageIdsOf(storageNames);
      const client = await pool.connect();
      try {
        await client.query('begin');
        await client.query('delete from database_storages where database_id = $1', [db.id]);
        await insertDestinations(client, db.id, storageIds);
        await client.query('commit');
      } catch (error) {
        await client.query('rollback');
        throw error;
      } finally {
        client.release();
      }
      return catalog.getDatabase(name);
    },

    /** Settings of the verification, retention and health workflows; only the fields given change. */
    async updateDatabaseSettings(name: string, settings: { verifyAfterBackup?: boolean; verifySchedule?: string | null; retentionPolicy?: unknown; healthIntervalSeconds?: number; healthFailureThreshold?: number }): Promise<DatabaseRecord> {
      const columns: Record<string, unknown> = {
        verify_after_backup: settings.verifyAfterBackup,
        verify_schedule: settings.verifySchedule,
        retention_policy: settings.retentionPolicy === undefined ? undefined : settings.retentionPolicy === null ? null : JSON.stringify(settings.retentionPolicy),
        health_interval_seconds: settings.healthIntervalSeconds,
        health_failure_threshold: settings.healthFailureThreshold,
      };
      const set = Object.entries(columns).filter(([, v]) => v !== undefined);
      if (set.length > 0) {
        const result = await pool.query(
          `update databases set ${set.map(([c], i) => `${c} = $${i + 2}`).join(', ')} where name = $1`,
          [name, ...set.map(([, v]) => v)],
        );
        if (result.rowCount === 0) throw new HindsightError('not_found', `database "${name}" is not registered`);
      }
      return catalog.getDatabase(name);
    },

    /** Switches the role backups connect as (e.g. to a read-only one); the password is sealed like the URL's. */
    async setDatabaseRole(name: string, user: string, password: string | undefined): Promise<void> {
      const sealed = password !== undefined ? seal(keys.current(), password, passwordContext(name)) : null;
      const result = await pool.query('update databases set username = $2, sealed_password = $3 where name = $1', [name, user, sealed]);
      if (result.rowCount === 0) throw new HindsightError('not_found', `database "${name}" is not registered`);
    },

    async updateSchedule(name: string, schedule: string | null, timezone: string): Promise<void> {
      const result = await pool.query('update databases set schedule = $2, timezone = $3 where name = $1', [name, schedule, timezone]);
      if (result.rowCount === 0) throw new HindsightError('not_found', `database "${name}" is not registered`);
    },

    async removeDatabase(name: string): Promise<void> {
      await pool.query('delete from databases where name = $1', [name]);
    },

    async getDatabase(name: string): Promise<DatabaseRecord> {
      const { rows } = await pool.query(`${databaseSelect} where d.name = $1`, [name]);
      if (!rows[0]) throw new HindsightError('not_found', `database "${name}" is not registered (hindsight db list shows the registered ones)`);
      return toDatabase(rows[0]);
    },

    async findDatabase(name: string): Promise<DatabaseRecord | undefined> {
      const { rows } = await pool.query(`${databaseSelect} where d.name = $1`, [name]);
      return rows[0] ? toDatabase(rows[0]) : undefined;
    },

    async listDatabases(): Promise<DatabaseRecord[]> {
      const { rows } = await pool.query(`${databaseSelect} order by d.name`);
      return rows.map(toDatabase);
    },

    /** The connection with its password unsealed: for activities only, never for a response. */
    async databaseTarget(name: string): Promise<PgTarget> {
      const { rows } = await pool.query('select * from databases where name = $1', [name]);
      const row = rows[0];
      if (!row) throw new HindsightError('not_found', `database "${name}" is not registered`);
      return {
        host: row.host,
        port: row.port,
        database: row.dbname,
        user: row.username,
        password: row.sealed_password ? unseal(keys.resolve, row.sealed_password, passwordContext(name)) : undefined,
        sslmode: row.sslmode ?? undefined,
      };
    },

    /** Records a backup as running with one pending copy per destination of its database. */
    async beginBackup(input: { id: string; databaseName: string; workflowId: string; trigger: string }): Promise<{ storageNames: string[] }> {
      const db = await catalog.getDatabase(input.databaseName);
      if (db.storageNames.length === 0) {
        throw new HindsightError('bad_input', `database "${db.name}" has no storage to back up to (hindsight db storages ${db.name} <storage>...)`);
      }
      const client = await pool.connect();
      try {
        await client.query('begin');
        // A retried attempt of the same backup takes the row over again.
        await client.query(
          `insert into backups (id, database_id, workflow_id, status, trigger) values ($1, $2, $3, 'running', $4)
           on conflict (id) do update set status = 'running', error = null, finished_at = null`,
          [input.id, db.id, input.workflowId, input.trigger],
        );
        await client.query(
          `insert into backup_copies (backup_id, storage_id, status)
           select $1, storage_id, 'pending' from database_storages where database_id = $2
           on conflict (backup_id, storage_id) do update set status = 'pending', error = null, size_bytes = null, updated_at = now()`,
          [input.id, db.id],
        );
        await client.query('commit');
      } catch (error) {
        await client.query('rollback');
        throw error;
      } finally {
        client.release();
      }
      return { storageNames: db.storageNames };
    },

    /** The storages a backup was meant to reach, in the order a restore should try them. */
    async copiesOf(backupId: string): Promise<BackupCopy[]> {
      return (await catalog.getBackup(backupId)).copies;
    },

    async recordCopy(backupId: string, storageName: string, outcome: { status: CopyStatus; sizeBytes?: number; error?: string }): Promise<void> {
      const storage = await catalog.getStorage(storageName);
      await pool.query(
        `insert into backup_copies (backup_id, storage_id, status, size_bytes, error, attempts)
         values ($1, $2, $3, $4, $5, case when $3 = 'pending' then 0 else 1 end)
         on conflict (backup_id, storage_id) do update set status = excluded.status, size_bytes = excluded.size_bytes,
           error = excluded.error, updated_at = now(),
           attempts = backup_copies.attempts + case when excluded.status = 'pending' then 0 else 1 end`,
        [backupId, storage.id, outcome.status, outcome.sizeBytes ?? null, outcome.error ?? null],
      );
    },

    /** Stores the dump's facts; the status follows from the copies (all → complete, some → partial). */
    async completeBackup(id: string, result: {
      objectKey: string; sizeBytes: number; dumpBytes: number; sha256: string; objectSha256: string;
      compression: string; serverVersion: string; toolVersion: string; rowCounts: TableRowCount[];
    }): Promise<BackupStatus> {
      await pool.query(
        `update backups set finished_at = now(), object_key = $2, size_bytes = $3, dump_bytes = $4,
           sha256 = $5, object_sha256 = $6, compression = $7, server_version = $8, tool_version = $9, row_counts = $10, error = null
         where id = $1`,
        [id, result.objectKey, result.sizeBytes, result.dumpBytes, result.sha256, result.objectSha256, result.compression, result.serverVersion, result.toolVersion, JSON.stringify(result.rowCounts)],
      );
      return catalog.settleBackupStatus(id);
    },

    /** Derives complete / partial from the copies of a backup whose dump finished. */
    async settleBackupStatus(id: string): Promise<BackupStatus> {
      const { rows } = await pool.query(
        `update backups b set status = case
             when not exists (select 1 from backup_copies c where c.backup_id = b.id and c.status <> 'complete') then 'complete'
             when exists (select 1 from backup_copies c where c.backup_id = b.id and c.status = 'complete') then 'partial'
             else 'failed' end,
           error = case when exists (select 1 from backup_copies c where c.backup_id = b.id and c.status = 'complete') then null
             else coalesce(b.error, 'no storage holds a copy') end
         where b.id = $1 and b.object_key is not null
         returning status`,
        [id],
      );
      if (!rows[0]) throw new HindsightError('not_found', `backup "${id}" has no finished dump`);
      return rows[0].status;
    },

    async endBackup(id: string, status: 'failed' | 'cancelled', error: string): Promise<void> {
      await pool.query(`update backups set status = $2, finished_at = now(), error = $3 where id = $1 and status = 'running'`, [id, status, error]);
      await pool.query(`update backup_copies set status = 'failed', error = coalesce(error, $2), updated_at = now() where backup_id = $1 and status = 'pending'`, [id, error]);
    },

    async getBackup(id: string): Promise<BackupRecord> {
      const { rows } = await pool.query(`${backupSelect} where b.id = $1`, [id]);
      if (!rows[0]) throw new HindsightError('not_found', `backup "${id}" does not exist (hindsight backups <db> lists them)`);
      return toBackup(rows[0]);
    },

    async latestCompleteBackup(databaseName: string): Promise<BackupRecord> {
      const { rows } = await pool.query(`${backupSelect} where d.name = $1 and b.status in ('complete', 'partial') order by b.started_at desc limit 1`, [databaseName]);
      if (!rows[0]) throw new HindsightError('not_found', `database "${databaseName}" has no complete backup yet (run hindsight backup ${databaseName})`);
      return toBackup(rows[0]);
    },

    /** Newest first; of one database, or of all (optionally only those of some workspaces). */
    async listBackups(databaseName?: string, limit = 100, workspaceIds?: number[]): Promise<BackupRecord[]> {
      const { rows } = databaseName
        ? await pool.query(`${backupSelect} where d.name = $1 order by b.started_at desc limit $2`, [databaseName, limit])
        : workspaceIds
          ? await pool.query(`${backupSelect} where d.workspace_id = any($2) order by b.started_at desc limit $1`, [limit, workspaceIds])
          : await pool.query(`${backupSelect} order by b.started_at desc limit $1`, [limit]);
      return rows.map(toBackup);
    },

    /** Backups that a running restore reads: retention must leave them alone. */
    async backupsBeingRestored(databaseName: string): Promise<Set<string>> {
      const { rows } = await pool.query(
        `select r.backup_id from restores r join backups b on b.id = r.backup_id join databases d on d.id = b.database_id
         where d.name = $1 and r.status = 'running'`,
        [databaseName],
      );
      return new Set(rows.map((r) => r.backup_id as string));
    },

    /** Complete and partial backups of a database, newest first: what retention decides about. */
    async restorableBackups(databaseName: string): Promise<BackupRecord[]> {
      const { rows } = await pool.query(`${backupSelect} where d.name = $1 and b.status in ('complete', 'partial') order by b.started_at desc`, [databaseName]);
      return rows.map(toBackup);
    },

    async markBackupDeleted(id: string, reason: string): Promise<void> {
      await pool.query(`update backups set status = 'deleted', deleted_at = now(), deleted_reason = $2 where id = $1 and status in ('complete', 'partial')`, [id, reason]);
    },

    async recordRestoreSource(id: string, storageName: string): Promise<void> {
      await pool.query('update restores set storage_name = $2 where id = $1', [id, storageName]);
    },

    async beginRestore(input: { id: string; backupId: string; workflowId: string; target: string }): Promise<void> {
      await pool.query(
        `insert into restores (id, backup_id, workflow_id, target, status) values ($1, $2, $3, $4, 'running')
         on conflict (id) do update set status = 'running', error = null, finished_at = null`,
        [input.id, input.backupId, input.workflowId, input.target],
      );
    },

    async endRestore(id: string, result: { status: 'verified' | 'failed'; tablesChecked?: number; rowsChecked?: number; mismatches?: RowCountMismatch[]; error?: string }): Promise<void> {
      await pool.query(
        `update restores set status = $2, finished_at = now(), tables_checked = $3, rows_checked = $4, mismatches = $5, error = $6 where id = $1`,
        [id, result.status, result.tablesChecked ?? null, result.rowsChecked ?? null, result.mismatches ? JSON.stringify(result.mismatches) : null, result.error ?? null],
      );
    },
  };
  return catalog;
}

export type Catalog = ReturnType<typeof createCatalog>;

export function createCatalogPool(target: PgTarget | string): pg.Pool {
  const pool = typeof target === 'string'
    ? new pg.Pool({ connectionString: target, max: 5, application_name: 'hindsight-catalog' })
    : new pg.Pool({ host: target.host, port: target.port, database: target.database, user: target.user, password: target.password, max: 5, application_name: 'hindsight-catalog' });
  pool.on('error', () => { /* an idle client lost its connection; the next query reconnects */ });
  return pool;
}
