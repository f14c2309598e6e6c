import type pg from 'pg';
import { HindsightError } from '../errors.ts';
import { splitSecrets, storageConfigSchema, type StorageConfig } from '../storage/index.ts';
import { allRows, withTransaction, type Queryable, type SealingDb } from './db.ts';
import { fieldsOf } from './rows.ts';
import { openSealedConfig, sealSecrets } from './sealed-config.ts';
import { sealedContexts } from './sealed-columns.ts';

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

interface StorageRow {
  id: string;
  name: string;
  type: StorageConfig['type'];
  config: Record<string, unknown>;
  sealed_secrets: string | null;
  workspace_id: string;
  created_at: Date;
}

function toStorage(row: StorageRow): StorageRecord {
  return {
    id: Number(row.id),
    ...fieldsOf(row, ['name', 'type', 'created_at']),
    settings: row.config,
    hasSecrets: row.sealed_secrets !== null,
    workspaceId: Number(row.workspace_id),
  };
}

async function storageRow(db: Queryable, name: string): Promise<StorageRow> {
  const { rows } = await db.query<StorageRow>('select * from storages where name = $1', [name]);
  if (!rows[0])
    throw new HindsightError(
      'not_found',
      `storage "${name}" does not exist (hindsight storage list shows the configured ones)`,
    );
  return rows[0];
}

export async function getStorage(db: Queryable, name: string): Promise<StorageRecord> {
  return toStorage(await storageRow(db, name));
}

export async function listStorages(db: Queryable): Promise<StorageRecord[]> {
  return allRows(db, 'select * from storages order by name', [], toStorage);
}

/** Creates or replaces a storage; a new one joins `workspaceId`, an existing one keeps its workspace. */
export async function upsertStorage(
  s: SealingDb,
  name: string,
  config: StorageConfig,
  workspaceId = 1,
): Promise<StorageRecord> {
  const parsed = storageConfigSchema.parse(config);
  const { settings, secrets } = splitSecrets(parsed);
  const sealed = sealSecrets(s.keys, secrets, sealedContexts.storageSecrets(name));
  await s.pool.query(
    `insert into storages (name, type, config, sealed_secrets, workspace_id) values ($1, $2, $3, $4, $5)
     on conflict (name) do update
       set type = excluded.type, config = excluded.config, sealed_secrets = excluded.sealed_secrets`,
    [name, parsed.type, JSON.stringify(settings), sealed, workspaceId],
  );
  return getStorage(s.pool, name);
}

/** The full configuration with secrets unsealed: for activities only, never for a response. */
export async function storageConfig(s: SealingDb, name: string): Promise<StorageConfig> {
  const row = await storageRow(s.pool, name);
  return openSealedConfig(
    s.keys,
    { settings: row.config, sealed: row.sealed_secrets, context: sealedContexts.storageSecrets(name) },
    storageConfigSchema,
    { what: `storage "${name}"`, fix: 'update it with hindsight storage add' },
  );
}

/** How many complete backup copies the catalog records in the storage. */
export async function completeCopiesIn(db: Queryable, name: string): Promise<number> {
  const { rows } = await db.query<{ copies: number }>(
    `select count(*)::int as copies from backup_copies c join storages s on s.id = c.storage_id
      where s.name = $1 and c.status = 'complete'`,
    [name],
  );
  return rows[0]?.copies ?? 0;
}

/** Removes a storage that no database uses and that holds no complete copy. */
export async function removeStorage(pool: pg.Pool, name: string): Promise<void> {
  const storage = await getStorage(pool, name);
  await withTransaction(pool, async (tx) => {
    const { rows } = await tx.query<{ dbs: number; copies: number }>(
      `select (select count(*) from database_storages where storage_id = $1)::int as dbs,
              (select count(*) from backup_copies where storage_id = $1 and status = 'complete')::int as copies`,
      [storage.id],
    );
    const { dbs, copies } = rows[0]!;
    if (dbs > 0 || copies > 0) {
      throw new HindsightError(
        'conflict',
        `storage "${name}" is in use by ${dbs} database(s) and holds ${copies} backup copies (move the databases to another storage first)`,
      );
    }
    await tx.query('delete from backup_copies where storage_id = $1', [storage.id]);
    await tx.query('delete from storages where id = $1', [storage.id]);
  });
}

/** The ids of the named storages, in order; at least one, none twice. */
export async function storageIdsOf(db: Queryable, names: string[]): Promise<number[]> {
  if (names.length === 0) throw new HindsightError('bad_input', 'at least one storage is required');
  if (new Set(names).size !== names.length)
    throw new HindsightError('bad_input', `storages ${names.join(', ')} name one storage twice`);
  const ids: number[] = [];
  for (const name of names) ids.push((await getStorage(db, name)).id);
  return ids;
}
