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
    /** Seconds from the start of its restore to a usable database (null in reports made before it was measured). */
    timeToUsableSeconds: number | null;
  } | null;
  /** The newest restore drill that ended (lib/catalog/restore-drills.ts). */
  lastDrill: {
    id: string;
    backupId: string | null;
    status: 'successful' | 'failed';
    finishedAt: Date | null;
    timeToUsableSeconds: number | null;
    restoredBytes: number | null;
  } | null;
  backupsByStatus: Record<string, number>;
  verificationsByStatus: Record<string, number>;
  /** Bytes held in storage: every complete copy of a kept backup, plus WAL segments and complete base backups. */
  storedBytes: { backups: number; wal: number; baseBackups: number };
}

const num = (v: string | number | null | undefined): number | null =>
  v === null || v === undefined ? null : Number(v);

type Row = Record<string, unknown>;

/** The registered databases of the given workspaces ($1 null: all of them), by name. */
const DATABASES_SQL = `select d.id, d.name, d.workspace_id, d.created_at, d.schedule, d.timezone, d.backup_overdue_hours, d.pitr_enabled
       from databases d where $1::bigint[] is null or d.workspace_id = any($1) order by d.name`;

/** One query per kind of fact, each over every database id in $1 at once; the newest row per database where one. */
const FACT_SQL = {
  health: `select distinct on (database_id) database_id, status, at, detail from health_events where database_id = any($1) order by database_id, at desc, id desc`,
  ended: `select distinct on (database_id) database_id, id, status, started_at, finished_at, error from backups
        where database_id = any($1) and status in ('complete', 'partial', 'failed', 'cancelled')
        order by database_id, coalesce(finished_at, started_at) desc`,
  complete: `select distinct on (database_id) database_id, id, status, started_at, finished_at, size_bytes from backups
        where database_id = any($1) and status in ('complete', 'partial')
        order by database_id, coalesce(finished_at, started_at) desc`,
  verification: `select distinct on (database_id) database_id, id, backup_id, status, finished_at, reason,
        (report->>'timeToUsableSeconds')::float8 as time_to_usable from verifications
        where database_id = any($1) and status in ('successful', 'failed')
        order by database_id, finished_at desc nulls last, requested_at desc`,
  drill: `select distinct on (database_id) database_id, id, backup_id, status, finished_at, time_to_usable_seconds,
        restored_bytes from restore_drills where database_id = any($1) and status <> 'running'
        order by database_id, started_at desc`,
  backupCounts: `select database_id, status, count(*)::int as n from backups where database_id = any($1) group by database_id, status`,
  verificationCounts: `select database_id, status, count(*)::int as n from verifications where database_id = any($1) group by database_id, status`,
  backupBytes: `select b.database_id, coalesce(sum(c.size_bytes), 0)::bigint as bytes from backups b join backup_copies c on c.backup_id = b.id
        where b.database_id = any($1) and b.status <> 'deleted' and c.status = 'complete' group by b.database_id`,
  walBytes: `select database_id, coalesce(sum(stored_bytes), 0)::bigint as bytes from wal_segments where database_id = any($1) group by database_id`,
  baseBytes: `select database_id, coalesce(sum(stored_bytes), 0)::bigint as bytes from base_backups where database_id = any($1) and status = 'complete' group by database_id`,
} as const;

type FactKind = keyof typeof FACT_SQL;

/** Runs every fact query for the given databases at once. */
async function readFactRows(pool: Queryable, ids: string[]): Promise<Record<FactKind, Row[]>> {
  const kinds = Object.keys(FACT_SQL) as FactKind[];
  const results = await Promise.all(kinds.map((kind) => pool.query(FACT_SQL[kind], [ids])));
  return Object.fromEntries(kinds.map((kind, i) => [kind, results[i]!.rows as Row[]])) as Record<FactKind, Row[]>;
}

function byDb<T>(rows: Row[], map: (r: Row) => T): Map<string, T> {
  return new Map(rows.map((r) => [String(r.database_id), map(r)]));
}

function countsByDb(rows: Row[]): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const r of rows) {
    const key = String(r.database_id);
    const entry = out.get(key) ?? {};
    entry[String(r.status)] = Number(r.n);
    out.set(key, entry);
  }
  return out;
}

