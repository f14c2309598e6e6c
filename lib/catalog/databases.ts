import type pg from 'pg';
import { HindsightError } from '../errors.ts';
import { seal, unseal } from '../crypto/sealed.ts';
import type { PgTarget } from '../pg/connection.ts';
import {
  allRows,
  databaseNotRegistered,
  firstRow,
  isUniqueViolation,
  withTransaction,
  type Queryable,
  type SealingDb,
} from './db.ts';
import { effectiveEncryption, type EffectiveEncryption } from './effective-encryption.ts';
import { fieldsOf, type RowOf } from './rows.ts';
import { sealedContexts } from './sealed-columns.ts';
import { storageIdsOf } from './storages.ts';

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
  /** The restore drill's cron, null when the database has no drill (lib/catalog/restore-drills.ts). */
  restoreDrillCron: string | null;
  retentionPolicy: unknown;
  healthIntervalSeconds: number;
  healthFailureThreshold: number;
  /** pg_dump jobs per backup: 1 is the single-stream custom format, more a directory archive (lib/backup/dir-dump.ts). */
  parallelJobs: number;
  /** Public-key mode: the X25519 recipient its objects are encrypted for; null: the secret key. */
  encryptionRecipient: string | null;
  /** KMS mode: the named KMS key (hindsight key kms add) its objects' data keys are wrapped by; null: not. */
  encryptionKms: string | null;
  /** The installation's secret key, chosen over the workspace's default encryption. */
  encryptionSecretKey: boolean;
  /** What new objects are encrypted with: its own setting, else its workspace's, else the secret key. */
  encryption: EffectiveEncryption;
  workspaceId: number;
  createdAt: Date;
}

export interface NewDatabase {
  name: string;
  target: PgTarget;
  storageNames: string[];
  schedule: string | null;
  timezone: string;
  verifyAfterBackup?: boolean;
  parallelJobs?: number;
  encryptionRecipient?: string | null;
  encryptionKms?: string | null;
  encryptionSecretKey?: boolean;
  /** The workspace it belongs to (default: the default workspace, 1). */
  workspaceId?: number;
}

export interface DatabaseSettings {
  verifyAfterBackup?: boolean;
  verifySchedule?: string | null;
  retentionPolicy?: unknown;
  healthIntervalSeconds?: number;
  healthFailureThreshold?: number;
  parallelJobs?: number;
  /** null: back to the secret key. */
  encryptionRecipient?: string | null;
  /** null: out of KMS mode. */
  encryptionKms?: string | null;
  /** false: no own choice of the secret key (the workspace's default applies). */
  encryptionSecretKey?: boolean;
}

/** The columns that pass to a DatabaseRecord as they are. */
const databaseColumns = [
  'name',
  'host',
  'port',
  'dbname',
  'username',
  'sslmode',
  'schedule',
  'timezone',
  'verify_after_backup',
  'verify_schedule',
  'restore_drill_cron',
  'retention_policy',
  'health_interval_seconds',
  'health_failure_threshold',
  'parallel_jobs',
  'encryption_recipient',
  'encryption_kms',
  'encryption_secret_key',
  'created_at',
] as const;

interface DatabaseRow extends RowOf<DatabaseRecord, (typeof databaseColumns)[number]> {
  id: string;
  sealed_password: string | null;
  storage_names: string[] | null;
  workspace_id: string;
  workspace_encryption_recipient: string | null;
  workspace_encryption_kms: string | null;
}

function toDatabase(row: DatabaseRow): DatabaseRecord {
  return {
    ...fieldsOf(row, databaseColumns),
    id: Number(row.id),
    hasPassword: row.sealed_password !== null,
    storageNames: row.storage_names ?? [],
    workspaceId: Number(row.workspace_id),
    encryption: effectiveEncryption(
      { recipient: row.encryption_recipient, kms: row.encryption_kms, secretKey: row.encryption_secret_key },
      { recipient: row.workspace_encryption_recipient, kms: row.workspace_encryption_kms },
    ),
  };
}

const databaseSelect = `
  select d.*, array(select s.name from database_storages ds join storages s on s.id = ds.storage_id
                    where ds.database_id = d.id order by ds.position) as storage_names,
         w.encryption_recipient as workspace_encryption_recipient, w.encryption_kms as workspace_encryption_kms
  from databases d join workspaces w on w.id = d.workspace_id`;

export async function findDatabase(db: Queryable, name: string): Promise<DatabaseRecord | undefined> {
  return firstRow(db, `${databaseSelect} where d.name = $1`, [name], toDatabase);
}

