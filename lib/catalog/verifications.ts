import { HindsightError } from '../errors.ts';
import type { VerificationReport, VerificationStatus, VerificationSummary } from '../verify/report.ts';
import { allRows, bind, type Queryable } from './db.ts';

interface VerificationRow {
  id: string;
  database_name: string;
  backup_id: string | null;
  trigger: string;
  status: VerificationStatus;
  requested_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  reason: string | null;
  report: VerificationReport | null;
}

function toSummary(row: VerificationRow): VerificationSummary {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: row.id,
    database: row.database_name,
    backupId: row.backup_id,
    trigger: row.trigger,
    status: row.status,
    requestedAt: row.requested_at.toISOString(),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    reason: row.reason,
    report: row.report,
  };
}

const select = `select v.*, d.name as database_name from verifications v join databases d on d.id = v.database_id`;

async function request(
  db: Queryable,
  input: { id: string; database: string; backupId: string; trigger: string },
): Promise<void> {
  const { rowCount } = await db.query(
    `insert into verifications (id, database_id, backup_id, trigger, status)
     select $1, d.id, $3, $4, 'pending' from databases d where d.name = $2
     on conflict (id) do nothing`,
    [input.id, input.database, input.backupId, input.trigger],
  );
  if (rowCount === 0) {
    const exists = await db.query('select 1 from verifications where id = $1', [input.id]);
    if (exists.rowCount === 0) throw new HindsightError('not_found', `database "${input.database}" is not registered`);
  }
}

async function start(db: Queryable, id: string, workflowId: string): Promise<void> {
  await db.query(
    `update verifications set status = 'running', started_at = now(), workflow_id = $2 where id = $1
       and status in ('pending', 'running')`,
    [id, workflowId],
  );
}

async function progress(db: Queryable, id: string, report: VerificationReport): Promise<void> {
  await db.query(`update verifications set report = $2 where id = $1 and status = 'running'`, [
    id,
    JSON.stringify(report),
  ]);
}

async function finish(
  db: Queryable,
  id: string,
  status: Exclude<VerificationStatus, 'pending' | 'running'>,
  report: VerificationReport | null,
  reason: string | null,
): Promise<void> {
  await db.query(
    `update verifications set status = $2, finished_at = now(), report = coalesce($3, report), reason = $4
     where id = $1 and status in ('pending', 'running')`,
    [id, status, report ? JSON.stringify(report) : null, reason],
  );
}

async function get(db: Queryable, id: string): Promise<VerificationSummary> {
  const { rows } = await db.query<VerificationRow>(`${select} where v.id = $1`, [id]);
  if (!rows[0]) throw new HindsightError('not_found', `verification "${id}" does not exist`);
  return toSummary(rows[0]);
}

async function list(db: Queryable, database: string, limit = 50): Promise<VerificationSummary[]> {
  return allRows(db, `${select} where d.name = $1 order by v.requested_at desc limit $2`, [database, limit], toSummary);
}

const byBackup = (rows: VerificationRow[]) => new Map(rows.map((r) => [r.backup_id!, toSummary(r)]));

/** The newest finished verification of each backup of a database: what retention and the console show. */
async function latestPerBackup(db: Queryable, database: string): Promise<Map<string, VerificationSummary>> {
  const { rows } = await db.query<VerificationRow>(
    `select distinct on (v.backup_id) v.*, d.name as database_name from verifications v
     join databases d on d.id = v.database_id
     where d.name = $1 and v.backup_id is not null and v.status in ('successful', 'failed')
     order by v.backup_id, v.finished_at desc`,
    [database],
  );
  return byBackup(rows);
}

/** The newest verification of each of the given backups, whatever its status. */
async function newestFor(db: Queryable, backupIds: string[]): Promise<Map<string, VerificationSummary>> {
  if (backupIds.length === 0) return new Map();
  const { rows } = await db.query<VerificationRow>(
    `select distinct on (v.backup_id) v.*, d.name as database_name from verifications v
     join databases d on d.id = v.database_id
     where v.backup_id = any($1::text[]) order by v.backup_id, v.requested_at desc`,
    [backupIds],
  );
  return byBackup(rows);
}

/** Backups that an unfinished verification is using: retention must leave them alone. */
async function backupsInUse(db: Queryable, database: string): Promise<Set<string>> {
  const { rows } = await db.query<{ backup_id: string }>(
    `select v.backup_id from verifications v join databases d on d.id = v.database_id
     where d.name = $1 and v.status in ('pending', 'running') and v.backup_id is not null`,
    [database],
  );
  return new Set(rows.map((r) => r.backup_id));
}

/** Verification reports: one row per request, from pending to its end. */
export function createVerificationStore(db: Queryable) {
  return bind(db, { request, start, progress, finish, get, list, latestPerBackup, newestFor, backupsInUse });
}

export type VerificationStore = ReturnType<typeof createVerificationStore>;
