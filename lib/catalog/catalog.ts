import pg from 'pg';
import { HindsightError } from '../errors.ts';
import { seal, unseal } from '../crypto/sealed.ts';
import type { SecretKey } from '../crypto/secret-key.ts';
import type { PgTarget } from '../pg/connection.ts';
import type { TableRowCount, RowCountMismatch } from '../pg/row-counts.ts';
import { storageConfigSchema, type StorageConfig } from '../storage/index.ts';

export type BackupStatus = 'running' | 'complete' | 'failed' | 'cancelled';
export type RestoreStatus = 'running' | 'verified' | 'failed';

export interface StorageRecord {
  id: number;
  name: string;
  config: StorageConfig;
  createdAt: Date;
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
  storageName: string;
  schedule: string | null;
  timezone: string;
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
  storageName: string;
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
  lastRestore: RestoreSummary | null;
}

const num = (v: string | number | null): number | null => (v === null ? null : Number(v));

const backupSelect = `
  select b.*, d.name as database_name, s.name as storage_name,
         r.id as r_id, r.status as r_status, r.target as r_target, r.finished_at as r_finished_at,
         r.tables_checked as r_tables, r.rows_checked as r_rows, r.error as r_error
  from backups b
  join databases d on d.id = b.database_id
  join storages s on s.id = b.storage_id
  left join lateral (select * from restores r where r.backup_id = b.id order by r.started_at desc limit 1) r on true`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toBackup(row: any): BackupRecord {
  return {
    id: row.id,
    databaseName: row.database_name,
    storageName: row.storage_name,
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
    storageName: row.storage_name,
    schedule: row.schedule,
    timezone: row.timezone,
    createdAt: row.created_at,
  };
}

export interface NewDatabase {
  name: string;
  target: PgTarget;
  storageName: string;
  schedule: string | null;
  timezone: string;
}

