/**
 * Catalog growth: 100 000 logical backups simulated day by day over more than a year, each with
 * what the platform records beside it (a copy per storage, a verification, a notification with a
 * delivery per notifier, pre- and post-backup hook runs), plus audit entries, restore runs and
 * health transitions. Every simulated day the real retention planner (GFS 24 hourly, 7 daily, 4
 * weekly, 12 monthly) chooses what to delete, in two catalogs fed the same rows:
 *
 * - "without pruning": backups are only marked deleted, as before migration 018; every row stays;
 * - "with pruning": backups are deleted through the catalog's markBackupDeleted (their copies and
 *   verifications go at once) and the daily maintenance (lib/catalog/prune.ts) runs with the
 *   default retention periods.
 *
 * Prints pg_database_size and the rows and bytes of each table for both, at each quarter of the
 * run and at the end, and the longest daily maintenance run and batch.
 *
 *   scripts/node bench/catalog-growth.ts
 *
 * Environment: BENCH_CATALOG_BACKUPS (default 100000), BENCH_CATALOG_DATABASES (default 20),
 * BENCH_CATALOG_PER_DAY (backups per database and day, default 12).
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCatalogPool } from '../lib/catalog/catalog.ts';
import type { Queryable } from '../lib/catalog/db.ts';
import { migrate } from '../lib/catalog/migrate.ts';
import { markBackupDeleted } from '../lib/catalog/prune-backup.ts';
import { pruneCatalog } from '../lib/catalog/prune.ts';
import { defaultCatalogRetention } from '../lib/catalog/prune-rules.ts';
import { destroyLocalCluster, type LocalCluster } from '../lib/pg/cluster.ts';
import { planRetention } from '../lib/retention/planner.ts';
import type { RetentionPolicyInput } from '../lib/retention/policy.ts';
import { createDatabase, startTestCluster } from '../test/support/platform.ts';
import { envInt, log } from './settings.ts';
import { runBench } from './support/run.ts';

const DAY = 24 * 3600_000;
const total = envInt('BENCH_CATALOG_BACKUPS', 100_000);
const databases = envInt('BENCH_CATALOG_DATABASES', 20);
const perDay = envInt('BENCH_CATALOG_PER_DAY', 12);
const days = Math.ceil(total / (databases * perDay));
const policy: RetentionPolicyInput = { kind: 'gfs', hourly: 24, daily: 7, weekly: 4, monthly: 12 };
/** The tables the simulation writes, in the order they are printed. */
const TABLES = [
  'backups',
  'backup_copies',
  'verifications',
  'restores',
  'notifications',
  'notification_deliveries',
  'hook_runs',
  'health_events',
  'audit_log',
];

type Pool = ReturnType<typeof createCatalogPool>;
interface Variant {
  name: string;
  pool: Pool;
  pruning: boolean;
}

/** Databases, two storages and two notifiers, as an installation would have them. */
async function seedInstallation(db: Queryable): Promise<void> {
  await db.query(`insert into storages (name, type, config) values ('local', 'local', '{}'), ('s3', 's3', '{}')`);
  await db.query(
    `insert into databases (name, host, port, dbname, username)
     select 'db' || g, 'db.internal', 5432, 'db' || g, 'backup' from generate_series(1, $1) g`,
    [databases],
  );
  await db.query(
    `insert into notifiers (name, type, config, summary, events)
     values ('ops-mail', 'email', '{}', 'ops@example.com', '{}'), ('ops-hook', 'webhook', '{}', 'hook', '{}')`,
  );
}

/** One simulated day of backups of every database and what each leaves in the catalog. */
async function recordDay(db: Queryable, day: number, dayStart: Date): Promise<void> {
  const stepMs = DAY / perDay;
  await db.query(
    `insert into backups (id, database_id, workflow_id, status, trigger, started_at, finished_at, size_bytes, dump_bytes,
                          sha256, object_key, compression, server_version, tool_version, row_counts)
     select d.id || '-' || $2 || '-' || k, d.id, 'backup/' || d.name || '/' || k, 'complete', 'schedule', t, t + interval '4 minutes',
            1e9::bigint + k, 3e9::bigint, md5(d.id || '-' || $2 || '-' || k) || md5(k::text), d.name || '/' || k || '.dump.hsb',
            'zstd', '17.2', '17.2', jsonb_build_object('public.orders', 100000 + k, 'public.customers', 5000)
     from databases d, generate_series(0, $3 - 1) k,
          lateral (select $1::timestamptz + k * make_interval(secs => $4)) s(t)`,
    [dayStart, day, perDay, stepMs / 1000],
  );
  const today = `b.started_at >= $1::timestamptz and b.started_at < $1::timestamptz + interval '1 day'`;
  await db.query(
    `insert into backup_copies (backup_id, storage_id, status, size_bytes, attempts, updated_at)
     select b.id, s.id, 'complete', b.size_bytes, 1, b.finished_at from backups b, storages s where ${today}`,
    [dayStart],
  );
  await db.query(
    `insert into verifications (id, database_id, backup_id, workflow_id, trigger, status, requested_at, started_at, finished_at, report)
     select 'v-' || b.id, b.database_id, b.id, 'verify/' || b.id, 'after_backup', 'successful', b.finished_at, b.finished_at,
            b.finished_at + interval '3 minutes', jsonb_build_object('tables', 2, 'rows', 105000, 'mismatches', '[]'::jsonb)
     from backups b where ${today}`,
    [dayStart],
  );
  await recordNotificationsAndHooks(db, dayStart, today);
  await recordDailyActivity(db, dayStart);
}

