/**
 * Restore drills: a database's drill settings (the target server's URL, sealed, and the cron) and
 * one record per drill. A record names its target by host, port and database only.
 */
import type pg from 'pg';
import type { Keyring } from '../crypto/keyring.ts';
import { seal, unseal } from '../crypto/sealed.ts';
import { HindsightError } from '../errors.ts';
import { describeTarget, parsePgUrl, type PgTarget } from '../pg/connection.ts';
import { allRows, bind, databaseNotRegistered, firstRow, num, type Queryable, type SealingDb } from './db.ts';
import { sealedContexts } from './sealed-columns.ts';

export type RestoreDrillStatus = 'running' | 'successful' | 'failed';
export type RestoreDrillTrigger = 'schedule' | 'manual';

/** A database's drill settings as shown: the target without its password. */
export interface RestoreDrillSettings {
  /** postgres://user@host:port/dbname, no password. */
  target: string;
  cron: string;
}

export interface RestoreDrillRecord {
  id: string;
  database: string;
  backupId: string | null;
  trigger: RestoreDrillTrigger;
  target: { host: string; port: number; database: string } | null;
  status: RestoreDrillStatus;
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
  timeToUsableSeconds: number | null;
  restoredBytes: number | null;
  tablesChecked: number | null;
}

interface DrillRow {
  id: string;
  database_name: string;
  backup_id: string | null;
  trigger: RestoreDrillTrigger;
  target_host: string | null;
  target_port: number | null;
  target_database: string | null;
  status: RestoreDrillStatus;
  started_at: Date;
  finished_at: Date | null;
  error: string | null;
  time_to_usable_seconds: number | null;
  restored_bytes: string | null;
  tables_checked: number | null;
}

function toDrill(row: DrillRow): RestoreDrillRecord {
  return {
    id: row.id,
    database: row.database_name,
    backupId: row.backup_id,
    trigger: row.trigger,
    target:
      row.target_host === null
        ? null
        : { host: row.target_host, port: row.target_port ?? 5432, database: row.target_database ?? '' },
    status: row.status,
    startedAt: row.started_at.toISOString(),
    finishedAt: row.finished_at ? row.finished_at.toISOString() : null,
    error: row.error,
    timeToUsableSeconds: row.time_to_usable_seconds,
    restoredBytes: num(row.restored_bytes),
    tablesChecked: row.tables_checked,
  };
}

const select = `select r.*, d.name as database_name from restore_drills r join databases d on d.id = r.database_id`;

interface SettingsRow {
  sealed_restore_drill_url: string | null;
  restore_drill_cron: string | null;
}

async function settingsRow(db: Queryable, name: string): Promise<SettingsRow> {
  const row = await firstRow<SettingsRow, SettingsRow>(
    db,
    'select sealed_restore_drill_url, restore_drill_cron from databases where name = $1',
    [name],
    (r) => r,
  );
  if (!row) throw databaseNotRegistered(name);
  return row;
}

/** The drill's target with its password, for the drill itself; undefined when the database has no drill. */
async function drillTarget(s: SealingDb, name: string): Promise<PgTarget | undefined> {
  const row = await settingsRow(s.pool, name);
  if (row.sealed_restore_drill_url === null) return undefined;
  return parsePgUrl(unseal(s.keys.resolve, row.sealed_restore_drill_url, sealedContexts.databaseRestoreDrillUrl(name)));
}

/** The settings as shown (no password), or null when the database has no drill. */
async function drillSettings(s: SealingDb, name: string): Promise<RestoreDrillSettings | null> {
  const row = await settingsRow(s.pool, name);
  if (row.sealed_restore_drill_url === null || row.restore_drill_cron === null) return null;
  const target = parsePgUrl(
    unseal(s.keys.resolve, row.sealed_restore_drill_url, sealedContexts.databaseRestoreDrillUrl(name)),
  );
  return { target: describeTarget(target), cron: row.restore_drill_cron };
}

/** Saves the drill's target URL (sealed) and cron, or removes both (null). */
async function setDrillSettings(s: SealingDb, name: string, settings: { url: string; cron: string } | null) {
  const sealed = settings ? seal(s.keys.current(), settings.url, sealedContexts.databaseRestoreDrillUrl(name)) : null;
  const { rowCount } = await s.pool.query(
    'update databases set sealed_restore_drill_url = $2, restore_drill_cron = $3 where name = $1',
    [name, sealed, settings?.cron ?? null],
  );
  if (rowCount === 0) throw databaseNotRegistered(name);
}

