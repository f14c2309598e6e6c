import type pg from 'pg';
import { HindsightError } from '../errors.ts';
import type { VerificationReport, VerificationStatus, VerificationSummary } from '../verify/report.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toSummary(row: any): VerificationSummary {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: row.id, database: row.database_name, backupId: row.backup_id, trigger: row.trigger, status: row.status,
    requestedAt: row.requested_at.toISOString(), startedAt: iso(row.started_at), finishedAt: iso(row.finished_at),
    reason: row.reason, report: row.report,
  };
}

const select = `select v.*, d.name as database_name from verifications v join databases d on d.id = v.database_id`;

/** Verification reports: one row per request, from pending to its end. */
export function createVerificationStore(pool: pg.Pool) {
  return {
    async request(input: { id: string; database: string; backupId: string; trigger: string }): Promise<void> {
      const { rowCount } = await pool.query(
        `insert into verifications (id, database_id, backup_id, trigger, status)
         select $1, d.id, $3, $4, 'pending' from databases d where d.name = $2
         on conflict (id) do nothing`,
        [input.id, input.database, input.backupId, input.trigger],
      );
      if (rowCount === 0) {
        const exists = await pool.query('select 1 from verifications where id = $1', [input.id]);
        if (exists.rowCount === 0) throw new HindsightError('not_found', `database "${input.database}" is not registered`);
      }
    },

    async start(id: string, workflowId: string): Promise<void> {
      await pool.query(`update verifications set status = 'running', started_at = now(), workflow_id = $2 where id = $1 and status in ('pending', 'running')`, [id, workflowId]);
    },

    async progress(id: string, report: VerificationReport): Promise<void> {
      await pool.query(`update verifications set report = $2 where id = $1 and status = 'running'`, [id, JSON.stringify(report)]);
    },

    async finish(id: string, status: Exclude<VerificationStatus, 'pending' | 'running'>, report: VerificationReport | null, reason: string | null): Promise<void> {
      await pool.query(
        `update verifications set status = $2, finished_at = now(), report = coalesce($3, report), reason = $4
         where id = $1 and status in ('pending', 'running')`,
        [id, status, report ? JSON.stringify(report) : null, reason],
      );
    },

    async get(id: string): Promise<VerificationSummary> {
      const { rows } = await pool.query(`${select} where v.id = $1`, [id]);
      if (!rows[0]) throw new HindsightError('not_found', `verification "${id}" does not exist`);
      return toSummary(rows[0]);
    },

    async list(database: string, limit = 50): Promise<VerificationSummary[]> {
      const { rows } = await pool.query(`${select} where d.name = $1 order by v.requested_at desc limit $2`, [database, limit]);
      return rows.map(toSummary);
    },

    /** The newest finished verification of each backup of a database: what retention and the console show. */
    async latestPerBackup(database: string): Promise<Map<string, VerificationSummary>> {
      const { rows } = await pool.query(
        `select distinct on (v.backup_id) v.*, d.name as database_name from verifications v join databases d on d.id = v.database_id
         where d.name = $1 and v.backup_id is not null and v.status in ('successful', 'failed')
         order by v.backup_id, v.finished_at desc`,
        [database],
      );
      return new Map(rows.map((r) => [r.backup_id as string, toSummary(r)]));
    },

    /** The newest verification of each of the given backups, whatever its status. */
    async newestFor(backupIds: string[]): Promise<Map<string, VerificationSummary>> {
      if (backupIds.length === 0) return new Map();
      const { rows } = await pool.query(
        `select distinct on (v.backup_id) v.*, d.name as database_name from verifications v join databases d on d.id = v.database_id
         where v.backup_id = any($1::text[]) order by v.backup_id, v.requested_at desc`,
        [backupIds],
      );
      return new Map(rows.map((r) => [r.backup_id as string, toSummary(r)]));
    },

    /** Backups that an unfinished verification is using: retention must leave them alone. */
    async backupsInUse(database: string): Promise<Set<string>> {
      const { rows } = await pool.query(
        `select v.backup_id from verifications v join databases d on d.id = v.database_id
         where d.name = $1 and v.status in ('pending', 'running') and v.backup_id is not null`,
        [database],
      );
      return new Set(rows.map((r) => r.backup_id as string));
    },
  };
}

export type VerificationStore = ReturnType<typeof createVerificationStore>;