async function recordNotificationsAndHooks(db: Queryable, dayStart: Date, today: string): Promise<void> {
  await db.query(
    `insert into notifications (database_id, workspace_id, event, message, dedupe_key, created_at, planned_at)
     select b.database_id, d.workspace_id, 'backup_complete', 'backup ' || b.id || ' of database ' || b.database_id || ' complete (1.0 GB)',
            'backup:' || b.id || ':complete', b.finished_at, b.finished_at
     from backups b join databases d on d.id = b.database_id where ${today}`,
    [dayStart],
  );
  await db.query(
    `insert into notification_deliveries (notification_id, notifier_id, status, attempts, response, created_at, updated_at)
     select n.id, r.id, 'sent', 1, '250 2.0.0 Ok: queued', n.created_at, n.created_at
     from notifications n join backups b on n.dedupe_key = 'backup:' || b.id || ':complete', notifiers r where ${today}`,
    [dayStart],
  );
  await db.query(
    `insert into hook_runs (database_id, scope, kind, workflow_id, backup_id, exit_code, duration_ms, output_tail, status,
                            started_at, finished_at)
     select b.database_id, 'database', k, b.workflow_id, b.id, 0, 120, 'snapshot taken', 'ok', b.started_at, b.started_at
     from backups b, unnest(array['pre_backup', 'post_backup']) k where ${today}`,
    [dayStart],
  );
}

/** Twenty configuration changes, one test restore and a few health transitions a day across the installation. */
async function recordDailyActivity(db: Queryable, dayStart: Date): Promise<void> {
  await db.query(
    `insert into audit_log (at, actor, workspace_id, action, target_type, target_name, source, outcome, before, after)
     select $1::timestamptz + g * interval '1 hour', 'admin@example.com', 1, 'database.update', 'database', 'db' || g,
            '10.0.0.7', 'ok', '{"schedule": "0 * * * *"}', '{"schedule": "0 */2 * * *"}'
     from generate_series(1, 20) g`,
    [dayStart],
  );
  await db.query(
    `insert into restores (id, backup_id, workflow_id, target, status, started_at, finished_at, tables_checked, rows_checked)
     select 'r-' || b.id, b.id, 'restore/' || b.id, 'postgres://restore.internal/scratch', 'verified', b.finished_at,
            b.finished_at + interval '5 minutes', 2, 105000
     from backups b where b.started_at = $1::timestamptz and b.database_id = 1`,
    [dayStart],
  );
  await db.query(
    `insert into health_events (database_id, status, at, detail)
     select d.id, s, $1::timestamptz + o * interval '1 minute', 'connection refused'
     from databases d, (values ('down', 0), ('up', 5)) v(s, o) where d.id % 7 = extract(doy from $1::timestamptz)::int % 7`,
    [dayStart],
  );
}

async function deleteBackup(variant: Variant, id: string, reason: string): Promise<void> {
  if (variant.pruning) return markBackupDeleted(variant.pool, id, reason);
  await variant.pool.query(
    `update backups set status = 'deleted', deleted_at = now(), deleted_reason = $2 where id = $1`,
    [id, reason],
  );
}

/** The day's retention run of every database, as the platform plans it; returns how many backups it deleted. */
async function applyRetention(variant: Variant, now: Date): Promise<number> {
  const { rows } = await variant.pool.query<{ id: string; database_id: string; finished_at: Date; verified: boolean }>(
    `select b.id, b.database_id, b.finished_at,
            exists (select 1 from verifications v where v.backup_id = b.id and v.status = 'successful') as verified
     from backups b where b.status = 'complete'`,
  );
  const byDatabase = new Map<string, typeof rows>();
  for (const r of rows) byDatabase.set(r.database_id, [...(byDatabase.get(r.database_id) ?? []), r]);
  // Each database's retention is its own workflow: they run side by side, each deleting in turn.
  const counts = await Promise.all(
    [...byDatabase.values()].map(async (backups) => {
      const plan = planRetention({
        now,
        policy,
        backups: backups.map((b) => ({
          id: b.id,
          finishedAt: b.finished_at,
          status: 'complete',
          verified: b.verified,
          inUse: false,
        })),
      });
      for (const d of plan.delete) await deleteBackup(variant, d.id, d.reason);
      return plan.delete.length;
    }),
  );
  // markBackupDeleted stamps the real time; the simulation's clock is the day being simulated.
  await variant.pool.query(`update backups set deleted_at = $1 where status = 'deleted' and deleted_at > $1`, [now]);
  return counts.reduce((a, b) => a + b, 0);
}