/** The databases with a drill and their crons, for schedules that a catalog rebuild or rename restores. */
async function drillCrons(db: Queryable): Promise<Map<string, string>> {
  const { rows } = await db.query<{ name: string; cron: string }>(
    'select name, restore_drill_cron as cron from databases where restore_drill_cron is not null order by name',
  );
  return new Map(rows.map((r) => [r.name, r.cron]));
}

async function beginDrill(
  db: Queryable,
  input: {
    id: string;
    database: string;
    backupId: string;
    trigger: RestoreDrillTrigger;
    workflowId: string;
    target: PgTarget;
  },
): Promise<void> {
  const { rowCount } = await db.query(
    `insert into restore_drills (id, database_id, backup_id, trigger, workflow_id, target_host, target_port, target_database, status)
     select $1, d.id, $3, $4, $5, $6, $7, $8, 'running' from databases d where d.name = $2
     on conflict (id) do update set backup_id = excluded.backup_id, target_host = excluded.target_host,
       target_port = excluded.target_port, target_database = excluded.target_database
       where restore_drills.status = 'running'`,
    [
      input.id,
      input.database,
      input.backupId,
      input.trigger,
      input.workflowId,
      input.target.host,
      input.target.port,
      input.target.database,
    ],
  );
  if (rowCount === 0) throw databaseNotRegistered(input.database);
}

/** A drill that could not even begin (no backup, no target) is recorded failed from the start. */
async function recordFailedDrill(
  db: Queryable,
  input: { id: string; database: string; trigger: RestoreDrillTrigger; workflowId: string; error: string },
): Promise<void> {
  await db.query(
    `insert into restore_drills (id, database_id, trigger, workflow_id, status, finished_at, error)
     select $1, d.id, $3, $4, 'failed', now(), $5 from databases d where d.name = $2
     on conflict (id) do update set status = 'failed', finished_at = now(), error = excluded.error
       where restore_drills.status = 'running'`,
    [input.id, input.database, input.trigger, input.workflowId, input.error],
  );
}

async function finishDrill(
  db: Queryable,
  id: string,
  outcome: {
    status: 'successful' | 'failed';
    error?: string | null;
    timeToUsableSeconds?: number | null;
    restoredBytes?: number | null;
    tablesChecked?: number | null;
  },
): Promise<void> {
  await db.query(
    `update restore_drills set status = $2, finished_at = now(), error = $3,
       time_to_usable_seconds = coalesce($4, time_to_usable_seconds), restored_bytes = coalesce($5, restored_bytes),
       tables_checked = coalesce($6, tables_checked)
     where id = $1 and status = 'running'`,
    [
      id,
      outcome.status,
      outcome.error ?? null,
      outcome.timeToUsableSeconds ?? null,
      outcome.restoredBytes ?? null,
      outcome.tablesChecked ?? null,
    ],
  );
}

async function getDrill(db: Queryable, id: string): Promise<RestoreDrillRecord> {
  const found = await firstRow(db, `${select} where r.id = $1`, [id], toDrill);
  if (!found) throw new HindsightError('not_found', `restore drill "${id}" does not exist`);
  return found;
}

/** A database's drills, newest first. */
async function listDrills(db: Queryable, database: string, limit = 50): Promise<RestoreDrillRecord[]> {
  return allRows(
    db,
    `${select} where d.name = $1 order by r.started_at desc, r.id desc limit $2`,
    [database, limit],
    toDrill,
  );
}

/** The newest finished drill of every database that has one, for /metrics. */
async function lastFinishedDrills(db: Queryable): Promise<RestoreDrillRecord[]> {
  return allRows(
    db,
    `select distinct on (r.database_id) r.*, d.name as database_name from restore_drills r
       join databases d on d.id = r.database_id where r.status <> 'running'
      order by r.database_id, r.started_at desc`,
    [],
    toDrill,
  );
}

export function createRestoreDrillStore(pool: pg.Pool, keys: Keyring) {
  return {
    ...bind({ pool, keys }, { drillTarget, drillSettings, setDrillSettings }),
    ...bind(pool, {
      drillCrons,
      begin: beginDrill,
      recordFailed: recordFailedDrill,
      finish: finishDrill,
      get: getDrill,
      list: listDrills,
      lastFinished: lastFinishedDrills,
    }),
  };
}

export type RestoreDrillStore = ReturnType<typeof createRestoreDrillStore>;
