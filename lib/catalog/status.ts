import type { Queryable } from './db.ts';

/**
 * The facts the status of every database is derived from, read in a handful of set-based queries
 * (one per kind of fact, not one per database), so that a dashboard or a Prometheus scrape costs
 * the same whether ten databases or a thousand are registered.
 */
export interface DatabaseFacts {
  name: string;
  workspaceId: number;
  createdAt: Date;
  schedule: string | null;
  timezone: string;
  overdueHours: number | null;
  pitrEnabled: boolean;
  health: { status: 'up' | 'down'; at: Date; detail: string | null } | null;
  /** The newest backup that has ended (not running, not deleted by retention). */
  lastEnded: { id: string; status: string; startedAt: Date; finishedAt: Date | null; error: string | null } | null;
  /** The newest complete or partial backup. */
  lastComplete: {
    id: string;
    status: string;
    startedAt: Date;
    finishedAt: Date | null;
    sizeBytes: number | null;
  } | null;
  /** The newest verification that reached a verdict. */
  lastVerification: {
    id: string;
    backupId: string | null;
    status: 'successful' | 'failed';
    finishedAt: Date | null;
    reason: string | null;
  } | null;
  backupsByStatus: Record<string, number>;
  verificationsByStatus: Record<string, number>;
  /** Bytes held in storage: every complete copy of a kept backup, plus WAL segments and complete base backups. */
  storedBytes: { backups: number; wal: number; baseBackups: number };
}

const num = (v: string | number | null | undefined): number | null =>
  v === null || v === undefined ? null : Number(v);

/** Facts of the databases of the given workspaces (all of them when `workspaceIds` is undefined). */
export async function readDatabaseFacts(pool: Queryable, workspaceIds?: number[]): Promise<DatabaseFacts[]> {
  const scope = workspaceIds ?? null;
  const { rows: dbs } = await pool.query(
    `select d.id, d.name, d.workspace_id, d.created_at, d.schedule, d.timezone, d.backup_overdue_hours, d.pitr_enabled
       from databases d where $1::bigint[] is null or d.workspace_id = any($1) order by d.name`,
    [scope],
  );
  if (dbs.length === 0) return [];
  const ids = dbs.map((d) => d.id as string);
  const [health, ended, complete, verification, backupCounts, verificationCounts, backupBytes, walBytes, baseBytes] =
    await Promise.all([
      pool.query(
        `select distinct on (database_id) database_id, status, at, detail from health_events where database_id = any($1) order by database_id, at desc, id desc`,
        [ids],
      ),
      pool.query(
        `select distinct on (database_id) database_id, id, status, started_at, finished_at, error from backups
        where database_id = any($1) and status in ('complete', 'partial', 'failed', 'cancelled')
        order by database_id, coalesce(finished_at, started_at) desc`,
        [ids],
      ),
      pool.query(
        `select distinct on (database_id) database_id, id, status, started_at, finished_at, size_bytes from backups
        where database_id = any($1) and status in ('complete', 'partial')
        order by database_id, coalesce(finished_at, started_at) desc`,
        [ids],
      ),
      pool.query(
        `select distinct on (database_id) database_id, id, backup_id, status, finished_at, reason from verifications
        where database_id = any($1) and status in ('successful', 'failed')
        order by database_id, finished_at desc nulls last, requested_at desc`,
        [ids],
      ),
      pool.query(
        `select database_id, status, count(*)::int as n from backups where database_id = any($1) group by database_id, status`,
        [ids],
      ),
      pool.query(
        `select database_id, status, count(*)::int as n from verifications where database_id = any($1) group by database_id, status`,
        [ids],
      ),
      pool.query(
        `select b.database_id, coalesce(sum(c.size_bytes), 0)::bigint as bytes from backups b join backup_copies c on c.backup_id = b.id
        where b.database_id = any($1) and b.status <> 'deleted' and c.status = 'complete' group by b.database_id`,
        [ids],
      ),
      pool.query(
        `select database_id, coalesce(sum(stored_bytes), 0)::bigint as bytes from wal_segments where database_id = any($1) group by database_id`,
        [ids],
      ),
      pool.query(
        `select database_id, coalesce(sum(stored_bytes), 0)::bigint as bytes from base_backups where database_id = any($1) and status = 'complete' group by database_id`,
        [ids],
      ),
    ]);
  const byDb = <T>(rows: Array<Record<string, unknown>>, map: (r: Record<string, unknown>) => T) =>
    new Map(rows.map((r) => [String(r.database_id), map(r)]));
  const counts = (rows: Array<Record<string, unknown>>) => {
    const out = new Map<string, Record<string, number>>();
    for (const r of rows) {
      const key = String(r.database_id);
      const entry = out.get(key) ?? {};
      entry[String(r.status)] = Number(r.n);
      out.set(key, entry);
    }
    return out;
  };
  const healthOf = byDb(health.rows, (r) => ({
    status: r.status as 'up' | 'down',
    at: r.at as Date,
    detail: (r.detail as string | null) ?? null,
  }));
  const endedOf = byDb(ended.rows, (r) => ({
    id: String(r.id),
    status: String(r.status),
    startedAt: r.started_at as Date,
    finishedAt: (r.finished_at as Date | null) ?? null,
    error: (r.error as string | null) ?? null,
  }));
  const completeOf = byDb(complete.rows, (r) => ({
    id: String(r.id),
    status: String(r.status),
    startedAt: r.started_at as Date,
    finishedAt: (r.finished_at as Date | null) ?? null,
    sizeBytes: num(r.size_bytes as string | null),
  }));
  const verificationOf = byDb(verification.rows, (r) => ({
    id: String(r.id),
    backupId: (r.backup_id as string | null) ?? null,
    status: r.status as 'successful' | 'failed',
    finishedAt: (r.finished_at as Date | null) ?? null,
    reason: (r.reason as string | null) ?? null,
  }));
  const backupCountsOf = counts(backupCounts.rows);
  const verificationCountsOf = counts(verificationCounts.rows);
  const bytes = (rows: Array<Record<string, unknown>>) => byDb(rows, (r) => Number(r.bytes));
  const [backupBytesOf, walBytesOf, baseBytesOf] = [
    bytes(backupBytes.rows),
    bytes(walBytes.rows),
    bytes(baseBytes.rows),
  ];

  return dbs.map((d) => {
    const id = String(d.id);
    return {
      name: d.name,
      workspaceId: Number(d.workspace_id),
      createdAt: d.created_at,
      schedule: d.schedule,
      timezone: d.timezone,
      overdueHours: num(d.backup_overdue_hours),
      pitrEnabled: d.pitr_enabled,
      health: healthOf.get(id) ?? null,
      lastEnded: endedOf.get(id) ?? null,
      lastComplete: completeOf.get(id) ?? null,
      lastVerification: verificationOf.get(id) ?? null,
      backupsByStatus: backupCountsOf.get(id) ?? {},
      verificationsByStatus: verificationCountsOf.get(id) ?? {},
      storedBytes: {
        backups: backupBytesOf.get(id) ?? 0,
        wal: walBytesOf.get(id) ?? 0,
        baseBackups: baseBytesOf.get(id) ?? 0,
      },
    };
  });
}
