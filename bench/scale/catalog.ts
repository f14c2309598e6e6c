/**
 * The scale bench's databases (a template copied up to SCALE_SOURCES times, N names registered
 * against the copies as an operator would) and the catalog read directly.
 */
import { connect, quoteIdent, targetUrl } from '../../lib/pg/connection.ts';
import type { Platform } from '../../test/support/platform.ts';
import { forEachLimit, log, type Settings } from './settings.ts';

export const CATALOG_TABLES = [
  'databases',
  'database_storages',
  'backups',
  'backup_copies',
  'verifications',
  'health_events',
  'notifications',
] as const;

export interface CatalogStats {
  sizeBytes: number;
  tables: Record<string, { rows: number; bytes: number }>;
  /** Average stored width of a backup row and of its per-table row counts (jsonb). */
  avgBackupRowBytes: number | null;
  avgRowCountsBytes: number | null;
  avgVerificationRowBytes: number | null;
  avgVerificationReportBytes: number | null;
}

export async function catalogStats(platform: Platform): Promise<CatalogStats> {
  const client = await connectCatalog(platform);
  try {
    const size = await client.query<{ n: string }>('select pg_database_size(current_database())::text as n');
    const tables: CatalogStats['tables'] = {};
    for (const table of CATALOG_TABLES) {
      const { rows } = await client.query<{ rows: string; bytes: string }>(
        `select count(*)::text as rows, pg_total_relation_size('${table}')::text as bytes from ${quoteIdent(table)}`,
      );
      tables[table] = { rows: Number(rows[0]!.rows), bytes: Number(rows[0]!.bytes) };
    }
    const widths = await client.query<{ b: string | null; rc: string | null }>(
      'select avg(pg_column_size(b.*))::text as b, avg(pg_column_size(b.row_counts))::text as rc from backups b',
    );
    const vwidths = await client.query<{ v: string | null; r: string | null }>(
      'select avg(pg_column_size(v.*))::text as v, avg(pg_column_size(v.report))::text as r from verifications v',
    );
    const num = (v: string | null | undefined) => (v === null || v === undefined ? null : Math.round(Number(v)));
    return {
      sizeBytes: Number(size.rows[0]!.n),
      tables,
      avgBackupRowBytes: num(widths.rows[0]?.b),
      avgRowCountsBytes: num(widths.rows[0]?.rc),
      avgVerificationRowBytes: num(vwidths.rows[0]?.v),
      avgVerificationReportBytes: num(vwidths.rows[0]?.r),
    };
  } finally {
    await client.end();
  }
}

export const tableDelta = (a: CatalogStats, b: CatalogStats, names: string[]) => {
  const rows = names.reduce((s, t) => s + (b.tables[t]?.rows ?? 0) - (a.tables[t]?.rows ?? 0), 0);
  const bytes = names.reduce((s, t) => s + (b.tables[t]?.bytes ?? 0) - (a.tables[t]?.bytes ?? 0), 0);
  return { rows, bytes };
};

// ---------------------------------------------------------------------------------------------
// The databases: a template with one small table, copied N times

export const dbName = (i: number) => `scale_${String(i + 1).padStart(5, '0')}`;
/** The real database behind registered database i: with fewer sources than names, names share them round-robin. */
export const sourceName = (i: number, sources: number) => `scale_src_${String((i % sources) + 1).padStart(5, '0')}`;

export async function createDatabases(
  platform: Platform,
  sources: number,
  rows: number,
): Promise<{ seconds: number; templateBytes: number }> {
  const started = performance.now();
  const admin = await connect('scale', platform.cluster.target('postgres'));
  await admin.query('create database scale_template');
  const template = await connect('scale', platform.cluster.target('scale_template'));
  await template.query(
    `create table accounts (id integer primary key, owner text not null, balance numeric(12, 2) not null, opened_at timestamptz not null)`,
  );
  await template.query(
    `insert into accounts select g, 'owner ' || g, (g * 37 % 100000) / 100.0, timestamptz '2026-01-01' + g * interval '1 hour' from generate_series(1, $1) g`,
    [rows],
  );
  await template.query('vacuum analyze accounts');
  const templateBytes = Number(
    (await template.query<{ n: string }>('select pg_database_size(current_database())::text as n')).rows[0]!.n,
  );
  await template.end();
  // FILE_COPY copies the template's files instead of writing them all to WAL: faster here.
  const strategy = platform.cluster.major >= 15 ? ' strategy = file_copy' : '';
  const admins = [
    admin,
    ...(await Promise.all([1, 2, 3].map(() => connect('scale', platform.cluster.target('postgres'))))),
  ];
  const free = [...admins];
  await forEachLimit(
    Array.from({ length: sources }, (_, i) => sourceName(i, sources)),
    admins.length,
    async (name) => {
      const client = free.pop()!;
      try {
        await client.query(`create database ${quoteIdent(name)} template scale_template${strategy}`);
      } finally {
        free.push(client);
      }
    },
  );
  await Promise.all(admins.map((c) => c.end()));
  return { seconds: (performance.now() - started) / 1000, templateBytes };
}

