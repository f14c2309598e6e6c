/**
 * Servers (PostgreSQL clusters) and the databases registered through them. A server's password is
 * sealed like a database's; a database it registered keeps `server_id`, and one the server no
 * longer has gets `dropped_at` (its row, and so its backups, stay).
 */
import type pg from 'pg';
import { seal, unseal } from '../crypto/sealed.ts';
import { HindsightError } from '../errors.ts';
import type { PgTarget } from '../pg/connection.ts';
import { allRows, bind, firstRow, isUniqueViolation, type Queryable, type SealingDb } from './db.ts';
import { fieldsOf, type RowOf } from './rows.ts';
import { sealedContexts } from './sealed-columns.ts';
import { serverArchive, serverOfArchive, setServerArchive } from './servers-pitr.ts';
import { drillSchedule, drillSummaries, drillsOf, recordPitrDrill, setDrillSchedule } from './pitr-drills.ts';

/** What a server's runs do; `add` takes them all, `update` the ones given. */
export interface ServerOptions {
  allDatabases: boolean;
  includePostgres: boolean;
  excludes: string[];
  storageNames: string[];
  schedule: string | null;
  timezone: string;
  retentionPolicy: unknown;
  verifyAfterBackup: boolean;
}

export interface ServerRecord extends ServerOptions {
  id: number;
  name: string;
  workspaceId: number;
  /** The cluster's identity (pg_control_system()), recorded when it was added. */
  systemIdentifier: string;
  serverVersion: string;
  /** Where runs connect to list the databases; the password is only ever told as present or not. */
  username: string;
  host: string;
  port: number;
  sslmode: string | null;
  dbname: string;
  hasPassword: boolean;
  lastRunAt: Date | null;
  lastRun: unknown;
  createdAt: Date;
  /** The PITR drill cron (migration 023); null when drills are off. */
  pitrDrillSchedule: string | null;
}

export interface NewServer extends ServerOptions {
  name: string;
  workspaceId: number;
  target: PgTarget;
  systemIdentifier: string;
  serverVersion: string;
}

/** A database registered through a server, as its runs see it. */
export interface ServerDatabase {
  name: string;
  datname: string;
  droppedAt: Date | null;
  createdAt: Date;
}

const serverColumns = [
  'name',
  'system_identifier',
  'server_version',
  'username',
  'host',
  'port',
  'sslmode',
  'dbname',
  'all_databases',
  'include_postgres',
  'excludes',
  'storage_names',
  'schedule',
  'timezone',
  'retention_policy',
  'verify_after_backup',
  'last_run_at',
  'last_run',
  'created_at',
] as const;

interface ServerRow extends RowOf<ServerRecord, (typeof serverColumns)[number]> {
  id: string;
  workspace_id: string;
  sealed_password: string | null;
  pitr_drill_schedule: string | null;
}

function toServer(row: ServerRow): ServerRecord {
  return {
    ...fieldsOf(row, serverColumns),
    id: Number(row.id),
    workspaceId: Number(row.workspace_id),
    hasPassword: row.sealed_password !== null,
    pitrDrillSchedule: row.pitr_drill_schedule,
  };
}

const notRegistered = (name: string) =>
  new HindsightError(
    'not_found',
    `server "${name}" is not registered (hindsight server list shows the registered ones)`,
  );

export async function findServer(db: Queryable, name: string): Promise<ServerRecord | undefined> {
  return firstRow(db, 'select * from servers where name = $1', [name], toServer);
}

export async function getServer(db: Queryable, name: string): Promise<ServerRecord> {
  const found = await findServer(db, name);
  if (!found) throw notRegistered(name);
  return found;
}

export async function listServers(db: Queryable): Promise<ServerRecord[]> {
  return allRows(db, 'select * from servers order by name', [], toServer);
}

const sealPassword = (s: SealingDb, name: string, password: string | undefined) =>
  password === undefined ? null : seal(s.keys.current(), password, sealedContexts.serverPassword(name));

