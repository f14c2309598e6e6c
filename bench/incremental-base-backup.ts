/**
 * An incremental base backup against a full one, in one run, on PostgreSQL 17 with
 * summarize_wal on: generate application-like data (bench/dataset.ts, compresses 3–4× with zstd),
 * take a full base backup through Hindsight's pipeline (pg_basebackup → zstd -5 → AES-256-GCM →
 * local storage, manifest stored beside it), change 5 % of the heap pages of every table, take an
 * increment against the full's manifest read back from storage, then update every row of another
 * 5 % of pages and take the next increment of the chain; print each increment's time and sizes as
 * ratios of the full's. Rounds; medians.
 *
 *   scripts/node bench/incremental-base-backup.ts
 *
 * Environment: BENCH_SIZE_MB (default 600), BENCH_ROUNDS (default 2).
 */
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateSecretKey } from '../lib/crypto/secret-key.ts';
import { openLocalCluster } from '../lib/pg/cluster.ts';
import { connect, type PgTarget } from '../lib/pg/connection.ts';
import { createStorageDriver } from '../lib/storage/index.ts';
import { baseBackupKey, baseManifestKey } from '../lib/wal/archive-keys.ts';
import { streamBaseBackupToStorage, type BaseBackupResult } from '../lib/wal/base-backup.ts';
import { decodeWalObject } from '../lib/wal/segment-codec.ts';
import { freePort } from '../test/support/ports.ts';
import { generateDataset, type DatasetReport } from './dataset.ts';
import { envInt, log, median } from './settings.ts';

const MIB = 1024 * 1024;
const sizeMb = envInt('BENCH_SIZE_MB', 600);
const rounds = envInt('BENCH_ROUNDS', 2);

type Change = 'pages' | 'rows';

/**
 * Changes 5 % of the heap pages of every table, a different residue of the block number each round
 * (`(ctid::text::point)[0]`), so that every round meets pages it has not changed yet:
 *  - `pages`: one row per chosen page, a column no index covers, so that the new row version stays
 *    in its page (HOT; the tables were rewritten with fillfactor 90): exactly those pages change;
 *  - `rows`: every row of the chosen pages, through the primary key: the new versions go to other
 *    pages and every index gets entries, so far more than 5 % of the cluster's pages change.
 */
async function changeFivePercent(target: PgTarget, round: number, change: Change): Promise<number> {
  const client = await connect('bench', target);
  try {
    const { rows: tables } = await client.query<{ name: string; pages: string; free: string }>(
      `select c.relname as name, pg_relation_size(c.oid) / current_setting('block_size')::int as pages,
              (select a.attname from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                  and not exists (select 1 from pg_index i where i.indrelid = c.oid and a.attnum = any(i.indkey)) order by a.attnum limit 1) as free
         from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind = 'r'`,
    );
    let changed = 0;
    const residue = (2 * round + (change === 'rows' ? 1 : 0)) % 20;
    for (const t of tables) {
      const block = '((ctid::text::point)[0])::bigint';
      const sql =
        change === 'pages'
          ? `update ${t.name} set ${t.free} = ${t.free} where ctid = any (array(select format('(%s,1)', b)::tid from generate_series(0, $2::bigint - 1) b where b % 20 = $1))`
          : `update ${t.name} set id = id where ${block} % 20 = $1`;
      const result = await client.query(sql, change === 'pages' ? [residue, t.pages] : [residue]);
      changed += Math.ceil(Number(t.pages) / 20);
      log(`  ${t.name}: ${result.rowCount} rows updated on 1 in 20 of ${t.pages} pages (${change})`);
    }
    await client.query('checkpoint');
    return changed;
  } finally {
    await client.end();
  }
}

/** Leaves 10 % free in every heap page, so that a one-row update per page stays in its page. */
async function leaveRoomInPages(target: PgTarget): Promise<void> {
  const client = await connect('bench', target);
  try {
    const { rows } = await client.query<{ name: string }>(
      `select tablename as name from pg_tables where schemaname = 'public'`,
    );
    for (const { name } of rows) {
      await client.query(`alter table ${name} set (fillfactor = 90)`);
      await client.query(`vacuum full ${name}`);
    }
    await client.query('vacuum analyze');
  } finally {
    await client.end();
  }
}

type Taken = { seconds: number; result: BaseBackupResult };
type Runs = Record<'full' | Change, Taken[]>;

/** Where the bench's backups go and how they are sealed. */
interface Bench {
  target: PgTarget;
  driver: ReturnType<typeof createStorageDriver>;
  key: ReturnType<typeof generateSecretKey>;
  workDir: string;
}

const SYSID = '1';

/** A PostgreSQL 17 cluster with summarize_wal on, which incremental base backups need. */
async function startCluster(root: string): Promise<Awaited<ReturnType<typeof openLocalCluster>>> {
  const cluster = await openLocalCluster({
    dataDir: path.join(root, 'pg'),
    port: await freePort(),
    major: 17,
    settings: { summarize_wal: 'on', max_wal_size: "'4GB'" },
  });
  await cluster.start();
  return cluster;
}

/** The bench database, filled with about BENCH_SIZE_MB of generated data. */
async function generateBenchDatabase(
  cluster: Awaited<ReturnType<typeof openLocalCluster>>,
): Promise<{ target: PgTarget; dataset: DatasetReport }> {
  const admin = await connect('bench', cluster.target('postgres'));
  await admin.query('create database bench');
  await admin.end();
  const target = cluster.target('bench');
  log(`generating ~${sizeMb} MiB (bench/dataset.ts)`);
  const clients = await Promise.all([0, 1].map(() => connect('bench', target)));
  const dataset = await generateDataset(clients, sizeMb);
  await Promise.all(clients.map((c) => c.end()));
  log(`dataset: ${(dataset.sizeBytes / MIB).toFixed(0)} MiB in ${dataset.seconds.toFixed(0)} s`);
  return { target, dataset };
}