/** A daily cron at the minute of `at` in `timeZone`: it fires once in a phase, never again in a run. */
export function dailyCronAt(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const field = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return `${field('minute')} ${field('hour')} * * *`;
}

/** Registers every database the way an operator would, parked on a slot that will not come during the run. */
export async function registerDatabases(
  platform: Platform,
  settings: Pick<Settings, 'databases' | 'sources' | 'healthIntervalSeconds' | 'timezone' | 'registerConcurrency'>,
): Promise<{ seconds: number; perDatabaseMs: number; concurrency: number }> {
  const { databases: count, sources, healthIntervalSeconds, timezone: timeZone, registerConcurrency } = settings;
  const parked = dailyCronAt(new Date(Date.now() + 12 * 3600_000), timeZone);
  const started = performance.now();
  let done = 0;
  await forEachLimit(
    Array.from({ length: count }, (_, i) => i),
    registerConcurrency,
    async (i) => {
      const name = dbName(i);
      await platform.ops.addDatabase({
        name,
        url: targetUrl(platform.cluster.target(sourceName(i, sources))),
        schedule: parked,
        timezone: timeZone,
        verifyAfterBackup: false,
      });
      await platform.runtime.catalog.updateDatabaseSettings(name, { healthIntervalSeconds });
      if (++done % 500 === 0)
        log(`  registered ${done}/${count} (${((performance.now() - started) / done).toFixed(1)} ms each on average)`);
    },
  );
  const seconds = (performance.now() - started) / 1000;
  return { seconds, perDatabaseMs: (seconds * 1000) / count, concurrency: registerConcurrency };
}

/** A connection to the catalog, waiting out a moment with every slot taken (kind `busy`) rather than ending the run. */
async function connectCatalog(platform: Platform) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect('catalog', platform.cluster.target('catalog'));
    } catch (error) {
      if (attempt >= 30 || (error as { kind?: string }).kind !== 'busy') throw error;
      log(`  the catalog's server has no free connection (attempt ${attempt}); retrying in 1 s`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

export async function countQuery(platform: Platform, sql: string, params: unknown[] = []): Promise<number> {
  const client = await connectCatalog(platform);
  try {
    return Number((await client.query<{ n: string }>(sql, params)).rows[0]!.n);
  } finally {
    await client.end();
  }
}

/** How far the health monitors' histories and a backup's have grown: what Temporal stores per run. */
export async function historySample(platform: Platform, workflowIds: string[]) {
  const out: Array<{ workflowId: string; events: number; bytes: number | null }> = [];
  for (const workflowId of workflowIds) {
    try {
      const d = await platform.env.client.workflow.getHandle(workflowId).describe();
      out.push({ workflowId, events: d.historyLength, bytes: d.historySize ?? null });
    } catch {
      // not there (a phase that did not run it)
    }
  }
  return out;
}

/** The databases list as GET /api/v1/databases builds it (the service, then JSON): median of three, and its size. */
export async function timeDatabaseList(
  platform: Platform,
): Promise<{ rows: number; medianMs: number; jsonBytes: number }> {
  const runs: number[] = [];
  let rows = 0;
  let jsonBytes = 0;
  for (let k = 0; k < 3; k++) {
    const started = performance.now();
    const list = await platform.ops.listDatabases();
    jsonBytes = Buffer.byteLength(JSON.stringify(list));
    runs.push(performance.now() - started);
    rows = list.length;
  }
  runs.sort((a, b) => a - b);
  return { rows, medianMs: Math.round(runs[1]!), jsonBytes };
}