export async function getDatabase(db: Queryable, name: string): Promise<DatabaseRecord> {
  const found = await findDatabase(db, name);
  if (!found)
    throw new HindsightError(
      'not_found',
      `database "${name}" is not registered (hindsight db list shows the registered ones)`,
    );
  return found;
}

export async function listDatabases(db: Queryable): Promise<DatabaseRecord[]> {
  return allRows(db, `${databaseSelect} order by d.name`, [], toDatabase);
}

/** One page of a listing by name: at most `limit` databases of these workspaces named after `after`. */
export interface DatabasePage {
  workspaceIds: number[];
  limit: number;
  after?: string | undefined;
}

/** A page in name order, read by the unique index on the name: the same cost at 10,000 databases as at 10. */
export async function listDatabasePage(db: Queryable, page: DatabasePage): Promise<DatabaseRecord[]> {
  return allRows(
    db,
    `${databaseSelect} where d.workspace_id = any($1) and ($2::text is null or d.name > $2) order by d.name limit $3`,
    [page.workspaceIds, page.after ?? null, page.limit],
    toDatabase,
  );
}

async function insertDestinations(tx: Queryable, databaseId: number, storageIds: number[]): Promise<void> {
  for (const [position, storageId] of storageIds.entries()) {
    await tx.query('insert into database_storages (database_id, storage_id, position) values ($1, $2, $3)', [
      databaseId,
      storageId,
      position,
    ]);
  }
}

export async function addDatabase(s: SealingDb, input: NewDatabase): Promise<DatabaseRecord> {
  const storageIds = await storageIdsOf(s.pool, input.storageNames);
  const { target } = input;
  const sealed =
    target.password !== undefined
      ? seal(s.keys.current(), target.password, sealedContexts.databasePassword(input.name))
      : null;
  try {
    await withTransaction(s.pool, async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        `insert into databases (name, host, port, dbname, username, sealed_password, sslmode, schedule, timezone,
                                verify_after_backup, workspace_id, parallel_jobs, encryption_recipient,
                                encryption_kms, encryption_secret_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) returning id`,
        [
          input.name,
          target.host,
          target.port,
          target.database,
          target.user,
          sealed,
          target.sslmode ?? null,
          input.schedule,
          input.timezone,
          input.verifyAfterBackup ?? true,
          input.workspaceId ?? 1,
          input.parallelJobs ?? 1,
          input.encryptionRecipient ?? null,
          input.encryptionKms ?? null,
          input.encryptionSecretKey ?? false,
        ],
      );
      await insertDestinations(tx, Number(rows[0]!.id), storageIds);
    });
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new HindsightError(
        'conflict',
        `database "${input.name}" is already registered (choose another name or remove it first)`,
      );
    }
    throw error;
  }
  return getDatabase(s.pool, input.name);
}

/** Replaces where a database's backups go; existing backups keep their copies. */
export async function setDestinations(pool: pg.Pool, name: string, storageNames: string[]): Promise<DatabaseRecord> {
  const db = await getDatabase(pool, name);
  const storageIds = await storageIdsOf(pool, storageNames);
  await withTransaction(pool, async (tx) => {
    // A storage that stays keeps its own retention policy.
    const { rows: kept } = await tx.query<{ storage_id: string; retention_policy: unknown }>(
      'delete from database_storages where database_id = $1 returning storage_id, retention_policy',
      [db.id],
    );
    await insertDestinations(tx, db.id, storageIds);
    for (const row of kept.filter((r) => r.retention_policy !== null)) {
      await tx.query('update database_storages set retention_policy = $3 where database_id = $1 and storage_id = $2', [
        db.id,
        row.storage_id,
        JSON.stringify(row.retention_policy),
      ]);
    }
  });
  return getDatabase(pool, name);
}

async function updateExisting(db: Queryable, name: string, sql: string, values: unknown[]): Promise<void> {
  const result = await db.query(sql, [name, ...values]);
  if (result.rowCount === 0) throw new HindsightError('not_found', `database "${name}" is not registered`);
}