const bytesByDb = (rows: Row[]): Map<string, number> => byDb(rows, (r) => Number(r.bytes));

const toHealth = (r: Row): NonNullable<DatabaseFacts['health']> => ({
  status: r.status as 'up' | 'down',
  at: r.at as Date,
  detail: (r.detail as string | null) ?? null,
});

/** What the newest ended and the newest complete backup have in common. */
const toBackupRun = (r: Row) => ({
  id: String(r.id),
  status: String(r.status),
  startedAt: r.started_at as Date,
  finishedAt: (r.finished_at as Date | null) ?? null,
});

const toLastEnded = (r: Row): NonNullable<DatabaseFacts['lastEnded']> => ({
  ...toBackupRun(r),
  error: (r.error as string | null) ?? null,
});

const toLastComplete = (r: Row): NonNullable<DatabaseFacts['lastComplete']> => ({
  ...toBackupRun(r),
  sizeBytes: num(r.size_bytes as string | null),
});

const toLastVerification = (r: Row): NonNullable<DatabaseFacts['lastVerification']> => ({
  id: String(r.id),
  backupId: (r.backup_id as string | null) ?? null,
  status: r.status as 'successful' | 'failed',
  finishedAt: (r.finished_at as Date | null) ?? null,
  reason: (r.reason as string | null) ?? null,
  timeToUsableSeconds: (r.time_to_usable as number | null) ?? null,
});

const toLastDrill = (r: Row): NonNullable<DatabaseFacts['lastDrill']> => ({
  id: String(r.id),
  backupId: (r.backup_id as string | null) ?? null,
  status: r.status as 'successful' | 'failed',
  finishedAt: (r.finished_at as Date | null) ?? null,
  timeToUsableSeconds: (r.time_to_usable_seconds as number | null) ?? null,
  restoredBytes: num(r.restored_bytes as string | null),
});

/** The fact rows keyed by database id, each in the shape DatabaseFacts holds it. */
function indexFacts(rows: Record<FactKind, Row[]>) {
  return {
    health: byDb(rows.health, toHealth),
    ended: byDb(rows.ended, toLastEnded),
    complete: byDb(rows.complete, toLastComplete),
    verification: byDb(rows.verification, toLastVerification),
    drill: byDb(rows.drill, toLastDrill),
    backupCounts: countsByDb(rows.backupCounts),
    verificationCounts: countsByDb(rows.verificationCounts),
    backupBytes: bytesByDb(rows.backupBytes),
    walBytes: bytesByDb(rows.walBytes),
    baseBytes: bytesByDb(rows.baseBytes),
  };
}

type IndexedFacts = ReturnType<typeof indexFacts>;

function toDatabaseFacts(d: Row, facts: IndexedFacts): DatabaseFacts {
  const id = String(d.id);
  return {
    name: d.name as string,
    workspaceId: Number(d.workspace_id),
    createdAt: d.created_at as Date,
    schedule: d.schedule as string | null,
    timezone: d.timezone as string,
    overdueHours: num(d.backup_overdue_hours as string | number | null),
    pitrEnabled: d.pitr_enabled as boolean,
    health: facts.health.get(id) ?? null,
    lastEnded: facts.ended.get(id) ?? null,
    lastComplete: facts.complete.get(id) ?? null,
    lastVerification: facts.verification.get(id) ?? null,
    lastDrill: facts.drill.get(id) ?? null,
    backupsByStatus: facts.backupCounts.get(id) ?? {},
    verificationsByStatus: facts.verificationCounts.get(id) ?? {},
    storedBytes: {
      backups: facts.backupBytes.get(id) ?? 0,
      wal: facts.walBytes.get(id) ?? 0,
      baseBackups: facts.baseBytes.get(id) ?? 0,
    },
  };
}

/** Facts of the databases of the given workspaces (all of them when `workspaceIds` is undefined). */
export async function readDatabaseFacts(pool: Queryable, workspaceIds?: number[]): Promise<DatabaseFacts[]> {
  const scope = workspaceIds ?? null;
  const { rows: dbs } = await pool.query(DATABASES_SQL, [scope]);
  if (dbs.length === 0) return [];
  const ids = dbs.map((d) => d.id as string);
  const facts = indexFacts(await readFactRows(pool, ids));
  return dbs.map((d) => toDatabaseFacts(d as Row, facts));
}