async function addServer(s: SealingDb, input: NewServer): Promise<ServerRecord> {
  const { target } = input;
  try {
    await s.pool.query(
      `insert into servers (name, workspace_id, host, port, dbname, username, sealed_password, sslmode,
                            system_identifier, server_version, all_databases, include_postgres, excludes,
                            storage_names, schedule, timezone, retention_policy, verify_after_backup)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
      [
        input.name,
        input.workspaceId,
        target.host,
        target.port,
        target.database,
        target.user,
        sealPassword(s, input.name, target.password),
        target.sslmode ?? null,
        input.systemIdentifier,
        input.serverVersion,
        input.allDatabases,
        input.includePostgres,
        input.excludes,
        input.storageNames,
        input.schedule,
        input.timezone,
        input.retentionPolicy === null ? null : JSON.stringify(input.retentionPolicy),
        input.verifyAfterBackup,
      ],
    );
  } catch (error) {
    if (isUniqueViolation(error))
      throw new HindsightError('conflict', `server "${input.name}" is already registered (choose another name)`);
    throw error;
  }
  return getServer(s.pool, input.name);
}

/** Changes what a server's runs do; only the fields given change. */
async function updateServerOptions(db: Queryable, name: string, changes: Partial<ServerOptions>) {
  const policy = changes.retentionPolicy;
  const columns: Record<string, unknown> = {
    all_databases: changes.allDatabases,
    include_postgres: changes.includePostgres,
    excludes: changes.excludes,
    storage_names: changes.storageNames,
    schedule: changes.schedule,
    timezone: changes.timezone,
    retention_policy: policy === undefined ? undefined : policy === null ? null : JSON.stringify(policy),
    verify_after_backup: changes.verifyAfterBackup,
  };
  const set = Object.entries(columns).filter(([, v]) => v !== undefined);
  if (set.length > 0) {
    const assignments = set.map(([c], i) => `${c} = $${i + 2}`).join(', ');
    const { rowCount } = await db.query(`update servers set ${assignments} where name = $1`, [
      name,
      ...set.map(([, v]) => v),
    ]);
    if (!rowCount) throw notRegistered(name);
  }
  return getServer(db, name);
}

async function removeServer(db: Queryable, name: string): Promise<void> {
  await db.query('delete from servers where name = $1', [name]);
}

/** The server's connection with its password unsealed, to `database` instead of its own: activities only. */
async function serverTarget(s: SealingDb, name: string, database?: string): Promise<PgTarget> {
  const { rows } = await s.pool.query<ServerRow>('select * from servers where name = $1', [name]);
  const row = rows[0];
  if (!row) throw notRegistered(name);
  return {
    host: row.host,
    port: row.port,
    database: database ?? row.dbname,
    user: row.username,
    password: row.sealed_password
      ? unseal(s.keys.resolve, row.sealed_password, sealedContexts.serverPassword(name))
      : undefined,
    sslmode: row.sslmode ?? undefined,
  };
}

/** Every database registered through the server, dropped ones included. */
async function serverDatabases(db: Queryable, name: string): Promise<ServerDatabase[]> {
  const { rows } = await db.query<{ name: string; dbname: string; dropped_at: Date | null; created_at: Date }>(
    `select d.name, d.dbname, d.dropped_at, d.created_at from databases d join servers s on s.id = d.server_id
     where s.name = $1 order by d.name`,
    [name],
  );
  return rows.map((r) => ({ name: r.name, datname: r.dbname, droppedAt: r.dropped_at, createdAt: r.created_at }));
}

/** Ties a registered database to the server that registered it. */
async function linkDatabase(db: Queryable, server: string, database: string): Promise<void> {
  await db.query('update databases set server_id = (select id from servers where name = $1) where name = $2', [
    server,
    database,
  ]);
}

/** Marks a database dropped (the server no longer has it) or, with `dropped` false, present again. */
async function setDropped(db: Queryable, database: string, dropped: boolean): Promise<void> {
  await db.query(
    `update databases set dropped_at = case when $2 then coalesce(dropped_at, now()) else null end where name = $1`,
    [database, dropped],
  );
}

/** The server that registered a database, if any, and whether it was dropped: what `db show` adds. */
async function databaseServer(
  db: Queryable,
  database: string,
): Promise<{ server: string | null; droppedAt: Date | null } | undefined> {
  const { rows } = await db.query<{ server: string | null; dropped_at: Date | null }>(
    'select s.name as server, d.dropped_at from databases d left join servers s on s.id = d.server_id where d.name = $1',
    [database],
  );
  return rows[0] ? { server: rows[0].server, droppedAt: rows[0].dropped_at } : undefined;
}

async function recordServerRun(db: Queryable, name: string, summary: unknown): Promise<void> {
  await db.query('update servers set last_run_at = now(), last_run = $2 where name = $1', [
    name,
    JSON.stringify(summary),
  ]);
}

/** The catalog's servers, as `catalog.servers`. */
export function createServerStore(pool: pg.Pool, keys: SealingDb['keys']) {
  return {
    ...bind({ pool, keys }, { addServer, serverTarget }),
    ...bind(pool, {
      findServer,
      getServer,
      listServers,
      updateServerOptions,
      removeServer,
      serverDatabases,
      linkDatabase,
      setDropped,
      databaseServer,
      recordServerRun,
      serverArchive,
      setServerArchive,
      serverOfArchive,
      recordPitrDrill,
      drillsOf,
      drillSummaries,
      drillSchedule,
      setDrillSchedule,
    }),
  };
}