interface TableSize {
  table: string;
  rows: number;
  bytes: number;
}

async function sizes(pool: Pool): Promise<{ database: number; tables: TableSize[] }> {
  const tables: TableSize[] = [];
  for (const table of TABLES) {
    const { rows } = await pool.query<{ n: string; bytes: string }>(
      `select (select count(*) from ${table}) as n, pg_total_relation_size($1::regclass) as bytes`,
      [table],
    );
    tables.push({ table, rows: Number(rows[0]!.n), bytes: Number(rows[0]!.bytes) });
  }
  const { rows } = await pool.query<{ size: string }>(`select pg_database_size(current_database()) as size`);
  return { database: Number(rows[0]!.size), tables };
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

async function report(label: string, variants: Variant[]): Promise<void> {
  const [grown, pruned] = await Promise.all(variants.map((v) => sizes(v.pool)));
  log(`${label}: pg_database_size without pruning ${mib(grown!.database)}, with pruning ${mib(pruned!.database)}`);
  console.log(
    `  ${'table'.padEnd(24)} ${'rows without'.padStart(13)} ${'rows with'.padStart(10)}  bytes without / with`,
  );
  for (const [i, t] of grown!.tables.entries()) {
    const p = pruned!.tables[i]!;
    console.log(
      `  ${t.table.padEnd(24)} ${String(t.rows).padStart(13)} ${String(p.rows).padStart(10)}  ${mib(t.bytes)} / ${mib(p.bytes)}`,
    );
  }
}

interface MaintenanceTimes {
  longestRunMs: number;
  longestBatchMs: number;
}

/** The daily maintenance of the pruning catalog, timed run by run and batch by batch. */
async function maintain(pool: Pool, now: Date, times: MaintenanceTimes): Promise<void> {
  const started = performance.now();
  let batchStarted = started;
  await pruneCatalog(pool, defaultCatalogRetention, now, {
    onBatch: () => {
      const at = performance.now();
      times.longestBatchMs = Math.max(times.longestBatchMs, at - batchStarted);
      batchStarted = at;
    },
  });
  times.longestRunMs = Math.max(times.longestRunMs, performance.now() - started);
}

async function simulate(variants: Variant[]): Promise<void> {
  const start = new Date(Date.UTC(2025, 0, 1));
  const times: MaintenanceTimes = { longestRunMs: 0, longestBatchMs: 0 };
  const checkpoints = new Set([1, 2, 3].map((q) => Math.floor((days * q) / 4)));
  log(
    `simulating ${days} days of ${databases} databases × ${perDay} backups a day (${days * databases * perDay} backups)`,
  );
  for (let day = 0; day < days; day += 1) {
    const dayStart = new Date(start.getTime() + day * DAY);
    const dayEnd = new Date(dayStart.getTime() + DAY);
    for (const v of variants) {
      await recordDay(v.pool, day, dayStart);
      await applyRetention(v, dayEnd);
      if (v.pruning) await maintain(v.pool, dayEnd, times);
      // What autovacuum does over a real day: the space of deleted rows becomes reusable.
      await v.pool.query(`vacuum ${TABLES.join(', ')}`);
    }
    if (checkpoints.has(day)) await report(`day ${day}`, variants);
  }
  await report(`after ${days} days`, variants);
  log(
    `daily maintenance: longest run ${times.longestRunMs.toFixed(0)} ms, longest batch ${times.longestBatchMs.toFixed(0)} ms`,
  );
}

runBench(log, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hindsight-bench-catalog-'));
  await chmod(dir, 0o755);
  let cluster: LocalCluster | undefined;
  const pools: Pool[] = [];
  return {
    work: async () => {
      cluster = await startTestCluster(dir);
      const variants: Variant[] = [];
      for (const [name, pruning] of [
        ['unpruned', false],
        ['pruned', true],
      ] as const) {
        const pool = createCatalogPool(await createDatabase(cluster, name));
        pools.push(pool);
        await migrate(pool);
        await seedInstallation(pool);
        variants.push({ name, pool, pruning });
      }
      await simulate(variants);
    },
    cleanup: async () => {
      for (const pool of pools) await pool.end();
      if (cluster) await destroyLocalCluster(cluster);
      await rm(dir, { recursive: true, force: true });
    },
    onFailure: () => undefined,
  };
});
