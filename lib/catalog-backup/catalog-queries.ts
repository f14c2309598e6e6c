/**
 * What backing up and restoring the catalog asks of the catalog database itself: where it is, which
 * migration it is at, where backups go, and whether it holds anything yet.
 */
import type pg from 'pg';
import type { Queryable } from '../catalog/db.ts';
import { parsePgUrl, type PgTarget } from '../pg/connection.ts';

/** The catalog's own connection, as pg_dump and pg_restore need it, from the pool that reaches it. */
export function catalogTargetOf(pool: pg.Pool): PgTarget {
  const options = pool.options as pg.PoolConfig;
  if (options.connectionString) return parsePgUrl(options.connectionString);
  return {
    host: String(options.host ?? '127.0.0.1'),
    port: Number(options.port ?? 5432),
    database: String(options.database ?? 'postgres'),
    user: String(options.user ?? 'postgres'),
    password: typeof options.password === 'string' ? options.password : undefined,
  };
}

/** The last migration applied, e.g. `011_incremental_base_backups`; null before any. */
export async function schemaVersion(db: Queryable): Promise<string | null> {
  const { rows } = await db.query<{ version: string | null }>(
    `select (select max(version) from schema_migrations) as version
      where to_regclass('schema_migrations') is not null`,
  );
  return rows[0]?.version ?? null;
}

/**
 * The storages that hold backups: a destination of some database (its dumps and PITR archive go
 * there) or the place of a complete copy. A catalog backup goes to each.
 */
export async function storagesHoldingBackups(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `select s.name from storages s
      where exists (select 1 from database_storages d where d.storage_id = s.id)
         or exists (select 1 from backup_copies c where c.storage_id = s.id and c.status = 'complete')
      order by s.name`,
  );
  return rows.map((r) => r.name);
}

/** What a catalog holds that a restore would replace. */
export interface CatalogContents {
  databases: string[];
  storages: string[];
  /** Complete backups, by database. */
  backups: Record<string, number>;
  users: number;
  notifiers: number;
  workspaces: number;
}

export async function catalogContents(db: Queryable): Promise<CatalogContents> {
  const { rows } = await db.query<{
    databases: string[] | null;
    storages: string[] | null;
    backups: Record<string, number> | null;
    users: string;
    notifiers: string;
    workspaces: string;
  }>(
    `select (select array_agg(name order by name) from databases) as databases,
            (select array_agg(name order by name) from storages) as storages,
            (select jsonb_object_agg(name, n) from (
               select d.name, count(*) as n from backups b join databases d on d.id = b.database_id
                where b.status = 'complete' group by d.name) c) as backups,
            (select count(*) from users)::text as users,
            (select count(*) from notifiers)::text as notifiers,
            (select count(*) from workspaces)::text as workspaces`,
  );
  const row = rows[0]!;
  return {
    databases: row.databases ?? [],
    storages: row.storages ?? [],
    backups: row.backups ?? {},
    users: Number(row.users),
    notifiers: Number(row.notifiers),
    workspaces: Number(row.workspaces),
  };
}

/**
 * Why a catalog is not empty, or nothing when it is. Empty is what a fresh installation holds
 * before anyone uses it: the migrations, the default workspace, storages, and the databases it
 * registers by itself (`setupDatabases`: `npm start`'s demo, with its backups). A database of
 * someone's, a user account or a notifier is work that a restore would silently replace.
 */
export function notEmptyBecause(contents: CatalogContents, setupDatabases: readonly string[]): string | undefined {
  const theirs = contents.databases.filter((d) => !setupDatabases.includes(d));
  const found: string[] = [];
  if (theirs.length > 0) found.push(`databases ${theirs.join(', ')}`);
  if (contents.users > 0) found.push(`${contents.users} user accounts`);
  if (contents.notifiers > 0) found.push(`${contents.notifiers} notifiers`);
  if (contents.workspaces > 1) found.push(`${contents.workspaces - 1} workspaces besides "default"`);
  return found.length > 0 ? found.join(', ') : undefined;
}