/** One base backup through Hindsight's pipeline, full or incremental over the given manifest. */
async function takeBaseBackup(bench: Bench, id: string, incrementalFrom?: string): Promise<Taken> {
  const started = performance.now();
  const result = await streamBaseBackupToStorage({
    database: 'bench',
    label: `bench ${id}`,
    target: bench.target,
    serverMajor: 17,
    driver: bench.driver,
    key: bench.key,
    workDir: bench.workDir,
    objectKey: baseBackupKey(SYSID, id),
    manifestKey: baseManifestKey(SYSID, id),
    ...(incrementalFrom ? { incrementalFrom } : {}),
  });
  return { seconds: (performance.now() - started) / 1000, result };
}

/** A stored backup's manifest, read back from storage into the work directory as an increment needs it. */
async function manifestOf(bench: Bench, id: string): Promise<string> {
  const file = path.join(bench.workDir, `${id}.manifest`);
  await decodeWalObject({
    driver: bench.driver,
    objectKey: baseManifestKey(SYSID, id),
    key: bench.key,
    destination: file,
  });
  return file;
}

const line = (what: string, x: Taken) =>
  `${what} ${x.seconds.toFixed(1)} s, ${(x.result.sizeBytes / MIB).toFixed(0)} MiB tar, ${(x.result.storedBytes / MIB).toFixed(0)} MiB stored`;

/** Each round: a full, an increment over it after a page change, the next increment after a row change. */
async function runRounds(bench: Bench): Promise<{ runs: Runs; changedPages: number }> {
  const runs: Runs = { full: [], pages: [], rows: [] };
  let changedPages = 0;
  for (let round = 1; round <= rounds; round++) {
    const f = await takeBaseBackup(bench, `full-${round}`);
    runs.full.push(f);
    log(`round ${round}: ${line('full', f)} (zstd ${(f.result.sizeBytes / f.result.storedBytes).toFixed(2)}×)`);
    changedPages = await changeFivePercent(bench.target, round, 'pages');
    const pages = await takeBaseBackup(bench, `pages-${round}`, await manifestOf(bench, `full-${round}`));
    runs.pages.push(pages);
    log(`round ${round}: ${line('incremental over the full, 5 % of pages changed', pages)}`);
    await changeFivePercent(bench.target, round, 'rows');
    // The next link of the chain: against the previous increment's manifest.
    const rows = await takeBaseBackup(bench, `rows-${round}`, await manifestOf(bench, `pages-${round}`));
    runs.rows.push(rows);
    log(`round ${round}: ${line('incremental over that increment, every row of 5 % of pages updated', rows)}`);
  }
  return { runs, changedPages };
}

/** The medians as a Markdown table, each increment also as a ratio of the full. */
function printResults(dataset: DatasetReport, runs: Runs, changedPages: number): void {
  const m = (list: Taken[], pick: (x: Taken) => number) => median(list.map(pick));
  const f = runs.full;
  console.log(
    `\nPostgreSQL 17, ${(dataset.sizeBytes / MIB).toFixed(0)} MiB of bench/dataset.ts (fillfactor 90), ${changedPages} heap pages per change (5 %), ${rounds} round(s), medians`,
  );
  console.log(
    '| | full | incremental, 5 % of pages (1 row each) | ratio | incremental, all rows of 5 % of pages | ratio |\n|---|---|---|---|---|---|',
  );
  const measures: Array<[string, (x: Taken) => number, number]> = [
    ['time (s)', (x) => x.seconds, 1],
    ['tar (MiB)', (x) => x.result.sizeBytes, MIB],
    ['stored (MiB)', (x) => x.result.storedBytes, MIB],
  ];
  for (const [name, pick, unit] of measures) {
    const [full, pages, rows] = [m(f, pick), m(runs.pages, pick), m(runs.rows, pick)];
    console.log(
      `| ${name} | ${(full / unit).toFixed(1)} | ${(pages / unit).toFixed(1)} | ${(pages / full).toFixed(3)} | ${(rows / unit).toFixed(1)} | ${(rows / full).toFixed(3)} |`,
    );
  }
  console.log(
    `zstd ratio of the full: ${(m(f, (x) => x.result.sizeBytes) / m(f, (x) => x.result.storedBytes)).toFixed(2)}×`,
  );
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'hindsight-bench-incr-'));
  // The cluster runs as PostgreSQL's own OS user, which must traverse the directory.
  await chmod(root, 0o711);
  await mkdir(path.join(root, 'storage'), { recursive: true });
  const cluster = await startCluster(root);
  const driver = createStorageDriver('bench', { type: 'local', path: path.join(root, 'storage') });
  const key = generateSecretKey();
  const workDir = path.join(root, 'work');
  await mkdir(workDir, { mode: 0o700 });
  try {
    const { target, dataset } = await generateBenchDatabase(cluster);
    await leaveRoomInPages(target);
    const { runs, changedPages } = await runRounds({ target, driver, key, workDir });
    printResults(dataset, runs, changedPages);
  } finally {
    await cluster.stop('immediate').catch(() => undefined);
    await driver.close?.().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}

await main();