/** The metadata database. Secrets are sealed with the secret key before they reach a row. */
export function createCatalog(pool: pg.Pool, key: SecretKey) {
  const passwordContext = (name: string) => `database:${name}:password`;

  const catalog = {
    pool,

    async close(): Promise<void> {
      await pool.end();
    },

    async upsertStorage(name: string, config: StorageConfig): Promise<StorageRecord> {
      const parsed = storageConfigSchema.parse(config);
      const { rows } = await pool.query(
        `insert into storages (name, type, config) values ($1, $2, $3)
         on conflict (name) do update set type = excluded.type, config = excluded.config
         returning id, name, config, created_at`,
        [name, parsed.type, JSON.stringify(parsed)],
      );
      const row = rows[0];
      return { id: Number(row.id), name: row.name, config: row.config, createdAt: row.created_at };
    },

    async getStorage(name: string): Promise<StorageRecord> {
      const { rows } = await pool.query('select id, name, config, created_at from storages where name = $1', [name]);
      const row = rows[0];
      if (!row) throw new HindsightError('not_found', `storage "${name}" does not exist (hindsight storage list shows the configured ones)`);
      return { id: Number(row.id), name: row.name, config: storageConfigSchema.parse(row.config), createdAt: row.created_at };
    },

    async listStorages(): Promise<StorageRecord[]> {
      const { rows } = await pool.query('select id, name, config, created_at from storages order by name');
      return rows.map((row) => ({ id: Number(row.id), name: row.name, config: row.config, createdAt: row.created_at }));
    },

    async addDatabase(input: NewDatabase): Promise<DatabaseRecord> {
      const storage = await catalog.getStorage(input.storageName);
      const sealed = input.target.password !== undefined ? seal(key, input.target.password, passwordContext(input.name)) : null;
      try {
        await pool.query(
          `insert into databases (name, host, port, dbname, username, sealed_password, sslmode, storage_id, schedule, timezone)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [input.name, input.target.host, input.target.port, input.target.database, input.target.user, sealed, input.target.sslmode ?? null, storage.id, input.schedule, input.timezone],
        );
      } catch (error) {
        if ((error as { code?: string }).code === '23505') {
          throw new HindsightError('conflict', `database "${input.name}" is already registered (choose another name or remove it first)`);
        }
        throw error;
      }
      return catalog.getDatabase(input.name);
    },

    async updateSchedule(name: string, schedule: string | null, timezone: string): Promise<void> {
      const result = await pool.query('update databases set schedule = $2, timezone = $3 where name = $1', [name, schedule, timezone]);
      if (result.rowCount === 0) throw new HindsightError('not_found', `database "${name}" is not registered`);
    },

    async removeDatabase(name: string): Promise<void> {
      await pool.query('delete from databases where name = $1', [name]);
    },

    async getDatabase(name: string): Promise<DatabaseRecord> {
      const { rows } = await pool.query('select d.*, s.name as storage_name from databases d join storages s on s.id = d.storage_id where d.name = $1', [name]);
      if (!rows[0]) throw new HindsightError('not_found', `database "${name}" is not registered (hindsight db list shows the registered ones)`);
      return toDatabase(rows[0]);
    },

    async findDatabase(name: string): Promise<DatabaseRecord | undefined> {
      const { rows } = await pool.query('select d.*, s.name as storage_name from databases d join storages s on s.id = d.storage_id where d.name = $1', [name]);
      return rows[0] ? toDatabase(rows[0]) : undefined;
    },

    async listDatabases(): Promise<DatabaseRecord[]> {
      const { rows } = await pool.query('select d.*, s.name as storage_name from databases d join storages s on s.id = d.storage_id order by d.name');
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
        password: row.sealed_password ? unseal(key, row.sealed_password, passwordContext(name)) : undefined,
        sslmode: row.sslmode ?? undefined,
      };
    },

    async beginBackup(input: { id: string; databaseName: string; workflowId: string; trigger: string }): Promise<void> {
      const db = await catalog.getDatabase(input.databaseName);
      const storage = await catalog.getStorage(db.storageName);
      // A retried attempt of the same backup takes the row over again.
      await pool.query(
        `insert into backups (id, database_id, storage_id, workflow_id, status, trigger)
         values ($1, $2, $3, $4, 'running', $5)
         on conflict (id) do update set status = 'running', error = null, finished_at = null`,
        [input.id, db.id, storage.id, input.workflowId, input.trigger],
      );
    },

    async completeBackup(id: string, result: {
      objectKey: string; sizeBytes: number; dumpBytes: number; sha256: string; objectSha256: string;
      compression: string; serverVersion: string; toolVersion: string; rowCounts: TableRowCount[];
    }): Promise<void> {
      await pool.query(
        `update backups set status = 'complete', finished_at = now(), object_key = $2, size_bytes = $3, dump_bytes = $4,
           sha256 = $5, object_sha256 = $6, compression = $7, server_version = $8, tool_version = $9, row_counts = $10, error = null
         where id = $1`,
        [id, result.objectKey, result.sizeBytes, result.dumpBytes, result.sha256, result.objectSha256, result.compression, result.serverVersion, result.toolVersion, JSON.stringify(result.rowCounts)],
      );
    },

    async endBackup(id: string, status: 'failed' | 'cancelled', error: string): Promise<void> {
      await pool.query(`update backups set status = $2, finished_at = now(), error = $3 where id = $1 and status = 'running'`, [id, status, error]);
    },

    async getBackup(id: string): Promise<BackupRecord> {
      const { rows } = await pool.query(`${backupSelect} where b.id = $1`, [id]);
      if (!rows[0]) throw new HindsightError('not_found', `backup "${id}" does not exist (hindsight backups <db> lists them)`);
      return toBackup(rows[0]);
    },

    async latestCompleteBackup(databaseName: string): Promise<BackupRecord> {
      const { rows } = await pool.query(`${backupSelect} where d.name = $1 and b.status = 'complete' order by b.started_at desc limit 1`, [databaseName]);
      if (!rows[0]) throw new HindsightError('not_found', `database "${databaseName}" has no complete backup yet (run hindsight backup ${databaseName})`);
      return toBackup(rows[0]);
    },

    async listBackups(databaseName?: string, limit = 100): Promise<BackupRecord[]> {
      const { rows } = databaseName
        ? await pool.query(`${backupSelect} where d.name = $1 order by b.started_at desc limit $2`, [databaseName, limit])
        : await pool.query(`${backupSelect} order by b.started_at desc limit $1`, [limit]);
      return rows.map(toBackup);
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