/** Settings of the verification, retention and health workflows; only the fields given change. */
export async function updateDatabaseSettings(
  db: Queryable,
  name: string,
  settings: DatabaseSettings,
): Promise<DatabaseRecord> {
  const policy = settings.retentionPolicy;
  const columns: Record<string, unknown> = {
    verify_after_backup: settings.verifyAfterBackup,
    verify_schedule: settings.verifySchedule,
    retention_policy: policy === undefined ? undefined : policy === null ? null : JSON.stringify(policy),
    health_interval_seconds: settings.healthIntervalSeconds,
    health_failure_threshold: settings.healthFailureThreshold,
    parallel_jobs: settings.parallelJobs,
    encryption_recipient: settings.encryptionRecipient,
    encryption_kms: settings.encryptionKms,
    encryption_secret_key: settings.encryptionSecretKey,
  };
  const set = Object.entries(columns).filter(([, v]) => v !== undefined);
  if (set.length > 0) {
    const assignments = set.map(([c], i) => `${c} = $${i + 2}`).join(', ');
    await updateExisting(
      db,
      name,
      `update databases set ${assignments} where name = $1`,
      set.map(([, v]) => v),
    );
  }
  return getDatabase(db, name);
}

/** Switches the role backups connect as (e.g. to a read-only one); the password is sealed like the URL's. */
export async function setDatabaseRole(
  s: SealingDb,
  name: string,
  user: string,
  password: string | undefined,
): Promise<void> {
  const sealed =
    password !== undefined ? seal(s.keys.current(), password, sealedContexts.databasePassword(name)) : null;
  await updateExisting(s.pool, name, 'update databases set username = $2, sealed_password = $3 where name = $1', [
    user,
    sealed,
  ]);
}

/**
 * Points a database at another server, database, role or password. Its row, and so its id and the
 * backups recorded under its name, stay: only where backups connect changes.
 */
export async function setDatabaseConnection(s: SealingDb, name: string, target: PgTarget): Promise<void> {
  const sealed =
    target.password !== undefined
      ? seal(s.keys.current(), target.password, sealedContexts.databasePassword(name))
      : null;
  await updateExisting(
    s.pool,
    name,
    'update databases set host = $2, port = $3, dbname = $4, username = $5, sealed_password = $6, sslmode = $7 where name = $1',
    [target.host, target.port, target.database, target.user, sealed, target.sslmode ?? null],
  );
}

export async function updateSchedule(
  db: Queryable,
  name: string,
  schedule: string | null,
  timezone: string,
): Promise<void> {
  await updateExisting(db, name, 'update databases set schedule = $2, timezone = $3 where name = $1', [
    schedule,
    timezone,
  ]);
}

/**
 * Gives a database another name. Its id, and so its backups, copies and history, stay; its sealed
 * secrets are bound to the name, so they are sealed again for the new one in the same transaction.
 */
export async function renameDatabase(s: SealingDb, name: string, newName: string): Promise<DatabaseRecord> {
  try {
    await withTransaction(s.pool, async (tx) => {
      const { rows } = await tx.query<{
        sealed_password: string | null;
        sealed_base_backup_url: string | null;
        sealed_restore_drill_url: string | null;
      }>(
        'select sealed_password, sealed_base_backup_url, sealed_restore_drill_url from databases where name = $1 for update',
        [name],
      );
      const row = rows[0];
      if (!row) throw databaseNotRegistered(name);
      const move = (sealed: string | null, context: (n: string) => string) =>
        sealed === null
          ? null
          : seal(s.keys.current(), unseal(s.keys.resolve, sealed, context(name)), context(newName));
      await tx.query(
        `update databases set name = $2, sealed_password = $3, sealed_base_backup_url = $4, sealed_restore_drill_url = $5
          where name = $1`,
        [
          name,
          newName,
          move(row.sealed_password, sealedContexts.databasePassword),
          move(row.sealed_base_backup_url, sealedContexts.databaseBaseBackupUrl),
          move(row.sealed_restore_drill_url, sealedContexts.databaseRestoreDrillUrl),
        ],
      );
    });
  } catch (error) {
    if (isUniqueViolation(error))
      throw new HindsightError('conflict', `database "${newName}" is already registered: choose another name`);
    throw error;
  }
  return getDatabase(s.pool, newName);
}

export async function removeDatabase(db: Queryable, name: string): Promise<void> {
  await db.query('delete from databases where name = $1', [name]);
}

/** The connection with its password unsealed: for activities only, never for a response. */
export async function databaseTarget(s: SealingDb, name: string): Promise<PgTarget> {
  const { rows } = await s.pool.query<DatabaseRow>('select * from databases where name = $1', [name]);
  const row = rows[0];
  if (!row) throw new HindsightError('not_found', `database "${name}" is not registered`);
  return {
    host: row.host,
    port: row.port,
    database: row.dbname,
    user: row.username,
    password: row.sealed_password
      ? unseal(s.keys.resolve, row.sealed_password, sealedContexts.databasePassword(name))
      : undefined,
    sslmode: row.sslmode ?? undefined,
  };
}
